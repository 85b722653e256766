// The feature list the loader probes (src/loader/features.ts) is the templates' own: every
// helper they call and every map type they declare, no more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REQUIRED, MIN_KERNEL } from '../../src/loader/index.ts';
import { TEMPLATES_DIR } from '../../codegen/emit/index.ts';

const source = readdirSync(TEMPLATES_DIR).filter((f) => /\.(c|h)$/.test(f)).map((f) => readFileSync(join(TEMPLATES_DIR, f), 'utf8')).join('\n');
// map access helpers (Linux 3.19) and byte-order macros are everywhere BPF is
const EVERYWHERE = new Set(['bpf_map_lookup_elem', 'bpf_map_update_elem', 'bpf_map_delete_elem', 'bpf_htons', 'bpf_ntohs', 'bpf_htonl', 'bpf_ntohl']);
const MAP_NAMES: Record<string, string> = {
  RINGBUF: 'ring buffer map', LPM_TRIE: 'LPM trie map', LRU_HASH: 'LRU hash map', PERCPU_ARRAY: 'per-CPU array map', HASH: '', ARRAY: '',
};

test('REQUIRED names every helper the templates call', () => {
  const called = new Set([...source.matchAll(/\b(bpf_[a-z0-9_]+)\(/g)].map((m) => m[1]!).filter((h) => !EVERYWHERE.has(h)));
  const probed = new Set(REQUIRED.filter((f) => f.kind === 'helper').map((f) => f.name));
  assert.deepEqual([...called].sort(), [...probed].sort());
});

test('REQUIRED names every map type the templates declare (hash and array maps are in every BPF kernel)', () => {
  const declared = new Set([...source.matchAll(/BPF_MAP_TYPE_([A-Z_]+)/g)].map((m) => m[1]!));
  for (const t of declared) assert.ok(t in MAP_NAMES, `map type ${t} has no entry`);
  const probed = REQUIRED.filter((f) => f.kind === 'map').map((f) => f.name).sort();
  assert.deepEqual(probed, [...declared].map((t) => MAP_NAMES[t]!).filter(Boolean).sort());
});

test('MIN_KERNEL is the newest feature', () => {
  const v = (s: string) => s.split('.').map(Number).reduce((a, b) => a * 1000 + b);
  assert.equal(MIN_KERNEL, REQUIRED.map((f) => f.since).sort((a, b) => v(b) - v(a))[0]);
});
