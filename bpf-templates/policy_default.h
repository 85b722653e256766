/* default policy header: no selectors, no rules (everything allowed).
 * lets the templates compile alone; codegen/emit writes the real one with
 * the same names (see docs/datapath.md, "generated header contract"). */
#ifndef L7_POLICY_H
#define L7_POLICY_H

#include "l7_types.h"

#define L7_POLICY_HASH "default"
/* 32 bits of the hash, stored in each flow entry (never 0) */
#define L7_POLICY_ID 0x1U
#define L7_NUM_SELECTORS 0
#define L7_SEL_WORDS 1
#define L7_NUM_HTTP_RULES 0
#define L7_RULE_WORDS 1
#define L7_NUM_HDR_REQS 0
#define L7_NUM_L7_SETS 0
/* some rule names the field: its dfa is stepped (else every state accepts every rule) */
#define L7_NEED_METHOD 0
#define L7_NEED_PATH 0
#define L7_NEED_HOST 0

#define L7_INGRESS_NUM_ENFORCED 0
#define L7_INGRESS_NUM_ENTRIES 0
#define L7_EGRESS_NUM_ENFORCED 0
#define L7_EGRESS_NUM_ENTRIES 0
const __u16 l7_ingress_enforced[1] = { 0 };
const struct l7_port_entry l7_ingress_entries[1] = { { 0 } };
const __u16 l7_egress_enforced[1] = { 0 };
const struct l7_port_entry l7_egress_entries[1] = { { 0 } };
/* audit mode (l7_policy.h): entries of enforced policies come first, NUM_ENFORCING of them;
 * selectors of audited specs, their default-deny ones, and enforced specs' (strict) */
#define L7_INGRESS_NUM_ENFORCING 0
#define L7_EGRESS_NUM_ENFORCING 0
#define L7_INGRESS_NUM_AUDITED 0
#define L7_INGRESS_NUM_AUDIT_ENFORCED 0
#define L7_INGRESS_NUM_STRICT 0
#define L7_EGRESS_NUM_AUDITED 0
#define L7_EGRESS_NUM_AUDIT_ENFORCED 0
#define L7_EGRESS_NUM_STRICT 0
const __u16 l7_ingress_audited[1] = { 0 };
const __u16 l7_ingress_audit_enforced[1] = { 0 };
const __u16 l7_ingress_strict[1] = { 0 };
const __u16 l7_egress_audited[1] = { 0 };
const __u16 l7_egress_audit_enforced[1] = { 0 };
const __u16 l7_egress_strict[1] = { 0 };

/* per l7 set: rule bitset */
const __u64 l7_set_rules[1][L7_RULE_WORDS] = { { 0 } };
/* rules usable by http/1 (not grpc-only) */
const __u64 l7_h1_rules[L7_RULE_WORDS] = { 0 };
/* rate limits (l7_ratelimit.h): none; every rule admits without a bucket */
#define L7_NUM_RL 0
const struct l7_rl_rule l7_rl_rules[1] = { { 0 } };
const __u64 l7_rl_free[L7_RULE_WORDS] = { ~0ULL };
const __u64 l7_h1_free[L7_RULE_WORDS] = { 0 };
/* per rule: header requirements that must all hold */
const __u64 l7_rule_hdrs[1] = { 0 };
/* header requirements with a value (the others need presence only) */
#define L7_HDR_VALUED 0x0ULL

/* dfas: two states (dead, start), one class, no patterns */
#define L7_DFA_DEFAULT(NAME, WORDS)                                        \
	const __u8 l7_##NAME##_classes[256] = { 0 };                \
	const __u16 l7_##NAME##_trans[2] = { 0, 0 };               \
	const __u64 l7_##NAME##_accept[2 * (WORDS)] = { 0 };
#define L7_METHOD_STATES 2
#define L7_METHOD_CLASSES 1
L7_DFA_DEFAULT(method, L7_RULE_WORDS)
#define L7_PATH_STATES 2
#define L7_PATH_CLASSES 1
L7_DFA_DEFAULT(path, L7_RULE_WORDS)
#define L7_HOST_STATES 2
#define L7_HOST_CLASSES 1
L7_DFA_DEFAULT(host, L7_RULE_WORDS)
#define L7_HNAME_STATES 2
#define L7_HNAME_CLASSES 1
L7_DFA_DEFAULT(hname, 1)
#define L7_HVALUE_STATES 2
#define L7_HVALUE_CLASSES 1
L7_DFA_DEFAULT(hvalue, 1)

#endif
