// Shared types of the capture readers: one record per captured frame.

/** One captured frame as it sits in the file. */
export interface CaptureRecord {
  /** Capture timestamp in nanoseconds since the Unix epoch. */
  readonly ts: bigint;
  /** LINKTYPE_* value of the interface that captured the frame. */
  readonly linkType: number;
  /** The captured bytes (may be shorter than origLen when a snaplen cut them). */
  readonly data: Uint8Array;
  /** Length of the frame on the wire. */
  readonly origLen: number;
  /** File byte offset of the record (pcap record header / pcapng block). */
  readonly offset: number;
  /** pcapng interface id; 0 for pcap. */
  readonly interfaceId: number;
}

export type CaptureErrorCode =
  | 'bad-magic'
  | 'truncated-header'
  | 'truncated-record'
  | 'bad-record-length'
  | 'bad-block-length'
  | 'unknown-interface'
  | 'io-error';

/** A malformed or truncated part of a capture, naming the file offset. */
export class CaptureError extends Error {
  readonly code: CaptureErrorCode;
  readonly offset: number;
  constructor(code: CaptureErrorCode, offset: number, detail: string, hint?: string) {
    super(`capture offset ${offset}: ${code}: ${detail}${hint ? ` (hint: ${hint})` : ''}`);
    this.name = 'CaptureError';
    this.code = code;
    this.offset = offset;
  }
}

export interface ReadOptions {
  /** Called for each malformed part; the reader recovers where the format allows. */
  readonly onError?: (err: CaptureError) => void;
  /**
   * When true, `data` is a view into the reader's buffer that is valid only until the
   * next record is pulled (no copy: the replay hot path). Default false: data is a copy.
   */
  readonly view?: boolean;
  /** Read chunk size in bytes (default 1 MiB). */
  readonly chunkSize?: number;
}

/** Where the bytes come from: a file descriptor or memory, read at absolute positions. */
export interface ByteSource {
  /** Reads up to `len` bytes at file position `pos` into `buf[off..]`; returns the count (0 = EOF). */
  read(buf: Uint8Array, off: number, len: number, pos: number): number;
  close(): void;
}

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_12: 12,
  RAW_14: 14,
  LOOP: 108,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
