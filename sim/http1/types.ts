// What the HTTP/1 request parser reports to the replay engine: requests, parse errors,
// kernel-model violations.

export type BodyFraming = 'none' | 'content-length' | 'chunked';

/** A request whose header block is complete. */
export interface HttpRequest {
  readonly kind: 'request';
  readonly method: string;
  /** The raw request-target as sent. */
  readonly target: string;
  /** "1.1", "1.0", ... */
  readonly version: string;
  /** Raw [name, value] pairs in order (values as llhttp delivers them: OWS trimmed). */
  readonly headers: readonly (readonly [string, string])[];
  /** Request line through the blank line, exactly as on the wire. */
  readonly head: Uint8Array;
  /** Client stream offsets (bytes after the SYN): head start, head end (exclusive). */
  readonly headStart: number;
  readonly headEnd: number;
  readonly framing: BodyFraming;
  /** CONNECT or an Upgrade request: the direction stops being parsed. */
  readonly upgrade: boolean;
}

/** The request stream broke: the judge should deny (fail closed). */
export interface HttpParseError {
  readonly kind: 'parse-error';
  /** llhttp errno name, e.g. HPE_INVALID_HEADER_TOKEN. */
  readonly code: string;
  readonly reason: string;
  /** Client stream offset of the offending byte. */
  readonly offset: number;
  /** Bytes of the broken head seen so far (capped at the inspection limit). */
  readonly head: Uint8Array;
}

export type ViolationCode = 'head-too-long' | 'data-before-upgrade' | 'partial-head';

/** A rule of the kernel model broken before llhttp would complain. */
export interface HttpViolation {
  readonly kind: 'violation';
  readonly code: ViolationCode;
  readonly detail: string;
  readonly offset: number;
  readonly head: Uint8Array;
}

export type Http1Event = HttpRequest | HttpParseError | HttpViolation;
