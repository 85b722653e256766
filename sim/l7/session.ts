// What an application protocol adds to an inspected connection of the replay, so that HTTP/1
// (sim/http1/session.ts) and the next protocol sit side by side: the engine follows TCP and
// the client stream, a session parses the bytes in order and hands each request to the
// host to judge. Generic over the request event E and the host's record R.
import type { PacketView } from '../decode/view.ts';
import type { ClientStream } from '../stream/client-stream.ts';

import type { AnswerKind } from '../../src/net/answers.ts';

export interface SessionHost<E, R> {
  /** Judges one request (counting it); the record carries the verdict. */
  judge(ev: E): R;
  allowed(r: R): boolean;
  /** A denied record the rules denied, the request well-formed (RequestVerdict.ruleDenied). */
  ruleDenied?(r: R): boolean;
  /** A record that gets no response (denied, unanswered, not a request). */
  emit(r: R): void;
  /** A record answered by a response. */
  answered(r: R, a: Answer): void;
  /** The capture time of the packet being processed. */
  now(): bigint;
}

export interface Answer {
  readonly status: number;
  /** the response's fields, where the protocol gives them (HTTP/2: head and trailers) */
  readonly headers?: readonly (readonly [string, string])[];
  /** when the response head was seen (default: now) */
  readonly ts?: bigint;
}

/** 'open': parsing; 'opaque': an upgraded tunnel, passed unjudged; 'dead': passed unparsed. */
export type SessionState = 'open' | 'opaque' | 'dead';

export interface L7Session {
  readonly state: SessionState;
  /** Client bytes in stream order; requests go to the host until one is denied. */
  client(data: Uint8Array, start: number, end: number): void;
  /** Results of the last client() call: requests judged, whether one was denied, and the
   * stream offset where the content-length body of the last request ends (-1: none). */
  readonly decided: number;
  readonly denied: boolean;
  readonly bodyEnd: number;
  /** A server packet with payload, before the stream takes it: true when it accepts an
   * upgrade to something no session parses (the connection is opaque from here). */
  serverSegment(v: PacketView, stream: ClientStream | null): boolean;
  /** Set by serverSegment when the server accepted an h2c upgrade: HTTP/2 from here. */
  readonly switchToH2?: boolean;
  /** Server bytes in stream order. */
  server(data: Uint8Array, start: number, end: number): void;
  /** A hole in the server's bytes: responses are no longer followed. */
  serverHole(): void;
  /** Unanswered requests are emitted and parsers freed. */
  release(): void;
  /** HTTP/2 (the datapath's HTTP/1 answers and response framer do not apply). */
  readonly http2?: boolean;
  /** After `denied`: whether the datapath may answer the denied request instead of resetting,
   * and the stream offset where it starts (bpf-templates/l7_http1_resp.h, l7_deny_how). */
  readonly denial?: Denial | null;
  /** The HEAD-ness of each allowed request of the last client() call, in order (the response framer's). */
  readonly allowedHeads?: readonly boolean[];
  /** The datapath answered the denied request (HTTP/1: 403; HTTP/2: grpc-status 7): its record is emitted with that answer. */
  answerDenied?(kind?: AnswerKind): void;
  /** After `denied`: where the denied request ends when stage 3 could cut it, else null (HTTP/2:
   * where its frames start, and the DATA octets the answer's WINDOW_UPDATE gives back). */
  readonly keepable?: { readonly end: number; readonly start?: number; readonly window?: number } | null;
  /** Stage 3 cut the denied request: parsing goes on after it, at stream offset `at`. */
  resume?(at: number): void;
}

export interface Denial {
  /** denied in a request head (not a body, not after a closing request, not while an upgrade waits) */
  readonly answerable: boolean;
  /** stream offset of the request's first byte past any CR and LF before it (the kernel's req_seq); HTTP/2: 0 */
  readonly start: number;
  /** HTTP/2: the denied stream */
  readonly stream?: number;
}
