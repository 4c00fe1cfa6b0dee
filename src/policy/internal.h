/* Internals of the policy module shared by the engine and its command line. */
#ifndef SIGIL_POLICY_INTERNAL_H
#define SIGIL_POLICY_INTERNAL_H

#include <stddef.h>

#include "policy/policy.h"

/* Number of policies in a parsed file (*ngroups receives the number of groups). */
size_t sigil_policy_summary_count(const struct sigil_policy *p, size_t *ngroups);

/* One line describing policy i (its bindings and rules) for `sigil policy check`. */
void sigil_policy_summary_line(const struct sigil_policy *p, size_t i, char *out, size_t cap);

#endif
