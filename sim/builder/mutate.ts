// Deterministic capture mutator for fuzzing the reader, decoders and replay: seeds are
// valid captures built here; mutations flip bits, overwrite, insert, delete and truncate.
import { tcpConn } from './tcp-conn.ts';
import { prng } from './prng.ts';
import { reframe } from './frames.ts';
import { pcapBytes } from '../capture/writer.ts';
import { readCapture } from '../capture/read.ts';
import { ReplayEngine } from '../replay/engine.ts';
import type { Judge } from '../replay/types.ts';

/** A few valid captures covering the formats and link types. */
export function seedCaptures(): Uint8Array[] {
  const c = tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:80' }).handshake()
    .send('GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', { splitAt: [7, 40] })
    .recv('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok').recv('HTTP/1.1 204 No Content\r\n\r\n').close();
  const six = tcpConn({ client: '[fd00::1]:40000', server: '[fd00::2]:80' }).handshake().send('GET /6 HTTP/1.1\r\n\r\n').recv('HTTP/1.1 200 OK\r\n\r\n');
  const frames = c.list.map((p) => ({ data: p.frame, ts: p.ts }));
  return [
    c.pcap(),
    six.pcap(),
    pcapBytes(frames, { nano: true, bigEndian: true }),
    pcapBytes(c.list.map((p) => ({ data: reframe(p.frame, 276), ts: p.ts })), { linkType: 276 }),
    pcapBytes(c.list.map((p) => ({ data: reframe(p.frame, 0), ts: p.ts })), { linkType: 0 }),
    pcapngOf(c.list.map((p) => p.frame)),
  ];
}

function pcapngOf(frames: Uint8Array[]): Uint8Array {
  const block = (type: number, body: Uint8Array) => {
    const len = 12 + ((body.length + 3) & ~3);
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, true); v.setUint32(4, len, true); b.set(body, 8); v.setUint32(len - 4, len, true);
    return b;
  };
  const shb = new Uint8Array(16);
  new DataView(shb.buffer).setUint32(0, 0x1a2b3c4d, true);
  const idb = new Uint8Array(8);
  idb[0] = 1;
  const parts = [block(0x0a0d0d0a, shb), block(1, idb)];
  for (const f of frames) {
    const body = new Uint8Array(20 + f.length);
    const v = new DataView(body.buffer);
    v.setUint32(12, f.length, true); v.setUint32(16, f.length, true);
    body.set(f, 20);
    parts.push(block(6, body));
  }
  return Buffer.concat(parts);
}

export function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  let b = new Uint8Array(input);
  const n = 1 + Math.floor(rand() * 8);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rand() * Math.max(1, b.length));
    switch (Math.floor(rand() * 6)) {
      case 0: b[at] = b[at]! ^ (1 << Math.floor(rand() * 8)); break;
      case 1: b[at] = Math.floor(rand() * 256); break;
      case 2: b[at] = [0, 0xff, 0x7f, 0x80, 13, 10][Math.floor(rand() * 6)]!; break;
      case 3: b = b.slice(0, at); break;
      case 4: { const ins = Uint8Array.from({ length: 1 + Math.floor(rand() * 16) }, () => Math.floor(rand() * 256)); b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]); break; }
      default: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rand() * 16)))]); break;
    }
  }
  return b;
}

const judges: Judge[] = [
  { connection: () => ({ allowed: true, inspect: true }), request: () => ({ allowed: true }) },
  { connection: () => ({ allowed: true, inspect: true }), request: (_c, r) => ({ allowed: r.kind === 'request' && !r.target.includes('b') }) },
];

/** Runs one input through reader and replay; returns the number of packets seen. Throws on a bug. */
export function fuzzOne(input: Uint8Array, judgeIndex: number): number {
  const e = new ReplayEngine({ judge: judges[judgeIndex % judges.length]!, inspectionLimit: 64 + (judgeIndex % 3) * 100, maxConnections: 4 });
  for (const r of readCapture(input, { onError: () => {} })) e.push(r);
  return e.finish().packets;
}

/** The fuzz campaign: `cases` inputs (1 in 8 pure random bytes), deterministic in `seed`. */
export function fuzzCampaign(cases: number, seed: number): { cases: number; packets: number; maxMs: number } {
  const rand = prng(seed);
  const seeds = seedCaptures();
  let packets = 0;
  let maxMs = 0;
  for (let i = 0; i < cases; i++) {
    const input = rand() < 0.125
      ? Uint8Array.from({ length: Math.floor(rand() * 600) }, () => Math.floor(rand() * 256))
      : mutate(seeds[i % seeds.length]!, rand);
    if (rand() < 0.0625 && input.length >= 4) input.set([0xd4, 0xc3, 0xb2, 0xa1]); // keep a pcap magic
    const t = performance.now();
    packets += fuzzOne(input, i);
    maxMs = Math.max(maxMs, performance.now() - t);
  }
  return { cases, packets, maxMs };
}
