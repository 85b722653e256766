// A policy set compiled, loaded and filled from an inventory, so flows can be played
// through the kernel programs the way a node would run them: a packet from a local endpoint
// passes its l7_from_pod (egress policy), a packet to a local endpoint its l7_to_pod (ingress
// policy), both in sequence for pod-to-pod traffic. The simulator and the oracle judge the
// same frames, and `compareRun` says where the three differ.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lower } from '../../codegen/ir/lower.ts';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import { emitObject, emitObjectAsync } from '../../codegen/emit/index.ts';
import { openLibbpf, loadObject, type LoadedObject, clearMap, fillIpcache, fillSelectors, PacketRunner, TC_ACT, fillConfig, type ProgName, EVENT_KIND, REASON, VERDICT, strictRuleOf, type RawEvent } from '../../src/loader/index.ts';
import { planMaps } from '../../src/plan/plan.ts';
import { RESERVED_IDENTITY, type Inventory } from '../../src/endpoints/types.ts';
import type { Policy } from '../../src/policy/types.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';
import { checksumsValid, replaySync, tcpConn, type FixturePacket, type PacketActionKind, type PacketEvent } from '../../sim/index.ts';
import { oracleJudge, type OracleRequestVerdict } from '../../src/replay/judge.ts';
import { records } from './spec-packets.ts';

/** Cilium's first local (CIDR) identity: world addresses a policy names get their own. */

export interface KernelWorld {
  readonly ir: PolicyIR;
  readonly obj: LoadedObject;
  readonly runner: PacketRunner;
  /** forget flows and events between connections */
  reset(): void;
  close(): void;
}

function peerIdentity(p: PeerRef, worldIds: ReadonlyMap<string, number>): number {
  switch (p.kind) {
    case 'endpoint':
      return p.endpoint.identity;
    case 'reserved':
      return RESERVED_IDENTITY[p.entity];
    case 'world':
      return (p.ip && worldIds.get(p.ip.text)) ?? RESERVED_IDENTITY.world;
  }
}

/** ipcache and selector entries: every inventory address, and one identity per named world address. */
/** lower -> emit (into `dir`) -> load -> fill maps. */
export function buildWorld(policies: readonly Policy[], inv: Inventory, worldIps: readonly string[], dir?: string): KernelWorld {
  const ir = lower(policies);
  const out = dir ?? mkdtempSync(join(tmpdir(), 'l7bpf-kw-'));
  try {
    return loadWorld(ir, emitObject(ir, out).objectPath, inv, worldIps);
  } finally {
    if (dir === undefined) rmSync(out, { recursive: true, force: true });
  }
}

/**
 * Denials reset instead of being answered (`deploy --deny-answer reset`), for tests of the stream
 * and strict rules written against resets; the simulator is told the same (answers: false).
 */
export function resetting<W extends { readonly obj: LoadedObject }>(w: W): W {
  fillConfig(w.obj, 'reset');
  return w;
}

/** Builds objects for many IRs, `parallel` clang processes at a time; resolves to their paths in order. */
export async function buildObjects(irs: readonly PolicyIR[], dir: string, parallel = 2): Promise<string[]> {
  const paths: string[] = new Array<string>(irs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < irs.length; i = next++) paths[i] = (await emitObjectAsync(irs[i]!, join(dir, String(i)))).objectPath;
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return paths;
}

/** Loads a built object and fills ipcache/selectors from the inventory with the deploy plan. */
export function loadWorld(ir: PolicyIR, objectPath: string, inv: Inventory, _worldIps: readonly string[] = []): KernelWorld {
  const obj = loadObject(openLibbpf(), objectPath);
  const maps = planMaps(ir.selectors, inv);
  fillIpcache(obj, maps.ipcache);
  fillSelectors(obj, maps.selectors);
  return { ir, ...runnerFor(obj) };
}

/** A test-run driver over a loaded object: reset forgets flows and pending events. */
export function runnerFor(obj: LoadedObject): { obj: LoadedObject; runner: PacketRunner; reset(): void; close(): void } {
  const runner = new PacketRunner(obj);
  return {
    obj, runner,
    reset: () => {
      clearMap(obj, 'flows');
      clearMap(obj, 'l7flows');
      clearMap(obj, 'h2conns');
      runner.events();
    },
    close: () => {
      runner.close();
      obj.close();
    },
  };
}

export type Action = PacketActionKind;

export interface KernelRun {
  readonly actions: Action[];
  readonly events: RawEvent[];
  /** per packet, what the last program that ran on it let out (a trim's shorter frame) */
  readonly out: Uint8Array[];
}

function l4Of(frame: Uint8Array): number {
  const v6 = frame[12] === 0x86 && frame[13] === 0xdd;
  return 14 + (v6 ? 40 : (frame[14]! & 15) * 4);
}

function tcpFlags(frame: Uint8Array): number {
  return frame[l4Of(frame) + 13] ?? 0;
}

/** A TCP frame's sequence and acknowledgement numbers, and its payload length. */
export function tcpNumbers(frame: Uint8Array): { seq: number; ack: number; len: number } {
  const l4 = l4Of(frame);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const v6 = frame[12] === 0x86 && frame[13] === 0xdd;
  const ipEnd = v6 ? 54 + dv.getUint16(18) : 14 + dv.getUint16(16);
  return { seq: dv.getUint32(l4 + 4), ack: dv.getUint32(l4 + 8), len: ipEnd - l4 - (frame[l4 + 12]! >> 4) * 4 };
}

/** Which programs see a packet, in order: the sender's l7_from_pod, then the receiver's l7_to_pod. */
export function programsFor(from: PeerRef, to: PeerRef): ProgName[] {
  const progs: ProgName[] = [];
  if (from.kind === 'endpoint') progs.push('l7_from_pod');
  if (to.kind === 'endpoint') progs.push('l7_to_pod');
  return progs;
}

/** Plays one connection's packets; flow state stays in the maps between packets. */
export function runKernel(w: KernelWorld, client: PeerRef, server: PeerRef, packets: readonly FixturePacket[]): KernelRun {
  const actions: Action[] = [];
  const events: RawEvent[] = [];
  const out: Uint8Array[] = [];
  for (const p of packets) {
    const progs = p.from === 'client' ? programsFor(client, server) : programsFor(server, client);
    let action: Action = 'pass';
    let frame = p.frame;
    for (const prog of progs) {
      const r = w.runner.run({ prog, frame, tstampNs: p.ts });
      frame = r.dataOut;
      events.push(...r.events);
      if (r.action === TC_ACT.SHOT) action = 'drop';
      else if (r.action === TC_ACT.OK && (tcpFlags(r.dataOut) & 4) && !(tcpFlags(p.frame) & 4)) action = r.events.some((e) => e.verdict === VERDICT.ANSWERED) ? 'answer' : 'reset';
      // stage 3: the packet became the client's acknowledgement to the server (the 403 went back)
      else if (r.action === TC_ACT.OK && (r.events.some((e) => e.verdict === VERDICT.ANSWERED) || (tcpNumbers(p.frame).len > 0 && tcpNumbers(r.dataOut).len === 0))) action = 'answer';
      else if (r.action === TC_ACT.OK && r.dataOut.length < p.frame.length) action = 'trim';
      else if (r.action !== TC_ACT.OK) throw new Error(`${prog} returned TC action ${r.action}`);
      if (action !== 'pass') break;
    }
    actions.push(action);
    out.push(frame);
  }
  return { actions, events, out };
}

export interface SimRun {
  readonly actions: Action[];
  readonly requests: OracleRequestVerdict[];
  readonly packets: PacketEvent[];
}

/** `audit`: the deployment is in audit mode (deploy --audit; fillConfig's audit on the kernel side) */
export function runSim(policies: readonly Policy[], inv: Inventory, packets: readonly FixturePacket[], answers = true, keepAlive = true, audit = false): SimRun {
  const out: SimRun = { actions: [], requests: [], packets: [] };
  replaySync(records(packets), {
    judge: oracleJudge(policies, inv, undefined, undefined, { audit }),
    answers,
    keepAlive,
    onRequest: (r) => out.requests.push(r.verdict),
    onPacket: (p) => {
      out.actions.push(p.action);
      out.packets.push(p);
    },
  });
  return out;
}

/**
 * Stage 3, per packet: the sequence and acknowledgement numbers the kernel let out are the ones
 * the simulator predicts (its rewrite, or an answer's acknowledgement to the server); returns
 * the first disagreement, or null.
 */
export function wireDisagreement(packets: readonly FixturePacket[], kernel: KernelRun, sim: SimRun): string | null {
  for (let i = 0; i < packets.length; i++) {
    const a = kernel.actions[i];
    const e = sim.packets[i];
    if (!e || a !== e.action || (a !== 'pass' && a !== 'trim' && !(a === 'answer' && e.answer?.keep))) continue;
    const got = tcpNumbers(kernel.out[i]!);
    const input = tcpNumbers(packets[i]!.frame);
    const want = e.answer?.keep ? { seq: e.answer.rstSeq, ack: e.answer.srvAck! } : e.rewrite ?? { seq: input.seq, ack: input.ack };
    if (got.seq !== want.seq >>> 0 || got.ack !== want.ack >>> 0) {
      return `packet ${i} (${packets[i]!.description}, ${a}): kernel seq ${got.seq} ack ${got.ack}, simulator seq ${want.seq >>> 0} ack ${want.ack >>> 0}`;
    }
    if ((e.rewrite || e.answer?.keep) && !checksumsValid(kernel.out[i]!)) return `packet ${i} (${packets[i]!.description}, ${a}): the rewritten frame's checksums are wrong`;
  }
  return null;
}

/**
 * The kernel's verdict in the oracle's words (verdictText of spec-eval): `allowed`, or
 * `denied deny-rule | default-deny | l7-denied | strict:<rule>`; a denial audit mode let pass
 * (an AUDIT event) is `audited <reason>` when nothing denied.
 */
export function kernelVerdict(run: KernelRun): string {
  const judged = run.events.filter((e) => e.reason !== REASON.NONE && (e.kind === EVENT_KIND.CONN || e.kind === EVENT_KIND.HTTP));
  const deny = judged.find((e) => e.verdict !== VERDICT.AUDIT);
  if (deny) return `denied ${reasonWords(deny.reason)}`;
  const audit = judged[0];
  return audit ? `audited ${reasonWords(audit.reason)}` : 'allowed';
}

function reasonWords(reason: number): string {
  if (reason === REASON.POLICY_DENY) return 'deny-rule';
  if (reason === REASON.NO_MATCH) return 'default-deny';
  if (reason === REASON.L7_NO_RULE) return 'l7-denied';
  const rule = strictRuleOf(reason);
  return rule ? `strict:${rule}` : `kernel:${reason}`;
}

/** Request lines of allowed requests, from the HTTP events (first 64 bytes of the line). */
export function allowedLines(run: KernelRun): string[] {
  return run.events
    .filter((e) => e.kind === EVENT_KIND.HTTP && e.reason === REASON.NONE && e.line_len > 0)
    .map((e) => Buffer.from(e.line.subarray(0, e.line_len)).toString('latin1'));
}

/**
 * How each packet's kernel action is compared. Packets after a dropped SYN cannot exist on a
 * real wire (the handshake never completed): the server's are skipped, the client's must not
 * pass (a program earlier on the path may reset them instead of dropping: both deny).
 */
export type Compare = 'exact' | 'not-pass' | 'skip';

export function comparable(packets: readonly FixturePacket[], kernel: readonly Action[]): Compare[] {
  const synDropped = packets[0]?.from === 'client' && kernel[0] === 'drop';
  return packets.map((p, i) => (!synDropped || i === 0 ? 'exact' : p.from === 'server' ? 'skip' : 'not-pass'));
}

/** Whether the kernel's actions agree with the expected ones under `comparable`. */
export function actionsAgree(kernel: readonly Action[], expected: readonly Action[], how: readonly Compare[]): boolean {
  return kernel.every((a, i) => how[i] === 'skip' || (how[i] === 'not-pass' ? a !== 'pass' : a === expected[i]));
}

export function describeActions(packets: readonly FixturePacket[], kernel: readonly Action[], sim: readonly Action[], expected?: readonly Action[]): string {
  return packets
    .map((p, i) => {
      const e = expected?.[i] ?? sim[i];
      const mark = kernel[i] === e ? ' ' : '!';
      return `${mark} ${i} ${p.from} ${p.description}: kernel ${kernel[i]}, simulator ${sim[i]}${expected ? `, expected ${e}` : ''}`;
    })
    .join('\n');
}

/** One address of a peer in the family asked for, or null. */
export function addressOf(p: PeerRef, v6: boolean): string | null {
  if (p.kind === 'endpoint') return p.endpoint.ips.find((a) => a.text.includes(':') === v6)?.text ?? null;
  return p.ip && p.ip.text.includes(':') === v6 ? p.ip.text : null;
}

export const MSS = 1448;

const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** SYN .. request (split at `splitAt`) .. FIN of one connection, or null when a side has no address of that family. */
export function connPackets(client: PeerRef, server: PeerRef, port: number, request: Uint8Array | null, v6: boolean, splitAt: readonly number[] = [], clientPort = 40000,
  serverFirst: Uint8Array | null = null): FixturePacket[] | null {
  const src = addressOf(client, v6);
  const dst = addressOf(server, v6);
  if (!src || !dst) return null;
  const conn = tcpConn({ client: hostPort(src, clientPort), server: hostPort(dst, port) }).handshake();
  // a server that speaks first (an HTTP/2 server's SETTINGS)
  if (serverFirst) conn.recv(serverFirst);
  // segments no larger than an Ethernet MSS, as on a wire (BPF_PROG_TEST_RUN takes at most a page)
  const mss = request ? Array.from({ length: Math.floor((request.length - 1) / MSS) }, (_, i) => (i + 1) * MSS) : [];
  const cuts = [...new Set([...splitAt, ...mss])].filter((x) => request && x > 0 && x < request.length).sort((a, b) => a - b);
  if (request) conn.send(request, { splitAt: cuts });
  return [...conn.close().list];
}
