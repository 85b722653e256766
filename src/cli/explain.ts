// `l7bpf explain`: the verdict for one flow (and optionally one request), with the chain of
// reasons and the rules involved.
import { loadPolicies } from '../policy/index.ts';
import { loadInventory, findEndpoint, type Inventory } from '../endpoints/index.ts';
import { selectorMatches } from '../verdict/peers.ts';
import type { Policy } from '../policy/types.ts';
import { decide, resolveIp, describePeer, parseRequestHead, h2Request, type PeerRef, type L7Input, type Protocol, type Verdict } from '../verdict/index.ts';

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
  const src = resolvePeer(inv, opts.from);
  const { ref: dstRef, port } = splitPort(opts.to);
  const dst = resolvePeer(inv, dstRef);
  const protocol = (opts.protocol ?? 'TCP').toUpperCase() as Protocol;
  const input = requestInput(opts);
  const verdict = decide(policies, { src, dst, dstPort: port, protocol }, input);
  const selects = policySelections(policies, inv);
  process.stdout.write(opts.output === 'json' ? JSON.stringify({ ...toJson(verdict, src, dst, port, protocol), policies: selects }, null, 2) + '\n' : toText(verdict) + selectsText(selects));
  return 0;
}

export function resolvePeer(inv: Inventory, ref: string): PeerRef {
  const ep = findEndpoint(inv, ref);
  if (ep) return { kind: 'endpoint', endpoint: ep, ip: ep.ips[0] ?? null };
  try {
    return resolveIp(inv, ref);
  } catch {
    throw new Error(`unknown endpoint "${ref}" (not in the inventory, not an IP address)`);
  }
}

function splitPort(to: string): { ref: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(to);
  if (!m?.[1] || !m[2]) throw new Error(`--to must be POD:PORT or IP:PORT, got "${to}"`);
  return { ref: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

/** A request from the flags, serialised and parsed like one read off the wire. */
function requestInput(o: ExplainOptions): L7Input | undefined {
  if (o.grpc) {
    const [svc, meth] = o.grpc.split('/');
    if (!svc || !meth) throw new Error(`--grpc must be service/method, got "${o.grpc}"`);
    // the fields a gRPC client sends, judged as a replayed call's are (h2Request)
    const fields: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', `/${svc}/${meth}`]];
    if (o.host) fields.push([':authority', o.host]);
    fields.push(['content-type', 'application/grpc'], ['te', 'trailers']);
    for (const h of o.header ?? []) {
      const at = h.indexOf(':');
      if (at <= 0) throw new Error(`--header must be "Name: value", got "${h}"`);
      fields.push([h.slice(0, at).trim().toLowerCase(), h.slice(at + 1).trim()]);
    }
    const r = h2Request(fields);
    return r.kind === 'ok' ? { kind: 'request', request: r.request } : { kind: 'violation', violation: r.violation };
  }
  if (!o.method && !o.path && !o.header?.length && !o.host) return undefined;
  const lines = [`${o.method ?? 'GET'} ${o.path ?? '/'} HTTP/1.1`];
  if (o.host) lines.push(`Host: ${o.host}`);
  lines.push(...(o.header ?? []));
  const head = parseRequestHead(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
  if (head.kind === 'ok') return { kind: 'request', request: head.request };
  if (head.kind === 'violation') return { kind: 'violation', violation: head.violation };
  throw new Error('internal: incomplete request head');
}

function toText(v: Verdict): string {
  const lines = [`${v.allowed ? 'ALLOWED' : 'DENIED'}: ${v.summary}`, ...v.chain.map((c) => `  - ${c}`)];
  if (v.rules.length) lines.push('rules:', ...v.rules.map((r) => `  ${r.source}  ${r.namespace ? `${r.namespace}/` : ''}${r.policy}  ${r.text}`));
  return lines.join('\n') + '\n';
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
