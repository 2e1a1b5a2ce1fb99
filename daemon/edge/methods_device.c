#include "backend.h"
#include "methods.h"
#include "namespace.h"
#include "pasid-proto.h"
#include "peer.h"
#include "pasidd.h"

int
method_device_assign(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	uint32_t bdf = (uint32_t)a->device;
	char name[NS_BDF_LEN + 1];
	struct ns_err err;

	ns_bdf_format(bdf, name);
	if (ns_device_assign(&c->d->ns, a->vm, bdf, a->shared, &err) < 0) {
		const struct ns_device *dev = ns_device_find(&c->d->ns, bdf);

		/* Whose VM holds the device is the holder's business; an admin may know. */
		if (err.code == NS_E_CONFLICT && c->peer->admin && dev && dev->owner &&
		    dev->owner != a->vm)
			return rpc_fail(c, PROTO_E_CONFLICT, "device",
			                "device %s is assigned exclusively to VM '%s'", name,
			                dev->owner->name);
		return rpc_fail_ns(c, &err);
	}
	*result = json_object_new_object();
	json_object_object_add(*result, "vm", json_object_new_string(a->vm->name));
	json_object_object_add(*result, "device", json_object_new_string(name));
	json_object_object_add(*result, "shared", json_object_new_boolean(a->shared));
	return 0;
}

int
method_device_release(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct ns_err err;

	if (ns_device_release(&c->d->ns, a->vm, (uint32_t)a->device, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}

/* The VMM's iommufd and device cdev come with the request (fds 0 and 1), as with
 * pasid.attach; the namespace takes them, to detach with later whatever becomes of the VMM. */
int
method_device_attach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct backend_attach att = {
	    .bdf = (uint32_t)a->device,
	    .dev_id = (uint32_t)a->dev_id,
	    .pt_id = (uint32_t)a->pt_id,
	    .iommufd = rpc_take_fd(c, 0),
	    .devfd = rpc_take_fd(c, 1),
	};
	struct ns_err err;

	(void)result;
	if (ns_device_attach(&c->d->ns, a->vm, &att, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}

int
method_device_detach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct ns_err err;

	(void)result;
	if (ns_device_detach(&c->d->ns, a->vm, (uint32_t)a->device, &err) < 0)
		return rpc_fail_ns(c, &err);
	return 0;
}
