// Stable identities: the same label set always gets the same number, independent of the
// order endpoints are listed in. Numbers come from a hash of the sorted labels; collisions
// (rare in a 65k space) are resolved by probing in sorted label-set order.
import { MAX_ALLOCATED_IDENTITY, MIN_ALLOCATED_IDENTITY } from './types.ts';

export function labelKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(';');
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** label-set key -> identity, for every distinct key. */
export function allocateIdentities(keys: Iterable<string>): Map<string, number> {
  const span = MAX_ALLOCATED_IDENTITY - MIN_ALLOCATED_IDENTITY + 1;
  const used = new Set<number>();
  const out = new Map<string, number>();
  for (const key of [...new Set(keys)].sort()) {
    let id = MIN_ALLOCATED_IDENTITY + (fnv1a(key) % span);
    while (used.has(id)) id = id === MAX_ALLOCATED_IDENTITY ? MIN_ALLOCATED_IDENTITY : id + 1;
    used.add(id);
    out.set(key, id);
  }
  return out;
}
