/* Issue 4: the [Limits] protections, each at its boundary, and what a refused peer sees. The
 * per-uid limits, seen from uid 65534 beside root, are tagged root (ctest
 * integration/test_limits/root). */
#include <check.h>

#include "ck_main.h"
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define NOBODY 65534

static struct it_daemon d;

static void
start_with(const char *limits)
{
	char conf[256], text[1024];

	ck_assert_int_eq(it_prepare(&d), 0);
	/* Unprivileged peers must reach the socket in the private directory. */
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	snprintf(text, sizeof(text), "[Daemon]\nSocketMode=0666\n[Limits]\n%s", limits);
	ck_assert_int_eq(it_write_file(&d, "limits.conf", text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
}

static void
teardown(void)
{
	it_release_kept();
	it_cleanup(&d);
}

/* Connects as uid `uid` (a child that drops privileges first, since the peer's credentials
 * are taken at connect) and runs fn in it; the child's exit status is fn's result. */
static int
as_uid(uid_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (setgid(uid) < 0 || setuid(uid) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static void
make_batch(char *batch, size_t len, int count)
{
	size_t n = (size_t)snprintf(batch, len, "[");

	for (int i = 0; i < count; i++)
		n += (size_t)snprintf(batch + n, len - n,
		                      "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
		                      "\"params\":{\"vm\":\"b\",\"type\":\"shared\"}}",
		                      i ? "," : "", i);
	snprintf(batch + n, len - n, "]");
}

START_TEST(batch_limit)
{
	int fd;
	char batch[2048];
	struct json_object *r;
	const char *before;

	start_with("MaxBatch=4\n");
	fd = it_connect(&d);
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"b\"}"), 0);
	before = it_snapshot(fd);
	make_batch(batch, sizeof(batch), 5);
	r = it_keep(json_tokener_parse(it_keep_str(it_roundtrip(fd, batch))));
	/* One error object for the whole batch, and none of it done. */
	ck_assert(json_object_is_type(r, json_type_object));
	ck_assert_int_eq(it_errcode(r), -32600);
	ck_assert_str_eq(it_snapshot(fd), before);
	/* At the limit it is served. */
	make_batch(batch, sizeof(batch), 4);
	r = it_keep(json_tokener_parse(it_keep_str(it_roundtrip(fd, batch))));
	ck_assert(json_object_is_type(r, json_type_array));
	ck_assert_int_eq(json_object_array_length(r), 4);
	r = it_keep(it_call(fd, "daemon.status", NULL));
	ck_assert_int_eq(it_int(r, "result.limits.max_batch"), 4);
	close(fd);
}
END_TEST

START_TEST(connection_limit)
{
	int fds[6];

	start_with("MaxConnections=5\n");
	for (int i = 0; i < 5; i++) {
		fds[i] = it_connect(&d);
		ck_assert_int_eq(it_code(fds[i], "vm.list", NULL), 0);
	}
	/* The sixth is closed at once; the others keep working. */
	fds[5] = it_connect(&d);
	ck_assert_int_ge(fds[5], 0);
	ck_assert_int_eq(it_wait_eof(fds[5], 10000), 1);
	close(fds[5]);
	ck_assert_int_eq(it_code(fds[0], "vm.list", NULL), 0);
	/* A freed slot can be taken again. */
	close(fds[4]);
	fds[4] = -1;
	for (int tries = 0; tries < 100 && fds[4] < 0; tries++) {
		int fd = it_connect(&d);
		struct json_object *r = it_call(fd, "vm.list", NULL);

		if (r && !it_errcode(r))
			fds[4] = fd;
		else
			close(fd), usleep(20000);
		json_object_put(r);
	}
	ck_assert_int_ge(fds[4], 0);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
}
END_TEST

static int
nobody_connections(void *arg)
{
	int fds[3];

	for (int i = 0; i < 3; i++)
		fds[i] = it_connect(&d);
	if (it_code(fds[0], "vm.list", NULL) != 0 || it_code(fds[1], "vm.list", NULL) != 0)
		return 1;
	/* The third connection of this uid is turned away. */
	if (it_wait_eof(fds[2], 10000) != 1)
		return 2;
	return 0;
}

START_TEST(per_uid_connection_limit)
{
	int root[5];

	start_with("MaxConnectionsPerUid=2\n");
	ck_assert_int_eq(as_uid(NOBODY, nobody_connections, NULL), 0);
	/* uid 0 is not limited per uid. */
	for (int i = 0; i < 5; i++) {
		root[i] = it_connect(&d);
		ck_assert_int_eq(it_code(root[i], "vm.list", NULL), 0);
	}
	for (int i = 0; i < 5; i++)
		close(root[i]);
}
END_TEST

struct hold {
	int ready;   /* written once the VMs exist */
	int release; /* EOF when the parent has looked */
};

static int
nobody_vms(void *arg)
{
	struct hold *h = arg;
	int fd = it_connect(&d), bad = 0;
	struct json_object *r;
	char c;

	if (it_code(fd, "vm.register", "{\"vm\":\"n1\"}") ||
	    it_code(fd, "vm.register", "{\"vm\":\"n2\"}"))
		return 1;
	r = it_call(fd, "vm.register", "{\"vm\":\"n3\"}");
	if (it_errcode(r) != 1002 || strcmp(it_errreason(r), "quota_exceeded") ||
	    !it_str(r, "error.data.limit") ||
	    strcmp(it_str(r, "error.data.limit"), "MaxVMsPerUid") ||
	    it_int(r, "error.data.max") != 2 || it_int(r, "error.data.current") != 2)
		bad = 2;
	json_object_put(r);
	/* Registering an existing one again is not a new VM. */
	if (!bad && it_code(fd, "vm.register", "{\"vm\":\"n1\"}"))
		bad = 3;
	/* This process owns the VMs: hold them until the parent has looked. */
	if (write(h->ready, "k", 1) != 1 || read(h->release, &c, 1) < 0)
		bad = bad ? bad : 4;
	return bad;
}

START_TEST(per_uid_vm_limit)
{
	int ready[2], release[2], fd, st;
	struct hold h;
	pid_t pid;
	char c;
	struct json_object *r;

	start_with("MaxVMsPerUid=2\n");
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(release), 0);
	h = (struct hold){.ready = ready[1], .release = release[0]};
	pid = fork();
	if (pid == 0) {
		close(release[1]);
		if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(100);
		_exit(nobody_vms(&h));
	}
	close(ready[1]);
	close(release[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	fd = it_connect(&d);
	r = it_keep(it_call(fd, "vm.list", NULL));
	ck_assert_int_eq(json_object_array_length(it_get(it_result(r), "vms")), 2);
	/* uid 0 is not limited. */
	for (int i = 0; i < 4; i++) {
		char p2[64];

		snprintf(p2, sizeof(p2), "{\"vm\":\"root%d\"}", i);
		ck_assert_int_eq(it_code(fd, "vm.register", p2), 0);
	}
	close(release[1]);
	waitpid(pid, &st, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	close(fd);
}
END_TEST

START_TEST(idle_timeout)
{
	int stall, quiet, fd;

	start_with("IdleTimeoutSec=1\n");
	stall = it_connect(&d);
	quiet = it_connect(&d);
	ck_assert_int_eq(it_code(quiet, "vm.list", NULL), 0);
	ck_assert_int_eq(it_send(stall, "{\"jsonrpc\":", 11), 0);
	/* The half-sent message is dropped with its connection (bounded wait, not timed). */
	ck_assert_int_eq(it_wait_eof(stall, 30000), 1);
	/* A connection without a started message may stay as long as it likes. */
	ck_assert_int_eq(it_code(quiet, "vm.list", NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_eq(it_code(fd, "vm.list", NULL), 0);
	close(stall);
	close(quiet);
	close(fd);
}
END_TEST

START_TEST(pending_answers_pause_not_lose)
{
	int fd, other;
	const int n = 300;
	char line[160];

	start_with("MaxPending=4\n");
	fd = it_connect(&d);
	other = it_connect(&d);
	/* Many requests, none of the answers read yet. */
	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line),
		         "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"vm.list\"}\n", i);
		ck_assert_int_eq(it_send(fd, line, strlen(line)), 0);
	}
	/* Someone else is served meanwhile. */
	ck_assert_int_eq(it_code(other, "daemon.status", NULL), 0);
	/* Every answer arrives, in order. */
	for (int i = 0; i < n; i++) {
		struct json_object *r = it_recvjson(fd, 10000);

		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(it_int(r, "id"), i);
		json_object_put(r);
	}
	close(fd);
	close(other);
}
END_TEST

START_TEST(out_of_descriptors_pauses_accepting)
{
	enum { N = 80 };
	int fds[N], answered = 0;
	char *old = getenv("PASIDD_WRAPPER") ? strdup(getenv("PASIDD_WRAPPER")) : NULL;

	/* A hard limit of 48 descriptors: the daemon cannot accept all 80 connections. */
	setenv("PASIDD_WRAPPER", "prlimit --nofile=48:48", 1);
	start_with("");
	if (old)
		setenv("PASIDD_WRAPPER", old, 1);
	else
		unsetenv("PASIDD_WRAPPER");
	free(old);
	for (int i = 0; i < N; i++) {
		fds[i] = it_connect(&d);
		ck_assert_int_ge(fds[i], 0); /* the listen backlog takes the rest */
		ck_assert_int_eq(it_sendline(fds[i], "{\"jsonrpc\":\"2.0\",\"id\":1,"
		                                     "\"method\":\"vm.list\"}"),
		                 0);
	}
	/* Those it could accept are answered; it keeps serving them. */
	for (int i = 0; i < 20; i++) {
		struct json_object *r = it_recvjson(fds[i], 10000);

		ck_assert_ptr_nonnull(r);
		json_object_put(r);
		close(fds[i]);
		answered++;
	}
	/* With descriptors free again, the waiting connections are accepted and served. */
	for (int i = 20; i < N; i++) {
		struct json_object *r = it_recvjson(fds[i], 30000);

		ck_assert_msg(r != NULL, "connection %d never answered", i);
		json_object_put(r);
		close(fds[i]);
		answered++;
	}
	ck_assert_int_eq(answered, N);
}
END_TEST

int
main(void)
{
	static const struct ck_need needs[] = {{"root", ck_lacking_root}, {NULL, NULL}};
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, batch_limit);
	tcase_add_test(tc, connection_limit);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, pending_answers_pause_not_lose);
	tcase_add_test(tc, out_of_descriptors_pauses_accepting);
	suite_add_tcase(s, tc);
	tc = ck_case(s, "per-uid", NULL, teardown, 120);
	tcase_set_tags(tc, "root");
	tcase_add_test(tc, per_uid_connection_limit);
	tcase_add_test(tc, per_uid_vm_limit);
	return ck_main(s, needs);
}
