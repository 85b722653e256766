// Hubble's flow filters, as `hubble observe` builds them from its flags and Hubble's server
// applies them (cilium pkg/hubble/filters): they read a flow's jsonpb fields only, so the
// history, the kernel's live events and (later) the agent's GetFlows filter alike.
// Values of one flag are alternatives (OR); different flags must all match (AND); `--pod X`
// is "from X or to X".
import { RE2JS } from 're2js';

export class FilterError extends Error {
  override readonly name = 'FilterError';
}

export interface FilterFlags {
  readonly fromPod?: readonly string[];
  readonly toPod?: readonly string[];
  readonly pod?: readonly string[];
  readonly verdict?: readonly string[];
  readonly type?: readonly string[];
  readonly httpStatus?: readonly string[];
  readonly httpMethod?: readonly string[];
  readonly httpPath?: readonly string[];
}

/** The fields of a jsonpb Flow the filters read; jsonpb leaves out zero values. */
export interface JsonFlow {
  readonly verdict?: string;
  readonly source?: JsonEndpoint;
  readonly destination?: JsonEndpoint;
  readonly event_type?: { readonly type?: number; readonly sub_type?: number };
  readonly l7?: { readonly http?: { readonly code?: number; readonly method?: string; readonly url?: string } };
}

interface JsonEndpoint {
  readonly namespace?: string;
  readonly pod_name?: string;
}

export type FlowPredicate = (flow: JsonFlow) => boolean;

/** flow.proto's Verdict names; allowed/denied are l7bpf's older words for them. */
const VERDICTS = ['VERDICT_UNKNOWN', 'FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'] as const;
const VERDICT_ALIASES: Readonly<Record<string, readonly string[]>> = { allowed: ['FORWARDED', 'AUDIT'], denied: ['DROPPED'] };

/** Cilium's monitor message types (pkg/monitor/api MessageTypeNames), as `--type` names them. */
export const EVENT_TYPES: Readonly<Record<string, number>> = {
  drop: 1, debug: 2, capture: 3, trace: 4, 'policy-verdict': 5, recorder: 6, 'trace-sock': 7, l7: 129, agent: 130,
};
const L7 = 129;
/** trace observation points (TraceObservationPoints), the named sub-types of `--type trace:` */
const TRACE_POINTS: Readonly<Record<string, number>> = {
  'to-endpoint': 0, 'to-proxy': 1, 'to-host': 2, 'to-stack': 3, 'to-overlay': 4, 'from-endpoint': 5, 'from-proxy': 6,
  'from-host': 7, 'from-stack': 8, 'from-overlay': 9, 'from-network': 10, 'to-network': 11, 'from-crypto': 12, 'to-crypto': 13,
};

/** All the flags' filters together; an empty set of flags matches every flow. */
export function buildFilter(flags: FilterFlags): FlowPredicate {
  const parts: FlowPredicate[] = [];
  const add = (values: readonly string[] | undefined, build: (v: readonly string[]) => FlowPredicate) => {
    if (values && values.length) parts.push(build(values));
  };
  const types = flags.type?.length ? flags.type.map(parseEventType) : [];
  for (const [flag, values] of [['http-status', flags.httpStatus], ['http-method', flags.httpMethod], ['http-path', flags.httpPath]] as const) {
    if (values?.length && types.length && !types.some((t) => t.type === L7)) throw new FilterError(`filtering by --${flag} requires --type to include l7 (HTTP fields are on L7 flows only)`);
  }
  add(flags.pod, (v) => either(podFilter(v, (f) => f.source), podFilter(v, (f) => f.destination)));
  add(flags.fromPod, (v) => podFilter(v, (f) => f.source));
  add(flags.toPod, (v) => podFilter(v, (f) => f.destination));
  add(flags.verdict, verdictFilter);
  if (types.length) parts.push(eventTypeFilter(types));
  add(flags.httpStatus, httpStatusFilter);
  add(flags.httpMethod, httpMethodFilter);
  add(flags.httpPath, httpPathFilter);
  return (f) => parts.every((p) => p(f));
}

const either = (a: FlowPredicate, b: FlowPredicate): FlowPredicate => (f) => a(f) || b(f);

/** `[namespace/][pod-name-prefix]`: no namespace means "default" (hubble's k8s.ParseNamespaceName);
 * `kube-system/` is every pod of the namespace. */
export function parsePodName(text: string): { namespace: string; prefix: string } {
  const parts = text.split('/');
  const [first = '', second = ''] = parts;
  if (parts.length > 1) return { namespace: first, prefix: second };
  if (first === '') throw new FilterError('pod filter "": expected [namespace/][<name>] (hint: default/backend, backend, kube-system/)');
  return { namespace: 'default', prefix: first };
}

function podFilter(values: readonly string[], side: (f: JsonFlow) => JsonEndpoint | undefined): FlowPredicate {
  const wanted = values.map(parsePodName);
  return (f) => {
    const ns = side(f)?.namespace ?? '';
    const pod = side(f)?.pod_name ?? '';
    if (ns === '' && pod === '') return false;
    return wanted.some((w) => w.namespace === ns && pod.startsWith(w.prefix));
  };
}

/** Hubble's names (FORWARDED, DROPPED, AUDIT, ...), any case; allowed and denied as aliases. */
export function parseVerdicts(values: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values) {
    const alias = VERDICT_ALIASES[v.toLowerCase()];
    const name = VERDICTS.find((n) => n === v.toUpperCase());
    if (!alias && !name) throw new FilterError(`--verdict ${v}: expected one of ${VERDICTS.slice(1).join(', ')} (or allowed, denied)`);
    for (const n of alias ?? [name!]) out.add(n);
  }
  return out;
}

function verdictFilter(values: readonly string[]): FlowPredicate {
  const wanted = parseVerdicts(values);
  return (f) => wanted.has(f.verdict ?? 'VERDICT_UNKNOWN');
}

export interface EventTypeSpec {
  /** 0 matches any type */
  readonly type: number;
  readonly subType?: number;
}

/** `TYPE[:SUBTYPE]`: a name of EVENT_TYPES or a number; a sub-type by trace point name or number. */
export function parseEventType(text: string): EventTypeSpec {
  const [name = '', sub] = text.split(/:(.*)/s);
  const type = EVENT_TYPES[name] ?? uint(name);
  if (type === null) throw new FilterError(`--type ${text}: unknown type ${JSON.stringify(name)} (expected ${Object.keys(EVENT_TYPES).join(', ')} or a number)`);
  if (sub === undefined) return { type };
  const subType = (type === EVENT_TYPES.trace ? TRACE_POINTS[sub] : undefined) ?? uint(sub);
  if (subType === null) throw new FilterError(`--type ${text}: unknown sub-type ${JSON.stringify(sub)}${type === EVENT_TYPES.trace ? ` (trace points: ${Object.keys(TRACE_POINTS).join(', ')})` : ' (a number)'}`);
  return { type, subType };
}

const uint = (s: string): number | null => (/^\d+$/.test(s) && Number(s) <= 0xffffffff ? Number(s) : null);

function eventTypeFilter(types: readonly EventTypeSpec[]): FlowPredicate {
  return (f) => {
    const ev = f.event_type;
    if (!ev) return false;
    return types.some((t) => (t.type === 0 || (ev.type ?? 0) === t.type) && (t.subType === undefined || (ev.sub_type ?? 0) === t.subType));
  };
}

const STATUS_FULL = /^[1-5][0-9]{2}$/;
const STATUS_PREFIX = /^[1-5][0-9]?\+$/;

/** "403" exactly, or "4+" / "40+" as a prefix of the three digits; only responses have a code. */
export function httpStatusFilter(values: readonly string[]): FlowPredicate {
  for (const v of values) if (!STATUS_FULL.test(v) && !STATUS_PREFIX.test(v)) throw new FilterError(`--http-status ${v}: expected a status code (403) or a prefix (4+, 40+)`);
  const full = values.filter((v) => STATUS_FULL.test(v));
  const prefixes = values.filter((v) => STATUS_PREFIX.test(v)).map((v) => v.slice(0, -1));
  return (f) => {
    const code = f.l7?.http?.code ?? 0;
    if (code === 0) return false;
    const text = String(code).padStart(3, '0');
    return full.includes(text) || prefixes.some((p) => text.startsWith(p));
  };
}

function httpMethodFilter(values: readonly string[]): FlowPredicate {
  const wanted = values.map((v) => v.toUpperCase());
  return (f) => {
    const m = f.l7?.http?.method ?? '';
    return m !== '' && wanted.includes(m.toUpperCase());
  };
}

/** RE2 regexes (Go's regexp), unanchored, against the URL's decoded path (no query). */
function httpPathFilter(values: readonly string[]): FlowPredicate {
  const res = values.map((v) => {
    try {
      return RE2JS.compile(v);
    } catch (e) {
      throw new FilterError(`--http-path ${v}: ${(e as Error).message}`);
    }
  });
  return (f) => {
    const path = urlPath(f.l7?.http?.url ?? '');
    return path !== null && res.some((re) => re.matcher(path).find());
  };
}

/** The path as Go's url.ParseRequestURI gives it: after scheme://authority, before "?",
 * percent-decoded; null for what it refuses (relative references, bad escapes). */
export function urlPath(url: string): string | null {
  if (url === '') return null;
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(url);
  const rest = abs ? url.slice(abs[0].length) : url;
  if (!abs && !rest.startsWith('/')) return null;
  const q = rest.indexOf('?');
  return percentDecode(q < 0 ? rest : rest.slice(0, q));
}

function percentDecode(s: string): string | null {
  if (!s.includes('%')) return s;
  const parts = s.split(/(%[0-9A-Fa-f]{2})/);
  if (parts.some((p, i) => i % 2 === 0 && p.includes('%'))) return null;
  return Buffer.concat(parts.map((p, i) => (i % 2 ? Buffer.from([parseInt(p.slice(1), 16)]) : Buffer.from(p, 'utf8')))).toString('utf8');
}
