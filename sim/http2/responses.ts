// The server's side of an HTTP/2 connection, followed for what it tells about the client's
// streams: response field blocks (HEADERS, CONTINUATION; PUSH_PROMISE only for its effect on
// the table) and stream ends (END_STREAM, RST_STREAM). Anything
// it cannot read ends the following of responses, never the judging of requests.
import { FieldBlock, FLAG, FRAME, FrameReader, type FrameHeader, type FrameSink } from './frames.ts';
import { HpackDecoder, HpackError, type HeaderField } from './hpack.ts';

export interface ResponseOwner {
  /** a response field block of a stream (head, or trailers) */
  responseBlock(stream: number, fields: readonly HeaderField[]): void;
  /** the stream ended from the server's side (END_STREAM or RST_STREAM) */
  closeStream(stream: number): void;
}

/** Response blocks are only followed, not inspected: a generous bound. */
const RESPONSE_BLOCK_LIMIT = 1 << 20;

export class Responses implements FrameSink {
  private readonly frames = new FrameReader();
  private readonly block = new FieldBlock(RESPONSE_BLOCK_LIMIT);
  /** mirrors the server's encoder */
  private readonly hpack = new HpackDecoder();
  /** octets of "\r\n\r\n" matched at the end of an HTTP/1 head still to skip; -1: none */
  private head: number;

  constructor(private readonly owner: ResponseOwner, afterHttp1Head = false) {
    this.head = afterHttp1Head ? 0 : -1;
  }

  /** false: the server's bytes can no longer be followed */
  feed(data: Uint8Array, start: number, end: number): boolean {
    let i = start;
    // an h2c upgrade: the 101 head ends with CRLF CRLF, HTTP/2 frames follow
    while (this.head >= 0 && i < end) {
      const want = this.head % 2 === 0 ? 0x0d : 0x0a;
      this.head = data[i] === want ? this.head + 1 : data[i] === 0x0d ? 1 : 0;
      i++;
      if (this.head === 4) this.head = -1;
    }
    return i >= end || this.frames.feed(data, i, end, this);
  }

  /** the client's SETTINGS_HEADER_TABLE_SIZE: the largest seen bounds the server's size updates */
  allowTableSize(n: number): void {
    this.hpack.setSettingsMax(Math.max(n, this.hpack.settingsMax));
  }

  header(h: FrameHeader): boolean {
    if (this.block.stream !== 0) return h.type === FRAME.CONTINUATION && h.stream === this.block.stream && this.block.more(h) === null;
    if (h.type === FRAME.HEADERS || h.type === FRAME.PUSH_PROMISE) return h.stream !== 0 && this.block.open(h) === null;
    if (h.type === FRAME.CONTINUATION) return false;
    return true;
  }

  payload(h: FrameHeader, data: Uint8Array, start: number, end: number, at: number): boolean {
    if (h.type === FRAME.HEADERS || h.type === FRAME.CONTINUATION || h.type === FRAME.PUSH_PROMISE) return this.block.payload(data, start, end, at) === null;
    return true;
  }

  end(h: FrameHeader): boolean {
    switch (h.type) {
      case FRAME.HEADERS: case FRAME.CONTINUATION: case FRAME.PUSH_PROMISE:
        return h.flags & FLAG.END_HEADERS ? this.blockEnd() : true;
      case FRAME.DATA:
        if (h.flags & FLAG.END_STREAM) this.owner.closeStream(h.stream);
        return true;
      case FRAME.RST_STREAM:
        this.owner.closeStream(h.stream);
        return true;
      default: return true;
    }
  }

  private blockEnd(): boolean {
    const { stream, type, flags } = this.block;
    let fields: HeaderField[];
    try {
      fields = this.hpack.decode(this.block.take());
    } catch (e) {
      if (e instanceof HpackError) return false;
      throw e;
    }
    if (type !== FRAME.HEADERS) return true;
    this.owner.responseBlock(stream, fields);
    if (flags & FLAG.END_STREAM) this.owner.closeStream(stream);
    return true;
  }
}
