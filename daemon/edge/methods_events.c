/* events.subscribe: the connection becomes a stream of event notifications (events.h). */
#include "events.h"
#include "methods.h"
#include "pasid-proto.h"
#include "pasidd.h"

int
method_events_subscribe(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	/* A VM that does not exist yet may be watched for; another uid's may not. */
	if (a->vm && !rpc_may_use(c, a->vm))
		return rpc_fail(c, PROTO_E_PERMISSION, "vm", "VM '%s' belongs to another user",
		                a->vm_name);
	if (!c->conn || !c->d->events)
		return rpc_fail(c, PROTO_E_UNSUPPORTED, NULL,
		                "events are sent on a connection to the daemon's socket");
	if (events_subscribe(c->d->events, c->conn, c->peer, a->kinds, a->vm_name) < 0)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	*result = json_object_new_object();
	return 0;
}
