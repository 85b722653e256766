// Bounded tables for the replay summary: whatever the capture's size, they keep at most a
// fixed number of keys, and their result does not depend on the order the rows come in,
// so the parts that worker threads build merge into what one thread would have built.

/** 32-bit FNV-1a of a key's UTF-16 code units: cheap, and the same on every run. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** (hash, key) order: a total order on keys that no insertion order can change. */
function before(ha: number, ka: string, hb: number, kb: string): boolean {
  return ha < hb || (ha === hb && ka < kb);
}

export interface Tally<V> {
  readonly zero: () => V;
  readonly add: (into: V, from: V) => void;
}

/** A BottomK's contents as structured-cloneable data (what a worker posts). */
export interface BottomKData<V> {
  readonly entries: readonly (readonly [string, V])[];
  readonly rest: V;
  readonly folded: boolean;
}

/**
 * Exact values for at most `cap` keys: the `cap` keys of smallest (hash, key) among all keys
 * seen (a bottom-k sample), every other key's values summed into `rest`. A key of the sample
 * is never folded, whatever came before it, so two parts merge exactly; below `cap` distinct
 * keys nothing is folded and the table is the plain map. The map may hold up to 2 x cap keys
 * between compactions (one sort per cap new keys, not a scan per key).
 */
export class BottomK<V> {
  private readonly map = new Map<string, { hash: number; value: V }>();
  /** keys at or after (limitHash, limitKey) are folded into rest */
  private limitHash = Infinity;
  private limitKey = '';
  private readonly restValue: V;
  private anyFolded = false;

  constructor(private readonly cap: number, private readonly t: Tally<V>) {
    this.restValue = t.zero();
  }

  /** The value to update for one occurrence of `key` (its own, or `rest`). */
  slot(key: string): V {
    const e = this.map.get(key);
    if (e) return e.value;
    const hash = hashKey(key);
    if (!before(hash, key, this.limitHash, this.limitKey)) {
      this.anyFolded = true;
      return this.restValue;
    }
    if (this.map.size >= 2 * this.cap) {
      this.compact();
      if (!before(hash, key, this.limitHash, this.limitKey)) return this.restValue;
    }
    const value = this.t.zero();
    this.map.set(key, { hash, value });
    return value;
  }

  /** The sample, at most `cap` keys with their values. */
  entries(): [string, V][] {
    this.compact();
    return [...this.map].map(([k, e]) => [k, e.value]);
  }

  /** Every key's values but the sample's. */
  get rest(): V {
    this.compact();
    return this.restValue;
  }

  /** Some key was folded: the table shows a sample. */
  get folded(): boolean {
    this.compact();
    return this.anyFolded;
  }

  toData(): BottomKData<V> {
    return { entries: this.entries(), rest: this.restValue, folded: this.anyFolded };
  }

  /** Adds another part's contents (built from other rows by the same rules). */
  merge(d: BottomKData<V>): void {
    this.t.add(this.restValue, d.rest);
    this.anyFolded ||= d.folded;
    for (const [k, v] of d.entries) this.t.add(this.slot(k), v);
  }

  /** Keeps the `cap` keys of smallest (hash, key), folds the others into rest. */
  private compact(): void {
    if (this.map.size <= this.cap) return;
    const order = [...this.map].sort(([ka, a], [kb, b]) => (before(a.hash, ka, b.hash, kb) ? -1 : 1));
    const [firstOut, firstEntry] = order[this.cap]!;
    this.limitHash = firstEntry.hash;
    this.limitKey = firstOut;
    for (const [k, e] of order.slice(this.cap)) {
      this.t.add(this.restValue, e.value);
      this.map.delete(k);
    }
    this.anyFolded = true;
  }
}

export interface SpaceSavingData {
  readonly shards: readonly (readonly (readonly [string, number])[])[];
  readonly overflowed: boolean;
}

/**
 * The most frequent keys in bounded memory (space-saving, Metwally et al. 2005), one table
 * per flow shard. Space-saving depends on the order of its input; a connection's rows come in
 * the same order whether one thread or a worker replays it, so a table per shard of the flow
 * hash (workers take whole shards when their count divides SHARDS) is the same either way.
 * Counts are exact until a shard holds more than `cap` keys; then they are upper bounds.
 */
export class TopCounts {
  static readonly SHARDS = 24;
  private readonly shards: Map<string, number>[] = Array.from({ length: TopCounts.SHARDS }, () => new Map());
  overflowed = false;

  constructor(private readonly cap: number) {}

  add(key: string, flowHash: number): void {
    const t = this.shards[flowHash % TopCounts.SHARDS]!;
    const n = t.get(key);
    if (n !== undefined) return void t.set(key, n + 1);
    if (t.size < this.cap) return void t.set(key, 1);
    // the new key takes the place of the least counted one and inherits its count
    let min = '';
    let minCount = Infinity;
    for (const [k, c] of t) if (c < minCount || (c === minCount && k > min)) [min, minCount] = [k, c];
    t.delete(min);
    t.set(key, minCount + 1);
    this.overflowed = true;
  }

  /** The `top` keys of largest count over all shards; ties by key. */
  top(n: number): [string, number][] {
    const all = new Map<string, number>();
    for (const t of this.shards) for (const [k, c] of t) all.set(k, (all.get(k) ?? 0) + c);
    return [...all].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, n);
  }

  toData(): SpaceSavingData {
    return { shards: this.shards.map((t) => [...t]), overflowed: this.overflowed };
  }

  /** Adds a part built from other shards (a worker's): its shards are empty here. */
  merge(d: SpaceSavingData): void {
    this.overflowed ||= d.overflowed;
    d.shards.forEach((entries, i) => {
      const t = this.shards[i]!;
      for (const [k, c] of entries) t.set(k, (t.get(k) ?? 0) + c);
    });
  }
}
