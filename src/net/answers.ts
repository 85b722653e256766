// What the datapath answers a denied request with, defined once: codegen renders it into
// bpf-templates/answers.generated.h and the simulator predicts the same bytes.
// Envoy's answer, as Cilium users know it: 403, `Access denied` and CRLF (15 bytes).

/** How a denial is answered (the deploy option `--deny-answer`, the `l7cfg` map). */
export const ANSWER_MODES = ['auto', 'reset', 'close'] as const;
export type AnswerMode = (typeof ANSWER_MODES)[number];

/** Values of `struct l7_config.answer`: 0 (a map never filled) is the highest stage that works
 * (auto: stage 3 where the program can follow the connection, else stage 2); close is stage 2
 * always, reset stage 1. */
export const ANSWER_MODE_VALUE: Readonly<Record<AnswerMode, number>> = { auto: 0, reset: 1, close: 2 };

/** A packet cut before a denied request (the allowed bytes before it go on) keeps at most
 * `keep` payload bytes and loses at most `cut` (bpf-templates/l7_reset.h, l7_trim). */
export const TRIM = { keep: 1448, cut: 4096 } as const;

/** What the answer says: the rules denied the request (Envoy's 403), or a rate limit did (429). */
export type AnswerKind = 'denied' | 'limited';

function http1Forbidden(close: boolean): Buffer {
  return Buffer.from(
    'HTTP/1.1 403 Forbidden\r\n'
    + 'Content-Length: 15\r\n'
    + 'Content-Type: text/plain\r\n'
    + (close ? 'Connection: close\r\n' : '')
    + '\r\n'
    + 'Access denied\r\n',
    'latin1',
  );
}

/** Retry-After is whole seconds; a limited request's next token is at most one interval away,
 * and an interval is at most a second (requestsPerSecond >= 1): always 1. */
export const RETRY_AFTER_SECONDS = 1;
export const LIMITED_HEADER = 'x-l7bpf-ratelimited';
export const LIMITED_MESSAGE = 'Too Many Requests';

function http1Limited(close: boolean): Buffer {
  return Buffer.from(
    'HTTP/1.1 429 Too Many Requests\r\n'
    + `Retry-After: ${RETRY_AFTER_SECONDS}\r\n`
    + `${LIMITED_HEADER}: true\r\n`
    + 'Content-Length: 19\r\n'
    + 'Content-Type: text/plain\r\n'
    + (close ? 'Connection: close\r\n' : '')
    + '\r\n'
    + `${LIMITED_MESSAGE}\r\n`,
    'latin1',
  );
}

/** HTTP/1.1 stage 2: the answer to a denied request, then FIN (the server's side is reset). */
export const HTTP1_FORBIDDEN = http1Forbidden(true);

/** HTTP/1.1 stage 3: the answer spliced into a connection that goes on (no FIN, no reset). */
export const HTTP1_FORBIDDEN_KEEP = http1Forbidden(false);

/** The same two for a request over its rate limit. */
export const HTTP1_LIMITED = http1Limited(true);
export const HTTP1_LIMITED_KEEP = http1Limited(false);

/** HTTP/1's answer of a kind, stage 2 (`keep` false) or 3. */
export const http1Answer = (kind: AnswerKind, keep: boolean): Buffer =>
  kind === 'limited' ? (keep ? HTTP1_LIMITED_KEEP : HTTP1_LIMITED) : keep ? HTTP1_FORBIDDEN_KEEP : HTTP1_FORBIDDEN;

/** gRPC's answer to a denied call (status 7, PERMISSION_DENIED), in Envoy's words. */
export const GRPC_DENIED_MESSAGE = 'Access denied';
export const GRPC_DENIED_STATUS = '403';

/**
 * The answer's field block: trailers-only, every field a literal the client's decoder does not
 * index (RFC 7541 6.2.2): its dynamic table stays as the server's encoder knows it.
 * `:status 403`, not gRPC's 200: the datapath does not keep a request's content-type, and one
 * answer must serve both kinds of client. A gRPC client reads grpc-status first (and maps 403 to
 * PERMISSION_DENIED where it does not), a plain HTTP/2 client sees the 403 it would get from
 * Envoy (docs/datapath.md, "Answers").
 */
function grpcAnswerBlock(kind: AnswerKind): Buffer {
  const lit = (s: string) => [s.length, ...Buffer.from(s, 'latin1')];
  const literal = (name: string, value: string) => [0x00, ...lit(name), ...lit(value)];
  if (kind === 'limited') {
    return Buffer.from([
      0x08, ...lit(GRPC_LIMITED_STATUS),
      0x0f, 0x10, ...lit('application/grpc'),
      ...literal('grpc-status', '8'), // RESOURCE_EXHAUSTED
      ...literal('grpc-message', LIMITED_MESSAGE),
      ...literal('retry-after', String(RETRY_AFTER_SECONDS)),
      ...literal(LIMITED_HEADER, 'true'),
    ]);
  }
  return Buffer.from([
    0x08, ...lit(GRPC_DENIED_STATUS), // :status (static name 8), without indexing
    0x0f, 0x10, ...lit('application/grpc'), // content-type (static name 31), without indexing
    ...literal('grpc-status', '7'),
    ...literal('grpc-message', GRPC_DENIED_MESSAGE),
  ]);
}

/** :status of the answer to a rate-limited call, as an HTTP/2 client without gRPC sees it. */
export const GRPC_LIMITED_STATUS = '429';

/** The fields the simulator reports for an answered call (its response). */
export function grpcAnswerFields(kind: AnswerKind): [string, string][] {
  return kind === 'limited'
    ? [[':status', GRPC_LIMITED_STATUS], ['content-type', 'application/grpc'], ['grpc-status', '8'], ['grpc-message', LIMITED_MESSAGE], ['retry-after', String(RETRY_AFTER_SECONDS)], [LIMITED_HEADER, 'true']]
    : [[':status', GRPC_DENIED_STATUS], ['content-type', 'application/grpc'], ['grpc-status', '7'], ['grpc-message', GRPC_DENIED_MESSAGE]];
}

/** Offsets of the stream ids the datapath writes into GRPC_DENIED. */
export const GRPC_DENIED_STREAM_AT = 5;

/**
 * HTTP/2 stage 2: HEADERS (END_HEADERS | END_STREAM) on the denied stream, then GOAWAY
 * (NO_ERROR) naming the last stream the server may have acted on, so that the client retries
 * later calls on a new connection; then FIN. `stream` and `last` are 0 in the template.
 */
export function grpcDenied(stream = 0, last = 0, kind: AnswerKind = 'denied'): Buffer {
  const headers = grpcDeniedHeaders(stream, kind);
  const goaway = Buffer.alloc(17);
  goaway.writeUIntBE(8, 0, 3);
  goaway[3] = 0x7; // GOAWAY on stream 0
  goaway.writeUInt32BE(last, 9);
  return Buffer.concat([headers, goaway]); // error code 0: NO_ERROR
}

/** The answer's HEADERS frame (END_HEADERS | END_STREAM) on `stream`. */
function grpcDeniedHeaders(stream: number, kind: AnswerKind): Buffer {
  const block = grpcAnswerBlock(kind);
  const headers = Buffer.alloc(9 + block.length);
  headers.writeUIntBE(block.length, 0, 3);
  headers[3] = 0x1; // HEADERS
  headers[4] = 0x4 | 0x1; // END_HEADERS | END_STREAM
  headers.writeUInt32BE(stream, GRPC_DENIED_STREAM_AT);
  block.copy(headers, 9);
  return headers;
}

/**
 * HTTP/2 stage 3: the answer's HEADERS, then WINDOW_UPDATE on stream 0 giving the client back
 * the connection window its cut DATA took (the server never saw those octets), when there were
 * any (an increment of 0 is a protocol error). The connection goes on: no GOAWAY.
 */
export function grpcDeniedKeep(stream = 0, increment = 0, kind: AnswerKind = 'denied'): Buffer {
  const headers = grpcDeniedHeaders(stream, kind);
  if (increment === 0) return headers;
  const wu = Buffer.alloc(13);
  wu.writeUIntBE(4, 0, 3);
  wu[3] = 0x8; // WINDOW_UPDATE on stream 0
  wu.writeUInt32BE(increment & 0x7fffffff, 9);
  return Buffer.concat([headers, wu]);
}

/** Lengths of the stage-3 answer without and with its WINDOW_UPDATE; where the increment sits. */
export const GRPC_KEEP_HEADERS_LEN = grpcDeniedKeep().length;
export const GRPC_KEEP_WINDOW_AT = GRPC_KEEP_HEADERS_LEN + 9;
export const GRPC_LIMITED_KEEP_HEADERS_LEN = grpcDeniedKeep(0, 0, 'limited').length;
export const GRPC_LIMITED_KEEP_WINDOW_AT = GRPC_LIMITED_KEEP_HEADERS_LEN + 9;

/** Where GOAWAY's last stream id sits in GRPC_DENIED (and in the limited answer). */
export const GRPC_DENIED_LAST_AT = grpcDenied().length - 8;
export const GRPC_LIMITED_LAST_AT = grpcDenied(0, 0, 'limited').length - 8;
