// Entry point: detect pcap or pcapng from the first bytes and stream records.
import { parsePcapHeader, readPcap } from './pcap.ts';
import { PCAPNG_SHB, readPcapng } from './pcapng.ts';
import { ChunkReader, fileSource, memorySource } from './source.ts';
import { CaptureError, type ByteSource, type CaptureRecord, type ReadOptions } from './types.ts';
import { u32 } from './bytes.ts';

/**
 * Streams the records of a pcap or pcapng capture. `input` is a file path, bytes in memory,
 * or a ByteSource. Malformed parts go to opts.onError (never thrown); I/O errors on opening throw.
 */
export function* readCapture(input: string | Uint8Array | ByteSource, opts: ReadOptions = {}): Generator<CaptureRecord> {
  const src = typeof input === 'string' ? fileSource(input) : input instanceof Uint8Array ? memorySource(input) : input;
  try {
    const r = new ChunkReader(src, opts.chunkSize);
    if (!r.ensure(4)) {
      opts.onError?.(new CaptureError('truncated-header', 0, `capture is only ${r.available} bytes`, 'is this a pcap or pcapng file?'));
      return;
    }
    if (u32(r.buf, r.start, true) === PCAPNG_SHB) yield* readPcapng(r, opts);
    else if (r.ensure(24) && parsePcapHeader(r.buf, r.start)) yield* readPcap(r, opts);
    else opts.onError?.(new CaptureError('bad-magic', 0, 'neither pcap nor pcapng magic', 'convert the capture with editcap -F pcap'));
  } finally {
    src.close();
  }
}
