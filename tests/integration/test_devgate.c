/* Issue 12: the device gate on the real pasidd and the real kernel. pasidd is pointed at
 * stand-ins ([Bpf] ProcDevices= declares free char majors as "vfio-dev", "vfio" and "dsa";
 * [Idxd] SysfsRoot= a tree in which PCI devices have VFIO cdevs and groups of those majors, the
 * host an iommufd misc minor, and dsa0 a work queue, tests/idxd_fixture.h), and a VM owner
 * lives in a cgroup of its own under the cgroup2 mount. Processes of that cgroup then try to
 * open nodes of those numbers, made in a tmpfs of a private mount namespace: what the gate
 * allows fails with ENXIO (no driver behind the stand-in major) or opens, what it refuses fails
 * with EPERM, and nothing is refused once the VM is gone. daemon.status.bpf.device_gate says
 * each time what is gated and why not. Needs root; the cases on real cgroups are tagged
 * cgroup2. */
#include <check.h>

#include "ck_main.h"
#include "idxd_fixture.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "itcgroup.h"

#define DEV1      "0000:01:00.0"
#define DEV2      "0000:02:00.0"
#define DEV3      "0000:03:00.0" /* no VFIO cdev until a test binds it */
#define DSA_MAJOR 239            /* the idxd fixture's */
#define MISC      10
#define IOMMU_MIN 242

static struct itcg cgs;                  /* the suite's subtree */
static unsigned cdev_major, group_major; /* free char majors standing in for VFIO's */
static struct it_daemon d;
static int fd = -1;
static char nodes[160], conf[256];
static char home[512]; /* the cgroup this process left for a test, "" when it did not */

/* ---- cgroups (itcgroup.h) ---- */

static const char *
cg(const char *rel)
{
	return itcg_path(&cgs, rel);
}

static void
mkcg(const char *cgroup)
{
	itcg_mk(&cgs, cgroup);
}

static void
move_to(pid_t pid, const char *cgroup)
{
	itcg_move(&cgs, pid, cgroup);
}

/* This process's cgroup v2 path: 0, or -1. */
static int
self_cgroup(char *out, size_t len)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int r = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%.500s", line + 3);
			r = 0;
		}
	if (f)
		fclose(f);
	return r;
}

/* A VMM stand-in living in `cgroup` until the test ends. */
static pid_t
owner_in(const char *cgroup)
{
	return itcg_owner_in(&cgs, cgroup);
}

/* The errno of open(node) by a new process of `cgroup`, 0 when it opened. */
static int
probe(const char *cgroup, const char *node)
{
	char path[256], go;
	int p[2], status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", nodes, node);
	mkcg(cgroup);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int f;

		close(p[1]);
		if (read(p[0], &go, 1) != 1)
			_exit(255);
		f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		_exit(f >= 0 ? 0 : errno);
	}
	close(p[0]);
	move_to(pid, cgroup);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 255);
	return WEXITSTATUS(status);
}

/* The gate lets processes of cgroup open node (it has no driver: ENXIO, or it opens). */
#define ALLOWED(cgroup, node)                                                                      \
	do {                                                                                       \
		int e_ = probe(cgroup, node);                                                      \
		ck_assert_msg(e_ == 0 || e_ == ENXIO || e_ == ENODEV,                              \
		              "%s in %s: %s, expected to pass the gate", node, cgroup,             \
		              strerror(e_));                                                       \
	} while (0)
#define REFUSED(cgroup, node)                                                                      \
	do {                                                                                       \
		int e_ = probe(cgroup, node);                                                      \
		ck_assert_msg(e_ == EPERM, "%s in %s: %s, expected EPERM", node, cgroup,           \
		              e_ ? strerror(e_) : "opened");                                       \
	} while (0)

/* Whether the cgroup has a device program of pasidd's, as bpftool sees it; -1 when there
 * is no bpftool to ask. */
static int
has_program(const char *cgroup)
{
	char cmd[2300], line[512];
	const char *tool = access("/usr/sbin/bpftool", X_OK) == 0 ? "/usr/sbin/bpftool"
	                   : access("/sbin/bpftool", X_OK) == 0   ? "/sbin/bpftool"
	                                                          : NULL;
	int found = 0;
	FILE *f;

	if (!tool)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s cgroup show %s%s 2>&1", tool, cgs.mnt, cgroup);
	f = popen(cmd, "re");
	ck_assert(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "device_gate"))
			found = 1;
	pclose(f);
	return found;
}

/* ---- the fixture ---- */

static void
file(const char *dir, const char *name, const char *fmt, unsigned a, unsigned b)
{
	char text[64];

	ck_assert_int_eq(idxd_fx_mkdirs(dir), 0);
	snprintf(text, sizeof(text), fmt, a, b);
	ck_assert_int_eq(idxd_fx_file(dir, name, 0444, text), 0);
}

/* bdf with VFIO cdev vfio<minor> and group <group> (node minor gminor). */
static void
vfio_device(const char *sys, const char *bdf, unsigned minor, unsigned group, unsigned gminor)
{
	char dir[512], link[512], target[128];

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s/vfio-dev/vfio%u", sys, bdf, minor);
	file(dir, "dev", "%u:%u\n", cdev_major, minor);
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s/iommu_group", sys, bdf);
	snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%u", group);
	ck_assert_int_eq(symlink(target, link), 0);
	snprintf(dir, sizeof(dir), "%s/class/vfio/%u", sys, group);
	file(dir, "dev", "%u:%u\n", group_major, gminor);
}

static void
node(const char *name, unsigned major, unsigned minor)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", nodes, name);
	ck_assert_msg(mknod(path, S_IFCHR | 0666, makedev(major, minor)) == 0, "mknod %s: %s", path,
	              strerror(errno));
}

/* The stand-in /proc/devices, with or without VFIO's regions (vfio-pci not loaded yet). */
static void
proc_devices(bool vfio)
{
	char text[512], path[256], tmp[256];

	snprintf(text, sizeof(text), "Character devices:\n  1 mem\n");
	if (vfio)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "%3u vfio\n%3u vfio-dev\n", group_major, cdev_major);
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	         " 10 misc\n239 dsa\n\nBlock devices:\n  7 loop\n");
	/* Whole or not at all, as the kernel's file reads. */
	ck_assert_int_eq(it_write_file(&d, "devices.new", text, tmp, sizeof(tmp)), 0);
	snprintf(path, sizeof(path), "%s/devices", d.dir);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static void
setup(void)
{
	static const struct idxd_fx_wq wq = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 0, 1};
	char sys[160], dir[512];

	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(sys, sizeof(sys), "%s/sys", d.dir);
	vfio_device(sys, DEV1, 5, 7, 0);
	vfio_device(sys, DEV2, 6, 8, 1);
	snprintf(dir, sizeof(dir), "%s/class/misc/iommu", sys);
	file(dir, "dev", "%u:%u\n", MISC, IOMMU_MIN);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &wq), 0);
	proc_devices(true);
	/* A filesystem that takes device nodes (the test's /tmp may be mounted nodev). */
	snprintf(nodes, sizeof(nodes), "%s/nodes", d.dir);
	ck_assert_int_eq(mkdir(nodes, 0755), 0);
	ck_assert_msg(mount("devgate", nodes, "tmpfs", MS_NOSUID, "mode=0755") == 0,
	              "mount tmpfs on %s: %s", nodes, strerror(errno));
	node("cdev5", cdev_major, 5);
	node("cdev6", cdev_major, 6);
	node("cdev9", cdev_major, 9);
	node("cdev10", cdev_major, 10);
	node("cdev11", cdev_major, 11);
	node("group7", group_major, 0);
	node("group8", group_major, 1);
	node("iommu", MISC, IOMMU_MIN);
	node("wq0.1", DSA_MAJOR, 1);
	node("null", 1, 3);
}

static void
teardown(void)
{
	if (home[0])
		move_to(getpid(), home);
	home[0] = '\0';
	itcg_owners_kill(&cgs);
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (nodes[0])
		umount2(nodes, MNT_DETACH);
	nodes[0] = '\0';
	it_release_kept();
	it_cleanup(&d);
}

/* Starts pasidd on the stand-ins with more [Bpf] keys. */
static void
start(const char *bpf)
{
	char text[1024];

	snprintf(text, sizeof(text),
	         "[Daemon]\nSocketMode=0666\n[Idxd]\nSysfsRoot=%s/sys\n[Bpf]\nProcDevices=%s/"
	         "devices\n%s",
	         d.dir, d.dir, bpf);
	ck_assert_int_eq(it_write_file(&d, "pasidd.conf", text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

/* daemon.status.bpf.device_gate must be in state, with why holding each of the strings
 * (NULL-terminated). */
static void
gate_status(const char *state, ...)
{
	struct json_object *r = IT_OK(it_call(fd, "daemon.status", NULL));
	const char *st = it_str(r, "bpf.device_gate.state"),
	           *why = it_str(r, "bpf.device_gate.why");
	va_list ap;

	ck_assert_msg(st && !strcmp(st, state), "device_gate %s (%s), expected %s", st, why, state);
	va_start(ap, state);
	for (const char *s; (s = va_arg(ap, const char *));)
		ck_assert_msg(why && strstr(why, s), "device_gate why '%s' lacks '%s'", why, s);
	va_end(ap);
}

/* Whether this pasidd was built without BPF programs: then the status says so, and that is
 * all there is to test. */
static bool
without_bpf(void)
{
	struct json_object *r = IT_OK(it_call(fd, "daemon.status", NULL));
	const char *why = it_str(r, "bpf.device_gate.why");

	if (!why || !strstr(why, "built without"))
		return false;
	gate_status("unavailable", "built without", NULL);
	return true;
}

static void
reg(const char *vm, pid_t pid)
{
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"%s\",\"pid\":%d}", vm, (int)pid));
}

/* ---- tests ---- */

/* The whole life of a gated VM: nothing of its own before a device, its device (cdev, group
 * node, /dev/iommu) once assigned and not the other's, DeviceAllow=, the WQ of its
 * mappings, back to nothing on release, no program once it is gone. */
START_TEST(gated_vm)
{
	const char *a = cg("a");
	char allow[512];

	/* By number, by path, and a path that is not there (logged, left out). */
	snprintf(allow, sizeof(allow),
	         "DeviceAllow=%u:9\nDeviceAllow=%s/cdev10\nDeviceAllow=/nonexistent/vfio\n",
	         cdev_major, nodes);
	start(allow);
	if (without_bpf())
		return;
	gate_status("active", "0 VM cgroup(s) gated", NULL);
	reg("vm1", owner_in(a));
	gate_status("active", "1 VM cgroup(s) gated", NULL);
	ck_assert_int_ne(has_program(a), 0);
	ALLOWED(a, "null");
	ALLOWED(a, "cdev9");
	ALLOWED(a, "cdev10");
	ck_assert_ptr_nonnull(strstr(it_log(&d), "DeviceAllow=/nonexistent/vfio: No such file"));
	REFUSED(a, "cdev5");
	REFUSED(a, "group7");
	REFUSED(a, "iommu");
	REFUSED(a, "wq0.1");

	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV1 "\"}"),
	                 0);
	ALLOWED(a, "cdev5");
	ALLOWED(a, "group7");
	ALLOWED(a, "iommu");
	REFUSED(a, "cdev6");
	REFUSED(a, "group8");
	/* Outside the VM's cgroup nothing is gated. */
	ALLOWED(cg("b"), "cdev6");

	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"vm1\",\"type\":\"shared\",\"wq\":\"dsa0/wq0.1\",\"count\":2}"));
	ALLOWED(a, "wq0.1");
	ck_assert_int_eq(it_code(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":1}"), 0);
	ALLOWED(a, "wq0.1");
	ck_assert_int_eq(it_code(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":2}"), 0);
	REFUSED(a, "wq0.1");

	ck_assert_int_eq(it_code(fd, "device.release", "{\"vm\":\"vm1\",\"device\":\"" DEV1 "\"}"),
	                 0);
	REFUSED(a, "cdev5");
	REFUSED(a, "group7");
	REFUSED(a, "iommu");
	ALLOWED(a, "cdev9");

	ck_assert_int_eq(it_code(fd, "vm.unregister", "{\"vm\":\"vm1\"}"), 0);
	gate_status("active", "0 VM cgroup(s) gated", NULL);
	ALLOWED(a, "cdev5");
	ALLOWED(a, "iommu");
	ck_assert_int_le(has_program(a), 0);
}
END_TEST

/* VMs in cgroups of their own each open their own device and not the other's. */
START_TEST(two_vms)
{
	const char *a = cg("two/a"), *b = cg("two/b"), *c = cg("two/c");

	start("");
	if (without_bpf())
		return;
	reg("vm2", owner_in(a));
	reg("vm1", owner_in(b));
	reg("vm3", owner_in(c));
	gate_status("active", "3 VM cgroup(s) gated", NULL);
	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"vm2\",\"device\":\"" DEV1 "\"}"),
	                 0);
	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV2 "\"}"),
	                 0);
	ALLOWED(a, "cdev5");
	REFUSED(a, "cdev6");
	ALLOWED(b, "cdev6");
	REFUSED(b, "cdev5");
	REFUSED(c, "cdev5");
	REFUSED(c, "cdev6");
	ck_assert_int_eq(it_code(fd, "vm.unregister", "{\"vm\":\"vm1\"}"), 0);
	gate_status("active", "2 VM cgroup(s) gated", NULL);
	ALLOWED(a, "cdev5");
	ALLOWED(b, "cdev5");
	REFUSED(c, "cdev5");
}
END_TEST

/* VFIO loaded after pasidd started (vfio-pci is often loaded at the first bind): its
 * regions are gated from the next change of a VM on. */
START_TEST(late_driver)
{
	const char *a = cg("late");

	proc_devices(false);
	start("");
	if (without_bpf())
		return;
	reg("vm1", owner_in(a));
	ALLOWED(a, "cdev5");
	REFUSED(a, "iommu");
	proc_devices(true);
	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV2 "\"}"),
	                 0);
	REFUSED(a, "cdev5");
	REFUSED(a, "group7");
	ALLOWED(a, "cdev6");
	ALLOWED(a, "group8");
	ck_assert_ptr_nonnull(strstr(it_log(&d), "now 3 char major(s) and 1 device(s) managed"));
}
END_TEST

/* A restarted pasidd gates the VMs it replays, with their devices; a stopped one leaves
 * nothing attached. */
START_TEST(replayed_vm)
{
	const char *a = cg("r");

	start("");
	if (without_bpf())
		return;
	reg("vm1", owner_in(a));
	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV2 "\"}"),
	                 0);
	ALLOWED(a, "cdev6");
	REFUSED(a, "cdev5");
	close(fd);
	fd = -1;
	ck_assert_int_eq(it_stop(&d), 0);
	ALLOWED(a, "cdev5");
	ck_assert_int_le(has_program(a), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	gate_status("active", "1 VM cgroup(s) gated", NULL);
	ALLOWED(a, "cdev6");
	ALLOWED(a, "group8");
	REFUSED(a, "cdev5");
}
END_TEST

/* Two VMs in one cgroup: neither is gated while both are there; the one left is. */
START_TEST(shared_cgroup)
{
	const char *s = cg("shared");

	start("");
	if (without_bpf())
		return;
	reg("vm1", owner_in(s));
	reg("vm2", owner_in(s));
	gate_status("active", "0 VM cgroup(s) gated", "2 VM(s) not", "holds 2 VMs", NULL);
	ALLOWED(s, "cdev5");
	ck_assert_int_le(has_program(s), 0);
	ck_assert_int_eq(it_code(fd, "vm.unregister", "{\"vm\":\"vm2\"}"), 0);
	gate_status("active", "1 VM cgroup(s) gated", NULL);
	REFUSED(s, "cdev5");
}
END_TEST

/* pasidd's own cgroup and the one above it are not gated: pasidd opens devices too. */
START_TEST(own_cgroup)
{
	const char *mine = cg("pd/daemon"), *above = cg("pd");

	mkcg(mine);
	/* pasidd is started by this process, and lives where it does; the process goes back
	 * (teardown) so that removing the subtree never ends it. */
	ck_assert_int_eq(self_cgroup(home, sizeof(home)), 0);
	move_to(getpid(), mine);
	start("");
	move_to(getpid(), home);
	home[0] = '\0';
	if (without_bpf())
		return;
	reg("vm1", owner_in(mine));
	gate_status("active", "0 VM cgroup(s) gated", "pasidd's own", NULL);
	ck_assert_int_eq(it_code(fd, "vm.unregister", "{\"vm\":\"vm1\"}"), 0);
	reg("vm2", owner_in(above));
	gate_status("active", "0 VM cgroup(s) gated", "or above it", NULL);
	ALLOWED(above, "cdev5");
}
END_TEST

/* Waits (up to 20 s: the gate catches up every 5 s) until node passes the gate for processes
 * of cgroup (allowed) or is refused them; fails the test if it never does. */
static void
wait_gate(const char *cgroup, const char *node, bool allowed)
{
	int e = -1;

	for (int i = 0; i < 200; i++) {
		e = probe(cgroup, node);
		if (allowed ? e != EPERM : e == EPERM)
			return;
		usleep(100000);
	}
	ck_abort_msg("%s in %s: still %s after 20 s", node, cgroup,
	             e == EPERM ? "refused" : "allowed");
}

/* A device bound to vfio-pci after it was assigned (its VFIO cdev appears later, or another
 * minor after a rebind): the gate catches up without a request. */
START_TEST(late_bind)
{
	const char *a = cg("bind");
	char sys[160];

	start("");
	if (without_bpf())
		return;
	reg("vm1", owner_in(a));
	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV3 "\"}"),
	                 0);
	REFUSED(a, "cdev11");
	ALLOWED(a, "iommu");
	snprintf(sys, sizeof(sys), "%s/sys", d.dir);
	vfio_device(sys, DEV3, 11, 9, 2);
	wait_gate(a, "cdev11", true);
	REFUSED(a, "cdev5");
}
END_TEST

/* The owner moved to another cgroup after it registered (or a VM handed over): the program
 * follows the owner, and the cgroup it left is no longer gated. */
START_TEST(owner_moves)
{
	const char *a = cg("from"), *b = cg("to");
	pid_t owner;

	start("");
	if (without_bpf())
		return;
	owner = owner_in(a);
	reg("vm1", owner);
	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV1 "\"}"),
	                 0);
	REFUSED(a, "cdev6");
	mkcg(b);
	move_to(owner, b);
	wait_gate(b, "cdev6", false);
	ALLOWED(b, "cdev5");
	ALLOWED(a, "cdev6");
	ck_assert_int_le(has_program(a), 0);
	ck_assert_ptr_nonnull(strstr(it_log(&d), "the gate follows it"));
	gate_status("active", "1 VM cgroup(s) gated", NULL);
}
END_TEST

START_TEST(switched_off)
{
	start("DeviceGate=no\n");
	if (without_bpf())
		return;
	gate_status("unavailable", "DeviceGate=no", NULL);
}
END_TEST

/* Registered from the root cgroup, as this suite's own process is on most hosts. */
START_TEST(root_cgroup)
{
	char cgself[512];

	ck_assert_int_eq(self_cgroup(cgself, sizeof(cgself)), 0);
	start("");
	if (without_bpf())
		return;
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"me\"}"), 0);
	if (!strcmp(cgself, "/"))
		gate_status("active", "0 VM cgroup(s) gated", "root cgroup", NULL);
	else
		gate_status("active", "0 VM cgroup(s) gated", "pasidd's own", NULL);
}
END_TEST

static Suite *
devgate_suite(void)
{
	Suite *s = suite_create("devgate");
	TCase *tc = ck_case(s, "cgroups", setup, teardown, 120);

	tcase_set_tags(tc, "cgroup2");
	tcase_add_test(tc, gated_vm);
	tcase_add_test(tc, two_vms);
	tcase_add_test(tc, late_driver);
	tcase_add_test(tc, replayed_vm);
	tcase_add_test(tc, shared_cgroup);
	tcase_add_test(tc, own_cgroup);
	tcase_add_test(tc, late_bind);
	tcase_add_test(tc, owner_moves);
	tc = ck_case(s, "status", setup, teardown, 120);
	tcase_add_test(tc, switched_off);
	tcase_add_test(tc, root_cgroup);
	return s;
}

static const char *
lacking_cgroups(void)
{
	static char why[300];
	char because[256];

	if (itcg_open(&cgs, "pasidd-devgate", because, sizeof(because)))
		return NULL;
	snprintf(why, sizeof(why), "needs real cgroups: %s", because);
	return why;
}

/* Two char majors that no driver of this host registered (/proc/devices), so that a node of
 * theirs reaches no driver: 0, or -1. */
static int
free_majors(void)
{
	char line[256];
	bool used[256] = {false};
	bool chr = false;
	FILE *f = fopen("/proc/devices", "re");
	unsigned n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned m;

		if (!strncmp(line, "Character", 9))
			chr = true;
		else if (!strncmp(line, "Block", 5))
			chr = false;
		else if (chr && sscanf(line, "%u", &m) == 1 && m < 256)
			used[m] = true;
	}
	fclose(f);
	if (used[DSA_MAJOR])
		return -1;
	for (unsigned m = 234; m < 255 && n < 2; m++)
		if (!used[m] && m != DSA_MAJOR)
			*(n++ ? &group_major : &cdev_major) = m;
	return n == 2 ? 0 : -1;
}

int
main(void)
{
	static const struct ck_need needs[] = {{"cgroup2", lacking_cgroups}, {NULL, NULL}};
	int rc;

	if (geteuid() != 0)
		ck_skip("needs root (cgroups, device nodes, vm.register for other processes)");
	if (free_majors() < 0)
		ck_skip("no two free char majors in 234-254 and 239 free for the stand-ins");
	/* The tmpfs of the nodes is this suite's own. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		ck_skip("needs a private mount namespace: %s", strerror(errno));
	rc = ck_main(devgate_suite(), needs);
	itcg_remove(&cgs);
	return rc;
}
