// One connection's packets through the kernel programs and the simulator, packet by packet,
// with why each side did what it did: the kernel's event reason and the simulator's packet
// reason. For tests that assert the reason of a drop, not only the drop.
import { EVENT_KIND, REASON, REASON_NAMES, type RawEvent } from '../../src/loader/index.ts';
import type { Inventory } from '../../src/endpoints/types.ts';
import type { Policy } from '../../src/policy/types.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';
import { oracleJudge } from '../../src/replay/judge.ts';
import { replaySync, type FixturePacket, type PacketReason } from '../../sim/index.ts';
import { runKernel, type Action, type KernelWorld } from './kernel-world.ts';
import { records } from './spec-packets.ts';

export type ReasonName = keyof typeof REASON;

export interface KernelStep {
  readonly action: Action;
  /** the last event reason other than NONE (a drop, a denied request), else NONE */
  readonly reason: string;
  /** HTTP request events the packet sent (allowed or denied) */
  readonly http: readonly RawEvent[];
}

export interface SimStep {
  readonly action: Action;
  readonly reason: PacketReason;
}

/** Kernel packet by packet (flow state stays in the maps); `before` runs ahead of each packet. */
export function kernelSteps(w: KernelWorld, client: PeerRef, server: PeerRef, packets: readonly FixturePacket[],
  before?: (p: FixturePacket) => void): KernelStep[] {
  return packets.map((p) => {
    before?.(p);
    const r = runKernel(w, client, server, [p]);
    const why = r.events.filter((e) => e.reason !== REASON.NONE).at(-1);
    return {
      action: r.actions[0]!,
      reason: why ? (REASON_NAMES[why.reason] ?? String(why.reason)) : 'NONE',
      http: r.events.filter((e) => e.kind === EVENT_KIND.HTTP),
    };
  });
}

/** The simulator over the same packets, from a fresh replay. */
export function simSteps(policies: readonly Policy[], inv: Inventory, packets: readonly FixturePacket[], answers = true): SimStep[] {
  const out: SimStep[] = [];
  replaySync(records(packets), { judge: oracleJudge(policies, inv), answers, onPacket: (p) => out.push({ action: p.action, reason: p.reason }) });
  return out;
}

/** One line per packet: "! 4 client ...: kernel drop INSERTION, simulator drop insertion, expected reset". */
export function traceText(packets: readonly FixturePacket[], k: readonly KernelStep[], s: readonly (SimStep | undefined)[],
  expected: readonly string[]): string {
  return packets
    .map((p, i) => {
      const want = expected[i] ?? '?';
      const got = `${k[i]?.action} ${k[i]?.reason}`;
      const mark = want === k[i]?.action || want === got ? ' ' : '!';
      const sim = s[i] ? `${s[i].action} ${s[i].reason}` : 'not run';
      return `${mark} ${i} ${p.from} ${p.description}: kernel ${got}, simulator ${sim}, expected ${want}`;
    })
    .join('\n');
}
