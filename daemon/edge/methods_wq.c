/* The idxd work queue methods: wq.list. What they answer is read from sysfs at each request
 * (idxd.h), never from an earlier one, since another tool may reconfigure a WQ at any time. */
#include "idxd.h"
#include "methods.h"
#include "pasid-proto.h"
#include "pasidd.h"

#include <errno.h>
#include <stdio.h>

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

/* One WQ with the names of the kernel's attribute files, except `wq`, the name pasidd's
 * requests take, `label` for the kernel's `name` (which `wq` would be confused with) and
 * `char_device` for what cdev_minor stands for. */
static struct json_object *
wq_json(const struct idxd_device *dev, const struct idxd_wq *wq)
{
	struct json_object *o = json_object_new_object();
	char ref[2 * IDXD_NAME_LEN];

	snprintf(ref, sizeof(ref), "%s/%s", dev->name, wq->name);
	add_str(o, "wq", ref);
	if (wq->err) {
		/* What could not be read says why rather than showing half a WQ. */
		add_str(o, "error", wq->why);
		return o;
	}
	add_str(o, "mode", wq->mode);
	add_str(o, "type", wq->type);
	add_str(o, "state", wq->state);
	add_str(o, "label", wq->label);
	add_str(o, "driver_name", wq->driver);
	add_int(o, "size", wq->size);
	add_int(o, "priority", wq->priority);
	add_int(o, "threshold", wq->threshold);
	add_int(o, "group_id", wq->group_id);
	json_object_object_add(o, "block_on_fault", json_object_new_boolean(wq->block_on_fault));
	add_int(o, "clients", wq->clients);
	json_object_object_add(o, "char_device",
	                       wq->cdev[0] ? json_object_new_string(wq->cdev) : NULL);
	return o;
}

static struct json_object *
device_json(const struct idxd_device *dev)
{
	struct json_object *o = json_object_new_object(), *wqs;
	char bdf[NS_BDF_LEN + 1];

	add_str(o, "device", dev->name);
	add_str(o, "kind", dev->kind);
	if (dev->err) {
		add_str(o, "error", dev->why);
		return o;
	}
	ns_bdf_format(dev->bdf, bdf);
	add_str(o, "pci", bdf);
	json_object_object_add(o, "pasid_enabled", json_object_new_boolean(dev->pasid_enabled));
	add_str(o, "state", dev->state);
	add_int(o, "max_work_queues", dev->max_wqs);
	add_int(o, "max_work_queues_size", dev->max_wq_size);
	add_str(o, "op_cap", dev->op_cap);
	wqs = json_object_new_array();
	for (size_t i = 0; i < dev->nwqs; i++)
		json_object_array_add(wqs, wq_json(dev, &dev->wqs[i]));
	json_object_object_add(o, "wqs", wqs);
	return o;
}

int
method_wq_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct idxd_host h;
	struct json_object *devs;
	char why[IDXD_WHY_LEN + 64];
	int r;

	(void)a;
	r = idxd_scan(c->d->cfg.idxd_sysfs_root, &h, why, sizeof(why));
	/* No dsa bus: no idxd driver, so no work queues, which is an answer, not a fault. */
	if (r < 0 && r != -ENOENT)
		return rpc_fail(c, PROTO_E_KERNEL, NULL, "cannot list idxd devices: %s", why);
	*result = json_object_new_object();
	json_object_object_add(*result, "idxd", json_object_new_boolean(r == 0));
	devs = json_object_new_array();
	for (size_t i = 0; r == 0 && i < h.ndevs; i++)
		json_object_array_add(devs, device_json(&h.devs[i]));
	json_object_object_add(*result, "devices", devs);
	if (r == 0)
		idxd_host_free(&h);
	return 0;
}
