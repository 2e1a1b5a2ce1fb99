/* Quota accounting wired to the namespace (see quota_acct.c). */
#ifndef PASIDD_QUOTA_ACCT_H
#define PASIDD_QUOTA_ACCT_H

struct quota;
struct ns;

/* Makes q observe every transaction of ns: refuse what would go over a max, charge and
 * return what stands, apply runtime limits. */
int quota_acct_observe(struct quota *q, struct ns *ns);
/* Charges are not journaled: after a replay they follow from the VMs, charged where each was
 * registered whatever the limits say now, since nothing acknowledged is taken back. Also
 * reads the xattr limits of every cgroup concerned. 0 or -ENOMEM. */
int quota_acct_rebuild(struct quota *q, const struct ns *ns);

#endif
