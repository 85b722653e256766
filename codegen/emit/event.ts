// The ring-buffer event, defined once. `gen-event.ts` turns this into
// bpf-templates/event.generated.h (C struct + enums) and src/loader/event.generated.ts
// (decoder); a test fails when either is stale.

export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 's32';

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
  { name: 'pad0', type: 'u16', doc: 'zero' },
  { name: 'line', type: 'u8', count: 64, doc: 'start of the request line when it began in this packet' },
];

export const EVENT_LINE_BYTES = 64;

/** Enums shared by C and TS: [name, value, doc]. */
export const EVENT_KIND = [
  ['CONN', 1, 'connection decision (first packet of a flow)'],
  ['HTTP', 2, 'http/1 request verdict'],
  ['DROP', 3, 'packet dropped by the stream rule or a denied flow'],
] as const;

export const VERDICT = [
  ['FORWARDED', 0, 'passed'],
  ['DROPPED', 1, 'TC_ACT_SHOT'],
  ['RESET', 2, 'rewritten into RSTs to both ends'],
] as const;

export const POLICY_DIR = [
  ['INGRESS', 1, 'the local endpoint receives (tc egress on its host veth)'],
  ['EGRESS', 2, 'the local endpoint sends (tc ingress on its host veth)'],
] as const;

export const REASON = [
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
  // strict request rules: one code per rule of src/verdict/strict.ts (STRICT_REASONS below)
  ['HEAD_TOO_LONG', 16, 'request line and headers longer than the inspection window'],
  ['BARE_CR_LF', 17, 'CR not followed by LF, or LF not preceded by CR'],
  ['MALFORMED', 18, 'not a valid http/1.x request head (or chunked body)'],
  ['UNKNOWN_METHOD', 19, 'method unknown to http parsers'],
  ['NOT_ORIGIN_FORM', 20, 'request-target not in origin-form'],
  ['PATH_NOT_CANONICAL', 21, 'path not canonical'],
  ['BAD_VERSION', 22, 'http version other than HTTP/1.0 or HTTP/1.1'],
  ['OBS_FOLD', 23, 'header line starting with SP or HTAB'],
  ['SPACE_BEFORE_COLON', 24, 'whitespace between header name and colon'],
  ['DUPLICATE_CONTENT_LENGTH', 25, 'more than one Content-Length'],
  ['BAD_CONTENT_LENGTH', 26, 'Content-Length not 1-18 digits'],
  ['BAD_TRANSFER_ENCODING', 27, 'Transfer-Encoding other than exactly chunked, or sent twice'],
  ['CL_AND_TE', 28, 'both Content-Length and Transfer-Encoding'],
  ['MULTIPLE_HOST', 29, 'more than one Host'],
  ['UPGRADE', 30, 'protocol upgrade not followed (not a websocket handshake, not the first request, or client bytes before the answer)'],
] as const;

/** Kernel strict reason -> the oracle's rule name (src/verdict/strict.ts STRICT_RULES), 1:1. */
export const STRICT_REASONS = [
  ['HEAD_TOO_LONG', 'head-too-long'],
  ['BARE_CR_LF', 'bare-cr-lf'],
  ['MALFORMED', 'malformed'],
  ['UNKNOWN_METHOD', 'unknown-method'],
  ['NOT_ORIGIN_FORM', 'not-origin-form'],
  ['PATH_NOT_CANONICAL', 'path-not-canonical'],
  ['BAD_VERSION', 'bad-version'],
  ['OBS_FOLD', 'obs-fold'],
  ['SPACE_BEFORE_COLON', 'space-before-colon'],
  ['DUPLICATE_CONTENT_LENGTH', 'duplicate-content-length'],
  ['BAD_CONTENT_LENGTH', 'bad-content-length'],
  ['BAD_TRANSFER_ENCODING', 'bad-transfer-encoding'],
  ['CL_AND_TE', 'cl-and-te'],
  ['MULTIPLE_HOST', 'multiple-host'],
  ['UPGRADE', 'upgrade'],
] as const satisfies readonly (readonly [(typeof REASON)[number][0], string])[];
