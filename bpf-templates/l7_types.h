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

#endif
