#include "methods.h"
#include "namespace.h"
#include "paging.h"
#include "params.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

#define PASID_MAX ((1 << NS_MAX_BITS) - 1)

static const char *const types[] = {"shared", "local", NULL};

METHOD(method_pasid_alloc)
{
	static const char *const names[] = {"vm", "type", "device", "gpasid", "count", NULL};
	struct ns_alloc_req req = {.bdf = 0};
	struct ns_mapping **out;
	struct ns_vm *vm;
	struct ns_err err;
	int type = -1, has_dev;
	int64_t count;

	if (params_only(c, params, names) < 0 || param_vm(c, params, &vm) < 0 ||
	    param_enum(c, params, "type", true, types, &type) < 0 ||
	    (has_dev = param_bdf(c, params, "device", false, &req.bdf)) < 0 ||
	    param_int(c, params, "gpasid", false, 0, PASID_MAX, &req.gpasid) < 0 ||
	    param_int(c, params, "count", false, 1, NS_MAX_COUNT, &count) < 0)
		return -1;
	req.type = (enum ns_type)type;
	if (req.type == NS_TYPE_LOCAL && !has_dev)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "device",
		                "a local PASID needs 'device'");
	if (req.type == NS_TYPE_SHARED && has_dev)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "device",
		                "'device' applies to local PASIDs only");
	req.count = count < 0 ? 1 : (unsigned)count;
	out = calloc(req.count, sizeof(*out));
	if (!out)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	if (ns_alloc(&c->d->ns, vm, &req, out, &err) < 0) {
		free(out);
		return rpc_fail_ns(c, &err);
	}
	if (count < 0) {
		*result = render_mapping(out[0], false);
	} else {
		struct json_object *arr = render_mapping_list(out, req.count, false);

		/* The allocation stands whatever happens to its answer: an answer that cannot be
		 * made is an internal error, and pasid.list shows what was allocated. */
		if (!arr) {
			free(out);
			return rpc_fail(
			    c, PROTO_E_INTERNAL, NULL,
			    "out of memory for the answer; the %u PASIDs were allocated",
			    req.count);
		}
		*result = json_object_new_object();
		json_object_object_add(*result, "mappings", arr);
	}
	free(out);
	return 0;
}

METHOD(method_pasid_free)
{
	static const char *const names[] = {"vm", "gpasid", NULL};
	struct ns_vm *vm;
	struct ns_err err;
	int64_t g;

	if (params_only(c, params, names) < 0 || param_vm(c, params, &vm) < 0 ||
	    param_int(c, params, "gpasid", true, 0, PASID_MAX, &g) < 0)
		return -1;
	if (ns_free(&c->d->ns, vm, (uint32_t)g, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}

METHOD(method_pasid_lookup)
{
	static const char *const by_h[] = {"hpasid", "device", NULL};
	static const char *const by_g[] = {"vm", "gpasid", NULL};
	struct json_object *h = NULL;
	struct ns_mapping *m;
	int64_t n;

	if (params && json_object_object_get_ex(params, "hpasid", &h)) {
		uint32_t bdf = UINT32_MAX;

		if (params_only(c, params, by_h) < 0 ||
		    param_int(c, params, "hpasid", true, 0, PASID_MAX, &n) < 0 ||
		    param_bdf(c, params, "device", false, &bdf) < 0)
			return -1;
		if (!c->peer->admin)
			return rpc_fail(c, PROTO_E_PERMISSION, "hpasid",
			                "looking up an hPASID is for administrators; look up by "
			                "vm and gpasid");
		if (n >= 1 << c->d->ns.cfg.pasid_bits)
			return rpc_fail(c, PROTO_E_OUT_OF_RANGE, "hpasid",
			                "hPASID %lld exceeds the %u-bit PASID width", (long long)n,
			                c->d->ns.cfg.pasid_bits);
		m = ns_lookup_hpasid(&c->d->ns, (uint32_t)n, bdf);
		if (!m)
			return rpc_fail(c, PROTO_E_NOT_FOUND, "hpasid",
			                "hPASID %lld is not allocated", (long long)n);
	} else {
		struct ns_vm *vm;

		if (params_only(c, params, by_g) < 0 || param_vm(c, params, &vm) < 0 ||
		    param_int(c, params, "gpasid", true, 0, PASID_MAX, &n) < 0)
			return -1;
		m = ns_lookup_gpasid(vm, (uint32_t)n);
		if (!m)
			return rpc_fail(c, PROTO_E_NOT_FOUND, "gpasid",
			                "gPASID %lld is not allocated in %s", (long long)n,
			                vm->name);
	}
	*result = render_mapping(m, true);
	return 0;
}

METHOD(method_pasid_list)
{
	static const char *const names[] = {"vm", "type", "limit", "after", NULL};
	struct ns_vm *vm = NULL;
	struct json_object *maps;
	struct page p;
	int type = -1;

	if (params_only(c, params, names) < 0 ||
	    param_enum(c, params, "type", false, types, &type) < 0)
		return -1;
	if (params && json_object_object_get_ex(params, "vm", NULL) && param_vm(c, params, &vm) < 0)
		return -1;
	if (page_params(c, params, PROTO_PAGE_DEFAULT, PROTO_PAGE_MAX, &p) < 0)
		return -1;
	if (vm && p.after && strcmp(p.vm, vm->name))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "after",
		                "'after' continues a listing of VM '%s', not of '%s'", p.vm,
		                vm->name);
	maps = page_mappings(c, vm, type, true, &p);
	if (!maps)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	*result = json_object_new_object();
	json_object_object_add(*result, "mappings", maps);
	page_add_next(*result, &p);
	return 0;
}
