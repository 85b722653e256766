// Entry point: detect pcap or pcapng from the first bytes and stream records.
import { PcapCursor, parsePcapHeader } from './pcap.ts';
import { PCAPNG_SHB, PcapngCursor } from './pcapng.ts';
import type { RecordCursor } from './record.ts';
import { ChunkReader, fileSource, memorySource } from './source.ts';
import { CaptureError, type ByteSource, type CaptureRecord, type ReadOptions } from './types.ts';
import { u32 } from './bytes.ts';

/**
 * The records of a capture as an iterator, and as `nextRecord()` for callers that pull in a
 * loop (the replay): no generator frames and no `{value, done}` object per record. The source
 * is opened on the first pull and closed at the end, on an error that ends the read, or when
 * iteration stops early (`return()`).
 */
export class CaptureStream implements IterableIterator<CaptureRecord> {
  private src: ByteSource | null = null;
  private cursor: RecordCursor | null = null;
  private closed = false;

  constructor(private readonly input: string | Uint8Array | ByteSource, private readonly opts: ReadOptions) {}

  nextRecord(): CaptureRecord | null {
    if (this.closed) return null;
    if (!this.cursor) {
      this.cursor = this.open();
      if (!this.cursor) return this.close();
    }
    return this.cursor.next() ?? this.close();
  }

  next(): IteratorResult<CaptureRecord> {
    const r = this.nextRecord();
    return r ? { value: r, done: false } : { value: undefined, done: true };
  }

  return(): IteratorResult<CaptureRecord> {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.iterator](): this {
    return this;
  }

  private open(): RecordCursor | null {
    const input = this.input;
    const src = (this.src = typeof input === 'string' ? fileSource(input) : input instanceof Uint8Array ? memorySource(input) : input);
    const opts = this.opts;
    const r = new ChunkReader(src, opts.chunkSize);
    if (!r.ensure(4)) {
      opts.onError?.(new CaptureError('truncated-header', 0, `capture is only ${r.available} bytes`, 'is this a pcap or pcapng file?'));
      return null;
    }
    if (u32(r.buf, r.start, true) === PCAPNG_SHB) return new PcapngCursor(r, opts);
    if (r.ensure(24) && parsePcapHeader(r.buf, r.start)) return new PcapCursor(r, opts);
    opts.onError?.(new CaptureError('bad-magic', 0, 'neither pcap nor pcapng magic', 'convert the capture with editcap -F pcap'));
    return null;
  }

  private close(): null {
    if (!this.closed) {
      this.closed = true;
      this.src?.close();
    }
    return null;
  }
}

/**
 * Streams the records of a pcap or pcapng capture. `input` is a file path, bytes in memory,
 * or a ByteSource. Malformed parts go to opts.onError (never thrown); I/O errors on opening
 * throw (on the first pull). With `view: true` the record object itself is reused.
 */
export function readCapture(input: string | Uint8Array | ByteSource, opts: ReadOptions = {}): CaptureStream {
  return new CaptureStream(input, opts);
}
