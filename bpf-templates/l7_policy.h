/* connection decision: identities from ipcache, selector bits, port table */
#ifndef L7_POLICY_EVAL_H
#define L7_POLICY_EVAL_H

#include "l7_maps.h"

#define L7_ID_WORLD 2	/* cilium's reserved identity for addresses ipcache does not know */


static __always_inline __u32 l7_identity(const __u8 *addr)
{
	struct l7_ipcache_key k = { .prefixlen = 128 };
	struct l7_ipcache_val *v;

	__builtin_memcpy(k.addr, addr, 16);
	v = bpf_map_lookup_elem(&ipcache, &k);
	return v ? v->identity : L7_ID_WORLD;
}

const struct l7_sel_bits l7_no_bits = {};

static __always_inline int l7_has_bit(const struct l7_sel_bits *b, __u32 idx)
{
	__u32 w = idx >> 6;

	if (w >= L7_SEL_WORDS)
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

/* folds one matching entry into the answer: deny > allow > l7 sets.
 * q->seen lives in memory (not in registers) so the verifier's states at
 * the loop head do not multiply with every combination of flags. */
static __always_inline void l7_fold(const struct l7_port_entry *e, struct l7_conn_q *q)
{
	__u32 bit = e->kind == L7_ACT_DENY ? 4 : e->kind == L7_ACT_ALLOW ? 2 : 1;

	if (e->kind == L7_ACT_L7) {
		if (e->set >= L7_NUM_L7_SETS)
			return;
#pragma unroll
		for (int w = 0; w < L7_RULE_WORDS; w++)
			q->rules[w] |= l7_set_rules[e->set][w];
	}
	/* the first entry of the strongest kind names the rule */
	if (bit > q->seen)
		q->rule = e->rule;
	q->seen |= bit;
	/* force a reload next iteration: keeps these out of the verifier's precise state */
	asm volatile("" ::: "memory");
}

/* whether the local endpoint matches one of n selectors (n a constant: 0 costs nothing) */
static __always_inline __u32 l7_any_bit(const struct l7_sel_bits *lb, const __u16 *sel, __u32 n)
{
	__u32 any = 0, i;

#pragma clang loop unroll(disable)
	for (i = 0; i < n; i++)
		any |= l7_has_bit(lb, sel[i]);
	return any;
}

/* folds the matching entries [from, to) of a direction's port table */
static __always_inline void l7_fold_range(const struct l7_port_entry *entries, __u32 from, __u32 to,
					  const struct l7_sel_bits *lb, const struct l7_sel_bits *pb, struct l7_conn_q *q)
{
	__u32 i;

#pragma clang loop unroll(disable)
	for (i = from; i < to; i++)
		if (l7_entry_matches(&entries[i], lb, pb, q))
			l7_fold(&entries[i], q);
}

/* deploy --audit (the deploy's l7cfg): every denial passes, reported */
static __always_inline __u8 l7_audit_on(void)
{
	__u32 zero = 0;
	const struct l7_config *c = bpf_map_lookup_elem(&l7cfg, &zero);

	return c && c->audit;
}

/* one direction's decision inputs. audit mode (docs/semantics.md): the endpoint-direction is
 * audited when only audited policies select it there; where an enforced policy selects it, the
 * audited policies' entries (the table's tail, from NUM_ENFORCING on) are left out */
#define L7_DECIDE_DIR(D, d)                                                                                \
	do {                                                                                              \
		__u32 strict = L7_##D##_NUM_AUDITED && l7_any_bit(lb, l7_##d##_strict, L7_##D##_NUM_STRICT); \
		__u8 audited = L7_##D##_NUM_AUDITED && !strict &&                                       \
			       l7_any_bit(lb, l7_##d##_audited, L7_##D##_NUM_AUDITED);                  \
		q->enforced = l7_any_bit(lb, l7_##d##_enforced, L7_##D##_NUM_ENFORCED);                  \
		if (audited)                                                                              \
			q->enforced |= l7_any_bit(lb, l7_##d##_audit_enforced, L7_##D##_NUM_AUDIT_ENFORCED); \
		q->audit |= audited;                                                                      \
		l7_fold_range(l7_##d##_entries, 0, L7_##D##_NUM_ENFORCING, lb, pb, q);                   \
		if (!strict)                                                                              \
			l7_fold_range(l7_##d##_entries, L7_##D##_NUM_ENFORCING, L7_##D##_NUM_ENTRIES, lb, pb, q); \
	} while (0)

/* global (non-static) so the verifier checks it once, not per call site */
__attribute__((noinline)) int l7_decide_conn(struct l7_conn_q *q)
{
	const struct l7_sel_bits *lb, *pb;
	__u32 local_id, peer_id;

	if (!q)
		return 0;
	/* keys on the stack: before 6.2 a map key may not point into a global
	 * function's argument memory (docs/datapath.md, kernels) */
	local_id = l7_identity(q->local);
	peer_id = l7_identity(q->peer);
	q->local_id = local_id;
	q->peer_id = peer_id;
	lb = bpf_map_lookup_elem(&selectors, &local_id);
	pb = bpf_map_lookup_elem(&selectors, &peer_id);
	/* non-null from here on: a pointer that may be null would double the
	 * verifier's states in every iteration below */
	if (!pb)
		pb = &l7_no_bits;
	q->rule = -1;
	q->reason = L7_REASON_NONE;
	q->seen = 0;
	q->enforced = 0;
	q->audit = l7_audit_on();
#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++)
		q->rules[w] = 0;
	if (!lb) {
		/* the local endpoint matches no selector: nothing enforces, nothing matches */
		q->kind = L7_FLOW_ALLOW;
		return 0;
	}
	if (q->dir == L7_DIR_INGRESS)
		L7_DECIDE_DIR(INGRESS, ingress);
	else
		L7_DECIDE_DIR(EGRESS, egress);
	if (q->seen & 4) {
		q->kind = L7_FLOW_DENY;
		q->reason = L7_REASON_POLICY_DENY;
	} else if (q->seen & 2) {
		q->kind = L7_FLOW_ALLOW;
	} else if (q->seen & 1) {
		/* without default deny, http rules only observe (codegen/ir/eval.ts decideIR) */
		q->kind = q->enforced ? L7_FLOW_L7 : L7_FLOW_ALLOW;
	} else if (q->enforced) {
		q->kind = L7_FLOW_DENY;
		q->reason = L7_REASON_NO_MATCH;
	} else {
		q->kind = L7_FLOW_ALLOW;
	}
	return 0;
}

#endif
