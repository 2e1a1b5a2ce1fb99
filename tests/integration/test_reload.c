/* Issue 13: reloading the configuration (config.reload and SIGHUP) on the real pasidd: what
 * may change takes effect (limits, quotas, the admin group), what may not is refused naming
 * the setting, a configuration that does not parse is refused naming its line, and a refusal
 * keeps the configuration in force whole; only an administrator may ask. The command line's
 * options (the harness's --state-dir, --socket, --backend) still override the files. */
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

static struct it_daemon d;
static int fd = -1;
static char conf[256];

static void
write_conf(const char *text)
{
	ck_assert_int_eq(it_write_file(&d, "reload.conf", text, conf, sizeof(conf)), 0);
}

static void
setup(void)
{
	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	write_conf("[Daemon]\nSocketMode=0666\n[Limits]\nMaxVMsPerUid=5\n"
	           "[Quota]\nMax=/reload-test.slice 10\n");
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

static int
vms_per_uid(void)
{
	return (int)it_int(IT_OK(it_call(fd, "daemon.status", NULL)), "limits.max_vms_per_uid");
}

static long
quota_max(void)
{
	struct json_object *r =
	    IT_OK(it_call(fd, "quota.get", "{\"cgroup\":\"/reload-test.slice\"}"));

	return json_object_is_type(it_get(r, "0.max"), json_type_int) ? (long)it_int(r, "0.max")
	                                                              : -1;
}

START_TEST(reload_applies_what_may_change)
{
	ck_assert_int_eq(vms_per_uid(), 5);
	ck_assert_int_eq(quota_max(), 10);
	write_conf("[Daemon]\nSocketMode=0666\n[Limits]\nMaxVMsPerUid=7\n"
	           "[Quota]\nMax=/reload-test.slice 20\nDefaultVMMax=3\n");
	IT_OK(it_call(fd, "config.reload", NULL));
	ck_assert_int_eq(vms_per_uid(), 7);
	ck_assert_int_eq(quota_max(), 20);
	ck_assert_msg(strstr(it_log(&d), "configuration reloaded from ") &&
	                  strstr(it_log(&d), "(config.reload, uid 0)"),
	              "%s", it_log(&d));
	/* The per-VM limit took effect: a fourth PASID is refused. */
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"v\",\"type\":\"shared\",\"count\":3}"));
	IT_ERR(it_call(fd, "pasid.alloc", "{\"vm\":\"v\",\"type\":\"shared\"}"), 1002, NULL);
}
END_TEST

/* Refused, the configuration in force kept whole: a file that does not parse (its line
 * named), a change only a restart can make (the setting named), an unknown admin group. */
static const struct bad {
	const char *text, *says;
} bad[] = {
    {"[Limits]\nMaxVMsPerUid=9\nNoSuchKey=1\n", "reload.conf:3"},
    {"[Limits]\nMaxVMsPerUid=9\n[Namespace]\nSharedRange=8192-9000\n", "SharedRange= changed"},
    {"[Limits]\nMaxVMsPerUid=9\n[Namespace]\nPasidBits=16\n", "PasidBits= changed"},
    {"[Limits]\nMaxVMsPerUid=9\n[Daemon]\nAdminGroup=no-such-group-here\n", "no-such-group-here"},
};

START_TEST(reload_refusals_keep_everything)
{
	const struct bad *b = &bad[_i];
	struct json_object *r;

	write_conf(b->text);
	r = it_call(fd, "config.reload", NULL);
	IT_ERR(r, 1004, "");
	ck_assert_msg(strstr(it_str(r, "error.message"), b->says) &&
	                  strstr(it_str(r, "error.message"), "unchanged"),
	              "%s", it_str(r, "error.message"));
	ck_assert_int_eq(vms_per_uid(), 5);
	ck_assert_int_eq(quota_max(), 10);
	ck_assert_ptr_nonnull(strstr(it_log(&d), "refused"));
}
END_TEST

START_TEST(reload_is_for_administrators)
{
	pid_t holder;
	int nb = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &holder);

	ck_assert_int_ge(nb, 0);
	write_conf("[Limits]\nMaxVMsPerUid=9\n");
	IT_ERR(it_call(nb, "config.reload", NULL), 1005, "");
	close(nb);
	it_holder_release(holder);
	ck_assert_int_eq(vms_per_uid(), 5);
}
END_TEST

/* SIGHUP reloads too (the unit's ExecReload=); a bad file then is logged, not fatal. A
 * SIGHUP sent right after start, before the loop runs (the socket accepts before that), is
 * not lost: here, setup's start and this signal follow each other at once. */
START_TEST(sighup_reloads)
{
	struct timespec t0, now;

	write_conf("[Daemon]\nSocketMode=0666\n[Limits]\nMaxVMsPerUid=9\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (vms_per_uid() == 9)
			break;
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < 30);
	ck_assert_int_eq(vms_per_uid(), 9);
	ck_assert_ptr_nonnull(strstr(it_log(&d), "(SIGHUP)"));
	write_conf("[Limits]\nMaxVMsPerUid=\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (strstr(it_log(&d), "reload (SIGHUP) refused"))
			break;
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < 30);
	ck_assert_msg(strstr(it_log(&d), "reload (SIGHUP) refused"), "%s", it_log(&d));
	ck_assert_int_eq(vms_per_uid(), 9);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = ck_case(s, "reload", setup, teardown, 60);

	tcase_add_test(tc, reload_applies_what_may_change);
	tcase_add_loop_test(tc, reload_refusals_keep_everything, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, reload_is_for_administrators);
	tcase_add_test(tc, sighup_reloads);
	return ck_main(s, NULL);
}
