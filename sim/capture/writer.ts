// pcap writer for fixtures: little-endian, microsecond or nanosecond resolution.
import { closeSync, openSync, writeSync } from 'node:fs';

export interface PcapFrame {
  readonly data: Uint8Array;
  /** Nanoseconds since the epoch. */
  readonly ts: bigint;
  readonly origLen?: number;
}

export interface PcapWriteOptions {
  readonly linkType?: number;
  readonly nano?: boolean;
  readonly snaplen?: number;
  readonly bigEndian?: boolean;
}

export function pcapHeader(o: PcapWriteOptions = {}): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  const le = !o.bigEndian;
  v.setUint32(0, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
  v.setUint16(4, 2, le);
  v.setUint16(6, 4, le);
  v.setUint32(16, o.snaplen ?? 262144, le);
  v.setUint32(20, o.linkType ?? 1, le);
  return b;
}

export function pcapRecord(f: PcapFrame, o: PcapWriteOptions = {}): Uint8Array {
  const b = new Uint8Array(16 + f.data.length);
  const v = new DataView(b.buffer);
  const le = !o.bigEndian;
  const sec = f.ts / 1_000_000_000n;
  const ns = f.ts % 1_000_000_000n;
  v.setUint32(0, Number(sec), le);
  v.setUint32(4, Number(o.nano ? ns : ns / 1000n), le);
  v.setUint32(8, f.data.length, le);
  v.setUint32(12, f.origLen ?? f.data.length, le);
  b.set(f.data, 16);
  return b;
}

/** Whole pcap file in memory (fixtures are small). */
export function pcapBytes(frames: Iterable<PcapFrame>, o: PcapWriteOptions = {}): Uint8Array {
  const parts = [pcapHeader(o)];
  for (const f of frames) parts.push(pcapRecord(f, o));
  return Buffer.concat(parts);
}

/** Streams frames to a file without holding them all (used by the benchmark generator). */
export class PcapFileWriter {
  private readonly fd: number;
  private readonly o: PcapWriteOptions;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  bytesWritten = 0;

  constructor(path: string, o: PcapWriteOptions = {}) {
    this.fd = openSync(path, 'w');
    this.o = o;
    this.push(pcapHeader(o));
  }

  write(f: PcapFrame): void {
    this.push(pcapRecord(f, this.o));
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private push(b: Uint8Array): void {
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.bytesWritten += b.length;
    if (this.pendingBytes >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    writeSync(this.fd, Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }
}
