// Kernel datapath cost via BPF_PROG_TEST_RUN, against an empty tc program measured in the
// same run. Run as root: npx tsx bench/kernel.ts
// Per-packet figures use repeat=1 runs with the flow state restored before each run (a
// repeated request would otherwise be a retransmission); each run is paired with a run of
// the empty program on the same frame, and "over empty" is the 10th percentile (env
// QUANTILE) of the pair differences: other load on the machine only ever adds time.
// BASE_TEMPLATES=<dir>[:<dir>...] (e.g. bpf-templates of a `git worktree` of an older commit)
// measures those templates too, interleaved run by run with this checkout's.
// The ring buffer is drained every DRAIN runs (default 256), as a running `l7bpf observe`
// does, so request events are really written (a full ring buffer only counts them lost).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitObject, TEMPLATES_DIR } from '../codegen/emit/index.ts';
import { runClang } from '../codegen/emit/clang.ts';
import { openLibbpf, loadObject, mapOf, program, type LoadedObject, PacketRunner } from '../src/loader/index.ts';
import { fillStandard } from '../test/helpers/kernel.ts';
import { frontendBackendIR, hundredRuleIR, ADDR } from '../test/helpers/ir-fixtures.ts';
import { TcpConn } from '../sim/builder/tcp-conn.ts';
import { HpackEncoder } from '../test/helpers/hpack-encode.ts';
import { headers, PREFACE, requestFields, settings } from '../test/helpers/h2-wire.ts';

const RUNS = Number(process.env.RUNS ?? 3000);
const DRAIN = Number(process.env.DRAIN ?? 256);
const lib = openLibbpf();
const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-'));

/** q-quantile: the bench reports the 10th percentile, which other load on a shared
 * machine (it only ever slows runs down) disturbs far less than the median */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * q)] ?? NaN;
}
const Q = Number(process.env.QUANTILE ?? 0.1);

interface Timing {
  /** ns of the program's runs (quantile Q) */
  readonly ns: number;
  /** the same for (program - empty program) over run pairs, the same frame back to back */
  readonly over: number;
}

let emptyFd = -1;
const emptyRuns: number[] = [];

function once(fd: number, frame: Uint8Array): number {
  const r = lib.testRun(fd, { data: frame, dataOutSize: frame.length + 256 });
  if (r.err !== 0) throw new Error(`test_run failed: ${r.err}`);
  return r.durationNs;
}

/** The map an L7 flow lives in (templates before L7 flows moved apart: `flows`). */
const l7Map = (obj: LoadedObject) => (obj.maps.has('l7flows') ? 'l7flows' : 'flows');

function onlyFlow(obj: LoadedObject): { key: Buffer; value: Buffer } {
  const m = mapOf(obj, l7Map(obj));
  const key = lib.mapNextKey(m.fd, null, m.keySize);
  if (!key) throw new Error('no flow entry');
  return { key, value: lib.mapLookup(m.fd, key, m.valueSize)! };
}

/** A request head of exactly `size` bytes announcing a `bodyLen`-byte body. */
function requestHead(size: number, bodyLen: number): string {
  const head = `GET /api/v1/users HTTP/1.1\r\nHost: backend.default.svc\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\nContent-Length: ${bodyLen}\r\n`;
  const pad = size - head.length - 'X-Pad: \r\n\r\n'.length;
  if (pad < 0) throw new Error('head too small');
  return `${head}X-Pad: ${'a'.repeat(pad)}\r\n\r\n`;
}


/** Passed, with an HTTP event that forwarded it (a reset also returns TC_ACT_OK). */
function allowed(r: { action: number; events: readonly { kind: number; verdict: number }[] }): boolean {
  return r.action === 0 && r.events.some((e) => e.kind === 2 && e.verdict === 0);
}

interface Variant {
  readonly label: string;
  readonly obj: LoadedObject;
  readonly runner: PacketRunner;
  readonly beforeReq: { key: Buffer; value: Buffer };
  readonly beforeBody: { key: Buffer; value: Buffer };
  /** an HTTP/2 flow after its preface, and after its first call (flow entry + h2conns entry) */
  readonly h2: { readonly fresh: FlowState[]; readonly warm: FlowState[] } | null;
}

type FlowState = { map: string; key: Buffer; value: Buffer };

/** The entries of both flow maps (templates without HTTP/2 have no h2conns). */
function flowState(obj: LoadedObject): FlowState[] {
  return [l7Map(obj), 'h2conns'].filter((m) => obj.maps.has(m)).map((m) => {
    const map = mapOf(obj, m);
    const key = lib.mapNextKey(map.fd, null, map.keySize);
    if (!key) throw new Error(`no ${m} entry`);
    return { map: m, key, value: lib.mapLookup(map.fd, key, map.valueSize)! };
  });
}

function restore(obj: LoadedObject, states: readonly FlowState[]): void {
  for (const s of states) lib.mapUpdate(mapOf(obj, s.map).fd, s.key, s.value, 0);
}

/** The HTTP/2 bench flow: preface, then the first call, on a fresh connection; state snapshots. */
function h2Variant(obj: LoadedObject, runner: PacketRunner, f: Frames): Variant['h2'] {
  if (!obj.maps.has('h2conns')) return null;
  for (const m of [l7Map(obj), 'h2conns']) clearAll(obj, m);
  for (const [prog, frame] of [['l7_to_pod', f.syn], ['l7_from_pod', f.synAck], ['l7_to_pod', f.ack], ['l7_to_pod', f.h2preface]] as const) runner.run({ prog, frame });
  const fresh = flowState(obj);
  if (!allowed(runner.run({ prog: 'l7_to_pod', frame: f.h2first }))) throw new Error('bench HTTP/2 call was not allowed');
  const warm = flowState(obj);
  for (const frame of [f.h2later, f.h2huff, f.h2huffBig, f.h2raw, f.h2rawBig]) {
    restore(obj, frame === f.h2later ? warm : fresh);
    if (!allowed(runner.run({ prog: 'l7_to_pod', frame }))) throw new Error('a bench HTTP/2 call was not allowed');
  }
  return { fresh, warm };
}

function clearAll(obj: LoadedObject, m: string): void {
  const map = mapOf(obj, m);
  for (let k = lib.mapNextKey(map.fd, null, map.keySize); k; k = lib.mapNextKey(map.fd, null, map.keySize)) lib.mapDelete(map.fd, k);
}

/** Loads an object built from `templates`, establishes the bench flow and snapshots its state
 * before the request and before the body. */
function variant(label: string, templates: string, f: Frames): Variant {
  const built = emitObject(frontendBackendIR(), join(dir, label), undefined, templates);
  const obj = loadObject(lib, built.objectPath);
  fillStandard(obj);
  const runner = new PacketRunner(obj);
  runner.run({ prog: 'l7_to_pod', frame: f.syn });
  // the server's SYN-ACK (a reply, through its own veth's l7_from_pod): client data is
  // judged only once the flow knows what the server sent
  runner.run({ prog: 'l7_from_pod', frame: f.synAck });
  runner.run({ prog: 'l7_to_pod', frame: f.ack });
  const beforeReq = onlyFlow(obj);
  const req = runner.run({ prog: 'l7_to_pod', frame: f.req });
  if (!allowed(req)) throw new Error('bench request was not allowed');
  const beforeBody = onlyFlow(obj);
  lib.mapUpdate(mapOf(obj, l7Map(obj)).fd, beforeReq.key, beforeReq.value, 0);
  const big = runner.run({ prog: 'l7_to_pod', frame: f.bigReq });
  if (big.action !== 0) throw new Error('bench request (1400 B) was not allowed');
  for (const frame of [f.minReq, f.nodeReq]) {
    lib.mapUpdate(mapOf(obj, l7Map(obj)).fd, beforeReq.key, beforeReq.value, 0);
    if (!allowed(runner.run({ prog: 'l7_to_pod', frame }))) throw new Error('a bench request was not allowed');
  }
  runner.events();
  const h2 = h2Variant(obj, runner, f);
  runner.events();
  return { label, obj, runner, beforeReq, beforeBody, h2 };
}

interface Frames {
  readonly syn: Uint8Array;
  readonly synAck: Uint8Array;
  readonly ack: Uint8Array;
  readonly req: Uint8Array;
  readonly bigReq: Uint8Array;
  /** request line and Host only: the per-request fixed cost */
  readonly minReq: Uint8Array;
  /** the head Node's http client sends (Host with port, Connection: keep-alive) */
  readonly nodeReq: Uint8Array;
  readonly body: Uint8Array;
  readonly pureAck: Uint8Array;
  /** a server segment of the flow, through l7_from_pod of the server's veth (a reply: the
   * flow's key reversed) */
  readonly reply: Uint8Array;
  /** HTTP/2: the preface and SETTINGS; a gRPC-like call as a client's first on the connection
   * (literals, Huffman) and as its next (dynamic-table hits); calls with a 100- and a
   * 1000-character value, Huffman-coded and raw */
  readonly h2preface: Uint8Array;
  readonly h2first: Uint8Array;
  readonly h2later: Uint8Array;
  readonly h2huff: Uint8Array;
  readonly h2huffBig: Uint8Array;
  readonly h2raw: Uint8Array;
  readonly h2rawBig: Uint8Array;
  readonly h2padLens: readonly number[];
}

/** The client's HTTP/2 frames of the bench connection, each in one packet. */
function h2Frames(): Pick<Frames, 'h2preface' | 'h2first' | 'h2later' | 'h2huff' | 'h2huffBig' | 'h2raw' | 'h2rawBig' | 'h2padLens'> {
  const call = requestFields('GET', '/api/v1/users', 'backend:8080', [['content-type', 'application/grpc'], ['te', 'trailers'], ['user-agent', 'grpc-node-js/1.14.7'], ['grpc-accept-encoding', 'identity,deflate,gzip']]);
  const enc = new HpackEncoder();
  const first = headers(1, enc.encode(call), { endStream: true });
  const later = headers(3, enc.encode(call), { endStream: true });
  const padded = (n: number, huffman: boolean) => headers(1, new HpackEncoder().encode([...call, ['x-pad', 'a'.repeat(n)]], () => ({ huffmanValue: huffman })), { endStream: true });
  const conn = () => new TcpConn({ client: `${ADDR.frontend}:40000`, server: `${ADDR.backend}:8080` }).handshake().send(Buffer.concat([PREFACE, settings()]));
  const after = (bytes: Uint8Array) => conn().send(bytes).frames()[4]!;
  const pads = [padded(100, true), padded(1000, true), padded(100, false), padded(1000, false)];
  return {
    h2preface: conn().frames()[3]!, h2first: after(first), h2later: conn().send(first).send(later).frames()[5]!,
    h2huff: after(pads[0]!), h2huffBig: after(pads[1]!), h2raw: after(pads[2]!), h2rawBig: after(pads[3]!),
    h2padLens: pads.map((p) => p.length),
  };
}

function frames(): Frames {
  const c2 = new TcpConn({ client: `${ADDR.frontend}:40000`, server: `${ADDR.backend}:8080` }).handshake()
    .send(requestHead(200, 100000)).send('b'.repeat(1400)).ackOnly('client').recv('r'.repeat(1400));
  const [syn, synAck, ack, req, body, pureAck, reply] = c2.frames() as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  // the same request with a 1400-byte head: the difference between the two is the marginal
  // cost of an inspected byte, without the per-packet fixed costs
  const bigReq = new TcpConn({ client: `${ADDR.frontend}:40000`, server: `${ADDR.backend}:8080` }).handshake()
    .send(requestHead(1400, 100000)).frames()[3];
  const minReq = new TcpConn({ client: `${ADDR.frontend}:40000`, server: `${ADDR.backend}:8080` }).handshake()
    .send('GET /api/v1/users HTTP/1.1\r\nHost: b\r\n\r\n').frames()[3];
  const nodeReq = new TcpConn({ client: `${ADDR.frontend}:40000`, server: `${ADDR.backend}:8080` }).handshake()
    .send('GET /api/v1/users HTTP/1.1\r\nHost: backend:8080\r\nConnection: keep-alive\r\n\r\n').frames()[3];
  if (!syn || !ack || !req || !body || !pureAck || !bigReq || !minReq || !nodeReq || !reply) throw new Error('fixture');
  return { syn, synAck, ack, req, bigReq, minReq, nodeReq, body, pureAck, reply, ...h2Frames() };
}

/** Runs of every variant on one frame, interleaved run by run (A/B in one process). */
function perRunAll(vs: readonly Variant[], frame: Uint8Array, state: ((v: Variant) => { key: Buffer; value: Buffer } | FlowState[]) | null, prog = 'l7_to_pod'): Timing[] {
  const cols = vs.map(() => ({ xs: [] as number[], diffs: [] as number[] }));
  const fds = vs.map((v) => program(v.obj, prog).fd);
  const flows = vs.map((v) => v.obj.maps.get(l7Map(v.obj)));
  for (let i = 0; i < RUNS; i++) {
    if (i % DRAIN === 0) for (const v of vs) v.runner.events();
    vs.forEach((v, k) => {
      const s = state?.(v);
      const fl = flows[k];
      if (Array.isArray(s)) restore(v.obj, s);
      else if (s && fl) lib.mapUpdate(fl.fd, s.key, s.value, 0);
      const e = once(emptyFd, frame);
      const t = once(fds[k]!, frame);
      emptyRuns.push(e);
      cols[k]!.xs.push(t);
      cols[k]!.diffs.push(t - e);
    });
  }
  return cols.map((c) => ({ ns: quantile(c.xs, Q), over: quantile(c.diffs, Q) }));
}

/** HTTP/2: ns per HEADERS frame (a client's first call, a later one), per Huffman-coded and per raw value byte. */
function h2Rows(vs: readonly Variant[], f: Frames): void {
  if (vs.length === 0) return console.log('HTTP/2: the templates have no h2conns map');
  const fresh = (v: Variant) => v.h2!.fresh;
  const rows: [string, Timing[]][] = [
    ['HTTP/2 HEADERS, first call (literals)', perRunAll(vs, f.h2first, fresh)],
    ['HTTP/2 HEADERS, later call (table hits)', perRunAll(vs, f.h2later, (v) => v.h2!.warm)],
    ['HTTP/2 call + 100 Huffman-coded chars', perRunAll(vs, f.h2huff, fresh)],
    ['HTTP/2 call + 1000 Huffman-coded chars', perRunAll(vs, f.h2huffBig, fresh)],
    ['HTTP/2 call + 100 raw chars', perRunAll(vs, f.h2raw, fresh)],
    ['HTTP/2 call + 1000 raw chars', perRunAll(vs, f.h2rawBig, fresh)],
  ];
  const emptyNs = quantile(emptyRuns, Q);
  vs.forEach((v, k) => {
    if (vs.length > 1) console.log(`-- ${v.label}`);
    for (const [name, ts] of rows) console.log(`${name.padEnd(40)} ${String(ts[k]!.ns).padStart(6)} ns | +${ts[k]!.over} ns over empty | x${(ts[k]!.ns / emptyNs).toFixed(2)}`);
    const [hs, hb, rs, rb] = [rows[2]![1][k]!, rows[3]![1][k]!, rows[4]![1][k]!, rows[5]![1][k]!];
    const [hsLen, hbLen, rsLen, rbLen] = f.h2padLens as [number, number, number, number];
    console.log(`HTTP/2 marginal cost: ${((hb.over - hs.over) / (hbLen - hsLen)).toFixed(2)} ns per Huffman-coded byte (${((hb.over - hs.over) / 900).toFixed(2)} ns per character), ${((rb.over - rs.over) / (rbLen - rsLen)).toFixed(2)} ns per raw byte`);
  });
}

function main(): void {
  runClang(TEMPLATES_DIR, dir, true, 'l7_empty.bpf.c', 'empty.o');
  const empty = loadObject(lib, join(dir, 'empty.o'));
  const f = frames();
  // BASE_TEMPLATES=<dir>: also measure templates from <dir> (e.g. a `git worktree` of an older
  // commit), interleaved with this checkout's run by run, so host load hits both alike
  const bases = (process.env.BASE_TEMPLATES ?? '').split(':').filter(Boolean);
  const vs = [variant('head', TEMPLATES_DIR, f), ...bases.map((b, i) => variant(bases.length > 1 ? `base${i + 1}` : 'base', b, f))];
  const reqPayload = f.req.length - 54;
  const bigPayload = f.bigReq.length - 54;

  emptyFd = program(empty, 'l7_empty').fd;
  const rows: [string, Timing[], number][] = [
    ['SYN (connection decision)', perRunAll(vs, f.syn, null), 0],
    [`request, ${reqPayload}-byte header block`, perRunAll(vs, f.req, (v) => v.beforeReq), reqPayload],
    [`request, ${bigPayload}-byte header block`, perRunAll(vs, f.bigReq, (v) => v.beforeReq), bigPayload],
    [`request, ${f.minReq.length - 54}-byte head (line + Host)`, perRunAll(vs, f.minReq, (v) => v.beforeReq), f.minReq.length - 54],
    [`request, ${f.nodeReq.length - 54}-byte head (Node client)`, perRunAll(vs, f.nodeReq, (v) => v.beforeReq), f.nodeReq.length - 54],
    ['body segment (1400 B, content-length)', perRunAll(vs, f.body, (v) => v.beforeBody), 0],
    ['pure ACK of an L7 flow', perRunAll(vs, f.pureAck, (v) => v.beforeBody), 0],
    ['server reply segment (l7_from_pod)', perRunAll(vs, f.reply, (v) => v.beforeBody, 'l7_from_pod'), 0],
  ];
  const emptyNs = quantile(emptyRuns, Q);
  console.log(`empty tc program: ${emptyNs} ns/run (quantile ${Q} of ${emptyRuns.length} repeat=1 runs, each right before a measured run; all figures are that quantile)`);
  vs.forEach((v, k) => {
    if (vs.length > 1) console.log(`-- ${v.label}${k > 0 ? ` (${bases[k - 1]})` : ''}`);
    for (const [name, ts, bytes] of rows) {
      const t = ts[k]!;
      const perByte = bytes ? ` | ${(t.over / bytes).toFixed(2)} ns/inspected byte` : '';
      console.log(`${name.padEnd(40)} ${String(t.ns).padStart(6)} ns | +${t.over} ns over empty | x${(t.ns / emptyNs).toFixed(2)}${perByte}`);
    }
    const small = rows[1]![1][k]!, large = rows[2]![1][k]!;
    console.log(`marginal cost per inspected byte: ${((large.over - small.over) / (bigPayload - reqPayload)).toFixed(2)} ns (${bigPayload} B vs ${reqPayload} B heads)`);
  });
  h2Rows(vs.filter((v) => v.h2), f);
  const hundred = emitObject(hundredRuleIR(), join(dir, 'big'));
  const bigObj = loadObject(lib, hundred.objectPath);
  for (const p of bigObj.programs.values()) console.log(`verifier, 100-rule policy: ${p.name} ${p.verifiedInsns} insns processed`);
  for (const p of vs[0]!.obj.programs.values()) console.log(`verifier, 1-rule policy: ${p.name} ${p.verifiedInsns} insns processed`);
  bigObj.close();
  for (const v of vs) {
    v.runner.close();
    v.obj.close();
  }
  empty.close();
}

try {
  main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
