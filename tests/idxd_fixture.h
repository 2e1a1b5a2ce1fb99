/* Sysfs fixture trees of idxd (DSA/IAX) devices, for unit and integration tests: there is
 * no DSA hardware on the test machines and QEMU emulates none, so tests build under a
 * temporary root the layout the kernel makes, and point pasidd at it ([Idxd] SysfsRoot=).
 * Plain C without Check: every function returns 0 or -errno.
 *
 * The layout, as Linux 7.3 builds it (drivers/dma/idxd/init.c, cdev.c):
 *   devices/pci0000:BB/DDDD:BB:SS.F/                  the PCI function (subsystem -> bus/pci)
 *     dsaN/ or iaxN/                                   conf_dev->parent = &pdev->dev
 *       wqN.M/                                         conf_dev->parent = idxd_confdev(idxd)
 *         dsa!wqN.M/  (iax!wqN.M)                      the char device, parent = wq conf_dev;
 *                                                      named "dsa/wqN.M", '/' becomes '!' in
 *                                                      sysfs, and devtmpfs makes /dev/dsa/wqN.M
 *       groupN.M/ engineN.M/                           conf_dev->parent = idxd_confdev(idxd),
 *                                                      max_groups and max_engines of them
 *       driver -> bus/dsa/drivers/idxd                 once enabled (bound); a WQ's link
 *                                                      names "user", "dmaengine" or "crypto"
 *   bus/dsa/devices/{dsaN,iaxN,wqN.M,dsa!wqN.M,groupN.M,engineN.M}  relative links to these
 *   bus/dsa/drivers/{idxd,user,dmaengine,crypto,dsa}/{bind,unbind}  write-only (0200), the
 *                                                      bound devices linked by name inside
 *   bus/pci/devices/DDDD:BB:SS.F                       relative link to the PCI function
 * N comes from one IDA shared by DSA and IAX (init.c idxd_ida): a host with one of each has
 * dsa0 and iax1, never two devices numbered 0.
 *
 * Value formats, from drivers/dma/idxd/sysfs.c (each file ends in "\n"):
 *   device  pasid_enabled "%u" (0|1); state "disabled|enabled|halted|unknown";
 *           max_work_queues, max_work_queues_size "%u"; configurable "%u";
 *           version "%#x"; gen_cap "%#llx"; cdev_major "%u"; clients "%d";
 *           op_cap: 256 bits as four "%*pb" 64-bit words, most significant first, joined by
 *           ',' — "%*pb" prints a 64-bit word as two 32-bit hex groups, so 8 groups of 8
 *           hex digits separated by ','.
 *   wq      mode "dedicated|shared"; type "none|kernel|user"; name "%s" (may be empty, at
 *           most WQ_NAME_SIZE 1024); driver_name "%s" (at most DRIVER_NAME_SIZE 128);
 *           size, priority, threshold, block_on_fault (0|1) "%u"; group_id "%u" or "-1"
 *           with no group; state "disabled|enabled|unknown"; clients "%d";
 *           cdev_minor "%d", and the read fails with ENXIO while the WQ has no char device
 *           (the fixture leaves the file out then: pasidd reads both as "no char device").
 *   group   work_queues, engines: the names of its members joined by ' ' (0444);
 *           read_buffers_{allowed,reserved}, use_read_buffer_limit and their deprecated
 *           tokens twins (DSA only), traffic_class_{a,b}, {desc,batch}_progress_limit (0644)
 *   engine  group_id "%d", -1 with no group (0644)
 *   Modes: clients, state, cdev_minor, occupancy 0444; the configuration 0644 (writable only
 *   while the WQ is disabled, else EPERM); the device's attributes above 0444.
 * The ABI document (Documentation/ABI/stable/sysfs-driver-dma-idxd) names these files but
 * gives no formats. */
#ifndef PASIDD_IDXD_FIXTURE_H
#define PASIDD_IDXD_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One work queue as the fixture writes it. */
struct idxd_fx_wq {
	const char *name;   /* "wq0.1": N must be its device's number */
	const char *mode;   /* "dedicated" | "shared" */
	const char *type;   /* "none" | "kernel" | "user" */
	const char *label;  /* the `name` attribute, "" when unset */
	const char *state;  /* "disabled" | "enabled" */
	const char *driver; /* driver_name: "user", "dmaengine", "" */
	unsigned size, priority, threshold, block_on_fault;
	int group_id; /* -1: none */
	int clients;
	int cdev_minor; /* -1: no char device (the kernel's read fails with ENXIO) */
};

/* snprintf that says when a path did not fit (-ENAMETOOLONG); through vsnprintf, so that
 * GCC does not warn of a truncation that the callers see as this error. */
static inline int idxd_fx_fmt(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int
idxd_fx_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static inline int
idxd_fx_mkdirs(const char *path)
{
	char p[PATH_MAX];

	if (idxd_fx_fmt(p, sizeof(p), "%s", path) < 0)
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* Writes dir/name = value "\n" with the given mode (the kernel's, so later write tests
 * meet the same read-only files). */
static inline int
idxd_fx_file(const char *dir, const char *name, mode_t mode, const char *value)
{
	char path[PATH_MAX];
	FILE *f;

	if (idxd_fx_fmt(path, sizeof(path), "%s/%s", dir, name) < 0)
		return -ENAMETOOLONG;
	unlink(path);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", value);
	if (fclose(f) != 0)
		return -EIO;
	return chmod(path, mode) < 0 ? -errno : 0;
}

static inline int
idxd_fx_filef(const char *dir, const char *name, mode_t mode, const char *fmt, long long v)
{
	char buf[32];

	idxd_fx_fmt(buf, sizeof(buf), fmt, v);
	return idxd_fx_file(dir, name, mode, buf);
}

/* A relative link at root/from pointing to root/to, as sysfs makes them. */
static inline int
idxd_fx_link(const char *root, const char *from, const char *to)
{
	char path[PATH_MAX], target[PATH_MAX] = "";
	size_t n = 0;

	for (const char *s = from; *s; s++)
		n += *s == '/';
	for (size_t i = 0; i < n; i++)
		strcat(target, "../");
	if (strlen(target) + strlen(to) >= sizeof(target))
		return -ENAMETOOLONG;
	strcat(target, to);
	idxd_fx_fmt(path, sizeof(path), "%s/%s", root, from);
	unlink(path);
	return symlink(target, path) < 0 ? -errno : 0;
}

/* The device's directory relative to root ("devices/pci0000:6a/0000:6a:01.0/dsa0"), found
 * from its bus link as pasidd would. */
static inline int
idxd_fx_devdir(const char *root, const char *dev, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	idxd_fx_fmt(path, sizeof(path), "%s/bus/dsa/devices/%s", root, dev);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (strncmp(target, "../../../", 9) || strlen(target + 9) >= len)
		return -EINVAL;
	memcpy(out, target + 9, strlen(target + 9) + 1);
	return 0;
}

/* Device dev ("dsa0", "iax1") on PCI function bdf ("0000:6a:01.0"), with its attributes.
 * op_cap NULL: a DSA's usual word. */
static inline int
idxd_fx_device(const char *root, const char *dev, const char *bdf, int pasid_enabled,
               const char *state, unsigned max_wqs, unsigned max_wq_size, const char *op_cap)
{
	char rel[PATH_MAX], dir[PATH_MAX], pci[PATH_MAX];
	int r;

	/* pci0000:BB: the root bus of the function's domain and bus. */
	idxd_fx_fmt(pci, sizeof(pci), "devices/pci%.7s/%s", bdf, bdf);
	idxd_fx_fmt(rel, sizeof(rel), "%s/%s", pci, dev);
	idxd_fx_fmt(dir, sizeof(dir), "%s/%s", root, rel);
	if ((r = idxd_fx_mkdirs(dir)) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "%s/bus/pci/devices", root);
	if ((r = idxd_fx_mkdirs(dir)) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "%s/bus/dsa/devices", root);
	if ((r = idxd_fx_mkdirs(dir)) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "bus/pci/devices/%s", bdf);
	if ((r = idxd_fx_link(root, dir, pci)) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "%s/subsystem", pci);
	if ((r = idxd_fx_link(root, dir, "bus/pci")) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "%s/subsystem", rel);
	if ((r = idxd_fx_link(root, dir, "bus/dsa")) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "bus/dsa/devices/%s", dev);
	if ((r = idxd_fx_link(root, dir, rel)) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "%s/%s", root, rel);
	if ((r = idxd_fx_filef(dir, "pasid_enabled", 0444, "%lld", pasid_enabled)) < 0 ||
	    (r = idxd_fx_file(dir, "state", 0444, state)) < 0 ||
	    (r = idxd_fx_filef(dir, "max_work_queues", 0444, "%lld", max_wqs)) < 0 ||
	    (r = idxd_fx_filef(dir, "max_work_queues_size", 0444, "%lld", max_wq_size)) < 0 ||
	    (r = idxd_fx_file(dir, "op_cap", 0444,
	                      op_cap ? op_cap
	                             : "00000000,00000000,00000000,00000000,00000000,"
	                               "00000000,00000000,00ff03ff")) < 0 ||
	    (r = idxd_fx_filef(dir, "configurable", 0444, "%lld", 1)) < 0 ||
	    (r = idxd_fx_file(dir, "version", 0444, "0x100")) < 0 ||
	    (r = idxd_fx_file(dir, "gen_cap", 0444, "0x40915f0107")) < 0 ||
	    (r = idxd_fx_filef(dir, "cdev_major", 0444, "%lld", 239)) < 0 ||
	    (r = idxd_fx_filef(dir, "clients", 0444, "%lld", 0)) < 0)
		return r;
	return 0;
}

/* Work queue wq of device dev, with its char device when wq->cdev_minor >= 0. */
static inline int
idxd_fx_wq(const char *root, const char *dev, const struct idxd_fx_wq *wq)
{
	char devdir[PATH_MAX], rel[PATH_MAX], dir[PATH_MAX], cdev[64], prefix[4];
	int r;

	if ((r = idxd_fx_devdir(root, dev, devdir, sizeof(devdir))) < 0)
		return r;
	idxd_fx_fmt(rel, sizeof(rel), "%s/%s", devdir, wq->name);
	idxd_fx_fmt(dir, sizeof(dir), "%s/%s", root, rel);
	if ((r = idxd_fx_mkdirs(dir)) < 0)
		return r;
	if ((r = idxd_fx_file(dir, "mode", 0644, wq->mode)) < 0 ||
	    (r = idxd_fx_file(dir, "type", 0644, wq->type)) < 0 ||
	    (r = idxd_fx_file(dir, "name", 0644, wq->label)) < 0 ||
	    (r = idxd_fx_file(dir, "driver_name", 0644, wq->driver)) < 0 ||
	    (r = idxd_fx_file(dir, "state", 0444, wq->state)) < 0 ||
	    (r = idxd_fx_filef(dir, "size", 0644, "%lld", wq->size)) < 0 ||
	    (r = idxd_fx_filef(dir, "priority", 0644, "%lld", wq->priority)) < 0 ||
	    (r = idxd_fx_filef(dir, "threshold", 0644, "%lld", wq->threshold)) < 0 ||
	    (r = idxd_fx_filef(dir, "block_on_fault", 0644, "%lld", wq->block_on_fault)) < 0 ||
	    (r = idxd_fx_filef(dir, "group_id", 0644, "%lld", wq->group_id)) < 0 ||
	    (r = idxd_fx_filef(dir, "clients", 0444, "%lld", wq->clients)) < 0 ||
	    (r = idxd_fx_filef(dir, "occupancy", 0444, "%lld", 0)) < 0 ||
	    (r = idxd_fx_filef(dir, "max_batch_size", 0644, "%lld", 1024)) < 0 ||
	    (r = idxd_fx_filef(dir, "max_transfer_size", 0644, "%lld", 2097152)) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "%s/subsystem", rel);
	if ((r = idxd_fx_link(root, dir, "bus/dsa")) < 0)
		return r;
	idxd_fx_fmt(dir, sizeof(dir), "bus/dsa/devices/%s", wq->name);
	if ((r = idxd_fx_link(root, dir, rel)) < 0)
		return r;
	if (wq->cdev_minor < 0)
		return 0;
	idxd_fx_fmt(dir, sizeof(dir), "%s/%s", root, rel);
	if ((r = idxd_fx_filef(dir, "cdev_minor", 0444, "%lld", wq->cdev_minor)) < 0)
		return r;
	idxd_fx_fmt(prefix, sizeof(prefix), "%.3s", dev);
	idxd_fx_fmt(cdev, sizeof(cdev), "%s!%s", prefix, wq->name);
	idxd_fx_fmt(dir, sizeof(dir), "%s/%s/%s", root, rel, cdev);
	if ((r = idxd_fx_mkdirs(dir)) < 0)
		return r;
	{
		char majmin[32];

		idxd_fx_fmt(majmin, sizeof(majmin), "%d:%d", 239, wq->cdev_minor);
		if ((r = idxd_fx_file(dir, "dev", 0444, majmin)) < 0)
			return r;
	}
	idxd_fx_fmt(dir, sizeof(dir), "bus/dsa/devices/%s", cdev);
	idxd_fx_fmt(rel + strlen(rel), sizeof(rel) - strlen(rel), "/%s", cdev);
	return idxd_fx_link(root, dir, rel);
}

/* Groups groupN.0.. and engines engineN.0.. of device dev, every engine in group 0 (as the
 * kernel's defaults and accel-config's usual configuration have them), and the device's
 * max_groups and max_engines. */
static inline int
idxd_fx_groups(const char *root, const char *dev, unsigned ngroups, unsigned nengines)
{
	char devdir[PATH_MAX], rel[PATH_MAX], dir[PATH_MAX], link[64], name[32];
	char members[1024] = "";
	unsigned n = 0;
	bool dsa = !strncmp(dev, "dsa", 3);
	int r;

	if ((r = idxd_fx_devdir(root, dev, devdir, sizeof(devdir))) < 0)
		return r;
	sscanf(dev + 3, "%u", &n);
	idxd_fx_fmt(dir, sizeof(dir), "%s/%s", root, devdir);
	if ((r = idxd_fx_filef(dir, "max_groups", 0444, "%lld", ngroups)) < 0 ||
	    (r = idxd_fx_filef(dir, "max_engines", 0444, "%lld", nengines)) < 0)
		return r;
	for (unsigned i = 0; i < nengines; i++) {
		idxd_fx_fmt(name, sizeof(name), "engine%u.%u", n, i);
		idxd_fx_fmt(rel, sizeof(rel), "%s/%s", devdir, name);
		idxd_fx_fmt(dir, sizeof(dir), "%s/%s", root, rel);
		if ((r = idxd_fx_mkdirs(dir)) < 0 ||
		    (r = idxd_fx_filef(dir, "group_id", 0644, "%lld", ngroups ? 0 : -1)) < 0)
			return r;
		idxd_fx_fmt(link, sizeof(link), "bus/dsa/devices/%s", name);
		if ((r = idxd_fx_link(root, link, rel)) < 0)
			return r;
		if (ngroups && strlen(members) + strlen(name) + 2 < sizeof(members))
			strcat(strcat(members, i ? " " : ""), name);
	}
	for (unsigned i = 0; i < ngroups; i++) {
		idxd_fx_fmt(name, sizeof(name), "group%u.%u", n, i);
		idxd_fx_fmt(rel, sizeof(rel), "%s/%s", devdir, name);
		idxd_fx_fmt(dir, sizeof(dir), "%s/%s", root, rel);
		if ((r = idxd_fx_mkdirs(dir)) < 0 ||
		    (r = idxd_fx_file(dir, "work_queues", 0444, "")) < 0 ||
		    (r = idxd_fx_file(dir, "engines", 0444, i ? "" : members)) < 0 ||
		    (r = idxd_fx_filef(dir, "traffic_class_a", 0644, "%lld", 1)) < 0 ||
		    (r = idxd_fx_filef(dir, "traffic_class_b", 0644, "%lld", 1)) < 0 ||
		    (r = idxd_fx_filef(dir, "desc_progress_limit", 0644, "%lld", 0)) < 0 ||
		    (r = idxd_fx_filef(dir, "batch_progress_limit", 0644, "%lld", 0)) < 0)
			return r;
		if (dsa &&
		    ((r = idxd_fx_filef(dir, "use_read_buffer_limit", 0644, "%lld", 0)) < 0 ||
		     (r = idxd_fx_filef(dir, "use_token_limit", 0644, "%lld", 0)) < 0 ||
		     (r = idxd_fx_filef(dir, "read_buffers_allowed", 0644, "%lld", 96)) < 0 ||
		     (r = idxd_fx_filef(dir, "tokens_allowed", 0644, "%lld", 96)) < 0 ||
		     (r = idxd_fx_filef(dir, "read_buffers_reserved", 0644, "%lld", 0)) < 0 ||
		     (r = idxd_fx_filef(dir, "tokens_reserved", 0644, "%lld", 0)) < 0))
			return r;
		idxd_fx_fmt(link, sizeof(link), "bus/dsa/devices/%s", name);
		if ((r = idxd_fx_link(root, link, rel)) < 0)
			return r;
	}
	return 0;
}

/* The drivers of the dsa bus, each with its write-only bind and unbind files: idxd (devices),
 * user (cdev.c), dmaengine (dma.c), crypto (iaa_crypto, IAX kernel WQs) and the dsa
 * compatibility driver (compat.c). A write leaves its value in the file, for tests to read. */
static inline int
idxd_fx_drivers(const char *root)
{
	static const char *const drivers[] = {"idxd", "user", "dmaengine", "crypto", "dsa"};
	char dir[PATH_MAX];
	int r;

	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		idxd_fx_fmt(dir, sizeof(dir), "%s/bus/dsa/drivers/%s", root, drivers[i]);
		if ((r = idxd_fx_mkdirs(dir)) < 0 ||
		    (r = idxd_fx_file(dir, "bind", 0200, "")) < 0 ||
		    (r = idxd_fx_file(dir, "unbind", 0200, "")) < 0)
			return r;
	}
	return 0;
}

/* Shows obj ("dsa0", "wq0.1") bound to driver as the driver core does: obj/driver links to
 * the driver, and the driver's directory links to obj by its name. */
static inline int
idxd_fx_bind(const char *root, const char *obj, const char *driver)
{
	char rel[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	int r;

	if ((r = idxd_fx_devdir(root, obj, rel, sizeof(rel))) < 0)
		return r;
	idxd_fx_fmt(from, sizeof(from), "%s/driver", rel);
	idxd_fx_fmt(to, sizeof(to), "bus/dsa/drivers/%s", driver);
	if ((r = idxd_fx_link(root, from, to)) < 0)
		return r;
	idxd_fx_fmt(from, sizeof(from), "bus/dsa/drivers/%s/%s", driver, obj);
	return idxd_fx_link(root, from, rel);
}

/* Changes one attribute of a device or WQ ("dsa0", "wq0.1") under pasidd, as the kernel
 * does when another tool reconfigures or disables a WQ (or a malformed value, for tests). */
static inline int
idxd_fx_set(const char *root, const char *obj, const char *attr, const char *value)
{
	char path[PATH_MAX];

	idxd_fx_fmt(path, sizeof(path), "%s/bus/dsa/devices/%s", root, obj);
	return idxd_fx_file(path, attr, 0644, value);
}

static inline int
idxd_fx_rmtree(const char *path)
{
	char sub[PATH_MAX];
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		idxd_fx_fmt(sub, sizeof(sub), "%s/%s", path, e->d_name);
		idxd_fx_rmtree(sub);
	}
	closedir(d);
	return rmdir(path) < 0 ? -errno : 0;
}

/* Removes work queue wq of device dev with its links, as when the device goes away. */
static inline int
idxd_fx_remove_wq(const char *root, const char *dev, const char *wq)
{
	char devdir[PATH_MAX], path[PATH_MAX];
	int r;

	if ((r = idxd_fx_devdir(root, dev, devdir, sizeof(devdir))) < 0)
		return r;
	idxd_fx_fmt(path, sizeof(path), "%s/bus/dsa/devices/%.3s!%s", root, dev, wq);
	unlink(path);
	idxd_fx_fmt(path, sizeof(path), "%s/bus/dsa/devices/%s", root, wq);
	unlink(path);
	idxd_fx_fmt(path, sizeof(path), "%s/%s/%s", root, devdir, wq);
	return idxd_fx_rmtree(path);
}

#endif
