/* Issue 8, item 12 (daemon side): vm.register by an administrator naming another process
 * (`pid`) hands the VM to it: journaled (it survives a kill -9), logged, and the VM then lives
 * exactly as long as its new owner. Anyone else re-registering from another process finds
 * the name taken. */
#include <check.h>

#include "ck_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

static struct it_daemon d;
static int fd = -1;

static void
setup(void)
{
	ck_assert_msg(it_setup(&d, &fd, NULL) == 0, "pasidd did not start (log in %s)", d.log);
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

/* Waits (bounded, not timed) until vm.show answers `code`. */
static void
wait_code(const char *vm, int code)
{
	int got = -1;

	for (int i = 0; i < 1000 && got != code; i++) {
		got = it_code(fd, "vm.show", vm);
		if (got != code)
			usleep(10000);
	}
	ck_assert_int_eq(got, code);
}

START_TEST(admin_hands_a_vm_to_another_process)
{
	pid_t p1 = itu_idle_child(), p2 = itu_idle_child();
	struct json_object *r;

	r = IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"h\",\"pid\":%d}", (int)p1));
	ck_assert_int_eq(it_int(r, "pid"), p1);
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"h\",\"type\":\"shared\",\"count\":4}"));
	/* The same pid again: unchanged. */
	r = IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"h\",\"pid\":%d}", (int)p1));
	ck_assert_int_eq(it_int(r, "pid"), p1);
	/* Another pid: the VM moves, with everything it holds. */
	r = IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"h\",\"pid\":%d}", (int)p2));
	ck_assert_int_eq(it_int(r, "pid"), p2);
	r = IT_OK(it_call(fd, "vm.show", "{\"vm\":\"h\"}"));
	ck_assert_int_eq(it_int(r, "pid"), p2);
	ck_assert_int_eq(it_int(r, "pasids"), 4);
	/* Journaled: a kill -9 and restart keeps the new owner. */
	it_kill(&d);
	close(fd);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	r = IT_OK(it_call(fd, "vm.show", "{\"vm\":\"h\"}"));
	ck_assert_int_eq(it_int(r, "pid"), p2);
	/* The old owner's exit no longer matters... */
	itu_end_child(p1);
	IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_int_eq(it_code(fd, "vm.show", "{\"vm\":\"h\"}"), 0);
	/* ...the new owner's does. */
	itu_end_child(p2);
	wait_code("{\"vm\":\"h\"}", 1003);
	{
		const char *log = it_log(&d);

		ck_assert_ptr_nonnull(log);
		ck_assert_msg(strstr(log, "VM h handed from owner"),
		              "the hand-over was not logged");
	}
}
END_TEST

START_TEST(handover_is_all_or_nothing)
{
	pid_t p1 = itu_idle_child(), gone;
	const char *before;
	int status;

	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"k\",\"pid\":%d}", (int)p1));
	before = it_snapshot(fd);
	/* A pid that is no process: nothing changes. */
	gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, &status, 0);
	IT_ERR(it_callf(fd, "vm.register", "{\"vm\":\"k\",\"pid\":%d}", (int)gone), 1003, "pid");
	/* A conflicting UUID or mode with a new pid: refused before anything moves. */
	IT_ERR(it_callf(fd, "vm.register", "{\"vm\":\"k\",\"pid\":%d,\"mode\":\"identity\"}",
	                (int)getpid()),
	       1004, "mode");
	ck_assert_str_eq(it_snapshot(fd), before);
	itu_end_child(p1);
}
END_TEST

/* Not an administrator: another process of the same uid finds the name taken. */
START_TEST(non_admin_cannot_take_over)
{
	pid_t h1, h2;
	int a, b;
	struct json_object *r;

	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	ck_assert_int_eq(chmod(d.sock, 0666), 0);
	a = it_connect_as(&d, 65534, 65534, NULL, 0, &h1);
	b = it_connect_as(&d, 65534, 65534, NULL, 0, &h2);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	r = IT_OK(it_call(a, "vm.register", "{\"vm\":\"n\"}"));
	ck_assert_int_eq(it_int(r, "pid"), h1);
	IT_ERR(it_call(b, "vm.register", "{\"vm\":\"n\"}"), 1004, "vm");
	IT_ERR(it_callf(b, "vm.register", "{\"vm\":\"n\",\"pid\":%d}", (int)h2), 1005, "pid");
	r = IT_OK(it_call(fd, "vm.show", "{\"vm\":\"n\"}"));
	ck_assert_int_eq(it_int(r, "pid"), h1);
	close(a);
	close(b);
	it_holder_release(h1);
	it_holder_release(h2);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("handover");
	TCase *tc = tcase_create("handover");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, admin_hands_a_vm_to_another_process);
	tcase_add_test(tc, handover_is_all_or_nothing);
	tcase_add_test(tc, non_admin_cannot_take_over);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0)
		ck_skip("needs root to be an administrator");
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
