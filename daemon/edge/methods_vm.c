#include "log.h"
#include "methods.h"
#include "procinfo.h"
#include "namespace.h"
#include "paging.h"
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

/* The owner of a VM, the peer or with `pid` (admin only) that process, with its cgroup.
 * Everything about it is read while a pidfd pins it, and believed only if the pidfd shows it
 * alive afterwards, so a reused pid is never taken for it. *pidfd gets that pidfd (for
 * owner_watch to keep), or -1 where no pidfd can be had at all (the admin's pid is then read
 * twice around). */
int
method_vm_owner(struct rpc_call *c, int64_t pid, struct ns_owner *o, char *cgroup, size_t len,
                int *pidfd)
{
	char path[64];
	struct stat st;
	uint64_t again;
	bool gone;

	o->pid = pid < 0 ? c->peer->pid : (pid_t)pid;
	if (pid < 0)
		*pidfd = c->peer->pidfd >= 0 ? fcntl(c->peer->pidfd, F_DUPFD_CLOEXEC, 3) : -1;
	else
		*pidfd = (int)syscall(SYS_pidfd_open, o->pid, 0);
	if (*pidfd < 0 && (pid < 0 || errno == ESRCH))
		return rpc_fail(c, PROTO_E_NOT_FOUND, "pid",
		                pid < 0 ? "the calling process is gone" : "no process %lld",
		                (long long)pid);
	snprintf(path, sizeof(path), "/proc/%d", (int)o->pid);
	gone = proc_starttime(o->pid, &o->starttime) < 0 || stat(path, &st) < 0;
	if (!gone)
		proc_cgroup(o->pid, cgroup, len);
	/* Still the same process now, so everything read was about it. */
	if (!gone && *pidfd >= 0)
		gone = !pidfd_quiet(*pidfd);
	else if (!gone)
		gone = proc_starttime(o->pid, &again) < 0 || again != o->starttime;
	if (gone) {
		if (*pidfd >= 0)
			close(*pidfd);
		*pidfd = -1;
		return rpc_fail(c, PROTO_E_NOT_FOUND, "pid", "process %d is gone", (int)o->pid);
	}
	o->uid = pid < 0 ? c->peer->uid : st.st_uid;
	return 0;
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

/* MaxVMsPerUid: 0, or a negative errno with the call's error (1002) when uid may not own one
 * more. */
bool
method_vm_limit_ok(const struct pasidd *d, uid_t uid, unsigned *mine)
{
	*mine = 0;
	if (uid == 0)
		return true;
	for (unsigned i = 0; i < d->ns.nvms; i++)
		*mine += d->ns.vms[i]->owner.uid == uid;
	return *mine < d->cfg.limits.max_vms_per_uid;
}

int
method_vm_limit(struct rpc_call *c, uid_t uid)
{
	unsigned mine, max = c->d->cfg.limits.max_vms_per_uid;

	if (method_vm_limit_ok(c->d, uid, &mine))
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

	int r;

	if (owner->uid != old.uid && (r = method_vm_limit(c, owner->uid)) < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return r;
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
 * name taken. pin is method_vm_owner's. */
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

/* vm.register of a new VM; pin is method_vm_owner's. */
static int
create(struct rpc_call *c, const char *name, const char *uuid_in, int mode,
       const struct ns_owner *owner, const char *cgroup, int pin, struct ns_vm **out)
{
	char uuid[NS_UUID_LEN + 1];
	struct ns_err err;

	sd_id128_t id;
	int r;

	if ((r = method_vm_limit(c, owner->uid)) < 0) {
		if (pin >= 0)
			close(pin);
		return r;
	}

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

/* The table has checked the name, and that only an admin gives `pid`; a->vm is the VM of
 * that name if there is one. */
int
method_vm_register(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	const char *uuid = a->uuid[0] ? a->uuid : NULL;
	struct ns_vm *vm = a->vm;
	struct ns_owner owner;
	char cgroup[4096];
	int pin, r;

	r = method_vm_owner(c, a->pid, &owner, cgroup, sizeof(cgroup), &pin);
	if (r < 0)
		return r;
	if (vm)
		r = reattach(c, vm, &owner, a->pid >= 0, uuid, a->mode, pin);
	else
		r = create(c, a->vm_name, uuid, a->mode, &owner, cgroup, pin, &vm);
	if (r < 0)
		return r;
	*result = register_result(vm);
	return 0;
}

int
method_vm_unregister(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	char name[NS_VM_NAME_MAX + 1];
	struct ns_err err;
	int freed;

	snprintf(name, sizeof(name), "%s", a->vm->name);
	freed = ns_vm_destroy(&c->d->ns, a->vm, &err);
	if (freed < 0)
		return rpc_fail_ns(c, &err);
	*result = json_object_new_object();
	json_object_object_add(*result, "vm", json_object_new_string(name));
	json_object_object_add(*result, "freed", json_object_new_int64(freed));
	return 0;
}

int
method_vm_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct page p;

	page_start(&p, a->limit, PROTO_VM_PAGE_DEFAULT, &a->after);
	*result = json_object_new_object();
	json_object_object_add(*result, "vms", page_vms(c, &p));
	page_add_next(*result, &p);
	return 0;
}

/* The owner process for people: its command line and unit, or null when it is gone (its VM
 * is being reclaimed) or cannot be read. */
static struct json_object *
owner_json(const struct ns_vm *vm)
{
	char cmdline[PROCINFO_CMDLINE_MAX], unit[256];
	struct json_object *o;

	if (vm->gone || procinfo_describe(vm->owner.pid, vm->pin, cmdline, sizeof(cmdline), unit,
	                                  sizeof(unit)) < 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "cmdline", json_object_new_string(cmdline));
	json_object_object_add(o, "unit", unit[0] ? json_object_new_string(unit) : NULL);
	return o;
}

int
method_vm_show(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct json_object *maps;
	struct page p;

	if (a->after.given && strcmp(a->after.vm, a->vm->name))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "after",
		                "'after' continues a listing of VM '%s', not of '%s'", a->after.vm,
		                a->vm->name);
	page_start(&p, a->limit, PROTO_PAGE_DEFAULT, &a->after);
	maps = page_mappings(c, a->vm, -1, NULL, false, &p);
	if (!maps)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	*result = render_vm(a->vm);
	json_object_object_add(*result, "owner", owner_json(a->vm));
	json_object_object_add(*result, "mappings", maps);
	page_add_next(*result, &p);
	return 0;
}
