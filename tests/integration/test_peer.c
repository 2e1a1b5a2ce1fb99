/*
 * Issue 8 item 6: the peer's identity comes from the socket, never from a /proc/<pid> that a
 * reused pid could answer. Pids are reused on purpose and deterministically: the daemon is
 * stopped (SIGSTOP, or ptrace at the moment it pins the peer), a process A connects, hands
 * its connection to a child C and exits, and clone3() with set_tid gives A's pid to a
 * process B of other credentials; then C calls. The cases without SO_PEERPIDFD (kernels
 * before 6.5) run the daemon under no-peerpidfd, a seccomp launcher that makes that option
 * fail as such a kernel does. Needs root (credentials, clone3 set_tid, ptrace): reports
 * itself skipped (77) otherwise. The case that traces the daemon is tagged unwrapped (ctest
 * integration/test_peer/unwrapped): skipped with the daemon under a tool.
 */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <grp.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NOBODY 65534
#define OTHER  65533

#define REQ(method, params)                                                                        \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\",\"params\":" params "}"
#define QUOTA_SET REQ("quota.set", "{\"cgroup\":\"/peer-test\",\"max\":3}")

static struct it_daemon d;
static gid_t admin_gid;
static char admin_name[64];

struct cred {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[1];
};

/* A process that connected, and the one that holds the connection and calls. */
struct worker {
	pid_t connector, holder;
	int cmd;  /* requests to the holder, a line each; closing it ends the holder */
	int hold; /* the connector lives until this is closed (-1 once it is) */
	FILE *res;
};

static void
start(bool without_peerpidfd)
{
	char conf[256], text[256];

	it_set_launcher(without_peerpidfd ? NO_PEERPIDFD : NULL);
	ck_assert_int_eq(it_prepare(&d), 0);
	/* Unprivileged peers must reach the socket in the private directory. */
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	snprintf(text, sizeof(text), "[Daemon]\nSocketMode=0666\nAdminGroup=%s\n", admin_name);
	ck_assert_int_eq(it_write_file(&d, "peer.conf", text, conf, sizeof(conf)), 0);
	ck_assert_msg(it_restart(&d, "--config", conf, NULL) == 0, "pasidd did not start");
	/* Children that the connector leaves behind are ours to reap. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

static void
teardown(void)
{
	it_release_kept();
	it_cleanup(&d);
	it_set_launcher(NULL);
}

static void
become(const struct cred *c)
{
	if (setgroups((size_t)c->ngroups, c->groups) < 0 || setgid(c->gid) < 0 ||
	    setuid(c->uid) < 0)
		_exit(3);
}

/* Sends each line read from cmd to the daemon on s and writes the answer line, or EOF when
 * the daemon closed the connection, to res. */
static void serve(int s, int cmd, int res) __attribute__((noreturn));
static void
serve(int s, int cmd, int res)
{
	FILE *in = fdopen(cmd, "r");
	struct it_reader r;
	char *line = NULL;
	size_t cap = 0;

	it_reader_init(&r, s);
	while (in && getline(&line, &cap, in) > 0) {
		char *answer;

		line[strcspn(line, "\n")] = '\0';
		/* A refused connection may fail the send or only the read: either is EOF. */
		it_sendline(s, line);
		answer = it_reader_line(&r, 120000);
		dprintf(res, "%s\n", answer ? answer : r.eof ? "EOF" : "TIMEOUT");
		free(answer);
	}
	_exit(0);
}

/* A process with credentials c that connects to the daemon. With orphan, it hands the
 * connection to a child and waits to be let go (worker_release); else it calls itself. */
static void
worker_start(struct worker *w, const struct cred *c, bool orphan)
{
	int cmd[2], res[2], hold[2];
	pid_t parent = getpid();
	char *line = NULL;
	size_t cap = 0;
	int pc, ph;

	ck_assert_int_eq(pipe(cmd), 0);
	ck_assert_int_eq(pipe(res), 0);
	ck_assert_int_eq(pipe(hold), 0);
	w->connector = fork();
	ck_assert_int_ge(w->connector, 0);
	if (w->connector == 0) {
		pid_t holder;
		int s;
		char ch;

		close(cmd[1]);
		close(res[0]);
		close(hold[1]);
		become(c);
		/* Gone with the test (set after setuid, which clears it). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(5);
		s = it_connect(&d);
		if (s < 0) {
			dprintf(res[1], "noconnect\n");
			_exit(4);
		}
		if (!orphan) {
			dprintf(res[1], "ready %d %d\n", (int)getpid(), (int)getpid());
			serve(s, cmd[0], res[1]);
		}
		holder = fork();
		if (holder == 0) {
			close(hold[0]);
			serve(s, cmd[0], res[1]);
		}
		dprintf(res[1], "ready %d %d\n", (int)getpid(), (int)holder);
		while (read(hold[0], &ch, 1) > 0)
			;
		_exit(0);
	}
	close(cmd[0]);
	close(res[1]);
	close(hold[0]);
	w->cmd = cmd[1];
	w->hold = hold[1];
	w->res = fdopen(res[0], "r");
	ck_assert_ptr_nonnull(w->res);
	ck_assert_msg(getline(&line, &cap, w->res) > 0 &&
	                  sscanf(line, "ready %d %d", &pc, &ph) == 2,
	              "the client could not connect");
	free(line);
	w->holder = ph;
}

/* Lets the connector exit and reaps it: its pid is free afterwards. */
static void
worker_release(struct worker *w)
{
	int st;

	close(w->hold);
	w->hold = -1;
	ck_assert_int_eq(waitpid(w->connector, &st, 0), w->connector);
}

static void
worker_end(struct worker *w)
{
	close(w->cmd);
	if (w->hold >= 0)
		worker_release(w);
	if (w->holder != w->connector)
		waitpid(w->holder, NULL, 0);
	fclose(w->res);
}

/* The holder's answer to one request line: the response line, or "EOF". */
static const char *
ask(struct worker *w, const char *req)
{
	char *line = NULL;
	size_t cap = 0;

	ck_assert_int_eq(dprintf(w->cmd, "%s\n", req), (int)strlen(req) + 1);
	ck_assert_msg(getline(&line, &cap, w->res) > 0, "the client died");
	line[strcspn(line, "\n")] = '\0';
	ck_assert_msg(strcmp(line, "TIMEOUT"), "no answer in 120 s to %s", req);
	return it_keep_str(line);
}

/* The answer as JSON, for IT_OK and IT_ERR (which keep it). */
static struct json_object *
parsed(const char *answer)
{
	return json_tokener_parse(answer);
}

/* Gives pid (free) to a new process with credentials c that lives until *release is
 * closed. Returns its pid. */
static pid_t
take_pid(pid_t pid, const struct cred *c, int *release)
{
	struct clone_args a = {
	    .exit_signal = SIGCHLD, .set_tid = (uintptr_t)&pid, .set_tid_size = 1};
	int ready[2], rel[2];
	pid_t parent = getpid();
	long r;
	char ch;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(rel), 0);
	r = syscall(SYS_clone3, &a, sizeof(a));
	if (r == 0) {
		close(ready[0]);
		close(rel[1]);
		become(c);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(5);
		if (write(ready[1], "x", 1) != 1)
			_exit(6);
		while (read(rel[0], &ch, 1) > 0)
			;
		_exit(0);
	}
	ck_assert_msg(r == pid, "clone3 could not give pid %d to a new process: %s", (int)pid,
	              r < 0 ? strerror(errno) : "another pid");
	close(ready[1]);
	close(rel[0]);
	ck_assert_int_eq(read(ready[0], &ch, 1), 1);
	close(ready[0]);
	*release = rel[1];
	return (pid_t)r;
}

static void
end_taker(pid_t pid, int release)
{
	close(release);
	waitpid(pid, NULL, 0);
}

/* The daemon, stopped so that connections wait in its backlog. */
static void
daemon_stop(void)
{
	int st;

	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	ck_assert_int_eq(waitpid(d.pid, &st, WUNTRACED), d.pid);
	ck_assert(WIFSTOPPED(st));
}

static void
daemon_cont(void)
{
	ck_assert_int_eq(kill(d.pid, SIGCONT), 0);
}

/* What the daemon has logged so far. */
static const char *
log_text(void)
{
	const char *text = it_log(&d);

	return text ? text : "";
}

static bool
log_has(const char *needle)
{
	return strstr(log_text(), needle) != NULL;
}

/* Whether the daemon knows a VM of this name (asked as root). */
static bool
vm_exists(const char *name)
{
	int s = it_connect(&d);
	struct json_object *r;
	bool found;

	ck_assert_int_ge(s, 0);
	r = it_callf(s, "vm.show", "{\"vm\":\"%s\"}", name);
	close(s);
	ck_assert_msg(r && (it_errcode(r) == 0 || it_errcode(r) == 1003), "vm.show %s: %s", name,
	              r ? json_object_to_json_string(r) : "no answer");
	found = it_errcode(r) == 0;
	json_object_put(r);
	return found;
}

/* Without SO_PEERPIDFD under valgrind 3.19, which does not know pidfd_open, no peer process
 * can be pinned: the daemon serves its peers without one, and says so once. */
static bool
unpinnable(void)
{
	return it_wrapped() && log_has("cannot be pinned");
}

/* ---- groups: SO_PEERGROUPS ---- */

static void
expect_admin(const struct cred *c, bool admin)
{
	struct worker w;

	worker_start(&w, c, false);
	if (admin)
		IT_OK(parsed(ask(&w, QUOTA_SET)));
	else
		IT_ERR(parsed(ask(&w, QUOTA_SET)), 1005, NULL);
	worker_end(&w);
}

/* The admin group counts as the peer's primary or supplementary group at connect; with and
 * without SO_PEERPIDFD (loop index 1). */
START_TEST(groups_from_the_socket)
{
	struct cred member = {NOBODY, NOBODY, 1, {admin_gid}};
	struct cred primary = {NOBODY, admin_gid, 0, {0}};
	struct cred outsider = {NOBODY, NOBODY, 0, {0}};

	start(_i == 1);
	expect_admin(&member, true);
	expect_admin(&primary, true);
	expect_admin(&outsider, false);
}
END_TEST

/* Item 6 (a): A (not in the admin group) connects, hands its connection to C and exits; B,
 * of uid OTHER and in the admin group, takes A's pid; C's quota.set must still be refused.
 * Loop index 1 runs without SO_PEERPIDFD, with B of A's own uid, which the daemon then
 * takes for the peer's process (no check can tell them apart): groups must still be A's. */
START_TEST(reused_pid_lends_no_groups)
{
	struct cred a = {NOBODY, NOBODY, 0, {0}};
	struct cred b = {_i == 1 ? NOBODY : OTHER, _i == 1 ? NOBODY : OTHER, 1, {admin_gid}};
	struct worker w;
	pid_t taker;
	int release;

	start(_i == 1);
	daemon_stop();
	worker_start(&w, &a, true);
	worker_release(&w);
	taker = take_pid(w.connector, &b, &release);
	daemon_cont();
	IT_ERR(parsed(ask(&w, QUOTA_SET)), 1005, NULL);
	end_taker(taker, release);
	worker_end(&w);
}
END_TEST

/* ---- the process: SO_PEERPIDFD, or a checked pidfd_open without it ---- */

/* Item 6 (b): A's pid taken by B of another uid before the accept; C's vm.register must not
 * bind a VM to B. With SO_PEERPIDFD the pidfd is A's, which is gone: error 1003. Without it
 * (loop index 1) the connection is refused, with a log line that names the peer and why. */
START_TEST(reused_pid_of_another_uid_is_not_the_peer)
{
	struct cred a = {NOBODY, NOBODY, 0, {0}}, b = {OTHER, OTHER, 0, {0}};
	char line[256];
	const char *answer;
	struct worker w;
	pid_t taker;
	int release;

	start(_i == 1);
	daemon_stop();
	worker_start(&w, &a, true);
	worker_release(&w);
	taker = take_pid(w.connector, &b, &release);
	daemon_cont();
	answer = ask(&w, REQ("vm.register", "{\"vm\":\"stolen\"}"));
	ck_assert_msg(!vm_exists("stolen"), "the VM was registered: %s", answer);
	snprintf(line, sizeof(line),
	         "refusing a connection: pid %d uid %u: no SO_PEERPIDFD, and pid %d now belongs "
	         "to a process of uid %u",
	         (int)w.connector, NOBODY, (int)w.connector, OTHER);
	if (_i == 0 || unpinnable())
		IT_ERR(parsed(answer), 1003, "pid");
	else
		ck_assert_msg(!strcmp(answer, "EOF") && log_has(line),
		              "expected the connection refused with \"%s\"; got %s; log:\n%s", line,
		              answer, log_text());
	end_taker(taker, release);
	worker_end(&w);
}
END_TEST

/* Ticks of CLOCK_BOOTTIME, the unit of a process's start time. */
static uint64_t
ticks_now(void)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) /
	       (uint64_t)(1000000000L / hz);
}

/* Runs the daemon (seized) until it enters pidfd_open(pid). */
static void
trace_to_pidfd_open(pid_t pid)
{
	for (;;) {
		struct __ptrace_syscall_info info;
		int st, sig = 0;

		ck_assert_int_eq(waitpid(d.pid, &st, __WALL), d.pid);
		ck_assert_msg(WIFSTOPPED(st), "pasidd ended while traced (status %d)", st);
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			long n =
			    ptrace(PTRACE_GET_SYSCALL_INFO, d.pid, (void *)sizeof(info), &info);

			ck_assert_int_gt(n, 0);
			if (info.op == PTRACE_SYSCALL_INFO_ENTRY &&
			    info.entry.nr == __NR_pidfd_open && (pid_t)info.entry.args[0] == pid)
				return;
		} else if (st >> 16 == 0) {
			sig = WSTOPSIG(st); /* a signal for the daemon: deliver it */
		}
		ck_assert_int_eq(ptrace(PTRACE_SYSCALL, d.pid, 0, (void *)(long)sig), 0);
	}
}

/* Without SO_PEERPIDFD, A's pid taken by B of A's own uid after the accept (the daemon is
 * held by ptrace where it is about to pidfd_open the peer's pid, and B is made a tick
 * later): the connection is refused, since B started after it was accepted. Tagged
 * unwrapped: valgrind does not make the pidfd_open call that this waits for. */
START_TEST(process_started_after_the_accept_is_refused)
{
	struct cred a = {NOBODY, NOBODY, 0, {0}};
	const char *answer;
	struct worker w;
	uint64_t t;
	pid_t taker;
	int release, st;

	start(true);
	ck_assert_int_eq(ptrace(PTRACE_SEIZE, d.pid, 0, (void *)PTRACE_O_TRACESYSGOOD), 0);
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, d.pid, 0, 0), 0);
	ck_assert_int_eq(waitpid(d.pid, &st, __WALL), d.pid);
	ck_assert(WIFSTOPPED(st));
	worker_start(&w, &a, true);
	/* Let it run from the interrupt's stop to the pidfd_open of A's pid. */
	ck_assert_int_eq(ptrace(PTRACE_SYSCALL, d.pid, 0, 0), 0);
	trace_to_pidfd_open(w.connector);
	worker_release(&w);
	/* The accept was before now: a process made after the next tick began started after
	 * it, by the daemon's measure. */
	t = ticks_now();
	while (ticks_now() <= t)
		usleep(1000);
	taker = take_pid(w.connector, &a, &release);
	ck_assert_int_eq(ptrace(PTRACE_DETACH, d.pid, 0, 0), 0);
	answer = ask(&w, REQ("vm.register", "{\"vm\":\"late\"}"));
	ck_assert_msg(!vm_exists("late"), "the VM was registered: %s", answer);
	ck_assert_msg(!strcmp(answer, "EOF") &&
	                  log_has("now belongs to a process that started after the connection "
	                          "was accepted"),
	              "expected the connection refused; got %s; log:\n%s", answer, log_text());
	end_taker(taker, release);
	worker_end(&w);
}
END_TEST

/* A peer whose process is gone before the accept (its pid free) is served without one: it
 * cannot register a VM for itself, and can do the rest. With and without SO_PEERPIDFD. */
START_TEST(gone_peer_is_served_without_a_process)
{
	struct cred a = {NOBODY, NOBODY, 0, {0}};
	struct worker w;

	start(_i == 1);
	daemon_stop();
	worker_start(&w, &a, true);
	worker_release(&w);
	daemon_cont();
	IT_ERR(parsed(ask(&w, REQ("vm.register", "{\"vm\":\"orphan\"}"))), 1003, "pid");
	IT_OK(parsed(ask(&w, REQ("quota.get", "{}"))));
	ck_assert(!vm_exists("orphan"));
	worker_end(&w);
}
END_TEST

/* The cgroup v2 path of pid. */
static const char *
cgroup_of(pid_t pid)
{
	char path[64], line[4096];
	FILE *f;
	const char *cg = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (!cg && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			cg = it_keep_str(strdup(line + 3));
		}
	fclose(f);
	return cg ? cg : "";
}

/* Without SO_PEERPIDFD, an ordinary client (not root) registers a VM owned by itself, and
 * its exit reclaims the VM. */
START_TEST(ordinary_client_without_peerpidfd)
{
	struct cred a = {NOBODY, NOBODY, 0, {0}};
	struct json_object *r;
	struct worker w;
	pid_t pid;

	start(true);
	worker_start(&w, &a, false);
	pid = w.holder;
	r = parsed(ask(&w, REQ("vm.register", "{\"vm\":\"plain\"}")));
	if (unpinnable()) {
		/* Under valgrind: refused as unpinnable, and the connection still serves. */
		IT_ERR(r, 1003, "pid");
		IT_OK(parsed(ask(&w, REQ("quota.get", "{}"))));
		worker_end(&w);
		return;
	}
	r = IT_OK(r);
	ck_assert_int_eq(it_int(r, "pid"), pid);
	ck_assert_str_eq(it_str(r, "cgroup"), cgroup_of(pid));
	IT_OK(parsed(ask(&w, REQ("pasid.alloc", "{\"vm\":\"plain\",\"type\":\"shared\"}"))));
	/* Registering again from the same process is a re-attach. */
	ck_assert_int_eq(
	    it_int(IT_OK(parsed(ask(&w, REQ("vm.register", "{\"vm\":\"plain\"}")))), "pid"), pid);
	worker_end(&w);
	/* Reclaimed when the owner's pidfd reports its exit: poll (bounded, not timed). */
	for (int i = 0; i < 600 && vm_exists("plain"); i++)
		usleep(100000);
	ck_assert_msg(!vm_exists("plain"), "the VM outlived its owner by 60 s");
}
END_TEST

static Suite *
peer_suite(void)
{
	Suite *s = suite_create("peer");
	TCase *tc = tcase_create("identity");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, groups_from_the_socket, 0, 2);
	tcase_add_loop_test(tc, reused_pid_lends_no_groups, 0, 2);
	tcase_add_loop_test(tc, reused_pid_of_another_uid_is_not_the_peer, 0, 2);
	tcase_add_loop_test(tc, gone_peer_is_served_without_a_process, 0, 2);
	tcase_add_test(tc, ordinary_client_without_peerpidfd);
	suite_add_tcase(s, tc);
	tc = ck_case(s, "traced", NULL, teardown, 600);
	tcase_set_tags(tc, "unwrapped");
	tcase_add_test(tc, process_started_after_the_accept_is_refused);
	return s;
}

/* A group to name in AdminGroup=: an existing one (the test changes no system file) that
 * no test credential has otherwise. */
static bool
find_admin_group(void)
{
	static const char *const names[] = {"disk", "adm", "staff", "users", "tape", NULL};

	for (int i = 0; names[i]; i++) {
		struct group *g = getgrnam(names[i]);

		if (g && g->gr_gid != 0 && g->gr_gid != NOBODY && g->gr_gid != OTHER) {
			admin_gid = g->gr_gid;
			snprintf(admin_name, sizeof(admin_name), "%s", names[i]);
			return true;
		}
	}
	return false;
}

/* Whether clone3 can give a chosen pid: the pid of a child just reaped. */
static bool
can_choose_pids(char *why, size_t len)
{
	pid_t pid = fork(), got;
	struct clone_args a = {.exit_signal = SIGCHLD};
	long r;

	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return false;
	}
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	a.set_tid = (uintptr_t)&pid;
	a.set_tid_size = 1;
	r = syscall(SYS_clone3, &a, sizeof(a));
	if (r == 0)
		_exit(0);
	if (r < 0) {
		snprintf(why, len, "clone3 with set_tid: %s", strerror(errno));
		return false;
	}
	got = (pid_t)r;
	waitpid(got, NULL, 0);
	return true;
}

int
main(void)
{
	static const struct ck_need needs[] = {{"unwrapped", ck_lacking_unwrapped}, {NULL, NULL}};
	char why[128];

	if (geteuid() != 0)
		ck_skip("needs root (credentials, clone3 set_tid, ptrace)");
	if (!find_admin_group())
		ck_skip("no group to use as AdminGroup=");
	if (!can_choose_pids(why, sizeof(why)))
		ck_skip("%s", why);
	return ck_main(peer_suite(), needs);
}
