// What answering a denial costs in the kernel, against resetting it, in one run (BPF_PROG_TEST_RUN;
// run as root: npx tsx bench/answers.ts). One object, the same flows opened under each
// `--deny-answer` mode (a flow takes the mode when it opens), runs interleaved mode by mode:
//   - the packet that completes a denied request head (reset: RSTs both ways; close: 403 and FIN
//     injected + the server's reset; auto: stage 3, the request cut, the 403 injected, the
//     client's ACK to the server);
//   - the packet of an allowed request (the response count it adds);
//   - a server response packet of an allowed request (answers follow responses; resets do not);
//   - a segment inside a long response body (skipped by length);
//   - stage 3 only: an allowed request and its response on a connection with offsets (after a
//     cut 403: both packets rewritten), against the same packets on a connection without.
// Figures are the 10th percentile (env QUANTILE) of per-run ns: other load only adds time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitObject } from '../codegen/emit/index.ts';
import { openLibbpf, loadObject, mapOf, program, fillConfig, type LoadedObject } from '../src/loader/index.ts';
import { fillStandard } from '../test/helpers/kernel.ts';
import { frontendBackendIR, ADDR } from '../test/helpers/ir-fixtures.ts';
import { TcpConn } from '../sim/builder/tcp-conn.ts';
import { HTTP1_FORBIDDEN_KEEP, type AnswerMode } from '../src/net/answers.ts';

const RUNS = Number(process.env.RUNS ?? 4000);
const Q = Number(process.env.QUANTILE ?? 0.1);
const lib = openLibbpf();
const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-answers-'));

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)] ?? NaN;

const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}';
const HOST = 'Host: backend.default.svc\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n';
const conn = () => new TcpConn({ client: `${ADDR.frontend}:40000`, server: `${ADDR.backend}:8080` }).handshake();
const allowedConn = conn().send(`GET /api/v1/users HTTP/1.1\r\n${HOST}`).recv(RESPONSE);
// a download: the head announces 1 MB, then a segment inside the body
const bodyConn = conn().send(`GET /api/v1/users HTTP/1.1\r\n${HOST}`).recv('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n').recv('d'.repeat(1400));
const [, , , , bigHead, bodySeg] = bodyConn.frames() as Uint8Array[];
const deniedConn = conn().send(`POST /api/v1/users HTTP/1.1\r\n${HOST}`);
const [syn, synAck, ack, allowedReq, response] = allowedConn.frames() as Uint8Array[];
const deniedReq = deniedConn.frames()[3]!;
// stage 3: the denied request cut and answered, then an allowed request and its response
const offConn = conn().send(`POST /api/v1/users HTTP/1.1\r\n${HOST}`).received(HTTP1_FORBIDDEN_KEEP.length)
  .send(`GET /api/v1/users HTTP/1.1\r\n${HOST}`).recv(RESPONSE);
const [, , , offDenied, offAllowed, offResponse] = offConn.frames() as Uint8Array[];
// the same allowed request with the options linux sends (nop nop timestamps: the fast path), and
// with a SACK block after them (the option walk)
const POST = `POST /api/v1/users HTTP/1.1\r\n${HOST}`;
const TS = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
const withOptions = (opts: number[]) => conn().send(POST).received(HTTP1_FORBIDDEN_KEEP.length)
  .craft('client', POST.length, `GET /api/v1/users HTTP/1.1\r\n${HOST}`, { frame: { tcpOptions: Uint8Array.from(opts) } }).frames()[4]!;
const offTs = withOptions(TS);
const offSack = withOptions([...TS, 1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0]);

/** Flow entries as they are before `frame` (the l7flows map holds the one flow). */
type Snapshot = { key: Buffer; value: Buffer };
function snapshot(obj: LoadedObject): Snapshot {
  const m = mapOf(obj, 'l7flows');
  const key = lib.mapNextKey(m.fd, null, m.keySize)!;
  return { key, value: lib.mapLookup(m.fd, key, m.valueSize)! };
}

interface Case { readonly prog: 'l7_to_pod' | 'l7_from_pod'; readonly frame: Uint8Array; readonly before: Snapshot }

function cases(obj: LoadedObject, mode: AnswerMode): Record<string, Case> {
  fillConfig(obj, mode);
  const to = program(obj, 'l7_to_pod').fd;
  const from = program(obj, 'l7_from_pod').fd;
  const run = (fd: number, f: Uint8Array) => lib.testRun(fd, { data: f, dataOutSize: f.length + 256 });
  const m = mapOf(obj, 'l7flows');
  for (let k = lib.mapNextKey(m.fd, null, m.keySize); k; k = lib.mapNextKey(m.fd, null, m.keySize)) lib.mapDelete(m.fd, k);
  run(to, syn!);
  run(from, synAck!);
  run(to, ack!);
  const open = snapshot(obj);
  run(to, allowedReq!);
  const sent = snapshot(obj);
  run(from, bigHead!);
  const inBody = snapshot(obj);
  const out: Record<string, Case> = {
    'denied request': { prog: 'l7_to_pod', frame: deniedReq, before: open },
    'allowed request': { prog: 'l7_to_pod', frame: allowedReq!, before: open },
    'response packet': { prog: 'l7_from_pod', frame: response!, before: sent },
    'response body segment (1400 B)': { prog: 'l7_from_pod', frame: bodySeg!, before: inBody },
  };
  if (mode !== 'auto') return out;
  // the same handshake, the denied request cut: offsets from here on
  lib.mapUpdate(m.fd, open.key, open.value, 0);
  run(to, offDenied!);
  const cut = snapshot(obj);
  run(to, offAllowed!);
  const offSent = snapshot(obj);
  out[OFFSETS[0]] = { prog: 'l7_to_pod', frame: offAllowed!, before: cut };
  out[OFFSETS[1]] = { prog: 'l7_from_pod', frame: offResponse!, before: offSent };
  out[OFFSETS[2]] = { prog: 'l7_to_pod', frame: offTs, before: cut };
  out[OFFSETS[3]] = { prog: 'l7_to_pod', frame: offSack, before: cut };
  return out;
}

/** stage-3 rows and the rows without offsets they compare with */
const OFFSETS = ['allowed request, offsets', 'response packet, offsets', 'allowed request, offsets, timestamps', 'allowed request, offsets, timestamps + SACK'] as const;
const PLAIN: Record<string, string> = { [OFFSETS[0]]: 'allowed request', [OFFSETS[1]]: 'response packet', [OFFSETS[2]]: 'allowed request', [OFFSETS[3]]: 'allowed request' };

function main(): void {
  const built = emitObject(frontendBackendIR(), join(dir, 'obj'));
  const obj = loadObject(lib, built.objectPath);
  fillStandard(obj);
  const modes: AnswerMode[] = ['reset', 'close', 'auto'];
  const setups = modes.map((mode) => ({ mode, cases: cases(obj, mode) }));
  const names = Object.keys(setups[2]!.cases);
  // what each mode does with the denied request: RSTs, the 403 and the server's reset, the cut
  // (the packet leaves as the client's bare ACK to the server)
  const m0 = mapOf(obj, 'l7flows');
  for (const s of setups) {
    fillConfig(obj, s.mode);
    const c = s.cases['denied request']!;
    lib.mapUpdate(m0.fd, c.before.key, c.before.value, 0);
    const out = lib.testRun(program(obj, c.prog).fd, { data: c.frame, dataOutSize: c.frame.length + 256 }).dataOut;
    const flags = out[14 + 20 + 13]!;
    if ((s.mode === 'auto') !== (flags === 0x10)) throw new Error(`${s.mode}: the denied request left with tcp flags 0x${flags.toString(16)}`);
  }
  const times = new Map<string, number[]>();
  const m = mapOf(obj, 'l7flows');
  for (let i = 0; i < RUNS; i++) {
    for (const s of setups) {
      fillConfig(obj, s.mode);
      for (const name of names) {
        const c = s.cases[name];
        if (!c) continue;
        lib.mapUpdate(m.fd, c.before.key, c.before.value, 0);
        const r = lib.testRun(program(obj, c.prog).fd, { data: c.frame, dataOutSize: c.frame.length + 256 });
        const k = `${s.mode}|${name}`;
        (times.get(k) ?? times.set(k, []).get(k)!).push(r.durationNs);
      }
    }
  }
  console.log(`bench/answers: ${RUNS} runs per case, p${Q * 100} ns per packet (BPF_PROG_TEST_RUN)`);
  const q = (mode: string, name: string) => quantile(times.get(`${mode}|${name}`) ?? [], Q);
  console.log('| packet | reset (stage 1) | 403 + FIN (stage 2, close) | ratio | keep-alive 403 (stage 3, auto) | ratio |');
  console.log('|---|---|---|---|---|---|');
  for (const name of names) {
    // a row with offsets compares with the same packet without them, reset mode
    const base = q('reset', PLAIN[name] ?? name);
    const close = PLAIN[name] ? NaN : q('close', name);
    const auto = q('auto', name);
    const cell = (x: number) => (Number.isNaN(x) ? '-' : String(x));
    const ratio = (x: number) => (Number.isNaN(x) ? '-' : `${(x / base).toFixed(2)}x`);
    console.log(`| ${name} | ${base} | ${cell(close)} | ${ratio(close)} | ${auto} | ${ratio(auto)} |`);
  }
  obj.close();
  rmSync(dir, { recursive: true, force: true });
}

main();
