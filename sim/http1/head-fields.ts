// A request's URL and header pieces, recovered from its raw head only when someone reads them.
// The streaming parser runs llhttp without piece callbacks (one WASM->JS call per URL, name
// and value piece cost more than the rest of the request); the oracle judge reparses the raw
// head itself and never reads these, so in `l7bpf replay` they are never built. The decode
// reruns llhttp (the same strict parser, so the same pieces) over the head bytes.
import { ERR_PAUSED, TYPE_REQUEST, llhttp, type Llhttp, type LlhttpHandler } from './llhttp.ts';
import type { BodyFraming } from './types.ts';

export interface HeadFields {
  readonly target: string;
  readonly headers: [string, string][];
}

/** Collects llhttp's pieces of one head; a name piece after a value piece starts a new pair. */
class FieldCollector implements LlhttpHandler {
  url = '';
  headers: [string, string][] = [];
  private field = '';
  private value = '';
  private inValue = false;
  constructor(private readonly ll: Llhttp) {}

  finish(): HeadFields {
    if (this.inValue || this.field) this.headers.push([this.field, this.value]);
    return { target: this.url, headers: this.headers };
  }

  onUrl(at: number, len: number): number {
    this.url += this.ll.latin1(at, len);
    return 0;
  }
  onHeaderField(at: number, len: number): number {
    if (this.inValue) {
      this.headers.push([this.field, this.value]);
      this.field = this.value = '';
      this.inValue = false;
    }
    this.field += this.ll.latin1(at, len);
    return 0;
  }
  onHeaderValue(at: number, len: number): number {
    this.inValue = true;
    this.value += this.ll.latin1(at, len);
    return 0;
  }
  // the head ends here: stop before any body bytes
  onHeadersComplete(): number { return ERR_PAUSED; }
  onMessageBegin(): number { return 0; }
  onStatus(): number { return 0; }
  onBody(): number { return 0; }
  onMessageComplete(): number { return 0; }
}

let decoder = 0;
let input = 0;
let inputSize = 0;

/**
 * Target and [name, value] pairs of a complete request head that llhttp accepted. Leading empty
 * lines (part of the head, skipped by llhttp) are skipped here too, so a fresh parser sees
 * exactly the bytes the streaming one gave pieces for.
 */
export function decodeHead(head: Uint8Array): HeadFields {
  const ll = llhttp();
  let from = 0;
  while (from < head.length && (head[from] === 13 || head[from] === 10)) from++;
  const n = head.length - from;
  // its own parser (every callback) and input buffer: a decode may run while another parser's
  // input is loaded (a judge reading the target between two pipelined requests)
  if (!decoder) decoder = ll.alloc(TYPE_REQUEST);
  if (n > inputSize) {
    if (input) ll.x.free(input);
    inputSize = Math.max(4096, n);
    input = ll.x.malloc(inputSize);
  }
  ll.refresh();
  ll.mem.set(head.subarray(from), input);
  const c = new FieldCollector(ll);
  ll.execute(decoder, c, input, n);
  ll.x.llhttp_reset(decoder);
  return c.finish();
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

const SLAB = 65536;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;

/**
 * An owned copy of data[start, end). Small copies are carved out of a shared 64 KiB slab: a
 * typed-array `slice` allocates a backing store per call, which cost more than parsing the head.
 * A slab stays alive while any head cut from it does (requests wait for their response only).
 */
export function copyBytes(data: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > 4096) return data.slice(start, end);
  if (slabUsed + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  const at = slabUsed;
  slab.set(data.subarray(start, end), at);
  slabUsed += n;
  return slab.subarray(at, at + n);
}
