/* Method handlers, one file per object: methods_daemon.c, methods_vm.c, methods_device.c,
 * methods_pasid.c, methods_quota.c. */
#ifndef PASIDD_METHODS_H
#define PASIDD_METHODS_H

#include "rpc.h"

#define METHOD(fn)                                                                                 \
	int fn(struct rpc_call *c, struct json_object *params, struct json_object **result)

METHOD(method_rpc_discover);
METHOD(method_daemon_status);
METHOD(method_vm_register);
METHOD(method_vm_unregister);
METHOD(method_vm_list);
METHOD(method_vm_show);
METHOD(method_device_assign);
METHOD(method_device_release);
METHOD(method_pasid_alloc);
METHOD(method_pasid_free);
METHOD(method_pasid_lookup);
METHOD(method_pasid_list);
METHOD(method_quota_get);
METHOD(method_quota_set);

struct pasidd;
/* The data of the last 1002 quota_exceeded: {cgroup, max, current} and, when the per-VM
 * limit refused, vm. */
struct json_object *method_quota_denial(const struct pasidd *d);

#endif
