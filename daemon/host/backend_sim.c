/* In-memory model of the kernel side, with the rules pasidd meets on a real kernel: per-device
 * PASID tables and widths (a device of width 0 has no PASID capability; a PASID beyond the
 * width is refused by pasidd before the kernel would be asked), PASID 0 refused, a re-attach
 * of an attached PASID replacing its page table as VFIO does, a detach of what is not
 * attached refused. A device's requester ID (device.attach) is attached to one page table at
 * a time, an attach of an attached one replacing it as VFIO does; its detach is refused when
 * it is not attached, or while PASIDs are still attached on the device (pasidd's order, of
 * DESIGN.md §5: the PASIDs go first). Descriptors must at least be open. Fault injection lets
 * tests make any kernel operation fail, at any step. Each change is logged, as the iommufd
 * backend logs it, so that a test can read the order in which pasidd made them. */
#include "backends.h"
#include "log.h"
#include "namespace.h"
#include "u32map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIM_PROBE, SIM_ATTACH, SIM_DETACH, SIM_RID_ATTACH, SIM_RID_DETACH, SIM_NOPS };

static const char *const op_names[SIM_NOPS] = {"probe", "attach", "detach", "rid_attach",
                                               "rid_detach"};
/* The ioctls the iommufd backend would have issued, for the same messages. */
static const char *const op_ioctls[SIM_NOPS] = {
    "probe", "VFIO_DEVICE_ATTACH_IOMMUFD_PT", "VFIO_DEVICE_DETACH_IOMMUFD_PT",
    "VFIO_DEVICE_ATTACH_IOMMUFD_PT", "VFIO_DEVICE_DETACH_IOMMUFD_PT"};

struct sim_dev {
	unsigned width;      /* PASID bits the device carries */
	struct u32map pasid; /* attached pasid -> pt_id (as a pointer-sized value) */
	bool rid;            /* its requester ID is attached ... */
	uint32_t rid_pt;     /* ... to this page table */
};

struct sim_fault {
	unsigned skip;  /* calls that still succeed first */
	unsigned count; /* calls that fail after them */
	int err;
};

struct sim {
	struct backend be;
	struct u32map devs;   /* bdf -> struct sim_dev */
	struct u32map widths; /* bdf -> width + 1, set by tests */
	struct sim_fault fault[SIM_NOPS];
	unsigned long calls[SIM_NOPS];
	unsigned long attached;
};

static const char *const sim_caps[] = {"attach", "fault_injection", NULL};

static int
injected(struct sim *s, int op, struct ns_err *err)
{
	struct sim_fault *f = &s->fault[op];

	s->calls[op]++;
	if (f->skip) {
		f->skip--;
		return 0;
	}
	if (!f->count)
		return 0;
	f->count--;
	return ns_fail_kernel(err, op == SIM_PROBE ? "device" : NULL, op_ioctls[op], f->err,
	                      "sim: injected %s failure: %s", op_names[op], strerror(f->err));
}

static unsigned
width_of(struct sim *s, uint32_t bdf)
{
	void *w = u32map_get(&s->widths, bdf);

	return w ? (unsigned)(uintptr_t)w - 1 : s->be.pasid_bits;
}

static struct sim_dev *
dev_of(struct sim *s, uint32_t bdf, bool create)
{
	struct sim_dev *d = u32map_get(&s->devs, bdf);

	if (d || !create)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d || u32map_put(&s->devs, bdf, d) < 0) {
		free(d);
		return NULL;
	}
	d->width = width_of(s, bdf);
	u32map_init(&d->pasid);
	return d;
}

/* One line per change of the model: "sim: attached PASID 5 of 0000:00:04.0 (page table 7)",
 * "sim: detached the requester ID of 0000:00:04.0 (page table 7)"; pasid 0: the RID. */
static void
simlog(const char *verb, uint32_t pasid, const struct backend_attach *a)
{
	char name[NS_BDF_LEN + 1], what[32] = "the requester ID";

	ns_bdf_format(a->bdf, name);
	if (pasid)
		snprintf(what, sizeof(what), "PASID %u", pasid);
	log_info("sim: %s %s of %s (page table %u)", verb, what, name, a->pt_id);
}

static int
sim_probe(struct backend *be, uint32_t bdf, bool shared, char *why, size_t len)
{
	struct ns_err err;
	int r = injected(be->priv, SIM_PROBE, &err);

	(void)bdf;
	(void)shared;
	if (r < 0)
		snprintf(why, len, "%s", err.message);
	return r;
}

static int
sim_width(struct backend *be, uint32_t bdf)
{
	return (int)width_of(be->priv, bdf);
}

/* What the iommufd backend checks before it asks the kernel: open descriptors, a width. */
static int
precheck(struct sim *s, struct sim_dev *d, uint32_t pasid, const struct backend_attach *a,
         struct ns_err *err)
{
	if (fcntl(a->iommufd, F_GETFD) < 0 || fcntl(a->devfd, F_GETFD) < 0)
		return ns_fail(err, NS_E_INVALID, "fds",
		               "the descriptors passed are not an iommufd and a device");
	if (!d->width)
		return ns_fail_missing(err, "device", "PASID capability of the device",
		                       "the device has no PASID capability (width 0)");
	if (pasid >= 1U << d->width)
		return ns_fail(err, NS_E_RANGE, "gpasid",
		               "PASID %u is beyond the device's %u-bit PASID width", pasid,
		               d->width);
	(void)s;
	return 0;
}

static int
sim_attach(struct backend *be, uint32_t pasid, const struct backend_attach *a, struct ns_err *err)
{
	struct sim *s = be->priv;
	struct sim_dev *d = dev_of(s, a->bdf, true);
	int r;

	if (!d)
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	if ((r = precheck(s, d, pasid, a, err)) < 0 || (r = injected(s, SIM_ATTACH, err)) < 0)
		return r;
	if (pasid == 0)
		return ns_fail_kernel(err, NULL, op_ioctls[SIM_ATTACH], EINVAL,
		                      "sim: PASID 0 cannot be attached");
	if (!u32map_get(&d->pasid, pasid))
		s->attached++;
	/* Attached again: the new page table replaces the old, as VFIO does. */
	if (u32map_put(&d->pasid, pasid, (void *)(uintptr_t)(a->pt_id + 1ULL)) < 0)
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	simlog("attached", pasid, a);
	return 0;
}

static int
sim_detach(struct backend *be, uint32_t pasid, const struct backend_attach *a, struct ns_err *err)
{
	struct sim *s = be->priv;
	struct sim_dev *d = dev_of(s, a->bdf, false);
	int r = injected(s, SIM_DETACH, err);

	if (r < 0)
		return r;
	if (!d || !u32map_del(&d->pasid, pasid))
		return ns_fail_kernel(err, NULL, op_ioctls[SIM_DETACH], ENOENT,
		                      "sim: PASID %u is not attached on the device", pasid);
	s->attached--;
	simlog("detached", pasid, a);
	return 0;
}

static int
sim_rid_attach(struct backend *be, const struct backend_attach *a, struct ns_err *err)
{
	struct sim *s = be->priv;
	struct sim_dev *d = dev_of(s, a->bdf, true);
	int r;

	if (!d)
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	if (fcntl(a->iommufd, F_GETFD) < 0 || fcntl(a->devfd, F_GETFD) < 0)
		return ns_fail(err, NS_E_INVALID, "fds",
		               "the descriptors passed are not an iommufd and a device");
	if ((r = injected(s, SIM_RID_ATTACH, err)) < 0)
		return r;
	/* Attached already: the new page table replaces the old, as VFIO does. */
	d->rid = true;
	d->rid_pt = a->pt_id;
	simlog("attached", 0, a);
	return 0;
}

static int
sim_rid_detach(struct backend *be, const struct backend_attach *a, struct ns_err *err)
{
	struct sim *s = be->priv;
	struct sim_dev *d = dev_of(s, a->bdf, false);
	int r = injected(s, SIM_RID_DETACH, err);

	if (r < 0)
		return r;
	if (!d || !d->rid)
		return ns_fail_kernel(err, NULL, op_ioctls[SIM_RID_DETACH], ENOENT,
		                      "sim: the requester ID of the device is not attached");
	if (d->pasid.count)
		return ns_fail_kernel(err, NULL, op_ioctls[SIM_RID_DETACH], EBUSY,
		                      "sim: %zu PASID(s) are still attached on the device",
		                      d->pasid.count);
	d->rid = false;
	simlog("detached", 0, a);
	return 0;
}

static void
sim_destroy(struct backend *be)
{
	struct sim *s = be->priv;
	size_t it = 0;
	void *d;

	while (u32map_next(&s->devs, &it, NULL, &d)) {
		u32map_free(&((struct sim_dev *)d)->pasid);
		free(d);
	}
	u32map_free(&s->devs);
	u32map_free(&s->widths);
	free(s);
}

static const struct backend_ops sim_ops = {
    .name = "sim",
    .device_probe = sim_probe,
    .attach = sim_attach,
    .detach = sim_detach,
    .rid_attach = sim_rid_attach,
    .rid_detach = sim_rid_detach,
    .destroy = sim_destroy,
    .device_width = sim_width,
};

int
backend_sim_create(struct backend **out, char *why, size_t len)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	u32map_init(&s->devs);
	u32map_init(&s->widths);
	s->be.ops = &sim_ops;
	s->be.pasid_bits = 20;
	s->be.caps = sim_caps;
	s->be.priv = s;
	*out = &s->be;
	return 0;
}

static struct sim *
sim_of(struct backend *be)
{
	return be && be->ops == &sim_ops ? be->priv : NULL;
}

int
backend_sim_inject(struct backend *be, const char *op, int err, unsigned skip, unsigned count)
{
	struct sim *s = sim_of(be);

	if (!s)
		return -EOPNOTSUPP;
	for (int i = 0; i < SIM_NOPS; i++) {
		if (!strcmp(op, op_names[i])) {
			s->fault[i] = (struct sim_fault){.skip = skip, .count = count, .err = err};
			return 0;
		}
	}
	return -EINVAL;
}

unsigned long
backend_sim_calls(struct backend *be, const char *op)
{
	struct sim *s = sim_of(be);

	for (int i = 0; s && i < SIM_NOPS; i++)
		if (!strcmp(op, op_names[i]))
			return s->calls[i];
	return 0;
}

int
backend_sim_set_width(struct backend *be, uint32_t bdf, unsigned bits)
{
	struct sim *s = sim_of(be);
	struct sim_dev *d;

	if (!s || bits > NS_MAX_BITS)
		return -EINVAL;
	if (u32map_put(&s->widths, bdf, (void *)(uintptr_t)(bits + 1)) < 0)
		return -ENOMEM;
	d = dev_of(s, bdf, false);
	if (d)
		d->width = bits;
	return 0;
}

uint32_t
backend_sim_attached(struct backend *be, uint32_t bdf, uint32_t pasid)
{
	struct sim *s = sim_of(be);
	struct sim_dev *d = s ? dev_of(s, bdf, false) : NULL;
	void *pt = d ? u32map_get(&d->pasid, pasid) : NULL;

	return pt ? (uint32_t)((uintptr_t)pt - 1) : UINT32_MAX;
}

uint32_t
backend_sim_rid(struct backend *be, uint32_t bdf)
{
	struct sim *s = sim_of(be);
	struct sim_dev *d = s ? dev_of(s, bdf, false) : NULL;

	return d && d->rid ? d->rid_pt : UINT32_MAX;
}

unsigned long
backend_sim_attachments(struct backend *be)
{
	struct sim *s = sim_of(be);

	return s ? s->attached : 0;
}
