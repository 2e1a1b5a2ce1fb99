/* Quota accounting as an observer of the namespace: a transaction that would take a VM or a
 * cgroup above its max is refused as a whole before it stands, and the charges follow the
 * mappings that stand. Runtime limits (ns_quota_set) are applied here too. */
#include "quota_acct.h"
#include "namespace.h"
#include "quota.h"

#include <errno.h>
#include <stdlib.h>

/* A VM's net new PASIDs in one transaction. */
struct net {
	const struct ns_vm *vm;
	long n;
};

static int
check(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err)
{
	struct quota *q = ctx;
	struct net *nets = NULL;
	size_t nn = 0, cap = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		long d = evs[i].kind == NS_EV_MAP_ADDED     ? 1
		         : evs[i].kind == NS_EV_MAP_REMOVED ? -1
		                                            : 0;
		size_t k;

		if (!d)
			continue;
		for (k = 0; k < nn && nets[k].vm != evs[i].vm; k++)
			;
		if (k == nn) {
			if (nn == cap) {
				struct net *nv =
				    realloc(nets, (cap = cap ? cap * 2 : 4) * sizeof(*nv));

				if (!nv) {
					free(nets);
					return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
				}
				nets = nv;
			}
			nets[nn++] = (struct net){.vm = evs[i].vm, .n = 0};
		}
		nets[k].n += d;
	}
	for (size_t k = 0; k < nn && r == 0; k++) {
		const struct ns_vm *vm = nets[k].vm;
		const struct quota_denial *dn;

		if (nets[k].n <= 0)
			continue;
		r = quota_admit(q, vm->cgroup, vm->name, vm->maps.count - (size_t)nets[k].n,
		                (unsigned)nets[k].n);
		if (r == -ENOMEM)
			r = ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
		else if (r < 0 && (dn = quota_last_denial(q))->vm[0])
			r = ns_fail(
			    err, NS_E_QUOTA, NULL,
			    "VM %s holds %llu PASID(s) and may hold %llu (DefaultVMMax); %u "
			    "more refused",
			    dn->vm, (unsigned long long)dn->current, (unsigned long long)dn->max,
			    dn->asked);
		else if (r < 0)
			r = ns_fail(
			    err, NS_E_QUOTA, NULL,
			    "cgroup %.80s holds %llu PASID(s) of its max %llu; %u more refused",
			    dn->cgroup, (unsigned long long)dn->current,
			    (unsigned long long)dn->max, dn->asked);
	}
	free(nets);
	return r;
}

/* One VM's mappings added and removed in a run of a transaction's events: charged, then
 * returned, in one call each. Charges first: a return never finds fewer charged than the
 * events one by one would have (a shortfall is clamped by quota_uncharge). */
static void
settle_run(struct quota *q, const struct ns_vm *vm, unsigned added, unsigned removed)
{
	/* Admitted by check(): only memory can fail, and a charge missing then is found by
	 * quota_check() and rebuilt at the next start. */
	if (added)
		quota_charge(q, vm->cgroup, vm->name, 0, added, true);
	if (removed)
		quota_uncharge(q, vm->cgroup, removed);
}

/* The charges of a transaction that stands, per run of events of one VM rather than per
 * mapping: a VM's teardown is one event a mapping (16,384 for a VM filled by four count
 * allocations), each of which cost a search of the tree by path. */
static void
begin(void *ctx, const struct ns_event *evs, size_t n)
{
	struct quota *q = ctx;
	const struct ns_vm *vm = NULL;
	unsigned added = 0, removed = 0;

	for (size_t i = 0; i < n; i++) {
		if (evs[i].kind != NS_EV_MAP_ADDED && evs[i].kind != NS_EV_MAP_REMOVED)
			continue;
		if (evs[i].vm != vm) {
			if (vm)
				settle_run(q, vm, added, removed);
			vm = evs[i].vm;
			added = removed = 0;
		}
		if (evs[i].kind == NS_EV_MAP_ADDED)
			added++;
		else
			removed++;
	}
	if (vm)
		settle_run(q, vm, added, removed);
}

static void
apply(void *ctx, const struct ns_event *ev)
{
	struct quota *q = ctx;

	/* Mappings are charged by begin(), a transaction at a time. */
	if (ev->kind == NS_EV_QUOTA_SET)
		quota_set_limit(q, ev->cgroup, QUOTA_SRC_RUNTIME, ev->max);
}

int
quota_acct_observe(struct quota *q, struct ns *ns)
{
	return ns_observe(
	    ns, &(struct ns_observer){.check = check, .apply = apply, .ctx = q, .begin = begin});
}

int
quota_acct_rebuild(struct quota *q, const struct ns *ns)
{
	for (unsigned i = 0; i < ns->nvms; i++) {
		const struct ns_vm *vm = ns->vms[i];

		if (vm->maps.count &&
		    quota_charge(q, vm->cgroup, vm->name, 0, (unsigned)vm->maps.count, true) < 0)
			return -ENOMEM;
		/* Also for a VM that holds nothing yet: its next allocation must see them. */
		if (quota_refresh_xattrs(q, vm->cgroup) < 0)
			return -ENOMEM;
	}
	/* The cgroups that only have a configured or runtime limit. */
	return quota_refresh_all_xattrs(q);
}
