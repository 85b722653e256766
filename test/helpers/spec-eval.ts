// Evaluating spec cases with the oracle. The same request bytes feed the simulator and the
// kernel in differential tests, so requests are built as wire bytes here.
import { decide, DEFAULT_LIMITS, parseRequestHead, type Flow, type L7Input, type Verdict } from '../../src/verdict/index.ts';
import { l7InputOf } from '../../src/replay/judge.ts';
import { Http2Session } from '../../sim/http2/session.ts';
import type { RequestEvent } from '../../sim/replay/types.ts';
import { h2Connection, PREFACE, requestFields } from './h2-wire.ts';
import type { Field } from './hpack-encode.ts';
import { resolvePeer } from '../../src/cli/explain.ts';
import type { SpecCase, SpecFile } from './spec-format.ts';

export type CaseRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'http1'; readonly bytes: Uint8Array }
  /** the client's bytes of a prior-knowledge HTTP/2 connection */
  | { readonly kind: 'h2'; readonly bytes: Uint8Array };

export function caseRequest(c: SpecCase): CaseRequest {
  const r = c.request.trim();
  if (r === '') return { kind: 'none' };
  if (r.startsWith('"')) {
    const bytes = Buffer.from(JSON.parse(r) as string, 'latin1');
    // what the datapath would take for HTTP/2 (sim/l7/sniff.ts)
    return { kind: bytes.subarray(0, 4).toString('latin1') === 'PRI ' ? 'h2' : 'http1', bytes };
  }
  const grpc = /^grpc\s+([^/\s]+)\/(\S+)$/.exec(r);
  if (grpc?.[1] && grpc[2]) return h2Case(requestFields('POST', `/${grpc[1]}/${grpc[2]}`, c.to, [['content-type', 'application/grpc'], ['te', 'trailers']]));
  if (r.startsWith('h2 ')) return h2Spec(c, r.slice(3).trim());
  const m = /^(\S+)\s+(\S+)(?:\s+\[(.*)\])?$/.exec(r);
  if (!m?.[1] || !m[2]) throw new Error(`${c.file}:${c.line}: cannot read request "${r}"`);
  const headers = headerList(m[3]);
  if (!headers.some((h) => /^host\s*:/i.test(h))) headers.unshift(`Host: ${c.to}`);
  const head = [`${m[1]} ${m[2]} HTTP/1.1`, ...headers].join('\r\n') + '\r\n\r\n';
  return { kind: 'http1', bytes: Buffer.from(head, 'latin1') };
}

function headerList(text: string | undefined): string[] {
  return (text ?? '').split(';').map((h) => h.trim()).filter(Boolean);
}

function h2Case(fields: readonly Field[]): CaseRequest {
  return { kind: 'h2', bytes: h2Connection([fields]) };
}

/**
 * HTTP/2 requests: `h2 METHOD /path [name: v; ...]` (pseudo-headers, then the fields as
 * written), `h2 fields [["name","value"], ...]` (exactly these fields), `h2 raw HEX` (the
 * bytes after the preface).
 */
function h2Spec(c: SpecCase, r: string): CaseRequest {
  if (r.startsWith('fields ')) return h2Case(JSON.parse(r.slice(7)) as Field[]);
  if (r.startsWith('raw ')) return { kind: 'h2', bytes: Buffer.concat([PREFACE, Buffer.from(r.slice(4).replace(/\s+/g, ''), 'hex')]) };
  const m = /^(\S+)\s+(\S+)(?:\s+\[(.*)\])?$/.exec(r);
  if (!m?.[1] || !m[2]) throw new Error(`${c.file}:${c.line}: cannot read request "h2 ${r}"`);
  // `c{N}` in a value is N times c (long values in one table row)
  const value = (v: string) => v.replace(/(.)\{(\d+)\}/g, (_, ch: string, n: string) => ch.repeat(Number(n)));
  const extra = headerList(m[3]).map((h): Field => [h.slice(0, h.indexOf(':')).trim(), value(h.slice(h.indexOf(':') + 1).trim())]);
  return h2Case(requestFields(m[1], m[2], c.to, extra));
}

/** The request events of HTTP/2 client bytes, as the simulator reads them (to the first violation). */
function h2Events(bytes: Uint8Array): RequestEvent[] {
  const events: RequestEvent[] = [];
  const session = new Http2Session<boolean>(DEFAULT_LIMITS.headBytes, {
    judge: (ev) => (events.push(ev), true),
    allowed: (ok) => ok,
    emit: () => undefined,
    answered: () => undefined,
    now: () => 0n,
  });
  session.client(bytes, 0, bytes.length);
  return events;
}

/** What the parser hands the oracle for a case's request, in order (several for HTTP/2 streams). */
export function l7Inputs(req: CaseRequest): L7Input[] {
  switch (req.kind) {
    case 'none':
      return [];
    case 'h2': {
      const events = h2Events(req.bytes);
      if (events.length === 0) throw new Error('HTTP/2 bytes without a complete field block in spec case');
      return events.map((ev) => l7InputOf(ev));
    }
    case 'http1': {
      const head = parseRequestHead(req.bytes);
      if (head.kind === 'ok') return [{ kind: 'request', request: head.request }];
      if (head.kind === 'violation') return [{ kind: 'violation', violation: head.violation }];
      throw new Error('incomplete request head in spec case');
    }
  }
}

/** A case's verdict from its inputs: the first denial, else the last verdict. */
export function caseVerdict(inputs: readonly L7Input[], judge: (input: L7Input | undefined) => Verdict): Verdict {
  if (inputs.length === 0) return judge(undefined);
  let v: Verdict | undefined;
  for (const input of inputs) {
    v = judge(input);
    if (!v.allowed) return v;
  }
  return v!;
}

export function caseFlow(spec: SpecFile, c: SpecCase): Flow {
  const src = resolvePeer(spec.inventory, c.from);
  const m = /^(.*):(\d+)(?:\/(TCP|UDP|SCTP))?$/.exec(c.to);
  if (!m?.[1] || !m[2]) throw new Error(`${c.file}:${c.line}: "to" must be POD:PORT[/PROTO]`);
  const dst = resolvePeer(spec.inventory, m[1].replace(/^\[(.*)\]$/, '$1'));
  return { src, dst, dstPort: Number(m[2]), protocol: (m[3] ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP' };
}

export function evaluateCase(spec: SpecFile, c: SpecCase): Verdict {
  const flow = caseFlow(spec, c);
  return caseVerdict(l7Inputs(caseRequest(c)), (input) => decide(spec.policies, flow, input));
}

/** `denied strict:path-not-canonical` style text for a verdict. */
export function verdictText(v: Verdict): string {
  const reason = v.reason === 'strict' && v.violation ? `strict:${v.violation.rule}` : v.reason;
  return `${v.allowed ? 'allowed' : 'denied'} ${reason}`;
}

/** A verdict as kernelVerdict (test/helpers/kernel-world.ts) words it: a denial; a denial audit
 * mode let pass `audited <reason>`; else `allowed`. */
export function judgedText(v: Verdict): string {
  if (!v.allowed) return verdictText(v);
  return v.audit ? verdictText(v).replace(/^allowed/, 'audited') : 'allowed';
}

export function caseMatches(c: SpecCase, v: Verdict): boolean {
  if (v.allowed !== c.expect.allowed) return false;
  if (c.expect.reason === null) return true;
  return verdictText(v).split(' ')[1] === c.expect.reason;
}
