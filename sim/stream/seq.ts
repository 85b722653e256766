// The stream rule (docs/simulator.md, stream rule), as pure sequence arithmetic on 32-bit numbers.
//   at the expected sequence      -> inspect all bytes
//   overlap with inspected bytes  -> inspect only from the expected sequence on (first copy wins)
//   only inspected bytes          -> retransmission (passes unless the flow is denied)
//   starts after the expected one -> hole: dropped, the sender retransmits; nothing is buffered

/** Signed distance a - b in 32-bit sequence space (wraparound-safe). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

export const SEG_RETRANSMISSION = -1;
export const SEG_HOLE = -2;

/**
 * For a segment [seq, seq+len) with len > 0 and the next expected sequence `expected`:
 * the number of leading bytes already inspected (>= 0, inspect the rest), or
 * SEG_RETRANSMISSION, or SEG_HOLE.
 */
export function classifySegment(expected: number, seq: number, len: number): number {
  const rel = seqDiff(seq, expected);
  if (rel > 0) return SEG_HOLE;
  if (rel + len <= 0) return SEG_RETRANSMISSION;
  return -rel;
}

/** Per-direction sequence state. */
export class DirState {
  nextSeq = 0;
  init = false;
  fin = false;
  bytes = 0;

  start(nextSeq: number): void {
    this.nextSeq = nextSeq >>> 0;
    this.init = true;
  }
}
