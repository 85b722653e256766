// `l7bpf explain`: the verdict for one flow (and optionally one request), with the chain of
// reasons and the rules involved.
import { loadPolicies } from '../policy/index.ts';
import { loadInventory, findEndpoint, type Inventory } from '../endpoints/index.ts';
import { selectorMatches } from '../verdict/peers.ts';
import type { Policy } from '../policy/types.ts';
import { decide, resolveIp, describePeer, parseRequestHead, h2Request, type PeerRef, type L7Input, type Protocol, type Verdict } from '../verdict/index.ts';
import { BadInputError, EXIT_NO, EXIT_OK } from './exit.ts';

export interface ExplainOptions {
  readonly policy: readonly string[];
  readonly endpoints: string;
  readonly from: string;
  readonly to: string;
  readonly protocol?: string;
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly header?: readonly string[];
  readonly grpc?: string;
  readonly output?: string;
}

export function explainCommand(opts: ExplainOptions): number {
  const policies = loadPolicies(opts.policy);
  const inv = loadInventory(opts.endpoints);
  const { ref: dstRef, port } = splitPort(opts.to);
  const input = requestInput(opts);
  const src = resolvePeer(inv, opts.from);
  const dst = resolvePeer(inv, dstRef);
  const protocol = (opts.protocol ?? 'TCP').toUpperCase() as Protocol;
  const verdict = decide(policies, { src, dst, dstPort: port, protocol }, input);
  const selects = policySelections(policies, inv);
  process.stdout.write(opts.output === 'json' ? JSON.stringify({ ...toJson(verdict, src, dst, port, protocol), policies: selects }, null, 2) + '\n' : toText(verdict) + selectsText(selects));
  return verdict.allowed ? EXIT_OK : EXIT_NO;
}

export function resolvePeer(inv: Inventory, ref: string): PeerRef {
  const ep = findEndpoint(inv, ref);
  if (ep) return { kind: 'endpoint', endpoint: ep, ip: ep.ips[0] ?? null };
  try {
    return resolveIp(inv, ref);
  } catch {
    throw new BadInputError(`unknown endpoint "${ref}" (not in the inventory, not an IP address)`);
  }
}

function splitPort(to: string): { ref: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(to);
  if (!m?.[1] || !m[2]) throw new BadInputError(`--to must be POD:PORT or IP:PORT, got "${to}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new BadInputError(`--to "${to}": port ${m[2]} is not in 1..65535`);
  return { ref: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** RFC 9110: a field name is a token; a value is visible characters, SP, HTAB and obs-text. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** `--header 'Name: value'` or `--header Name` (present, empty) -> [name, value]. */
export function parseHeaderFlag(h: string): [string, string] {
  const at = h.indexOf(':');
  const [name, value] = at < 0 ? [h, ''] : [h.slice(0, at), h.slice(at + 1).trim()];
  if (!TOKEN.test(name)) throw new BadInputError(`--header "${h}": "${name}" is not a header name (RFC 9110 token: letters, digits, !#$%&'*+-.^_\`|~; write "Name: value" or "Name")`);
  if (!FIELD_VALUE.test(value)) throw new BadInputError(`--header "${h}": the value has a character a header field cannot carry (a control character, or one beyond Latin-1)`);
  return [name, value];
}

/** A request from the flags, serialised and parsed like one read off the wire. */
function requestInput(o: ExplainOptions): L7Input | undefined {
  const headers = (o.header ?? []).map(parseHeaderFlag);
  if (o.grpc) {
    const [svc, meth] = o.grpc.split('/');
    if (!svc || !meth) throw new BadInputError(`--grpc must be service/method, got "${o.grpc}"`);
    // the fields a gRPC client sends, judged as a replayed call's are (h2Request)
    const fields: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', `/${svc}/${meth}`]];
    if (o.host) fields.push([':authority', o.host]);
    fields.push(['content-type', 'application/grpc'], ['te', 'trailers']);
    for (const [name, value] of headers) fields.push([name.toLowerCase(), value]);
    const r = h2Request(fields);
    return r.kind === 'ok' ? { kind: 'request', request: r.request } : { kind: 'violation', violation: r.violation };
  }
  if (!o.method && !o.path && !o.header?.length && !o.host) return undefined;
  const lines = [`${o.method ?? 'GET'} ${o.path ?? '/'} HTTP/1.1`];
  if (o.host) lines.push(`Host: ${o.host}`);
  lines.push(...headers.map(([name, value]) => `${name}: ${value}`));
  const head = parseRequestHead(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
  if (head.kind === 'ok') return { kind: 'request', request: head.request };
  if (head.kind === 'violation') return { kind: 'violation', violation: head.violation };
  throw new Error('internal: incomplete request head');
}

function toText(v: Verdict): string {
  const lines = [headline(v), ...v.chain.map((c) => `  - ${c}`)];
  if (v.rules.length) lines.push('rules:', ...v.rules.map((r) => `  ${r.source}  ${r.namespace ? `${r.namespace}/` : ''}${r.policy}  ${r.text}`));
  return lines.join('\n') + '\n';
}

/** `DENIED: POST /x matched no http rule`, `DENIED at L3/L4 (ingress): ...`: the verdict word once. */
function headline(v: Verdict): string {
  const word = v.allowed ? 'allowed' : 'denied';
  const rest = v.summary.startsWith(word) ? v.summary.slice(word.length) : `: ${v.summary}`;
  return word.toUpperCase() + rest;
}

function toJson(v: Verdict, src: PeerRef, dst: PeerRef, port: number, protocol: string) {
  return {
    allowed: v.allowed,
    reason: v.reason,
    summary: v.summary,
    deniedBy: v.deniedBy,
    violation: v.violation,
    inspected: v.inspected,
    flow: { from: describePeer(src), to: describePeer(dst), port, protocol },
    chain: v.chain,
    rules: v.rules,
  };
}

/** Which known endpoints each policy selects: makes a policy on the wrong side visible. */
function policySelections(policies: readonly Policy[], inv: Inventory) {
  return policies.map((p) => ({
    policy: p.namespace ? `${p.namespace}/${p.name}` : p.name,
    selects: inv.endpoints.filter((e) => p.specs.some((s) => selectorMatches(s.endpointSelector, e.labels))).map((e) => `${e.namespace}/${e.name}`),
  }));
}

function selectsText(list: ReturnType<typeof policySelections>): string {
  return 'policies:\n' + list.map((p) => `  ${p.policy} selects ${p.selects.length ? p.selects.join(', ') : 'no known endpoint'}\n`).join('');
}
