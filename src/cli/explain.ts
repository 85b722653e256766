// `l7bpf explain`: the verdict for one flow (and optionally one request), with the chain of
// reasons and the rules involved.
import { loadPolicies } from '../policy/index.ts';
import { loadInventory, type Inventory } from '../endpoints/index.ts';
import { selectorMatches } from '../verdict/peers.ts';
import type { Policy } from '../policy/types.ts';
import { resolvePeer, resolveTo, type ServiceTarget } from './explain-target.ts';
import { decide, describePeer, reasonText, parseRequestHead, h2Request, type PeerRef, type L7Input, type Protocol, type Verdict } from '../verdict/index.ts';
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
  /** the node judged from (its addresses are `host`); default: the inventory's only node */
  readonly nodeName?: string;
  /** judge as a deployment in audit mode (`deploy --audit`) */
  readonly audit?: boolean;
}

export function explainCommand(opts: ExplainOptions): number {
  const policies = loadPolicies(opts.policy);
  const inv = loadInventory(opts.endpoints, opts.nodeName === undefined ? {} : { localNode: opts.nodeName });
  const protocol = (opts.protocol ?? 'TCP').toUpperCase() as Protocol;
  const { service, targets } = resolveTo(inv, opts.to, protocol);
  const input = requestInput(opts);
  const src = resolvePeer(inv, opts.from);
  const verdicts = targets.map((t) => ({ ...t, verdict: decide(policies, { src, dst: t.dst, dstPort: t.port, protocol }, input, { audit: opts.audit === true }) }));
  const selects = policySelections(policies, inv);
  const allowed = verdicts.every((v) => v.verdict.allowed);
  if (service === null) {
    const [{ verdict, dst, port }] = verdicts as [(typeof verdicts)[number]];
    process.stdout.write(opts.output === 'json' ? JSON.stringify({ ...toJson(verdict, src, dst, port, protocol), policies: selects }, null, 2) + '\n' : toText(verdict) + selectsText(selects));
  } else if (opts.output === 'json') {
    const backends = verdicts.map((v) => ({ backend: describePeer(v.dst), ...toJson(v.verdict, src, v.dst, v.port, protocol) }));
    process.stdout.write(JSON.stringify({ allowed, service: serviceJson(service), backends, policies: selects }, null, 2) + '\n');
  } else {
    process.stdout.write(serviceText(service, verdicts) + selectsText(selects));
  }
  return allowed ? EXIT_OK : EXIT_NO;
}

export { resolvePeer };

function serviceJson(s: ServiceTarget) {
  return { name: s.service.name, namespace: s.service.namespace, port: s.port.port, protocol: s.port.protocol, targetPort: s.port.targetPort };
}

/** One line for the Service as a whole (the verdict word first, as for a pod), then each backend's verdict. */
function serviceText(s: ServiceTarget, verdicts: readonly { dst: PeerRef; port: number; verdict: Verdict }[]): string {
  const name = `service ${s.service.namespace}/${s.service.name} port ${s.port.port}/${s.port.protocol}`;
  const denied = verdicts.filter((v) => !v.verdict.allowed).length;
  const audited = verdicts.filter((v) => v.verdict.audit).length;
  const head = denied > 0 ? `DENIED: ${denied} of ${verdicts.length} backends of ${name} deny it`
    : audited > 0 ? `AUDIT: ${audited} of ${verdicts.length} backends of ${name} would deny it (audit mode: it passes)`
      : `ALLOWED: every backend of ${name} (${verdicts.length}) allows it`;
  const blocks = verdicts.map((v) => `backend ${describePeer(v.dst)}:${v.port} (targetPort ${s.port.targetPort}):\n` + toText(v.verdict).trimEnd().replace(/^/gm, '  '));
  return [head, ...blocks].join('\n') + '\n';
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
  const lines = [headline(v), ...connectionAudit(v), ...v.chain.map((c) => `  - ${c}`)];
  if (v.rules.length) lines.push('rules:', ...v.rules.map((r) => `  ${r.source}  ${r.namespace ? `${r.namespace}/` : ''}${r.policy}  ${r.text}`));
  return lines.join('\n') + '\n';
}

/** `DENIED: POST /x matched no http rule`, `DENIED at L3/L4 (ingress): ...`: the verdict word once;
 * `AUDIT (would be denied: ...)` for a denial audit mode lets pass. */
function headline(v: Verdict): string {
  if (v.audit) return `AUDIT (would be ${v.summary}): passes, reported with Hubble verdict AUDIT`;
  const word = v.allowed ? 'allowed' : 'denied';
  const rest = v.summary.startsWith(word) ? v.summary.slice(word.length) : `: ${v.summary}`;
  return word.toUpperCase() + rest;
}

/** A request judged on a connection one direction would deny at L3/L4 in audit mode: the
 * connection's AUDIT (the request's verdict is the other direction's). */
function connectionAudit(v: Verdict): string[] {
  if (v.audit) return [];
  return v.directions.filter((d) => d.audit && !d.allowed).map((d) => `AUDIT (the connection would be denied at L3/L4 (${d.direction}): ${reasonText(d.reason)}): passes, reported with Hubble verdict AUDIT`);
}

function toJson(v: Verdict, src: PeerRef, dst: PeerRef, port: number, protocol: string) {
  return {
    allowed: v.allowed,
    audit: v.audit,
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
