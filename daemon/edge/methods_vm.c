#include "log.h"
#include "methods.h"
#include "namespace.h"
#include "paging.h"
#include "params.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "quota.h"
#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-id128.h>

static const char *const modes[] = {"translated", "identity", NULL};

/* The owner of a VM, the peer or with `pid` (admin only) that process, with its cgroup.
 * Everything about it is read while a pidfd pins it, and believed only if the pidfd shows it
 * alive afterwards, so a reused pid is never taken for it. Returns that pidfd (for
 * owner_watch to keep), -2 where no pidfd can be had at all (the admin's pid is then read
 * twice around), or -1 with the call's error. */
static int
owner_of(struct rpc_call *c, int64_t pid, struct ns_owner *o, char *cgroup, size_t len)
{
	char path[64];
	struct stat st;
	uint64_t again;
	bool gone;
	int pidfd;

	o->pid = pid < 0 ? c->peer->pid : (pid_t)pid;
	if (pid < 0)
		pidfd = c->peer->pidfd >= 0 ? fcntl(c->peer->pidfd, F_DUPFD_CLOEXEC, 3) : -1;
	else
		pidfd = (int)syscall(SYS_pidfd_open, o->pid, 0);
	if (pidfd < 0 && (pid < 0 || errno == ESRCH))
		return rpc_fail(c, PROTO_E_NOT_FOUND, "pid",
		                pid < 0 ? "the calling process is gone" : "no process %lld",
		                (long long)pid);
	snprintf(path, sizeof(path), "/proc/%d", (int)o->pid);
	gone = proc_starttime(o->pid, &o->starttime) < 0 || stat(path, &st) < 0;
	if (!gone)
		proc_cgroup(o->pid, cgroup, len);
	/* Still the same process now, so everything read was about it. */
	if (!gone && pidfd >= 0)
		gone = !pidfd_quiet(pidfd);
	else if (!gone)
		gone = proc_starttime(o->pid, &again) < 0 || again != o->starttime;
	if (gone) {
		if (pidfd >= 0)
			close(pidfd);
		return rpc_fail(c, PROTO_E_NOT_FOUND, "pid", "process %d is gone", (int)o->pid);
	}
	o->uid = pid < 0 ? c->peer->uid : st.st_uid;
	return pidfd >= 0 ? pidfd : -2;
}

static struct json_object *
register_result(const struct ns_vm *vm)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "vm", json_object_new_string(vm->name));
	json_object_object_add(o, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(o, "mode", json_object_new_string(ns_mode_name(vm->mode)));
	json_object_object_add(o, "pid", json_object_new_int64(vm->owner.pid));
	json_object_object_add(o, "cgroup", json_object_new_string(vm->cgroup));
	return o;
}

/* MaxVMsPerUid: 0, or -1 with the call's error (1002) when uid may not own one more. */
static int
check_vm_limit(struct rpc_call *c, uid_t uid)
{
	unsigned mine = 0, max = c->d->cfg.limits.max_vms_per_uid;

	if (uid == 0)
		return 0;
	for (unsigned i = 0; i < c->d->ns.nvms; i++)
		mine += c->d->ns.vms[i]->owner.uid == uid;
	if (mine < max)
		return 0;
	c->data = json_object_new_object();
	json_object_object_add(c->data, "limit", json_object_new_string("MaxVMsPerUid"));
	json_object_object_add(c->data, "uid", json_object_new_int64(uid));
	json_object_object_add(c->data, "max", json_object_new_int64(max));
	json_object_object_add(c->data, "current", json_object_new_int64(mine));
	return rpc_fail(c, PROTO_E_QUOTA, "vm", "uid %u already has %u VMs (MaxVMsPerUid)",
	                (unsigned)uid, mine);
}

/* An admin's vm.register of an existing VM with another `pid`: the VM is handed to that
 * process (how a VMM passes a VM on to a new process), journaled and logged. */
static int
move_owner(struct rpc_call *c, struct ns_vm *vm, const struct ns_owner *owner, int pidfd)
{
	struct ns_owner old = vm->owner;
	struct ns_err err;

	if (owner->uid != old.uid && check_vm_limit(c, owner->uid) < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return -1;
	}
	if (ns_vm_set_owner(&c->d->ns, vm, owner, pidfd, &err) < 0)
		return rpc_fail_ns(c, &err);
	log_info("VM %s handed from owner %d (uid %u) to %d (uid %u) by pid %d uid %u", vm->name,
	         (int)old.pid, (unsigned)old.uid, (int)owner->pid, (unsigned)owner->uid,
	         (int)c->peer->pid, (unsigned)c->peer->uid);
	return 0;
}

/* vm.register of an existing VM: the owner process (same pid and start time) or an admin
 * gets it back, an admin naming another process hands it over; everyone else finds the
 * name taken. pin is owner_of's. */
static int
reattach(struct rpc_call *c, struct ns_vm *vm, const struct ns_owner *owner, bool by_pid,
         const char *uuid, int mode, int pin)
{
	bool owner_again = vm->owner.pid == owner->pid && vm->owner.starttime == owner->starttime;
	int r = 0;

	if (!owner_again && !c->peer->admin)
		r = rpc_fail(c, PROTO_E_CONFLICT, "vm", "VM '%s' is registered by another process",
		             vm->name);
	else if (uuid && strcmp(uuid, vm->uuid))
		r = rpc_fail(c, PROTO_E_CONFLICT, "uuid", "VM '%s' exists with another UUID",
		             vm->name);
	else if (mode >= 0 && (enum ns_mode)mode != vm->mode)
		r = rpc_fail(c, PROTO_E_CONFLICT, "mode", "VM '%s' exists in %s mode", vm->name,
		             ns_mode_name(vm->mode));
	else if (by_pid && !owner_again)
		return move_owner(c, vm, owner, pin);
	if (pin >= 0)
		close(pin);
	if (r == 0 && c->d->quota)
		quota_refresh_xattrs(c->d->quota, vm->cgroup);
	return r;
}

/* vm.register of a new VM; pin is owner_of's. */
static int
create(struct rpc_call *c, const char *name, const char *uuid_in, int mode,
       const struct ns_owner *owner, const char *cgroup, int pin, struct ns_vm **out)
{
	char uuid[NS_UUID_LEN + 1];
	struct ns_err err;

	if (check_vm_limit(c, owner->uid) < 0) {
		if (pin >= 0)
			close(pin);
		return -1;
	}
	sd_id128_t id;

	if (uuid_in)
		snprintf(uuid, sizeof(uuid), "%s", uuid_in);
	else if (sd_id128_randomize(&id) < 0)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "no random UUID to be had");
	else
		sd_id128_to_uuid_string(id, uuid);
	/* The VM takes the pin over: its owner watch starts once the registration stands. */
	if (ns_vm_create(&c->d->ns, name, uuid, mode < 0 ? NS_MODE_TRANSLATED : (enum ns_mode)mode,
	                 owner, cgroup, pin, out, &err) < 0)
		return rpc_fail_ns(c, &err);
	/* An orchestrator sets user.pasid.max where it creates cgroups: read it on the way in. */
	if (c->d->quota)
		quota_refresh_xattrs(c->d->quota, (*out)->cgroup);
	return 0;
}

METHOD(method_vm_register)
{
	static const char *const names[] = {"vm", "uuid", "mode", "pid", NULL};
	const char *name;
	char uuid[NS_UUID_LEN + 1], cgroup[4096];
	int mode = -1, pin, r, has_uuid;
	int64_t pid;
	struct ns_owner owner;
	struct ns_vm *vm;

	if (params_only(c, params, names) < 0 || param_str(c, params, "vm", true, &name) < 0 ||
	    (has_uuid = param_uuid(c, params, "uuid", uuid)) < 0 ||
	    param_enum(c, params, "mode", false, modes, &mode) < 0 ||
	    param_int(c, params, "pid", false, 1, INT32_MAX, &pid) < 0)
		return -1;
	if (!ns_vm_name_valid(name))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "vm",
		                "'vm' must be 1-64 characters [A-Za-z0-9._:@+-] starting with a "
		                "letter or digit");
	if (pid >= 0 && !c->peer->admin)
		return rpc_fail(c, PROTO_E_PERMISSION, "pid",
		                "only an administrator may register a VM for another process");
	pin = owner_of(c, pid, &owner, cgroup, sizeof(cgroup));
	if (pin == -1)
		return -1;
	vm = ns_vm_find(&c->d->ns, name);
	if (vm) {
		r = reattach(c, vm, &owner, pid >= 0, has_uuid ? uuid : NULL, mode, pin);
		if (r < 0)
			return r;
	} else {
		r = create(c, name, has_uuid ? uuid : NULL, mode, &owner, cgroup, pin, &vm);
		if (r < 0)
			return r;
	}
	*result = register_result(vm);
	return 0;
}

METHOD(method_vm_unregister)
{
	static const char *const names[] = {"vm", NULL};
	struct ns_vm *vm;
	char name[NS_VM_NAME_MAX + 1];
	struct ns_err err;
	int freed;

	if (params_only(c, params, names) < 0 || param_vm(c, params, &vm) < 0)
		return -1;
	snprintf(name, sizeof(name), "%s", vm->name);
	freed = ns_vm_destroy(&c->d->ns, vm, &err);
	if (freed < 0)
		return rpc_fail_ns(c, &err);
	*result = json_object_new_object();
	json_object_object_add(*result, "vm", json_object_new_string(name));
	json_object_object_add(*result, "freed", json_object_new_int64(freed));
	return 0;
}

METHOD(method_vm_list)
{
	static const char *const names[] = {"limit", "after", NULL};
	struct page p;

	if (params_only(c, params, names) < 0 ||
	    page_params(c, params, PROTO_VM_PAGE_DEFAULT, PROTO_VM_PAGE_MAX, &p) < 0)
		return -1;
	*result = json_object_new_object();
	json_object_object_add(*result, "vms", page_vms(c, &p));
	page_add_next(*result, &p);
	return 0;
}

METHOD(method_vm_show)
{
	static const char *const names[] = {"vm", "limit", "after", NULL};
	struct json_object *maps;
	struct ns_vm *vm;
	struct page p;

	if (params_only(c, params, names) < 0 || param_vm(c, params, &vm) < 0 ||
	    page_params(c, params, PROTO_PAGE_DEFAULT, PROTO_PAGE_MAX, &p) < 0)
		return -1;
	if (p.after && strcmp(p.vm, vm->name))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "after",
		                "'after' continues a listing of VM '%s', not of '%s'", p.vm,
		                vm->name);
	maps = page_mappings(c, vm, -1, false, &p);
	if (!maps)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	*result = render_vm(vm);
	json_object_object_add(*result, "mappings", maps);
	page_add_next(*result, &p);
	return 0;
}
