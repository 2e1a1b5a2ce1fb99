/* Issue 10: which backend pasidd runs, as an operator sees it. On a host without /dev/iommu
 * (the whole program is skipped on one with it): `--backend iommufd` (or Backend=iommufd)
 * refuses to start, saying why, and serves nothing; `auto` falls back to sim and says so in
 * the log and in daemon.status.backend {requested, why}; an explicit sim has no why. */
#include <check.h>

#include "ck_main.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

static struct it_daemon d;

static void
teardown(void)
{
	it_cleanup(&d);
	it_release_kept();
}

/* pasidd with the backend options given (NULL-terminated), on d, to completion. */
static int
run(char **err, const char *first, ...)
{
	char *args[24] = {"--config", "/dev/null", "--socket", d.sock, "--state-dir", d.state};
	int n = 6, st;
	const char *a;
	va_list ap;

	va_start(ap, first);
	for (a = first; a && n < 23; a = va_arg(ap, const char *))
		args[n++] = (char *)a;
	va_end(ap);
	args[n] = NULL;
	st = itu_run(NULL, err, 60, args);
	it_keep_str(*err);
	return st;
}

static void
assert_refused(int st, int want, const char *err)
{
	struct stat sb;

	ck_assert_msg(st == want, "exit %d, not %d: %s", st, want, err);
	ck_assert_msg(itu_has_all(err, "the iommufd backend cannot open /dev/iommu",
	                          "No such file or directory", "--backend sim", NULL),
	              "stderr: '%s'", err);
	ck_assert_msg(stat(d.sock, &sb) < 0, "a socket was left at %s", d.sock);
}

START_TEST(iommufd_without_dev_iommu_refuses_to_start)
{
	char conf[256], *err;
	int st;

	ck_assert_int_eq(it_prepare(&d), 0);
	st = run(&err, "--foreground", "--backend", "iommufd", NULL);
	assert_refused(st, 1, err);
	/* Detached: the reason reaches the terminal. */
	st = run(&err, "--backend", "iommufd", NULL);
	assert_refused(st, 1, err);
	/* The configuration file's key says the same; -n checks it as start-up would. */
	ck_assert_int_eq(
	    it_write_file(&d, "p.conf", "[Daemon]\nBackend=iommufd\n", conf, sizeof(conf)), 0);
	st = run(&err, "--foreground", "--config", conf, NULL);
	assert_refused(st, 1, err);
	st = run(&err, "-n", "--config", conf, NULL);
	assert_refused(st, 2, err);
}
END_TEST

START_TEST(auto_falls_back_to_sim_and_says_why)
{
	struct json_object *r, *be;
	int fd;

	ck_assert_int_eq(it_start(&d, "--backend", "auto", NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_ptr_nonnull(r);
	be = it_get(r, "backend");
	ck_assert_msg(it_members(be, "name", "requested", "why", "pasid_bits", "caps", NULL), "%s",
	              json_object_to_json_string(be));
	ck_assert_str_eq(it_str(be, "name"), "sim");
	ck_assert_str_eq(it_str(be, "requested"), "auto");
	ck_assert_str_eq(it_str(be, "why"), "no /dev/iommu (a kernel without CONFIG_IOMMUFD)");
	ck_assert_msg(strstr(it_log(&d), "backend auto: using sim, which does not program the "
	                                 "kernel: no /dev/iommu"),
	              "log: %s", it_log(&d));
	close(fd);
	/* pasidctl status says it too, in text. */
	{
		char cmd[512], out[4096];
		size_t n;
		FILE *p;

		snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' status 2>&1", getenv("PASIDCTL"),
		         d.sock);
		p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		ck_assert_int_eq(pclose(p), 0);
		ck_assert_msg(strstr(out, "requested:    auto (no /dev/iommu (a kernel without "
		                          "CONFIG_IOMMUFD))\n"),
		              "pasidctl status: %s", out);
	}
}
END_TEST

START_TEST(explicit_sim_has_no_why)
{
	struct json_object *r, *be;
	int fd;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_ptr_nonnull(r);
	be = it_get(r, "backend");
	ck_assert_msg(it_members(be, "name", "requested", "pasid_bits", "caps", NULL), "%s",
	              json_object_to_json_string(be));
	ck_assert_str_eq(it_str(be, "requested"), "sim");
	ck_assert_ptr_null(strstr(it_log(&d), "backend auto"));
	close(fd);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("backend");
	TCase *tc = ck_case(s, "choice", NULL, teardown, 0);

	if (access("/dev/iommu", F_OK) == 0)
		ck_skip("this host has /dev/iommu: auto would not fall back");
	tcase_add_test(tc, iommufd_without_dev_iommu_refuses_to_start);
	tcase_add_test(tc, auto_falls_back_to_sim_and_says_why);
	tcase_add_test(tc, explicit_sim_has_no_why);
	return ck_main(s, NULL);
}
