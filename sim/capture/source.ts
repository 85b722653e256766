// Byte sources and a sliding chunk buffer: captures are read in fixed-size chunks,
// never loaded whole.
import { closeSync, openSync, readSync } from 'node:fs';
import type { ByteSource } from './types.ts';

export function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  return {
    read: (buf, off, len, pos) => readSync(fd, buf, off, len, pos),
    close: () => closeSync(fd),
  };
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    read(buf, off, len, pos) {
      if (pos >= bytes.length) return 0;
      const n = Math.min(len, bytes.length - pos);
      buf.set(bytes.subarray(pos, pos + n), off);
      return n;
    },
    close() {},
  };
}

/** Largest single record we are willing to buffer (a corrupt length beyond this is an error). */
export const MAX_RECORD = 64 * 1024 * 1024;

/**
 * A window over the source: `ensure(n)` makes n bytes from the current position contiguous
 * in `buf` at `start`. Only the window is in memory.
 */
export class ChunkReader {
  buf: Uint8Array;
  /** Index in buf of the current position. */
  start = 0;
  /** Index in buf after the last valid byte. */
  end = 0;
  /** File position of buf[start]. */
  pos = 0;
  private eof = false;
  private readonly src: ByteSource;

  constructor(src: ByteSource, chunkSize = 1 << 20) {
    this.src = src;
    this.buf = new Uint8Array(chunkSize);
  }

  get available(): number {
    return this.end - this.start;
  }

  /** True when n bytes are available at the current position (reads more if needed). */
  ensure(n: number): boolean {
    if (this.end - this.start >= n) return true;
    if (this.eof) return false;
    if (n > this.buf.length) this.grow(n);
    if (this.start + n > this.buf.length) this.compact();
    while (this.end - this.start < n && !this.eof) {
      const got = this.src.read(this.buf, this.end, this.buf.length - this.end, this.pos + (this.end - this.start));
      if (got <= 0) this.eof = true;
      else this.end += got;
    }
    return this.end - this.start >= n;
  }

  skip(n: number): void {
    const inBuf = Math.min(n, this.end - this.start);
    this.start += inBuf;
    this.pos += n;
    if (n > inBuf) {
      // skipping past the window: drop it and continue reading at the new position
      this.start = this.end = 0;
    }
  }

  private compact(): void {
    this.buf.copyWithin(0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
  }

  private grow(n: number): void {
    let size = this.buf.length;
    while (size < n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.start, this.end));
    this.end -= this.start;
    this.start = 0;
    this.buf = next;
  }
}
