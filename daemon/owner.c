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

int
owner_watch(struct pasidd *d, struct ns_vm *vm)
{
	struct owner_watch *w;
	int pidfd;

	if (vm->watch)
		return 0;
	pidfd = (int)syscall(SYS_pidfd_open, vm->owner.pid, 0);
	/* Checked after the pidfd exists, so the pid cannot be reused in between. */
	if (pidfd < 0 || !proc_is(vm->owner.pid, vm->owner.starttime)) {
		if (pidfd >= 0)
			close(pidfd);
		else if (errno != ESRCH)
			log_warn("pidfd_open(%d): %s", (int)vm->owner.pid, strerror(errno));
		if (pidfd < 0 && errno != ESRCH) {
			/* Out of descriptors, say: without a watch the VM would leak when its
			 * owner dies, but reclaiming a live owner's VM would be worse. */
			return 0;
		}
		return reclaim(d, vm, "is gone") ? 1 : 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(pidfd);
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
		return 0;
	}
	vm->watch = w;
	return 0;
}

unsigned
owner_reconcile(struct pasidd *d)
{
	unsigned reclaimed = 0;

	/* owner_watch() may remove the VM at i, shifting the rest down. */
	for (unsigned i = 0; i < d->ns.nvms;) {
		if (owner_watch(d, d->ns.vms[i]) == 1)
			reclaimed++;
		else
			i++;
	}
	return reclaimed;
}
