// The ring-buffer event, defined once. `generate.ts` turns this into
// bpf-templates/event.generated.h (C struct + enums) and src/loader/event.generated.ts
// (decoder); a test fails when either is stale.
import { STRICT_RULES } from '../../src/verdict/http1-strict.ts';
import { H2_STRICT_RULES, strictRuleText, type AnyStrictRule } from '../../src/verdict/h2-request.ts';

export type FieldType = 'u8' | 'u16' | 's16' | 'u32' | 'u64' | 's32';

export interface EventField {
  readonly name: string;
  readonly type: FieldType;
  /** array length (bytes for u8 arrays) */
  readonly count?: number;
  readonly doc: string;
}

/** Fields in layout order; every field is naturally aligned (checked by the generator). */
export const EVENT_FIELDS: readonly EventField[] = [
  { name: 'ts_ns', type: 'u64', doc: 'bpf_ktime_get_ns()' },
  { name: 'ifindex', type: 'u32', doc: 'skb->ifindex' },
  { name: 'kind', type: 'u8', doc: 'EventKind' },
  { name: 'verdict', type: 'u8', doc: 'Verdict' },
  { name: 'reason', type: 'u16', doc: 'Reason' },
  { name: 'dir', type: 'u8', doc: 'PolicyDir of the flow (whose policy decided)' },
  { name: 'family', type: 'u8', doc: '4 or 6' },
  { name: 'proto', type: 'u8', doc: 'IP protocol number' },
  { name: 'tcp_flags', type: 'u8', doc: 'flags byte of the packet' },
  { name: 'sport', type: 'u16', doc: 'host order' },
  { name: 'dport', type: 'u16', doc: 'host order' },
  { name: 'saddr', type: 'u8', count: 16, doc: 'IPv4 as ::ffff:a.b.c.d (bytes 12-15)' },
  { name: 'daddr', type: 'u8', count: 16, doc: 'IPv4 as ::ffff:a.b.c.d (bytes 12-15)' },
  { name: 'local_id', type: 'u32', doc: 'identity of the policy-selected endpoint' },
  { name: 'peer_id', type: 'u32', doc: 'identity of the peer' },
  { name: 'rule', type: 's32', doc: 'PolicyIR.rules index of the deciding rule, -1 none' },
  { name: 'http_rule', type: 's32', doc: 'PolicyIR.httpRules index that allowed the request, -1 none' },
  { name: 'seq', type: 'u32', doc: 'tcp seq of the packet' },
  { name: 'line_len', type: 'u16', doc: 'bytes valid in line' },
  { name: 'version', type: 'u16', doc: '2: an HTTP/2 stream (line is ":method :path"), else 0' },
  { name: 'line', type: 'u8', count: 64, doc: 'start of the request line when it began in this packet' },
  { name: 'stream', type: 'u32', doc: 'HTTP/2 stream id, else 0' },
  // in the old pad0 slot: the event keeps its 152 bytes, so a reader and a deployed object of
  // either layout agree on every other field (zero in both before RESPONSE events existed)
  { name: 'status', type: 'u16', doc: 'RESPONSE: the status code of the response head, else 0' },
  { name: 'msg', type: 'u16', doc: 'HTTP/1 exchange on the connection, mod 2^16: an HTTP event\'s request index among the allowed ones whose responses are followed, a RESPONSE\'s the index of the request it answers' },
];

export const EVENT_LINE_BYTES = 64;

/** Enums shared by C and TS: [name, value, doc]. */
export const EVENT_KIND = [
  ['CONN', 1, 'connection decision (first packet of a flow)'],
  ['HTTP', 2, 'request verdict (an HTTP/1 request, an HTTP/2 stream)'],
  ['DROP', 3, 'packet dropped by the stream rule or a denied flow'],
  ['ANSWER', 4, "the answer owed to the connection's denied request, sent once the responses before it ended (ANSWERED), or a reset instead (RESET)"],
  ['RESPONSE', 5, 'a final HTTP/1 response head from the server (not 1xx), on flows whose responses are followed (answers on)'],
] as const;

export const VERDICT = [
  ['FORWARDED', 0, 'passed'],
  ['DROPPED', 1, 'TC_ACT_SHOT'],
  ['RESET', 2, 'rewritten into RSTs to both ends'],
  ['ANSWERED', 3, 'denied and answered: 403 and FIN to the client, RST to the server'],
  ['AUDIT', 4, 'denied in audit mode: the packet passed (Hubble verdict AUDIT), reason and rule are the denial\'s'],
] as const;

export const POLICY_DIR = [
  ['INGRESS', 1, 'the local endpoint receives (tc egress on its host veth)'],
  ['EGRESS', 2, 'the local endpoint sends (tc ingress on its host veth)'],
] as const;

/** reasons of the stream and connection decisions; the strict rules' follow them */
const STREAM_REASONS = [
  ['NONE', 0, 'allowed'],
  ['POLICY_DENY', 1, 'a deny entry matched'],
  ['NO_MATCH', 2, 'direction enforced and no allow entry matched'],
  ['L7_NO_RULE', 3, 'request matched no http rule of the connection'],
  ['NO_FLOW_STATE', 4, 'mid-stream packet of an l7 connection without flow state'],
  ['STREAM_HOLE', 5, 'segment after a hole (sender retransmits)'],
  ['FLOW_DENIED', 6, 'packet of a flow already denied or reset'],
  ['UNSUPPORTED', 7, 'fragment or unwalked ipv6 extension header on an l7 flow'],
  // stream integrity (docs/datapath.md, "What the datapath trusts")
  ['SPOOFED_SOURCE', 8, 'packet from an endpoint interface without one of its addresses'],
  ['URGENT_DATA', 9, 'tcp urgent data on an inspected stream'],
  ['INSERTION', 10, 'segment the receiving tcp would discard (no ack flag, ack outside what the server sent)'],
  ['RETRANSMISSION_DIFFERS', 11, 'bytes the server has not acknowledged resent different, or no longer kept to compare'],
  ['SYN_ON_FLOW', 12, 'syn on a live connection (it moves nothing, RFC 5961)'],
  ['BAD_IP_HEADER', 13, 'ipv4 header checksum wrong, or ttl / hop limit too low to be forwarded'],
  ['OUT_OF_WINDOW', 14, 'client bytes before the start of the connection'],
  ['FLOW_CLOSED', 15, 'client data after the connection closed'],
  ['RATE_LIMITED', 16, 'request over its rule\'s rate limit (verdict FORWARDED: a shadow limit let it pass)'],
] as const;

/** the kernel's name of a strict rule: head-too-long -> HEAD_TOO_LONG */
export const strictReasonName = (rule: AnyStrictRule): string => rule.toUpperCase().replace(/-/g, '_');

/** Kernel strict reason -> the oracle's rule name, 1:1: HTTP/1's rules in STRICT_RULES' order,
 * then HTTP/2's (one table; appending keeps every earlier number). */
export const STRICT_REASONS: readonly (readonly [string, AnyStrictRule])[] = ([...Object.keys(STRICT_RULES), ...Object.keys(H2_STRICT_RULES)] as AnyStrictRule[])
  .map((rule) => [strictReasonName(rule), rule] as const);

export const REASON: readonly (readonly [string, number, string])[] = [
  ...STREAM_REASONS,
  ...STRICT_REASONS.map(([name, rule], i) => [name, STREAM_REASONS.length + i, strictRuleText(rule)] as const),
];
