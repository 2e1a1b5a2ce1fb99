/* The device numbers the device gate allows, from sysfs (devgate_sysfs.h). */
#include "devgate_sysfs.h"
#include "idxd.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "namespace.h"

int
devgate_parse_devt(const char *s, struct devgate_dev *dev)
{
	char tail[4] = "";
	unsigned maj, min;

	if (sscanf(s, "%u:%u%3s", &maj, &min, tail) != 2 || maj > 4095 || min >= 1u << 20)
		return -EINVAL;
	dev->major = maj;
	dev->minor = min;
	return 0;
}

/* The dev attribute in directory dir. */
static int
read_devt(const char *dir, struct devgate_dev *dev, char *why, size_t len)
{
	char val[32];
	int r = idxd_attr_read(dir, "dev", val, sizeof(val));

	if (r < 0) {
		snprintf(why, len, "%.200s/dev: %s", dir, strerror(-r));
		return r;
	}
	if (devgate_parse_devt(val, dev) < 0) {
		snprintf(why, len, "%.200s/dev: '%.20s' is not MAJOR:MINOR", dir, val);
		return -EINVAL;
	}
	return 0;
}

int
devgate_sysfs_vfio_cdev(const char *sys, uint32_t bdf, struct devgate_dev *dev, char *why,
                        size_t len)
{
	char name[NS_BDF_LEN + 1], dir[PATH_MAX], sub[PATH_MAX + 300];
	struct dirent *e;
	DIR *dp;
	int r = -ENOENT;

	ns_bdf_format(bdf, name);
	snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s/vfio-dev", sys, name);
	dp = opendir(dir);
	if (!dp) {
		r = -errno;
		snprintf(why, len, "%s has no VFIO cdev (%.200s: %s)", name, dir, strerror(errno));
		return r;
	}
	while ((e = readdir(dp)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
			r = read_devt(sub, dev, why, len);
			break;
		}
	closedir(dp);
	if (r == -ENOENT && !e)
		snprintf(why, len, "%s has no VFIO cdev (nothing in %.200s)", name, dir);
	return r;
}

int
devgate_sysfs_vfio_group(const char *sys, uint32_t bdf, struct devgate_dev *dev, char *why,
                         size_t len)
{
	char name[NS_BDF_LEN + 1], link[PATH_MAX], target[PATH_MAX], dir[PATH_MAX + 64];
	const char *group;
	ssize_t n;
	int r;

	ns_bdf_format(bdf, name);
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s/iommu_group", sys, name);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		r = -errno;
		snprintf(why, len, "%s has no IOMMU group (%.200s: %s)", name, link,
		         strerror(errno));
		return r;
	}
	target[n] = '\0';
	group = strrchr(target, '/');
	group = group ? group + 1 : target;
	/* The group node is a device of class vfio named after the group (noiommu-N for the
	 * unsafe no-IOMMU mode, which is not gated: it has no isolation to protect). */
	snprintf(dir, sizeof(dir), "%s/class/vfio/%s", sys, group);
	return read_devt(dir, dev, why, len);
}

int
devgate_sysfs_iommu(const char *sys, struct devgate_dev *dev, char *why, size_t len)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/class/misc/iommu", sys);
	return read_devt(dir, dev, why, len);
}

const char *
devgate_wq_kind(const char *ref)
{
	if (!strncmp(ref, "dsa", 3))
		return "dsa";
	if (!strncmp(ref, "iax", 3))
		return "iax";
	return NULL;
}

int
devgate_sysfs_wq(const char *sys, const char *ref, int kind_major, struct devgate_dev *dev,
                 char *why, size_t len)
{
	const char *kind = devgate_wq_kind(ref);
	char devname[IDXD_NAME_LEN], wq[IDXD_NAME_LEN], dir[PATH_MAX], sub[PATH_MAX + 64], val[32];
	long minor;
	char *end;
	int r;

	if (!kind || idxd_ref_split(ref, devname, wq) < 0) {
		snprintf(why, len, "'%.40s' is not an idxd work queue", ref);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s/bus/dsa/devices/%s", sys, wq);
	/* The char device is named "<kind>/wqN.M", which sysfs spells with a '!'. */
	snprintf(sub, sizeof(sub), "%s/%s!%s", dir, kind, wq);
	if (read_devt(sub, dev, why, len) == 0)
		return 0;
	r = idxd_attr_read(dir, "cdev_minor", val, sizeof(val));
	if (r < 0) {
		snprintf(why, len, "work queue %.40s has no char device (%.200s/cdev_minor: %s)",
		         ref, dir, strerror(-r));
		return r;
	}
	minor = strtol(val, &end, 10);
	if (end == val || *end || minor < 0 || minor >= 1L << 20) {
		snprintf(why, len, "work queue %.40s has no char device (cdev_minor '%.20s')", ref,
		         val);
		return -ENOENT;
	}
	if (kind_major < 0) {
		snprintf(why, len, "no %s char region in /proc/devices for work queue %.40s", kind,
		         ref);
		return -ENOENT;
	}
	dev->major = (uint32_t)kind_major;
	dev->minor = (uint32_t)minor;
	return 0;
}
