/* Declarative work queue setup (wq_setup.h). */
#include "wq_setup.h"
#include "idxd_conf.h"
#include "log.h"
#include "pasidd.h"

#include <string.h>

bool
wq_setup_in_use(const struct pasidd *d, const char *ref)
{
	const struct ns_wq *wq = ns_wq_find(&d->ns, ref);

	return wq && wq->nmaps;
}

int
wq_setup_apply(const struct pasidd *d, const struct idxd_wq_conf *conf, struct idxd_apply *out,
               char *why, size_t len)
{
	return idxd_wq_apply(d->cfg.idxd_sysfs_root, conf, wq_setup_in_use(d, conf->name), out, why,
	                     len);
}

int
wq_setup_config(const struct pasidd *d)
{
	int failed = 0;

	for (size_t i = 0; i < d->cfg.nwqs; i++) {
		const struct idxd_wq_conf *conf = &d->cfg.wqs[i];
		struct idxd_apply out;
		char why[1024];
		int r = wq_setup_apply(d, conf, &out, why, sizeof(why));

		if (r < 0) {
			failed++;
			log_err("[WorkQueue] %s (%s): not set up: %s", conf->name, conf->where,
			        why);
		} else if (out.changed) {
			log_info("[WorkQueue] %s: %s", conf->name, why);
		} else {
			log_info("[WorkQueue] %s: already as configured", conf->name);
		}
	}
	return failed;
}
