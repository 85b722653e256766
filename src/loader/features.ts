// What the datapath needs from the kernel, probed as libbpf and cilium/ebpf probe: a tiny
// program or map per feature. Asked when a load fails, so that an old kernel gets "this
// kernel lacks bpf_loop (Linux 5.17)" rather than the verifier's "invalid func unknown#181".
// Versions: the kernel release that added each (docs/datapath.md, kernels).
import type { Libbpf } from './types.ts';

export interface KernelFeature {
  readonly name: string;
  readonly kind: 'helper' | 'map';
  /** enum bpf_func_id or enum bpf_map_type (linux/bpf.h) */
  readonly id: number;
  /** the Linux release that added it */
  readonly since: string;
}

const BPF_PROG_TYPE_SCHED_CLS = 3;

/** every helper and map type the templates use (bpf-templates; test/loader holds the list to them) */
export const REQUIRED: readonly KernelFeature[] = [
  { name: 'bpf_loop', kind: 'helper', id: 181, since: '5.17' },
  { name: 'ring buffer map', kind: 'map', id: 27, since: '5.8' },
  { name: 'bpf_ringbuf_reserve', kind: 'helper', id: 131, since: '5.8' },
  { name: 'bpf_ringbuf_submit', kind: 'helper', id: 132, since: '5.8' },
  { name: 'bpf_ringbuf_query', kind: 'helper', id: 134, since: '5.8' },
  { name: 'bpf_skb_adjust_room', kind: 'helper', id: 50, since: '4.13' },
  { name: 'LPM trie map', kind: 'map', id: 11, since: '4.11' },
  { name: 'LRU hash map', kind: 'map', id: 9, since: '4.10' },
  { name: 'bpf_skb_change_tail', kind: 'helper', id: 38, since: '4.9' },
  { name: 'per-CPU array map', kind: 'map', id: 6, since: '4.6' },
  { name: 'bpf_csum_diff', kind: 'helper', id: 28, since: '4.6' },
  { name: 'bpf_skb_load_bytes', kind: 'helper', id: 26, since: '4.5' },
  { name: 'bpf_clone_redirect', kind: 'helper', id: 13, since: '4.2' },
  { name: 'bpf_l4_csum_replace', kind: 'helper', id: 11, since: '4.1' },
  { name: 'bpf_l3_csum_replace', kind: 'helper', id: 10, since: '4.1' },
  { name: 'bpf_skb_store_bytes', kind: 'helper', id: 9, since: '4.1' },
  { name: 'bpf_ktime_get_ns', kind: 'helper', id: 5, since: '4.1' },
  { name: 'bpf_get_prandom_u32', kind: 'helper', id: 7, since: '4.1' },
];

/** the oldest kernel the datapath can load on: the newest of REQUIRED */
export const MIN_KERNEL = '5.17';

/** REQUIRED features this kernel lacks (a probe that cannot tell counts as present). */
export function missingFeatures(lib: Libbpf): KernelFeature[] {
  return REQUIRED.filter((f) => (f.kind === 'helper' ? lib.probeHelper(BPF_PROG_TYPE_SCHED_CLS, f.id) : lib.probeMapType(f.id)) === 0);
}
