/* Declarative work queue setup on top of idxd_wq_apply (idxd_conf.h): the [WorkQueue]
 * sections at start-up, and wq.configure. A WQ that shared mappings were handed out for is
 * never reconfigured: the guests that use it would lose it. */
#ifndef PASIDD_WQ_SETUP_H
#define PASIDD_WQ_SETUP_H

#include <stdbool.h>
#include <stddef.h>

struct pasidd;
struct idxd_wq_conf;
struct idxd_apply;

/* Whether mappings use the WQ ref now. */
bool wq_setup_in_use(const struct pasidd *d, const char *ref);
/* Applies one configuration: idxd_wq_apply's result, with why. */
int wq_setup_apply(const struct pasidd *d, const struct idxd_wq_conf *conf, struct idxd_apply *out,
                   char *why, size_t len);
/* Applies every [WorkQueue] section, in order, logging each outcome. A WQ that cannot be set
 * up does not stop pasidd, which serves the host's other VMs all the same. Returns how many
 * failed. */
int wq_setup_config(const struct pasidd *d);

#endif
