/* Declarative WQ setup (daemon/host/idxd_apply.c) over sysfs fixture trees
 * (tests/idxd_fixture.h), every write watched with inotify so that its order is checked:
 * - a disabled device and WQ brought to the configuration: each attribute holds its value,
 *   written in the kernel's order, then the device and the WQ bound; state never written;
 * - already so: nothing written, also when in use; in use and different: EBUSY, nothing;
 * - an enabled WQ is unbound from the driver its link names and bound again;
 * - a size change on an enabled device: refused while another WQ of it is enabled, else the
 *   device is unbound, its engines' groups and other WQs restored, and bound again;
 * - a write the kernel refuses (EPERM from an immutable attribute, ENOSPC from a bind file
 *   linked to /dev/full, EISDIR) stops everything and names the file, what was written
 *   before it listed; a missing file is an error, never created;
 * - refusals before any write: a device that is not configurable, threshold above size,
 *   priority 16, size above the device's limit or what its other WQs leave, a group it
 *   lacks, a shared WQ without threshold, an enabled one without label or group; no such
 *   device or WQ;
 * - an IAX kernel WQ binds to "crypto", a user one has its char device under /dev/iax. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "ck_main.h"
#include "idxd_fixture.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idxd_conf.h"

static char base[64], sys[96], why[1024], seen[2048];
static struct idxd_apply out;
static int ino = -1;
static struct {
	int wd;
	char tag[32];
} watches[32];
static size_t nwatches;

/* dsa0 with four unconfigured WQs, iax1 with two, both disabled. */
static const struct idxd_fx_wq blank[] = {
    {"wq0.0", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
    {"wq0.1", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
    {"wq0.2", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
    {"wq0.3", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
    {"wq1.0", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
    {"wq1.1", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
};

static void
watch(const char *rel, const char *tag)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", sys, rel);
	ck_assert_uint_lt(nwatches, sizeof(watches) / sizeof(watches[0]));
	watches[nwatches].wd = inotify_add_watch(ino, path, IN_CLOSE_WRITE);
	ck_assert_msg(watches[nwatches].wd >= 0, "watching %s: %s", path, strerror(errno));
	snprintf(watches[nwatches].tag, sizeof(watches[nwatches].tag), "%s", tag);
	nwatches++;
}

/* Watches every directory a write could land in, from here on. */
static void
watch_all(void)
{
	static const char *const objs[] = {
	    "dsa0",      "wq0.0",     "wq0.1",    "wq0.2", "wq0.3", "engine0.0", "engine0.1",
	    "engine0.2", "engine0.3", "group0.0", "iax1",  "wq1.0", "wq1.1",     "engine1.0"};
	static const char *const drivers[] = {"idxd", "user", "dmaengine", "crypto", "dsa"};
	char rel[128], tag[32];

	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(ino, 0);
	nwatches = 0;
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		snprintf(rel, sizeof(rel), "bus/dsa/devices/%s", objs[i]);
		watch(rel, objs[i]);
	}
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		snprintf(rel, sizeof(rel), "bus/dsa/drivers/%s", drivers[i]);
		snprintf(tag, sizeof(tag), "drivers/%s", drivers[i]);
		watch(rel, tag);
	}
}

/* The files closed after a write since the last call, in order, as out.written lists them. */
static const char *
writes(void)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t n = 0;
	ssize_t len;

	seen[0] = '\0';
	while ((len = read(ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			const char *tag = "?";

			for (size_t i = 0; i < nwatches; i++)
				if (watches[i].wd == e->wd)
					tag = watches[i].tag;
			if (e->len)
				n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s%s/%s",
				                      n ? "," : "", tag, e->name);
			p += sizeof(*e) + e->len;
		}
	}
	return seen;
}

/* Files made immutable, which teardown makes removable again. */
static char frozen[4][PATH_MAX];
static size_t nfrozen;

static int
set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), flags, r = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return r;
}

static void
setup(void)
{
	snprintf(base, sizeof(base), "/tmp/idxdconf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(sys, sizeof(sys), "%s/sys", base);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "disabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_groups(sys, "dsa0", 4, 4), 0);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &blank[i]), 0);
	ck_assert_int_eq(idxd_fx_device(sys, "iax1", "0000:6a:02.0", 1, "disabled", 8, 128,
	                                "00000000,00000000,00000000,00000000,00000000,"
	                                "00000000,00000000,000f0001"),
	                 0);
	ck_assert_int_eq(idxd_fx_groups(sys, "iax1", 2, 1), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "iax1", &blank[4]), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "iax1", &blank[5]), 0);
	ck_assert_int_eq(idxd_fx_drivers(sys), 0);
	memset(&out, 0, sizeof(out));
	why[0] = '\0';
	ino = -1;
}

static void
teardown(void)
{
	for (size_t i = 0; i < nfrozen; i++)
		set_immutable(frozen[i], false);
	nfrozen = 0;
	if (ino >= 0)
		close(ino);
	idxd_fx_rmtree(base);
}

/* The value of a file under sys, without its newline. */
static const char *
get(const char *rel)
{
	static char val[2048];
	char path[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", sys, rel);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	n = fread(val, 1, sizeof(val) - 1, f);
	fclose(f);
	val[n] = '\0';
	if (n && val[n - 1] == '\n')
		val[n - 1] = '\0';
	return val;
}

static struct idxd_wq_conf
conf(const char *name, const char *mode, const char *type)
{
	struct idxd_wq_conf c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.mode, sizeof(c.mode), "%s", mode);
	snprintf(c.type, sizeof(c.type), "%s", type);
	return c;
}

/* dsa0/wq0.1 shared user, every key given. */
static struct idxd_wq_conf
vms(void)
{
	struct idxd_wq_conf c = conf("dsa0/wq0.1", "shared", "user");

	c.size = 32, c.has_size = true;
	c.priority = 10, c.has_priority = true;
	c.group = 0, c.has_group = true;
	c.threshold = 16, c.has_threshold = true;
	c.block_on_fault = true, c.has_block_on_fault = true;
	snprintf(c.label, sizeof(c.label), "vms");
	c.has_label = true;
	return c;
}

/* dsa0 enabled with wq0.1 as vms() has it, enabled and bound to user. */
static void
vms_enabled(void)
{
	static const struct idxd_fx_wq wq = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 0, 1};

	ck_assert_int_eq(idxd_fx_set(sys, "dsa0", "state", "enabled"), 0);
	ck_assert_int_eq(idxd_fx_bind(sys, "dsa0", "idxd"), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &wq), 0);
	ck_assert_int_eq(idxd_fx_bind(sys, "wq0.1", "user"), 0);
}

#define VMS_ATTRS                                                                                  \
	"wq0.1/mode,wq0.1/size,wq0.1/group_id,wq0.1/priority,wq0.1/block_on_fault,"                \
	"wq0.1/threshold,wq0.1/type,wq0.1/name,wq0.1/driver_name"

START_TEST(configures_disabled_wq)
{
	struct idxd_wq_conf c = vms();

	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(out.changed);
	ck_assert(!out.dev_cycled);
	/* In the kernel's order, then the device enabled before the WQ. */
	ck_assert_str_eq(writes(), VMS_ATTRS ",drivers/idxd/bind,drivers/user/bind");
	ck_assert_str_eq(out.written, seen);
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/mode"), "shared");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/size"), "32");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/group_id"), "0");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/priority"), "10");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/block_on_fault"), "1");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/threshold"), "16");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/type"), "user");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/name"), "vms");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/driver_name"), "user");
	ck_assert_str_eq(get("bus/dsa/drivers/idxd/bind"), "dsa0");
	ck_assert_str_eq(get("bus/dsa/drivers/user/bind"), "wq0.1");
	/* Read-only files are never written. */
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/state"), "disabled");
	ck_assert_ptr_null(strstr(seen, "state"));
	ck_assert_ptr_null(strstr(seen, "clients"));
	/* Read back: the fixture's state flips only when a test flips it. */
	ck_assert_str_eq(out.wq.name, "wq0.1");
	ck_assert_str_eq(out.wq.mode, "shared");
	ck_assert_uint_eq(out.wq.threshold, 16);
	ck_assert_str_eq(out.wq.label, "vms");
	ck_assert_str_eq(out.dev.name, "dsa0");
	ck_assert_str_eq(out.attribute, "");
	ck_assert_ptr_nonnull(strstr(why, "dsa0/wq0.1 configured: wrote wq0.1/mode,"));

	/* Once the kernel has enabled it, the same configuration changes nothing. */
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "state", "enabled"), 0);
	writes();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(!out.changed);
	ck_assert_str_eq(writes(), "");
}
END_TEST

START_TEST(already_configured_writes_nothing)
{
	struct idxd_wq_conf c = vms();

	vms_enabled();
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(!out.changed);
	ck_assert_str_eq(out.written, "");
	ck_assert_str_eq(out.wq.state, "enabled");
	/* In use and as configured: nothing to refuse. */
	ck_assert_int_eq(idxd_wq_apply(sys, &c, true, &out, why, sizeof(why)), 0);
	ck_assert(!out.changed);
	/* Keys not given keep what the WQ has. */
	c = conf("dsa0/wq0.1", "shared", "user");
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(!out.changed);
	ck_assert_str_eq(writes(), "");
}
END_TEST

START_TEST(in_use_and_different_is_busy)
{
	struct idxd_wq_conf c = vms();

	vms_enabled();
	c.priority = 11;
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, true, &out, why, sizeof(why)), -EBUSY);
	ck_assert_str_eq(why, "dsa0/wq0.1 differs from the configuration asked for, but shared "
	                      "PASIDs were handed out for it: it is not reconfigured while they "
	                      "exist");
	ck_assert(!out.changed);
	ck_assert_str_eq(writes(), "");
}
END_TEST

/* Processes that opened the WQ's char device would lose it: refused, nothing written. */
START_TEST(open_clients_are_busy)
{
	struct idxd_wq_conf c = vms();

	vms_enabled();
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "clients", "2"), 0);
	c.priority = 11;
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), -EBUSY);
	ck_assert_str_eq(why,
	                 "dsa0/wq0.1 differs from the configuration asked for, but 2 "
	                 "process(es) have /dev/dsa/wq0.1 open: it is not disabled under them");
	ck_assert(!out.changed);
	ck_assert_str_eq(writes(), "");
	/* As it is, it is left as it is, clients or not. */
	c.priority = 10;
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert_str_eq(writes(), "");
}
END_TEST

/* An enabled WQ is disabled through the driver its link names, and enabled again; its
 * device stays enabled when the size does not change. */
START_TEST(enabled_wq_rebound)
{
	struct idxd_wq_conf c = vms();

	vms_enabled();
	c.priority = 12;
	c.has_size = false;
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(out.changed);
	ck_assert(!out.dev_cycled);
	/* Size as it is: not written (the kernel refuses it while the device is enabled). */
	ck_assert_str_eq(writes(), "drivers/user/unbind,wq0.1/mode,wq0.1/group_id,wq0.1/priority,"
	                           "wq0.1/block_on_fault,wq0.1/threshold,wq0.1/type,wq0.1/name,"
	                           "wq0.1/driver_name,drivers/user/bind");
	ck_assert_str_eq(out.written, seen);
	ck_assert_str_eq(get("bus/dsa/drivers/user/unbind"), "wq0.1");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/priority"), "12");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/state"), "enabled");
}
END_TEST

START_TEST(size_change_with_other_wq_enabled_is_busy)
{
	static const struct idxd_fx_wq other = {
	    "wq0.0", "dedicated", "user", "app", "enabled", "user", 16, 15, 0, 0, 1, 1, 0};
	static const struct idxd_fx_wq other2 = {
	    "wq0.3", "dedicated", "kernel", "dma", "enabled", "dmaengine", 8, 1, 0, 0, 1, 0, -1};
	struct idxd_wq_conf c = vms();

	vms_enabled();
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &other), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &other2), 0);
	c.size = 64;
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), -EBUSY);
	ck_assert_str_eq(why, "changing the size of dsa0/wq0.1 needs dsa0 disabled, and its WQs "
	                      "wq0.0, wq0.3 are enabled: pasidd does not disrupt their users");
	ck_assert(!out.changed);
	ck_assert_str_eq(writes(), "");
}
END_TEST

/* The device disable clears every WQ's, group's and engine's configuration
 * (idxd_device_clear_state): what was there is written back before the device is enabled. */
START_TEST(size_change_cycles_the_device)
{
	static const struct idxd_fx_wq other = {
	    "wq0.2", "shared", "user", "spare", "disabled", "user", 16, 3, 8, 0, 1, 0, -1};
	struct idxd_wq_conf c = vms();

	vms_enabled();
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &other), 0);
	ck_assert_int_eq(idxd_fx_set(sys, "engine0.3", "group_id", "1"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, "engine0.2", "group_id", "-1"), 0);
	c.size = 64;
	c.threshold = 48;
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(out.changed);
	ck_assert(out.dev_cycled);
	ck_assert_str_eq(writes(),
	                 "drivers/user/unbind,drivers/idxd/unbind,"
	                 "engine0.0/group_id,engine0.1/group_id,engine0.3/group_id,"
	                 "wq0.2/mode,wq0.2/size,wq0.2/group_id,wq0.2/priority,wq0.2/threshold,"
	                 "wq0.2/type,wq0.2/name,wq0.2/driver_name," VMS_ATTRS
	                 ",drivers/idxd/bind,drivers/user/bind");
	ck_assert_str_eq(out.written, seen);
	ck_assert_str_eq(get("bus/dsa/drivers/idxd/unbind"), "dsa0");
	ck_assert_str_eq(get("bus/dsa/devices/engine0.3/group_id"), "1");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.2/size"), "16");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.2/name"), "spare");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/size"), "64");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/threshold"), "48");
	ck_assert_ptr_nonnull(strstr(why, "its device disabled and enabled again"));
}
END_TEST

/* Makes an attribute refuse writes while it still reads, as the kernel does for a WQ that
 * is enabled: an immutable file, whose open for writing fails with EPERM even for root. */
static void
refusing(const char *obj, const char *attr)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bus/dsa/devices/%s/%s", sys, obj, attr);
	ck_assert_msg(set_immutable(path, true) == 0, "%s: %s", path, strerror(errno));
	snprintf(frozen[nfrozen++], sizeof(frozen[0]), "%s", path);
}

/* A driver file that refuses every write: a link to /dev/full (ENOSPC), or a directory
 * (EISDIR). pasidd never reads these, so they need not read back. */
static void
refusing_driver(const char *driver, const char *file, bool dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bus/dsa/drivers/%s/%s", sys, driver, file);
	ck_assert_int_eq(unlink(path), 0);
	if (dir)
		ck_assert_int_eq(mkdir(path, 0755), 0);
	else
		ck_assert_int_eq(symlink("/dev/full", path), 0);
}

/* Whether this host can make a file immutable where the fixtures are made. */
static const char *
lacking_immutable(void)
{
	char path[] = "/tmp/idxdconf-imm-XXXXXX";
	int fd = mkstemp(path), r;

	if (fd < 0)
		return "cannot make a file in /tmp";
	close(fd);
	r = set_immutable(path, true);
	set_immutable(path, false);
	unlink(path);
	return r == 0 ? NULL : "needs root and a /tmp that takes the immutable flag";
}

START_TEST(refused_write_stops_everything)
{
	struct idxd_wq_conf c = vms();

	refusing("wq0.1", "threshold");
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), -EPERM);
	ck_assert_str_eq(out.attribute, "threshold");
	ck_assert_str_eq(why, "writing threshold=16 to dsa0/wq0.1: Operation not permitted; "
	                      "written before it and still in effect: wq0.1/mode,wq0.1/size,"
	                      "wq0.1/group_id,wq0.1/priority,wq0.1/block_on_fault");
	ck_assert(out.changed);
	ck_assert_str_eq(writes(), "wq0.1/mode,wq0.1/size,wq0.1/group_id,wq0.1/priority,"
	                           "wq0.1/block_on_fault");
	ck_assert_str_eq(out.written, seen);
	/* Nothing after it: the type, name, driver and binds stay as they were. */
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/type"), "none");
	ck_assert_str_eq(get("bus/dsa/devices/wq0.1/name"), "");
	ck_assert_str_eq(get("bus/dsa/drivers/user/bind"), "");
}
END_TEST

START_TEST(refused_first_write)
{
	struct idxd_wq_conf c = vms();

	vms_enabled();
	c.priority = 3;
	refusing_driver("user", "unbind", true);
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), -EISDIR);
	ck_assert_str_eq(out.attribute, "unbind");
	ck_assert_str_eq(why, "writing wq0.1 to bus/dsa/drivers/user/unbind: Is a directory; "
	                      "nothing was written before it");
	ck_assert(!out.changed);
	ck_assert_str_eq(writes(), "");
}
END_TEST

/* A bind the kernel refuses (the idxd driver's probe failing) is reported as such. */
START_TEST(refused_bind)
{
	struct idxd_wq_conf c = vms();

	refusing_driver("idxd", "bind", false);
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), -ENOSPC);
	ck_assert_str_eq(out.attribute, "bind");
	ck_assert_str_eq(why, "writing dsa0 to bus/dsa/drivers/idxd/bind: No space left on device; "
	                      "written before it and still in effect: " VMS_ATTRS);
	ck_assert_str_eq(writes(), VMS_ATTRS);
	ck_assert_str_eq(out.written, seen);
}
END_TEST

/* No O_CREAT: a file the kernel does not have is an error and is not made. */
START_TEST(missing_file_not_created)
{
	struct idxd_wq_conf c = vms();
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/bus/dsa/drivers/user/bind", sys);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), -ENOENT);
	ck_assert_str_eq(out.attribute, "bind");
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

static void
refused(struct idxd_wq_conf *c, int err, const char *needle)
{
	memset(&out, 0xa5, sizeof(out));
	ck_assert_int_eq(idxd_wq_apply(sys, c, false, &out, why, sizeof(why)), err);
	ck_assert_msg(strstr(why, needle), "'%s' lacks '%s'", why, needle);
	ck_assert(!out.changed);
	ck_assert_str_eq(out.written, "");
	ck_assert_str_eq(writes(), "");
}

START_TEST(validation_refuses_before_writing)
{
	static const struct idxd_fx_wq big = {
	    "wq0.0", "dedicated", "user", "app", "disabled", "user", 80, 1, 0, 0, 0, 0, -1};
	struct idxd_wq_conf c;

	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &big), 0);
	watch_all();
	c = vms(), c.threshold = 40;
	refused(&c, -EINVAL, "Threshold=40 is above Size=32");
	c = vms(), c.priority = 16;
	refused(&c, -EINVAL, "Priority= must be 1-15, not 16");
	c = vms(), c.size = 200, c.threshold = 8;
	refused(&c, -EINVAL, "dsa0/wq0.1: size 200 is above dsa0's max_work_queues_size 128");
	c = vms(), c.size = 64;
	refused(&c, -EINVAL,
	        "size 64 and the 80 that dsa0's other WQs hold exceed its max_work_queues_size");
	c = vms(), c.group = 4;
	refused(&c, -EINVAL, "dsa0/wq0.1: group 4: dsa0 has 4 group(s)");
	c = vms(), c.has_threshold = false;
	refused(&c, -EINVAL, "a shared WQ needs a threshold");
	c = vms(), c.has_label = false;
	refused(&c, -EINVAL, "an enabled WQ needs a name: give Label=");
	/* A change of type clears the name (wq_type_store): the old one is not kept. */
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "type", "kernel"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "name", "dma"), 0);
	writes();
	c = vms(), c.has_label = false;
	refused(&c, -EINVAL, "an enabled WQ needs a name: give Label=");
	c = vms(), c.has_group = false;
	refused(&c, -EINVAL, "an enabled WQ needs a group");
	c = vms(), snprintf(c.mode, sizeof(c.mode), "dedicated");
	refused(&c, -EINVAL, "Threshold= is for a shared WQ");
	c = vms();
	ck_assert_int_eq(idxd_fx_set(sys, "dsa0", "configurable", "0"), 0);
	writes();
	refused(&c, -EPERM, "dsa0/wq0.1: dsa0 is not configurable");
	ck_assert_int_eq(idxd_fx_set(sys, "dsa0", "configurable", "1"), 0);
	writes();
	c = vms(), snprintf(c.name, sizeof(c.name), "dsa0/wq1.0");
	refused(&c, -EINVAL, "Name=dsa0/wq1.0 is not a work queue");
	c = vms(), snprintf(c.name, sizeof(c.name), "dsa0/wq0.9");
	refused(&c, -ENOENT, "no work queue dsa0/wq0.9");
	c = vms(), snprintf(c.name, sizeof(c.name), "dsa5/wq5.0");
	refused(&c, -ENOENT, "no idxd device dsa5");
}
END_TEST

/* Type none is configured and left disabled: no driver, no bind. */
START_TEST(type_none_left_disabled)
{
	struct idxd_wq_conf c = conf("dsa0/wq0.3", "dedicated", "none");

	c.size = 8, c.has_size = true;
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert_str_eq(writes(), "wq0.3/mode,wq0.3/size,wq0.3/group_id,wq0.3/priority,"
	                           "wq0.3/type");
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(!out.changed);
}
END_TEST

START_TEST(iax_wqs)
{
	static const struct idxd_fx_wq user = {
	    "wq1.1", "shared", "user", "comp", "disabled", "user", 32, 1, 32, 0, 1, 0, 3};
	struct idxd_wq_conf c = conf("iax1/wq1.0", "dedicated", "kernel");

	c.size = 64, c.has_size = true;
	c.group = 1, c.has_group = true;
	snprintf(c.label, sizeof(c.label), "iaa_crypto");
	c.has_label = true;
	watch_all();
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert_str_eq(writes(), "wq1.0/mode,wq1.0/size,wq1.0/group_id,wq1.0/priority,"
	                           "wq1.0/type,wq1.0/name,wq1.0/driver_name,"
	                           "drivers/idxd/bind,drivers/crypto/bind");
	ck_assert_str_eq(get("bus/dsa/devices/wq1.0/driver_name"), "crypto");
	ck_assert_str_eq(get("bus/dsa/drivers/idxd/bind"), "iax1");
	ck_assert_str_eq(get("bus/dsa/drivers/crypto/bind"), "wq1.0");
	ck_assert_str_eq(out.dev.kind, "iax");

	/* A user WQ of an IAX has its char device under /dev/iax. */
	ck_assert_int_eq(idxd_fx_wq(sys, "iax1", &user), 0);
	c = conf("iax1/wq1.1", "shared", "user");
	c.priority = 2, c.has_priority = true;
	ck_assert_int_eq(idxd_wq_apply(sys, &c, false, &out, why, sizeof(why)), 0);
	ck_assert(out.changed);
	ck_assert_str_eq(get("bus/dsa/drivers/user/bind"), "wq1.1");
	ck_assert_str_eq(out.wq.cdev, "/dev/iax/wq1.1");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("idxd_conf");
	TCase *tc = ck_case(s, "refusals", setup, teardown, 0);
	TCase *rt = ck_case(s, "writes", setup, teardown, 0);
	TCase *it = ck_case(s, "refused", setup, teardown, 0);

	tcase_add_test(tc, already_configured_writes_nothing);
	tcase_add_test(tc, in_use_and_different_is_busy);
	tcase_add_test(tc, open_clients_are_busy);
	tcase_add_test(tc, size_change_with_other_wq_enabled_is_busy);
	tcase_add_test(tc, refused_first_write);
	tcase_add_test(tc, missing_file_not_created);
	tcase_add_test(tc, validation_refuses_before_writing);
	tcase_add_test(tc, type_none_left_disabled);
	/* These read back the bind and unbind files, write-only (0200) as the kernel's: only
	 * root can. */
	tcase_set_tags(rt, "root");
	tcase_add_test(rt, configures_disabled_wq);
	tcase_add_test(rt, enabled_wq_rebound);
	tcase_add_test(rt, size_change_cycles_the_device);
	tcase_add_test(rt, refused_bind);
	tcase_add_test(rt, iax_wqs);
	/* An attribute that refuses writes but still reads needs the immutable flag. */
	tcase_set_tags(it, "immutable");
	tcase_add_test(it, refused_write_stops_everything);
	return ck_main(s, (const struct ck_need[]){{"root", ck_lacking_root},
	                                           {"immutable", lacking_immutable},
	                                           {NULL, NULL}});
}
