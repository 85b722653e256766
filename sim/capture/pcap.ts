// Classic libpcap files: both byte orders, microsecond and nanosecond magic.
// A truncated tail or an impossible record length ends the read (pcap has no resync marker).
import { u32 } from './bytes.ts';
import { plainRecord, ReusedRecord, type RecordCursor, type TsConverter } from './record.ts';
import type { ChunkReader } from './source.ts';
import { CaptureError, type CaptureRecord, type ReadOptions } from './types.ts';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;

interface PcapHeader {
  readonly le: boolean;
  readonly nano: boolean;
  readonly snaplen: number;
  readonly linkType: number;
}

/** Recognises the global header; null when the first 4 bytes are no pcap magic. */
export function parsePcapHeader(b: Uint8Array, i: number): PcapHeader | null {
  const be = u32(b, i, false);
  const le = u32(b, i, true);
  let little: boolean;
  let nano: boolean;
  if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) [little, nano] = [true, le === PCAP_MAGIC_NS];
  else if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) [little, nano] = [false, be === PCAP_MAGIC_NS];
  else return null;
  // the upper bits of the link-type field carry FCS information (pcap-linktype(7))
  return { le: little, nano, snaplen: u32(b, i + 16, little), linkType: u32(b, i + 20, little) & 0x0fffffff };
}

/** Records longer than this and than the snaplen cannot be real: the file is corrupt there. */
const SANE_RECORD = 262144;

/** (seconds, fraction) -> ns; consecutive records share their second: one bigint per second. */
class PcapTs implements TsConverter {
  private lastSec = -1;
  private secNs = 0n;
  constructor(private readonly unit: number) {}

  toNs(sec: number, frac: number): bigint {
    if (sec !== this.lastSec) {
      this.lastSec = sec;
      this.secNs = BigInt(sec) * 1_000_000_000n;
    }
    return this.secNs + BigInt(frac * this.unit);
  }
}

export class PcapCursor implements RecordCursor {
  private h: PcapHeader | null = null;
  private done = false;
  private limit = 0;
  private readonly conv: PcapTs;
  private readonly rec: ReusedRecord | null;
  private readonly onError: (e: CaptureError) => void;

  constructor(private readonly r: ChunkReader, opts: ReadOptions) {
    this.onError = opts.onError ?? (() => {});
    this.rec = opts.view ? new ReusedRecord() : null;
    if (!r.ensure(24)) {
      this.onError(new CaptureError('truncated-header', 0, 'pcap global header is shorter than 24 bytes'));
      this.done = true;
    } else if (!(this.h = parsePcapHeader(r.buf, r.start))) {
      this.onError(new CaptureError('bad-magic', 0, 'not a pcap file'));
      this.done = true;
    } else {
      r.skip(24);
      this.limit = Math.max(this.h.snaplen, SANE_RECORD);
    }
    this.conv = new PcapTs(this.h?.nano ? 1 : 1000);
  }

  next(): CaptureRecord | null {
    if (this.done) return null;
    const r = this.r;
    const h = this.h!;
    if (!r.ensure(16)) {
      if (r.available > 0) this.onError(new CaptureError('truncated-record', r.pos, `record header cut after ${r.available} of 16 bytes`, 'the capture was cut short'));
      return this.end();
    }
    const b = r.buf;
    const s = r.start;
    const offset = r.pos;
    const incl = u32(b, s + 8, h.le);
    if (incl > this.limit) {
      this.onError(new CaptureError('bad-record-length', offset, `captured length ${incl} exceeds snaplen ${h.snaplen}`, 'the file is corrupt from here on; earlier records were read'));
      return this.end();
    }
    if (!r.ensure(16 + incl)) {
      this.onError(new CaptureError('truncated-record', offset, `record needs ${incl} bytes, only ${r.available - 16} left`, 'the capture was cut short'));
      return this.end();
    }
    // ensure() may have moved the window
    const c = r.buf;
    const at = r.start + 16;
    const sec = u32(c, r.start, h.le);
    const frac = u32(c, r.start + 4, h.le);
    const orig = u32(c, r.start + 12, h.le);
    r.skip(16 + incl);
    if (this.rec) return this.rec.set(h.linkType, c, at, incl, orig, offset, 0, this.conv, sec, frac);
    return plainRecord(h.linkType, c.slice(at, at + incl), orig, offset, 0, this.conv, sec, frac);
  }

  private end(): null {
    this.done = true;
    return null;
  }
}
