/* ring-buffer events (struct l7_event, generated from codegen/emit/event.ts), written
 * straight into bpf_ringbuf_reserve'd memory: no scratch copy, and nothing is built
 * when the ring buffer is full */
#ifndef L7_EVENTS_H
#define L7_EVENTS_H

#include "l7_maps.h"
#include "l7_parse.h"

#define EVENT_LINE_BYTES sizeof(((struct l7_event *)0)->line)

/* reserves an event and fills its per-packet part (ids of the flow, seq); NULL when
 * the ring buffer is full (counted). the caller must l7_ev_submit a non-NULL event. */
static __always_inline struct l7_event *l7_ev_open(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir,
						   __u32 local_id, __u32 peer_id, __s32 rule, __u32 seq)
{
	struct l7_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		/* only when the ring buffer is full (no reader, or a slow one) */
		l7_count(L7_CNT_EVENTS_LOST);
		return 0;
	}
	/* reserved memory is not zeroed: every field is written */
	__builtin_memset(ev->line, 0, sizeof(ev->line));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = skb->ifindex;
	ev->dir = dir;
	ev->family = p->family;
	ev->proto = p->proto;
	ev->tcp_flags = p->flags;
	ev->sport = bpf_ntohs(p->sport);
	ev->dport = bpf_ntohs(p->dport);
	__builtin_memcpy(ev->saddr, p->saddr, 16);
	__builtin_memcpy(ev->daddr, p->daddr, 16);
	ev->local_id = local_id;
	ev->peer_id = peer_id;
	ev->rule = rule;
	ev->http_rule = -1;
	ev->seq = seq;
	ev->line_len = 0;
	ev->version = 0;
	ev->stream = 0;
	ev->status = 0;
	ev->msg = 0;
	return ev;
}

static __always_inline void l7_ev_submit(struct l7_event *ev, __u8 kind, __u8 verdict, __u16 reason)
{
	ev->kind = kind;
	ev->verdict = verdict;
	ev->reason = reason;
	bpf_ringbuf_submit(ev, 0);
}

/* a whole event without a request line */
static __always_inline void l7_ev_send(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir, __u32 local_id,
				       __u32 peer_id, __s32 rule, __u8 kind, __u8 verdict, __u16 reason)
{
	struct l7_event *ev = l7_ev_open(skb, p, dir, local_id, peer_id, rule, p->seq);

	if (ev)
		l7_ev_submit(ev, kind, verdict, reason);
}

#endif
