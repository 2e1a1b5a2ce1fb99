/* One instance of the device gate's BPF program (bpf_devgate_prog.h). */
#ifdef PASIDD_HAVE_BPF
#include "bpf_devgate_prog.h"
#include "devgate_allow.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_gate.h"
#include "device_gate.skel.h"

struct devgate_prog {
	struct device_gate *skel;
	struct devgate_managed managed; /* what the managed maps hold */
	struct bpf_link *link;
	struct devgate_dev *cur; /* what the allowed map holds, sorted */
	size_t ncur;
};

/* What the kernel means by refusing to load or link the program. */
static const char *
meaning(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		/* A cgroup device program is one of the kernel's network-admin program types:
		 * CAP_BPF with CAP_NET_ADMIN (or CAP_SYS_ADMIN) loads and attaches it. */
		return "pasidd lacks CAP_BPF and CAP_NET_ADMIN, or the kernel is locked down";
	case ENOSYS:
		return "the kernel has no bpf() system call (CONFIG_BPF_SYSCALL)";
	case EINVAL:
	case EOPNOTSUPP:
	case 524: /* the kernel's ENOTSUPP, which libbpf passes on */
		return "the kernel has no cgroup device programs (CONFIG_CGROUP_BPF) or rejects "
		       "this one";
	case EBADF:
		return "not a cgroup2 directory";
	case ENOMEM:
		return "out of memory or over RLIMIT_MEMLOCK";
	default:
		return "";
	}
}

static int
fail(int err, const char *what, char *why, size_t len)
{
	const char *m = meaning(err);

	snprintf(why, len, "%s: %s%s%s", what, strerror(err), m[0] ? ": " : "", m);
	return -err;
}

static bool
has_major(const struct devgate_managed *m, uint32_t major)
{
	for (size_t i = 0; i < m->nmajors; i++)
		if (m->majors[i] == major)
			return true;
	return false;
}

static bool
has_minor(const struct devgate_managed *m, const struct devgate_dev *d)
{
	for (size_t i = 0; i < m->nminors; i++)
		if (!devgate_dev_cmp(&m->minors[i], d))
			return true;
	return false;
}

int
devgate_prog_manage(struct devgate_prog *p, const struct devgate_managed *m, char *why, size_t len)
{
	const struct devgate_managed *old = &p->managed;
	__u8 one = 1;

	/* Additions first, as in the allowed map; a region that went has no devices left. */
	for (size_t i = 0; i < m->nmajors; i++)
		if (!has_major(old, m->majors[i]) &&
		    bpf_map__update_elem(p->skel->maps.managed, &m->majors[i], sizeof(m->majors[i]),
		                         &one, sizeof(one), BPF_ANY) < 0)
			goto failed;
	for (size_t i = 0; i < m->nminors; i++) {
		struct devgate_key k = {m->minors[i].major, m->minors[i].minor};

		if (!has_minor(old, &m->minors[i]) &&
		    bpf_map__update_elem(p->skel->maps.managed_minors, &k, sizeof(k), &one,
		                         sizeof(one), BPF_ANY) < 0)
			goto failed;
	}
	for (size_t i = 0; i < old->nmajors; i++)
		if (!has_major(m, old->majors[i]) &&
		    bpf_map__delete_elem(p->skel->maps.managed, &old->majors[i],
		                         sizeof(old->majors[i]), 0) < 0 &&
		    errno != ENOENT)
			goto failed;
	for (size_t i = 0; i < old->nminors; i++) {
		struct devgate_key k = {old->minors[i].major, old->minors[i].minor};

		if (!has_minor(m, &old->minors[i]) &&
		    bpf_map__delete_elem(p->skel->maps.managed_minors, &k, sizeof(k), 0) < 0 &&
		    errno != ENOENT)
			goto failed;
	}
	p->managed = *m;
	return 0;
failed:
	return fail(errno, "cannot update the device gate's managed maps", why, len);
}

int
devgate_prog_load(const struct devgate_managed *m, struct devgate_prog **out, char *why, size_t len)
{
	struct devgate_prog *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p)
		return fail(ENOMEM, "cannot load the device gate", why, len);
	errno = 0;
	p->skel = device_gate__open_and_load();
	if (!p->skel) {
		r = errno ? errno : EINVAL;
		free(p);
		return fail(r, "the kernel refused the device gate (bpf_prog_load)", why, len);
	}
	if ((r = devgate_prog_manage(p, m, why, len)) < 0) {
		devgate_prog_free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* Whether d is in the sorted devs. */
static bool
holds(const struct devgate_dev *devs, size_t n, const struct devgate_dev *d)
{
	return n && bsearch(d, devs, n, sizeof(*devs), devgate_dev_cmp);
}

int
devgate_prog_allow(struct devgate_prog *p, const struct devgate_dev *want, size_t n, char *why,
                   size_t len)
{
	struct bpf_map *map = p->skel->maps.allowed;
	struct devgate_dev *copy = NULL;
	__u8 one = 1;

	if (n > DEVGATE_MAX_ALLOWED) {
		snprintf(why, len, "%zu devices to allow, more than the map's %d", n,
		         DEVGATE_MAX_ALLOWED);
		return -E2BIG;
	}
	if (n && !(copy = malloc(n * sizeof(*copy))))
		return fail(ENOMEM, "cannot update the device gate", why, len);
	/* Additions first: a device that stays allowed is never refused in between. */
	for (size_t i = 0; i < n; i++) {
		struct devgate_key k = {want[i].major, want[i].minor};

		if (!holds(p->cur, p->ncur, &want[i]) &&
		    bpf_map__update_elem(map, &k, sizeof(k), &one, sizeof(one), BPF_ANY) < 0) {
			int r = errno;

			free(copy);
			return fail(r, "cannot update the device gate's allowed map", why, len);
		}
	}
	for (size_t i = 0; i < p->ncur; i++) {
		struct devgate_key k = {p->cur[i].major, p->cur[i].minor};

		if (!holds(want, n, &p->cur[i]) &&
		    bpf_map__delete_elem(map, &k, sizeof(k), 0) < 0 && errno != ENOENT) {
			int r = errno;

			free(copy);
			return fail(r, "cannot update the device gate's allowed map", why, len);
		}
	}
	if (n)
		memcpy(copy, want, n * sizeof(*copy));
	free(p->cur);
	p->cur = copy;
	p->ncur = n;
	return 0;
}

int
devgate_prog_attach(struct devgate_prog *p, int cgfd, char *why, size_t len)
{
	struct bpf_link *l;

	errno = 0;
	l = bpf_program__attach_cgroup(p->skel->progs.device_gate, cgfd);
	if (!l)
		return fail(errno ? errno : EINVAL, "cannot link the device gate to the cgroup",
		            why, len);
	p->link = l;
	return 0;
}

void
devgate_prog_free(struct devgate_prog *p)
{
	if (!p)
		return;
	bpf_link__destroy(p->link);
	device_gate__destroy(p->skel);
	free(p->cur);
	free(p);
}
#endif
