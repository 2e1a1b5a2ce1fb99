/* The edge's seams that no public method uses yet, through methods of this test's own table
 * (struct pasidd's `methods`) on the daemon as the composition root builds it:
 *
 *  - descriptors reach the handler: a request takes the next params.fds of its message's
 *    descriptors, a handler owns one it takes, the rest are closed once the message is
 *    handled; through rpc_handle_msg() and through the real server (SCM_RIGHTS);
 *  - the server can push: server_push() queues a message that is not an answer, held like
 *    answers until the commit that covers the changes before it (never sent when that commit
 *    fails), after the array of a batch answer being streamed, and refused beyond the
 *    output bound. */
#include <check.h>

#include "ck_main.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "methods.h"
#include "peer.h"
#include "server.h"
#include "state.h"

static struct pasidd D;
static char dir[64];
static struct peer self;

/* What the test methods saw. */
static int calls, taken = -1;
static unsigned given;
static struct conn *conn;
static int pushed = 1; /* server_push()'s answer in test.push */
static uint64_t quota_max;

static int
take_first(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	calls++;
	given = c->nfds;
	taken = rpc_take_fd(c, 0);
	/* Taken once only. */
	ck_assert_int_eq(rpc_take_fd(c, 0), -1);
	ck_assert_int_eq(rpc_take_fd(c, c->nfds), -1);
	return 0;
}

static int
count_call(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	calls++;
	return 0;
}

static int
remember_conn(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	conn = c->conn;
	return 0;
}

static struct json_object *
notification(int n)
{
	struct json_object *o = json_object_new_object(), *p = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "method", json_object_new_string("event"));
	json_object_object_add(p, "n", json_object_new_int(n));
	json_object_object_add(o, "params", p);
	return o;
}

/* Pushes {"n": id of the request}; with `change`, after a change of the state. */
static int
push(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct ns_err err;

	if (a->count > 0 && ns_quota_set(&c->d->ns, "/edge-test", ++quota_max, &err) < 0)
		return rpc_fail_ns(c, &err);
	pushed = server_push(c->conn, notification(++calls));
	return 0;
}

static const struct rpc_method test_methods[] = {
    {.name = "test.take", .fn = take_first, .params = RPC_PARAMS(P_FDS(0, 4))},
    {.name = "test.none", .fn = count_call, .params = RPC_NO_PARAMS},
    {.name = "test.conn", .fn = remember_conn, .params = RPC_NO_PARAMS},
    {.name = "test.push",
     .fn = push,
     .mutates = true,
     .params = RPC_PARAMS(P_INT("change", count, RPC_OPTIONAL, 1, 1))},
    {.name = NULL},
};

static void
up(bool server)
{
	char why[512] = "", path[128];
	int sv[2];

	/* Fresh for each test, also when Check does not fork (CK_FORK=no, as under valgrind). */
	memset(&D, 0, sizeof(D));
	calls = 0;
	taken = -1;
	given = 0;
	conn = NULL;
	pushed = 1;
	snprintf(dir, sizeof(dir), "/tmp/test_edge.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	config_init(&D.cfg);
	free(D.cfg.backend);
	D.cfg.backend = strdup("sim");
	free(D.cfg.state_dir);
	D.cfg.state_dir = strdup(dir);
	snprintf(path, sizeof(path), "%s/sock", dir);
	free(D.cfg.socket_path);
	D.cfg.socket_path = strdup(path);
	free(D.cfg.socket_group);
	D.cfg.socket_group = strdup("");
	ck_assert_msg(config_finish(&D.cfg, why, sizeof(why)) == 0, "%s", why);
	D.admin_gid = (gid_t)-1;
	clock_gettime(CLOCK_MONOTONIC, &D.started);
	ck_assert_msg(pasidd_open(&D, server ? 0 : PASIDD_NO_SERVER, why, sizeof(why)) == 0, "%s",
	              why);
	D.methods = test_methods;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(peer_from_socket(sv[0], (gid_t)-1, &self, why, sizeof(why)), 0);
	close(sv[0]);
	close(sv[1]);
}

static void
down(void)
{
	char cmd[128];

	pasidd_close(&D);
	config_free(&D.cfg);
	if (self.pidfd >= 0)
		close(self.pidfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Whether the write end of a pipe is closed everywhere: its read end sees EOF. */
static bool
closed(int rd)
{
	struct pollfd p = {.fd = rd, .events = POLLIN};
	char ch;

	return poll(&p, 1, 0) == 1 && read(rd, &ch, 1) == 0;
}

static void
make_pipes(int rd[], int wr[], int n)
{
	for (int i = 0; i < n; i++) {
		int p[2];

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		rd[i] = p[0];
		wr[i] = p[1];
	}
}

static struct json_object *
handle(const char *line, struct rpc_fds *fds)
{
	struct rpc_msg m = {.peer = &self, .line = line, .len = strlen(line), .fds = fds};

	return rpc_handle_msg(&D, &m);
}

static const char *
text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

#define REQ(id, method, params)                                                                    \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"" method "\",\"params\":" params "}"

/* A batch: each request takes what its fds says, in order; a handler owns what it takes,
 * the slot's owner closes the rest. */
START_TEST(fds_reach_the_handler)
{
	int rd[4], wr[4], first = -1;
	struct rpc_fds fds = {.n = 4};
	struct json_object *r;

	up(false);
	make_pipes(rd, wr, 4);
	memcpy(fds.fd, wr, sizeof(wr));
	r = handle("[" REQ(1, "test.take", "{\"fds\":2}") "," REQ(2, "test.none", "{}") "," REQ(
	               3, "test.take", "{\"fds\":1}") "]",
	           &fds);
	ck_assert_str_eq(
	    json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
	    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}},{\"jsonrpc\":\"2.0\",\"id\":2,"
	    "\"result\":{}},{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}]");
	json_object_put(r);
	ck_assert_int_eq(calls, 3);
	ck_assert_uint_eq(fds.next, 3);
	ck_assert_int_eq(given, 1);
	/* The third request took the third descriptor; the first took the first. */
	ck_assert_int_eq(taken, wr[2]);
	ck_assert_int_eq(fds.fd[0], -1);
	first = wr[0];
	ck_assert_int_eq(fds.fd[2], -1);
	rpc_fds_close(&fds);
	ck_assert_uint_eq(fds.n, 0);
	/* Left by its request: closed with the message. Never given out: closed too. */
	ck_assert(closed(rd[1]));
	ck_assert(closed(rd[3]));
	/* Taken: the handlers' to close, still open. */
	ck_assert(!closed(rd[0]));
	ck_assert(!closed(rd[2]));
	close(first);
	close(taken);
	ck_assert(closed(rd[0]));
	ck_assert(closed(rd[2]));
	for (int i = 0; i < 4; i++)
		close(rd[i]);
	down();
}
END_TEST

/* Too few descriptors for what fds says, fds on a method that takes none, a refused request
 * that still consumes its own: the handlers never see another request's descriptors. */
START_TEST(fds_refused)
{
	int rd[3], wr[3];
	struct rpc_fds fds = {.n = 1};
	struct json_object *r;

	up(false);
	make_pipes(rd, wr, 3);
	fds.fd[0] = wr[0];
	r = handle(REQ(1, "test.take", "{\"fds\":2}"), &fds);
	ck_assert_ptr_nonnull(strstr(text(r), "\"code\":-32602"));
	ck_assert_ptr_nonnull(strstr(text(r), "\"param\":\"fds\""));
	json_object_put(r);
	r = handle(REQ(2, "test.none", "{\"fds\":1}"), &fds);
	ck_assert_ptr_nonnull(strstr(text(r), "unknown parameter 'fds'"));
	json_object_put(r);
	ck_assert_int_eq(calls, 0);
	ck_assert_uint_eq(fds.next, 0);
	rpc_fds_close(&fds);
	ck_assert(closed(rd[0]));

	/* The first request is refused (an unknown member) after taking its descriptor: the
	 * second gets the second. */
	fds = (struct rpc_fds){.n = 2, .fd = {wr[1], wr[2]}};
	r = handle("[" REQ(1, "test.take", "{\"fds\":1,\"x\":1}") "," REQ(2, "test.take",
	                                                                  "{\"fds\":1}") "]",
	           &fds);
	json_object_put(r);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(taken, wr[2]);
	rpc_fds_close(&fds);
	ck_assert(closed(rd[1]));
	close(taken);
	for (int i = 0; i < 3; i++)
		close(rd[i]);
	down();
}
END_TEST

/* ---- through the server ---- */

static int
client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", D.cfg.socket_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
send_fds(int fd, const char *line, const int *fds, int n)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)line, .iov_len = strlen(line)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (n > 0) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(fd, &mh, 0), (ssize_t)strlen(line));
}

/* Everything the daemon sends within ms, as text. */
static char *
receive(int fd, int ms)
{
	static char buf[1 << 20];
	size_t n = 0;

	for (int i = 0; i < ms; i++) {
		ssize_t k;

		event_base_loop(D.base, EVLOOP_NONBLOCK);
		while ((k = recv(fd, buf + n, sizeof(buf) - 1 - n, MSG_DONTWAIT)) > 0)
			n += (size_t)k;
		usleep(1000);
	}
	buf[n] = '\0';
	return buf;
}

/* Says test.conn on a new connection and remembers that connection. */
static int
connect_and_remember(void)
{
	int fd = client();

	send_fds(fd, REQ(1, "test.conn", "{}") "\n", NULL, 0);
	ck_assert_str_eq(receive(fd, 50), "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n");
	ck_assert_ptr_nonnull(conn);
	return fd;
}

START_TEST(fds_through_the_server)
{
	int rd[2], wr[2], fd;

	up(true);
	fd = client();
	make_pipes(rd, wr, 2);
	send_fds(fd, REQ(7, "test.take", "{\"fds\":2}") "\n", wr, 2);
	close(wr[0]);
	close(wr[1]);
	ck_assert_str_eq(receive(fd, 50), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n");
	ck_assert_int_eq(given, 2);
	ck_assert_int_ge(taken, 0);
	/* The second was the message's to close; the first is the handler's. */
	ck_assert(closed(rd[1]));
	ck_assert(!closed(rd[0]));
	close(taken);
	ck_assert(closed(rd[0]));
	close(rd[0]);
	close(rd[1]);
	close(fd);
	down();
}
END_TEST

START_TEST(push_when_nothing_waits)
{
	int fd;

	up(true);
	fd = connect_and_remember();
	ck_assert_int_eq(server_push(conn, notification(5)), 0);
	ck_assert_str_eq(receive(fd, 50),
	                 "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"n\":5}}\n");
	close(fd);
	down();
}
END_TEST

/* The journal's descriptor, to make its next commit fail. */
static int
journal_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[PATH_MAX], want[128];
	int found = -1;

	snprintf(want, sizeof(want), "%s/journal.", dir);
	while (d && (e = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);

		if (n > 0) {
			link[n] = '\0';
			if (!strncmp(link, want, strlen(want)))
				found = atoi(e->d_name);
		}
	}
	closedir(d);
	ck_assert_int_ge(found, 0);
	return found;
}

/* A message pushed after a change leaves with the commit that covers it, and not at all when
 * that commit fails. */
START_TEST(push_waits_for_the_commit)
{
	int fd, null;

	up(true);
	fd = connect_and_remember();
	send_fds(fd, REQ(2, "test.push", "{\"change\":1}") "\n", NULL, 0);
	ck_assert_str_eq(receive(fd, 50),
	                 "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"n\":1}}\n"
	                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n");
	ck_assert_int_eq(pushed, 0);
	ck_assert(!state_dirty(D.state));

	/* The next commit fails: neither the pushed message nor the answer may leave. */
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(dup2(null, journal_fd()), 0);
	close(null);
	send_fds(fd, REQ(3, "test.push", "{\"change\":1}") "\n", NULL, 0);
	ck_assert_str_eq(receive(fd, 100), "");
	ck_assert_int_eq(pushed, 0);
	ck_assert(state_failed(D.state));
	ck_assert_int_eq(D.exit_status, 1);
	close(fd);
	down();
}
END_TEST

/* A commit runs off the loop (its worker paused here): meanwhile a read-only answer on another
 * connection waits for it too (it may report that commit's changes: DESIGN.md §5), one behind a
 * held answer on the same connection waits behind it (answers keep their order), and a change
 * made during the flight waits for the next commit, which starts when the one in flight is
 * done. */
START_TEST(answers_wait_for_their_own_commit)
{
	char *got;
	int a, b;

	up(true);
	a = connect_and_remember();
	b = client();
	state_test_pause_commits(D.state, true);
	send_fds(a, REQ(2, "test.push", "{\"change\":1}") "\n", NULL, 0);
	ck_assert_str_eq(receive(a, 50), "");
	send_fds(b, REQ(3, "test.none", "{}") "\n", NULL, 0);
	ck_assert_str_eq(receive(b, 50), "");
	send_fds(a, REQ(4, "test.none", "{}") "\n", NULL, 0);
	ck_assert_str_eq(receive(a, 50), "");
	send_fds(b, REQ(5, "test.push", "{\"change\":1}") "\n", NULL, 0);
	ck_assert_str_eq(receive(b, 50), "");
	ck_assert(state_durable_gen(D.state) < state_next_gen(D.state));
	state_test_pause_commits(D.state, false);
	got = strdup(receive(a, 200));
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"n\":1}}\n"
	                      "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n"
	                      "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}\n");
	ck_assert_str_eq(receive(b, 200),
	                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n"
	                 "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"n\":4}}\n"
	                 "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}\n");
	ck_assert(!state_failed(D.state));
	free(got);
	close(a);
	close(b);
	down();
}
END_TEST

/* The commit in flight fails: none of its answers leaves, nor any of the group appended
 * behind it, and the daemon stops acknowledging (exit status 1). */
START_TEST(failed_commit_sends_nothing_of_its_group)
{
	int a, b, null;

	up(true);
	a = connect_and_remember();
	b = client();
	state_test_pause_commits(D.state, true);
	send_fds(a, REQ(2, "test.push", "{\"change\":1}") "\n", NULL, 0);
	ck_assert_str_eq(receive(a, 50), "");
	send_fds(b, REQ(3, "test.push", "{\"change\":1}") "\n", NULL, 0);
	ck_assert_str_eq(receive(b, 50), "");
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(dup2(null, journal_fd()), 0);
	close(null);
	state_test_pause_commits(D.state, false);
	ck_assert_str_eq(receive(a, 200), "");
	ck_assert_str_eq(receive(b, 50), "");
	ck_assert(state_failed(D.state));
	ck_assert_int_eq(D.exit_status, 1);
	close(a);
	close(b);
	down();
}
END_TEST

/* Pushed while a batch answer is being streamed: after its closing bracket, whole. */
START_TEST(push_after_a_batch_answer)
{
	int fd;

	up(true);
	fd = connect_and_remember();
	send_fds(fd, "[" REQ(1, "test.push", "{}") "," REQ(2, "test.push", "{}") "]\n", NULL, 0);
	ck_assert_str_eq(receive(fd, 50),
	                 "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"n\":1}}\n"
	                 "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}},{\"jsonrpc\":\"2.0\","
	                 "\"id\":2,\"result\":{}}]\n"
	                 "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"n\":2}}\n");
	close(fd);
	down();
}
END_TEST

/* A peer that does not read gets pushed messages up to the output bound, then none. */
START_TEST(push_is_bounded)
{
	static char pad[64 * 1024];
	int fd, accepted = 0, r;
	char *got, *line;

	up(true);
	fd = connect_and_remember();
	memset(pad, 'x', sizeof(pad) - 1);
	for (int i = 0; i < 100; i++) {
		struct json_object *msg = notification(i);

		struct json_object *params = NULL;

		json_object_object_get_ex(msg, "params", &params);
		json_object_object_add(params, "pad", json_object_new_string(pad));
		r = server_push(conn, msg);
		if (r < 0) {
			ck_assert_int_eq(r, -ENOBUFS);
			break;
		}
		accepted++;
	}
	/* 256 KiB and one message more at the most. */
	ck_assert_int_gt(accepted, 1);
	ck_assert_int_le(accepted, 5);
	got = receive(fd, 100);
	for (int i = 0; i < accepted; i++) {
		char head[64];

		line = strsep(&got, "\n");
		ck_assert_ptr_nonnull(got);
		snprintf(head, sizeof(head),
		         "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"n\":%d,", i);
		ck_assert_msg(!strncmp(line, head, strlen(head)), "message %d: %.80s", i, line);
		ck_assert_uint_eq(strlen(line), strlen(head) + strlen(pad) + 10);
	}
	ck_assert_str_eq(got, "");
	/* Read: room again. */
	ck_assert_int_eq(server_push(conn, notification(1)), 0);
	close(fd);
	down();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("edge");
	TCase *tc = tcase_create("edge");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fds_reach_the_handler);
	tcase_add_test(tc, fds_refused);
	tcase_add_test(tc, fds_through_the_server);
	tcase_add_test(tc, push_when_nothing_waits);
	tcase_add_test(tc, push_waits_for_the_commit);
	tcase_add_test(tc, answers_wait_for_their_own_commit);
	tcase_add_test(tc, failed_commit_sends_nothing_of_its_group);
	tcase_add_test(tc, push_after_a_batch_answer);
	tcase_add_test(tc, push_is_bounded);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
