/* types shared by the templates and the generated policy header */
#ifndef L7_TYPES_H
#define L7_TYPES_H

#include <linux/types.h>

#include "layouts.generated.h"	/* struct l7_port_entry */

#define L7_ACT_DENY 0
#define L7_ACT_ALLOW 1
#define L7_ACT_L7 2

/* a generated dfa: byte -> class, (state, class) -> state, state -> accept bits */
#define L7_DFA_DEAD 0
#define L7_DFA_START 1

/* a rule with a rate limit (l7_ratelimit.h): its bucket id, nanoseconds per token, how far the
 * bucket's arrival time may run ahead of now (burst - 1 tokens), whose bucket */
#define L7_RL_PER_SOURCE 0
#define L7_RL_PER_RULE 1
#define L7_RL_PER_CONN 2

struct l7_rl_rule {
	__u64 id;
	__u64 interval;
	__u64 tau;
	__u32 rule;	/* http rule index */
	__u8 per;	/* L7_RL_PER_* */
	__u8 shadow;	/* 1: count and report, let it pass */
	__u16 pad;
};

#endif
