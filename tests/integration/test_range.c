/* Issue 14: administrator range reservations on the real pasidd. range.reserve/unreserve are
 * for administrators; reserving over live mappings answers conflict with the first such mapping;
 * every refusal leaves the state as it was (pasid.list, vm.list, daemon.status and range.list
 * compared); allocations never land in a reservation unless they name it; an expiring
 * reservation goes by itself (journaled), also while pasidd is down; reservations survive
 * kill -9; [Namespace] Reserve= lines at start-up, pasidd -n and config.reload. */
#include <check.h>

#include "ck_main.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NOBODY 65534
#define DEV    "0000:02:00.0"

static struct it_daemon d;
static int fd = -1;
static char conf[256];

static void
write_conf(const char *text)
{
	ck_assert_int_eq(it_write_file(&d, "range.conf", text, conf, sizeof(conf)), 0);
}

static void
start_with(const char *text)
{
	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	write_conf(text);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static void
setup(void)
{
	start_with("[Daemon]\nSocketMode=0666\n");
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

/* What a client can see, reservations included. */
static const char *
state(void)
{
	struct json_object *l = IT_OK(it_call(fd, "range.list", NULL));
	char *s;

	if (asprintf(&s, "%s %s", it_snapshot(fd),
	             json_object_to_json_string_ext(l, JSON_C_TO_STRING_PLAIN)) < 0)
		ck_abort_msg("out of memory");
	return it_keep_str(s);
}

static struct json_object *
list(void)
{
	return IT_OK(it_call(fd, "range.list", NULL));
}

START_TEST(admin_only)
{
	pid_t holder;
	int nb = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &holder);
	struct json_object *l;

	ck_assert_int_ge(nb, 0);
	IT_OK(it_call(fd, "range.reserve",
	              "{\"first\":5000,\"last\":5009,\"why\":\"secret\",\"name\":\"r\"}"));
	IT_ERR(it_call(nb, "range.reserve", "{\"first\":6000,\"last\":6009}"), 1005, NULL);
	IT_ERR(it_call(nb, "range.unreserve", "{\"name\":\"r\"}"), 1005, NULL);
	IT_OK(it_call(nb, "vm.register", "{\"vm\":\"nbvm\"}"));
	IT_ERR(it_call(nb, "pasid.alloc",
	               "{\"vm\":\"nbvm\",\"type\":\"shared\",\"reservation\":\"r\"}"),
	       1005, "reservation");
	/* Everyone sees the numbers; why and by are for administrators. */
	l = IT_OK(it_call(nb, "range.list", NULL));
	ck_assert_msg(!it_json_mismatch(l, "[{\"first\":5000,\"last\":5009,\"name\":\"r\","
	                                   "\"source\":\"runtime\",\"used\":0}]"),
	              "%s", json_object_to_json_string(l));
	l = list();
	ck_assert_str_eq(it_str(l, "0.why"), "secret");
	ck_assert_int_eq(it_int(l, "0.by.uid"), 0);
	ck_assert_int_gt(it_int(l, "0.by.pid"), 0);
	/* A non-admin's explicit identity gPASID in it: conflict, without the why. */
	IT_OK(it_call(nb, "vm.register", "{\"vm\":\"nbid\",\"mode\":\"identity\"}"));
	{
		struct json_object *r = it_call(
		    nb, "pasid.alloc", "{\"vm\":\"nbid\",\"type\":\"shared\",\"gpasid\":5003}");

		IT_ERR(r, 1004, "gpasid");
		ck_assert_str_eq(it_str(r, "error.data.reservation"), "r");
		ck_assert_msg(!strstr(it_str(r, "error.message"), "secret"), "%s",
		              it_str(r, "error.message"));
	}
	close(nb);
	it_holder_release(holder);
}
END_TEST

START_TEST(conflict_names_first_mapping)
{
	struct json_object *r;
	const char *before;

	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"count\":3}"));
	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"a\",\"type\":\"local\",\"device\":\"" DEV "\",\"gpasid\":40}"));
	before = state();
	r = it_call(fd, "range.reserve", "{\"first\":4097,\"last\":5000}");
	IT_ERR(r, 1004, "first");
	ck_assert_str_eq(it_str(r, "error.data.vm"), "a");
	ck_assert_int_eq(it_int(r, "error.data.hpasid"), 4097);
	ck_assert_int_eq(it_int(r, "error.data.gpasid"), 2);
	ck_assert_str_eq(it_str(r, "error.data.type"), "shared");
	/* A local one, on its device, comes first when it is lower. */
	r = it_call(fd, "range.reserve", "{\"first\":10,\"last\":5000}");
	IT_ERR(r, 1004, "first");
	ck_assert_int_eq(it_int(r, "error.data.hpasid"), 40);
	ck_assert_str_eq(it_str(r, "error.data.device"), DEV);
	ck_assert_str_eq(it_str(r, "error.data.type"), "local");
	ck_assert_str_eq(state(), before);
}
END_TEST

/* Every refusal: the state is exactly as it was. */
START_TEST(refusals_change_nothing)
{
	static const struct {
		const char *params;
		int code;
		const char *param;
	} bad[] = {
	    {"{\"first\":10,\"last\":9}", 1008, "last"},
	    {"{\"first\":1048576,\"last\":1048577}", 1008, "first"},
	    {"{\"first\":10,\"last\":1048576}", 1008, "last"},
	    {"{\"first\":10,\"last\":4294967296}", -32602, "last"},
	    {"{\"first\":-1,\"last\":10}", -32602, "first"},
	    {"{\"first\":4990,\"last\":5000}", 1004, "first"},
	    {"{\"first\":5009,\"last\":5009}", 1004, "first"},
	    {"{\"first\":7000,\"last\":7000,\"name\":\"keep\"}", 1004, "name"},
	    {"{\"first\":7000,\"last\":7000,\"name\":\"-x\"}", -32602, "name"},
	    {"{\"first\":7000,\"last\":7000,\"why\":\"a\\nb\"}", -32602, "why"},
	    {"{\"first\":7000,\"last\":7000,\"expires_s\":0}", -32602, "expires_s"},
	    {"{\"first\":7000,\"last\":7000,\"expires_s\":2592001}", -32602, "expires_s"},
	    {"{\"first\":7000}", -32602, "last"},
	    {"{\"first\":7000,\"last\":7000,\"extra\":1}", -32602, "extra"},
	};
	const char *before;

	IT_OK(it_call(fd, "range.reserve", "{\"first\":5000,\"last\":5009,\"name\":\"keep\"}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"));
	before = state();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		IT_ERR(it_call(fd, "range.reserve", bad[i].params), bad[i].code, bad[i].param);
		ck_assert_str_eq(state(), before);
	}
	IT_ERR(it_call(fd, "range.reserve", "{\"first\":4096,\"last\":4096}"), 1004, "first");
	IT_ERR(it_call(fd, "range.unreserve", "{\"name\":\"nope\"}"), 1003, "name");
	IT_ERR(it_call(fd, "range.unreserve", "{\"first\":5000,\"last\":5008}"), 1003, "first");
	IT_ERR(it_call(fd, "range.unreserve", "{}"), -32602, "first");
	IT_ERR(it_call(fd, "range.unreserve", "{\"name\":\"keep\",\"first\":5000}"), -32602,
	       "first");
	IT_ERR(
	    it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"reservation\":\"no\"}"),
	    1003, "reservation");
	ck_assert_str_eq(state(), before);
	/* Pipelined: a batch of a good and a bad reservation; the bad one changes nothing. */
	{
		char *line =
		    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"range.reserve\",\"params\":"
		    "{\"first\":8000,\"last\":8000}},{\"jsonrpc\":\"2.0\",\"id\":2,"
		    "\"method\":\"range.reserve\",\"params\":{\"first\":8000,\"last\":8001}}]";
		char *resp = it_keep_str(it_roundtrip(fd, line));

		ck_assert_ptr_nonnull(resp);
		ck_assert_msg(strstr(resp, "\"code\":1004"), "%s", resp);
	}
	ck_assert_int_eq(json_object_array_length(list()), 2);
	IT_OK(it_call(fd, "range.unreserve", "{\"first\":8000,\"last\":8000}"));
	ck_assert_str_eq(state(), before);
}
END_TEST

START_TEST(allocation_skips_reservations)
{
	struct json_object *r;

	IT_OK(it_call(fd, "range.reserve", "{\"first\":4100,\"last\":4199,\"name\":\"mig\"}"));
	IT_OK(it_call(fd, "range.reserve", "{\"first\":5000,\"last\":5000}"));
	IT_OK(it_call(fd, "range.reserve", "{\"first\":1,\"last\":99,\"name\":\"low\"}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\",\"mode\":\"identity\"}"));
	for (int i = 0; i < 4; i++)
		IT_OK(it_call(fd, "pasid.alloc",
		              "{\"vm\":\"a\",\"type\":\"shared\",\"count\":1000}"));
	/* Identity: gPASID = hPASID, so the table is the hPASIDs. */
	{
		struct json_object *l;
		const char *after = NULL;
		unsigned n = 0;

		do {
			char p[200];
			struct json_object *maps;

			snprintf(p, sizeof(p), "{\"vm\":\"a\",\"limit\":1000%s%s%s}",
			         after ? ",\"after\":\"" : "", after ? after : "",
			         after ? "\"" : "");
			l = IT_OK(it_call(fd, "pasid.list", p));
			maps = it_get(l, "mappings");
			for (size_t i = 0; i < json_object_array_length(maps); i++) {
				long h = (long)it_int(json_object_array_get_idx(maps, i), "hpasid");

				ck_assert_msg(!(h >= 4100 && h <= 4199) && h != 5000,
				              "hPASID %ld handed out of a reservation", h);
				n++;
			}
			after = it_get(l, "next") ? it_str(l, "next") : NULL;
		} while (after);
		ck_assert_uint_eq(n, 4000);
	}
	/* Naming it: numbers from it, counted as used. */
	r = IT_OK(
	    it_call(fd, "pasid.alloc",
	            "{\"vm\":\"a\",\"type\":\"shared\",\"count\":2,\"reservation\":\"mig\"}"));
	ck_assert_int_eq(it_int(r, "mappings.0.hpasid"), 4100);
	ck_assert_int_eq(it_int(r, "mappings.1.hpasid"), 4101);
	r = IT_OK(it_call(fd, "pasid.alloc",
	                  "{\"vm\":\"a\",\"type\":\"shared\",\"gpasid\":4150,"
	                  "\"reservation\":\"mig\"}"));
	ck_assert_int_eq(it_int(r, "hpasid"), 4150);
	IT_ERR(it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"gpasid\":4160}"),
	       1004, "gpasid");
	ck_assert_int_eq(it_int(list(), "1.used"), 3);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_int_eq(it_int(r, "reserved.count"), 3);
	ck_assert_int_eq(it_int(r, "reserved.shared"), 100 + 1 - 3);
	ck_assert_int_eq(it_int(r, "free.shared"), 524287 - 4096 + 1 - 4003 - 98);
	/* Local: skipped, and taken by name. */
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"t\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"t\",\"device\":\"" DEV "\"}"));
	r = IT_OK(
	    it_call(fd, "pasid.alloc", "{\"vm\":\"t\",\"type\":\"local\",\"device\":\"" DEV "\"}"));
	ck_assert_int_eq(it_int(r, "hpasid"), 100);
	r = IT_OK(it_call(fd, "pasid.alloc",
	                  "{\"vm\":\"t\",\"type\":\"local\",\"device\":\"" DEV
	                  "\",\"reservation\":\"low\"}"));
	ck_assert_int_eq(it_int(r, "hpasid"), 1);
	/* Unreserved: the mappings handed out of it stay. */
	IT_OK(it_call(fd, "range.unreserve", "{\"name\":\"mig\"}"));
	IT_OK(it_call(fd, "pasid.lookup", "{\"vm\":\"a\",\"gpasid\":4150}"));
}
END_TEST

/* Polls range.list until the reservation named is gone: no fixed timing assertion. */
static bool
gone_within(const char *name, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		struct json_object *l = list();
		bool found = false;

		for (size_t k = 0; k < json_object_array_length(l); k++)
			found |= !strcmp(it_str(json_object_array_get_idx(l, k), "name"), name);
		if (!found)
			return true;
		usleep(50000);
	}
	return false;
}

START_TEST(expiry_removes_it)
{
	struct json_object *r;

	r = IT_OK(it_call(fd, "range.reserve",
	                  "{\"first\":5000,\"last\":5009,\"expires_s\":1,\"name\":\"soon\"}"));
	ck_assert_int_ge(it_int(r, "expires"), 1);
	IT_OK(it_call(fd, "range.reserve", "{\"first\":6000,\"last\":6009,\"expires_s\":3600}"));
	ck_assert_msg(gone_within("soon", 20), "the reservation did not expire");
	ck_assert_int_eq(json_object_array_length(list()), 1);
	ck_assert_int_gt(it_int(list(), "0.expires"), 3500);
	/* Journaled: a restart does not bring it back. */
	it_kill(&d);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	close(fd);
	fd = it_connect(&d);
	ck_assert_int_eq(json_object_array_length(list()), 1);
}
END_TEST

/* Expired while pasidd was down: dropped at start-up, before anything is served. */
START_TEST(expired_at_restart)
{
	struct timespec t0, t;

	IT_OK(it_call(fd, "range.reserve", "{\"first\":5000,\"last\":5009,\"expires_s\":1}"));
	clock_gettime(CLOCK_BOOTTIME, &t0);
	it_kill(&d);
	do {
		usleep(100000);
		clock_gettime(CLOCK_BOOTTIME, &t);
	} while (t.tv_sec - t0.tv_sec < 2);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	close(fd);
	fd = it_connect(&d);
	ck_assert_int_eq(json_object_array_length(list()), 0);
	ck_assert_msg(strstr(it_log(&d), "reservation(s) expired and removed"), "%s", it_log(&d));
}
END_TEST

START_TEST(kill9_keeps_reservations)
{
	const char *before;

	IT_OK(it_call(fd, "range.reserve",
	              "{\"first\":5000,\"last\":5009,\"why\":\"ahead of vm-7\",\"name\":\"mig\"}"));
	IT_OK(it_call(fd, "range.reserve", "{\"first\":9000,\"last\":9999}"));
	IT_OK(it_call(fd, "range.reserve", "{\"first\":7000,\"last\":7000}"));
	IT_OK(it_call(fd, "range.unreserve", "{\"first\":7000,\"last\":7000}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\",\"pid\":1}"));
	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"a\",\"type\":\"shared\",\"count\":2,\"reservation\":\"mig\"}"));
	before = state();
	it_kill(&d);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	close(fd);
	fd = it_connect(&d);
	ck_assert_str_eq(state(), before);
	ck_assert_int_eq(it_int(list(), "0.used"), 2);
	/* And after a clean stop, from the snapshot. */
	ck_assert_int_eq(it_stop(&d), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	close(fd);
	fd = it_connect(&d);
	ck_assert_str_eq(state(), before);
}
END_TEST

START_TEST(config_lines)
{
	struct json_object *l, *r;
	const char *before;
	char *out = NULL;

	it_teardown(&d, &fd);
	start_with("[Daemon]\nSocketMode=0666\n[Namespace]\nReserve=4096-4099 a device hard-codes "
	           "these\nReserve=20-29\n");
	l = list();
	ck_assert_msg(
	    !it_json_mismatch(l, "[{\"first\":20,\"last\":29,\"why\":\"\",\"name\":\"20-29\","
	                         "\"source\":\"config\",\"used\":0},"
	                         "{\"first\":4096,\"last\":4099,\"why\":\"a device hard-codes "
	                         "these\",\"name\":\"4096-4099\",\"source\":\"config\","
	                         "\"used\":0}]"),
	    "%s", json_object_to_json_string(l));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\"}"));
	r = IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"));
	ck_assert_int_eq(it_int(r, "hpasid"), 4100);
	IT_ERR(it_call(fd, "pasid.alloc",
	               "{\"vm\":\"a\",\"type\":\"shared\",\"reservation\":\"4096-4099\"}"),
	       1004, "reservation");
	IT_ERR(it_call(fd, "range.unreserve", "{\"name\":\"20-29\"}"), 1004, "name");
	IT_ERR(it_call(fd, "range.reserve", "{\"first\":25,\"last\":35}"), 1004, "first");
	IT_OK(it_call(fd, "range.reserve", "{\"first\":5000,\"last\":5000,\"name\":\"rt\"}"));
	/* pasidd -n shows them. */
	{
		char *args[] = {"-n",          "--backend", "sim",      "--socket", d.sock,
		                "--state-dir", d.state,     "--config", conf,       NULL};

		ck_assert_int_eq(it_exec(&out, NULL, 60, false, args), 0);
		it_keep_str(out);
		ck_assert_msg(strstr(out, "reserved 4096-4099: a device hard-codes these"), "%s",
		              out);
	}
	/* Reload: over a live mapping, or over a runtime reservation, refused whole. */
	before = state();
	write_conf("[Daemon]\nSocketMode=0666\n[Namespace]\nReserve=4100-4100\n");
	r = it_call(fd, "config.reload", NULL);
	IT_ERR(r, 1004, NULL);
	ck_assert_msg(strstr(it_str(r, "error.message"), "Reserve=4100-4100") &&
	                  strstr(it_str(r, "error.message"), "range.conf:4"),
	              "%s", it_str(r, "error.message"));
	ck_assert_str_eq(state(), before);
	write_conf("[Daemon]\nSocketMode=0666\n[Namespace]\nReserve=4999-5001\n");
	IT_ERR(it_call(fd, "config.reload", NULL), 1004, NULL);
	ck_assert_str_eq(state(), before);
	/* A good one: the lines in force are replaced. */
	write_conf("[Daemon]\nSocketMode=0666\n[Namespace]\nReserve=30-39 new\n");
	IT_OK(it_call(fd, "config.reload", NULL));
	l = list();
	ck_assert_int_eq(json_object_array_length(l), 2);
	ck_assert_str_eq(it_str(l, "0.name"), "30-39");
	ck_assert_str_eq(it_str(l, "0.why"), "new");
	ck_assert_str_eq(it_str(l, "1.name"), "rt");
	/* Start-up over a live mapping: refused with the line, nothing served. */
	write_conf("[Daemon]\nSocketMode=0666\n[Namespace]\nReserve=4100-4100 oops\n");
	ck_assert_int_eq(it_stop(&d), 0);
	ck_assert_int_ne(it_restart(&d, "--config", conf, NULL), 0);
	ck_assert_msg(strstr(it_log(&d), "refusing to serve") &&
	                  strstr(it_log(&d), "Reserve=4100-4100") &&
	                  strstr(it_log(&d), "hPASID 4100"),
	              "%s", it_log(&d));
	/* pasidd -n says the same. */
	{
		char *args[] = {"-n",          "--backend", "sim",      "--socket", d.sock,
		                "--state-dir", d.state,     "--config", conf,       NULL};

		ck_assert_int_ne(it_exec(&out, NULL, 60, false, args), 0);
		it_keep_str(out);
		ck_assert_msg(strstr(out, "Reserve=4100-4100"), "%s", out);
	}
	write_conf("[Daemon]\nSocketMode=0666\n");
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	close(fd);
	fd = it_connect(&d);
	ck_assert_int_eq(json_object_array_length(list()), 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("range");
	TCase *tc = ck_case(s, "range", setup, teardown, 0);

	tcase_add_test(tc, admin_only);
	tcase_add_test(tc, conflict_names_first_mapping);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, allocation_skips_reservations);
	tcase_add_test(tc, expiry_removes_it);
	tcase_add_test(tc, expired_at_restart);
	tcase_add_test(tc, kill9_keeps_reservations);
	tcase_add_test(tc, config_lines);
	return ck_main(s, NULL);
}
