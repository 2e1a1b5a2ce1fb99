/* idxd discovery (daemon/host/idxd.c) over sysfs fixture trees (tests/idxd_fixture.h):
 * - a host with DSA dsa0 (four WQs: dedicated user, shared user, shared kernel, disabled
 *   and unconfigured), IAX iax1 (numbered from the same IDA as DSA) and DSA dsa2 with PASID
 *   disabled: every attribute read, the char device paths under /dev/dsa and /dev/iax only
 *   for WQs that have one, the PCI function of each device, the char devices' own bus
 *   entries (dsa!wq0.0) not taken for devices;
 * - one WQ read by name, and names of the wrong form or of nothing refused;
 * - nothing cached: a WQ reconfigured or removed between two reads is seen as it is now, and
 *   a device or WQ the bus still lists whose directory is gone is left out;
 * - a malformed or unreadable attribute makes that WQ or device carry an error naming the
 *   file, the others still read; a host without the dsa bus is -ENOENT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "ck_main.h"
#include "idxd_fixture.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idxd.h"
#include "namespace.h"

static char base[64], sys[96];
static char why[512];
static struct idxd_host host;

static const struct idxd_fx_wq dsa0_wqs[] = {
    {"wq0.0", "dedicated", "user", "app0", "enabled", "user", 16, 15, 0, 0, 0, 1, 0},
    {"wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 2, 1},
    {"wq0.2", "shared", "kernel", "dmaengine", "enabled", "dmaengine", 64, 5, 64, 0, 1, 0, -1},
    {"wq0.3", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
};

static void
setup(void)
{
	static const struct idxd_fx_wq iax_wq = {
	    "wq1.0", "shared", "user", "comp", "enabled", "user", 128, 1, 100, 0, 0, 0, 0};
	static const struct idxd_fx_wq dsa2_wq = {
	    "wq2.0", "shared", "user", "", "enabled", "user", 8, 1, 8, 0, 0, 0, 2};

	snprintf(base, sizeof(base), "/tmp/idxd-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(sys, sizeof(sys), "%s/sys", base);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL),
	                 0);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &dsa0_wqs[i]), 0);
	ck_assert_int_eq(idxd_fx_device(sys, "iax1", "0000:6a:02.0", 1, "enabled", 8, 128,
	                                "00000000,00000000,00000000,00000000,00000000,"
	                                "00000000,00000000,000f0001"),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "iax1", &iax_wq), 0);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa2", "0000:e7:01.0", 0, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa2", &dsa2_wq), 0);
	memset(&host, 0, sizeof(host));
	why[0] = '\0';
}

static void
teardown(void)
{
	idxd_host_free(&host);
	idxd_fx_rmtree(base);
}

static const struct idxd_wq *
find(const char *ref)
{
	const struct idxd_wq *wq = idxd_host_find(&host, ref, NULL);

	ck_assert_msg(wq != NULL, "%s not found", ref);
	return wq;
}

static void
assert_bdf(uint32_t bdf, const char *want)
{
	char s[NS_BDF_LEN + 1];

	ns_bdf_format(bdf, s);
	ck_assert_str_eq(s, want);
}

START_TEST(scan_reads_devices_and_wqs)
{
	const struct idxd_device *d;
	const struct idxd_wq *wq;

	ck_assert_int_eq(idxd_scan(sys, &host, why, sizeof(why)), 0);
	/* dsa!wq0.0 and the others' char devices are in the bus listing too. */
	ck_assert_uint_eq(host.ndevs, 3);
	d = &host.devs[0];
	ck_assert_str_eq(d->name, "dsa0");
	ck_assert_str_eq(d->kind, "dsa");
	ck_assert_uint_eq(d->id, 0);
	ck_assert_int_eq(d->err, 0);
	ck_assert(d->pasid_enabled);
	ck_assert_str_eq(d->state, "enabled");
	ck_assert_uint_eq(d->max_wqs, 8);
	ck_assert_uint_eq(d->max_wq_size, 128);
	ck_assert_str_eq(d->op_cap, "00000000,00000000,00000000,00000000,00000000,00000000,"
	                            "00000000,00ff03ff");
	assert_bdf(d->bdf, "0000:6a:01.0");
	ck_assert_uint_eq(d->nwqs, 4);
	for (size_t i = 0; i < 4; i++) {
		wq = &d->wqs[i];
		ck_assert_str_eq(wq->name, dsa0_wqs[i].name);
		ck_assert_int_eq(wq->err, 0);
		ck_assert_str_eq(wq->mode, dsa0_wqs[i].mode);
		ck_assert_str_eq(wq->type, dsa0_wqs[i].type);
		ck_assert_str_eq(wq->state, dsa0_wqs[i].state);
		ck_assert_str_eq(wq->label, dsa0_wqs[i].label);
		ck_assert_str_eq(wq->driver, dsa0_wqs[i].driver);
		ck_assert_uint_eq(wq->size, dsa0_wqs[i].size);
		ck_assert_uint_eq(wq->priority, dsa0_wqs[i].priority);
		ck_assert_uint_eq(wq->threshold, dsa0_wqs[i].threshold);
		ck_assert_int_eq(wq->block_on_fault, dsa0_wqs[i].block_on_fault);
		ck_assert_int_eq(wq->group_id, dsa0_wqs[i].group_id);
		ck_assert_int_eq(wq->clients, dsa0_wqs[i].clients);
		ck_assert_int_eq(wq->cdev_minor, dsa0_wqs[i].cdev_minor);
	}
	ck_assert_str_eq(find("dsa0/wq0.0")->cdev, "/dev/dsa/wq0.0");
	ck_assert_str_eq(find("dsa0/wq0.1")->cdev, "/dev/dsa/wq0.1");
	ck_assert_str_eq(find("dsa0/wq0.2")->cdev, "");
	ck_assert_str_eq(find("dsa0/wq0.3")->cdev, "");

	d = &host.devs[1];
	ck_assert_str_eq(d->name, "iax1");
	ck_assert_str_eq(d->kind, "iax");
	ck_assert_uint_eq(d->id, 1);
	assert_bdf(d->bdf, "0000:6a:02.0");
	ck_assert_uint_eq(d->nwqs, 1);
	ck_assert_str_eq(d->wqs[0].cdev, "/dev/iax/wq1.0");
	ck_assert_str_eq(d->op_cap, "00000000,00000000,00000000,00000000,00000000,00000000,"
	                            "00000000,000f0001");

	d = &host.devs[2];
	ck_assert_str_eq(d->name, "dsa2");
	ck_assert(!d->pasid_enabled);
	assert_bdf(d->bdf, "0000:e7:01.0");
	ck_assert_uint_eq(d->nwqs, 1);
	ck_assert_str_eq(d->wqs[0].cdev, "/dev/dsa/wq2.0");
	ck_assert_ptr_null(idxd_host_find(&host, "dsa0/wq0.4", NULL));
	ck_assert_ptr_null(idxd_host_find(&host, "iax1/wq0.0", NULL));
}
END_TEST

START_TEST(one_wq_by_name)
{
	struct idxd_device dev;
	struct idxd_wq wq;

	ck_assert_int_eq(idxd_wq_read(sys, "dsa0/wq0.1", &dev, &wq, why, sizeof(why)), 0);
	ck_assert_str_eq(dev.name, "dsa0");
	ck_assert(dev.pasid_enabled);
	ck_assert_str_eq(wq.mode, "shared");
	ck_assert_str_eq(wq.cdev, "/dev/dsa/wq0.1");
	ck_assert_int_eq(idxd_wq_read(sys, "dsa2/wq2.0", &dev, &wq, why, sizeof(why)), 0);
	ck_assert(!dev.pasid_enabled);

	ck_assert_int_eq(idxd_wq_read(sys, "dsa0/wq1.0", &dev, &wq, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a work queue name"));
	ck_assert_int_eq(idxd_wq_read(sys, "wq0.1", &dev, &wq, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(idxd_wq_read(sys, "dsa!wq0.0/wq0.0", &dev, &wq, why, sizeof(why)),
	                 -EINVAL);
	ck_assert_int_eq(idxd_wq_read(sys, "dsa0/wq0.x", &dev, &wq, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(idxd_wq_read(sys, "dsa0/wq0.9", &dev, &wq, why, sizeof(why)), -ENOENT);
	ck_assert_str_eq(why, "no work queue dsa0/wq0.9");
	ck_assert_int_eq(idxd_wq_read(sys, "dsa7/wq7.0", &dev, &wq, why, sizeof(why)), -ENOENT);
	ck_assert_str_eq(why, "no idxd device dsa7");
}
END_TEST

START_TEST(rereads_what_changed)
{
	struct idxd_device dev;
	struct idxd_wq wq;

	ck_assert_int_eq(idxd_scan(sys, &host, why, sizeof(why)), 0);
	ck_assert_str_eq(find("dsa0/wq0.1")->mode, "shared");
	idxd_host_free(&host);

	/* Another tool disables wq0.1 and makes it dedicated; wq0.3 goes away. */
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "mode", "dedicated"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "state", "disabled"), 0);
	ck_assert_int_eq(idxd_fx_remove_wq(sys, "dsa0", "wq0.3"), 0);
	ck_assert_int_eq(idxd_wq_read(sys, "dsa0/wq0.1", &dev, &wq, why, sizeof(why)), 0);
	ck_assert_str_eq(wq.mode, "dedicated");
	ck_assert_str_eq(wq.state, "disabled");
	ck_assert_int_eq(idxd_wq_read(sys, "dsa0/wq0.3", &dev, &wq, why, sizeof(why)), -ENOENT);
	ck_assert_int_eq(idxd_scan(sys, &host, why, sizeof(why)), 0);
	ck_assert_uint_eq(host.devs[0].nwqs, 3);
	ck_assert_str_eq(find("dsa0/wq0.1")->mode, "dedicated");
	ck_assert_ptr_null(idxd_host_find(&host, "dsa0/wq0.3", NULL));
}
END_TEST

/* Replaces a WQ's or device's attribute file by a directory: its read fails (EISDIR) even
 * for root, as an attribute the kernel refuses to show would. */
static void
unreadable(const char *obj, const char *attr)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bus/dsa/devices/%s/%s", sys, obj, attr);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

START_TEST(bad_attributes_name_the_file)
{
	struct idxd_device dev;
	struct idxd_wq wq;
	const struct idxd_wq *w;

	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "mode", "bogus"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.2", "size", "12abc"), 0);
	unreadable("wq0.0", "clients");
	ck_assert_int_eq(idxd_fx_set(sys, "iax1", "pasid_enabled", "2"), 0);
	ck_assert_int_eq(idxd_scan(sys, &host, why, sizeof(why)), 0);
	ck_assert_uint_eq(host.ndevs, 3);
	w = find("dsa0/wq0.1");
	ck_assert_int_eq(w->err, -EINVAL);
	ck_assert_str_eq(w->why, "dsa0/wq0.1/mode: 'bogus' is not a value the kernel writes");
	w = find("dsa0/wq0.2");
	ck_assert_int_eq(w->err, -EINVAL);
	ck_assert_str_eq(w->why, "dsa0/wq0.2/size: '12abc' is not a number");
	w = find("dsa0/wq0.0");
	ck_assert_int_eq(w->err, -EISDIR);
	ck_assert_ptr_nonnull(strstr(w->why, "dsa0/wq0.0/clients: "));
	ck_assert_int_eq(find("dsa0/wq0.3")->err, 0);
	ck_assert_int_eq(host.devs[1].err, -EINVAL);
	ck_assert_str_eq(host.devs[1].why, "iax1/pasid_enabled: '2' is not a number");
	/* Its WQs are still listed, to be shown with the device's error. */
	ck_assert_uint_eq(host.devs[1].nwqs, 1);
	ck_assert_int_eq(host.devs[2].err, 0);

	ck_assert_int_eq(idxd_wq_read(sys, "dsa0/wq0.1", &dev, &wq, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "dsa0/wq0.1/mode"));
	ck_assert_int_eq(idxd_wq_read(sys, "iax1/wq1.0", &dev, &wq, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "iax1/pasid_enabled"));

	/* A file missing from a WQ that is still there is an error, not a vanished WQ. */
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/bus/dsa/devices/wq2.0/state", sys);
		ck_assert_int_eq(unlink(path), 0);
	}
	ck_assert_int_eq(idxd_wq_read(sys, "dsa2/wq2.0", &dev, &wq, why, sizeof(why)), -ENOENT);
	ck_assert_str_eq(why, "dsa2/wq2.0/state: No such file or directory");
}
END_TEST

/* The bus still lists what the kernel is removing: its directory is gone, so it is too. */
START_TEST(listed_but_gone)
{
	char path[PATH_MAX], devdir[PATH_MAX];

	ck_assert_int_eq(idxd_fx_devdir(sys, "dsa0", devdir, sizeof(devdir)), 0);
	ck_assert_int_eq(idxd_fx_fmt(path, sizeof(path), "%s/%s/wq0.2", sys, devdir), 0);
	ck_assert_int_eq(idxd_fx_rmtree(path), 0);
	ck_assert_int_eq(idxd_fx_devdir(sys, "iax1", devdir, sizeof(devdir)), 0);
	ck_assert_int_eq(idxd_fx_fmt(path, sizeof(path), "%s/%s", sys, devdir), 0);
	ck_assert_int_eq(idxd_fx_rmtree(path), 0);
	ck_assert_int_eq(idxd_scan(sys, &host, why, sizeof(why)), 0);
	ck_assert_uint_eq(host.ndevs, 2);
	ck_assert_str_eq(host.devs[1].name, "dsa2");
	ck_assert_uint_eq(host.devs[0].nwqs, 3);
	ck_assert_ptr_null(idxd_host_find(&host, "dsa0/wq0.2", NULL));
	ck_assert_ptr_nonnull(idxd_host_find(&host, "dsa0/wq0.3", NULL));
}
END_TEST

START_TEST(no_dsa_bus)
{
	char empty[128];

	snprintf(empty, sizeof(empty), "%s/empty", base);
	ck_assert_int_eq(mkdir(empty, 0755), 0);
	ck_assert_int_eq(idxd_scan(empty, &host, why, sizeof(why)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(why, "absent (no idxd driver on this host)"));
	ck_assert_uint_eq(host.ndevs, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("idxd");
	TCase *tc = ck_case(s, "fixture", setup, teardown, 0);

	tcase_add_test(tc, scan_reads_devices_and_wqs);
	tcase_add_test(tc, one_wq_by_name);
	tcase_add_test(tc, rereads_what_changed);
	tcase_add_test(tc, bad_attributes_name_the_file);
	tcase_add_test(tc, listed_but_gone);
	tcase_add_test(tc, no_dsa_bus);
	return ck_main(s, NULL);
}
