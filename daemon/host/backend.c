#include "backends.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* auto: the kernel when it has an iommufd, the simulation otherwise, and always a word on
 * which and why, since with sim nothing reaches the kernel. */
static int
open_auto(struct backend **out, char *why, size_t len)
{
	char note[sizeof((*out)->why)];
	int r;

	if (access("/dev/iommu", F_OK) < 0) {
		snprintf(note, sizeof(note), "no /dev/iommu (a kernel without CONFIG_IOMMUFD)");
	} else {
		char fail[sizeof(note)];

		r = backend_iommufd_create(out, fail, sizeof(fail));
		if (r == 0) {
			snprintf((*out)->why, sizeof((*out)->why), "/dev/iommu exists");
			log_info("backend auto: using iommufd: /dev/iommu exists");
			return 0;
		}
		snprintf(note, sizeof(note), "%s", fail);
	}
	r = backend_sim_create(out, why, len);
	if (r < 0)
		return r;
	snprintf((*out)->why, sizeof((*out)->why), "%s", note);
	log_warn("backend auto: using sim, which does not program the kernel: %s", note);
	return 0;
}

int
backend_open(const char *name, struct backend **out, char *why, size_t len)
{
	int r;

	why[0] = '\0';
	if (!strcmp(name, "sim"))
		r = backend_sim_create(out, why, len);
	else if (!strcmp(name, "iommufd"))
		r = backend_iommufd_create(out, why, len);
	else if (!strcmp(name, "auto"))
		r = open_auto(out, why, len);
	else {
		snprintf(why, len, "unknown backend '%s' (expected sim, iommufd or auto)", name);
		return -EINVAL;
	}
	if (r == 0)
		snprintf((*out)->requested, sizeof((*out)->requested), "%s", name);
	return r;
}

void
backend_close(struct backend *be)
{
	if (be)
		be->ops->destroy(be);
}
