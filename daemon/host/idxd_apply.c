/* idxd_wq_apply(): brings one WQ to its configuration through sysfs. See idxd_conf.h for the
 * contract; the kernel rules it follows are quoted where they decide an order or a refusal
 * (drivers/dma/idxd of Linux 7.3). */
#include "idxd_conf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Engines of one device: ENGCAP num_engines is 8 bits. */
#define MAX_ENGINES 256

/* The values a WQ is written with: the configuration, with what it does not give taken
 * from the WQ as it was read. */
struct target {
	char mode[12], type[8];
	unsigned size, priority, threshold;
	int group;
	bool bof;
	char label[IDXD_LABEL_LEN];
	const char *driver; /* driver_name; NULL: none written */
};

struct writer {
	const char *sys;
	struct idxd_apply *out;
	char *why;
	size_t len;
};

static int fmt_why(char *why, size_t len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
fmt_why(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

static void
note_written(struct writer *w, const char *tag)
{
	size_t n = strlen(w->out->written);

	snprintf(w->out->written + n, sizeof(w->out->written) - n, "%s%s", n ? "," : "", tag);
}

/* Writes val and a newline to dir/file in one write(), as sysfs takes a value whole. No
 * O_CREAT: a file the kernel does not have is an error, never made. O_TRUNC changes
 * nothing on sysfs (a shell's `echo v > attr` opens so too) and leaves a fixture's regular
 * file holding the value alone. -errno; -EIO for a short write. */
static int
write_file(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX], buf[IDXD_LABEL_LEN + 2];
	int fd, n, err = 0;
	ssize_t r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = snprintf(buf, sizeof(buf), "%s\n", val);
	if (n >= (int)sizeof(buf))
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	if (fd < 0)
		return -errno;
	do
		r = write(fd, buf, (size_t)n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		err = -errno;
	else if (r != n)
		err = -EIO;
	/* sysfs reports a refusal at write(); a close error would be a fixture's disk. */
	if (close(fd) < 0 && !err && errno != EINTR)
		err = -errno;
	return err;
}

/* EROFS from sysfs is the service's sandbox, not the kernel's answer about the WQ. */
static const char *
read_only_hint(int err)
{
	return err == -EROFS ? " (sysfs is read-only for pasidd: pasidd.service has "
	                       "ProtectKernelTunables=yes unless the drop-in wq-setup.conf is "
	                       "installed, see pasidd(8) PRIVILEGES)"
	                     : "";
}

/* After a failed write: what stays written, since sysfs has no transaction. */
static void
tell_written(struct writer *w)
{
	size_t n = strlen(w->why);

	if (w->out->written[0])
		snprintf(w->why + n, w->len - n, "; written before it and still in effect: %s",
		         w->out->written);
	else
		snprintf(w->why + n, w->len - n, "; nothing was written before it");
}

/* Attribute attr of a WQ or engine ("wq0.1", "engine0.2"), shown as shown in why. */
static int
put_attr(struct writer *w, const char *obj, const char *shown, const char *attr, const char *val)
{
	char dir[PATH_MAX], tag[64];
	int r;

	snprintf(dir, sizeof(dir), "%s/bus/dsa/devices/%s", w->sys, obj);
	r = write_file(dir, attr, val);
	if (r < 0) {
		snprintf(w->out->attribute, sizeof(w->out->attribute), "%s", attr);
		fmt_why(w->why, w->len, r, "writing %s=%.64s to %s: %s%s", attr, val, shown,
		        strerror(-r), read_only_hint(r));
		tell_written(w);
		return r;
	}
	snprintf(tag, sizeof(tag), "%s/%s", obj, attr);
	note_written(w, tag);
	return 0;
}

static int
put_num(struct writer *w, const char *obj, const char *shown, const char *attr, long long v)
{
	char val[24];

	snprintf(val, sizeof(val), "%lld", v);
	return put_attr(w, obj, shown, attr, val);
}

/* "bind" or "unbind" of a driver of the dsa bus, with the device's name ("dsa0", "wq0.1"):
 * how the kernel enables and disables devices and WQs (the idxd driver enables a device,
 * the WQ's driver a WQ). */
static int
put_driver(struct writer *w, const char *driver, const char *file, const char *name)
{
	char dir[PATH_MAX], tag[IDXD_DRIVER_LEN + 24];
	int r;

	snprintf(dir, sizeof(dir), "%s/bus/dsa/drivers/%s", w->sys, driver);
	r = write_file(dir, file, name);
	if (r < 0) {
		snprintf(w->out->attribute, sizeof(w->out->attribute), "%s", file);
		fmt_why(w->why, w->len, r, "writing %s to bus/dsa/drivers/%.64s/%s: %s%s", name,
		        driver, file, strerror(-r), read_only_hint(r));
		tell_written(w);
		return r;
	}
	snprintf(tag, sizeof(tag), "drivers/%s/%s", driver, file);
	note_written(w, tag);
	return 0;
}

/* Writes a disabled WQ's attributes in the order the kernel's rules need (sysfs.c):
 * mode first, as mode=dedicated zeroes the threshold and a threshold is refused while the
 * mode is dedicated; size before threshold, which may not exceed it; type before the name,
 * as a change of type clears it; driver_name last, what the bind matches. Attributes the
 * kernel reset on disable (mode, priority, block_on_fault, threshold, name, type) are
 * written even when they read as wanted. */
static int
write_wq(struct writer *w, const char *obj, const char *shown, const struct target *t, bool size,
         bool bof)
{
	int r;

	if ((r = put_attr(w, obj, shown, "mode", t->mode)) < 0)
		return r;
	if (size && (r = put_num(w, obj, shown, "size", t->size)) < 0)
		return r;
	if ((r = put_num(w, obj, shown, "group_id", t->group)) < 0 ||
	    (r = put_num(w, obj, shown, "priority", t->priority)) < 0)
		return r;
	/* wq_block_on_fault_store: EOPNOTSUPP on a device without the capability, even for 0,
	 * so it is written only when set now or wanted. */
	if (bof && (r = put_num(w, obj, shown, "block_on_fault", t->bof)) < 0)
		return r;
	if (!strcmp(t->mode, "shared") && t->threshold &&
	    (r = put_num(w, obj, shown, "threshold", t->threshold)) < 0)
		return r;
	if ((r = put_attr(w, obj, shown, "type", t->type)) < 0)
		return r;
	if (t->label[0] && (r = put_attr(w, obj, shown, "name", t->label)) < 0)
		return r;
	if (t->driver && t->driver[0] &&
	    (r = put_attr(w, obj, shown, "driver_name", t->driver)) < 0)
		return r;
	return 0;
}

static void
resolve(const struct idxd_wq_conf *c, const struct idxd_device *dev, const struct idxd_wq *now,
        struct target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->mode, sizeof(t->mode), "%s", c->mode);
	snprintf(t->type, sizeof(t->type), "%s", c->type);
	t->size = c->has_size ? c->size : now->size;
	t->priority = c->has_priority ? c->priority : now->priority;
	t->group = c->has_group ? c->group : now->group_id;
	t->bof = c->has_block_on_fault ? c->block_on_fault : now->block_on_fault;
	/* A dedicated WQ has no threshold: the kernel reads 0 for it. */
	if (!strcmp(c->mode, "shared"))
		t->threshold = c->has_threshold ? c->threshold : now->threshold;
	/* wq_type_store clears the name when the type changes: the old one, given for the
	 * old use, is not carried over. */
	if (c->has_label)
		snprintf(t->label, sizeof(t->label), "%s", c->label);
	else if (!strcmp(c->type, now->type))
		snprintf(t->label, sizeof(t->label), "%s", now->label);
	t->driver = idxd_wq_driver(dev->kind, c->type);
}

/* The target of a WQ as it was read, to restore it after its device was disabled. */
static void
as_read(const struct idxd_wq *wq, struct target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->mode, sizeof(t->mode), "%s", wq->mode);
	snprintf(t->type, sizeof(t->type), "%s", wq->type);
	t->size = wq->size;
	t->priority = wq->priority;
	t->threshold = wq->threshold;
	t->group = wq->group_id;
	t->bof = wq->block_on_fault;
	snprintf(t->label, sizeof(t->label), "%s", wq->label);
	t->driver = wq->driver;
}

static int
by_number(const void *a, const void *b)
{
	const char *x = strchr(a, '.'), *y = strchr(b, '.');

	return atoi(x + 1) - atoi(y + 1);
}

/* The device's sub-devices named prefixN.M ("group0.3"), from its directory, in order of M
 * (as the kernel numbers and configures them). */
static int
list_sub(const char *sys, const struct idxd_device *dev, const char *prefix,
         char (*names)[IDXD_NAME_LEN], size_t max, size_t *n)
{
	char path[PATH_MAX], want[IDXD_NAME_LEN + 8];
	struct dirent *e;
	DIR *d;

	*n = 0;
	snprintf(path, sizeof(path), "%s/bus/dsa/devices/%s/", sys, dev->name);
	snprintf(want, sizeof(want), "%s%u.", prefix, dev->id);
	if (!(d = opendir(path)))
		return -errno;
	while ((e = readdir(d))) {
		const char *m = e->d_name + strlen(want);

		if (strncmp(e->d_name, want, strlen(want)) || !*m ||
		    strspn(m, "0123456789") != strlen(m) || strlen(e->d_name) >= IDXD_NAME_LEN)
			continue;
		if (*n < max && names)
			memcpy(names[*n], e->d_name, strlen(e->d_name) + 1);
		++*n;
	}
	closedir(d);
	if (names)
		qsort(names, *n < max ? *n : max, sizeof(*names), by_number);
	return 0;
}

struct engine {
	char name[IDXD_NAME_LEN];
	int group;
};

/* The engines and their groups, which a device disable clears (idxd_engines_clear_state)
 * and without which the device does not enable again (idxd_engines_setup: EINVAL). */
static int
read_engines(const char *sys, const struct idxd_device *dev, struct engine *eng, size_t *n,
             char *why, size_t len)
{
	char names[MAX_ENGINES][IDXD_NAME_LEN];
	char dir[PATH_MAX], val[16], *end;
	int r = list_sub(sys, dev, "engine", names, MAX_ENGINES, n);

	if (r < 0)
		return fmt_why(why, len, r, "listing the engines of %s: %s", dev->name,
		               strerror(-r));
	if (*n > MAX_ENGINES)
		*n = MAX_ENGINES;
	for (size_t i = 0; i < *n; i++) {
		long g;

		snprintf(eng[i].name, sizeof(eng[i].name), "%s", names[i]);
		snprintf(dir, sizeof(dir), "%s/bus/dsa/devices/%s", sys, names[i]);
		r = idxd_attr_read(dir, "group_id", val, sizeof(val));
		if (r < 0)
			return fmt_why(why, len, r, "%s/%s/group_id: %s", dev->name, names[i],
			               strerror(-r));
		g = strtol(val, &end, 10);
		if (!val[0] || *end || g < -1 || g > IDXD_MAX_GROUP)
			return fmt_why(why, len, -EINVAL, "%s/%s/group_id: '%s' is not a group",
			               dev->name, names[i], val);
		eng[i].group = (int)g;
	}
	return 0;
}

static bool
wq_matches(const struct target *t, const struct idxd_wq *now)
{
	bool shared = !strcmp(t->mode, "shared");

	return !strcmp(now->mode, t->mode) && !strcmp(now->type, t->type) && now->size == t->size &&
	       now->priority == t->priority && now->group_id == t->group &&
	       now->block_on_fault == t->bof && (!shared || now->threshold == t->threshold) &&
	       !strcmp(now->label, t->label) &&
	       (t->driver ? !strcmp(now->driver, t->driver) && !strcmp(now->state, "enabled")
	                  : !strcmp(now->state, "disabled"));
}

/* Whether t fits this device, before anything is written. sib: the device's WQs. */
static int
validate(const char *sys, const struct target *t, const struct idxd_device *dev,
         const struct idxd_device *sib, const char *wname, const char *ref, char *why, size_t len)
{
	char dir[PATH_MAX], val[8];
	unsigned others = 0;
	size_t ngroups;
	int r;

	/* sysfs.c: every WQ store but type's is EPERM on a device whose configuration is
	 * fixed (IDXD_FLAG_CONFIGURABLE clear, as a guest's may be). A kernel without the
	 * attribute is taken as configurable. */
	snprintf(dir, sizeof(dir), "%s/bus/dsa/devices/%s", sys, dev->name);
	if (idxd_attr_read(dir, "configurable", val, sizeof(val)) == 0 && !strcmp(val, "0"))
		return fmt_why(why, len, -EPERM,
		               "%s: %s is not configurable (its configuration is fixed)", ref,
		               dev->name);
	if (t->size > dev->max_wq_size)
		return fmt_why(why, len, -EINVAL,
		               "%s: size %u is above %s's max_work_queues_size %u", ref, t->size,
		               dev->name, dev->max_wq_size);
	for (size_t i = 0; i < sib->nwqs; i++)
		if (strcmp(sib->wqs[i].name, wname))
			others += sib->wqs[i].size;
	/* wq_size_store: EINVAL when the device's WQs would hold more than it has. */
	if ((unsigned long long)t->size + others > dev->max_wq_size)
		return fmt_why(why, len, -EINVAL,
		               "%s: size %u and the %u that %s's other WQs hold exceed its "
		               "max_work_queues_size %u",
		               ref, t->size, others, dev->name, dev->max_wq_size);
	if ((r = list_sub(sys, dev, "group", NULL, 0, &ngroups)) < 0)
		return fmt_why(why, len, r, "listing the groups of %s: %s", dev->name,
		               strerror(-r));
	/* wq_group_id_store: EINVAL beyond max_groups - 1. */
	if (t->group >= (int)ngroups)
		return fmt_why(why, len, -EINVAL, "%s: group %d: %s has %zu group(s)", ref,
		               t->group, dev->name, ngroups);
	if (t->priority > IDXD_MAX_PRIORITY)
		return fmt_why(why, len, -EINVAL, "%s: priority %u is above %d", ref, t->priority,
		               IDXD_MAX_PRIORITY);
	if (!strcmp(t->mode, "shared")) {
		/* idxd_drv_enable_wq refuses a shared WQ with threshold 0; a dedicated WQ
		 * becoming shared has none. */
		if (!t->threshold)
			return fmt_why(why, len, -EINVAL,
			               "%s: a shared WQ needs a threshold, and it has none: give "
			               "Threshold=",
			               ref);
		if (t->threshold > t->size)
			return fmt_why(why, len, -EINVAL, "%s: threshold %u is above the size %u",
			               ref, t->threshold, t->size);
	}
	if (!t->driver)
		return 0;
	/* idxd_drv_enable_wq: a WQ is enabled only in a group, with a name (and a size). */
	if (t->group < 0)
		return fmt_why(why, len, -EINVAL,
		               "%s: an enabled WQ needs a group: give Group=", ref);
	if (!t->label[0])
		return fmt_why(why, len, -EINVAL,
		               "%s: an enabled WQ needs a name: give Label=", ref);
	if (!t->size)
		return fmt_why(why, len, -EINVAL,
		               "%s: an enabled WQ needs a size: give Size=", ref);
	return 0;
}

/* The driver the WQ is bound to, from its `driver` link; its driver_name when it has no
 * link (a fixture's enabled WQ may lack one). */
static int
bound_driver(const char *sys, const struct idxd_wq *wq, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/bus/dsa/devices/%s/driver", sys, wq->name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		if (!wq->driver[0])
			return -ENOLINK;
		snprintf(out, len, "%s", wq->driver);
		return 0;
	}
	target[n] = '\0';
	base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	memcpy(out, base, strlen(base) + 1);
	return 0;
}

/* With its device disabled, puts back what idxd_device_clear_state cleared: the engines'
 * groups and the other WQs' configuration, as read before. Group attributes (read
 * buffers, traffic classes, progress limits) go back to the kernel's defaults. */
static int
restore_device(struct writer *w, const struct idxd_device *sib, const char *wname,
               const struct engine *eng, size_t neng)
{
	char shown[2 * IDXD_REF_LEN];
	struct target t;
	int r;

	for (size_t i = 0; i < neng; i++) {
		if (eng[i].group < 0)
			continue;
		snprintf(shown, sizeof(shown), "%.16s/%.16s", sib->name, eng[i].name);
		if ((r = put_num(w, eng[i].name, shown, "group_id", eng[i].group)) < 0)
			return r;
	}
	for (size_t i = 0; i < sib->nwqs; i++) {
		const struct idxd_wq *o = &sib->wqs[i];

		if (!strcmp(o->name, wname) || (!o->size && o->group_id < 0))
			continue;
		as_read(o, &t);
		snprintf(shown, sizeof(shown), "%.16s/%.16s", sib->name, o->name);
		if ((r = write_wq(w, o->name, shown, &t, o->size > 0, o->block_on_fault)) < 0)
			return r;
	}
	return 0;
}

/* The other enabled WQs of the device, "wq0.0, wq0.2"; how many. */
static size_t
enabled_others(const struct idxd_device *sib, const char *wname, char *list, size_t len)
{
	size_t n = 0, at = 0;

	list[0] = '\0';
	for (size_t i = 0; i < sib->nwqs; i++) {
		if (!strcmp(sib->wqs[i].name, wname) || strcmp(sib->wqs[i].state, "enabled"))
			continue;
		if (at < len)
			at += (size_t)snprintf(list + at, len - at, "%s%s", n ? ", " : "",
			                       sib->wqs[i].name);
		n++;
	}
	return n;
}

/* Reads the device's WQs now, for the size rule and what a device disable clears. */
static int
read_siblings(const char *sys, const char *dname, struct idxd_host *h,
              const struct idxd_device **sib, char *why, size_t len)
{
	int r = idxd_scan(sys, h, why, len);

	if (r < 0)
		return r;
	*sib = NULL;
	for (size_t i = 0; i < h->ndevs; i++)
		if (!strcmp(h->devs[i].name, dname))
			*sib = &h->devs[i];
	if (!*sib)
		return fmt_why(why, len, -ENOENT, "no idxd device %s", dname);
	if ((*sib)->err)
		return fmt_why(why, len, (*sib)->err, "%s", (*sib)->why);
	for (size_t i = 0; i < (*sib)->nwqs; i++)
		if ((*sib)->wqs[i].err)
			return fmt_why(why, len, (*sib)->wqs[i].err, "%s", (*sib)->wqs[i].why);
	return 0;
}

/* The writes, in order: WQ disabled; device disabled and what that cleared restored, when
 * the size must change on an enabled device; attributes; device and WQ enabled. */
static int
apply(struct writer *w, const struct idxd_wq_conf *c, const struct target *t,
      const struct idxd_device *sib, bool cycle, const struct engine *eng, size_t neng)
{
	const struct idxd_device *dev = &w->out->dev;
	const struct idxd_wq *now = &w->out->wq;
	char dname[IDXD_NAME_LEN], wname[IDXD_NAME_LEN], drv[IDXD_DRIVER_LEN];
	bool dev_on = !strcmp(dev->state, "enabled");
	int r;

	snprintf(dname, sizeof(dname), "%s", dev->name);
	snprintf(wname, sizeof(wname), "%s", now->name);
	if (!strcmp(now->state, "enabled")) {
		if (bound_driver(w->sys, now, drv, sizeof(drv)) < 0)
			return fmt_why(w->why, w->len, -EIO,
			               "%s is enabled but bound to no driver; nothing was written",
			               c->name);
		if ((r = put_driver(w, drv, "unbind", wname)) < 0)
			return r;
	}
	if (cycle) {
		if ((r = put_driver(w, "idxd", "unbind", dname)) < 0 ||
		    (r = restore_device(w, sib, wname, eng, neng)) < 0)
			return r;
		w->out->dev_cycled = true;
	}
	if ((r = write_wq(w, wname, c->name, t, cycle || t->size != now->size,
	                  t->bof || now->block_on_fault)) < 0)
		return r;
	if (!t->driver)
		return 0;
	/* idxd_drv_enable_wq needs the device enabled; the idxd driver enables it
	 * (idxd_device_drv_probe), with at least one WQ and one engine in a group. */
	if ((!dev_on || cycle) && (r = put_driver(w, "idxd", "bind", dname)) < 0)
		return r;
	return put_driver(w, t->driver, "bind", wname);
}

int
idxd_wq_apply(const char *sys, const struct idxd_wq_conf *conf, bool in_use, struct idxd_apply *out,
              char *why, size_t len)
{
	struct engine eng[MAX_ENGINES];
	struct writer w = {.sys = sys, .out = out, .why = why, .len = len};
	char dname[IDXD_NAME_LEN], wname[IDXD_NAME_LEN], busy[256];
	const struct idxd_device *sib = NULL;
	struct idxd_host h = {0};
	struct target t;
	size_t neng = 0;
	bool cycle;
	int r;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if ((r = idxd_wq_conf_check(conf, why, len)) < 0)
		return r;
	idxd_ref_split(conf->name, dname, wname);
	if ((r = idxd_wq_read(sys, conf->name, &out->dev, &out->wq, why, len)) < 0 ||
	    (r = read_siblings(sys, dname, &h, &sib, why, len)) < 0)
		goto out;
	resolve(conf, &out->dev, &out->wq, &t);
	if (wq_matches(&t, &out->wq))
		goto out;
	/* Before the values are looked at: whatever they are, a WQ in use stays as it is. */
	if (in_use) {
		r = fmt_why(why, len, -EBUSY,
		            "%s differs from the configuration asked for, but shared PASIDs were "
		            "handed out for it: it is not reconfigured while they exist",
		            conf->name);
		goto out;
	}
	/* Unbinding takes the char device away from whoever opened it (idxd_user_drv_remove
	 * deletes it and disables the WQ whatever client_count says): not done under them. */
	if (out->wq.clients > 0 && !strcmp(out->wq.state, "enabled")) {
		r = fmt_why(why, len, -EBUSY,
		            "%s differs from the configuration asked for, but %d process(es) have "
		            "%s open: it is not disabled under them",
		            conf->name, out->wq.clients,
		            out->wq.cdev[0] ? out->wq.cdev : "its char device");
		goto out;
	}
	if ((r = validate(sys, &t, &out->dev, sib, wname, conf->name, why, len)) < 0)
		goto out;
	/* wq_size_store: EPERM while the device is enabled. */
	cycle = t.size != out->wq.size && !strcmp(out->dev.state, "enabled");
	if (cycle && enabled_others(sib, wname, busy, sizeof(busy))) {
		r = fmt_why(why, len, -EBUSY,
		            "changing the size of %s needs %s disabled, and its WQs %s are "
		            "enabled: pasidd does not disrupt their users",
		            conf->name, dname, busy);
		goto out;
	}
	if (cycle && (r = read_engines(sys, &out->dev, eng, &neng, why, len)) < 0)
		goto out;
	if ((r = apply(&w, conf, &t, sib, cycle, eng, neng)) < 0)
		goto out;
	/* The kernel's bind is synchronous: what reads back is its answer. */
	if ((r = idxd_wq_read(sys, conf->name, &out->dev, &out->wq, why, len)) < 0) {
		size_t n = strlen(why);

		snprintf(why + n, len - n, " (reading %s back after configuring it)", conf->name);
		goto out;
	}
	snprintf(why, len, "%s configured%s: wrote %s", conf->name,
	         out->dev_cycled ? ", its device disabled and enabled again" : "", out->written);
out:
	idxd_host_free(&h);
	out->changed = out->written[0] != '\0';
	return r;
}
