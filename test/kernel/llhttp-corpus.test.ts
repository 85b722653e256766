// llhttp's own request cases (L7BPF_CORPORA/llhttp/request/*.md, strict mode only) through
// the kernel under a policy that allows every request with L7 inspection on
// (`rules: {http: [{}]}`): the kernel never allows a request llhttp rejects, and for the
// requests it allows, agrees with llhttp on method and URL (read from the allowed-request
// events). Where the kernel denies what llhttp accepts, the oracle's strict rules must say
// so with the same rule name (DIFFERENT lists these cases and why); any other difference fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kernelSkip } from '../helpers/kernel.ts';
import { parseRequestHead } from '../../src/verdict/index.ts';
import { inspectAll } from '../helpers/inspect-all.ts';
import { allowedLines, buildWorld, connPackets, kernelVerdict, runKernel, type KernelWorld } from '../helpers/kernel-world.ts';

const corpus = join(resolve(process.cwd(), process.env.L7BPF_CORPORA ?? '../shared/corpora'), 'llhttp', 'request');
const absent = existsSync(corpus) ? false : `llhttp corpus not found at ${corpus} (set L7BPF_CORPORA)`;
const skip = absent || kernelSkip();

interface LlhttpCase {
  readonly where: string;
  readonly title: string;
  readonly input: Buffer;
  /** method and url of each message llhttp completed the head of, in order */
  readonly heads: { method: string; url: string }[];
  readonly error: string | null;
  /** llhttp failed in the body of a message whose head it had completed */
  readonly bodyError: boolean;
}

/** llhttp's md format: newlines are CRLF on the wire; \r \n \t \f \xHH escapes. */
function wire(block: string): Buffer {
  const text = block.split('\n').join('\r\n').replace(/\\(r|n|t|f|x[0-9a-fA-F]{2})/g, (_, e: string) =>
    e === 'r' ? '\r' : e === 'n' ? '\n' : e === 't' ? '\t' : e === 'f' ? '\f' : String.fromCharCode(parseInt(e.slice(1), 16)));
  return Buffer.from(text, 'latin1');
}

function spans(log: string, kind: string): string[] {
  return [...log.matchAll(new RegExp(`span\\[${kind}\\]="((?:[^"\\\\]|\\\\.)*)"`, 'g'))].map((m) => m[1]!);
}

/** Heads llhttp completed: method/url spans joined per message (a field may come in pieces). */
function headsOf(log: string): { method: string; url: string }[] {
  return log.split(/\n(?=off=\d+ message begin)/).filter((m) => /headers complete/.test(m)).map((m) => ({
    method: spans(m.split('headers complete')[0]!, 'method').join(''),
    url: spans(m.split('headers complete')[0]!, 'url').join(''),
  }));
}

export function readCorpus(dir: string): { cases: LlhttpCase[]; lenient: number } {
  const cases: LlhttpCase[] = [];
  let lenient = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.md')).sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    const re = /<!-- meta=(\{.*?\}) -->\s*```http\n([\s\S]*?)\n```[\s\S]*?```log\n([\s\S]*?)\n```/g;
    for (const m of text.matchAll(re)) {
      const meta = JSON.parse(m[1]!) as { type: string; pause?: string };
      if (meta.type !== 'request') {
        lenient++;
        continue;
      }
      const before = text.slice(0, m.index);
      const title = [...before.matchAll(/^#+ (.*)$/gm)].pop()?.[1] ?? '?';
      const log = m[3]!;
      const err = /error code=\d+ reason="([^"]*)"/.exec(log);
      const lastMessage = log.split(/\n(?=off=\d+ message begin)/).pop() ?? '';
      cases.push({ where: `${file}: ${title}`, title, input: wire(m[2]!), heads: headsOf(log), error: err ? err[1]! : null, bodyError: err !== null && /headers complete/.test(lastMessage) });
    }
  }
  return { cases, lenient };
}

/**
 * Cases where the kernel denies what llhttp (strict) accepts, each explained by one of our
 * strict rules (the oracle names the same rule). Key: file: title.
 */
const DIFFERENT: Readonly<Record<string, string>> = {
  // empty lines before a request line: llhttp skips them (RFC 9112 2.2 allows it), we refuse a
  // head whose first line is empty, pipelined or not
  // HTTP/0.9-style request line without version
  'sample.md: No HTTP version': 'denied strict:malformed',
  // RTSP / ICE: not HTTP/1.0 or 1.1 (ANNOUNCE is an RTSP-only method)
  'method.md: ANNOUNCE request with RTSP': 'denied strict:unknown-method',
  'method.md: OPTIONS request with RTSP': 'denied strict:bad-version',
  'method.md: SOURCE request with ICE': 'denied strict:bad-version',
  // request-target not in origin-form: '*' is only for OPTIONS, absolute-form, '#', '|', '"'
  'method.md: M-SEARCH request': 'denied strict:not-origin-form',
  'transfer-encoding.md: POST with `chunked` as last transfer-encoding': 'denied strict:not-origin-form',
  'transfer-encoding.md: POST with `chunked` as last transfer-encoding (multiple headers)': 'denied strict:not-origin-form',
  'uri.md: Fragment in URI': 'denied strict:not-origin-form',
  'uri.md: Host terminated by a query string': 'denied strict:not-origin-form',
  'uri.md: Query URL with vertical bar character': 'denied strict:not-origin-form',
  'uri.md: Quotes in URI': 'denied strict:not-origin-form',
  'uri.md: `host:port` and basic auth': 'denied strict:not-origin-form',
  'uri.md: `host:port` terminated by a query string': 'denied strict:not-origin-form',
  'uri.md: `host:port` terminated by a space': 'denied strict:not-origin-form',
};

/** llhttp rejects these and the kernel does not (yet). Empty since the kernel ends the stream
 * after a message llhttp would not keep alive (HTTP/1.0 without keep-alive, Connection: close). */
const KNOWN_GAPS: Readonly<Record<string, string>> = {
  // CR/LF before a request line is skipped (llhttp does so, any number, also after a closing
  // message); a head after a closing message is refused once it completes, and these cases
  // end before it does. The server has stopped reading at the close: it never processes it.
  'connection.md: CRLF between requests, explicit `close`': 'an incomplete head after a closing message is refused only once it completes',
  'connection.md: CRLF between requests, explicit `close` followed by tab': 'an incomplete head after a closing message is refused only once it completes',
};

let world: KernelWorld | null = null;
after(() => world?.close());

test('the kernel never allows what llhttp rejects and agrees on method and URL', { skip }, () => {
  const { cases, lenient } = readCorpus(corpus);
  const { policies, inv, client, server } = inspectAll();
  world = buildWorld(policies, inv, []);
  const problems: string[] = [];
  const newDiffs: Record<string, string> = {};
  const seenDiffs: Record<string, string> = {};
  for (const c of cases) {
    world.reset();
    const packets = connPackets(client, server, 80, c.input, false)!;
    const run = runKernel(world, client, server, packets);
    const verdict = kernelVerdict(run);
    // answered or reset: the server reads none of it
    const reset = run.actions.includes('reset') || run.actions.includes('answer');
    const lines = allowedLines(run);
    // a rejected head must not be allowed (an unfinished one is not); a rejected body must be reset
    const rejectedAllowed = c.error !== null && (c.bodyError ? !reset : lines.length > c.heads.length);
    if (rejectedAllowed && KNOWN_GAPS[c.where] === undefined) problems.push(`${c.where}: llhttp rejects it (${c.error}), the kernel allowed it`);
    if (!rejectedAllowed && KNOWN_GAPS[c.where] !== undefined) problems.push(`${c.where}: listed in KNOWN_GAPS but the kernel now rejects it: remove it`);
    lines.forEach((line, i) => {
      const want = c.heads[i];
      if (!want && KNOWN_GAPS[c.where] !== undefined) return;
      const [method = '', url = ''] = line.split(' ');
      const full = line.split(' ').length > 2;
      if (!want) problems.push(`${c.where}: kernel allowed request ${i + 1} ("${line}"), llhttp completed only ${c.heads.length}`);
      else if (method !== want.method || (full ? url !== want.url : !want.url.startsWith(url))) problems.push(`${c.where}: kernel allowed ${method} ${url}, llhttp read ${want.method} ${want.url}`);
    });
    if (c.error === null && verdict !== 'allowed') {
      seenDiffs[c.where] = verdict;
      if (DIFFERENT[c.where] !== verdict) newDiffs[c.where] = verdict;
      // our strict rules must name the same reason for the first head the kernel refused
      const head = parseRequestHead(c.input.subarray(headStart(c.input, lines.length)));
      const oracle = head.kind === 'violation' ? `denied strict:${head.violation.rule}` : 'allowed';
      if (verdict.startsWith('denied strict:') && oracle !== verdict) problems.push(`${c.where}: kernel ${verdict}, oracle ${oracle}`);
    }
  }
  for (const k of [...Object.keys(DIFFERENT), ...Object.keys(KNOWN_GAPS)]) if (!cases.some((c) => c.where === k)) problems.push(`${k} is listed but not in the corpus`);
  for (const k of Object.keys(DIFFERENT)) if (!(k in seenDiffs)) problems.push(`${k}: listed in DIFFERENT, but the kernel now agrees with llhttp: remove it`);
  assert.ok(cases.length > 50, `only ${cases.length} strict cases read from ${corpus} (${lenient} lenient ones skipped)`);
  assert.deepEqual(problems, []);
  console.log(`llhttp corpus: ${cases.length} strict-mode cases (${lenient} lenient-mode ones skipped), ${Object.keys(DIFFERENT).length} listed differences, ${Object.keys(KNOWN_GAPS).length} known gap(s)`);
  assert.deepEqual(newDiffs, {}, 'differences from llhttp not listed in DIFFERENT');
});

/** Offset of the n-th request head in a pipelined input (heads end at CRLFCRLF; bodies are small here). */
function headStart(input: Buffer, n: number): number {
  let off = 0;
  for (let i = 0; i < n; i++) {
    const end = input.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0) return off;
    off = end + 4;
  }
  return off;
}
