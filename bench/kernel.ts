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
  return { label, obj, runner, beforeReq, beforeBody };
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
  return { syn, synAck, ack, req, bigReq, minReq, nodeReq, body, pureAck, reply };
}

/** Runs of every variant on one frame, interleaved run by run (A/B in one process). */
function perRunAll(vs: readonly Variant[], frame: Uint8Array, state: ((v: Variant) => { key: Buffer; value: Buffer }) | null, prog = 'l7_to_pod'): Timing[] {
  const cols = vs.map(() => ({ xs: [] as number[], diffs: [] as number[] }));
  const fds = vs.map((v) => program(v.obj, prog).fd);
  const flows = vs.map((v) => v.obj.maps.get(l7Map(v.obj)));
  for (let i = 0; i < RUNS; i++) {
    if (i % DRAIN === 0) for (const v of vs) v.runner.events();
    vs.forEach((v, k) => {
      const s = state?.(v);
      const fl = flows[k];
      if (s && fl) lib.mapUpdate(fl.fd, s.key, s.value, 0);
      const e = once(emptyFd, frame);
      const t = once(fds[k]!, frame);
      emptyRuns.push(e);
      cols[k]!.xs.push(t);
      cols[k]!.diffs.push(t - e);
    });
  }
  return cols.map((c) => ({ ns: quantile(c.xs, Q), over: quantile(c.diffs, Q) }));
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
