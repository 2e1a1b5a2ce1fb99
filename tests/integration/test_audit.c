/* Issue 13: the audit trail, read back from the journal's native protocol. pasidd runs under
 * journal-launcher, which binds a datagram socket of this test to /run/systemd/journal/socket
 * in a private mount namespace and sets JOURNAL_STREAM as systemd does: every entry pasidd
 * sends to the journal arrives here, with its fields. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/edge/audit_ids.h"
#include "harness.h"

#define NOBODY 65534
#define DEV    "0000:00:04.0"

static struct it_daemon d;
static int jfd = -1;
static char jpath[100];

/* ---- the journal's native protocol (systemd's JOURNAL_NATIVE_PROTOCOL) ---- */

/* One datagram into an object of its fields: KEY=VALUE lines, or KEY, a LF, a little-endian
 * 64-bit length, the value and a LF for a value that may hold LFs. */
static struct json_object *
parse_entry(const char *p, size_t n)
{
	struct json_object *o = json_object_new_object();
	const char *end = p + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		char key[256];

		if (!nl)
			break;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
			json_object_object_add(
			    o, key, json_object_new_string_len(eq + 1, (int)(nl - eq - 1)));
			p = nl + 1;
		} else {
			uint64_t len = 0;

			snprintf(key, sizeof(key), "%.*s", (int)(nl - p), p);
			p = nl + 1;
			if (end - p < 8)
				break;
			for (int i = 7; i >= 0; i--)
				len = len << 8 | (unsigned char)p[i];
			p += 8;
			if ((uint64_t)(end - p) < len + 1)
				break;
			json_object_object_add(o, key, json_object_new_string_len(p, (int)len));
			p += len + 1;
		}
	}
	return o;
}

/* The journal's queue is short (net.unix.max_dgram_qlen) and a sender blocks when it is
 * full, as with journald: a thread reads every datagram as it comes into `got`. Big entries
 * come as a memfd (SCM_RIGHTS) with no data. */
static pthread_t reader;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static struct json_object *got; /* every entry so far */
static size_t taken;            /* those handed out by next_entry() */
static int stop_pipe[2] = {-1, -1};

static void *
read_journal(void *arg)
{
	static char buf[1 << 20];

	(void)arg;
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} cbuf;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		struct pollfd pfd[2] = {{.fd = jfd, .events = POLLIN},
		                        {.fd = stop_pipe[0], .events = POLLIN}};
		struct cmsghdr *cm;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			return NULL;
		mh.msg_control = cbuf.b;
		mh.msg_controllen = sizeof(cbuf.b);
		n = recvmsg(jfd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0)
			continue;
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			n = pread(fd, buf, sizeof(buf), 0);
			close(fd);
			if (n < 0)
				continue;
		}
		pthread_mutex_lock(&lock);
		json_object_array_add(got, parse_entry(buf, (size_t)n));
		pthread_cond_broadcast(&more);
		pthread_mutex_unlock(&lock);
	}
}

/* The next entry sent to the journal (borrowed from `got`), or NULL after timeout_ms of
 * quiet. */
static struct json_object *
next_entry(int timeout_ms)
{
	struct json_object *e = NULL;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	while (taken == json_object_array_length(got))
		if (pthread_cond_timedwait(&more, &lock, &until) == ETIMEDOUT)
			break;
	if (taken < json_object_array_length(got))
		e = json_object_array_get_idx(got, taken++);
	pthread_mutex_unlock(&lock);
	return e;
}

static const char *
field(struct json_object *e, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(e, name, &v) ? json_object_get_string(v) : NULL;
}

/* The audit entries (those with PASIDD_KIND) sent until quiet_ms pass without one, kept. */
static struct json_object *
audit_entries(int quiet_ms)
{
	struct json_object *all = it_keep(json_object_new_array()), *e;

	while ((e = next_entry(quiet_ms)))
		if (field(e, "PASIDD_KIND"))
			json_object_array_add(all, json_object_get(e));
	return all;
}

/* Waits for an audit entry of kind (skipping others), kept; NULL after timeout_ms. */
static struct json_object *
wait_kind(const char *kind, int timeout_ms)
{
	struct json_object *e;

	while ((e = next_entry(timeout_ms))) {
		const char *k = field(e, "PASIDD_KIND");

		if (k && !strcmp(k, kind))
			return e;
	}
	return NULL;
}

static void
start(const char *conf_text)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int big = 8 << 20;
	char conf[256];

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	snprintf(jpath, sizeof(jpath), "%s/journal.sock", d.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", jpath);
	jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(jfd, 0);
	ck_assert_int_eq(bind(jfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(jfd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	got = json_object_new_array();
	taken = 0;
	ck_assert_int_eq(pipe2(stop_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&reader, NULL, read_journal, NULL), 0);
	setenv("IT_JOURNAL_SOCKET", jpath, 1);
	it_set_launcher(JOURNAL_LAUNCHER);
	ck_assert_int_eq(it_write_file(&d, "audit.conf", conf_text, conf, sizeof(conf)), 0);
	ck_assert_msg(it_restart(&d, "--config", conf, NULL) == 0, "pasidd did not start: %s",
	              it_log(&d) ? it_log(&d) : "");
	it_set_launcher(NULL);
}

static void
teardown(void)
{
	it_release_kept();
	it_cleanup(&d);
	if (stop_pipe[1] >= 0) {
		/* The reader ends at the byte; nothing to do if it is gone already. */
		ssize_t w = write(stop_pipe[1], "", 1);

		(void)w;
		pthread_join(reader, NULL);
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		stop_pipe[0] = stop_pipe[1] = -1;
	}
	json_object_put(got);
	got = NULL;
	if (jfd >= 0)
		close(jfd);
	jfd = -1;
}

/* A VM's story, told by an ordinary uid's VMM: each change one entry, with the peer's pid and
 * uid; a refused request none; the owner's exit one entry without a peer. */
START_TEST(vm_story)
{
	struct json_object *es, *e;
	char pid[16];
	pid_t holder;
	int fd;
	static const char *const want[] = {"vm.register", "device.assign", "pasid.alloc",
	                                   "pasid.free", "vm.reclaim"};
	static const char *const ids[] = {AUDIT_ID_VM_REGISTER, AUDIT_ID_DEVICE_ASSIGN,
	                                  AUDIT_ID_PASID_ALLOC, AUDIT_ID_PASID_FREE,
	                                  AUDIT_ID_VM_RECLAIM};

	start("[Daemon]\nSocketMode=0666\n");
	e = wait_kind("daemon.start", 5000);
	ck_assert_msg(e, "no daemon.start entry");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), AUDIT_ID_DAEMON_START);
	ck_assert_str_eq(field(e, "PASIDD_VMS"), "0");
	fd = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &holder);
	ck_assert_int_ge(fd, 0);
	snprintf(pid, sizeof(pid), "%d", (int)holder);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"vm1\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\",\"count\":8}"));
	IT_OK(it_call(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":3}"));
	/* Refused: nothing changes, nothing is told. */
	IT_ERR(it_call(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":3}"), 1003, "gpasid");
	IT_ERR(it_call(fd, "vm.unregister", "{\"vm\":\"nope\"}"), 1003, "vm");
	/* Done already: nothing changes. */
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV "\"}"));
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/x.slice\",\"max\":1}"), 1005, NULL);
	IT_ERR(it_call(fd, "pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\",\"count\":0}"),
	       -32602, "count");
	close(fd);
	it_holder_release(holder);

	es = audit_entries(1500);
	ck_assert_uint_eq(json_object_array_length(es), 5);
	for (size_t i = 0; i < 5; i++) {
		e = json_object_array_get_idx(es, i);
		ck_assert_str_eq(field(e, "PASIDD_KIND"), want[i]);
		ck_assert_str_eq(field(e, "MESSAGE_ID"), ids[i]);
		ck_assert_str_eq(field(e, "PASIDD_VM"), "vm1");
		ck_assert_int_eq(strlen(field(e, "PASIDD_UUID")), 36);
		ck_assert_str_eq(field(e, "SYSLOG_IDENTIFIER"), "pasidd");
		ck_assert_ptr_nonnull(field(e, "MESSAGE"));
		ck_assert_ptr_nonnull(strstr(field(e, "MESSAGE"), "vm1"));
		ck_assert_uint_eq(strtoull(field(e, "PASIDD_SEQ"), NULL, 10), i + 2);
		if (i < 4) {
			ck_assert_str_eq(field(e, "PASIDD_PEER_PID"), pid);
			ck_assert_str_eq(field(e, "PASIDD_PEER_UID"), "65534");
			ck_assert_str_eq(field(e, "PASIDD_METHOD"), want[i]);
			ck_assert_ptr_null(field(e, "PASIDD_CAUSE"));
		}
	}
	e = json_object_array_get_idx(es, 0);
	ck_assert_str_eq(field(e, "PASIDD_OWNER_PID"), pid);
	ck_assert_str_eq(field(e, "PRIORITY"), "6");
	e = json_object_array_get_idx(es, 1);
	ck_assert_str_eq(field(e, "PASIDD_DEVICE"), DEV);
	e = json_object_array_get_idx(es, 2);
	ck_assert_str_eq(field(e, "PASIDD_COUNT"), "8");
	ck_assert_str_eq(field(e, "PASIDD_GPASID"), "1-8");
	ck_assert_str_eq(field(e, "PASIDD_HPASID"), "4096-4103");
	ck_assert_str_eq(field(e, "PASIDD_TYPE"), "shared");
	e = json_object_array_get_idx(es, 3);
	ck_assert_str_eq(field(e, "PASIDD_COUNT"), "1");
	ck_assert_str_eq(field(e, "PASIDD_GPASID"), "3");
	ck_assert_str_eq(field(e, "PASIDD_HPASID"), "4098");
	/* The owner's exit: no peer, the cause said; what went with the VM in one entry. */
	e = json_object_array_get_idx(es, 4);
	ck_assert_str_eq(field(e, "PASIDD_CAUSE"), "owner-exit");
	ck_assert_ptr_null(field(e, "PASIDD_PEER_PID"));
	ck_assert_ptr_null(field(e, "PASIDD_PEER_UID"));
	ck_assert_str_eq(field(e, "PASIDD_COUNT"), "7");
	ck_assert_str_eq(field(e, "PASIDD_GPASID"), "1-2,4-8");
	ck_assert_str_eq(field(e, "PASIDD_HPASID"), "4096-4097,4099-4103");
	ck_assert_str_eq(field(e, "PASIDD_DEVICE"), DEV);
	ck_assert_str_eq(field(e, "PASIDD_OWNER_PID"), pid);
	ck_assert_str_eq(field(e, "PRIORITY"), "5");
}
END_TEST

/* An admin's changes: unregister (one entry for everything it freed), quota.set. */
START_TEST(admin_changes)
{
	struct json_object *es, *e;
	int fd;

	start("[Daemon]\n");
	ck_assert_ptr_nonnull(wait_kind("daemon.start", 5000));
	fd = it_connect(&d);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"vm2\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"vm2\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"vm2\",\"type\":\"local\",\"device\":\"" DEV "\",\"count\":3}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm2\",\"type\":\"shared\",\"count\":2}"));
	IT_OK(it_call(fd, "quota.set", "{\"cgroup\":\"/machine.slice\",\"max\":10}"));
	IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"vm2\"}"));
	es = audit_entries(1000);
	ck_assert_uint_eq(json_object_array_length(es), 6);
	e = json_object_array_get_idx(es, 4);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "quota.set");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), AUDIT_ID_QUOTA_SET);
	ck_assert_str_eq(field(e, "PASIDD_CGROUP"), "/machine.slice");
	ck_assert_str_eq(field(e, "PASIDD_MAX"), "10");
	ck_assert_str_eq(field(e, "PASIDD_PEER_UID"), "0");
	ck_assert_ptr_null(field(e, "PASIDD_VM"));
	e = json_object_array_get_idx(es, 5);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "vm.unregister");
	ck_assert_str_eq(field(e, "PASIDD_COUNT"), "5");
	ck_assert_str_eq(field(e, "PASIDD_GPASID"), "1-5");
	ck_assert_str_eq(field(e, "PASIDD_DEVICE"), DEV);
	ck_assert_str_eq(field(e, "PASIDD_PEER_UID"), "0");
	/* A translated VM's gPASIDs taken out of order: its teardown lists the hPASIDs in
	 * gPASID order, 4099, 4100, 4098, and the entry gives them sorted. */
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"vm3\",\"mode\":\"translated\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm3\",\"type\":\"shared\",\"gpasid\":3}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm3\",\"type\":\"shared\",\"gpasid\":1}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm3\",\"type\":\"shared\",\"gpasid\":2}"));
	IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"vm3\"}"));
	e = wait_kind("vm.unregister", 5000);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(field(e, "PASIDD_VM"), "vm3");
	ck_assert_str_eq(field(e, "PASIDD_COUNT"), "3");
	ck_assert_str_eq(field(e, "PASIDD_GPASID"), "1-3");
	ck_assert_str_eq(field(e, "PASIDD_HPASID"), "4098-4100");
	close(fd);
}
END_TEST

/* A VM handed to another owner, and a PASID attached and detached: one entry each. */
START_TEST(handover_and_attach)
{
	struct json_object *es, *e;
	pid_t p1, p2, gone;
	char line[512], *ans;
	int fd, nul[2];
	static const char *const want[] = {"vm.register", "vm.owner",     "device.assign",
	                                   "pasid.alloc", "pasid.attach", "pasid.detach"};

	start("[Daemon]\n");
	ck_assert_ptr_nonnull(wait_kind("daemon.start", 5000));
	fd = it_connect(&d);
	if ((p1 = fork()) == 0) {
		pause();
		_exit(0);
	}
	if ((p2 = fork()) == 0) {
		pause();
		_exit(0);
	}
	if ((gone = fork()) == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"vm3\",\"pid\":%d}", (int)p1));
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"vm3\",\"pid\":%d}", (int)p2));
	IT_ERR(it_callf(fd, "vm.register", "{\"vm\":\"vm3\",\"pid\":%d}", (int)gone), 1003, "pid");
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"vm3\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"vm3\",\"type\":\"local\",\"device\":\"" DEV "\",\"count\":2}"));
	nul[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
	nul[1] = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(line, sizeof(line),
	         "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"pasid.attach\",\"params\":{\"vm\":"
	         "\"vm3\",\"gpasid\":2,\"device\":\"" DEV "\",\"pt_id\":7,\"dev_id\":3,"
	         "\"fds\":2}}\n");
	ck_assert_int_eq(it_send_fds(fd, line, strlen(line), nul, 2), 0);
	ans = it_recvline(fd, 5000);
	ck_assert_msg(ans && strstr(ans, "\"result\""), "pasid.attach: %s", ans ? ans : "none");
	free(ans);
	close(nul[0]);
	close(nul[1]);
	IT_OK(it_call(fd, "pasid.detach", "{\"vm\":\"vm3\",\"gpasid\":2,\"device\":\"" DEV "\"}"));
	es = audit_entries(1000);
	ck_assert_uint_eq(json_object_array_length(es), 6);
	for (size_t i = 0; i < 6; i++) {
		e = json_object_array_get_idx(es, i);
		ck_assert_str_eq(field(e, "PASIDD_KIND"), want[i]);
		ck_assert_str_eq(field(e, "PASIDD_VM"), "vm3");
	}
	e = json_object_array_get_idx(es, 1);
	ck_assert_str_eq(field(e, "MESSAGE_ID"), AUDIT_ID_VM_OWNER);
	ck_assert_int_eq(atoi(field(e, "PASIDD_OWNER_PID")), p2);
	for (size_t i = 4; i < 6; i++) {
		e = json_object_array_get_idx(es, i);
		ck_assert_str_eq(field(e, "PASIDD_GPASID"), "2");
		ck_assert_str_eq(field(e, "PASIDD_DEVICE"), DEV);
		ck_assert_str_eq(field(e, "PASIDD_COUNT"), "1");
	}
	kill(p1, SIGKILL);
	kill(p2, SIGKILL);
	waitpid(p1, NULL, 0);
	waitpid(p2, NULL, 0);
	close(fd);
}
END_TEST

/* LogLevel= keeps what is less important out, and a reload changes it. */
/* device.attach with two descriptors (/dev/null stands in for the iommufd and the cdev: the
 * sim backend keeps them and asks nothing of them). */
static void
rid_attach(int fd, const char *vm)
{
	char line[512], *ans;
	int nul[2];

	nul[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
	nul[1] = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(line, sizeof(line),
	         "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"device.attach\",\"params\":{\"vm\":"
	         "\"%s\",\"device\":\"" DEV "\",\"pt_id\":7,\"dev_id\":3,\"fds\":2}}\n",
	         vm);
	ck_assert_int_eq(it_send_fds(fd, line, strlen(line), nul, 2), 0);
	ans = it_recvline(fd, 5000);
	ck_assert_msg(ans && strstr(ans, "\"result\""), "device.attach: %s", ans ? ans : "none");
	free(ans);
	close(nul[0]);
	close(nul[1]);
}

/* An import is one entry with what the VM came with; a reservation made and removed, a
 * device's requester ID attached and detached: one entry each, with their fields. */
START_TEST(import_reserve_rid)
{
	struct json_object *doc, *es, *e;
	char *params;
	pid_t p;
	int fd;

	start("[Daemon]\n");
	ck_assert_ptr_nonnull(wait_kind("daemon.start", 5000));
	fd = it_connect(&d);
	if ((p = fork()) == 0) {
		pause();
		_exit(0);
	}
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"imp\",\"pid\":%d}", (int)p));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"imp\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"imp\",\"type\":\"shared\",\"count\":3}"));
	doc = IT_OK(it_call(fd, "vm.export", "{\"vm\":\"imp\"}"));
	IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"imp\"}"));
	ck_assert_ptr_nonnull(wait_kind("vm.unregister", 5000));
	ck_assert_int_ge(asprintf(&params, "{\"document\":%s,\"pid\":%d}",
	                          json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN),
	                          (int)p),
	                 0);
	IT_OK(it_call(fd, "vm.import", params));
	free(params);
	IT_OK(it_call(fd, "range.reserve",
	              "{\"first\":9000,\"last\":9009,\"name\":\"r1\",\"why\":\"for a VM\"}"));
	IT_OK(it_call(fd, "range.unreserve", "{\"name\":\"r1\"}"));
	rid_attach(fd, "imp");
	IT_OK(it_call(fd, "device.detach", "{\"vm\":\"imp\",\"device\":\"" DEV "\"}"));
	es = audit_entries(1000);
	ck_assert_uint_eq(json_object_array_length(es), 5);
	e = json_object_array_get_idx(es, 0);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "vm.import");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), AUDIT_ID_VM_IMPORT);
	ck_assert_str_eq(field(e, "PASIDD_VM"), "imp");
	ck_assert_str_eq(field(e, "PASIDD_COUNT"), "3");
	ck_assert_str_eq(field(e, "PASIDD_GPASID"), "1-3");
	ck_assert_str_eq(field(e, "PASIDD_DEVICE"), DEV);
	ck_assert_int_eq(atoi(field(e, "PASIDD_OWNER_PID")), p);
	ck_assert_int_eq(atoi(field(e, "PASIDD_PEER_PID")), getpid());
	e = json_object_array_get_idx(es, 1);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "range.reserve");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), AUDIT_ID_RANGE_RESERVE);
	ck_assert_str_eq(field(e, "PASIDD_RESERVATION"), "r1");
	ck_assert_str_eq(field(e, "PASIDD_FIRST"), "9000");
	ck_assert_str_eq(field(e, "PASIDD_LAST"), "9009");
	ck_assert_str_eq(field(e, "PASIDD_WHY"), "for a VM");
	ck_assert_int_eq(atoi(field(e, "PASIDD_PEER_PID")), getpid());
	e = json_object_array_get_idx(es, 2);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "range.unreserve");
	ck_assert_ptr_null(field(e, "PASIDD_CAUSE"));
	e = json_object_array_get_idx(es, 3);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "device.attach");
	ck_assert_str_eq(field(e, "PASIDD_DEVICE"), DEV);
	e = json_object_array_get_idx(es, 4);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "device.detach");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), AUDIT_ID_DEVICE_DETACH);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	close(fd);
}
END_TEST

START_TEST(log_level)
{
	struct json_object *es, *e;
	char conf[256];
	int fd;

	start("[Daemon]\nLogLevel=warning\n");
	fd = it_connect(&d);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"quiet\"}"));
	es = audit_entries(800);
	ck_assert_uint_eq(json_object_array_length(es), 0);
	ck_assert_int_eq(
	    it_write_file(&d, "audit.conf", "[Daemon]\nLogLevel=info\n", conf, sizeof(conf)), 0);
	IT_OK(it_call(fd, "config.reload", NULL));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"loud\"}"));
	es = audit_entries(800);
	ck_assert_uint_eq(json_object_array_length(es), 2);
	e = json_object_array_get_idx(es, 0);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "config.reload");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), AUDIT_ID_CONFIG_RELOAD);
	ck_assert_str_eq(field(e, "PASIDD_PEER_UID"), "0");
	e = json_object_array_get_idx(es, 1);
	ck_assert_str_eq(field(e, "PASIDD_KIND"), "vm.register");
	ck_assert_str_eq(field(e, "PASIDD_VM"), "loud");
	/* The sequence counts what was not logged too: it is the event stream's. */
	ck_assert_str_eq(field(e, "PASIDD_SEQ"), "4");
	close(fd);
}
END_TEST

/* On stderr (no journal): the entries of requests pipelined on several connections, which
 * the daemon executes and commits many to a pass and writes a pass's entries at once, each
 * arrive as a whole line, in the order of their seq, one per change, and each VM's in the
 * order of its requests. */
#define PIPE_CONNS 4
#define PIPE_PAIRS 40

START_TEST(stderr_whole_lines_in_order)
{
	int fds[PIPE_CONNS];
	char *log, *save = NULL, *line;
	unsigned long want_seq = 0;
	int next_g[PIPE_CONNS] = {0}, nalloc = 0, nfree = 0;
	char want[256];
	bool next_free[PIPE_CONNS] = {0};

	ck_assert_int_eq(it_start(&d, NULL), 0);
	for (int c = 0; c < PIPE_CONNS; c++) {
		char params[64];

		fds[c] = it_connect(&d);
		ck_assert_int_ge(fds[c], 0);
		snprintf(params, sizeof(params), "{\"vm\":\"pipe%d\"}", c);
		IT_OK(it_call(fds[c], "vm.register", params));
	}
	/* Every connection's requests in one write, all connections before any answer is read. */
	for (int c = 0; c < PIPE_CONNS; c++) {
		static char buf[PIPE_PAIRS * 2 * 128];
		size_t len = 0;

		for (int k = 1; k <= PIPE_PAIRS; k++)
			len += (size_t)snprintf(
			    buf + len, sizeof(buf) - len,
			    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\",\"params\":"
			    "{\"vm\":\"pipe%d\",\"type\":\"shared\",\"gpasid\":%d}}\n"
			    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.free\",\"params\":"
			    "{\"vm\":\"pipe%d\",\"gpasid\":%d}}\n",
			    2 * k, c, k, 2 * k + 1, c, k);
		ck_assert_int_eq(it_send(fds[c], buf, len), 0);
	}
	for (int c = 0; c < PIPE_CONNS; c++) {
		for (int i = 0; i < 2 * PIPE_PAIRS; i++) {
			char *a = it_recvline(fds[c], 5000);

			ck_assert_ptr_nonnull(a);
			ck_assert_msg(strstr(a, "\"result\""), "refused: %s", a);
			free(a);
		}
		close(fds[c]);
	}
	/* The answers left after the commit that covers them, and the entries with it. */
	log = strdup(it_log(&d));
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *kind = strstr(line, "[kind=pasid."), *seq, *vm, *g;
		int c, gp;

		ck_assert_msg(!strncmp(line, "pasidd: ", 8), "not a whole line: '%s'", line);
		if (!(seq = strstr(line, " seq=")))
			continue;
		ck_assert_uint_eq(strtoul(seq + 5, NULL, 10), ++want_seq);
		if (!kind)
			continue;
		vm = strstr(line, " vm=pipe");
		g = strstr(line, " gpasid=");
		ck_assert_ptr_nonnull(vm);
		ck_assert_ptr_nonnull(g);
		c = atoi(vm + 8);
		gp = atoi(g + 8);
		ck_assert_int_lt(c, PIPE_CONNS);
		/* The message as pasidd(8) shows it, the peer being this process. */
		snprintf(want, sizeof(want),
		         "pasidd: 1 shared PASID(s) %s VM pipe%d by pid %d uid %u: gPASID %d, "
		         "hPASID ",
		         strstr(kind, "alloc") ? "allocated to" : "freed by", c, (int)getpid(),
		         (unsigned)getuid(), gp);
		ck_assert_msg(!strncmp(line, want, strlen(want)), "'%s' is not '%s...'", line,
		              want);
		if (!strncmp(kind, "[kind=pasid.alloc ", 18)) {
			ck_assert(!next_free[c]);
			ck_assert_int_eq(gp, ++next_g[c]);
			nalloc++;
		} else {
			ck_assert(!strncmp(kind, "[kind=pasid.free ", 17));
			ck_assert(next_free[c]);
			ck_assert_int_eq(gp, next_g[c]);
			nfree++;
		}
		next_free[c] = !next_free[c];
		ck_assert_msg(line[strlen(line) - 1] == ']', "cut: '%s'", line);
	}
	free(log);
	ck_assert_int_eq(nalloc, PIPE_CONNS * PIPE_PAIRS);
	ck_assert_int_eq(nfree, PIPE_CONNS * PIPE_PAIRS);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("journal");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, vm_story);
	tcase_add_test(tc, admin_changes);
	tcase_add_test(tc, handover_and_attach);
	tcase_add_test(tc, import_reserve_rid);
	tcase_add_test(tc, log_level);
	suite_add_tcase(s, tc);
	tc = tcase_create("stderr");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, stderr_whole_lines_in_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0)
		ck_skip("needs root for a private mount namespace and a second uid");
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
