/* types shared by the templates and the generated policy header */
#ifndef L7_TYPES_H
#define L7_TYPES_H

#include <linux/types.h>

/* one row of a direction's port table (PolicyIR PortEntryIR) */
struct l7_port_entry {
	__u16 local;	/* selector index of the local endpoint */
	__s16 peer;	/* selector index of the peer, -1 any */
	__u16 port_lo;	/* inclusive */
	__u16 port_hi;
	__u8 proto;	/* ip protocol number, 0 any */
	__u8 kind;	/* L7_ACT_* */
	__u16 set;	/* l7 set index when kind == L7_ACT_L7 */
	__u32 rule;	/* PolicyIR.rules index */
};

#define L7_ACT_DENY 0
#define L7_ACT_ALLOW 1
#define L7_ACT_L7 2

/* a generated dfa: byte -> class, (state, class) -> state, state -> accept bits */
#define L7_DFA_DEAD 0
#define L7_DFA_START 1

#endif
