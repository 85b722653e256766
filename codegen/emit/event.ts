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
  { name: 'saddr', type: 'u8', count: 16, doc: 'v4 in the first 4 bytes' },
  { name: 'daddr', type: 'u8', count: 16, doc: 'v4 in the first 4 bytes' },
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
  ['FLOW_DENIED', 6, 'packet of a flow already denied'],
  ['UNSUPPORTED', 7, 'ip options / ipv6 extension headers on an l7 flow'],
  ['TARGET_NOT_ORIGIN', 16, 'request-target not origin-form'],
  ['ASTERISK_NOT_OPTIONS', 17, 'request-target * with a method other than OPTIONS'],
  ['PATH_DOUBLE_SLASH', 18, 'path contains //'],
  ['PATH_DOT_SEGMENT', 19, 'path contains /./ or ends in /.'],
  ['PATH_DOTDOT_SEGMENT', 20, 'path contains /../ or ends in /..'],
  ['PATH_BACKSLASH', 21, 'path contains a backslash'],
  ['PATH_ENCODED_SEPARATOR', 22, 'path contains %2e %2f or %5c (any case)'],
  ['PATH_PCT_UNRESERVED', 23, 'path percent-encodes an unreserved character'],
  ['BAD_PCT_ENCODING', 24, '% not followed by two hex digits'],
  ['BAD_VERSION', 25, 'http version other than HTTP/1.0 or HTTP/1.1'],
  ['BARE_CR', 26, 'CR not followed by LF'],
  ['BARE_LF', 27, 'LF not preceded by CR'],
  ['OBS_FOLD', 28, 'header line starting with SP or HTAB'],
  ['WS_BEFORE_COLON', 29, 'whitespace between header name and colon'],
  ['CL_DUPLICATE', 30, 'more than one Content-Length'],
  ['CL_INVALID', 31, 'Content-Length not a decimal number'],
  ['TE_NOT_CHUNKED', 32, 'Transfer-Encoding other than exactly chunked'],
  ['CL_AND_TE', 33, 'both Content-Length and Transfer-Encoding'],
  ['HOST_DUPLICATE', 34, 'more than one Host'],
  ['REQUEST_LINE_TOO_LONG', 35, 'request line longer than the inspection window'],
  ['HEADER_TOO_LONG', 36, 'request line + header block longer than the inspection window'],
  ['BAD_METHOD', 37, 'method empty or not a token'],
  ['BAD_TARGET_CHAR', 38, 'byte not allowed in a request-target'],
  ['BAD_HEADER_NAME', 39, 'header name empty or not a token'],
  ['BAD_HEADER_VALUE', 40, 'control byte in a header value'],
  ['BAD_CHUNK', 41, 'malformed chunked framing'],
] as const;
