/* Issue 8, item 13: pasid.alloc's limits, and refusals that say which range is short, what it
 * has and what was asked, naming the parameter to change. A refused allocation changes
 * nothing. */
#include <check.h>

#include "ck_main.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct it_daemon d;
static int fd = -1;

static void
setup(void)
{
	char conf[256];

	ck_assert_int_eq(it_prepare(&d), 0);
	/* A small shared range, to fill it. */
	ck_assert_int_eq(it_write_file(&d, "room.conf", "[Namespace]\nSharedRange=4096-8195\n",
	                               conf, sizeof(conf)),
	                 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"big\"}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"id\",\"mode\":\"identity\"}"));
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

#define REFUSED(params, code, param, message)                                                      \
	do {                                                                                       \
		const char *before_ = it_snapshot(fd);                                             \
		struct json_object *r_ = it_call(fd, "pasid.alloc", params);                       \
                                                                                                   \
		IT_ERR(r_, code, param);                                                           \
		ck_assert_str_eq(it_str(r_, "error.message"), message);                            \
		ck_assert_str_eq(it_snapshot(fd), before_);                                        \
	} while (0)

START_TEST(guest_range)
{
	/* A translated VM's guests range holds 4095: count 4096 can never fit, and says so. */
	REFUSED("{\"vm\":\"big\",\"type\":\"shared\",\"count\":4096}", 1001, "count",
	        "VM big has 4095 free guest PASIDs in 1-4095; 4096 asked");
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"big\",\"type\":\"shared\",\"count\":4090}"));
	REFUSED("{\"vm\":\"big\",\"type\":\"shared\",\"count\":6}", 1001, "count",
	        "VM big has 5 free guest PASIDs in 1-4095; 6 asked");
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"big\",\"type\":\"shared\",\"count\":5}"));
	/* Full: the VM is what is short, whatever the count. */
	REFUSED("{\"vm\":\"big\",\"type\":\"shared\"}", 1001, "vm",
	        "VM big has 0 free guest PASIDs in 1-4095; 1 asked");
	REFUSED("{\"vm\":\"big\",\"type\":\"shared\",\"count\":3}", 1001, "vm",
	        "VM big has 0 free guest PASIDs in 1-4095; 3 asked");
}
END_TEST

START_TEST(shared_range)
{
	/* Identity mode takes hPASIDs only: 4096 of them fit the 4100 of this range. */
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"id\",\"type\":\"shared\",\"count\":4096}"));
	REFUSED("{\"vm\":\"id\",\"type\":\"shared\",\"count\":5}", 1001, "count",
	        "the shared range 4096-8195 has 4 free PASIDs; 5 asked");
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"id\",\"type\":\"shared\",\"count\":4}"));
	REFUSED("{\"vm\":\"id\",\"type\":\"shared\"}", 1001, "type",
	        "the shared range 4096-8195 has 0 free PASIDs; 1 asked");
	REFUSED("{\"vm\":\"big\",\"type\":\"shared\"}", 1001, "type",
	        "the shared range 4096-8195 has 0 free PASIDs; 1 asked");
}
END_TEST

START_TEST(local_range)
{
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"id\",\"device\":\"0000:00:02.0\"}"));
	REFUSED("{\"vm\":\"id\",\"type\":\"local\",\"device\":\"0000:00:02.0\",\"count\":4096}",
	        1001, "count",
	        "device 0000:00:02.0 has 4095 free local PASIDs in 1-4095; 4096 asked");
	IT_OK(it_call(
	    fd, "pasid.alloc",
	    "{\"vm\":\"id\",\"type\":\"local\",\"device\":\"0000:00:02.0\",\"count\":4095}"));
	REFUSED("{\"vm\":\"id\",\"type\":\"local\",\"device\":\"0000:00:02.0\"}", 1001, "device",
	        "device 0000:00:02.0 has 0 free local PASIDs in 1-4095; 1 asked");
}
END_TEST

START_TEST(consecutive_run_past_the_end)
{
	REFUSED("{\"vm\":\"big\",\"type\":\"shared\",\"gpasid\":4000,\"count\":100}", 1008, "count",
	        "gPASIDs 4000-4099 run past the end of the guest range 1-4095");
	REFUSED("{\"vm\":\"id\",\"type\":\"shared\",\"gpasid\":8190,\"count\":8}", 1008, "count",
	        "gPASIDs 8190-8197 run past the end of the shared range 4096-8195");
	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"big\",\"type\":\"shared\",\"gpasid\":3996,\"count\":100}"));
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("alloc-room");
	TCase *tc = tcase_create("room");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, guest_range);
	tcase_add_test(tc, shared_range);
	tcase_add_test(tc, local_range);
	tcase_add_test(tc, consecutive_run_past_the_end);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
