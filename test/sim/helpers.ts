// Test helpers: run a replay into arrays, tiny pcapng writer, judges.
import { readCapture } from '../../sim/capture/read.ts';
import type { CaptureRecord } from '../../sim/capture/types.ts';
import { replaySync } from '../../sim/replay/index.ts';
import type { ConnectionEvent, Judge, PacketEvent, ReplayOptions, ReplaySummary, RequestEvent, RequestRecord } from '../../sim/replay/types.ts';
import type { FixturePacket } from '../../sim/builder/tcp-conn.ts';
import { pcapBytes } from '../../sim/capture/writer.ts';

export const allowAll: Judge = {
  connection: () => ({ allowed: true, inspect: true }),
  request: () => ({ allowed: true }),
};

/** Denies requests whose target matches `deny` (and every parse error / violation). */
export function denyTargets(deny: RegExp): Judge {
  return {
    connection: () => ({ allowed: true, inspect: true }),
    request: (_c, r: RequestEvent) => ({ allowed: r.kind === 'request' && !deny.test(r.target) }),
  };
}

export interface Run {
  packets: PacketEvent[];
  requests: RequestRecord[];
  conns: ConnectionEvent[];
  summary: ReplaySummary;
  errors: Error[];
}

export function run(records: Iterable<CaptureRecord>, judge: Judge = allowAll, o: Partial<ReplayOptions> = {}): Run {
  const r: Run = { packets: [], requests: [], conns: [], summary: null as unknown as ReplaySummary, errors: [] };
  r.summary = replaySync(records, {
    judge, ...o,
    onPacket: (e) => r.packets.push(e),
    onRequest: (e) => r.requests.push(e),
    onConnection: (e) => r.conns.push(e),
  });
  return r;
}

export function runPcap(bytes: Uint8Array, judge: Judge = allowAll, o: Partial<ReplayOptions> = {}): Run {
  const errors: Error[] = [];
  const res = run(readCapture(bytes, { onError: (e) => errors.push(e) }), judge, o);
  res.errors = errors;
  return res;
}

export function runFixture(list: readonly FixturePacket[], judge: Judge = allowAll, o: Partial<ReplayOptions> = {}): Run {
  return runPcap(pcapBytes(list.map((p) => ({ data: p.frame, ts: p.ts }))), judge, o);
}

export function actions(r: Run): string[] {
  return r.packets.map((p) => p.action);
}

/** "METHOD target" of each parsed request, plus its verdict and decision packet. */
export function summaries(r: Run): string[] {
  return r.requests.map((q) => {
    const e = q.request;
    const field = (n: string): string => (e.kind === 'h2-request' ? e.fields.find(([k]) => k === n)?.[1] ?? '' : '');
    const what = e.kind === 'request' ? `${e.method} ${e.target}`
      : e.kind === 'h2-request' ? `h2#${e.stream} ${field(':method')} ${field(':path')}`
      : e.kind === 'h2-error' ? `h2-error:${e.rule}` : `${e.kind}:${e.code}`;
    return `${what} ${q.verdict.allowed ? 'allow' : 'deny'}`;
  });
}

interface NgIface { linkType: number; tsresol?: number }
interface NgPacket { iface: number; ts: bigint; data: Uint8Array }

/** Minimal pcapng writer (little or big endian) for reader tests. */
export function pcapng(ifaces: NgIface[], packets: NgPacket[], bigEndian = false, extraBlocks: Uint8Array[] = []): Uint8Array {
  const le = !bigEndian;
  const block = (type: number, body: Uint8Array) => {
    const len = 12 + ((body.length + 3) & ~3);
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, le); v.setUint32(4, len, le); b.set(body, 8); v.setUint32(len - 4, len, le);
    return b;
  };
  const shbBody = new Uint8Array(16);
  const sv = new DataView(shbBody.buffer);
  sv.setUint32(0, 0x1a2b3c4d, le); sv.setUint16(4, 1, le); sv.setUint16(6, 0, le);
  sv.setInt32(8, -1, le); sv.setInt32(12, -1, le);
  const parts = [block(0x0a0d0d0a, shbBody), ...extraBlocks];
  for (const i of ifaces) {
    const body = new Uint8Array(i.tsresol === undefined ? 8 : 20);
    const v = new DataView(body.buffer);
    v.setUint16(0, i.linkType, le); v.setUint32(4, 262144, le);
    if (i.tsresol !== undefined) { v.setUint16(8, 9, le); v.setUint16(10, 1, le); body[12] = i.tsresol; }
    parts.push(block(1, body));
  }
  for (const p of packets) {
    const tsres = ifaces[p.iface]?.tsresol ?? 6;
    const units = p.ts / 10n ** BigInt(9 - tsres);
    const body = new Uint8Array(20 + ((p.data.length + 3) & ~3));
    const v = new DataView(body.buffer);
    v.setUint32(0, p.iface, le);
    v.setUint32(4, Number(units >> 32n), le); v.setUint32(8, Number(units & 0xffffffffn), le);
    v.setUint32(12, p.data.length, le); v.setUint32(16, p.data.length, le);
    body.set(p.data, 20);
    parts.push(block(6, body));
  }
  return Buffer.concat(parts);
}

export const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
