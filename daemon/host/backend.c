#include "backends.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
backend_open(const char *name, struct backend **out, char *why, size_t len)
{
	if (!strcmp(name, "sim"))
		return backend_sim_create(out, why, len);
	if (!strcmp(name, "auto")) {
		/* Only the simulated backend exists so far; on a host with /dev/iommu that is
		 * worth saying, since nothing reaches the kernel. */
		if (access("/dev/iommu", F_OK) == 0)
			snprintf(why, len,
			         "/dev/iommu exists but this build has no iommufd backend; "
			         "using sim");
		else
			why[0] = '\0';
		return backend_sim_create(out, why + strlen(why), len - strlen(why));
	}
	snprintf(why, len, "unknown backend '%s' (expected sim or auto)", name);
	return -EINVAL;
}

void
backend_close(struct backend *be)
{
	if (be)
		be->ops->destroy(be);
}
