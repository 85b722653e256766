// The server's HTTP/1 responses as the datapath follows them while denials are answered:
// bpf-templates/l7_http1_resp.h, state for state. Where each response ends in the server's
// stream, so the answer to a denied request goes after the responses to the requests before
// it. A strict subset of HTTP/1 responses; anything else loses the count ('lost'), and a later
// denial is then a reset. A server whose first byte is not the "H" of a status line speaks
// HTTP/2: then only its frame boundaries are followed (an answer goes between frames, outside a
// field block). Not llhttp on purpose: the simulator predicts the kernel.
import { seqAdd, seqDiff } from '../stream/seq.ts';

const enum R {
  LINE, STATUS, REASON, LINE_LF, HSTART, NAME, VALUE, VALUE_LF, HEND_LF, BODY, CSIZE, CEXT, CSIZE_LF,
  CDATA, CDATA_CR, CDATA_LF, TSTART, TRAILER, TRAILER_LF, TEND_LF, H2HDR, H2DATA, LOST,
}

/** Requests in flight whose HEAD-ness is kept (L7_RESP_INFLIGHT). */
export const RESP_INFLIGHT = 64;
/** Walk steps per server packet (L7_RESP_STEPS) and bytes per step (L7_RESP_CHUNK). */
const STEPS = 1024;
const CHUNK = 32;
/** L7_RESP_MAX_CL, L7_RESP_MAX_HEX */
const MAX_CL = 1e12;
const MAX_HEX = 10;

const HTTP1 = [...'HTTP/1.'].map((c) => c.charCodeAt(0));
const CL = 'content-length';
const TE = 'transfer-encoding';
const CHUNKED = 'chunked';

const CR = 13;
const LF = 10;
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
const isDigit = (c: number) => c >= 48 && c <= 57;
const hexVal = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

export class ResponseFramer {
  private st = R.LINE;
  private pos = 0;
  private status = 0;
  private cl = false;
  private te = false;
  private candCl = false;
  private candTe = false;
  private valCl = false;
  private valTe = false;
  private valAny = false;
  private valWs = false;
  /** RF_MODE, RF_H2, RF_HBLOCK */
  private mode = false;
  h2 = false;
  private hblock = false;
  /** the next server byte to read */
  seq = 0;
  /** past the last complete response: where an answer may go */
  end = 0;
  reqs = 0;
  resps = 0;
  private readonly head: boolean[] = new Array(RESP_INFLIGHT).fill(false);
  private left = 0;

  /** At the server's SYN-ACK: its first byte follows its ISN. */
  start(isn: number): void {
    this.seq = seqAdd(isn, 1);
    this.end = this.seq;
  }

  get lost(): boolean {
    return this.st === R.LOST;
  }

  /** Every response the server owes is complete, and it sent nothing after them; HTTP/2: between
   * frames, outside a field block (l7_resp_idle). */
  idle(srvNxt: number, http2: boolean): boolean {
    if (this.seq !== this.end || srvNxt >>> 0 !== this.end || this.pos !== 0) return false;
    if (http2) return this.h2 && this.st === R.H2HDR && !this.hblock;
    return !this.h2 && this.resps === this.reqs && this.st === R.LINE;
  }

  /** An allowed request's head went on to the server (l7_resp_expect). */
  expect(head: boolean): void {
    if (this.h2) return;
    if (this.reqs - this.resps >= RESP_INFLIGHT) this.st = R.LOST;
    this.head[this.reqs % RESP_INFLIGHT] = head;
    this.reqs++;
  }

  /** A server packet's payload data[off, off + len) at `seq` (after its SYN, if any), on a
   * connection that speaks HTTP/2 or not (yet): l7_resp_walk. */
  walk(data: Uint8Array, off: number, seq: number, len: number, http2: boolean): void {
    const end = seqAdd(seq, len);
    if (this.st === R.LOST || seqDiff(end, this.seq) <= 0) return;
    // an HTTP/2 connection whose server spoke HTTP/1 (an h2c upgrade's 101): not followed
    if (http2 && this.mode && !this.h2) {
      this.st = R.LOST;
      return;
    }
    if (seqDiff(seq, this.seq) > 0) {
      this.st = R.LOST;
      return;
    }
    let i = off + seqDiff(this.seq, seq);
    const stop = off + len;
    for (let step = 0; step < STEPS && i < stop && !this.lost; step++) {
      if (this.st === R.BODY || this.st === R.CDATA || this.st === R.H2DATA) {
        const k = Math.min(this.left, stop - i);
        i += k;
        this.seq = seqAdd(this.seq, k);
        this.left -= k;
        if (this.left === 0) {
          if (this.st === R.BODY) this.done(this.seq);
          else if (this.st === R.CDATA) this.st = R.CDATA_CR;
          else {
            this.st = R.H2HDR;
            if (!this.hblock) this.end = this.seq;
          }
        }
        continue;
      }
      const n = Math.min(CHUNK, stop - i);
      for (let k = 0; k < n; k++) {
        const r = this.step(data[i]!);
        i++;
        this.seq = seqAdd(this.seq, 1);
        if (r !== OK) break;
      }
    }
    if (i < stop) this.st = R.LOST;
  }

  private done(end: number): void {
    this.resps++;
    this.end = end >>> 0;
    this.next();
  }

  /** The next response's status line: nothing of this one's head is kept (l7_resp_next). */
  private next(): void {
    this.st = R.LINE;
    this.pos = 0;
    this.cl = this.te = this.candCl = this.candTe = false;
    this.valCl = this.valTe = this.valAny = this.valWs = false;
    this.left = 0;
  }

  private lose(): number {
    this.st = R.LOST;
    return LOST;
  }

  private headEnd(): number {
    if (this.status >= 100 && this.status < 200) {
      if (this.status === 101) return this.lose();
      this.next();
      return OK;
    }
    if (this.resps === this.reqs || (this.cl && this.te)) return this.lose();
    if (this.head[this.resps % RESP_INFLIGHT] || this.status === 204 || this.status === 304) {
      this.done(seqAdd(this.seq, 1));
      return OK;
    }
    if (this.te) {
      this.st = R.CSIZE;
      this.pos = 0;
      this.left = 0;
      return OK;
    }
    if (!this.cl) return this.lose();
    if (this.left === 0) {
      this.done(seqAdd(this.seq, 1));
      return OK;
    }
    this.st = R.BODY;
    return BODY;
  }

  private name(lc: number): void {
    const i = this.pos;
    if (i >= CL.length || CL.charCodeAt(i) !== lc) this.candCl = false;
    if (i >= TE.length || TE.charCodeAt(i) !== lc) this.candTe = false;
    if (this.pos < 255) this.pos++;
  }

  private value(c: number): number {
    if (c === 32 || c === 9) {
      if (this.valAny) this.valWs = true;
      return OK;
    }
    const reading = this.valCl || this.valTe;
    if (this.valWs || !reading) return reading ? this.lose() : OK;
    this.valAny = true;
    if (this.valCl) {
      if (!isDigit(c) || this.left >= MAX_CL / 10) return this.lose();
      this.left = this.left * 10 + (c - 48);
      return OK;
    }
    if (this.pos >= 7 || CHUNKED.charCodeAt(this.pos) !== (c | 0x20)) return this.lose();
    this.pos++;
    return OK;
  }

  private valueEnd(): number {
    if ((this.valCl || this.valTe) && !this.valAny) return this.lose();
    if (this.valTe && this.pos !== 7) return this.lose();
    if (this.valCl) this.cl = true;
    if (this.valTe) this.te = true;
    this.valCl = this.valTe = this.valAny = this.valWs = this.candCl = this.candTe = false;
    this.st = R.VALUE_LF;
    return OK;
  }

  /** A byte of an HTTP/2 frame header (l7_resp_h2_header). */
  private h2Header(c: number): number {
    if (this.pos < 3) this.left = this.left * 256 + c;
    else if (this.pos === 3) this.status = c;
    else if (this.pos === 4) {
      if ((this.status === 1 || this.status === 5) && !(c & 4)) this.hblock = true;
      else if (this.status === 9 && c & 4) this.hblock = false;
    }
    if (++this.pos < 9) return OK;
    this.pos = 0;
    if (this.left) {
      this.st = R.H2DATA;
      return BODY;
    }
    if (!this.hblock) this.end = seqAdd(this.seq, 1);
    return OK;
  }

  /** One byte at this.seq (l7_resp_step). */
  private step(c: number): number {
    if (!this.mode) {
      this.mode = true;
      if (c !== 0x48) {
        this.h2 = true;
        this.st = R.H2HDR;
        this.pos = 0;
        this.left = 0;
      }
    }
    switch (this.st) {
      case R.H2HDR:
        return this.h2Header(c);
      case R.LINE:
        if (this.pos < 7) {
          if (c !== HTTP1[this.pos]) return this.lose();
        } else if (this.pos === 7) {
          if (c !== 48 && c !== 49) return this.lose();
        } else {
          if (c !== 32) return this.lose();
          this.st = R.STATUS;
          this.pos = 0;
          this.status = 0;
          return OK;
        }
        this.pos++;
        return OK;
      case R.STATUS:
        if (this.pos < 3) {
          if (!isDigit(c)) return this.lose();
          this.status = this.status * 10 + (c - 48);
          this.pos++;
          return OK;
        }
        if (c === 32) this.st = R.REASON;
        else if (c === CR) this.st = R.LINE_LF;
        else return this.lose();
        return OK;
      case R.REASON:
        if (c === LF) return this.lose();
        if (c === CR) this.st = R.LINE_LF;
        return OK;
      case R.LINE_LF:
      case R.VALUE_LF:
        if (c !== LF) return this.lose();
        this.st = R.HSTART;
        return OK;
      case R.HSTART:
        if (c === CR) {
          this.st = R.HEND_LF;
          return OK;
        }
        if (!TCHAR[c]) return this.lose();
        this.st = R.NAME;
        this.pos = 0;
        this.candCl = this.candTe = true;
        this.name(c | 0x20);
        return OK;
      case R.NAME:
        if (c === 58) {
          if (this.candCl && this.pos === CL.length) {
            if (this.cl) return this.lose();
            this.valCl = true;
            this.left = 0;
          } else if (this.candTe && this.pos === TE.length) {
            if (this.te) return this.lose();
            this.valTe = true;
          }
          this.pos = 0;
          this.st = R.VALUE;
          return OK;
        }
        if (!TCHAR[c]) return this.lose();
        this.name(c | 0x20);
        return OK;
      case R.VALUE:
        if (c === CR) return this.valueEnd();
        if (c === LF) return this.lose();
        return this.value(c);
      case R.HEND_LF:
        if (c !== LF) return this.lose();
        return this.headEnd();
      case R.CSIZE: {
        const h = hexVal(c);
        if (h >= 0) {
          if (this.pos >= MAX_HEX) return this.lose();
          this.left = this.left * 16 + h;
          this.pos++;
          return OK;
        }
        if (this.pos === 0) return this.lose();
        if (c === 59) this.st = R.CEXT;
        else if (c === CR) this.st = R.CSIZE_LF;
        else return this.lose();
        return OK;
      }
      case R.CEXT:
        if (c === LF) return this.lose();
        if (c === CR) this.st = R.CSIZE_LF;
        return OK;
      case R.CSIZE_LF:
        if (c !== LF) return this.lose();
        if (this.left === 0) {
          this.st = R.TSTART;
          return OK;
        }
        this.st = R.CDATA;
        return BODY;
      case R.CDATA_CR:
        if (c !== CR) return this.lose();
        this.st = R.CDATA_LF;
        return OK;
      case R.CDATA_LF:
        if (c !== LF) return this.lose();
        this.st = R.CSIZE;
        this.pos = 0;
        this.left = 0;
        return OK;
      case R.TSTART:
        if (c === CR) {
          this.st = R.TEND_LF;
          return OK;
        }
        if (c === LF) return this.lose();
        this.st = R.TRAILER;
        return OK;
      case R.TRAILER:
        if (c === LF) return this.lose();
        if (c === CR) this.st = R.TRAILER_LF;
        return OK;
      case R.TRAILER_LF:
        if (c !== LF) return this.lose();
        this.st = R.TSTART;
        return OK;
      case R.TEND_LF:
        if (c !== LF) return this.lose();
        this.done(seqAdd(this.seq, 1));
        return OK;
      default:
        return this.lose();
    }
  }
}

const OK = 0;
const BODY = 1;
const LOST = 2;
