// Moore partition refinement: states are split by acceptance set, then by the
// blocks of their successors, until stable. The result renumbers blocks so
// the dead block is 0 and the start is 1, as the table contract requires.
import type { RawDfa } from './subset.ts';

function hashRow(block: Int32Array, own: number, trans: Int32Array, base: number, C: number): number {
  let h = Math.imul(0x811c9dc5 ^ own, 0x01000193);
  for (let k = 0; k < C; k++) h = Math.imul(h ^ block[trans[base + k]!]!, 0x01000193);
  return h >>> 0;
}

/** One refinement round; returns the new block of each state and the block count. */
function refine(dfa: RawDfa, block: Int32Array): { block: Int32Array; count: number } {
  const C = dfa.classes.count;
  const next = new Int32Array(dfa.numStates);
  const reps: number[] = [];
  const table = new Map<number, number[]>();
  const same = (a: number, b: number): boolean => {
    if (block[a] !== block[b]) return false;
    for (let k = 0; k < C; k++) if (block[dfa.trans[a * C + k]!] !== block[dfa.trans[b * C + k]!]) return false;
    return true;
  };
  for (let s = 0; s < dfa.numStates; s++) {
    const h = hashRow(block, block[s]!, dfa.trans, s * C, C);
    const ids = table.get(h) ?? [];
    let id = ids.find((b) => same(reps[b]!, s));
    if (id === undefined) {
      id = reps.length;
      reps.push(s);
      ids.push(id);
      table.set(h, ids);
    }
    next[s] = id;
  }
  return { block: next, count: reps.length };
}

function initialBlocks(dfa: RawDfa): { block: Int32Array; count: number } {
  const W = dfa.acceptWords;
  const ids = new Map<string, number>();
  const block = new Int32Array(dfa.numStates);
  for (let s = 0; s < dfa.numStates; s++) {
    const key = Array.from(dfa.accept.subarray(s * W, s * W + W)).join(',');
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    block[s] = id;
  }
  return { block, count: ids.size };
}

export function minimize(dfa: RawDfa): RawDfa {
  let part = initialBlocks(dfa);
  for (;;) {
    const next = refine(dfa, part.block);
    if (next.count === part.count) break;
    part = next;
  }
  return renumber(dfa, part.block);
}

/** Builds the quotient DFA: dead block -> 0, start block -> 1, others by first use. */
function renumber(dfa: RawDfa, block: Int32Array): RawDfa {
  const C = dfa.classes.count;
  const W = dfa.acceptWords;
  const newId = new Map<number, number>([[block[0]!, 0]]);
  const owner: number[] = [0];
  const startIsDead = block[1] === block[0];
  if (startIsDead) owner.push(1);
  else {
    newId.set(block[1]!, 1);
    owner.push(1);
  }
  for (let s = 2; s < dfa.numStates; s++) {
    if (!newId.has(block[s]!)) {
      newId.set(block[s]!, owner.length);
      owner.push(s);
    }
  }
  const n = owner.length;
  const trans = new Int32Array(n * C);
  const accept = new Uint32Array(n * W);
  owner.forEach((s, id) => {
    for (let k = 0; k < C; k++) trans[id * C + k] = newId.get(block[dfa.trans[s * C + k]!]!)!;
    accept.set(dfa.accept.subarray(s * W, s * W + W), id * W);
  });
  return { ...dfa, numStates: n, trans, accept };
}
