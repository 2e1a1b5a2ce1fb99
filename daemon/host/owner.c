#include "owner.h"
#include "log.h"
#include "namespace.h"
#include "peer.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct owners {
	struct event_base *base;
	struct ns *ns;
	struct event *poll; /* owners without a pidfd, looked at every second */
	unsigned unpinned;  /* watches without a pidfd */
	bool warned;
	uint64_t reclaimed, reclaimed_pasids; /* VMs of exited owners removed, their PASIDs */
};

struct owner_watch {
	struct owners *o;
	struct ns_vm *vm;
	struct event *ev; /* the pidfd's readability, or made active to reclaim at once */
	int pidfd;        /* -1: polled */
};

static const struct timeval one_second = {1, 0};

/* Whether the VM is gone afterwards. A VM whose PASIDs the kernel will not let go of, or whose
 * removal cannot be recorded, stays, and is tried again every second. */
static bool
reclaim(struct owners *o, struct ns_vm *vm, const char *why)
{
	char name[NS_VM_NAME_MAX + 1];
	pid_t pid = vm->owner.pid;
	struct ns_err err = {0};
	int freed;

	snprintf(name, sizeof(name), "%s", vm->name);
	/* What its descriptors held in the kernel went with them (ns_vm.gone). */
	vm->gone = true;
	freed = ns_vm_destroy(o->ns, vm, &err);
	if (freed < 0) {
		log_err("owner %d of VM %s %s, but the VM cannot be removed yet (%s); trying again "
		        "every second",
		        (int)pid, name, why, err.message);
		return false;
	}
	/* The audit trail tells it (vm.reclaim, edge/audit.c); this is for debugging. */
	log_debug("owner %d of VM %s %s: VM removed, %d PASID(s) returned", (int)pid, name, why,
	          freed);
	o->reclaimed++;
	o->reclaimed_pasids += (uint64_t)freed;
	return true;
}

static void
unwatch(struct ns_vm *vm)
{
	struct owner_watch *w = vm->watch;

	if (!w)
		return;
	vm->watch = NULL;
	if (w->pidfd < 0)
		w->o->unpinned--;
	else
		close(w->pidfd);
	event_free(w->ev);
	free(w);
}

/* From now on the watch polls: the pidfd said what it could, or there never was one. */
static void
unpin(struct owner_watch *w)
{
	if (w->pidfd < 0)
		return;
	close(w->pidfd);
	w->pidfd = -1;
	w->o->unpinned++;
	if (!evtimer_pending(w->o->poll, NULL))
		evtimer_add(w->o->poll, &one_second);
}

static void
owner_exited(evutil_socket_t fd, short what, void *arg)
{
	struct owner_watch *w = arg;

	/* A removal ends in unwatch() through the namespace's event, freeing w. */
	if (!reclaim(w->o, w->vm, "exited"))
		unpin(w);
}

/* Without a pidfd (kernels before 5.3, valgrind, descriptors exhausted), and for VMs whose
 * removal failed, owners are looked at once a second: slower to notice, but a VM never
 * outlives its owner for good. */
static void
owner_poll(evutil_socket_t fd, short what, void *arg)
{
	struct owners *o = arg;

	for (unsigned i = 0; i < o->ns->nvms;) {
		struct ns_vm *vm = o->ns->vms[i];
		struct owner_watch *w = vm->watch;

		if (w && w->pidfd < 0 && !proc_is(vm->owner.pid, vm->owner.starttime) &&
		    reclaim(o, vm, "is gone"))
			continue; /* the rest moved down */
		i++;
	}
	if (o->unpinned)
		evtimer_add(o->poll, &one_second);
}

/* Starts watching vm's owner, through vm->pin when it has one (a pidfd made before anything
 * was read about the owner), else through a pidfd made now. Returns whether the owner is
 * gone: the caller reclaims then (or has it reclaimed, outside a commit). */
static bool
watch(struct owners *o, struct ns_vm *vm)
{
	struct owner_watch *w;
	int pidfd = vm->pin, err = 0;
	bool gone;

	vm->pin = -1;
	if (vm->watch) {
		if (pidfd >= 0)
			close(pidfd);
		return false;
	}
	if (pidfd < 0) {
		pidfd = (int)syscall(SYS_pidfd_open, vm->owner.pid, 0);
		err = pidfd < 0 ? errno : 0;
	}
	/* Checked after the pidfd exists, so the pid cannot be reused in between; a pidfd of
	 * whatever has the pid now is no use. */
	gone = (pidfd < 0 && err == ESRCH) || !proc_is(vm->owner.pid, vm->owner.starttime);
	if (gone && pidfd >= 0) {
		close(pidfd);
		pidfd = -1;
	}
	w = calloc(1, sizeof(*w));
	if (w)
		w->ev = event_new(o->base, pidfd, pidfd >= 0 ? EV_READ : 0, owner_exited, w);
	if (!w || !w->ev) {
		/* Out of memory: the owner is looked at again at the next start. */
		log_err("out of memory watching the owner of VM %s", vm->name);
		if (pidfd >= 0)
			close(pidfd);
		free(w);
		return gone;
	}
	w->o = o;
	w->vm = vm;
	w->pidfd = pidfd;
	vm->watch = w;
	if (pidfd >= 0) {
		event_add(w->ev, NULL);
		return false;
	}
	o->unpinned++;
	if (!gone && !o->warned) {
		log_warn("cannot watch owner %d with a pidfd (%s); checking owners every second",
		         (int)vm->owner.pid, strerror(err));
		o->warned = true;
	}
	if (!evtimer_pending(o->poll, NULL))
		evtimer_add(o->poll, &one_second);
	return gone;
}

/* Follows the namespace. Reclaiming is a change of its own, so a gone owner found here is
 * reclaimed from the loop, not from within the commit that told us. */
static void
follow(void *ctx, const struct ns_event *ev)
{
	struct owners *o = ctx;
	struct ns_vm *vm = (struct ns_vm *)ev->vm;

	switch (ev->kind) {
	case NS_EV_VM_OWNER:
		unwatch(vm);
		/* fall through */
	case NS_EV_VM_CREATED:
		if (watch(o, vm) && vm->watch)
			event_active(((struct owner_watch *)vm->watch)->ev, EV_READ, 0);
		break;
	case NS_EV_VM_DESTROYED:
		unwatch(vm);
		break;
	default:
		break;
	}
}

int
owners_new(struct event_base *base, struct ns *ns, struct owners **out)
{
	struct owners *o = calloc(1, sizeof(*o));

	if (!o || !(o->poll = evtimer_new(base, owner_poll, o))) {
		free(o);
		return -ENOMEM;
	}
	o->base = base;
	o->ns = ns;
	*out = o;
	return 0;
}

int
owners_start(struct owners *o)
{
	int reclaimed = 0, r;

	/* Observing first: a reclaim's removal is what ends its watch. */
	r = ns_observe(o->ns, &(struct ns_observer){.apply = follow, .ctx = o});
	if (r < 0)
		return r;
	/* A reclaim removes the VM at i, shifting the rest down. */
	for (unsigned i = 0; i < o->ns->nvms;) {
		struct ns_vm *vm = o->ns->vms[i];

		if (watch(o, vm) && reclaim(o, vm, "is gone"))
			reclaimed++;
		else
			i++;
	}
	return reclaimed;
}

void
owners_free(struct owners *o)
{
	if (!o)
		return;
	ns_unobserve(o->ns, o);
	for (unsigned i = 0; i < o->ns->nvms; i++)
		unwatch(o->ns->vms[i]);
	event_free(o->poll);
	free(o);
}

void
owners_get_reclaims(const struct owners *o, uint64_t *vms, uint64_t *pasids)
{
	*vms = o ? o->reclaimed : 0;
	*pasids = o ? o->reclaimed_pasids : 0;
}
