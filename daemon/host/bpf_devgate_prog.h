/* One instance of the device gate's BPF program (daemon/bpf/device_gate.bpf.c) with maps of
 * its own: loaded, given what it manages and allows, linked to a cgroup, freed. The kernel
 * side of bpf_devgate.c; compiled only with PASIDD_HAVE_BPF. */
#ifndef PASIDD_BPF_DEVGATE_PROG_H
#define PASIDD_BPF_DEVGATE_PROG_H

#include <stddef.h>
#include <stdint.h>

#include "devgate_rules.h"

struct devgate_prog;

/* What every instance manages: char majors gated whole, and major:minor pairs gated alone
 * (/dev/iommu, a minor of misc). */
struct devgate_managed {
	uint32_t majors[16];
	size_t nmajors;
	struct devgate_dev minors[4];
	size_t nminors;
};

/* Loads an instance managing m, allowing nothing yet. 0, or -errno with why saying what the
 * kernel's refusal means. */
int devgate_prog_load(const struct devgate_managed *m, struct devgate_prog **out, char *why,
                      size_t len);
/* Makes the managed maps hold m, a driver having come or gone since the load. 0, or -errno
 * with why. */
int devgate_prog_manage(struct devgate_prog *p, const struct devgate_managed *m, char *why,
                        size_t len);
/* Makes the allowed map hold exactly want[0..n) (sorted, without duplicates), changing only
 * what differs. 0, or -errno with why. */
int devgate_prog_allow(struct devgate_prog *p, const struct devgate_dev *want, size_t n, char *why,
                       size_t len);
/* Links it to the cgroup directory cgfd (BPF_CGROUP_DEVICE, alongside the cgroup's other
 * programs). 0, or -errno with why. */
int devgate_prog_attach(struct devgate_prog *p, int cgfd, char *why, size_t len);
/* Detaches (when linked) and frees; NULL is fine. */
void devgate_prog_free(struct devgate_prog *p);

#endif
