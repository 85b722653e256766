/* ring-buffer events (struct l7_event, generated from codegen/emit/event.ts) */
#ifndef L7_EVENTS_H
#define L7_EVENTS_H

#include "l7_maps.h"
#include "l7_parse.h"

#define EVENT_LINE_BYTES sizeof(((struct l7_event *)0)->line)

/* fills the per-packet part of an event */
static __always_inline void l7_ev_init(struct l7_event *ev, struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir)
{
	__builtin_memset(ev, 0, sizeof(*ev));
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
	ev->seq = p->seq;
	ev->rule = -1;
	ev->http_rule = -1;
}

static __always_inline void l7_ev_send(struct l7_event *ev, __u8 kind, __u8 verdict, __u16 reason)
{
	ev->kind = kind;
	ev->verdict = verdict;
	ev->reason = reason;
	/* fails only when the ring buffer is full (no reader, or a slow one) */
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev), 0))
		l7_count(L7_CNT_EVENTS_LOST);
}

/* an event about flow f's packet being scanned (sc->pkt) */
static __always_inline void l7_ev_scan(struct l7_scratch *sc, struct __sk_buff *skb, const struct l7_flow *f)
{
	l7_ev_init(&sc->ev, skb, &sc->pkt, sc->dir);
	sc->ev.local_id = f->local_id;
	sc->ev.peer_id = f->peer_id;
	sc->ev.rule = f->rule;
	sc->ev.seq = sc->ev_seq;
}

#endif
