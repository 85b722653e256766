// Evaluating spec cases with the oracle. The same request bytes feed the simulator and the
// kernel in differential tests, so requests are built as wire bytes here.
import { decide, parseRequestHead, type Flow, type L7Input, type Verdict } from '../../src/verdict/index.ts';
import { resolvePeer } from '../../src/cli/explain.ts';
import type { SpecCase, SpecFile } from './spec-format.ts';

export type CaseRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'http1'; readonly bytes: Uint8Array }
  | { readonly kind: 'grpc'; readonly service: string; readonly method: string };

export function caseRequest(c: SpecCase): CaseRequest {
  const r = c.request.trim();
  if (r === '') return { kind: 'none' };
  if (r.startsWith('"')) return { kind: 'http1', bytes: Buffer.from(JSON.parse(r) as string, 'latin1') };
  const grpc = /^grpc\s+([^/\s]+)\/(\S+)$/.exec(r);
  if (grpc?.[1] && grpc[2]) return { kind: 'grpc', service: grpc[1], method: grpc[2] };
  const m = /^(\S+)\s+(\S+)(?:\s+\[(.*)\])?$/.exec(r);
  if (!m?.[1] || !m[2]) throw new Error(`${c.file}:${c.line}: cannot read request "${r}"`);
  const headers = (m[3] ?? '').split(';').map((h) => h.trim()).filter(Boolean);
  if (!headers.some((h) => /^host\s*:/i.test(h))) headers.unshift(`Host: ${c.to}`);
  const head = [`${m[1]} ${m[2]} HTTP/1.1`, ...headers].join('\r\n') + '\r\n\r\n';
  return { kind: 'http1', bytes: Buffer.from(head, 'latin1') };
}

export function l7Input(req: CaseRequest, host: string): L7Input | undefined {
  switch (req.kind) {
    case 'none':
      return undefined;
    case 'grpc':
      return {
        kind: 'request',
        request: { method: 'POST', target: `/${req.service}/${req.method}`, version: 'HTTP/2', headers: [[':authority', host], ['content-type', 'application/grpc']] },
      };
    case 'http1': {
      const head = parseRequestHead(req.bytes);
      if (head.kind === 'ok') return { kind: 'request', request: head.request };
      if (head.kind === 'violation') return { kind: 'violation', violation: head.violation };
      throw new Error('incomplete request head in spec case');
    }
  }
}

export function caseFlow(spec: SpecFile, c: SpecCase): Flow {
  const src = resolvePeer(spec.inventory, c.from);
  const m = /^(.*):(\d+)(?:\/(TCP|UDP|SCTP))?$/.exec(c.to);
  if (!m?.[1] || !m[2]) throw new Error(`${c.file}:${c.line}: "to" must be POD:PORT[/PROTO]`);
  const dst = resolvePeer(spec.inventory, m[1].replace(/^\[(.*)\]$/, '$1'));
  return { src, dst, dstPort: Number(m[2]), protocol: (m[3] ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP' };
}

export function evaluateCase(spec: SpecFile, c: SpecCase): Verdict {
  return decide(spec.policies, caseFlow(spec, c), l7Input(caseRequest(c), c.to));
}

/** `denied strict:path-not-canonical` style text for a verdict. */
export function verdictText(v: Verdict): string {
  const reason = v.reason === 'strict' && v.violation ? `strict:${v.violation.rule}` : v.reason;
  return `${v.allowed ? 'allowed' : 'denied'} ${reason}`;
}

export function caseMatches(c: SpecCase, v: Verdict): boolean {
  if (v.allowed !== c.expect.allowed) return false;
  if (c.expect.reason === null) return true;
  return verdictText(v).split(' ')[1] === c.expect.reason;
}
