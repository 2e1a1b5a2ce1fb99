#include "iommufd_sysfs.h"
#include "namespace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PCI_EXT_CAP_START 0x100
#define PCI_EXT_CAP_PASID 0x1b
#define PCI_CFG_MAX       4096

static const char *
file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a pipe";
	case S_IFSOCK:
		return "a socket";
	case S_IFBLK:
		return "a block device";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "not a character device";
	}
}

/* The last component of the target of the symbolic link dir/name ("" when it is none). */
static void
link_base(const char *dir, const char *name, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	const char *base;

	out[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	/* A name longer than out is no name pasidd looks for: leave out empty. */
	if (strlen(base) < len)
		memcpy(out, base, strlen(base) + 1);
}

/* Cuts path at its last '/' and returns the component after it. */
static const char *
cut_last(char *path)
{
	char *slash = strrchr(path, '/');

	if (!slash)
		return "";
	*slash = '\0';
	return slash + 1;
}

int
iommufd_sysfs_cdev_bdf(const char *sys, int fd, uint32_t *bdf, char *why, size_t len)
{
	char link[PATH_MAX], real[PATH_MAX], subsys[64];
	const char *node, *cls, *pci;
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(why, len, "is not an open descriptor: %s", strerror(errno));
		return -EBADF;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(why, len, "is %s, not a VFIO device cdev", file_kind(st.st_mode));
		return -ENOTTY;
	}
	snprintf(link, sizeof(link), "%s/dev/char/%u:%u", sys, major(st.st_rdev),
	         minor(st.st_rdev));
	if (!realpath(link, real)) {
		snprintf(why, len, "is character device %u:%u, which sysfs does not know",
		         major(st.st_rdev), minor(st.st_rdev));
		return -ENODEV;
	}
	/* .../<pci device>/vfio-dev/vfioN, in class vfio-dev. */
	link_base(real, "subsystem", subsys, sizeof(subsys));
	node = cut_last(real);
	if (strcmp(subsys, "vfio-dev")) {
		snprintf(why, len,
		         "is character device %u:%u (%s of class %s), not a VFIO device cdev",
		         major(st.st_rdev), minor(st.st_rdev), node, subsys[0] ? subsys : "none");
		return -ENOTTY;
	}
	cls = cut_last(real);
	link_base(real, "subsystem", subsys, sizeof(subsys));
	pci = cut_last(real);
	if (strcmp(cls, "vfio-dev") || strcmp(subsys, "pci") || ns_bdf_parse(pci, bdf) < 0) {
		snprintf(why, len, "is VFIO device cdev %s of %s, which is not a PCI device", node,
		         pci);
		return -ENOTTY;
	}
	return 0;
}

static void
pci_path(char *out, size_t len, const char *sys, uint32_t bdf, const char *file)
{
	char name[NS_BDF_LEN + 1];

	ns_bdf_format(bdf, name);
	snprintf(out, len, "%s/bus/pci/devices/%s%s%s", sys, name, file ? "/" : "",
	         file ? file : "");
}

int
iommufd_sysfs_pci_exists(const char *sys, uint32_t bdf)
{
	char path[PATH_MAX];
	struct stat st;

	pci_path(path, sizeof(path), sys, bdf, NULL);
	return stat(path, &st) == 0 ? 0 : -ENOENT;
}

static uint32_t
le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int
iommufd_sysfs_pci_pasid_width(const char *sys, uint32_t bdf)
{
	unsigned char cfg[PCI_CFG_MAX];
	char path[PATH_MAX];
	struct stat st;
	size_t n = 0;
	unsigned off = PCI_EXT_CAP_START;
	int fd = -1;

	pci_path(path, sizeof(path), sys, bdf, "config");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -EIO;
	}
	while (n < sizeof(cfg)) {
		ssize_t r = read(fd, cfg + n, sizeof(cfg) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	/* Without CAP_SYS_ADMIN the kernel gives the first 64 bytes of a larger file. */
	if ((off_t)n < st.st_size && n < sizeof(cfg))
		return -EACCES;
	/* Conventional PCI (256 bytes) has no extended capabilities, so no PASID. */
	for (unsigned hops = 0; off >= PCI_EXT_CAP_START && off + 8 <= n && hops < 1024; hops++) {
		uint32_t hdr = le32(cfg + off);

		if (hdr == 0 || hdr == UINT32_MAX)
			break;
		if ((hdr & 0xffff) == PCI_EXT_CAP_PASID)
			/* PASID Capability register, bits 12:8: Max PASID Width. */
			return (cfg[off + 5]) & 0x1f;
		off = (hdr >> 20) & 0xffc;
	}
	return 0;
}

static int
read_hex(const char *path, unsigned long long *out)
{
	char buf[64];
	char *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, 16);
	return errno || end == buf ? -EINVAL : 0;
}

int
iommufd_sysfs_iommu_width(const char *sys, char *from, size_t len)
{
	char path[PATH_MAX], units[NAME_MAX + 1] = "";
	unsigned nunits = 0;
	int width = 0;
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/class/iommu", sys);
	dir = opendir(path);
	if (!dir) {
		snprintf(from, len, "no %s", path);
		return 0;
	}
	while ((e = readdir(dir))) {
		unsigned long long ecap = 0;
		int w;

		if (e->d_name[0] == '.')
			continue;
		/* VT-d: ECAP.PASID (bit 40), ECAP.PSS (bits 39:35) = width - 1. */
		if (snprintf(path, sizeof(path), "%s/class/iommu/%s/intel-iommu/ecap", sys,
		             e->d_name) >= (int)sizeof(path) ||
		    read_hex(path, &ecap) < 0)
			continue;
		nunits++;
		if (!((ecap >> 40) & 1))
			continue;
		w = (int)((ecap >> 35) & 0x1f) + 1;
		if (!width || w < width) {
			width = w;
			snprintf(units, sizeof(units), "%s", e->d_name);
		}
	}
	closedir(dir);
	if (width)
		snprintf(from, len, "the IOMMU (%s/class/iommu/%s/intel-iommu/ecap: PSS %d)", sys,
		         units, width - 1);
	else if (nunits)
		snprintf(from, len, "none of the %u VT-d unit(s) supports PASIDs (ECAP.PASID is 0)",
		         nunits);
	else
		snprintf(from, len,
		         "no IOMMU in %s/class/iommu tells its PASID width (only VT-d's "
		         "ecap is read)",
		         sys);
	return width;
}
