/* What a gated VM may open (devgate_allow.h). */
#include "devgate_allow.h"
#include "devgate_sysfs.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
devgate_dev_cmp(const void *a, const void *b)
{
	const struct devgate_dev *x = a, *y = b;

	if (x->major != y->major)
		return x->major < y->major ? -1 : 1;
	return x->minor < y->minor ? -1 : x->minor > y->minor;
}

size_t
devgate_devs_sort(struct devgate_dev *devs, size_t n)
{
	size_t k = 0;

	if (!n)
		return 0;
	qsort(devs, n, sizeof(*devs), devgate_dev_cmp);
	for (size_t i = 1; i < n; i++)
		if (devgate_dev_cmp(&devs[i], &devs[k]))
			devs[++k] = devs[i];
	return k + 1;
}

/* Adds one device to a growing list. */
static int
push(struct devgate_dev **devs, size_t *n, size_t *cap, struct devgate_dev d)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct devgate_dev *grown = realloc(*devs, c * sizeof(**devs));

		if (!grown)
			return -ENOMEM;
		*devs = grown;
		*cap = c;
	}
	(*devs)[(*n)++] = d;
	return 0;
}

int
devgate_vm_allowed(const struct devgate_host *h, const struct ns_vm *vm, struct devgate_dev **out,
                   size_t *n, const struct ns_wq **wqs, size_t *nwqs)
{
	struct devgate_dev *want = NULL, d;
	size_t k = 0, cap = 0;
	char why[256];
	int r = 0;

	*nwqs = 0;
	for (size_t i = 0; i < h->nextra && r == 0; i++)
		r = push(&want, &k, &cap, h->extra[i]);
	for (unsigned i = 0; i < vm->ndevs && r == 0; i++) {
		uint32_t bdf = vm->devs[i].dev->bdf;

		if (devgate_sysfs_vfio_cdev(h->sys, bdf, &d, why, sizeof(why)) == 0)
			r = push(&want, &k, &cap, d);
		else if (!h->quiet)
			log_info("device gate of VM %s: %s", vm->name, why);
		/* Kernels without VFIO groups (iommufd only) have none: not worth a word. */
		if (r == 0 && devgate_sysfs_vfio_group(h->sys, bdf, &d, why, sizeof(why)) == 0)
			r = push(&want, &k, &cap, d);
	}
	if (r == 0 && vm->ndevs && devgate_sysfs_iommu(h->sys, &d, why, sizeof(why)) == 0)
		r = push(&want, &k, &cap, d);
	for (unsigned i = 0; i < vm->nwqs && r == 0; i++) {
		const struct ns_wq *wq = vm->wqs[i].wq;
		const char *kind = devgate_wq_kind(wq->ref);
		int kmaj = kind && !strcmp(kind, "iax") ? h->iax_major : h->dsa_major;

		if (!vm->wqs[i].nmaps)
			continue;
		wqs[(*nwqs)++] = wq;
		if (devgate_sysfs_wq(h->sys, wq->ref, kmaj, &d, why, sizeof(why)) == 0)
			r = push(&want, &k, &cap, d);
		else if (!h->quiet)
			log_info("device gate of VM %s: %s", vm->name, why);
	}
	if (r < 0) {
		free(want);
		return r;
	}
	*out = want;
	*n = devgate_devs_sort(want, k);
	return 0;
}
