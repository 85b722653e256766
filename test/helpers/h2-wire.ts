// HTTP/2 client bytes for tests (RFC 9113): the preface, frames, and a field block cut into
// HEADERS and CONTINUATION frames with optional padding and priority.
import { FLAG, FRAME, PREFACE } from '../../sim/http2/frames.ts';
import { HpackEncoder, type Field, type Representation } from './hpack-encode.ts';

export { FLAG, FRAME, PREFACE };

export function frame(type: number, flags: number, stream: number, payload: ArrayLike<number> = []): Uint8Array {
  const n = payload.length;
  const out = new Uint8Array(9 + n);
  out.set([n >>> 16, (n >>> 8) & 0xff, n & 0xff, type, flags, (stream >>> 24) & 0x7f, (stream >>> 16) & 0xff, (stream >>> 8) & 0xff, stream & 0xff]);
  out.set(payload, 9);
  return out;
}

export function settings(entries: readonly (readonly [number, number])[] = []): Uint8Array {
  const p: number[] = [];
  for (const [id, v] of entries) p.push(id >> 8, id & 0xff, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export interface BlockFraming {
  /** END_STREAM on the HEADERS frame */
  readonly endStream?: boolean;
  /** offsets in the block where a CONTINUATION starts */
  readonly cuts?: readonly number[];
  /** PADDED with this many bytes of padding (HEADERS only) */
  readonly padding?: number;
  /** the PRIORITY flag and its five bytes */
  readonly priority?: boolean;
}

/** A field block as a HEADERS frame and CONTINUATIONs. */
export function headers(stream: number, block: Uint8Array, f: BlockFraming = {}): Uint8Array {
  const cuts = [...new Set(f.cuts ?? [])].filter((c) => c > 0 && c < block.length).sort((a, b) => a - b);
  const parts = [0, ...cuts, block.length].slice(0, -1).map((s, i, a) => block.subarray(s, i + 1 < a.length ? a[i + 1] : block.length));
  if (parts.length === 0) parts.push(block);
  const out: Uint8Array[] = [];
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    const eh = last ? FLAG.END_HEADERS : 0;
    if (i > 0) return out.push(frame(FRAME.CONTINUATION, eh, stream, p));
    let flags = eh | (f.endStream ? FLAG.END_STREAM : 0);
    const pre: number[] = [];
    if (f.padding !== undefined) {
      flags |= FLAG.PADDED;
      pre.push(f.padding);
    }
    if (f.priority) {
      flags |= FLAG.PRIORITY;
      pre.push(0, 0, 0, 0, 15);
    }
    out.push(frame(FRAME.HEADERS, flags, stream, [...pre, ...p, ...new Array(f.padding ?? 0).fill(0)]));
  });
  return Buffer.concat(out);
}

/** The fields of a request as a client sends them (pseudo-headers first). */
export function requestFields(method: string, path: string, authority: string, extra: readonly Field[] = []): Field[] {
  return [[':method', method], [':scheme', 'http'], [':authority', authority], [':path', path], ...extra];
}

/** Preface, an empty SETTINGS and one request per field list on streams 1, 3, 5... */
export function h2Connection(requests: readonly (readonly Field[])[], rep?: (req: number, i: number) => Representation): Uint8Array {
  const enc = new HpackEncoder();
  const out: Uint8Array[] = [PREFACE, settings()];
  requests.forEach((fields, k) => out.push(headers(1 + 2 * k, enc.encode(fields, rep ? (i) => rep(k, i) : undefined), { endStream: true })));
  return Buffer.concat(out);
}
