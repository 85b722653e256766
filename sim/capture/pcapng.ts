// pcapng: sections (either byte order), interfaces with their own link type and
// timestamp resolution, enhanced/simple/obsolete packet blocks. Unknown blocks are skipped;
// a malformed block is reported and skipped using its length when that length is sane.
import { u16, u32 } from './bytes.ts';
import { MAX_RECORD, type ChunkReader } from './source.ts';
import { plainRecord, ReusedRecord, type RecordCursor, type TsConverter } from './record.ts';
import { CaptureError, type CaptureRecord, type ReadOptions } from './types.ts';

export const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BT_IDB = 1;
const BT_OPB = 2;
const BT_SPB = 3;
const BT_EPB = 6;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

class Iface implements TsConverter {
  constructor(
    readonly linkType: number,
    readonly snaplen: number,
    /** Timestamp units per second. */
    readonly unitsPerSec: bigint,
    readonly offsetSec: bigint,
  ) {}

  toNs(hi: number, lo: number): bigint {
    const units = (BigInt(hi) << 32n) | BigInt(lo);
    const ns = this.unitsPerSec === 1_000_000n ? units * 1000n
      : this.unitsPerSec === 1_000_000_000n ? units
      : (units * 1_000_000_000n) / this.unitsPerSec;
    return ns + this.offsetSec * 1_000_000_000n;
  }
}

interface Section {
  le: boolean;
  ifaces: Iface[];
}

export class PcapngCursor implements RecordCursor {
  private readonly sec: Section = { le: true, ifaces: [] };
  private done = false;
  private readonly rec: ReusedRecord | null;
  private readonly onError: (e: CaptureError) => void;

  constructor(private readonly r: ChunkReader, opts: ReadOptions) {
    this.onError = opts.onError ?? (() => {});
    this.rec = opts.view ? new ReusedRecord() : null;
  }

  next(): CaptureRecord | null {
    while (!this.done) {
      const rec = this.block();
      if (rec) return rec;
    }
    return null;
  }

  /** Reads one block: a packet record, or null (other block, bad block, or the end). */
  private block(): CaptureRecord | null {
    const { r, sec, onError } = this;
    if (!r.ensure(12)) {
      if (r.available > 0) onError(new CaptureError('truncated-record', r.pos, `block header cut after ${r.available} bytes`, 'the capture was cut short'));
      return this.end();
    }
    const offset = r.pos;
    const type = u32(r.buf, r.start, sec.le);
    if (type === PCAPNG_SHB) {
      const magic = u32(r.buf, r.start + 8, true);
      if (magic === BYTE_ORDER_MAGIC) sec.le = true;
      else if (u32(r.buf, r.start + 8, false) === BYTE_ORDER_MAGIC) sec.le = false;
      else {
        onError(new CaptureError('bad-magic', offset, 'section header without byte-order magic', 'the file is corrupt from here on'));
        return this.end();
      }
      sec.ifaces = [];
    }
    const len = u32(r.buf, r.start + 4, sec.le);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
      onError(new CaptureError('bad-block-length', offset, `block length ${len} is not a multiple of 4 in [12, ${MAX_RECORD}]`, 'the file is corrupt from here on; earlier blocks were read'));
      return this.end();
    }
    if (!r.ensure(len)) {
      onError(new CaptureError('truncated-record', offset, `block of ${len} bytes cut after ${r.available}`, 'the capture was cut short'));
      return this.end();
    }
    const b = r.buf;
    const s = r.start;
    if (u32(b, s + len - 4, sec.le) !== len) {
      onError(new CaptureError('bad-block-length', offset, 'trailing block length differs from the leading one', 'block skipped by its leading length'));
    }
    let rec: CaptureRecord | null = null;
    if (type === BT_IDB) addInterface(sec, b, s, len, offset, onError);
    else if (type === BT_EPB || type === BT_OPB || type === BT_SPB) rec = packetBlock(sec, type, b, s, len, offset, this.rec, onError);
    r.skip(len);
    return rec;
  }

  private end(): null {
    this.done = true;
    return null;
  }
}

function addInterface(sec: Section, b: Uint8Array, s: number, len: number, offset: number, onError: (e: CaptureError) => void): void {
  if (len < 20) {
    onError(new CaptureError('bad-block-length', offset, `interface block of ${len} bytes is too short`));
    sec.ifaces.push(new Iface(-1, 0, 1_000_000n, 0n));
    return;
  }
  const linkType = u16(b, s + 8, sec.le);
  const snaplen = u32(b, s + 12, sec.le);
  let unitsPerSec = 1_000_000n;
  let offsetSec = 0n;
  // options: code(2) len(2) value padded to 4, ending at the trailing length
  let i = s + 16;
  const end = s + len - 4;
  while (i + 4 <= end) {
    const code = u16(b, i, sec.le);
    const olen = u16(b, i + 2, sec.le);
    if (code === 0 || i + 4 + olen > end) break;
    if (code === OPT_IF_TSRESOL && olen >= 1) {
      const v = b[i + 4]!;
      unitsPerSec = v & 0x80 ? 1n << BigInt(v & 0x7f) : 10n ** BigInt(v);
    } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
      const hi = u32(b, i + 4 + (sec.le ? 4 : 0), sec.le);
      const lo = u32(b, i + 4 + (sec.le ? 0 : 4), sec.le);
      offsetSec = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
    }
    i += 4 + ((olen + 3) & ~3);
  }
  sec.ifaces.push(new Iface(linkType, snaplen, unitsPerSec, offsetSec));
}

function packetBlock(
  sec: Section, type: number, b: Uint8Array, s: number, len: number, offset: number,
  reuse: ReusedRecord | null, onError: (e: CaptureError) => void,
): CaptureRecord | null {
  const le = sec.le;
  let ifId: number;
  let hi = 0;
  let lo = 0;
  let capLen: number;
  let origLen: number;
  let dataAt: number;
  if (type === BT_SPB) {
    if (len < 16) return bad(onError, offset, 'simple packet block shorter than 16 bytes');
    ifId = 0;
    origLen = u32(b, s + 8, le);
    const snap = sec.ifaces[0]?.snaplen || Infinity;
    capLen = Math.min(origLen, snap, len - 16);
    dataAt = s + 12;
  } else {
    if (len < 32) return bad(onError, offset, 'packet block shorter than 32 bytes');
    ifId = type === BT_EPB ? u32(b, s + 8, le) : u16(b, s + 8, le);
    hi = u32(b, s + 12, le);
    lo = u32(b, s + 16, le);
    capLen = u32(b, s + 20, le);
    origLen = u32(b, s + 24, le);
    dataAt = s + 28;
    if (capLen > len - 32) return bad(onError, offset, `captured length ${capLen} exceeds the block (${len} bytes)`);
  }
  const iface = sec.ifaces[ifId];
  if (!iface) {
    onError(new CaptureError('unknown-interface', offset, `packet names interface ${ifId}, section has ${sec.ifaces.length}`, 'block skipped'));
    return null;
  }
  // a simple packet block has no timestamp
  const conv = type === BT_SPB ? null : iface;
  if (reuse) return reuse.set(iface.linkType, b, dataAt, capLen, origLen, offset, ifId, conv, hi, lo);
  return plainRecord(iface.linkType, b.slice(dataAt, dataAt + capLen), origLen, offset, ifId, conv, hi, lo);
}

function bad(onError: (e: CaptureError) => void, offset: number, detail: string): null {
  onError(new CaptureError('bad-record-length', offset, detail, 'block skipped'));
  return null;
}
