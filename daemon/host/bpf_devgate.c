/* The device gate (bpf_devgate.h): which VMs are gated, what each may open, and the status. */
#ifdef PASIDD_HAVE_BPF
#include "bpf_devgate.h"
#include "bpf_devgate_prog.h"
#include "cgroup.h"
#include "devgate_allow.h"
#include "devgate_rules.h"
#include "devgate_sysfs.h"
#include "log.h"
#include "peer.h"
#include "procinfo.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WHY_LEN 200
/* How often every gate is brought up to date with what no event tells pasidd: a device
 * bound to vfio-pci (or rebound: another minor) after device.assign, an owner moved to
 * another cgroup. */
#define RESCAN_S 5

/* One VM, gated or not. */
struct gate {
	char vm[NS_VM_NAME_MAX + 1];
	char *cgroup;
	struct devgate_prog *prog; /* NULL: not gated */
	/* The work queues the allowed map holds the char devices of (interned, see ns_wq). */
	const struct ns_wq **wqs;
	size_t nwqs;
	char why[WHY_LEN]; /* why not gated, "" when it is */
	bool failed;       /* a failure to gate it was logged: not again */
};

struct bpf_devgate {
	struct ns *ns;
	struct bpfprog_state *st;
	char *sys, *proc_devices;
	char mnt[CGROUP_PATH_MAX], root[CGROUP_PATH_MAX], self[CGROUP_PATH_MAX];
	struct devgate_managed managed;
	int dsa_major, iax_major;  /* -1 where /proc/devices has none */
	struct devgate_dev *extra; /* DeviceAllow=, resolved */
	size_t nextra;
	struct gate **gates;
	size_t ngates, cap;
	struct event *rescan; /* every RESCAN_S seconds */
};

/* Where VM vm is in the gates (sorted by VM name: a pasid.alloc's thousands of mapping
 * events each look their VM up), or where it would go; *found says which. */
static size_t
slot(const struct bpf_devgate *g, const char *vm, bool *found)
{
	size_t lo = 0, hi = g->ngates;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->gates[mid]->vm, vm);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct gate *
find(const struct bpf_devgate *g, const char *vm)
{
	bool found;
	size_t i = slot(g, vm, &found);

	return found ? g->gates[i] : NULL;
}

static void
status(struct bpf_devgate *g)
{
	size_t gated = 0, ungated = 0;
	const struct gate *first = NULL;

	for (size_t i = 0; i < g->ngates; i++) {
		if (g->gates[i]->prog)
			gated++;
		else if (ungated++ == 0)
			first = g->gates[i];
	}
	g->st->active = true;
	if (!g->managed.nmajors && !g->managed.nminors)
		snprintf(g->st->why, sizeof(g->st->why),
		         "%zu VM cgroup(s) gated, with nothing to refuse: this host has no VFIO, "
		         "iommufd or idxd char devices",
		         gated);
	else if (!ungated)
		snprintf(g->st->why, sizeof(g->st->why), "%zu VM cgroup(s) gated", gated);
	else
		snprintf(g->st->why, sizeof(g->st->why),
		         "%zu VM cgroup(s) gated, %zu VM(s) not (VM '%.40s': %.120s)", gated,
		         ungated, first->vm, first->why);
}

/* Whether the allowed map holds the char device of wq. */
static bool
has_wq(const struct gate *e, const struct ns_wq *wq)
{
	for (size_t i = 0; i < e->nwqs; i++)
		if (e->wqs[i] == wq)
			return true;
	return false;
}

/* Makes e's allowed map match what its VM holds now (devgate_allow.h). */
static int
sync_gate(struct bpf_devgate *g, struct gate *e, const struct ns_vm *vm, bool quiet, char *why,
          size_t len)
{
	struct devgate_host h = {g->sys, g->dsa_major, g->iax_major, g->extra, g->nextra, quiet};
	struct devgate_dev *want = NULL;
	const struct ns_wq **wqs = NULL;
	size_t n = 0, nwqs = 0;
	int r = 0;

	if (vm->nwqs && !(wqs = calloc(vm->nwqs, sizeof(*wqs))))
		r = -ENOMEM;
	if (r == 0)
		r = devgate_vm_allowed(&h, vm, &want, &n, wqs, &nwqs);
	if (r < 0)
		snprintf(why, len, "out of memory");
	else
		r = devgate_prog_allow(e->prog, want, n, why, len);
	free(want);
	if (r < 0) {
		free(wqs);
		return r;
	}
	free(e->wqs);
	e->wqs = wqs;
	e->nwqs = nwqs;
	return 0;
}

/* Loads, fills and links e's program on its cgroup. */
static int
attach(struct bpf_devgate *g, struct gate *e, const struct ns_vm *vm, char *why, size_t len)
{
	char dir[CGROUP_PATH_MAX + 512];
	int fd, r;

	r = cgroup_dir(g->mnt, g->root, e->cgroup, dir, sizeof(dir));
	if (r < 0) {
		snprintf(why, len, "its cgroup %.100s is outside the cgroup2 mount %.40s",
		         e->cgroup, g->mnt);
		return r;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, len, "cannot open %.150s: %s", dir, strerror(errno));
		return r;
	}
	/* The allowed map is full before the link: the VM is never refused its own devices. */
	if ((r = devgate_prog_load(&g->managed, &e->prog, why, len)) == 0 &&
	    (r = sync_gate(g, e, vm, false, why, len)) == 0)
		r = devgate_prog_attach(e->prog, fd, why, len);
	close(fd);
	if (r < 0) {
		devgate_prog_free(e->prog);
		e->prog = NULL;
	}
	return r;
}

static void
detach(struct gate *e)
{
	devgate_prog_free(e->prog);
	e->prog = NULL;
	free(e->wqs);
	e->wqs = NULL;
	e->nwqs = 0;
}

/* Gates or ungates every VM in cgroup cg, as the rules now say. */
static void
regate(struct bpf_devgate *g, const char *cg)
{
	unsigned sharers = 0;

	for (size_t i = 0; i < g->ngates; i++)
		sharers += !strcmp(g->gates[i]->cgroup, cg);
	for (size_t i = 0; i < g->ngates; i++) {
		struct gate *e = g->gates[i];
		const struct ns_vm *vm;
		char why[WHY_LEN];

		if (strcmp(e->cgroup, cg))
			continue;
		if (!devgate_cgroup_gated(cg, g->self, sharers, e->why, sizeof(e->why))) {
			if (e->prog)
				log_info("device gate: VM %s no longer gated: %s", e->vm, e->why);
			detach(e);
			continue;
		}
		if (e->prog || !(vm = ns_vm_find(g->ns, e->vm)))
			continue;
		if (attach(g, e, vm, why, sizeof(why)) < 0) {
			snprintf(e->why, sizeof(e->why), "%s", why);
			if (!e->failed)
				log_warn("device gate: VM %s (cgroup %s) is not gated: %s", e->vm,
				         cg, why);
			e->failed = true;
		} else
			log_info("device gate: VM %s gated on cgroup %s", e->vm, cg);
	}
}

/* The cgroup the VM's owner is in now (malloc'd): where its devices are opened from. The one
 * it registered from (vm->cgroup, where its PASIDs stay charged) when that cannot be read. */
static char *
owner_cgroup(const struct ns_vm *vm)
{
	char now[CGROUP_PATH_MAX];

	if (procinfo_cgroup(vm->owner.pid, vm->pin, now, sizeof(now)) == 0)
		return strdup(now);
	return strdup(vm->cgroup ? vm->cgroup : "");
}

static void
add_vm(struct bpf_devgate *g, const struct ns_vm *vm)
{
	struct gate *e;
	bool found;
	size_t at = slot(g, vm->name, &found);

	if (found)
		return;
	if (g->ngates == g->cap) {
		size_t c = g->cap ? g->cap * 2 : 16;
		struct gate **grown = realloc(g->gates, c * sizeof(*grown));

		if (!grown)
			goto nomem;
		g->gates = grown;
		g->cap = c;
	}
	if (!(e = calloc(1, sizeof(*e))))
		goto nomem;
	if (!(e->cgroup = owner_cgroup(vm))) {
		free(e);
		goto nomem;
	}
	snprintf(e->vm, sizeof(e->vm), "%s", vm->name);
	memmove(&g->gates[at + 1], &g->gates[at], (g->ngates - at) * sizeof(*g->gates));
	g->gates[at] = e;
	g->ngates++;
	regate(g, e->cgroup);
	return;
nomem:
	log_warn("device gate: VM %s is not gated: out of memory", vm->name);
}

static void
remove_vm(struct bpf_devgate *g, const char *name)
{
	bool found;
	size_t i = slot(g, name, &found);
	struct gate *e;

	if (!found)
		return;
	e = g->gates[i];
	detach(e);
	memmove(&g->gates[i], &g->gates[i + 1], (g->ngates - i - 1) * sizeof(*g->gates));
	g->ngates--;
	/* The VMs left in its cgroup may be gated now that they are alone. */
	if (e->cgroup[0])
		regate(g, e->cgroup);
	free(e->cgroup);
	free(e);
}

/* The managed majors and minors from /proc/devices (or ProcDevices=) and sysfs, as they
 * are now: VFIO and idxd may be loaded after pasidd starts (vfio-pci often is, at the first
 * bind), and a region missed would leave its devices ungated. */
static int
read_managed(struct bpf_devgate *g, struct devgate_managed *m, char *why, size_t len)
{
	static const char *const regions[] = {"vfio", "vfio-dev", "dsa", "iax"};
	char text[16384];
	struct devgate_dev iommu;
	size_t have = 0;
	ssize_t n;
	int fd = open(g->proc_devices, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		r = -errno;
		snprintf(why, len, "cannot read %s: %s", g->proc_devices, strerror(errno));
		return r;
	}
	/* procfs hands out a page or so per read. */
	while (have < sizeof(text) - 1 && (n = read(fd, text + have, sizeof(text) - 1 - have)) > 0)
		have += (size_t)n;
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		snprintf(why, len, "cannot read %s: %s", g->proc_devices, strerror(-r));
		return r;
	}
	text[have] = '\0';
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		int maj = devgate_char_major(text, regions[i]);

		if (maj >= 0)
			m->majors[m->nmajors++] = (uint32_t)maj;
	}
	g->dsa_major = devgate_char_major(text, "dsa");
	g->iax_major = devgate_char_major(text, "iax");
	if (devgate_sysfs_iommu(g->sys, &iommu, why, len) == 0)
		m->minors[m->nminors++] = iommu;
	why[0] = '\0';
	return 0;
}

/* Reads the managed regions again and gives every program what changed. */
static void
refresh_managed(struct bpf_devgate *g)
{
	struct devgate_managed m;
	char why[WHY_LEN];

	if (read_managed(g, &m, why, sizeof(why)) < 0 || !memcmp(&m, &g->managed, sizeof(m)))
		return;
	log_info("device gate: now %zu char major(s) and %zu device(s) managed", m.nmajors,
	         m.nminors);
	g->managed = m;
	for (size_t i = 0; i < g->ngates; i++) {
		struct gate *e = g->gates[i];

		if (e->prog && devgate_prog_manage(e->prog, &m, why, sizeof(why)) < 0 &&
		    !e->failed) {
			log_warn("device gate of VM %s: %s", e->vm, why);
			e->failed = true;
		}
	}
}

/* Brings a gated VM's map up to date, saying a failure once. */
static void
resync(struct bpf_devgate *g, const struct ns_vm *vm)
{
	struct gate *e = find(g, vm->name);
	char why[WHY_LEN];

	if (!e || !e->prog)
		return;
	refresh_managed(g);
	if (sync_gate(g, e, vm, false, why, sizeof(why)) == 0)
		return;
	if (!e->failed)
		log_warn("device gate of VM %s: %s", vm->name, why);
	e->failed = true;
}

/* Moves e's program to the cgroup its owner is in now, if that is another one (a VMM moved
 * after it registered, or a VM handed to another owner). */
static void
follow_owner(struct bpf_devgate *g, struct gate *e, const struct ns_vm *vm)
{
	char now[CGROUP_PATH_MAX], *old;

	if (procinfo_cgroup(vm->owner.pid, vm->pin, now, sizeof(now)) < 0 ||
	    !strcmp(now, e->cgroup))
		return;
	if (!(old = e->cgroup) || !(e->cgroup = strdup(now))) {
		e->cgroup = old;
		return;
	}
	log_info("device gate: VM %s's owner is now in cgroup %s, not %s: the gate follows it",
	         e->vm, now, old);
	detach(e);
	e->failed = false;
	/* The VMs left behind may be gated now that they are alone; the new one's sharers not. */
	if (old[0])
		regate(g, old);
	regate(g, e->cgroup);
	free(old);
}

/* Every gate up to date with its owner's cgroup and with sysfs. */
static void
rescan(struct bpf_devgate *g)
{
	refresh_managed(g);
	for (size_t i = 0; i < g->ngates; i++) {
		struct gate *e = g->gates[i];
		const struct ns_vm *vm = ns_vm_find(g->ns, e->vm);
		char why[WHY_LEN];

		if (!vm || vm->gone)
			continue;
		follow_owner(g, e, vm);
		if (!e->prog)
			continue;
		if (sync_gate(g, e, vm, true, why, sizeof(why)) == 0)
			e->failed = false;
		else if (!e->failed) {
			log_warn("device gate of VM %s: %s", e->vm, why);
			e->failed = true;
		}
	}
	status(g);
}

static void
on_rescan(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	rescan(ctx);
}

static void
apply(void *ctx, const struct ns_event *ev)
{
	struct bpf_devgate *g = ctx;
	const struct ns_mapping *m = ev->map;

	switch (ev->kind) {
	case NS_EV_VM_CREATED:
		refresh_managed(g);
		add_vm(g, ev->vm);
		break;
	case NS_EV_VM_DESTROYED:
		remove_vm(g, ev->vm->name);
		break;
	case NS_EV_DEV_ASSIGNED:
	case NS_EV_DEV_RELEASED:
		resync(g, ev->vm);
		break;
	case NS_EV_VM_OWNER: {
		struct gate *e = find(g, ev->vm->name);

		if (e)
			follow_owner(g, e, ev->vm);
		break;
	}
	case NS_EV_MAP_ADDED:
	case NS_EV_MAP_REMOVED:
		/* Thousands of mappings come at once: only a WQ that starts or stops being
		 * named by the VM changes its map, which already holds the VM's state after
		 * the whole transaction. */
		if (m->wq) {
			struct gate *e = find(g, m->vm->name);
			bool named = false;

			for (unsigned i = 0; i < m->vm->nwqs; i++)
				if (m->vm->wqs[i].wq == m->wq)
					named = m->vm->wqs[i].nmaps > 0;
			if (e && e->prog && named != has_wq(e, m->wq)) {
				resync(g, m->vm);
				break;
			}
		}
		/* Nothing changed that the status tells: formatting it again for each of a
		 * count allocation's thousands of mappings was a tenth of the daemon's time. */
		return;
	default:
		return;
	}
	status(g);
}

static int
read_extra(struct bpf_devgate *g, const struct pasidd_config *cfg)
{
	char why[WHY_LEN];

	if (cfg->nbpf_device_allow &&
	    !(g->extra = calloc(cfg->nbpf_device_allow, sizeof(*g->extra))))
		return -ENOMEM;
	for (size_t i = 0; i < cfg->nbpf_device_allow; i++) {
		if (devgate_allow_resolve(cfg->bpf_device_allow[i], &g->extra[g->nextra], why,
		                          sizeof(why)) < 0)
			log_warn("device gate: %s; not allowed", why);
		else
			g->nextra++;
	}
	return 0;
}

void
bpf_devgate_free(struct bpf_devgate *g)
{
	if (!g)
		return;
	if (g->rescan)
		event_free(g->rescan);
	if (g->ns)
		ns_unobserve(g->ns, g);
	for (size_t i = 0; i < g->ngates; i++) {
		detach(g->gates[i]);
		free(g->gates[i]->cgroup);
		free(g->gates[i]);
	}
	free(g->gates);
	free(g->extra);
	free(g->sys);
	free(g->proc_devices);
	free(g);
}

void
bpf_devgate_open(struct event_base *base, struct ns *ns, const struct pasidd_config *cfg,
                 struct bpfprog_state *st, struct bpf_devgate **out)
{
	const struct timeval every = {RESCAN_S, 0};
	struct bpf_devgate *g;
	struct devgate_prog *probe;
	char why[BPFPROG_WHY_LEN];

	*out = NULL;
	if (!cfg->bpf_device_gate) {
		bpfprog_unavailable(st, "DeviceGate=no");
		return;
	}
	if (!(g = calloc(1, sizeof(*g))) || !(g->sys = strdup(cfg->idxd_sysfs_root)) ||
	    !(g->proc_devices = strdup(cfg->bpf_proc_devices)) || read_extra(g, cfg) < 0) {
		bpfprog_unavailable(st, "out of memory");
		goto fail;
	}
	g->st = st;
	if (cgroup_find_mount(g->mnt, sizeof(g->mnt), g->root, sizeof(g->root)) < 0) {
		bpfprog_unavailable(st, "no cgroup2 mount: there are no cgroups to gate");
		goto fail;
	}
	if (proc_cgroup(getpid(), g->self, sizeof(g->self)) < 0)
		g->self[0] = '\0';
	if (read_managed(g, &g->managed, why, sizeof(why)) < 0) {
		bpfprog_unavailable(st, "%s", why);
		goto fail;
	}
	/* One load up front tells whether the kernel takes it at all. */
	if (devgate_prog_load(&g->managed, &probe, why, sizeof(why)) < 0) {
		bpfprog_unavailable(st, "%s", why);
		goto fail;
	}
	devgate_prog_free(probe);
	if (ns_observe(ns, &(struct ns_observer){.apply = apply, .ctx = g}) < 0) {
		bpfprog_unavailable(st, "too many observers of the namespace");
		goto fail;
	}
	g->ns = ns;
	if (!(g->rescan = event_new(base, -1, EV_PERSIST, on_rescan, g)) ||
	    event_add(g->rescan, &every) < 0) {
		bpfprog_unavailable(st, "cannot set up its rescan timer");
		goto fail;
	}
	for (unsigned i = 0; i < ns->nvms; i++)
		add_vm(g, ns->vms[i]);
	status(g);
	log_info("device gate: %zu char major(s) and %zu device(s) managed; %s", g->managed.nmajors,
	         g->managed.nminors, st->why);
	*out = g;
	return;
fail:
	log_warn("device gate: not running: %s", st->why);
	bpf_devgate_free(g);
}
#endif
