// Collects a message's header fields from llhttp callbacks (a field or value may arrive
// in several pieces across segments).
import type { Llhttp } from './llhttp.ts';
import type { BodyFraming } from '../replay/types.ts';

export class HeadFields {
  url = '';
  headers: [string, string][] = [];
  private field = '';
  private value = '';
  private inValue = false;

  clear(): void {
    this.url = '';
    this.headers = [];
    this.field = '';
    this.value = '';
    this.inValue = false;
  }

  addField(ll: Llhttp, at: number, len: number): void {
    if (this.inValue) this.flush();
    this.field += ll.latin1(at, len);
  }

  addValue(ll: Llhttp, at: number, len: number): void {
    this.inValue = true;
    this.value += ll.latin1(at, len);
  }

  /** Ends the last header pair (call at headers-complete). */
  finish(): void {
    if (this.inValue || this.field) this.flush();
  }

  private flush(): void {
    this.headers.push([this.field, this.value]);
    this.field = '';
    this.value = '';
    this.inValue = false;
  }
}

export function framingOf(headers: readonly (readonly [string, string])[]): BodyFraming {
  let framing: BodyFraming = 'none';
  for (const [n] of headers) {
    if (n.length === 17 && n.toLowerCase() === 'transfer-encoding') return 'chunked';
    if (n.length === 14 && n.toLowerCase() === 'content-length') framing = 'content-length';
  }
  return framing;
}

/** Joins head pieces into one byte array. */
export function joinParts(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.length === total) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p.subarray(0, total - o), o);
    o += Math.min(p.length, total - o);
    if (o >= total) break;
  }
  return out;
}
