/* idxd discovery from sysfs; see idxd.h for why not libaccel-config. The formats read are
 * those of drivers/dma/idxd/sysfs.c (Linux 7.3), quoted in tests/idxd_fixture.h. */
#include "idxd.h"
#include "namespace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longer than any value pasidd reads (a WQ's name, 1024 bytes, is the longest). */
#define ATTR_MAX 1100

/* Reads dir/name without its trailing newline. -errno of the open or read; -EFBIG for a
 * value longer than len - 1, which no kernel writes. */
static int
read_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX], tmp[ATTR_MAX + 1];
	size_t n = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* sysfs gives a whole attribute in one read, a fixture file maybe not. */
	for (;;) {
		ssize_t r = read(fd, tmp + n, sizeof(tmp) - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (r == 0 || (n += (size_t)r) == sizeof(tmp) - 1)
			break;
	}
	close(fd);
	tmp[n] = '\0';
	if (n && tmp[n - 1] == '\n')
		tmp[--n] = '\0';
	if (n >= len)
		return -EFBIG;
	memcpy(buf, tmp, n + 1);
	return 0;
}

int
idxd_attr_read(const char *dir, const char *name, char *buf, size_t len)
{
	return read_attr(dir, name, buf, len);
}

/* A decimal number the kernel wrote with "%u" or "%d": digits only, with '-' when signed. */
static int
parse_num(const char *s, bool is_signed, long long max, long long *out)
{
	const char *p = s;
	long long v = 0;

	if (is_signed && *p == '-')
		p++;
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > max / 10 || v * 10 > max - (*p - '0'))
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	*out = s[0] == '-' ? -v : v;
	return 0;
}

static bool
one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

/* Where reading one object's attributes stands: its directory, its display name, and the
 * first problem met (later reads are skipped). */
struct reader {
	char dir[PATH_MAX];
	const char *obj; /* "dsa0", "dsa0/wq0.1" */
	int err;
	char *why;
	size_t len;
};

static void
fail(struct reader *rd, const char *attr, int err, const char *fmt, const char *val)
{
	if (rd->err)
		return;
	rd->err = err;
	if (fmt)
		snprintf(rd->why, rd->len, "%s/%s: '%.64s' %s", rd->obj, attr, val, fmt);
	else
		snprintf(rd->why, rd->len, "%s/%s: %s", rd->obj, attr, strerror(-err));
}

static void
get_str(struct reader *rd, const char *attr, char *out, size_t len, const char *const *words)
{
	char val[ATTR_MAX];
	int r;

	if (rd->err)
		return;
	r = read_attr(rd->dir, attr, val, sizeof(val));
	if (r < 0)
		return fail(rd, attr, r, NULL, NULL);
	if (strlen(val) >= len || (words && !one_of(val, words)))
		return fail(rd, attr, -EINVAL, "is not a value the kernel writes", val);
	memcpy(out, val, strlen(val) + 1);
}

static long long
get_num(struct reader *rd, const char *attr, bool is_signed, long long max)
{
	char val[32];
	long long v = 0;
	int r;

	if (rd->err)
		return 0;
	r = read_attr(rd->dir, attr, val, sizeof(val));
	/* Longer than any number: as malformed as a letter in it. */
	if (r == -EFBIG) {
		r = -EINVAL;
		snprintf(val, sizeof(val), "(too long)");
	}
	if (r == -EINVAL || (r == 0 && parse_num(val, is_signed, max, &v) < 0)) {
		fail(rd, attr, -EINVAL, "is not a number", val);
		return 0;
	}
	if (r < 0)
		fail(rd, attr, r, NULL, NULL);
	return v;
}

/* A number as the kernel prints it with "%d": no leading zero, so that "dsa00" is not
 * taken for dsa0, a name the kernel never gives. */
static int
parse_id(const char *s, long long *v)
{
	if (s[0] == '0' && s[1])
		return -EINVAL;
	return parse_num(s, false, INT_MAX, v);
}

/* prefix followed by a decimal number and nothing else ("dsa0", not "dsa!wq0.0"). */
static bool
numbered(const char *s, const char *prefix, unsigned *n)
{
	long long v;
	size_t pl = strlen(prefix);

	if (strncmp(s, prefix, pl) || parse_id(s + pl, &v) < 0)
		return false;
	*n = (unsigned)v;
	return true;
}

/* "wqN.M" */
static bool
wq_numbers(const char *s, unsigned *n, unsigned *m)
{
	char head[IDXD_NAME_LEN];
	const char *dot = strchr(s, '.');
	long long v;

	if (!dot || (size_t)(dot - s) >= sizeof(head) || parse_id(dot + 1, &v) < 0)
		return false;
	memcpy(head, s, (size_t)(dot - s));
	head[dot - s] = '\0';
	*m = (unsigned)v;
	return numbered(head, "wq", n);
}

static bool
gone(const char *dir)
{
	struct stat st;

	return stat(dir, &st) < 0 && errno == ENOENT;
}

static const char *const wq_modes[] = {"dedicated", "shared", NULL};
static const char *const wq_types[] = {"none", "kernel", "user", NULL};
static const char *const wq_states[] = {"disabled", "enabled", "unknown", NULL};
static const char *const dev_states[] = {"disabled", "enabled", "halted", "unknown", NULL};

/* Reads device `name` (known to be dsaN or iaxN): every attribute when full, else only what
 * decides whether its WQs can take a VM's PASID (pasid_enabled, state), which is what each
 * pasid.alloc with a WQ reads. -ENOENT when it does not exist (or went away meanwhile);
 * otherwise 0, with a problem reading it in dev->err. */
static int
read_device(const char *sys, const char *name, struct idxd_device *dev, bool full)
{
	char link[PATH_MAX], real[PATH_MAX], subsys[PATH_MAX];
	struct reader rd = {.obj = name, .why = dev->why, .len = sizeof(dev->why)};
	char *slash, *pci;
	ssize_t n;

	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	snprintf(dev->kind, sizeof(dev->kind), "%.3s", name);
	numbered(name, dev->kind, &dev->id);
	snprintf(link, sizeof(link), "%s/bus/dsa/devices/%s", sys, name);
	if (!full) {
		snprintf(rd.dir, sizeof(rd.dir), "%s", link);
		dev->pasid_enabled = get_num(&rd, "pasid_enabled", false, 1);
		get_str(&rd, "state", dev->state, sizeof(dev->state), dev_states);
		if (rd.err && gone(rd.dir))
			return -ENOENT;
		dev->err = rd.err;
		return 0;
	}
	if (!realpath(link, real)) {
		if (errno == ENOENT)
			return -ENOENT;
		dev->err = -errno;
		snprintf(dev->why, sizeof(dev->why), "%s: %s", name, strerror(-dev->err));
		return 0;
	}
	snprintf(rd.dir, sizeof(rd.dir), "%s", real);
	/* conf_dev->parent is the PCI function: .../0000:6a:01.0/dsa0, in bus pci. */
	slash = strrchr(real, '/');
	*slash = '\0';
	pci = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	n = -1;
	if (snprintf(link, sizeof(link), "%s/subsystem", real) < (int)sizeof(link))
		n = readlink(link, subsys, sizeof(subsys) - 1);
	subsys[n > 0 ? n : 0] = '\0';
	if (n <= 0 || strcmp(strrchr(subsys, '/') ? strrchr(subsys, '/') + 1 : subsys, "pci") ||
	    ns_bdf_parse(pci, &dev->bdf) < 0) {
		dev->err = -ENODEV;
		snprintf(dev->why, sizeof(dev->why), "%s: its parent %.64s is not a PCI device",
		         name, pci);
		return 0;
	}
	dev->pasid_enabled = get_num(&rd, "pasid_enabled", false, 1);
	get_str(&rd, "state", dev->state, sizeof(dev->state), dev_states);
	dev->max_wqs = (unsigned)get_num(&rd, "max_work_queues", false, UINT_MAX);
	dev->max_wq_size = (unsigned)get_num(&rd, "max_work_queues_size", false, UINT_MAX);
	get_str(&rd, "op_cap", dev->op_cap, sizeof(dev->op_cap), NULL);
	if (rd.err && gone(rd.dir))
		return -ENOENT;
	dev->err = rd.err;
	return 0;
}

/* Reads work queue `name` of dev: every attribute when full, else mode, type and state.
 * -ENOENT when it does not exist (or went away meanwhile); otherwise 0, with a problem reading
 * it in wq->err. */
static int
read_wq(const char *sys, const struct idxd_device *dev, const char *name, struct idxd_wq *wq,
        bool full)
{
	char obj[2 * IDXD_NAME_LEN], minor[16];
	struct reader rd = {.obj = obj, .why = wq->why, .len = sizeof(wq->why)};
	long long v;
	int r;

	memset(wq, 0, sizeof(*wq));
	snprintf(wq->name, sizeof(wq->name), "%s", name);
	snprintf(obj, sizeof(obj), "%s/%s", dev->name, name);
	wq->cdev_minor = -1;
	wq->group_id = -1;
	snprintf(rd.dir, sizeof(rd.dir), "%s/bus/dsa/devices/%s", sys, name);
	/* A WQ whose directory is gone fails its first read and is found gone below. */
	get_str(&rd, "mode", wq->mode, sizeof(wq->mode), wq_modes);
	get_str(&rd, "type", wq->type, sizeof(wq->type), wq_types);
	get_str(&rd, "state", wq->state, sizeof(wq->state), wq_states);
	if (!full) {
		if (rd.err && gone(rd.dir))
			return -ENOENT;
		wq->err = rd.err;
		return 0;
	}
	get_str(&rd, "name", wq->label, sizeof(wq->label), NULL);
	get_str(&rd, "driver_name", wq->driver, sizeof(wq->driver), NULL);
	wq->size = (unsigned)get_num(&rd, "size", false, UINT_MAX);
	wq->priority = (unsigned)get_num(&rd, "priority", false, UINT_MAX);
	wq->threshold = (unsigned)get_num(&rd, "threshold", false, UINT_MAX);
	wq->block_on_fault = get_num(&rd, "block_on_fault", false, 1);
	wq->group_id = (int)get_num(&rd, "group_id", true, INT_MAX);
	wq->clients = (int)get_num(&rd, "clients", true, INT_MAX);
	/* The kernel answers ENXIO while the WQ has no char device; a fixture has no file. */
	r = rd.err ? 0 : read_attr(rd.dir, "cdev_minor", minor, sizeof(minor));
	if (r == 0 && !rd.err) {
		if (parse_num(minor, false, INT_MAX, &v) < 0)
			fail(&rd, "cdev_minor", -EINVAL, "is not a number", minor);
		else
			wq->cdev_minor = (int)v;
	} else if (r != -ENXIO && r != -ENOENT) {
		fail(&rd, "cdev_minor", r, NULL, NULL);
	}
	if (rd.err && gone(rd.dir))
		return -ENOENT;
	wq->err = rd.err;
	if (wq->cdev_minor >= 0)
		snprintf(wq->cdev, sizeof(wq->cdev), "/dev/%s/%s", dev->kind, name);
	return 0;
}

static int
by_number(const void *a, const void *b)
{
	const struct idxd_device *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
wq_by_number(const void *a, const void *b)
{
	unsigned an, am, bn, bm;

	wq_numbers(((const struct idxd_wq *)a)->name, &an, &am);
	wq_numbers(((const struct idxd_wq *)b)->name, &bn, &bm);
	return am < bm ? -1 : am > bm;
}

/* Room for one more element: a host has a handful of devices and WQs. */
static void *
grow(void *arr, size_t n, size_t size)
{
	return realloc(arr, (n + 1) * size);
}

void
idxd_host_free(struct idxd_host *h)
{
	for (size_t i = 0; i < h->ndevs; i++)
		free(h->devs[i].wqs);
	free(h->devs);
	h->devs = NULL;
	h->ndevs = 0;
}

/* Adds the WQs wqN.* of dev found in the bus listing. */
static int
scan_wqs(const char *sys, DIR *d, struct idxd_device *dev)
{
	struct dirent *e;

	rewinddir(d);
	while ((e = readdir(d))) {
		unsigned n, m;
		void *p;

		if (!wq_numbers(e->d_name, &n, &m) || n != dev->id)
			continue;
		if (!(p = grow(dev->wqs, dev->nwqs, sizeof(*dev->wqs))))
			return -ENOMEM;
		dev->wqs = p;
		if (read_wq(sys, dev, e->d_name, &dev->wqs[dev->nwqs], true) == 0)
			dev->nwqs++;
	}
	qsort(dev->wqs, dev->nwqs, sizeof(*dev->wqs), wq_by_number);
	return 0;
}

int
idxd_scan(const char *sys, struct idxd_host *out, char *why, size_t len)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int r = 0;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/bus/dsa/devices", sys);
	d = opendir(path);
	if (!d) {
		r = -errno;
		snprintf(why, len, "%s: %s", path,
		         r == -ENOENT ? "absent (no idxd driver on this host)" : strerror(-r));
		return r;
	}
	while ((e = readdir(d))) {
		unsigned n;
		void *p;

		if (!numbered(e->d_name, "dsa", &n) && !numbered(e->d_name, "iax", &n))
			continue;
		if (!(p = grow(out->devs, out->ndevs, sizeof(*out->devs)))) {
			r = -ENOMEM;
			break;
		}
		out->devs = p;
		if (read_device(sys, e->d_name, &out->devs[out->ndevs], true) == 0)
			out->ndevs++;
	}
	/* Also the WQs of a device that could not be read whole: they exist, and a listing
	 * shows them with the device's error rather than leaving them out. */
	for (size_t i = 0; r == 0 && i < out->ndevs; i++)
		r = scan_wqs(sys, d, &out->devs[i]);
	closedir(d);
	if (r < 0) {
		snprintf(why, len, "%s: %s", path, strerror(-r));
		idxd_host_free(out);
		return r;
	}
	qsort(out->devs, out->ndevs, sizeof(*out->devs), by_number);
	return 0;
}

int
idxd_ref_split(const char *ref, char *dev, char *wq)
{
	const char *slash = ref ? strchr(ref, '/') : NULL;

	if (!ns_wq_ref_valid(ref) || !slash || (size_t)(slash - ref) >= IDXD_NAME_LEN ||
	    strlen(slash + 1) >= IDXD_NAME_LEN)
		return -EINVAL;
	memcpy(dev, ref, (size_t)(slash - ref));
	dev[slash - ref] = '\0';
	strcpy(wq, slash + 1);
	return 0;
}

static int
wq_read(const char *sys, const char *ref, struct idxd_device *dev, struct idxd_wq *wq, bool full,
        char *why, size_t len)
{
	char dname[IDXD_NAME_LEN], wname[IDXD_NAME_LEN];

	if (idxd_ref_split(ref, dname, wname) < 0) {
		snprintf(why, len, "'%.64s' is not a work queue name like dsa0/wq0.1", ref);
		return -EINVAL;
	}
	if (read_device(sys, dname, dev, full) < 0) {
		snprintf(why, len, "no idxd device %s", dname);
		return -ENOENT;
	}
	if (dev->err) {
		snprintf(why, len, "%s", dev->why);
		return dev->err;
	}
	if (read_wq(sys, dev, wname, wq, full) < 0) {
		snprintf(why, len, "no work queue %s", ref);
		return -ENOENT;
	}
	if (wq->err) {
		snprintf(why, len, "%s", wq->why);
		return wq->err;
	}
	return 0;
}

int
idxd_wq_read(const char *sys, const char *ref, struct idxd_device *dev, struct idxd_wq *wq,
             char *why, size_t len)
{
	return wq_read(sys, ref, dev, wq, true, why, len);
}

const struct idxd_wq *
idxd_host_find(const struct idxd_host *h, const char *ref, const struct idxd_device **dev)
{
	char dname[IDXD_NAME_LEN], wname[IDXD_NAME_LEN];

	if (idxd_ref_split(ref, dname, wname) < 0)
		return NULL;
	for (size_t i = 0; i < h->ndevs; i++) {
		if (strcmp(h->devs[i].name, dname))
			continue;
		for (size_t j = 0; j < h->devs[i].nwqs; j++) {
			if (strcmp(h->devs[i].wqs[j].name, wname))
				continue;
			if (dev)
				*dev = &h->devs[i];
			return &h->devs[i].wqs[j];
		}
	}
	return NULL;
}

bool
idxd_present(const char *sys, char *why, size_t len)
{
	char bus[PATH_MAX];
	struct stat st;

	snprintf(bus, sizeof(bus), "%s/bus/dsa", sys);
	if (stat(bus, &st) == 0 && S_ISDIR(st.st_mode))
		return true;
	snprintf(why, len, "this host has no idxd driver (no %s)", bus);
	return false;
}

enum idxd_verdict
idxd_wq_check(const char *sys, const char *ref, int *err, char *why, size_t len)
{
	struct idxd_device dev;
	struct idxd_wq wq;
	int r;

	*err = 0;
	if (!idxd_present(sys, why, len))
		return IDXD_NO_DRIVER;
	if (!ns_wq_ref_valid(ref)) {
		snprintf(why, len, "'%.64s' is not a work queue name like dsa0/wq0.1", ref);
		return IDXD_WQ_MISSING;
	}
	/* Five files rather than the twenty of a whole read: this is on every pasid.alloc with
	 * a WQ (bench_daemon: "wq checked"). */
	r = wq_read(sys, ref, &dev, &wq, false, why, len);
	if (r == -ENOENT)
		return IDXD_WQ_MISSING;
	if (r < 0) {
		*err = r;
		return IDXD_WQ_UNREADABLE;
	}
	return idxd_wq_unfit(&dev, &wq, ref, why, len) ? IDXD_WQ_UNFIT : IDXD_WQ_USABLE;
}

bool
idxd_wq_unfit(const struct idxd_device *dev, const struct idxd_wq *wq, const char *ref, char *why,
              size_t len)
{
	/* The device's conditions first: they hold for every WQ of it. */
	if (!dev->pasid_enabled)
		snprintf(why, len,
		         "device %s has PASID disabled (pasid_enabled 0): its WQs cannot "
		         "take a VM's PASID",
		         dev->name);
	else if (strcmp(dev->state, "enabled"))
		snprintf(why, len, "device %s is %s", dev->name, dev->state);
	else if (strcmp(wq->mode, "shared"))
		snprintf(why, len,
		         "work queue %s is %s: a PASID handed out to a VM is for a shared "
		         "WQ (ENQCMD)",
		         ref, wq->mode);
	else if (strcmp(wq->type, "user"))
		snprintf(why, len, "work queue %s is of type %s: only a user WQ is for guests", ref,
		         wq->type);
	else if (strcmp(wq->state, "enabled"))
		snprintf(why, len, "work queue %s is %s", ref, wq->state);
	else
		return false;
	return true;
}
