// Connection table with a hard cap: second-chance (clock) eviction approximates LRU
// without reordering the map on every packet.

export interface Touchable {
  touched: boolean;
}

export class ConnTable<C extends Touchable> {
  readonly map = new Map<string, C>();
  private readonly cap: number;

  constructor(cap: number) {
    this.cap = Math.max(1, cap);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): C | undefined {
    const c = this.map.get(key);
    if (c) c.touched = true;
    return c;
  }

  /** Inserts and returns the entries evicted to stay under the cap. */
  set(key: string, c: C, onEvict: (c: C) => void): void {
    this.map.delete(key);
    this.map.set(key, c);
    c.touched = true; // a new entry gets its second chance like a used one
    while (this.map.size > this.cap) this.evictOne(key, onEvict);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  private evictOne(keep: string, onEvict: (c: C) => void): void {
    for (const [k, c] of this.map) {
      if (k === keep) continue;
      if (c.touched) {
        c.touched = false;
        this.map.delete(k);
        this.map.set(k, c);
        continue;
      }
      this.map.delete(k);
      onEvict(c);
      return;
    }
  }
}
