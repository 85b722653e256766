// Shared setup for kernel tests: skip (or fail under CI) without root/clang/libbpf, build an
// object from a hand-built IR, load it, fill the scenario's identities, play TcpConn fixtures.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import { emitObject, clangAvailable } from '../../codegen/emit/index.ts';
import { openLibbpf, loadObject, type LoadedObject, fillIpcache, fillSelectors, PacketRunner, VERDICT, type ProgName, type RunResult } from '../../src/loader/index.ts';
import { TcpConn } from '../../sim/builder/tcp-conn.ts';
import { ADDR, ID, SEL } from './ir-fixtures.ts';
import { runnerFor } from './kernel-world.ts';

/** Why kernel tests cannot run here, or null. Under CI=true this throws instead (never skip in CI). */
export function kernelSkip(): string | false {
  let reason: string | null = null;
  if (process.getuid?.() !== 0) reason = 'kernel tests need root';
  else if (!clangAvailable()) reason = 'clang not found';
  else if (!existsSync('/usr/include/bpf/bpf_helpers.h')) reason = 'libbpf-dev headers not found';
  else {
    try {
      openLibbpf();
    } catch (e) {
      reason = (e as Error).message;
    }
  }
  if (reason && process.env.CI === 'true') throw new Error(`kernel tests must run under CI: ${reason}`);
  return reason ?? false;
}

export interface Scenario {
  readonly obj: LoadedObject;
  readonly runner: PacketRunner;
  /** forget flows between cases */
  reset(): void;
  close(): void;
}

/** Standard identities: frontend/backend/other at ADDR (v4 and v6), selector bits per SEL. */
export function fillStandard(obj: LoadedObject): void {
  fillIpcache(obj, [
    { cidr: ADDR.frontend, identity: ID.frontend }, { cidr: ADDR.backend, identity: ID.backend }, { cidr: ADDR.other, identity: ID.other },
    { cidr: ADDR.frontend6, identity: ID.frontend }, { cidr: ADDR.backend6, identity: ID.backend }, { cidr: ADDR.other6, identity: ID.other },
  ]);
  fillSelectors(obj, [
    { identity: ID.backend, selectors: [SEL.backend] },
    { identity: ID.frontend, selectors: [SEL.frontend] },
    { identity: ID.other, selectors: [SEL.other] },
  ]);
}

export function loadScenario(ir: PolicyIR): Scenario {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-kt-'));
  try {
    const built = emitObject(ir, dir);
    const obj = loadObject(openLibbpf(), built.objectPath);
    fillStandard(obj);
    return runnerFor(obj);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Played extends RunResult {
  readonly description: string;
  readonly from: 'client' | 'server';
  /** pass: forwarded as is; drop: TC_ACT_SHOT; reset: forwarded rewritten into a RST; answer:
   * the same, with the 403 injected towards the client (an ANSWERED event) */
  readonly verdict: 'pass' | 'drop' | 'reset' | 'answer' | 'trim';
}

function tcpFlags(frame: Uint8Array): number {
  const v6 = frame[12] === 0x86;
  const l4 = 14 + (v6 ? 40 : (frame[14]! & 15) * 4);
  return frame[l4 + 13] ?? 0;
}

export function verdictOf(input: Uint8Array, r: RunResult): Played['verdict'] {
  if (r.action === SHOT) return 'drop';
  if (r.action === OK && (tcpFlags(r.dataOut) & 4) && !(tcpFlags(input) & 4)) return r.events.some((e) => e.verdict === VERDICT.ANSWERED) ? 'answer' : 'reset';
  if (r.action === OK && r.dataOut.length < input.length) return 'trim';
  return 'pass';
}

/** Plays a connection: client packets into `clientProg` (default: server-side ingress policy). */
export function play(s: Scenario, conn: TcpConn, clientProg: ProgName = 'l7_to_pod'): Played[] {
  const serverProg: ProgName = clientProg === 'l7_to_pod' ? 'l7_from_pod' : 'l7_to_pod';
  return conn.list.map((p) => {
    const r = s.runner.run({ prog: p.from === 'client' ? clientProg : serverProg, frame: p.frame });
    return { ...r, description: p.description, from: p.from, verdict: verdictOf(p.frame, r) };
  });
}

let port = 40000;
/** A fresh client port per connection so flows never collide between cases. */
export function conn(client: string = ADDR.frontend, server = `${ADDR.backend}:8080`): TcpConn {
  port = port >= 60000 ? 40000 : port + 1;
  const c = client.includes(':') ? `[${client}]:${port}` : `${client}:${port}`;
  return new TcpConn({ client: c, server });
}

export const OK = 0;
export const SHOT = 2;

/** "packet 3 (client data [0,20) of 20) was SHOT, expected OK" style summary of mismatches. */
export function actions(played: readonly Played[]): string {
  return played.map((p) => `${p.description}: ${p.verdict}`).join('\n');
}

export const verdicts = (played: readonly Played[]): string[] => played.map((p) => p.verdict);
