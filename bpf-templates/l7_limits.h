/* l7bpf limits. each has a default here; codegen/emit/limits.ts holds the
 * same values and refuses an IR that exceeds them (typed error), so these
 * static asserts only catch a hand-edited policy header. */
#ifndef L7_LIMITS_H
#define L7_LIMITS_H

/* bytes of request line + header block inspected per request */
#ifndef L7_INSPECT_WINDOW
#define L7_INSPECT_WINDOW 8192
#endif
/* states per generated dfa (u16 state ids) */
#ifndef L7_MAX_DFA_STATES
#define L7_MAX_DFA_STATES 4096
#endif
/* http rules (bits in a per-request rule bitset) */
#ifndef L7_MAX_HTTP_RULES
#define L7_MAX_HTTP_RULES 256
#endif
/* header requirements (one u64 bitset) */
#ifndef L7_MAX_HEADER_REQS
#define L7_MAX_HEADER_REQS 64
#endif
/* selectors (bits in an identity's selector bitset) */
#ifndef L7_MAX_SELECTORS
#define L7_MAX_SELECTORS 1024
#endif
/* port-table entries per direction */
#ifndef L7_MAX_PORT_ENTRIES
#define L7_MAX_PORT_ENTRIES 4096
#endif
/* map sizes */
#ifndef L7_FLOW_ENTRIES
#define L7_FLOW_ENTRIES 65536
#endif
#ifndef L7_L7FLOW_ENTRIES
#define L7_L7FLOW_ENTRIES 65536
#endif
#ifndef L7_IPCACHE_ENTRIES
#define L7_IPCACHE_ENTRIES 65536
#endif
#ifndef L7_IDENTITY_ENTRIES
#define L7_IDENTITY_ENTRIES 65536
#endif
/* l7 flows whose unacknowledged client bytes are kept for the retransmission check */
#ifndef L7_RING_ENTRIES
#define L7_RING_ENTRIES 16384
#endif
/* rate-limit buckets (l7_ratelimit.h), LRU: src/verdict/ratelimit.ts DEFAULT_BUCKETS */
#ifndef L7_BUCKET_ENTRIES
#define L7_BUCKET_ENTRIES 65536
#endif
/* l7 connections speaking http/2 at once (their framing and hpack state, l7_http2.h) */
#ifndef L7_H2_CONNS
#define L7_H2_CONNS 4096
#endif
/* endpoint interfaces with source validation */
#ifndef L7_IFACE_ENTRIES
#define L7_IFACE_ENTRIES 4096
#endif
#ifndef L7_RINGBUF_BYTES
#define L7_RINGBUF_BYTES (256 * 1024)
#endif

/* bytes loaded from the skb per scan step; power of two */
#define L7_CHUNK 256
/* longest fast run per call (a longer run continues in the next call) */
#define L7_RUN_MAX 32
/* client bytes kept per l7 flow for the retransmission check; power of two */
#define L7_RING_BYTES 2048
/* largest payload walked per skb (gso/gro super-packets) */
#define L7_MAX_PAYLOAD 65536

#endif
