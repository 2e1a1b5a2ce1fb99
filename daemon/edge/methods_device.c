#include "methods.h"
#include "namespace.h"
#include "params.h"
#include "pasid-proto.h"
#include "peer.h"
#include "pasidd.h"

METHOD(method_device_assign)
{
	static const char *const names[] = {"vm", "device", "shared", NULL};
	struct ns_vm *vm;
	uint32_t bdf;
	bool shared = false;
	char name[NS_BDF_LEN + 1];
	struct ns_err err;

	if (params_only(c, params, names) < 0 || param_vm(c, params, &vm) < 0 ||
	    param_bdf(c, params, "device", true, &bdf) < 0 ||
	    param_bool(c, params, "shared", &shared) < 0)
		return -1;
	ns_bdf_format(bdf, name);
	if (ns_device_assign(&c->d->ns, vm, bdf, shared, &err) < 0) {
		const struct ns_device *dev = ns_device_find(&c->d->ns, bdf);

		/* Whose VM holds the device is the holder's business; an admin may know. */
		if (err.code == NS_E_CONFLICT && c->peer->admin && dev && dev->owner &&
		    dev->owner != vm)
			return rpc_fail(c, PROTO_E_CONFLICT, "device",
			                "device %s is assigned exclusively to VM '%s'", name,
			                dev->owner->name);
		return rpc_fail_ns(c, &err);
	}
	*result = json_object_new_object();
	json_object_object_add(*result, "vm", json_object_new_string(vm->name));
	json_object_object_add(*result, "device", json_object_new_string(name));
	json_object_object_add(*result, "shared", json_object_new_boolean(shared));
	return 0;
}

METHOD(method_device_release)
{
	static const char *const names[] = {"vm", "device", NULL};
	struct ns_vm *vm;
	uint32_t bdf;
	struct ns_err err;

	if (params_only(c, params, names) < 0 || param_vm(c, params, &vm) < 0 ||
	    param_bdf(c, params, "device", true, &bdf) < 0)
		return -1;
	if (ns_device_release(&c->d->ns, vm, bdf, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}
