/* Issue 11: wq.list on the real pasidd pointed at sysfs fixture trees ([Idxd] SysfsRoot=,
 * tests/idxd_fixture.h): what start-up logs of them, the devices and work queues as the
 * files say at each request, a
 * change made by another tool between two requests seen by the second, a host without the
 * dsa bus answered with idxd false, and members it does not take refused. */
#include <check.h>

#include "ck_main.h"
#include "idxd_fixture.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

static struct it_daemon d;
static int fd = -1;
static char sys[128];

static void
start(const char *root)
{
	char text[256], conf[256];

	snprintf(text, sizeof(text), "[Idxd]\nSysfsRoot=%s\n", root);
	ck_assert_int_eq(it_write_file(&d, "idxd.conf", text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static void
setup(void)
{
	static const struct idxd_fx_wq shared = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 2, 1};
	static const struct idxd_fx_wq off = {"wq0.0", "dedicated", "none", "", "disabled", "", 0,
	                                      0,       0,           0,      -1, 0,          -1};
	static const struct idxd_fx_wq iax = {"wq1.0", "shared", "user", "", "enabled", "user", 8,
	                                      1,       8,        0,      0,  0,         0};

	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(sys, sizeof(sys), "%s/sys", d.dir);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &off), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &shared), 0);
	ck_assert_int_eq(idxd_fx_device(sys, "iax1", "0000:6a:02.0", 0, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "iax1", &iax), 0);
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

START_TEST(lists_the_fixture)
{
	struct json_object *r;

	start(sys);
	/* Start-up says what there is: wq0.1 is the one usable WQ (iax1 has PASID disabled). */
	ck_assert_msg(strstr(it_log(&d), "idxd: 2 device(s), 3 work queue(s) under ") &&
	                  strstr(it_log(&d), ", 1 of them shared, of type user, enabled"),
	              "%s", it_log(&d));
	r = IT_OK(it_call(fd, "wq.list", NULL));
	ck_assert(json_object_get_boolean(it_get(r, "idxd")));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "devices")), 2);
	ck_assert_str_eq(it_str(r, "devices.0.device"), "dsa0");
	ck_assert_str_eq(it_str(r, "devices.0.kind"), "dsa");
	ck_assert_str_eq(it_str(r, "devices.0.pci"), "0000:6a:01.0");
	ck_assert(json_object_get_boolean(it_get(r, "devices.0.pasid_enabled")));
	ck_assert_int_eq(it_int(r, "devices.0.max_work_queues"), 8);
	ck_assert_uint_eq(json_object_array_length(it_get(r, "devices.0.wqs")), 2);
	ck_assert_str_eq(it_str(r, "devices.0.wqs.0.wq"), "dsa0/wq0.0");
	ck_assert_str_eq(it_str(r, "devices.0.wqs.0.state"), "disabled");
	ck_assert_int_eq(it_int(r, "devices.0.wqs.0.group_id"), -1);
	ck_assert_ptr_null(it_get(r, "devices.0.wqs.0.char_device"));
	ck_assert_str_eq(it_str(r, "devices.0.wqs.1.wq"), "dsa0/wq0.1");
	ck_assert_str_eq(it_str(r, "devices.0.wqs.1.mode"), "shared");
	ck_assert_str_eq(it_str(r, "devices.0.wqs.1.type"), "user");
	ck_assert_str_eq(it_str(r, "devices.0.wqs.1.label"), "vms");
	ck_assert_int_eq(it_int(r, "devices.0.wqs.1.size"), 32);
	ck_assert_int_eq(it_int(r, "devices.0.wqs.1.clients"), 2);
	ck_assert(json_object_get_boolean(it_get(r, "devices.0.wqs.1.block_on_fault")));
	ck_assert_str_eq(it_str(r, "devices.0.wqs.1.char_device"), "/dev/dsa/wq0.1");
	ck_assert_str_eq(it_str(r, "devices.1.device"), "iax1");
	ck_assert(!json_object_get_boolean(it_get(r, "devices.1.pasid_enabled")));
	ck_assert_str_eq(it_str(r, "devices.1.wqs.0.char_device"), "/dev/iax/wq1.0");
}
END_TEST

START_TEST(sees_changes_between_requests)
{
	struct json_object *r;

	start(sys);
	r = IT_OK(it_call(fd, "wq.list", NULL));
	ck_assert_str_eq(it_str(r, "devices.0.wqs.1.mode"), "shared");
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "mode", "dedicated"), 0);
	ck_assert_int_eq(idxd_fx_remove_wq(sys, "dsa0", "wq0.0"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, "iax1", "pasid_enabled", "yes"), 0);
	r = IT_OK(it_call(fd, "wq.list", NULL));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "devices.0.wqs")), 1);
	ck_assert_str_eq(it_str(r, "devices.0.wqs.0.wq"), "dsa0/wq0.1");
	ck_assert_str_eq(it_str(r, "devices.0.wqs.0.mode"), "dedicated");
	/* A file that cannot be read is shown, naming it, not hidden nor fatal. */
	ck_assert_str_eq(it_str(r, "devices.1.error"), "iax1/pasid_enabled: 'yes' is not a number");
	ck_assert_ptr_null(it_get(r, "devices.1.wqs"));
}
END_TEST

START_TEST(no_idxd_on_the_host)
{
	struct json_object *r;
	char empty[128];

	snprintf(empty, sizeof(empty), "%s/empty", d.dir);
	ck_assert_int_eq(idxd_fx_mkdirs(empty), 0);
	start(empty);
	ck_assert_msg(strstr(it_log(&d), "idxd: none ("), "%s", it_log(&d));
	r = IT_OK(it_call(fd, "wq.list", "{}"));
	ck_assert(!json_object_get_boolean(it_get(r, "idxd")));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "devices")), 0);
	IT_ERR(it_call(fd, "wq.list", "{\"wq\":\"dsa0/wq0.1\"}"), -32602, "wq");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("wq");
	TCase *tc = ck_case(s, "fixture", setup, teardown, 60);

	tcase_add_test(tc, lists_the_fixture);
	tcase_add_test(tc, sees_changes_between_requests);
	tcase_add_test(tc, no_idxd_on_the_host);
	return ck_main(s, NULL);
}
