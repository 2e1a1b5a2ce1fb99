/* The idxd work queue methods: wq.list. What they answer is read from sysfs at each request
 * (idxd.h), never from an earlier one, since another tool may reconfigure a WQ at any time;
 * the PASIDs handed out against each WQ come from the namespace. */
#include "idxd.h"
#include "idxd_conf.h"
#include "methods.h"
#include "audit.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "wq_setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static void
add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* The kernel's view of one WQ and its device, with the names of the kernel's attribute files
 * except `wq`, the name pasidd's requests take, `label` for the kernel's `name` (which `wq`
 * would be confused with), `char_device` for what cdev_minor stands for and `device_state`
 * for the device's `state`. */
static void
put_kernel_view(struct json_object *o, const struct idxd_device *dev, const struct idxd_wq *wq)
{
	char bdf[NS_BDF_LEN + 1];

	add_str(o, "device", dev->name);
	add_str(o, "kind", dev->kind);
	if (dev->err || wq->err) {
		/* What could not be read says why rather than showing half a WQ. */
		add_str(o, "error", dev->err ? dev->why : wq->why);
		return;
	}
	ns_bdf_format(dev->bdf, bdf);
	add_str(o, "bdf", bdf);
	add_str(o, "mode", wq->mode);
	add_str(o, "type", wq->type);
	add_str(o, "state", wq->state);
	add_int(o, "size", wq->size);
	json_object_object_add(o, "pasid_enabled", json_object_new_boolean(dev->pasid_enabled));
	add_str(o, "device_state", dev->state);
	add_int(o, "priority", wq->priority);
	add_int(o, "threshold", wq->threshold);
	add_int(o, "group_id", wq->group_id);
	json_object_object_add(o, "block_on_fault", json_object_new_boolean(wq->block_on_fault));
	add_str(o, "label", wq->label);
	add_str(o, "driver_name", wq->driver);
	add_int(o, "clients", wq->clients);
	json_object_object_add(o, "char_device",
	                       wq->cdev[0] ? json_object_new_string(wq->cdev) : NULL);
}

/* What pasidd handed out against each WQ: per interned entry of the namespace, its total and
 * the VMs the peer may see with theirs. */
struct use {
	struct json_object **vms; /* per ns->wqs entry: an array, or NULL while empty */
	bool *listed;             /* per entry: the host showed it */
};

static int
use_count(struct rpc_call *c, struct use *u)
{
	const struct ns *ns = &c->d->ns;

	u->vms = calloc(ns->nwqs + 1, sizeof(*u->vms));
	u->listed = calloc(ns->nwqs + 1, sizeof(*u->listed));
	if (!u->vms || !u->listed)
		return -ENOMEM;
	for (unsigned i = 0; i < ns->nvms; i++) {
		const struct ns_vm *vm = ns->vms[i];

		if (!rpc_may_use(c, vm))
			continue;
		/* The VM's counts, kept as its mappings change: no walk of its table. */
		for (unsigned j = 0; j < vm->nwqs; j++) {
			const struct ns_vm_wq *vw = &vm->wqs[j];
			struct json_object *e;
			unsigned k = 0;

			while (k < ns->nwqs && ns->wqs[k] != vw->wq)
				k++;
			if (!vw->nmaps || k == ns->nwqs)
				continue;
			if (!u->vms[k])
				u->vms[k] = json_object_new_array();
			e = json_object_new_object();
			add_str(e, "vm", vm->name);
			add_int(e, "pasids", vw->nmaps);
			json_object_array_add(u->vms[k], e);
		}
	}
	return 0;
}

static void
use_free(const struct ns *ns, struct use *u)
{
	for (unsigned k = 0; u->vms && k < ns->nwqs; k++)
		json_object_put(u->vms[k]);
	free(u->vms);
	free(u->listed);
}

/* The use of the WQ ref: its total (everyone may see how busy a WQ is) and the VMs. */
static void
put_use(struct json_object *o, const struct ns *ns, struct use *u, const char *ref)
{
	unsigned k = 0;

	while (k < ns->nwqs && strcmp(ns->wqs[k]->ref, ref))
		k++;
	add_int(o, "pasids", k < ns->nwqs ? ns->wqs[k]->nmaps : 0);
	json_object_object_add(o, "vms",
	                       k < ns->nwqs && u->vms[k] ? json_object_get(u->vms[k])
	                                                 : json_object_new_array());
	if (k < ns->nwqs)
		u->listed[k] = true;
}

int
method_wq_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	const struct ns *ns = &c->d->ns;
	struct use u = {0};
	struct idxd_host h = {0};
	char why[IDXD_WHY_LEN + 64];
	int r;

	(void)a;
	r = idxd_scan(c->d->cfg.idxd_sysfs_root, &h, why, sizeof(why));
	/* No dsa bus: no idxd driver, so no work queues, which is an answer, not a fault. */
	if (r < 0 && r != -ENOENT)
		return rpc_fail(c, PROTO_E_KERNEL, NULL, "cannot list idxd devices: %s", why);
	if (use_count(c, &u) < 0) {
		use_free(ns, &u);
		idxd_host_free(&h);
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	*result = json_object_new_array();
	for (size_t i = 0; i < h.ndevs; i++) {
		const struct idxd_device *dev = &h.devs[i];

		for (size_t j = 0; j < dev->nwqs; j++) {
			struct json_object *o = json_object_new_object();
			char ref[2 * IDXD_NAME_LEN];

			snprintf(ref, sizeof(ref), "%s/%s", dev->name, dev->wqs[j].name);
			add_str(o, "wq", ref);
			put_kernel_view(o, dev, &dev->wqs[j]);
			put_use(o, ns, &u, ref);
			json_object_array_add(*result, o);
		}
	}
	/* WQs that mappings still name but the host no longer has: their PASIDs are still out. */
	for (unsigned k = 0; k < ns->nwqs; k++) {
		struct json_object *o;

		if (u.listed[k] || !ns->wqs[k]->nmaps)
			continue;
		o = json_object_new_object();
		add_str(o, "wq", ns->wqs[k]->ref);
		add_str(o, "state", "missing");
		put_use(o, ns, &u, ns->wqs[k]->ref);
		json_object_array_add(*result, o);
	}
	use_free(ns, &u);
	idxd_host_free(&h);
	return 0;
}

/* The parameter of wq.configure that a refusal of idxd_wq_conf_check or idxd_wq_apply is
 * about: the first attribute its message names after the WQ's own name, else wq. */
static const char *
param_of(const char *why)
{
	static const char *const map[][2] = {
	    {"threshold", "threshold"}, {"priority", "priority"},
	    {"group", "group"},         {"size", "size"},
	    {"label", "name"},          {"block_on_fault", "block_on_fault"},
	    {"mode", "mode"},           {"type", "type"},
	};
	const char *best = "wq", *at = NULL;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *p = strcasestr(why, map[i][0]);

		if (p && (!at || p < at)) {
			at = p;
			best = map[i][1];
		}
	}
	return best;
}

int
method_wq_configure(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct idxd_wq_conf conf = {.group = -1};
	struct idxd_apply out;
	struct use u = {0};
	char why[1024];
	int r;

	snprintf(conf.name, sizeof(conf.name), "%s", a->wq);
	snprintf(conf.mode, sizeof(conf.mode), "%s", rpc_wq_modes[a->wq_mode]);
	snprintf(conf.type, sizeof(conf.type), "%s", rpc_wq_types[a->wq_type]);
	conf.has_size = a->size >= 0;
	conf.size = conf.has_size ? (unsigned)a->size : 0;
	conf.has_priority = a->priority >= 0;
	conf.priority = conf.has_priority ? (unsigned)a->priority : 0;
	conf.has_group = a->group >= 0;
	conf.group = conf.has_group ? (int)a->group : -1;
	conf.has_threshold = a->threshold >= 0;
	conf.threshold = conf.has_threshold ? (unsigned)a->threshold : 0;
	conf.has_block_on_fault = a->block_on_fault >= 0;
	conf.block_on_fault = a->block_on_fault > 0;
	conf.has_label = a->label != NULL;
	if (a->label)
		snprintf(conf.label, sizeof(conf.label), "%s", a->label);
	memset(&out, 0, sizeof(out));
	if (idxd_wq_conf_check(&conf, why, sizeof(why)) < 0)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, param_of(why), "%s", why);
	r = wq_setup_apply(c->d, &conf, &out, why, sizeof(why));
	/* Refused before anything was written: no attribute names a failed write. */
	if (r == -ENOENT && !out.attribute[0])
		return rpc_fail(c, PROTO_E_NOT_FOUND, "wq", "%s", why);
	if ((r == -EBUSY || r == -EPERM) && !out.attribute[0])
		return rpc_fail(c, PROTO_E_CONFLICT, "wq", "%s", why);
	if (r == -EINVAL && !out.attribute[0])
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, param_of(why), "%s", why);
	if (r < 0) {
		/* The kernel refused a write. */
		c->data = json_object_new_object();
		json_object_object_add(c->data, "op", json_object_new_string("sysfs write"));
		json_object_object_add(c->data, "errno", json_object_new_int(-r));
		json_object_object_add(c->data, "message", json_object_new_string(strerror(-r)));
		json_object_object_add(c->data, "attribute", json_object_new_string(out.attribute));
		json_object_object_add(c->data, "written", json_object_new_string(out.written));
		return rpc_fail(c, PROTO_E_KERNEL, "wq", "%s", why);
	}
	if (use_count(c, &u) < 0) {
		use_free(&c->d->ns, &u);
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	*result = json_object_new_object();
	json_object_object_add(*result, "wq", json_object_new_string(conf.name));
	put_kernel_view(*result, &out.dev, &out.wq);
	put_use(*result, &c->d->ns, &u, conf.name);
	json_object_object_add(*result, "changed", json_object_new_boolean(out.changed));
	use_free(&c->d->ns, &u);
	if (out.changed) {
		struct audit_entry *e = audit_entry_new(AUDIT_WQ_CONFIGURE);
		char line[1200];

		idxd_wq_conf_format(&conf, line, sizeof(line));
		audit_add(e, "wq", false, "%s", conf.name);
		audit_note(c->d->audit, e, "work queue configured: %s", line);
	}
	return 0;
}
