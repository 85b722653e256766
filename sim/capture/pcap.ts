// Classic libpcap files: both byte orders, microsecond and nanosecond magic.
// A truncated tail or an impossible record length ends the read (pcap has no resync marker).
import { u32 } from './bytes.ts';
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

export function* readPcap(r: ChunkReader, opts: ReadOptions): Generator<CaptureRecord> {
  const onError = opts.onError ?? (() => {});
  if (!r.ensure(24)) {
    onError(new CaptureError('truncated-header', 0, 'pcap global header is shorter than 24 bytes'));
    return;
  }
  const h = parsePcapHeader(r.buf, r.start);
  if (!h) {
    onError(new CaptureError('bad-magic', 0, 'not a pcap file'));
    return;
  }
  r.skip(24);
  const limit = Math.max(h.snaplen, SANE_RECORD);
  const unit = h.nano ? 1 : 1000;
  // consecutive records share their second: convert it to a bigint once
  let lastSec = -1;
  let secNs = 0n;
  for (;;) {
    if (!r.ensure(16)) {
      if (r.available > 0) onError(new CaptureError('truncated-record', r.pos, `record header cut after ${r.available} of 16 bytes`, 'the capture was cut short'));
      return;
    }
    const b = r.buf;
    const s = r.start;
    const offset = r.pos;
    const sec = u32(b, s, h.le);
    const frac = u32(b, s + 4, h.le);
    const incl = u32(b, s + 8, h.le);
    const orig = u32(b, s + 12, h.le);
    if (incl > limit) {
      onError(new CaptureError('bad-record-length', offset, `captured length ${incl} exceeds snaplen ${h.snaplen}`, 'the file is corrupt from here on; earlier records were read'));
      return;
    }
    if (!r.ensure(16 + incl)) {
      onError(new CaptureError('truncated-record', offset, `record needs ${incl} bytes, only ${r.available - 16} left`, 'the capture was cut short'));
      return;
    }
    const at = r.start + 16;
    const data = opts.view ? r.buf.subarray(at, at + incl) : r.buf.slice(at, at + incl);
    r.skip(16 + incl);
    if (sec !== lastSec) {
      lastSec = sec;
      secNs = BigInt(sec) * 1_000_000_000n;
    }
    yield { ts: secNs + BigInt(frac * unit), linkType: h.linkType, data, origLen: orig, offset, interfaceId: 0 };
  }
}
