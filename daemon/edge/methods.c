/* The method table (methods.h). Parameters are listed in the order the dispatcher checks them,
 * which decides the error of a request with more than one fault; the VM a method acts on is
 * resolved where its parameter stands. */
#include "audit.h"
#include "idxd_conf.h"
#include "range_expiry.h"
#include "methods.h"
#include "pasid-proto.h"

#include <stdint.h>

#define PASID_MAX ((1 << NS_MAX_BITS) - 1)

/* In the order of enum ns_type and enum ns_mode. */
static const char *const pasid_types[] = {"shared", "local", NULL};
static const char *const vm_modes[] = {"translated", "identity", NULL};
const char *const rpc_wq_modes[] = {"dedicated", "shared", NULL};
const char *const rpc_wq_types[] = {"none", "kernel", "user", NULL};

const struct rpc_method rpc_methods[] = {
    {
        .name = "rpc.discover",
        .fn = method_rpc_discover,
        .params = RPC_NO_PARAMS,
    },
    {
        .name = "daemon.status",
        .fn = method_daemon_status,
        .params = RPC_NO_PARAMS,
    },
    {
        .name = "daemon.metrics",
        .fn = method_daemon_metrics,
        .params = RPC_NO_PARAMS,
    },
    {
        .name = "vm.register",
        .fn = method_vm_register,
        .mutates = true,
        .vm = "vm",
        .new_vm = true,
        .params = RPC_PARAMS(
            P_VM(RPC_REQUIRED), P_UUID("uuid", uuid), P_ENUM("mode", mode, RPC_OPTIONAL, vm_modes),
            P_INT("pid", pid, RPC_OPTIONAL, 1, INT32_MAX,
                  .admin = "only an administrator may register a VM for another process")),
    },
    {
        .name = "vm.unregister",
        .fn = method_vm_unregister,
        .mutates = true,
        .vm = "vm",
        .params = RPC_PARAMS(P_VM(RPC_REQUIRED)),
    },
    {
        .name = "vm.list",
        .fn = method_vm_list,
        .params = RPC_PARAMS(P_INT("limit", limit, RPC_OPTIONAL, 1, PROTO_VM_PAGE_MAX),
                             P_CURSOR("after", after)),
    },
    {
        .name = "vm.show",
        .fn = method_vm_show,
        .vm = "vm",
        .params =
            RPC_PARAMS(P_VM(RPC_REQUIRED), P_INT("limit", limit, RPC_OPTIONAL, 1, PROTO_PAGE_MAX),
                       P_CURSOR("after", after)),
    },
    {
        .name = "device.assign",
        .fn = method_device_assign,
        .mutates = true,
        .vm = "vm",
        .params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_BDF("device", device, RPC_REQUIRED),
                             P_BOOL("shared", shared)),
    },
    {
        .name = "device.release",
        .fn = method_device_release,
        .mutates = true,
        .vm = "vm",
        .params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_BDF("device", device, RPC_REQUIRED)),
    },
    {
        .name = "pasid.alloc",
        .fn = method_pasid_alloc,
        .mutates = true,
        .vm = "vm",
        .params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_ENUM("type", type, RPC_REQUIRED, pasid_types),
                             P_BDF("device", device, RPC_OPTIONAL), P_WQ("wq", wq, RPC_OPTIONAL),
                             P_INT("gpasid", gpasid, RPC_OPTIONAL, 0, PASID_MAX),
                             P_INT("count", count, RPC_OPTIONAL, 1, NS_MAX_COUNT),
                             P_NAME("reservation", resv, RPC_OPTIONAL,
                                    .admin = "only an administrator may take PASIDs from a "
                                             "reservation")),
    },
    {
        .name = "pasid.free",
        .fn = method_pasid_free,
        .mutates = true,
        .vm = "vm",
        .params =
            RPC_PARAMS(P_VM(RPC_REQUIRED), P_INT("gpasid", gpasid, RPC_REQUIRED, 0, PASID_MAX)),
    },
    {
        .name = "pasid.lookup",
        .when = "hpasid",
        .fn = method_pasid_lookup_hpasid,
        .params = RPC_PARAMS(P_INT("hpasid", hpasid, RPC_REQUIRED, 0, PASID_MAX,
                                   .admin = "looking up an hPASID is for administrators; "
                                            "look up by vm and gpasid"),
                             P_BDF("device", device, RPC_OPTIONAL)),
    },
    {
        .name = "pasid.lookup",
        .fn = method_pasid_lookup_gpasid,
        .vm = "vm",
        .params =
            RPC_PARAMS(P_VM(RPC_REQUIRED), P_INT("gpasid", gpasid, RPC_REQUIRED, 0, PASID_MAX)),
    },
    {
        .name = "pasid.list",
        .fn = method_pasid_list,
        .vm = "vm",
        .params = RPC_PARAMS(P_ENUM("type", type, RPC_OPTIONAL, pasid_types), P_VM(RPC_OPTIONAL),
                             P_WQ("wq", wq, RPC_OPTIONAL),
                             P_INT("limit", limit, RPC_OPTIONAL, 1, PROTO_PAGE_MAX),
                             P_CURSOR("after", after)),
    },
    {
        .name = "pasid.attach",
        .fn = method_pasid_attach,
        .mutates = true,
        .vm = "vm",
        .params =
            RPC_PARAMS(P_VM(RPC_REQUIRED), P_INT("gpasid", gpasid, RPC_REQUIRED, 0, PASID_MAX),
                       P_BDF("device", device, RPC_REQUIRED),
                       P_INT("pt_id", pt_id, RPC_REQUIRED, 0, UINT32_MAX),
                       P_INT("dev_id", dev_id, RPC_REQUIRED, 0, UINT32_MAX), P_FDS(2, 2)),
    },
    {
        .name = "pasid.detach",
        .fn = method_pasid_detach,
        .mutates = true,
        .vm = "vm",
        .params =
            RPC_PARAMS(P_VM(RPC_REQUIRED), P_INT("gpasid", gpasid, RPC_REQUIRED, 0, PASID_MAX),
                       P_BDF("device", device, RPC_REQUIRED)),
    },
    {
        .name = "device.attach",
        .fn = method_device_attach,
        .mutates = true,
        .vm = "vm",
        .params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_BDF("device", device, RPC_REQUIRED),
                             P_INT("pt_id", pt_id, RPC_REQUIRED, 0, UINT32_MAX),
                             P_INT("dev_id", dev_id, RPC_REQUIRED, 0, UINT32_MAX), P_FDS(2, 2)),
    },
    {
        .name = "device.detach",
        .fn = method_device_detach,
        .mutates = true,
        .vm = "vm",
        .params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_BDF("device", device, RPC_REQUIRED)),
    },
    {
        .name = "quota.get",
        .fn = method_quota_get,
        .params = RPC_PARAMS(P_CGROUP("cgroup", cgroup, RPC_OPTIONAL)),
    },
    {
        .name = "quota.set",
        .fn = method_quota_set,
        .admin = "setting a quota is for administrators",
        .mutates = true,
        .params = RPC_PARAMS(P_CGROUP("cgroup", cgroup, RPC_REQUIRED),
                             P_LIMIT("max", max, RPC_REQUIRED, 0, INT64_MAX)),
    },
    {
        .name = "wq.list",
        .fn = method_wq_list,
        .params = RPC_NO_PARAMS,
    },
    {
        .name = "wq.configure",
        .fn = method_wq_configure,
        .admin = "configuring a work queue is for administrators",
        .params = RPC_PARAMS(
            P_WQ("wq", wq, RPC_REQUIRED), P_ENUM("mode", wq_mode, RPC_REQUIRED, rpc_wq_modes),
            P_ENUM("type", wq_type, RPC_REQUIRED, rpc_wq_types),
            P_INT("size", size, RPC_OPTIONAL, 1, IDXD_MAX_WQ_SIZE),
            P_INT("priority", priority, RPC_OPTIONAL, 1, IDXD_MAX_PRIORITY),
            P_INT("group", group, RPC_OPTIONAL, 0, IDXD_MAX_GROUP),
            P_INT("threshold", threshold, RPC_OPTIONAL, 1, IDXD_MAX_WQ_SIZE),
            P_LABEL("name", label, RPC_OPTIONAL), P_FLAG("block_on_fault", block_on_fault)),
    },
    {
        .name = "config.reload",
        .fn = method_config_reload,
        .admin = "reloading the configuration is for administrators",
        .params = RPC_NO_PARAMS,
    },
    {
        .name = "vm.export",
        .fn = method_vm_export,
        .vm = "vm",
        .params = RPC_PARAMS(P_VM(RPC_REQUIRED)),
    },
    {
        .name = "vm.import",
        .fn = method_vm_import,
        .mutates = true,
        .vm = "vm",
        .new_vm = true,
        .params =
            RPC_PARAMS(P_OBJECT("document", document, RPC_REQUIRED), P_VM(RPC_OPTIONAL),
                       P_INT("pid", pid, RPC_OPTIONAL, 1, INT32_MAX,
                             .admin = "only an administrator may import a VM for another process"),
                       P_BOOL("dry_run", dry_run), P_OBJECT("devices", devices, RPC_OPTIONAL),
                       P_OBJECT("wqs", wqs, RPC_OPTIONAL),
                       P_NAME("reservation", resv, RPC_OPTIONAL,
                              .admin = "only an administrator may import into a reservation")),
    },
    {
        .name = "events.subscribe",
        .fn = method_events_subscribe,
        .vm = "vm",
        .new_vm = true, /* one to come may be watched for */
        .params =
            RPC_PARAMS(P_SET("kinds", kinds, RPC_OPTIONAL, audit_kind_names), P_VM(RPC_OPTIONAL)),
    },
    {
        .name = "range.reserve",
        .fn = method_range_reserve,
        .admin = "reserving PASIDs is for administrators",
        .mutates = true,
        .params = RPC_PARAMS(P_INT("first", first, RPC_REQUIRED, 0, UINT32_MAX),
                             P_INT("last", last, RPC_REQUIRED, 0, UINT32_MAX),
                             P_TEXT("why", why, RPC_OPTIONAL),
                             P_INT("expires_s", expires_s, RPC_OPTIONAL, 1, RANGE_EXPIRES_MAX),
                             P_NAME("name", resv, RPC_OPTIONAL)),
    },
    {
        .name = "range.unreserve",
        .fn = method_range_unreserve,
        .admin = "removing a reservation is for administrators",
        .mutates = true,
        .params = RPC_PARAMS(P_NAME("name", resv, RPC_OPTIONAL),
                             P_INT("first", first, RPC_OPTIONAL, 0, UINT32_MAX),
                             P_INT("last", last, RPC_OPTIONAL, 0, UINT32_MAX)),
    },
    {
        .name = "range.list",
        .fn = method_range_list,
        .params = RPC_NO_PARAMS,
    },
    {.name = NULL},
};
