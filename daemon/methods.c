#include "methods.h"

const struct rpc_method rpc_methods[] = {
    {"rpc.discover", method_rpc_discover},
    {"daemon.status", method_daemon_status},
    {"vm.register", method_vm_register},
    {"vm.unregister", method_vm_unregister},
    {"vm.list", method_vm_list},
    {"vm.show", method_vm_show},
    {"device.assign", method_device_assign},
    {"device.release", method_device_release},
    {"pasid.alloc", method_pasid_alloc},
    {"pasid.free", method_pasid_free},
    {"pasid.lookup", method_pasid_lookup},
    {"pasid.list", method_pasid_list},
    {"quota.get", method_quota_get},
    {"quota.set", method_quota_set},
    {NULL, NULL},
};
