/* Reloading the configuration (reload.h): built whole from the same files and command line as
 * at start, checked against what is running, then switched in one go; a bad or unreloadable
 * one changes nothing. */
#include "reload.h"
#include "log.h"
#include "pasidd.h"
#include "quota.h"
#include "server.h"
#include "wq_setup.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The first setting that only a restart can change, or NULL. */
static const char *
unreloadable(const struct pasidd_config *old, const struct pasidd_config *n)
{
	if (!same_str(old->socket_path, n->socket_path))
		return "Socket=";
	if (!same_str(old->state_dir, n->state_dir))
		return "StateDirectory=";
	if (!same_str(old->backend, n->backend))
		return "Backend=";
	if (old->ns.pasid_bits != n->ns.pasid_bits)
		return "PasidBits=";
	if (old->ns.local.first != n->ns.local.first || old->ns.local.last != n->ns.local.last)
		return "LocalRange=";
	if (old->ns.shared.first != n->ns.shared.first || old->ns.shared.last != n->ns.shared.last)
		return "SharedRange=";
	if (old->max_message != n->max_message)
		return "MaxMessageSize=";
	/* The BPF programs are loaded at start, in the mode configured then. */
	if (old->bpf_attach_gate != n->bpf_attach_gate)
		return "AttachGate=";
	if (old->bpf_device_gate != n->bpf_device_gate)
		return "DeviceGate=";
	return NULL;
}

#define SWAP(a, b)                                                                                 \
	do {                                                                                       \
		__typeof__(a) swap_ = (a);                                                         \
		(a) = (b);                                                                         \
		(b) = swap_;                                                                       \
	} while (0)

int
pasidd_reload(struct pasidd *d, char *why, size_t len)
{
	struct pasidd_config n;
	const char *fixed;
	char err[512];
	struct ns_err nerr;
	size_t bad = 0;
	gid_t admin;
	int r;

	config_init(&n);
	r = d->argv
	        ? config_from_args(&n, d->argc, d->argv, err, sizeof(err))
	        : config_load_file(&n,
	                           d->cfg.config_file ? d->cfg.config_file : PASIDD_DEFAULT_CONFIG,
	                           d->cfg.config_file != NULL, err, sizeof(err));
	if (r == 0 && !d->argv)
		r = config_finish(&n, err, sizeof(err));
	if (r < 0) {
		snprintf(why, len, "%s; the configuration in force is unchanged", err);
		goto out;
	}
	if ((fixed = unreloadable(&d->cfg, &n))) {
		snprintf(why, len,
		         "%s changed, which takes a restart; nothing was reloaded (the "
		         "configuration in force is unchanged)",
		         fixed);
		r = -EINVAL;
		goto out;
	}
	if ((r = config_admin_gid(&n, &admin, err, sizeof(err))) < 0) {
		snprintf(why, len, "%s; the configuration in force is unchanged", err);
		goto out;
	}
	/* The reservations first, as they can be refused: over a live mapping or a runtime
	 * reservation. A transaction of their own, all or nothing. */
	if ((r = ns_resv_set_config(&d->ns, n.ns.reserve, n.ns.nreserve, &bad, &nerr)) < 0) {
		snprintf(why, len, "%s: Reserve=%u-%u: %s; the configuration in force is unchanged",
		         n.reserve_where[bad], n.ns.reserve[bad].first, n.ns.reserve[bad].last,
		         nerr.message);
		goto out;
	}
	/* Everything below only switches: nothing can fail half-way but memory for the quota
	 * tree, which quota_apply_config takes before it changes anything it cannot undo. */
	if (d->quota && (r = quota_apply_config(d->quota, &n.quota)) < 0) {
		quota_apply_config(d->quota, &d->cfg.quota);
		/* The old ones went just now, so they fit again. */
		ns_resv_set_config(&d->ns, d->cfg.ns.reserve, d->cfg.ns.nreserve, &bad, &nerr);
		snprintf(why, len, "out of memory; the configuration in force is unchanged");
		goto out;
	}
	SWAP(d->cfg.ns.reserve, n.ns.reserve);
	SWAP(d->cfg.ns.nreserve, n.ns.nreserve);
	SWAP(d->cfg.reserve_where, n.reserve_where);
	SWAP(d->cfg.quota, n.quota);
	d->cfg.limits = n.limits;
	d->cfg.log_level = n.log_level;
	log_set_level(n.log_level);
	d->admin_gid = admin;
	SWAP(d->cfg.admin_group, n.admin_group);
	SWAP(d->cfg.socket_group, n.socket_group);
	d->cfg.socket_mode = n.socket_mode;
	SWAP(d->cfg.idxd_sysfs_root, n.idxd_sysfs_root);
	d->cfg.idxd_require_wq = n.idxd_require_wq;
	SWAP(d->cfg.wqs, n.wqs);
	SWAP(d->cfg.nwqs, n.nwqs);
	if (d->srv && server_socket_perms(d->srv, d->cfg.socket_mode, d->cfg.socket_group, err,
	                                  sizeof(err)) < 0)
		log_warn("reload: %s", err);
	/* The WQ setup as at start: a WQ in use is left alone and said so. */
	wq_setup_config(d);
	snprintf(why, len, "configuration reloaded from %s",
	         d->cfg.config_file ? d->cfg.config_file : PASIDD_DEFAULT_CONFIG);
	r = 0;
out:
	config_free(&n);
	return r;
}
