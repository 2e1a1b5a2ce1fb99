#include "owner.h"
#include "log.h"
#include "namespace.h"
#include "pasidd.h"
#include "peer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct owner_watch {
	struct pasidd *d;
	struct ns_vm *vm;
	struct event *ev;
	int pidfd;
};

/* Whether the VM is gone afterwards. */
static bool
reclaim(struct pasidd *d, struct ns_vm *vm, const char *why)
{
	char name[NS_VM_NAME_MAX + 1];
	pid_t pid = vm->owner.pid;
	unsigned freed;

	snprintf(name, sizeof(name), "%s", vm->name);
	freed = ns_vm_destroy(&d->ns, vm);
	if (ns_vm_find(&d->ns, name)) {
		log_err("owner %d of VM %s %s: freed %u PASID(s), but the kernel kept others; "
		        "the VM stays until they can be detached",
		        (int)pid, name, why, freed);
		return false;
	}
	log_info("owner %d of VM %s %s: VM removed, %u PASID(s) returned", (int)pid, name, why,
	         freed);
	return true;
}

static void
owner_exited(evutil_socket_t fd, short what, void *arg)
{
	struct owner_watch *w = arg;

	/* reclaim() ends in owner_unwatch() through the vm_gone hook, freeing w. */
	reclaim(w->d, w->vm, "exited");
}

void
owner_unwatch(struct ns_vm *vm)
{
	struct owner_watch *w = vm->watch;

	if (!w)
		return;
	vm->watch = NULL;
	event_free(w->ev);
	close(w->pidfd);
	free(w);
}

/* Without a pidfd (kernels before 5.3, valgrind, descriptors exhausted) owners are looked
 * at once a second instead: slower to notice, but a VM never outlives its owner for good. */
static void
owner_poll(evutil_socket_t fd, short what, void *arg)
{
	struct pasidd *d = arg;
	unsigned unwatched = 0;

	for (unsigned i = 0; i < d->ns.nvms;) {
		struct ns_vm *vm = d->ns.vms[i];

		if (vm->watch || owner_watch(d, vm, -1) != 1) {
			unwatched += vm->watch == NULL;
			i++;
		}
	}
	if (!unwatched)
		event_del(d->owner_poll);
}

static void
start_polling(struct pasidd *d, pid_t pid, int err)
{
	struct timeval tv = {.tv_sec = 1};

	if (!d->owner_poll) {
		log_warn("cannot watch owner %d with a pidfd (%s); checking owners every second",
		         (int)pid, strerror(err));
		d->owner_poll = event_new(d->base, -1, EV_PERSIST, owner_poll, d);
	}
	if (d->owner_poll && !event_pending(d->owner_poll, EV_TIMEOUT, NULL))
		event_add(d->owner_poll, &tv);
}

int
owner_watch(struct pasidd *d, struct ns_vm *vm, int pidfd)
{
	struct owner_watch *w;
	int err = 0;

	if (vm->watch) {
		if (pidfd >= 0)
			close(pidfd);
		return 0;
	}
	if (pidfd < 0) {
		pidfd = (int)syscall(SYS_pidfd_open, vm->owner.pid, 0);
		err = errno;
	}
	if (pidfd < 0 && err != ESRCH) {
		if (!proc_is(vm->owner.pid, vm->owner.starttime))
			return reclaim(d, vm, "is gone") ? 1 : 0;
		start_polling(d, vm->owner.pid, err);
		return 0;
	}
	/* Checked after the pidfd exists, so the pid cannot be reused in between. */
	if (pidfd < 0 || !proc_is(vm->owner.pid, vm->owner.starttime)) {
		if (pidfd >= 0)
			close(pidfd);
		return reclaim(d, vm, "is gone") ? 1 : 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(pidfd);
		start_polling(d, vm->owner.pid, ENOMEM);
		return 0;
	}
	w->d = d;
	w->vm = vm;
	w->pidfd = pidfd;
	w->ev = event_new(d->base, pidfd, EV_READ, owner_exited, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		if (w->ev)
			event_free(w->ev);
		close(pidfd);
		free(w);
		start_polling(d, vm->owner.pid, ENOMEM);
		return 0;
	}
	vm->watch = w;
	return 0;
}

void
owner_stop(struct pasidd *d)
{
	for (unsigned i = 0; i < d->ns.nvms; i++)
		owner_unwatch(d->ns.vms[i]);
	if (d->owner_poll)
		event_free(d->owner_poll);
	d->owner_poll = NULL;
}

unsigned
owner_reconcile(struct pasidd *d)
{
	unsigned reclaimed = 0;

	/* owner_watch() may remove the VM at i, shifting the rest down. */
	for (unsigned i = 0; i < d->ns.nvms;) {
		if (owner_watch(d, d->ns.vms[i], -1) == 1)
			reclaimed++;
		else
			i++;
	}
	return reclaimed;
}
