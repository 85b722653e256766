// What the HTTP/2 session reports to the replay engine: a request's field block, decoded, or
// the connection-level rule the client's bytes broke before one was complete.
import type { HeaderField } from './hpack.ts';

/** A client field block opening a stream (HEADERS, CONTINUATIONs), decoded in order. */
export interface Http2Request {
  readonly kind: 'h2-request';
  readonly stream: number;
  readonly fields: readonly HeaderField[];
  /** client stream offset just past the frame that ended the block */
  readonly offset: number;
}

/** Rules of the connection (not of one request's fields), each denied fail-closed. */
export type H2ConnRule = 'h2-preface' | 'h2-frame' | 'h2-continuation' | 'h2-hpack' | 'h2-block-too-long' | 'h2-trailers';

export interface Http2Error {
  readonly kind: 'h2-error';
  readonly rule: H2ConnRule;
  readonly detail: string;
  /** client stream offset of the byte where it was seen */
  readonly offset: number;
  /** the stream concerned (0: the connection) */
  readonly stream: number;
}

export type Http2Event = Http2Request | Http2Error;
