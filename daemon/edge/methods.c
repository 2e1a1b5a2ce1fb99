#include "methods.h"

const struct rpc_method rpc_methods[] = {
    {"rpc.discover", method_rpc_discover, false},
    {"daemon.status", method_daemon_status, false},
    {"vm.register", method_vm_register, true},
    {"vm.unregister", method_vm_unregister, true},
    {"vm.list", method_vm_list, false},
    {"vm.show", method_vm_show, false},
    {"device.assign", method_device_assign, true},
    {"device.release", method_device_release, true},
    {"pasid.alloc", method_pasid_alloc, true},
    {"pasid.free", method_pasid_free, true},
    {"pasid.lookup", method_pasid_lookup, false},
    {"pasid.list", method_pasid_list, false},
    {"quota.get", method_quota_get, false},
    {"quota.set", method_quota_set, true},
    {NULL, NULL, false},
};
