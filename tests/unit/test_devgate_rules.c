/* The pure parts of the device gate (daemon/host/devgate_rules.c, devgate_sysfs.c) and its
 * configuration keys:
 * - /proc/devices: a region found by its exact name in the character section only (block
 *   majors share numbers), "vfio" not taken for "vfio-dev", absent regions -ENOENT;
 * - DeviceAllow=: MAJOR:MINOR within the kernel's widths, an absolute path resolved by stat
 *   to a char device, anything else refused with a reason; the key repeatable, "" empties it;
 * - which VMs are gated: not the root, not pasidd's cgroup or one above it, not a cgroup of
 *   several VMs, with the reason;
 * - sysfs: `dev` attributes, a PCI device's VFIO cdev and group node, /dev/iommu and a WQ's
 *   char device read from a fixture tree, -ENOENT for what is not there;
 * - the set a VM's program is given, sorted and without duplicates, from its devices, the
 *   WQs its mappings name now and DeviceAllow=. */
#include <check.h>

#include "ck_main.h"
#include "ck_dir.h"
#include "idxd_fixture.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "devgate_allow.h"
#include "devgate_rules.h"
#include "devgate_sysfs.h"

static const char proc_devices[] = "Character devices:\n"
                                   "  1 mem\n"
                                   " 10 misc\n"
                                   "235 vfio-dev\n"
                                   "236 dsa\n"
                                   "237 iax\n"
                                   "238 vfio\n"
                                   "\n"
                                   "Block devices:\n"
                                   "  7 loop\n"
                                   "240 vfio-blk\n"
                                   "259 blkext\n";

START_TEST(char_majors)
{
	ck_assert_int_eq(devgate_char_major(proc_devices, "vfio"), 238);
	ck_assert_int_eq(devgate_char_major(proc_devices, "vfio-dev"), 235);
	ck_assert_int_eq(devgate_char_major(proc_devices, "dsa"), 236);
	ck_assert_int_eq(devgate_char_major(proc_devices, "iax"), 237);
	ck_assert_int_eq(devgate_char_major(proc_devices, "misc"), 10);
	/* Block regions are not char majors; a prefix is not a name. */
	ck_assert_int_eq(devgate_char_major(proc_devices, "blkext"), -ENOENT);
	ck_assert_int_eq(devgate_char_major(proc_devices, "vfio-blk"), -ENOENT);
	ck_assert_int_eq(devgate_char_major(proc_devices, "vfi"), -ENOENT);
	ck_assert_int_eq(devgate_char_major(proc_devices, "mis"), -ENOENT);
	ck_assert_int_eq(devgate_char_major("", "vfio"), -ENOENT);
	ck_assert_int_eq(devgate_char_major("Block devices:\n238 vfio\n", "vfio"), -ENOENT);
	/* No final newline. */
	ck_assert_int_eq(devgate_char_major("Character devices:\n238 vfio", "vfio"), 238);
}
END_TEST

START_TEST(allow_values)
{
	struct devgate_dev dev = {0, 0};
	char why[256];

	ck_assert_int_eq(devgate_allow_parse("10:200", &dev, why, sizeof(why)), 1);
	ck_assert_uint_eq(dev.major, 10);
	ck_assert_uint_eq(dev.minor, 200);
	ck_assert_int_eq(devgate_allow_parse("4095:1048575", &dev, why, sizeof(why)), 1);
	ck_assert_int_eq(devgate_allow_parse("/dev/kvm", &dev, why, sizeof(why)), 0);
	static const char *const bad[] = {"4096:0", "1:1048576", "1:", ":1",    "1:2:3",
	                                  "a:b",    "1 :2",      "",   "dev/x", "-1:2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(devgate_allow_parse(bad[i], &dev, why, sizeof(why)) == -EINVAL,
		              "'%s' taken", bad[i]);
		ck_assert_ptr_nonnull(strstr(why, "DeviceAllow="));
	}
	/* Paths are resolved to what they are now. */
	ck_assert_int_eq(devgate_allow_resolve("/dev/null", &dev, why, sizeof(why)), 0);
	ck_assert_uint_eq(dev.major, 1);
	ck_assert_uint_eq(dev.minor, 3);
	ck_assert_int_eq(devgate_allow_resolve("7:8", &dev, why, sizeof(why)), 0);
	ck_assert_uint_eq(dev.major, 7);
	ck_assert_int_eq(devgate_allow_resolve("/", &dev, why, sizeof(why)), -ENOTTY);
	ck_assert_ptr_nonnull(strstr(why, "not a character device"));
	ck_assert_int_eq(devgate_allow_resolve("/nonexistent/x", &dev, why, sizeof(why)), -ENOENT);
}
END_TEST

START_TEST(config_keys)
{
	struct pasidd_config cfg;
	char err[512];

	config_init(&cfg);
	ck_assert_str_eq(cfg.bpf_proc_devices, "/proc/devices");
	ck_assert_int_eq(config_load_string(&cfg, "t",
	                                    "[Bpf]\nDeviceAllow=1:3\nDeviceAllow=/dev/kvm\n"
	                                    "ProcDevices=/tmp/devices\n",
	                                    err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(cfg.nbpf_device_allow, 2);
	ck_assert_str_eq(cfg.bpf_device_allow[0], "1:3");
	ck_assert_str_eq(cfg.bpf_device_allow[1], "/dev/kvm");
	ck_assert_str_eq(cfg.bpf_proc_devices, "/tmp/devices");
	ck_assert_int_eq(config_load_string(&cfg, "t", "[Bpf]\nDeviceAllow=\nDeviceAllow=5:6\n",
	                                    err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(cfg.nbpf_device_allow, 1);
	ck_assert_str_eq(cfg.bpf_device_allow[0], "5:6");
	ck_assert_int_eq(
	    config_load_string(&cfg, "t", "[Bpf]\nDeviceAllow=kvm\n", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "t:2") && strstr(err, "DeviceAllow="), "%s", err);
	ck_assert_int_eq(
	    config_load_string(&cfg, "t", "[Bpf]\nProcDevices=devices\n", err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strstr(err, "absolute"), "%s", err);
	config_free(&cfg);
}
END_TEST

START_TEST(gated_cgroups)
{
	char why[256];

	ck_assert(devgate_cgroup_gated("/machine.slice/vm1", "/system.slice/pasidd.service", 1, why,
	                               sizeof(why)));
	ck_assert_str_eq(why, "");
	/* pasidd in the root cgroup: every VM below it may be gated. */
	ck_assert(devgate_cgroup_gated("/a/b", "/", 1, why, sizeof(why)));
	ck_assert(!devgate_cgroup_gated("/", "/system.slice/pasidd.service", 1, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "root cgroup"));
	ck_assert(!devgate_cgroup_gated("/system.slice/pasidd.service",
	                                "/system.slice/pasidd.service", 1, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "is pasidd's own"));
	ck_assert_ptr_null(strstr(why, "above"));
	ck_assert(!devgate_cgroup_gated("/system.slice", "/system.slice/pasidd.service", 1, why,
	                                sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "or above it"));
	/* A sibling whose name starts alike is not above. */
	ck_assert(devgate_cgroup_gated("/system.slice/pasidd", "/system.slice/pasidd.service", 1,
	                               why, sizeof(why)));
	ck_assert(devgate_cgroup_gated("/system.slice/pasidd.service/vm",
	                               "/system.slice/pasidd.service", 1, why, sizeof(why)));
	ck_assert(!devgate_cgroup_gated("/machine.slice/vm1", "/system.slice/pasidd.service", 2,
	                                why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "holds 2 VMs"));
	ck_assert(!devgate_cgroup_gated("", "/x", 1, why, sizeof(why)));
	ck_assert(!devgate_cgroup_gated(NULL, "/x", 1, why, sizeof(why)));
	/* pasidd's cgroup unknown: only the root and sharing keep a VM out. */
	ck_assert(devgate_cgroup_gated("/a", "", 1, why, sizeof(why)));
}
END_TEST

static char base[64], sys[96];

static void
fx_setup(void)
{
	snprintf(base, sizeof(base), "/tmp/pasidd-devgate.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(sys, sizeof(sys), "%s/sys", base);
}

static void
fx_teardown(void)
{
	ck_dir_remove(base);
}

static void
attr(const char *dir, const char *value)
{
	ck_assert_int_eq(idxd_fx_mkdirs(dir), 0);
	ck_assert_int_eq(idxd_fx_file(dir, "dev", 0444, value), 0);
}

START_TEST(sysfs_nodes)
{
	static const struct idxd_fx_wq wq = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 0, 4};
	static const struct idxd_fx_wq nocdev = {"wq0.2", "shared", "user", "", "disabled", "", 8,
	                                         1,       8,        0,      0,  0,          -1};
	struct devgate_dev dev;
	char dir[256], link[256], why[512];
	uint32_t bdf = 0x0100, other = 0x0200; /* 0000:01:00.0, 0000:02:00.0 */

	ck_assert_int_eq(devgate_parse_devt("235:17\n", &dev), 0);
	ck_assert_uint_eq(dev.major, 235);
	ck_assert_uint_eq(dev.minor, 17);
	ck_assert_int_eq(devgate_parse_devt("235", &dev), -EINVAL);
	ck_assert_int_eq(devgate_parse_devt("235:17x", &dev), -EINVAL);
	ck_assert_int_eq(devgate_parse_devt("4096:1", &dev), -EINVAL);

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices/0000:01:00.0/vfio-dev/vfio3", sys);
	attr(dir, "235:3\n");
	snprintf(link, sizeof(link), "%s/bus/pci/devices/0000:01:00.0/iommu_group", sys);
	ck_assert_int_eq(symlink("../../../kernel/iommu_groups/12", link), 0);
	snprintf(dir, sizeof(dir), "%s/class/vfio/12", sys);
	attr(dir, "238:0\n");
	ck_assert_int_eq(devgate_sysfs_vfio_cdev(sys, bdf, &dev, why, sizeof(why)), 0);
	ck_assert(dev.major == 235 && dev.minor == 3);
	ck_assert_int_eq(devgate_sysfs_vfio_group(sys, bdf, &dev, why, sizeof(why)), 0);
	ck_assert(dev.major == 238 && dev.minor == 0);
	/* Not bound to vfio-pci: neither. */
	snprintf(dir, sizeof(dir), "%s/bus/pci/devices/0000:02:00.0", sys);
	ck_assert_int_eq(idxd_fx_mkdirs(dir), 0);
	ck_assert_int_eq(devgate_sysfs_vfio_cdev(sys, other, &dev, why, sizeof(why)), -ENOENT);
	ck_assert_msg(strstr(why, "0000:02:00.0"), "%s", why);
	ck_assert_int_eq(devgate_sysfs_vfio_group(sys, other, &dev, why, sizeof(why)), -ENOENT);
	/* No iommufd, then iommufd. */
	ck_assert_int_eq(devgate_sysfs_iommu(sys, &dev, why, sizeof(why)), -ENOENT);
	snprintf(dir, sizeof(dir), "%s/class/misc/iommu", sys);
	attr(dir, "10:123\n");
	ck_assert_int_eq(devgate_sysfs_iommu(sys, &dev, why, sizeof(why)), 0);
	ck_assert(dev.major == 10 && dev.minor == 123);

	/* A WQ: its char device's dev (the fixture's major, 239), else cdev_minor with the
	 * major of its kind. */
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &wq), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &nocdev), 0);
	ck_assert_int_eq(devgate_sysfs_wq(sys, "dsa0/wq0.1", 236, &dev, why, sizeof(why)), 0);
	ck_assert(dev.major == 239 && dev.minor == 4);
	snprintf(dir, sizeof(dir), "%s/bus/dsa/devices/wq0.1/dsa!wq0.1/dev", sys);
	ck_assert_int_eq(unlink(dir), 0);
	ck_assert_int_eq(devgate_sysfs_wq(sys, "dsa0/wq0.1", 236, &dev, why, sizeof(why)), 0);
	ck_assert(dev.major == 236 && dev.minor == 4);
	ck_assert_int_eq(devgate_sysfs_wq(sys, "dsa0/wq0.1", -1, &dev, why, sizeof(why)), -ENOENT);
	ck_assert_int_eq(devgate_sysfs_wq(sys, "dsa0/wq0.2", 236, &dev, why, sizeof(why)), -ENOENT);
	ck_assert_int_eq(devgate_sysfs_wq(sys, "dsa0/wq0.9", 236, &dev, why, sizeof(why)), -ENOENT);
	ck_assert_int_eq(devgate_sysfs_wq(sys, "foo0/wq0.1", 236, &dev, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(devgate_wq_kind("iax1/wq1.0"), "iax");
	ck_assert_ptr_null(devgate_wq_kind("wq0.1"));
}
END_TEST

/* The set a VM's program is given, from a hand-made VM: two devices (one not bound to
 * vfio-pci), /dev/iommu, WQs named by mappings or no longer, DeviceAllow=. */
START_TEST(vm_allowed)
{
	static const struct idxd_fx_wq wq1 = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 0, 4};
	static const struct idxd_fx_wq wq2 = {"wq0.2", "shared", "user", "", "enabled", "user", 8,
	                                      1,       8,        0,      0,  0,         5};
	struct ns_device d1 = {.bdf = 0x0100}, d2 = {.bdf = 0x0200};
	struct ns_vm_dev devs[] = {{&d1, false}, {&d2, false}};
	struct ns_wq w1 = {"dsa0/wq0.1", 2}, w2 = {"dsa0/wq0.2", 0};
	struct ns_vm_wq wqs[] = {{&w1, 2}, {&w2, 0}};
	struct ns_vm vm = {.name = "vm"};
	const struct devgate_dev extra[] = {{1, 3}, {235, 3}};
	struct devgate_host h = {sys, 236, -1, extra, 2, false};
	const struct ns_wq *named[2];
	struct devgate_dev *out = NULL;
	char dir[256], link[256];
	size_t n = 0, nwqs = 9;

	/* Nothing assigned: only DeviceAllow=. */
	ck_assert_int_eq(devgate_vm_allowed(&h, &vm, &out, &n, named, &nwqs), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(nwqs, 0);
	free(out);

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices/0000:01:00.0/vfio-dev/vfio3", sys);
	attr(dir, "235:3\n");
	snprintf(link, sizeof(link), "%s/bus/pci/devices/0000:01:00.0/iommu_group", sys);
	ck_assert_int_eq(symlink("../../../kernel/iommu_groups/12", link), 0);
	snprintf(dir, sizeof(dir), "%s/class/vfio/12", sys);
	attr(dir, "238:0\n");
	snprintf(dir, sizeof(dir), "%s/bus/pci/devices/0000:02:00.0", sys);
	ck_assert_int_eq(idxd_fx_mkdirs(dir), 0);
	snprintf(dir, sizeof(dir), "%s/class/misc/iommu", sys);
	attr(dir, "10:123\n");
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &wq1), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &wq2), 0);
	vm.devs = devs;
	vm.ndevs = 2;
	vm.wqs = wqs;
	vm.nwqs = 2;
	ck_assert_int_eq(devgate_vm_allowed(&h, &vm, &out, &n, named, &nwqs), 0);
	/* Sorted, 235:3 once although both its cdev and DeviceAllow= name it; wq0.2 is named by
	 * no mapping any more. */
	const struct devgate_dev expect[] = {{1, 3}, {10, 123}, {235, 3}, {238, 0}, {239, 4}};
	ck_assert_uint_eq(n, sizeof(expect) / sizeof(expect[0]));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(!devgate_dev_cmp(&out[i], &expect[i]), "%zu: %u:%u, expected %u:%u",
		              i, out[i].major, out[i].minor, expect[i].major, expect[i].minor);
	ck_assert_uint_eq(nwqs, 1);
	ck_assert_ptr_eq(named[0], &w1);
	free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("devgate");
	TCase *tc = ck_case(s, "rules", NULL, NULL, 0);

	tcase_add_test(tc, char_majors);
	tcase_add_test(tc, allow_values);
	tcase_add_test(tc, config_keys);
	tcase_add_test(tc, gated_cgroups);
	tc = ck_case(s, "sysfs", fx_setup, fx_teardown, 0);
	tcase_add_test(tc, sysfs_nodes);
	tcase_add_test(tc, vm_allowed);
	return ck_run(s);
}
