// llhttp 9 from undici@7's WASM build (the npm `llhttp` package is a code generator, not a
// parser). One module instance hosts every parser; callbacks go to the parser executing now.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wasmBytes: Uint8Array<ArrayBuffer> = require('undici/lib/llhttp/llhttp-wasm.js');
const C: { ERROR: Record<string, number>; TYPE: Record<string, number>; METHODS: Record<string, number> } =
  require('undici/lib/llhttp/constants.js');

export const ERR_OK = C.ERROR.OK!;
export const ERR_PAUSED = C.ERROR.PAUSED!;
export const ERR_PAUSED_UPGRADE = C.ERROR.PAUSED_UPGRADE!;
export const TYPE_REQUEST = C.TYPE.REQUEST!;
export const TYPE_RESPONSE = C.TYPE.RESPONSE!;

const errorNames = new Map<number, string>(Object.entries(C.ERROR).map(([k, v]) => [v, `HPE_${k}`]));
const methodNames = new Map<number, string>(Object.entries(C.METHODS).map(([k, v]) => [v, k]));

export function errorName(code: number): string {
  return errorNames.get(code) ?? `HPE_${code}`;
}

export function methodName(code: number): string {
  return methodNames.get(code) ?? `METHOD_${code}`;
}

/** Receiver of one parser's callbacks; `at` is an index into `Llhttp.mem`. Return 0 or an llhttp code. */
export interface LlhttpHandler {
  onMessageBegin(): number;
  onUrl(at: number, len: number): number;
  onStatus(at: number, len: number): number;
  onHeaderField(at: number, len: number): number;
  onHeaderValue(at: number, len: number): number;
  onHeadersComplete(status: number, upgrade: boolean, keepAlive: boolean): number;
  onBody(at: number, len: number): number;
  onMessageComplete(): number;
}

/** Node's Buffer has latin1Slice (the fast path behind toString('latin1')) but no typing for it. */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(n: number): number;
  free(p: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(p: number): void;
  llhttp_execute(p: number, data: number, len: number): number;
  llhttp_resume(p: number): void;
  llhttp_resume_after_upgrade(p: number): void;
  llhttp_reset(p: number): void;
  llhttp_get_error_pos(p: number): number;
  llhttp_get_error_reason(p: number): number;
  llhttp_get_errno(p: number): number;
  llhttp_get_method(p: number): number;
  llhttp_get_http_major(p: number): number;
  llhttp_get_http_minor(p: number): number;
  llhttp_get_status_code(p: number): number;
}

export class Llhttp {
  readonly x: Exports;
  /** Byte view of the module memory (refreshed when memory grows). */
  mem: Latin1Buffer;
  current: LlhttpHandler | null = null;
  private inPtr = 0;
  private inSize = 0;

  constructor() {
    const self = this;
    const env = {
      wasm_on_message_begin: () => self.current!.onMessageBegin(),
      wasm_on_url: (_p: number, at: number, len: number) => self.current!.onUrl(at, len),
      wasm_on_status: (_p: number, at: number, len: number) => self.current!.onStatus(at, len),
      wasm_on_header_field: (_p: number, at: number, len: number) => self.current!.onHeaderField(at, len),
      wasm_on_header_value: (_p: number, at: number, len: number) => self.current!.onHeaderValue(at, len),
      wasm_on_headers_complete: (_p: number, status: number, upgrade: number, keepAlive: number) =>
        self.current!.onHeadersComplete(status, upgrade === 1, keepAlive === 1),
      wasm_on_body: (_p: number, at: number, len: number) => self.current!.onBody(at, len),
      wasm_on_message_complete: () => self.current!.onMessageComplete(),
    };
    const inst = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), { env });
    this.x = inst.exports as unknown as Exports;
    this.x._initialize();
    this.mem = Buffer.from(this.x.memory.buffer) as Latin1Buffer;
    this.structOk = probeLayout(this);
    const lean = this.structOk ? probeLean(this) : null;
    this.leanRequest = lean?.request ?? 0;
    this.leanResponse = lean?.response ?? 0;
  }

  /**
   * llhttp_settings_t copies with only the callbacks the replay acts on (0 = the build's
   * settings, every callback). Each JS callback is a WASM->JS transition; a request head has
   * about 15 URL / header-name / header-value pieces, so the lean settings save most of the
   * calls. llhttp still checks every byte; the pieces are recovered later from the head
   * bytes, only when read (head-fields.ts).
   */
  private readonly leanRequest: number;
  private readonly leanResponse: number;

  /** True when parsers from allocLean() call back only at head end and message end. */
  get lean(): boolean {
    return this.leanRequest !== 0;
  }

  /**
   * A parser whose settings call back only onHeadersComplete and (requests) onMessageComplete;
   * without a usable settings layout, a normal parser (every callback; handlers ignore pieces).
   */
  allocLean(type: number): number {
    const p = this.alloc(type);
    const s = type === TYPE_REQUEST ? this.leanRequest : this.leanResponse;
    if (s) this.mem.writeUInt32LE(s, p + OFF_SETTINGS);
    return p;
  }

  /**
   * True when the llhttp_t field offsets below match this build (checked once at start):
   * then method, version, flags and content length are read from memory, not through calls.
   */
  readonly structOk: boolean;

  method(p: number): number {
    return this.structOk ? this.mem[p + OFF_METHOD]! : this.x.llhttp_get_method(p);
  }

  httpMajor(p: number): number {
    return this.structOk ? this.mem[p + OFF_MAJOR]! : this.x.llhttp_get_http_major(p);
  }

  httpMinor(p: number): number {
    return this.structOk ? this.mem[p + OFF_MINOR]! : this.x.llhttp_get_http_minor(p);
  }

  /**
   * Length of a Content-Length body announced by the head just completed (call from
   * onHeadersComplete), or -1 when the body is framed otherwise (chunked, none, until close)
   * or the layout is unknown.
   */
  contentLength(p: number): number {
    if (!this.structOk) return -1;
    const m = this.mem;
    const flags = m[p + OFF_FLAGS]! | (m[p + OFF_FLAGS + 1]! << 8);
    if ((flags & F_CONTENT_LENGTH) === 0 || (flags & (F_CHUNKED | F_TRANSFER_ENCODING)) !== 0) return -1;
    // byte reads, not readUInt32LE: Buffer's readers are slow until optimised (cold replay)
    return u32le(m, p + OFF_CONTENT_LENGTH) + u32le(m, p + OFF_CONTENT_LENGTH + 4) * 2 ** 32;
  }

  /** Copies data into the module's input buffer; returns its pointer. */
  load(data: Uint8Array, start: number, end: number): number {
    const n = end - start;
    if (n > this.inSize) {
      if (this.inPtr) this.x.free(this.inPtr);
      this.inSize = Math.max(65536, Math.ceil(n / 65536) * 65536);
      this.inPtr = this.x.malloc(this.inSize);
      this.refresh();
    }
    this.mem.set(data.subarray(start, end), this.inPtr);
    return this.inPtr;
  }

  /** Runs the parser `p` on [ptr, ptr+len) with `h` receiving callbacks. */
  execute(p: number, h: LlhttpHandler, ptr: number, len: number): number {
    // a callback may run another parser (a request's fields decoded while a response is parsed)
    const outer = this.current;
    this.current = h;
    const ret = this.x.llhttp_execute(p, ptr, len);
    this.current = outer;
    return ret;
  }

  /** A new parser of `type`; allocation may grow the memory. */
  alloc(type: number): number {
    const p = this.x.llhttp_alloc(type);
    this.refresh();
    return p;
  }

  refresh(): void {
    if (this.mem.buffer !== this.x.memory.buffer) this.mem = Buffer.from(this.x.memory.buffer) as Latin1Buffer;
  }

  latin1(at: number, len: number): string {
    return this.mem.latin1Slice(at, at + len);
  }

  reason(p: number): string {
    const r = this.x.llhttp_get_error_reason(p);
    if (!r) return '';
    const end = this.mem.indexOf(0, r);
    return this.mem.latin1Slice(r, end < 0 ? r : end);
  }
}

// llhttp 9 `struct llhttp__internal_s` on wasm32: int32 _index, 7 pointers/int32 (4 bytes each),
// uint64 content_length at 32, then type, method, http_major, http_minor (uint8), header_state,
// lenient_flags (uint16 at 46), upgrade, finish, flags (uint16 at 50), status_code (uint16 at 52).
const OFF_CONTENT_LENGTH = 32;
const OFF_METHOD = 41;
const OFF_MAJOR = 42;
const OFF_MINOR = 43;
const OFF_FLAGS = 50;
const OFF_SETTINGS = 56;
const F_CHUNKED = 0x08;
const F_CONTENT_LENGTH = 0x20;
const F_TRANSFER_ENCODING = 0x200;

function u32le(m: Uint8Array, i: number): number {
  return (m[i]! | (m[i + 1]! << 8) | (m[i + 2]! << 16)) + m[i + 3]! * 0x1000000;
}

/** Parses two known messages and compares the struct reads with llhttp's own getters. */
function probeLayout(ll: Llhttp): boolean {
  let ok = true;
  const probe = (type: number, text: string, check: (p: number) => boolean): void => {
    const p = ll.alloc(type);
    const seen = { v: false };
    const h: LlhttpHandler = {
      onMessageBegin: () => 0, onUrl: () => 0, onStatus: () => 0, onHeaderField: () => 0, onHeaderValue: () => 0,
      onHeadersComplete: () => { seen.v = check(p); return 0; },
      onBody: () => 0, onMessageComplete: () => 0,
    };
    const bytes = Buffer.from(text, 'latin1');
    ll.execute(p, h, ll.load(bytes, 0, bytes.length), bytes.length);
    ll.x.llhttp_free(p);
    ok &&= seen.v;
  };
  const m = () => ll.mem;
  probe(TYPE_REQUEST, 'PUT / HTTP/1.0\r\nContent-Length: 70000\r\n\r\n', (p) =>
    m()[p + OFF_METHOD] === ll.x.llhttp_get_method(p) && m()[p + OFF_MAJOR] === 1 && m()[p + OFF_MINOR] === 0 &&
    m().readUInt32LE(p + OFF_CONTENT_LENGTH) === 70000 && (m()[p + OFF_FLAGS]! & F_CONTENT_LENGTH) !== 0);
  probe(TYPE_RESPONSE, 'HTTP/1.1 299 OK\r\nTransfer-Encoding: chunked\r\n\r\n', (p) =>
    m().readUInt16LE(p + 52) === 299 && (m().readUInt16LE(p + OFF_FLAGS) & (F_CHUNKED | F_TRANSFER_ENCODING)) === (F_CHUNKED | F_TRANSFER_ENCODING));
  return ok;
}

// llhttp_settings_t (llhttp 9): 25 callback slots, each a WASM function-table index (0 = none)
const SETTINGS_SLOTS = 25;
const SLOT_HEADERS_COMPLETE = 10;
const SLOT_MESSAGE_COMPLETE = 12;

/** A copy of the build's settings keeping only the callback slots `keep`. */
function settingsCopy(ll: Llhttp, keep: readonly number[]): number {
  const p = ll.alloc(TYPE_REQUEST);
  const def = ll.mem.readUInt32LE(p + OFF_SETTINGS);
  ll.x.llhttp_free(p);
  const s = ll.x.malloc(SETTINGS_SLOTS * 4);
  ll.refresh();
  for (let i = 0; i < SETTINGS_SLOTS; i++) ll.mem.writeUInt32LE(keep.includes(i) ? ll.mem.readUInt32LE(def + 4 * i) : 0, s + 4 * i);
  return s;
}

/** Callbacks seen while parsing `text` with settings `s`, in order (h = head end, m = message end, p = piece). */
function callbacksWith(ll: Llhttp, type: number, s: number, text: string): string {
  const p = ll.alloc(type);
  ll.mem.writeUInt32LE(s, p + OFF_SETTINGS);
  let seen = '';
  const h: LlhttpHandler = {
    onMessageBegin: () => { seen += 'b'; return 0; }, onUrl: () => { seen += 'p'; return 0; }, onStatus: () => { seen += 'p'; return 0; },
    onHeaderField: () => { seen += 'p'; return 0; }, onHeaderValue: () => { seen += 'p'; return 0; },
    onHeadersComplete: () => { seen += 'h'; return 0; }, onBody: () => { seen += 'p'; return 0; }, onMessageComplete: () => { seen += 'm'; return 0; },
  };
  const bytes = Buffer.from(text, 'latin1');
  const ret = ll.execute(p, h, ll.load(bytes, 0, bytes.length), bytes.length);
  ll.x.llhttp_free(p);
  return ret === ERR_OK ? seen : `error ${ret}`;
}

/** Builds the lean settings and checks by behaviour that they call exactly what they should. */
function probeLean(ll: Llhttp): { request: number; response: number } | null {
  const request = settingsCopy(ll, [SLOT_HEADERS_COMPLETE, SLOT_MESSAGE_COMPLETE]);
  const response = settingsCopy(ll, [SLOT_HEADERS_COMPLETE]);
  const req = 'POST /u HTTP/1.1\r\nA: b\r\nContent-Length: 2\r\n\r\nhi';
  const resp = 'HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 2\r\n\r\nhi';
  if (callbacksWith(ll, TYPE_REQUEST, request, req) === 'hm' && callbacksWith(ll, TYPE_RESPONSE, response, resp) === 'h') return { request, response };
  ll.x.free(request);
  ll.x.free(response);
  return null;
}

let shared: Llhttp | null = null;

/** The process-wide module instance (parsers are cheap; the module is not). */
export function llhttp(): Llhttp {
  return (shared ??= new Llhttp());
}
