/* Issue 8, items 10 and 11: what an operator is told at start-up. pasidd -n checks the
 * configuration against the state directory it would use, as start-up does, names the first
 * mapping that does not fit and the files it read; a missing AdminGroup and a trailing
 * comment are errors in both; and without --foreground a failed start-up is not silent. */
#include <check.h>

#include "ck_main.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

static struct it_daemon d;
static pid_t detached;

static void
teardown(void)
{
	if (detached > 0) {
		kill(detached, SIGTERM);
		/* Not our child: wait for it to go by its socket. */
		for (int i = 0; i < 6000 && itu_find_daemon(d.sock) > 0; i++)
			usleep(10000);
	}
	detached = 0;
	it_cleanup(&d);
	it_release_kept();
}

/* pasidd on d's socket and state directory with `first` (-n, --foreground or nothing) and
 * more arguments (NULL-terminated), to completion; stdout and stderr kept. */
static int
run(char **out, char **err, const char *first, ...)
{
	char *args[32] = {"--backend", "sim", "--socket", d.sock, "--state-dir", d.state};
	int n = 6, st;
	const char *a;
	va_list ap;

	if (first)
		args[n++] = (char *)first;
	va_start(ap, first);
	while ((a = va_arg(ap, const char *)) && n < 31)
		args[n++] = (char *)a;
	va_end(ap);
	args[n] = NULL;
	st = itu_run(out, err, 60, args);
	if (out)
		it_keep_str(*out);
	it_keep_str(*err);
	return st;
}

/* Item 10: -n replays the state it would start on and names what does not fit. */
START_TEST(check_config_against_the_state)
{
	char conf[256], drop[300], dir[300], *out, *err, *before;
	int fd, st;

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(
	    it_write_file(&d, "p.conf", "[Limits]\nMaxBatch=100\n", conf, sizeof(conf)), 0);
	snprintf(dir, sizeof(dir), "%s.d", conf);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(
	    it_write_file(&d, "p.conf.d/10-ranges.conf",
	                  "[Namespace]\nSharedRange=4096-8191\n[Bpf]\nAttachGate=strict\n", drop,
	                  sizeof(drop)),
	    0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"big\"}"));
	IT_OK(it_callf(fd, "device.assign", "{\"vm\":\"big\",\"device\":\"0000:02:00.0\"}"));
	IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"big\",\"type\":\"shared\",\"count\":10}"));
	IT_OK(it_callf(fd, "pasid.alloc",
	               "{\"vm\":\"big\",\"type\":\"local\",\"device\":\"0000:02:00.0\"}"));
	close(fd);

	/* Beside the running daemon (no lock needed): fine, and it says what it read. */
	st = run(&out, &err, "-n", "--config", conf, NULL);
	ck_assert_msg(st == 0, "exit %d: %s%s", st, out, err);
	ck_assert_msg(itu_has_all(out, "read ", conf, drop, "configuration OK",
	                          "1 VM(s), 10 shared and 1 local PASID(s)",
	                          "bpf: AttachGate=strict, DeviceGate=yes, DeviceAllow=(none), "
	                          "ProcDevices=/proc/devices",
	                          NULL),
	              "output: %s", out);
	ck_assert_int_eq(it_stop(&d), 0);

	/* A range that the state no longer fits: refused by -n, naming the mapping, ... */
	before = it_keep_str(itu_dir_digest(d.state));
	st = run(&out, &err, "-n", "--config", conf, "--shared-range", "4096-4100", NULL);
	ck_assert_msg(st == 2, "exit %d: %s%s", st, out, err);
	ck_assert_msg(itu_has_all(err, "VM 'big' maps gPASID 6 to shared hPASID 4101",
	                          "outside the shared range 4096-4100", NULL),
	              "message: %s", err);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
	ck_assert_str_eq(out, "");
	/* ... exactly as start-up refuses it ... */
	st = run(NULL, &err, "--foreground", "--config", conf, "--shared-range", "4096-4100", NULL);
	ck_assert_int_ne(st, 0);
	ck_assert_msg(strstr(err, "VM 'big' maps gPASID 6 to shared hPASID 4101"), "start: %s",
	              err);
	/* ... and a local range that lost the local PASID. */
	st = run(&out, &err, "-n", "--config", conf, "--local-range", "1-10", NULL);
	ck_assert_msg(st == 2 && itu_has_all(err, "VM 'big' maps gPASID 11 to local hPASID 11",
	                                     "outside the local range 1-10", NULL),
	              "exit %d: %s", st, err);
	/* Nothing written: no truncation, no lock taken, no file created. */
	ck_assert_str_eq(before, it_keep_str(itu_dir_digest(d.state)));
}
END_TEST

/* -n reads a torn tail as start-up would, but does not cut it off. */
START_TEST(check_config_writes_nothing)
{
	char path[256], *out, *err, *before;
	FILE *f;
	int fd, st;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"t\"}"));
	IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"t\",\"type\":\"shared\",\"count\":3}"));
	close(fd);
	it_kill(&d);
	snprintf(path, sizeof(path), "%s/journal.0", d.state);
	f = fopen(path, "ab");
	fwrite("\x20\x00\x00\x00\xde\xad", 1, 6, f);
	fclose(f);
	before = it_keep_str(itu_dir_digest(d.state));
	st = run(&out, &err, "-n", "--config", "/dev/null", NULL);
	ck_assert_msg(st == 0, "exit %d: %s", st, err);
	ck_assert_msg(strstr(out, "1 VM(s), 3 shared"), "%s", out);
	ck_assert_str_eq(before, it_keep_str(itu_dir_digest(d.state)));
}
END_TEST

/* Item 10: an AdminGroup that names no group, and a value with a trailing comment, are errors
 * for -n and start-up alike (exit 2, one line naming file and line). */
START_TEST(admin_group_and_trailing_comment)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
	    {"[Daemon]\nAdminGroup=no-such-group-pasidd\n",
	     ":2: AdminGroup=no-such-group-pasidd names no group"},
	    {"[Daemon]\n\nSocketGroup=pasid # who may connect\n",
	     ":3: the value of SocketGroup= holds a '#' comment; comments must be on a line of "
	     "their own"},
	    {"[Namespace]\nSharedRange=4096-8191 # half\n", ":2: the value of SharedRange="},
	    {"[WorkQueue]\nName=dsa0/wq0.1\nMode=dedicated\nType=user\nThreshold=4\n",
	     ":5: Threshold= is for a shared WQ; dsa0/wq0.1 is Mode=dedicated"},
	};
	char conf[256], name[32], *err;

	ck_assert_int_eq(it_prepare(&d), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "c%zu.conf", i);
		ck_assert_int_eq(it_write_file(&d, name, cases[i].text, conf, sizeof(conf)), 0);
		for (int pass = 0; pass < 3; pass++) {
			const char *mode = pass == 0 ? "-n" : pass == 1 ? "--foreground" : NULL;
			int st = mode ? run(NULL, &err, mode, "--config", conf, NULL)
			              : run(NULL, &err, "--config", conf, NULL);

			ck_assert_msg(st == 2 && !strncmp(err, "pasidd: ", 8) &&
			                  strstr(err, conf) && strstr(err, cases[i].needle) &&
			                  strchr(err, '\n') == err + strlen(err) - 1,
			              "%s with '%s': exit %d, '%s'", mode ? mode : "detached",
			              cases[i].text, st, err);
		}
	}
}
END_TEST

/* pasidd -n lists the [WorkQueue] sections as configured, with where each is, and says when
 * shared PASIDs need a WQ; it reads no device, so none need exist. */
START_TEST(check_config_lists_work_queues)
{
	char conf[256], *out, *err;
	int st;

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(it_write_file(&d, "wq.conf",
	                               "[Idxd]\nRequireWQ=yes\nSysfsRoot=/nonexistent\n\n"
	                               "[WorkQueue]\nName=dsa0/wq0.1\nMode=shared\nType=user\n"
	                               "Size=32\nThreshold=16\nLabel=vms\n",
	                               conf, sizeof(conf)),
	                 0);
	st = run(&out, &err, "-n", "--config", conf, NULL);
	ck_assert_msg(st == 0, "exit %d: %s%s", st, out, err);
	ck_assert_msg(itu_has_all(out,
	                          "work queue dsa0/wq0.1 shared user size 32 threshold 16 "
	                          "label 'vms' (",
	                          conf, ":6)\n", "every allocation must name a work queue",
	                          "configuration OK", NULL),
	              "output: %s", out);
}
END_TEST

/* Item 11: without --foreground, a start-up failure reaches the terminal with its status. */
START_TEST(detached_failure_is_reported)
{
	char sock2[200], *out, *err;
	int st, fd;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	/* Another pasidd on the same socket (its own state directory). */
	snprintf(sock2, sizeof(sock2), "%s/state2", d.dir);
	{
		char *args[] = {"--backend", "sim",         "--config", "/dev/null", "--socket",
		                d.sock,      "--state-dir", sock2,      NULL};

		st = itu_run(&out, &err, 60, args);
		it_keep_str(out);
		it_keep_str(err);
	}
	ck_assert_msg(st != 0, "exit %d", st);
	ck_assert_msg(strstr(err, "another pasidd is already serving"), "stderr: '%s'", err);
	/* The one on the socket is untouched. */
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	close(fd);
	it_kill(&d);
	/* A state that cannot be replayed: the reason, not just a status. */
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/journal.0", d.state);
		ck_assert_int_eq(itu_flip_byte(path, 3), 0);
	}
	st = run(&out, &err, "--config", "/dev/null", NULL);
	ck_assert_int_eq(st, 1);
	ck_assert_msg(strstr(err, "journal.0 does not start with PASIDDJ1"), "stderr: '%s'", err);
}
END_TEST

/* Item 11: the parent returns only once the daemon serves. */
START_TEST(detached_start_serves_at_once)
{
	char *out, *err;
	int st, fd;

	ck_assert_int_eq(it_prepare(&d), 0);
	st = run(&out, &err, "--config", "/dev/null", NULL);
	detached = itu_find_daemon(d.sock);
	ck_assert_msg(st == 0, "exit %d: %s", st, err);
	ck_assert_str_eq(err, "");
	fd = it_connect(&d); /* no retry: it must answer now */
	ck_assert_int_ge(fd, 0);
	IT_OK(it_call(fd, "daemon.status", NULL));
	close(fd);
	ck_assert_int_gt(detached, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("startup");
	TCase *tc = tcase_create("startup");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, check_config_against_the_state);
	tcase_add_test(tc, check_config_writes_nothing);
	tcase_add_test(tc, admin_group_and_trailing_comment);
	tcase_add_test(tc, check_config_lists_work_queues);
	tcase_add_test(tc, detached_failure_is_reported);
	tcase_add_test(tc, detached_start_serves_at_once);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
