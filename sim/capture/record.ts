// The record a cursor hands out. In view mode one instance is reused for every record (like
// its `data` view, it is valid until the next record) and its bigint timestamp is built only
// when read: the replay needs it for a few packets per request, not for every packet.
import type { CaptureRecord } from './types.ts';

/** Turns a record's two raw timestamp words into nanoseconds since the epoch. */
export interface TsConverter {
  toNs(hi: number, lo: number): bigint;
}

export class ReusedRecord implements CaptureRecord {
  linkType = 0;
  /** The frame is buf[at, at + len): the replay reads it in place, without a view object per record. */
  buf: Uint8Array = new Uint8Array(0);
  at = 0;
  len = 0;
  private view: Uint8Array | null = null;
  origLen = 0;
  offset = 0;
  interfaceId = 0;
  private hi = 0;
  private lo = 0;
  private conv: TsConverter | null = null;
  private cached: bigint | null = null;

  get data(): Uint8Array {
    return (this.view ??= this.buf.subarray(this.at, this.at + this.len));
  }

  get ts(): bigint {
    return (this.cached ??= this.conv ? this.conv.toNs(this.hi, this.lo) : 0n);
  }

  set(linkType: number, buf: Uint8Array, at: number, len: number, origLen: number, offset: number, interfaceId: number, conv: TsConverter | null, hi: number, lo: number): this {
    this.linkType = linkType;
    this.buf = buf;
    this.at = at;
    this.len = len;
    this.view = null;
    this.origLen = origLen;
    this.offset = offset;
    this.interfaceId = interfaceId;
    this.conv = conv;
    this.hi = hi;
    this.lo = lo;
    this.cached = null;
    return this;
  }
}

/** A record as a plain object that the caller may keep (copy mode). */
export function plainRecord(linkType: number, data: Uint8Array, origLen: number, offset: number, interfaceId: number, conv: TsConverter | null, hi: number, lo: number): CaptureRecord {
  return { ts: conv ? conv.toNs(hi, lo) : 0n, linkType, data, origLen, offset, interfaceId };
}

/** Pulls records one at a time; null at the end (or after an error that ends the read). */
export interface RecordCursor {
  next(): CaptureRecord | null;
}
