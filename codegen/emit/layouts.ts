// The structs user space writes into the datapath's maps and its policy header, defined once.
// `generate.ts` renders them into bpf-templates/layouts.generated.h (the C structs the
// templates use) and src/loader/layouts.generated.ts (encoders the loader fills maps with);
// a test fails when either is stale, and the C side asserts every size.
import type { EventField } from './event.ts';

export interface StructLayout {
  /** C struct name without `struct ` */
  readonly name: string;
  readonly doc: string;
  /** in layout order; naturally aligned (the generator checks) */
  readonly fields: readonly StructField[];
}

export interface StructField extends EventField {
  /** C array dimensions when not one flat array, e.g. [4, 16] for `addr[4][16]` (count = their product) */
  readonly dims?: readonly number[];
  /** a C macro the first dimension is spelled with */
  readonly dimName?: string;
}

/** Addresses one endpoint interface may carry (source validation). */
export const IFACE_ADDRS = 4;

export const IPCACHE_KEY: StructLayout = {
  name: 'l7_ipcache_key',
  doc: 'lpm trie key: v4 addresses as ::ffff:a.b.c.d with prefixlen + 96, so one trie serves both families',
  fields: [
    { name: 'prefixlen', type: 'u32', doc: 'bits of addr that count, host order' },
    { name: 'addr', type: 'u8', count: 16, doc: 'network order' },
  ],
};

export const IPCACHE_VAL: StructLayout = {
  name: 'l7_ipcache_val',
  doc: 'the security identity of a prefix',
  fields: [
    { name: 'identity', type: 'u32', doc: 'numeric identity' },
    { name: 'pad', type: 'u32', doc: 'zero' },
  ],
};

export const IFACE: StructLayout = {
  name: 'l7_iface',
  doc: 'per endpoint interface: the addresses a packet entering from it may carry',
  fields: [
    { name: 'addr', type: 'u8', count: IFACE_ADDRS * 16, dims: [IFACE_ADDRS, 16], dimName: 'L7_IFACE_ADDRS', doc: 'v4 as ::ffff:a.b.c.d' },
    { name: 'n', type: 'u32', doc: 'addresses in use' },
    { name: 'pad', type: 'u32', doc: 'zero' },
  ],
};

export const PORT_ENTRY: StructLayout = {
  name: 'l7_port_entry',
  doc: "one row of a direction's port table (PolicyIR PortEntryIR), in the generated policy header",
  fields: [
    { name: 'local', type: 'u16', doc: 'selector index of the local endpoint' },
    { name: 'peer', type: 's16', doc: 'selector index of the peer, -1 any' },
    { name: 'port_lo', type: 'u16', doc: 'inclusive' },
    { name: 'port_hi', type: 'u16', doc: 'inclusive' },
    { name: 'proto', type: 'u8', doc: 'ip protocol number, 0 any' },
    { name: 'kind', type: 'u8', doc: 'L7_ACT_*' },
    { name: 'set', type: 'u16', doc: 'l7 set index when kind == L7_ACT_L7' },
    { name: 'rule', type: 'u32', doc: 'PolicyIR.rules index' },
  ],
};

export const CONFIG: StructLayout = {
  name: 'l7_config',
  doc: 'deploy-time settings of an object (map l7cfg, one entry; zero = defaults)',
  fields: [
    { name: 'answer', type: 'u32', doc: 'how a denial is answered: L7_ANSWER_* (src/net/answers.ts)' },
    { name: 'split', type: 'u32', doc: 'replay --kernel runs pieces of a frame a node would see whole: no trim (it would apply to one piece)' },
    { name: 'audit', type: 'u32', doc: 'deploy --audit: every denial passes, reported with verdict AUDIT' },
  ],
};

export const LAYOUTS: readonly StructLayout[] = [IPCACHE_KEY, IPCACHE_VAL, IFACE, PORT_ENTRY, CONFIG];
