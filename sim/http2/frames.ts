// HTTP/2 framing (RFC 9113 section 4) read from a byte stream in whatever pieces TCP gives:
// a 9-byte frame header may straddle segments, payloads arrive in chunks. FrameReader only
// cuts the stream into frames; FieldBlock strips a HEADERS (or CONTINUATION, PUSH_PROMISE)
// payload down to its field block fragment and joins the fragments of one block.

export const FRAME = {
  DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7,
  WINDOW_UPDATE: 8, CONTINUATION: 9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** SETTINGS identifiers read here. */
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;

/** The client connection preface (RFC 9113 3.4). */
export const PREFACE = Uint8Array.from(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));

export interface FrameHeader {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  /** stream offset of the header's first byte */
  readonly offset: number;
}

/** What a reader of frames does with them; a false return stops the reading. */
export interface FrameSink {
  header(h: FrameHeader): boolean;
  /** Payload bytes data[start, end) of h, the first at stream offset `at`. */
  payload(h: FrameHeader, data: Uint8Array, start: number, end: number, at: number): boolean;
  /** h's payload is complete. */
  end(h: FrameHeader): boolean;
}

export class FrameReader {
  /** stream offset of the next byte fed */
  offset: number;
  private readonly hdr = new Uint8Array(9);
  private hdrLen = 0;
  private cur: FrameHeader | null = null;
  private left = 0;

  constructor(offset = 0) {
    this.offset = offset;
  }

  /** Feeds data[start, end); false when the sink stopped (the reader is then left as it was stopped). */
  feed(data: Uint8Array, start: number, end: number, sink: FrameSink): boolean {
    let i = start;
    while (i < end) {
      if (!this.cur) {
        const n = Math.min(9 - this.hdrLen, end - i);
        this.hdr.set(data.subarray(i, i + n), this.hdrLen);
        this.hdrLen += n;
        i += n;
        this.offset += n;
        if (this.hdrLen < 9) return true;
        this.hdrLen = 0;
        const h = parseHeader(this.hdr, this.offset - 9);
        this.cur = h;
        this.left = h.length;
        if (!sink.header(h)) return false;
        if (this.left === 0 && !this.finish(sink)) return false;
        continue;
      }
      const h = this.cur;
      const n = Math.min(this.left, end - i);
      const at = this.offset;
      this.left -= n;
      this.offset += n;
      if (!sink.payload(h, data, i, i + n, at)) return false;
      i += n;
      if (this.left === 0 && !this.finish(sink)) return false;
    }
    return true;
  }

  private finish(sink: FrameSink): boolean {
    const h = this.cur!;
    this.cur = null;
    return sink.end(h);
  }
}

function parseHeader(b: Uint8Array, offset: number): FrameHeader {
  return {
    length: (b[0]! << 16) | (b[1]! << 8) | b[2]!,
    type: b[3]!,
    flags: b[4]!,
    // the reserved bit is ignored on receipt (RFC 9113 4.1)
    stream: ((b[5]! & 0x7f) << 24 | (b[6]! << 16) | (b[7]! << 8) | b[8]!) >>> 0,
    offset,
  };
}

/** A framing problem, at a stream offset. */
export interface FrameProblem {
  readonly rule: 'h2-frame' | 'h2-block-too-long';
  readonly detail: string;
  readonly offset: number;
}

/**
 * The field block of a HEADERS frame and its CONTINUATIONs: the pad length byte, the
 * priority fields and PUSH_PROMISE's promised stream id are stripped, padding is skipped,
 * fragments are joined up to `limit` bytes.
 */
export class FieldBlock {
  /** stream of the open block; 0: none open */
  stream = 0;
  /** the opening frame's flags (END_STREAM) and type */
  flags = 0;
  type = 0;
  private parts: Uint8Array[] = [];
  private len = 0;
  // the current frame
  private needPad = false;
  private head = 0;
  private frag = 0;
  private pad = 0;
  private frameLen = 0;

  constructor(private readonly limit: number) {}

  /** A HEADERS or PUSH_PROMISE frame opens a block. */
  open(h: FrameHeader): FrameProblem | null {
    this.stream = h.stream;
    this.flags = h.flags;
    this.type = h.type;
    this.parts = [];
    this.len = 0;
    const prio = h.type === FRAME.HEADERS && h.flags & FLAG.PRIORITY ? 5 : 0;
    return this.frame(h, h.flags & FLAG.PADDED ? 1 : 0, prio + (h.type === FRAME.PUSH_PROMISE ? 4 : 0));
  }

  /** A CONTINUATION of the open block. */
  more(h: FrameHeader): FrameProblem | null {
    return this.frame(h, 0, 0);
  }

  private frame(h: FrameHeader, padByte: number, head: number): FrameProblem | null {
    this.needPad = padByte === 1;
    this.head = head;
    this.pad = 0;
    this.frameLen = h.length;
    this.frag = h.length - padByte - head;
    if (this.frag < 0) return { rule: 'h2-frame', detail: `frame of ${h.length} bytes too short for its flags`, offset: h.offset };
    return null;
  }

  payload(data: Uint8Array, start: number, end: number, at: number): FrameProblem | null {
    let i = start;
    if (this.needPad && i < end) {
      this.needPad = false;
      this.pad = data[i]!;
      if (this.pad > this.frag) return { rule: 'h2-frame', detail: `padding of ${this.pad} bytes in a frame of ${this.frameLen}`, offset: at };
      this.frag -= this.pad;
      i++;
    }
    const skip = Math.min(this.head, end - i);
    this.head -= skip;
    i += skip;
    const n = Math.min(this.frag, end - i);
    if (n > 0) {
      if (this.len + n > this.limit) {
        return { rule: 'h2-block-too-long', detail: `field block longer than ${this.limit} bytes`, offset: at + (i - start) + (this.limit - this.len) };
      }
      this.parts.push(data.slice(i, i + n));
      this.len += n;
      this.frag -= n;
    }
    return null;
  }

  /** The block so far, joined; the block is closed. */
  take(): Uint8Array {
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    this.parts = [];
    this.len = 0;
    this.stream = 0;
    return out;
  }
}

/** SETTINGS_HEADER_TABLE_SIZE values of a SETTINGS payload (six-byte entries), in order. */
export function headerTableSizes(payload: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 6 <= payload.length; i += 6) {
    const id = (payload[i]! << 8) | payload[i + 1]!;
    if (id === SETTINGS_HEADER_TABLE_SIZE) out.push(((payload[i + 2]! << 24) | (payload[i + 3]! << 16) | (payload[i + 4]! << 8) | payload[i + 5]!) >>> 0);
  }
  return out;
}
