// manifest.json: what the loader and operators need to know about an object.
import { createHash } from 'node:crypto';
import type { PolicyIR, RateLimitIR } from '../ir/types.ts';
import type { Limits } from './limits.ts';
import { words64 } from './header.ts';

export interface MapLayout {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

export interface Manifest {
  readonly version: 1;
  readonly object: string;
  readonly programs: readonly { readonly name: string; readonly attach: string; readonly policyDirection: 'egress' | 'ingress' }[];
  readonly selectors: PolicyIR['selectors'];
  readonly rules: PolicyIR['rules'];
  readonly httpRules: readonly {
    readonly index: number; readonly rule: number; readonly method: string | null; readonly path: string | null; readonly host: string | null;
    /** absent without one (manifests before rate limits have none) */
    readonly rateLimit?: RateLimitIR;
    /** `file:line` of the http entry (absent in manifests before flows named it) */
    readonly source?: string;
  }[];
  readonly maps: readonly MapLayout[];
  readonly limits: Limits;
  readonly sha256: { readonly input: string; readonly header: string; readonly object: string };
}

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Canonical JSON of the IR (typed arrays as plain arrays). */
export function irJson(ir: PolicyIR): string {
  return JSON.stringify(ir, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v));
}

/**
 * The "input" hash (L7_POLICY_HASH, L7_POLICY_ID in the object): the IR without where its
 * rules were written, so the same policy text compiled from another path or with moved lines
 * gives the same object; rule sources go to the manifest only.
 */
export function policyHash(ir: PolicyIR): string {
  // where the rules were written (file:line) is not what they are: the same policy from another
  // path compiles to the same object
  return sha256(irJson({ ...ir, rules: ir.rules.map((r) => ({ ...r, source: '' })), httpRules: ir.httpRules.map((h) => ({ ...h, source: '' })) }));
}

/** Sizes of the C structs in bpf-templates/l7_maps.h (checked against the kernel in test/kernel). */
export function mapLayout(ir: PolicyIR): MapLayout[] {
  const ruleWords = words64(ir.httpRules.length);
  return [
    { name: 'ipcache', type: 'lpm_trie', keySize: 20, valueSize: 8, maxEntries: 65536 },
    { name: 'selectors', type: 'hash', keySize: 4, valueSize: 8 * words64(ir.selectors.length), maxEntries: 65536 },
    { name: 'flows', type: 'lru_hash', keySize: 38, valueSize: 240 + 8 * ruleWords, maxEntries: 65536 },
    // L7 flows apart, so a flood of other flows cannot evict them
    { name: 'l7flows', type: 'lru_hash', keySize: 38, valueSize: 240 + 8 * ruleWords, maxEntries: 65536 },
    // the last client bytes of each l7 flow, for the retransmission check (L7_RING_BYTES + L7_CHUNK)
    { name: 'rings', type: 'array', keySize: 4, valueSize: 8 + 2048 + 256, maxEntries: 16384 },
    // endpoint interface -> its addresses (source validation), filled by deploy
    { name: 'ifaces', type: 'hash', keySize: 4, valueSize: 72, maxEntries: 4096 },
    { name: 'events', type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 256 * 1024 },
    // per-cpu u64 counters, index L7_CNT_* (0: events lost to a full ring buffer)
    { name: 'counters', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 4 },
    // deploy-time settings (struct l7_config): how denials are answered
    { name: 'l7cfg', type: 'array', keySize: 4, valueSize: 12, maxEntries: 1 },
    // rate-limit buckets: (rule id, subject) -> arrival time in ns; shared by every generation
    { name: 'buckets', type: 'lru_hash', keySize: 16, valueSize: 8, maxEntries: 65536 },
    // per-cpu, per rate-limited rule: limited, shadow passes
    { name: 'rl_counts', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2 * Math.max(1, ir.httpRules.filter((r) => r.rateLimit).length) },
  ];
}

export function buildManifest(ir: PolicyIR, limits: Limits, hashes: Manifest['sha256']): Manifest {
  return {
    version: 1,
    object: 'l7bpf.o',
    programs: [
      { name: 'l7_from_pod', attach: 'tc ingress of the endpoint host-side veth', policyDirection: 'egress' },
      { name: 'l7_to_pod', attach: 'tc egress of the endpoint host-side veth', policyDirection: 'ingress' },
    ],
    selectors: ir.selectors,
    rules: ir.rules,
    httpRules: ir.httpRules.map((r) => ({ index: r.index, rule: r.rule, method: r.method, path: r.path, host: r.host, source: r.source, ...(r.rateLimit ? { rateLimit: r.rateLimit } : {}) })),
    maps: mapLayout(ir),
    limits,
    sha256: hashes,
  };
}
