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
    this.current = h;
    // llhttp does not allocate while executing, so the memory view stays valid
    const ret = this.x.llhttp_execute(p, ptr, len);
    this.current = null;
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

let shared: Llhttp | null = null;

/** The process-wide module instance (parsers are cheap; the module is not). */
export function llhttp(): Llhttp {
  return (shared ??= new Llhttp());
}
