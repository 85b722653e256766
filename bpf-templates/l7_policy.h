/* connection decision: identities from ipcache, selector bits, port table */
#ifndef L7_POLICY_EVAL_H
#define L7_POLICY_EVAL_H

#include "l7_maps.h"

#define L7_ID_WORLD 2	/* cilium's reserved identity for addresses ipcache does not know */

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
	__u8 pad;
	__u16 reason;
	__s32 rule;
	__u64 rules[L7_RULE_WORDS];
};

static __always_inline __u32 l7_identity(const __u8 *addr)
{
	struct l7_ipcache_key k = { .prefixlen = 128 };
	struct l7_ipcache_val *v;

	__builtin_memcpy(k.addr, addr, 16);
	v = bpf_map_lookup_elem(&ipcache, &k);
	return v ? v->identity : L7_ID_WORLD;
}

static __always_inline int l7_has_bit(const struct l7_sel_bits *b, __u32 idx)
{
	__u32 w = idx >> 6;

	if (!b || w >= L7_SEL_WORDS)
		return 0;
	return (b->w[w] >> (idx & 63)) & 1;
}

static __always_inline int l7_entry_matches(const struct l7_port_entry *e, const struct l7_sel_bits *lb,
					    const struct l7_sel_bits *pb, struct l7_conn_q *q)
{
	if (q->port < e->port_lo || q->port > e->port_hi)
		return 0;
	if (e->proto && e->proto != q->proto)
		return 0;
	if (!l7_has_bit(lb, e->local))
		return 0;
	return e->peer < 0 || l7_has_bit(pb, (__u32)e->peer);
}

/* folds one matching entry into the answer: deny > allow > l7 sets */
static __always_inline void l7_fold(const struct l7_port_entry *e, struct l7_conn_q *q, int *seen)
{
	if (e->kind == L7_ACT_DENY) {
		if (seen[0] == 0)
			q->rule = e->rule;
		seen[0] = 1;
	} else if (e->kind == L7_ACT_ALLOW) {
		if (seen[1] == 0 && seen[0] == 0)
			q->rule = e->rule;
		seen[1] = 1;
	} else if (e->set < L7_NUM_L7_SETS) {
		if (seen[0] == 0 && seen[1] == 0 && seen[2] == 0)
			q->rule = e->rule;
		seen[2] = 1;
#pragma unroll
		for (int w = 0; w < L7_RULE_WORDS; w++)
			q->rules[w] |= l7_set_rules[e->set][w];
	}
}

/* global (non-static) so the verifier checks it once, not per call site */
__attribute__((noinline)) int l7_decide_conn(struct l7_conn_q *q)
{
	const struct l7_sel_bits *lb, *pb;
	int seen[3] = { 0, 0, 0 };
	int enforced = 0;
	__u32 i;

	if (!q)
		return 0;
	q->local_id = l7_identity(q->local);
	q->peer_id = l7_identity(q->peer);
	lb = bpf_map_lookup_elem(&selectors, &q->local_id);
	pb = bpf_map_lookup_elem(&selectors, &q->peer_id);
	q->rule = -1;
	q->reason = L7_REASON_NONE;
#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++)
		q->rules[w] = 0;
	if (q->dir == L7_DIR_INGRESS) {
		for (i = 0; i < L7_INGRESS_NUM_ENFORCED; i++)
			enforced |= l7_has_bit(lb, l7_ingress_enforced[i]);
		for (i = 0; i < L7_INGRESS_NUM_ENTRIES; i++)
			if (l7_entry_matches(&l7_ingress_entries[i], lb, pb, q))
				l7_fold(&l7_ingress_entries[i], q, seen);
	} else {
		for (i = 0; i < L7_EGRESS_NUM_ENFORCED; i++)
			enforced |= l7_has_bit(lb, l7_egress_enforced[i]);
		for (i = 0; i < L7_EGRESS_NUM_ENTRIES; i++)
			if (l7_entry_matches(&l7_egress_entries[i], lb, pb, q))
				l7_fold(&l7_egress_entries[i], q, seen);
	}
	if (seen[0]) {
		q->kind = L7_FLOW_DENY;
		q->reason = L7_REASON_POLICY_DENY;
	} else if (seen[1]) {
		q->kind = L7_FLOW_ALLOW;
	} else if (seen[2]) {
		q->kind = L7_FLOW_L7;
	} else if (enforced) {
		q->kind = L7_FLOW_DENY;
		q->reason = L7_REASON_NO_MATCH;
	} else {
		q->kind = L7_FLOW_ALLOW;
	}
	return 0;
}

#endif
