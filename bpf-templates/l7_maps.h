/* maps and per-flow state */
#ifndef L7_MAPS_H
#define L7_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "l7_limits.h"
#include "l7_parse.h"
#include "event.generated.h"
#include "layouts.generated.h"

/* ipcache: lpm trie keyed by prefix length + 16 address bytes (struct l7_ipcache_key,
 * layouts.generated.h): v4 addresses as ::ffff:a.b.c.d, so one trie serves both families. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, L7_IPCACHE_ENTRIES);
	__type(key, struct l7_ipcache_key);
	__type(value, struct l7_ipcache_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ipcache SEC(".maps");

/* selectors: identity -> bitset of selector indices it matches */
struct l7_sel_bits {
	__u64 w[L7_SEL_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, L7_IDENTITY_ENTRIES);
	__type(key, __u32);
	__type(value, struct l7_sel_bits);
} selectors SEC(".maps");

/* flows are keyed by the local endpoint (the pod whose veth the hook is on) and
 * the remote one: both directions of a connection find its entry with one lookup,
 * and a connection opened from the other end on the same tuple finds it too (its
 * syn re-decides). a pod talking to a pod on the same node keeps two entries (one
 * per veth) in the one shared map. 38 bytes: the 40-byte layout before it keyed
 * by client, server and direction, so a deploy never reuses such a map. */
struct l7_flow_key {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;	/* network order */
	__u16 rport;
	__u8 family;
	__u8 proto;
};

/* resumable http/1 request parser (see l7_http1.h) */
struct l7_h1 {
	__u8 st;	/* H_* */
	__u8 seg;	/* path canonical-form checker state */
	__u8 pct;	/* percent-escape position 0..2 */
	__u8 pcthi;	/* first hex digit of an escape */
	__u32 flags;	/* HF_* */
	__u8 hkind;	/* special header being read: HK_* */
	__u8 spec;	/* special-name candidates while reading a name */
	__u16 pos;	/* position in the current literal / token */
	__u16 mst;	/* method dfa */
	__u16 kst;	/* known-method dfa */
	__u16 pst;	/* path dfa */
	__u16 hst;	/* host dfa, current */
	__u16 hcommit;	/* host dfa, before trailing whitespace */
	__u16 nst;	/* header-name dfa */
	__u16 vst;	/* header-value dfa, current */
	__u16 vcommit;	/* header-value dfa, before trailing whitespace */
	__u32 hdr_len;	/* bytes of request line + headers */
	__u32 req_seq;	/* seq of the request's first byte */
	__u64 hnames;	/* header requirements naming the current line's header */
	__u64 hseen;	/* requirements whose header occurred */
	__u64 hdup;	/* ... more than once */
	__u64 hval;	/* ... with the required value */
	__u64 clen;	/* content-length / body or chunk bytes left */
};

#define L7_FLOW_ALLOW 1
#define L7_FLOW_L7 2
#define L7_FLOW_DENY 3		/* l3/l4 deny: drop everything */
#define L7_FLOW_RESET 4		/* l7 deny happened: drop the rest */
#define L7_FLOW_ANSWER_DUE 5	/* a denied request waits for the responses before it (l7_http1_resp.h) */
#define L7_FLOW_ANSWERED 6	/* the denied request was answered: drop the rest but for control */

/* l7_flow.tcp: what the flow knows of the connection's state (l7_tcp.h) */
#define L7_TCP_SRV_SEEN 1	/* the server's syn-ack passed: srv_nxt is known */
#define L7_TCP_CLI_FIN 2	/* the client's fin passed in sequence: no more client bytes */
#define L7_TCP_FIN_ACKED 4	/* ... and the server acknowledged it */
#define L7_TCP_SRV_FIN 8
#define L7_TCP_CLOSED 16	/* both ends closed, or a reset the receiver accepts: a syn may reopen */
#define L7_TCP_SRV_SENT 32	/* the server sent past its syn (data, fin): srv_nxt is past its isn + 1 */

/* the server's http/1 responses: where each ends in the server's stream, so that the answer
 * to a denied request goes after the responses to the requests before it (l7_http1_resp.h) */
struct l7_resp {
	__u8 st;	/* R_* */
	__u8 pos;	/* position in a literal, digits read */
	__u16 status;
	__u32 flags;	/* RF_* */
	__u32 seq;	/* the next server byte to read */
	__u32 end;	/* past the last complete response: where an answer may go */
	__u32 reqs;	/* allowed requests whose heads went on to the server */
	__u32 resps;	/* final responses complete */
	__u64 head;	/* bit i % 64: request i was HEAD (its response has no body) */
	__u64 left;	/* body or chunk bytes left, or the content-length being read */
};

/* stage 3 (l7_splice.h): client bytes cut out of the client->server stream and answers inserted
 * into the server->client one. sequence numbers in the client's space (its own bytes, and its
 * view of the server's: what the server sent plus the answers); the server's space differs by
 * the totals past the latest cut and insert, by the totals before them short of those */
struct l7_ofs {
	__u32 cut;	/* client bytes removed, every cut */
	__u32 cut_lo;	/* the latest cut: client bytes [cut_lo, cut_hi) */
	__u32 cut_hi;
	__u32 ins;	/* bytes inserted into the server's stream, every answer */
	__u32 ins_lo;	/* the latest answer: [ins_lo, ins_hi) in the client's view */
	__u32 ins_hi;
	__u16 srv_win;	/* the window field of the server's last segment: the answer's */
	__u8 on;	/* OFS_* */
	__u8 pad;
	__u32 win;	/* http/2: the cut DATA octets the answer's WINDOW_UPDATE gives back */
};

#define OFS_ON 1	/* a cut happened: every later packet is translated both ways */
#define OFS_DUE 2	/* the latest cut's answer waits for the responses before it */

struct l7_flow {
	__u8 kind;	/* L7_FLOW_* */
	__u8 family;
	__u8 dir;	/* L7_DIR_*: the local endpoint's policy direction that decided (egress:
			 * it opened the connection); packets the other way are replies */
	__u8 tcp;	/* L7_TCP_*, tcp flows only */
	__u32 local_id;
	__u32 peer_id;
	__s32 rule;
	__u32 next_seq;	/* next client byte to inspect */
	__u32 policy;	/* L7_POLICY_ID of the object that decided the flow */
	/* what the receiving tcp accepts (l7_tcp.h); sequence numbers, host order */
	__u32 base;	/* the client's isn + 1: no client byte lies before it */
	__u32 una;	/* client bytes the server has acknowledged */
	__u32 srv_nxt;	/* past the last sequence number the server sent */
	__u32 ack_hi;	/* the highest acknowledgement the client sent */
	__u32 syn_win;	/* the window of the client's syn (a floor of the server's max_window) */
	__u32 ring_lo;	/* client bytes before this are not in the ring (rings map) */
	__u32 body_lo;	/* content-length body bytes passed without a ring copy: [lo, hi) */
	__u32 body_hi;
	__u32 wr_hi;	/* past the last byte copied into the ring: older copies hold from wr_hi - ring size */
	__u32 ring_id;	/* the flow's slot in `rings` */
	__u32 ring_tag;	/* ... which is the flow's while the slot's owner is this tag */
	__u32 ifindex;	/* the endpoint interface the flow was opened on (source validation) */
	__u64 l7rules[L7_RULE_WORDS];	/* http rules the connection may use */
	struct l7_h1 h1;
	struct l7_resp rs;
	/* a denied request's answer (l7_answer in l7_reset.h): the client byte the server's reset carries,
	 * the client bytes the answer acknowledges, the reason */
	__u32 ans_rst;
	__u32 ans_ack;
	__u16 ans_reason;
	__u8 audit;	/* audited (q->audit at the decision): denials pass, reported (VERDICT_AUDIT) */
	__u8 ans_pad;
	__u32 ans_stream;	/* http/2: the denied stream */
	struct l7_ofs ofs;
};

/* flows without a stream to follow (allowed, denied at l3/l4, udp) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, L7_FLOW_ENTRIES);
	__type(key, struct l7_flow_key);
	__type(value, struct l7_flow);
} flows SEC(".maps");

/* l7 flows (and the ones an l7 deny reset) in a map of their own: a flood of other flows
 * (a udp scan from any pod) cannot evict a live l7 flow, whose stream the framer could not
 * rejoin; the same key, one lookup more for packets of other flows */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, L7_L7FLOW_ENTRIES);
	__type(key, struct l7_flow_key);
	__type(value, struct l7_flow);
} l7flows SEC(".maps");

/* the last L7_RING_BYTES client bytes of an l7 flow, at index seq % L7_RING_BYTES: a
 * retransmission of bytes the server has not acknowledged must carry the bytes that were
 * judged (l7_tcp.h). the tail is slack for the 256-byte chunk copies. an array: a flow
 * is handed a slot at its syn (in turn, l7_tcp_open) and tags it; a later flow given the
 * same slot takes it over (the earlier one then cannot verify a retransmission: it is
 * dropped, fail closed), which costs far less per packet than a hash lookup by the flow key. */
struct l7_ring {
	__u32 owner;	/* the ring_tag of the flow whose bytes these are */
	__u32 pad;
	__u8 b[L7_RING_BYTES + L7_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, L7_RING_ENTRIES);
	__type(key, __u32);
	__type(value, struct l7_ring);
} rings SEC(".maps");

_Static_assert((L7_RING_ENTRIES & (L7_RING_ENTRIES - 1)) == 0, "L7_RING_ENTRIES: a power of two");

/* the next ring slot to hand out (l7_tcp_open) */
__u32 l7_ring_next = 0;

/* the flow's ring, or NULL when another flow has taken its slot since */
static __always_inline struct l7_ring *l7_ring_of(const struct l7_flow *f)
{
	__u32 id = f->ring_id;	/* a stack key: 6.1 takes no other memory (a function argument's) as one */
	struct l7_ring *r = bpf_map_lookup_elem(&rings, &id);

	return r && r->owner == f->ring_tag ? r : 0;
}

/* per endpoint interface: the addresses a packet entering from it may carry (struct l7_iface) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, L7_IFACE_ENTRIES);
	__type(key, __u32);	/* ifindex */
	__type(value, struct l7_iface);
} ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, L7_RINGBUF_BYTES);
} events SEC(".maps");

/* question and answer of one connection decision */
struct l7_conn_q {
	__u8 local[16];	/* address of the policy-selected endpoint */
	__u8 peer[16];
	__u16 port;	/* host order: the server port */
	__u8 proto;
	__u8 dir;	/* L7_DIR_* */
	/* out */
	__u32 local_id;
	__u32 peer_id;
	__u8 kind;	/* L7_FLOW_ALLOW / L7 / DENY */
	__u8 audit;	/* the local endpoint-direction is audited: a denial passes, reported */
	__u16 reason;
	__s32 rule;
	__u32 seen;	/* 4 deny, 2 allow, 1 l7 matched */
	__u32 enforced;
	__u64 rules[L7_RULE_WORDS];
};

/* per-cpu scratch: the chunk buffer and the scan cursor live here, not on
 * the 512-byte stack (events are written in the ring buffer itself) */
struct l7_scratch {
	__u8 buf[L7_CHUNK + 8];	/* slack: word loads near the end stay inside */
	__u32 used;	/* bytes of buf consumed by the current step */
	__u32 off;	/* next payload byte (skb offset) */
	__u32 end;	/* end of payload (skb offset) */
	__u32 seq;	/* seq of the byte at `off` */
	__u16 reason;	/* L7_REASON_* when the scan stopped on a deny */
	__u8 stop;	/* 1 = stop, decision in reason */
	__u8 deny_verdict;	/* the request event's verdict: a denied one's (answered, dropped while due, reset,
				 * audit), else forwarded */
	__s32 http_rule;	/* last allowed http rule */
	__u32 pkt_seq;
	__u32 payload_off;	/* skb offset of this packet's tcp payload */
	__u32 ev_seq;	/* seq of the last request started in this packet, else pkt_seq */
	__u8 dir;
	__u8 deny_stream;	/* http/2: the denial is the stream's (its block judged), not the connection's */
	__u8 pad2[2];
	__u32 forget;	/* see l7_forget (l7_http1_scan.h) */
	__u64 now;	/* test build: the packet's skb->tstamp, the rate limits' clock (L7_NOW, l7_ratelimit.h) */
	/* the resent bytes [cmp_a, cmp_b) l7_resent_same compares, at skb offset cmp_off */
	__u32 cmp_off;
	__u32 cmp_a;
	__u32 cmp_b;
	__u32 pad3;
	/* the packet being scanned: events are built from it only when one is sent */
	struct l7_pkt pkt;
	struct l7_flow nf;	/* a new flow entry under construction */
	struct l7_conn_q q;	/* a connection decision under way (l7_new_flow) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l7_scratch);
} scratch SEC(".maps");

/* deploy-time settings (struct l7_config, layouts.generated.h): the deploy writes them */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l7_config);
} l7cfg SEC(".maps");

/* per-cpu counters (L7_CNT_*), summed by `l7bpf status` */
#define L7_CNT_EVENTS_LOST 0	/* ring buffer full: an event was not written */
#define L7_NUM_COUNTERS 4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, L7_NUM_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* one more in slot idx of a per-cpu u64 array */
static __always_inline void l7_count_in(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;	/* per-cpu: no atomics needed */
}

static __always_inline void l7_count(__u32 idx)
{
	l7_count_in(&counters, idx);
}

#endif
