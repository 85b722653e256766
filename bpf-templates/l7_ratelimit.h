/* rate limits (docs/datapath.md, "Rate limits"): a request that only rules with a limit match
 * takes a token from the first of their buckets that has one. a bucket is one u64, its
 * theoretical arrival time (GCRA, as src/verdict/ratelimit.ts): a token is there while it runs
 * at most tau ahead of now, and taking one moves it an interval on, with one compare-and-swap,
 * so two cpus cannot both take the last token */
#ifndef L7_RATELIMIT_H
#define L7_RATELIMIT_H

#include "l7_http1.h"

/* what l7_rl_judge returns besides a rule (>= 0) or -1 (no rule matched) */
#define L7_RL_LIMITED 0x10000	/* | the first matching rule: no token anywhere */
#define L7_RL_SHADOW 0x20000	/* | a shadow rule without a token: passes, reported */
#define L7_RL_TRIES 4		/* compare-and-swap attempts before a request counts as limited */

/* the clock buckets run on, read when a bucket is asked: the test build (compile --test-clock)
 * takes the packet's skb->tstamp (l7bpf.bpf.c keeps it in scratch: BPF_PROG_TEST_RUN sets it from
 * its ctx, so a replayed capture's times drive the buckets) */
#ifdef L7_TEST_CLOCK
#define L7_NOW(sc) ((sc)->now)
#else
#define L7_NOW(sc) bpf_ktime_get_ns()
#endif

struct l7_bucket_key {
	__u64 id;	/* struct l7_rl_rule.id */
	__u64 subject;	/* source identity, 0 (the rule's), or the connection's tag */
};

/* kept across deploys (a shared pinned map): a rule that did not change keeps its id, and so
 * its buckets; the least recently used go first when it is full */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, L7_BUCKET_ENTRIES);
	__type(key, struct l7_bucket_key);
	__type(value, __u64);
} buckets SEC(".maps");

/* per-cpu, per rate-limited rule: [2i] requests limited, [2i + 1] shadow passes (status) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * (L7_NUM_RL > 0 ? L7_NUM_RL : 1));
	__type(key, __u32);
	__type(value, __u64);
} rl_counts SEC(".maps");


/* takes a token from limit i's bucket for this flow's request at now; 1 when taken */
static __always_inline int l7_rl_take(const struct l7_flow *f, const struct l7_rl_rule *l, __u64 now)
{
	struct l7_bucket_key k = { .id = l->id };
	__u64 *tat, t, base;

	if (l->per == L7_RL_PER_SOURCE)
		k.subject = f->dir == L7_DIR_EGRESS ? f->local_id : f->peer_id;	/* the client's */
	else if (l->per == L7_RL_PER_CONN)
		k.subject = ((__u64)f->ring_tag << 32) | f->ring_id;
#pragma clang loop unroll(disable)
	for (int i = 0; i < L7_RL_TRIES; i++) {
		tat = bpf_map_lookup_elem(&buckets, &k);
		if (!tat) {
			t = now + l->interval;
			if (!bpf_map_update_elem(&buckets, &k, &t, BPF_NOEXIST))
				return 1;
			continue;	/* another cpu made it first: take from it */
		}
		t = *(volatile __u64 *)tat;
		base = (__s64)(t - now) > 0 ? t : now;
		if (base - now > l->tau)
			return 0;
		if (__sync_val_compare_and_swap(tat, t, base + l->interval) == t)
			return 1;
	}
	return 0;
}

/* limit i for a request whose final dfa states are method | path << 16 and host | h2 << 16 (a
 * global function takes five arguments; h2: grpc-only rules count too): 0 its rule does not
 * match, 1 a token taken, 2 no token. global, as l7_rl_judge: the two frames stay small, the
 * deepest call chain within 512 bytes (6.1; docs/datapath.md, kernels) */
__attribute__((noinline)) int l7_rl_try(struct l7_flow *f, __u32 i, __u32 mp, __u32 oh, __u64 sat)
{
	__u32 zero = 0, r, w, m = mp & 0xffff, p = mp >> 16, o = oh & 0xffff, h2 = oh >> 16;
	const struct l7_rl_rule *l;
	struct l7_scratch *sc;
	__u64 bit, hdrs;

	if (!f || i >= L7_NUM_RL)
		return 0;
	l = &l7_rl_rules[i];
	r = l->rule;
	asm volatile("" : "+r"(r));	/* the check below is the one the verifier sees */
	if (r >= L7_NUM_HTTP_RULES)
		return 0;
	hdrs = l7_rule_hdrs[r];
	w = r >> 6;
	bit = 1ULL << (r & 63);
	if (w >= L7_RULE_WORDS || !(f->l7rules[w] & bit) || (!h2 && !(l7_h1_rules[w] & bit)))
		return 0;
	if (!(L7_DFA_ACCEPT(method, L7_METHOD, m, w, L7_RULE_WORDS) & L7_DFA_ACCEPT(path, L7_PATH, p, w, L7_RULE_WORDS) &
	      L7_DFA_ACCEPT(host, L7_HOST, o, w, L7_RULE_WORDS) & bit) ||
	    (hdrs & ~sat))
		return 0;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 2;
	return l7_rl_take(f, l, L7_NOW(sc)) ? 1 : 2;
}

/* a request only rules with a limit match (the free ones were asked first, l7_first_rule):
 * the first matching rule with a token admits it; else a matching shadow rule lets it pass;
 * else the first matching rule limits it. global: verified once */
__attribute__((noinline)) int l7_rl_judge(struct l7_flow *f, __u32 mp, __u32 oh, __u64 sat)
{
	int first = -1, shadow = -1, r;
	__u32 i, fi = 0, si = 0;

	if (!f)
		return -1;
#pragma clang loop unroll(disable)
	for (i = 0; i < L7_NUM_RL; i++) {
		r = l7_rl_try(f, i, mp, oh, sat);
		if (!r)
			continue;
		if (first < 0) {
			first = l7_rl_rules[i].rule;
			fi = i;
		}
		if (r == 1)
			return l7_rl_rules[i].rule;
		if (l7_rl_rules[i].shadow && shadow < 0) {
			shadow = l7_rl_rules[i].rule;
			si = i;
		}
	}
	if (first < 0)
		return -1;
	if (shadow >= 0) {
		l7_count_in(&rl_counts, 2 * si + 1);
		return L7_RL_SHADOW | shadow;
	}
	l7_count_in(&rl_counts, 2 * fi);
	return L7_RL_LIMITED | first;
}

/* the admitting rule of a decision (l7_first_rule, then l7_rl_judge), or -1; *why: the event's
 * reason (RATE_LIMITED on a shadow pass) or the denial's */
static __always_inline int l7_rl_split(int r, __u16 *why)
{
	if (r < 0)
		*why = L7_REASON_L7_NO_RULE;
	else if (r & L7_RL_LIMITED)
		*why = L7_REASON_RATE_LIMITED;
	else if (r & L7_RL_SHADOW)
		*why = L7_REASON_RATE_LIMITED;
	else
		*why = L7_REASON_NONE;
	return r < 0 ? r : r & 0xffff;
}

#endif
