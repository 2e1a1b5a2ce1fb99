#include "backend.h"
#include "idxd.h"
#include "methods.h"
#include "namespace.h"
#include "paging.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

/* Whether the work queue named can take shared PASIDs for VMs, read from sysfs now (a WQ
 * may have changed since any earlier request). 0, or -errno with err. */
int
method_wq_usable(const struct pasidd *d, const char *ref, struct ns_err *err)
{
	char why[IDXD_WHY_LEN + 64];
	int errnum;

	switch (idxd_wq_check(d->cfg.idxd_sysfs_root, ref, &errnum, why, sizeof(why))) {
	case IDXD_WQ_USABLE:
		return 0;
	case IDXD_NO_DRIVER:
		return ns_fail_missing(err, "wq", "idxd (DSA/IAX) driver", "%s", why);
	case IDXD_WQ_MISSING:
		return ns_fail(err, NS_E_NOT_FOUND, "wq", "%s", why);
	case IDXD_WQ_UNFIT:
		return ns_fail(err, NS_E_CONFLICT, "wq", "%s", why);
	case IDXD_WQ_UNREADABLE:
	default:
		return ns_fail_kernel(err, "wq", "sysfs read", -errnum, "%s", why);
	}
}

int
method_pasid_alloc(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct ns_alloc_req req = {.gpasid = a->gpasid, .type = (enum ns_type)a->type};
	struct ns_mapping **out;
	struct ns_err err;
	bool has_dev = a->device >= 0;

	if (has_dev)
		req.bdf = (uint32_t)a->device;
	if (req.type == NS_TYPE_LOCAL && !has_dev)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "device",
		                "a local PASID needs 'device'");
	if (req.type == NS_TYPE_SHARED && has_dev)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "device",
		                "'device' applies to local PASIDs only");
	if (req.type == NS_TYPE_LOCAL && a->wq[0])
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "wq",
		                "'wq' applies to shared PASIDs only");
	if (req.type == NS_TYPE_SHARED && !a->wq[0] && c->d->cfg.idxd_require_wq)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "wq",
		                "this host hands out shared PASIDs for work queues only "
		                "([Idxd] RequireWQ=yes): name one in 'wq'");
	if (a->wq[0]) {
		if (method_wq_usable(c->d, a->wq, &err) < 0)
			return rpc_fail_ns(c, &err);
		req.wq = a->wq;
	}
	req.reservation = a->resv;
	req.count = a->count < 0 ? 1 : (unsigned)a->count;
	out = calloc(req.count, sizeof(*out));
	if (!out)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	if (ns_alloc(&c->d->ns, a->vm, &req, out, &err) < 0) {
		free(out);
		return rpc_fail_ns(c, &err);
	}
	if (a->count < 0) {
		*result = render_mapping_text(out[0], false);
	} else {
		struct json_object *arr = render_mapping_list(out, req.count, false);

		/* The request fails as a whole: the transaction undoes the allocation. */
		if (!arr) {
			free(out);
			return rpc_fail(c, PROTO_E_INTERNAL, NULL,
			                "out of memory for the answer; nothing was allocated");
		}
		*result = json_object_new_object();
		json_object_object_add(*result, "mappings", arr);
	}
	free(out);
	return 0;
}

int
method_pasid_free(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct ns_err err;

	if (ns_free(&c->d->ns, a->vm, (uint32_t)a->gpasid, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}

/* The VMM's iommufd and device cdev come with the request (fds 0 and 1); the namespace takes
 * them, to detach with later whatever becomes of the VMM. */
int
method_pasid_attach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct backend_attach att = {
	    .bdf = (uint32_t)a->device,
	    .dev_id = (uint32_t)a->dev_id,
	    .pt_id = (uint32_t)a->pt_id,
	    .iommufd = rpc_take_fd(c, 0),
	    .devfd = rpc_take_fd(c, 1),
	};
	struct ns_err err;

	if (ns_attach(&c->d->ns, a->vm, (uint32_t)a->gpasid, &att, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}

int
method_pasid_detach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct ns_err err;

	if (ns_detach(&c->d->ns, a->vm, (uint32_t)a->gpasid, (uint32_t)a->device, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}

/* By hPASID: the table lets only an admin give one. */
int
method_pasid_lookup_hpasid(struct rpc_call *c, const struct rpc_args *a,
                           struct json_object **result)
{
	uint32_t bdf = a->device < 0 ? UINT32_MAX : (uint32_t)a->device;
	struct ns_mapping *m;

	if (a->hpasid >= 1 << c->d->ns.cfg.pasid_bits)
		return rpc_fail(c, PROTO_E_OUT_OF_RANGE, "hpasid",
		                "hPASID %lld exceeds the %u-bit PASID width", (long long)a->hpasid,
		                c->d->ns.cfg.pasid_bits);
	m = ns_lookup_hpasid(&c->d->ns, (uint32_t)a->hpasid, bdf);
	if (!m)
		return rpc_fail(c, PROTO_E_NOT_FOUND, "hpasid", "hPASID %lld is not allocated",
		                (long long)a->hpasid);
	*result = render_mapping_text(m, true);
	return 0;
}

int
method_pasid_lookup_gpasid(struct rpc_call *c, const struct rpc_args *a,
                           struct json_object **result)
{
	struct ns_mapping *m = ns_lookup_gpasid(a->vm, (uint32_t)a->gpasid);

	if (!m)
		return rpc_fail(c, PROTO_E_NOT_FOUND, "gpasid",
		                "gPASID %lld is not allocated in %s", (long long)a->gpasid,
		                a->vm->name);
	*result = render_mapping_text(m, true);
	return 0;
}

int
method_pasid_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct json_object *maps;
	struct page p;

	if (a->vm && a->after.given && strcmp(a->after.vm, a->vm->name))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "after",
		                "'after' continues a listing of VM '%s', not of '%s'", a->after.vm,
		                a->vm->name);
	page_start(&p, a->limit, PROTO_PAGE_DEFAULT, &a->after);
	maps = page_mappings(c, a->vm, a->type, a->wq, true, &p);
	if (!maps)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	*result = json_object_new_object();
	json_object_object_add(*result, "mappings", maps);
	page_add_next(*result, &p);
	return 0;
}
