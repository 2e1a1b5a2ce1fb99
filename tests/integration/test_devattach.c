/* device.attach and device.detach against the real pasidd (--backend sim), as a VMM uses them
 * when the BPF attach gate runs in strict mode and pasidd must make its RID attach: the
 * attachment shows in vm.show (devices[].attached), is replaced by a second attach, goes
 * with device.detach, device.release, vm.unregister and the owner's exit, always after the
 * device's PASIDs (the order is read in the sim's log), and every refusal, hostile or not,
 * leaves the state, the sim and the daemon's descriptor table as they were. */
#include <check.h>

#include "ck_main.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"
#include "libpasid.h"

#define DEV   "0000:00:04.0"
#define SHDEV "0000:6a:01.0"
#define OTHER "0000:00:05.0"

static struct it_daemon D;
static int fd = -1;

static void
setup(void)
{
	ck_assert_msg(it_setup(&D, &fd, NULL) == 0, "pasidd did not start (log in %s)", D.log);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "device.assign",
	              "{\"vm\":\"a\",\"device\":\"" SHDEV "\",\"shared\":true}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"b\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"b\",\"device\":\"" OTHER "\"}"));
}

static void
teardown(void)
{
	it_teardown(&D, &fd);
}

static int
daemon_fds(void)
{
	return itu_fd_count(D.pid);
}

static void
assert_daemon_fds(int want)
{
	itu_assert_fd_count(D.pid, want);
}

/* A request line carrying nfds descriptors (/dev/null: the sim wants them open). */
static struct json_object *
call_fds(int sock, const char *method, const char *params, int nfds)
{
	int fds[2] = {open("/dev/null", O_RDWR | O_CLOEXEC), open("/dev/null", O_RDWR | O_CLOEXEC)};
	char line[512];
	int n = snprintf(line, sizeof(line),
	                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}\n", method,
	                 params);

	ck_assert_int_ge(fds[0], 0);
	ck_assert_int_ge(fds[1], 0);
	ck_assert_int_eq(it_send_fds(sock, line, (size_t)n, fds, (size_t)nfds), 0);
	close(fds[0]);
	close(fds[1]);
	return it_recvjson(sock, 5000);
}

static struct json_object *
dev_attach(int sock, const char *vm, const char *dev, unsigned pt_id)
{
	char params[200];

	snprintf(params, sizeof(params),
	         "{\"vm\":\"%s\",\"device\":\"%s\",\"pt_id\":%u,\"dev_id\":3,\"fds\":2}", vm, dev,
	         pt_id);
	return call_fds(sock, "device.attach", params, 2);
}

static struct json_object *
attach_pasid(int sock, const char *vm, int gpasid, const char *dev)
{
	char params[200];

	snprintf(params, sizeof(params),
	         "{\"vm\":\"%s\",\"gpasid\":%d,\"device\":\"%s\",\"pt_id\":8,\"dev_id\":3,"
	         "\"fds\":2}",
	         vm, gpasid, dev);
	return call_fds(sock, "pasid.attach", params, 2);
}

/* The "attached" member of vm's device dev in vm.show, "none" without one. */
static const char *
rid_of(int sock, const char *vm, const char *dev)
{
	char params[64];
	struct json_object *r, *devs, *a;

	snprintf(params, sizeof(params), "{\"vm\":\"%s\"}", vm);
	r = IT_OK(it_call(sock, "vm.show", params));
	devs = it_get(r, "devices");
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);

		if (strcmp(it_str(d, "device"), dev))
			continue;
		if (!json_object_object_get_ex(d, "attached", &a))
			return "none";
		return json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
	}
	ck_abort_msg("%s does not hold %s", vm, dev);
	return NULL;
}

/* What a refusal must leave alone: the listings and counters, and both VMs as vm.show has
 * them (their devices' attachments included). */
static const char *
state(void)
{
	char *s;

	ck_assert_int_ge(
	    asprintf(&s, "%s %s %s", it_snapshot(fd),
	             json_object_to_json_string(IT_OK(it_call(fd, "vm.show", "{\"vm\":\"a\"}"))),
	             json_object_to_json_string(IT_OK(it_call(fd, "vm.show", "{\"vm\":\"b\"}")))),
	    0);
	return it_keep_str(s);
}

START_TEST(attach_show_detach)
{
	int base = daemon_fds();

	IT_OK(dev_attach(fd, "a", DEV, 7));
	ck_assert_str_eq(rid_of(fd, "a", DEV), "{\"pt_id\":7,\"dev_id\":3}");
	ck_assert_str_eq(rid_of(fd, "a", SHDEV), "none");
	assert_daemon_fds(base + 2); /* pasidd's own duplicates */
	ck_assert_ptr_nonnull(
	    strstr(it_log(&D), "sim: attached the requester ID of " DEV " (page table 7)"));
	ck_assert_ptr_nonnull(
	    strstr(json_object_get_string(IT_OK(it_call(fd, "daemon.metrics", NULL))),
	           "pasidd_device_attachments 1\n"));

	IT_OK(it_call(fd, "device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
	ck_assert_str_eq(rid_of(fd, "a", DEV), "none");
	assert_daemon_fds(base);
	ck_assert_ptr_nonnull(strstr(it_log(&D), "sim: detached the requester ID of " DEV));
	/* The device stays assigned. */
	IT_ERR(it_call(fd, "device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"), 1003,
	       "device");
	IT_OK(it_call(fd, "device.release", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
}
END_TEST

/* A second attach replaces the first: one attachment, the new page table, the first one's
 * descriptors closed. */
START_TEST(attach_replaces)
{
	int base = daemon_fds();

	IT_OK(dev_attach(fd, "a", DEV, 7));
	IT_OK(dev_attach(fd, "a", DEV, 9));
	ck_assert_str_eq(rid_of(fd, "a", DEV), "{\"pt_id\":9,\"dev_id\":3}");
	assert_daemon_fds(base + 2);
	ck_assert_ptr_null(strstr(it_log(&D), "sim: detached the requester ID"));
}
END_TEST

/* Every refusal leaves the state, the sim and the descriptor table as they were. */
START_TEST(refusals_change_nothing)
{
	static const struct {
		const char *method, *params;
		int nfds, code;
		const char *param;
	} bad[] = {
	    /* not held by a (1003), another VM's or held shared (1004) */
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"0000:00:09.0\",\"pt_id\":1,\"dev_id\":1,\"fds\":2}", 2,
	     1003, "device"},
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"" OTHER "\",\"pt_id\":1,\"dev_id\":1,\"fds\":2}", 2, 1004,
	     "device"},
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"" SHDEV "\",\"pt_id\":1,\"dev_id\":1,\"fds\":2}", 2, 1004,
	     "device"},
	    {"device.attach",
	     "{\"vm\":\"nosuch\",\"device\":\"" DEV "\",\"pt_id\":1,\"dev_id\":1,\"fds\":2}", 2,
	     1003, "vm"},
	    /* malformed: no descriptors, one, a bad id, a bad address, an unknown member */
	    {"device.attach", "{\"vm\":\"a\",\"device\":\"" DEV "\",\"pt_id\":1,\"dev_id\":1}", 0,
	     -32602, "fds"},
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"" DEV "\",\"pt_id\":1,\"dev_id\":1,\"fds\":1}", 1, -32602,
	     "fds"},
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"" DEV "\",\"pt_id\":-1,\"dev_id\":1,\"fds\":2}", 2, -32602,
	     "pt_id"},
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"00:04.0\",\"pt_id\":1,\"dev_id\":1,\"fds\":2}", 2, -32602,
	     "device"},
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"" DEV
	     "\",\"pt_id\":1,\"dev_id\":1,\"fds\":2,\"gpasid\":1}",
	     2, -32602, "gpasid"},
	    {"device.attach", "{\"vm\":\"a\",\"device\":\"" DEV "\",\"dev_id\":1,\"fds\":2}", 2,
	     -32602, "pt_id"},
	    /* detach: not held, not attached, malformed */
	    {"device.detach", "{\"vm\":\"a\",\"device\":\"" OTHER "\"}", 0, 1003, "device"},
	    {"device.detach", "{\"vm\":\"b\",\"device\":\"" OTHER "\"}", 0, 1003, "device"},
	    {"device.detach", "{\"vm\":\"a\"}", 0, -32602, "device"},
	};
	const char *before;
	int base;

	IT_OK(dev_attach(fd, "a", DEV, 7));
	base = daemon_fds();
	before = state();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *r =
		    bad[i].nfds ? call_fds(fd, bad[i].method, bad[i].params, bad[i].nfds)
		                : it_call(fd, bad[i].method, bad[i].params);
		const char *m = it_error_mismatch(it_keep(r), bad[i].code, bad[i].param);

		ck_assert_msg(!m, "%zu (%s %s): %s", i, bad[i].method, bad[i].params, m);
		ck_assert_str_eq(state(), before);
		assert_daemon_fds(base);
	}
}
END_TEST

/* PASIDs attached on the device: device.detach refuses (1004: they go first) and changes
 * nothing; detached, it works. */
START_TEST(detach_after_pasids)
{
	const char *before;

	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"a\",\"type\":\"local\",\"device\":\"" DEV "\",\"gpasid\":5}"));
	IT_OK(dev_attach(fd, "a", DEV, 7));
	IT_OK(attach_pasid(fd, "a", 5, DEV));
	before = state();
	IT_ERR(it_call(fd, "device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"), 1004,
	       "device");
	ck_assert_str_eq(state(), before);
	IT_OK(it_call(fd, "pasid.detach", "{\"vm\":\"a\",\"gpasid\":5,\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
}
END_TEST

/* The sim's log from the first line that names what, or the whole log. */
static const char *
log_from(const char *what)
{
	const char *log = it_log(&D), *p = strstr(log, what);

	return p ? p : log;
}

/* In the sim's log after `from`: every PASID detached before the RID, and the RID detached. */
static void
assert_order(const char *from, int pasids)
{
	const char *log = log_from(from);
	const char *rid = strstr(log, "sim: detached the requester ID of " DEV);
	const char *p = log;

	ck_assert_msg(rid, "the RID was not detached: %s", log);
	for (int i = 0; i < pasids; i++) {
		p = strstr(p, "sim: detached PASID");
		ck_assert_msg(p && p < rid, "PASID %d not detached before the RID: %s", i, log);
		p++;
	}
	ck_assert_ptr_null(strstr(rid, "sim: detached PASID"));
}

/* A VM "a" with its local PASID 5 and a shared one attached on DEV, and DEV's RID attached. */
static void
attach_all(int sock)
{
	IT_OK(it_call(sock, "pasid.alloc",
	              "{\"vm\":\"a\",\"type\":\"local\",\"device\":\"" DEV "\",\"gpasid\":5}"));
	IT_OK(it_call(sock, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"gpasid\":6}"));
	IT_OK(dev_attach(sock, "a", DEV, 7));
	IT_OK(attach_pasid(sock, "a", 5, DEV));
	IT_OK(attach_pasid(sock, "a", 6, DEV));
}

START_TEST(release_order)
{
	int base = daemon_fds();

	attach_all(fd);
	IT_OK(it_call(fd, "pasid.free", "{\"vm\":\"a\",\"gpasid\":5}"));
	it_log(&D);
	IT_OK(it_call(fd, "device.release", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
	assert_order("sim: detached PASID 5 of", 1);
	assert_daemon_fds(base);
}
END_TEST

START_TEST(unregister_order)
{
	int base = daemon_fds();

	attach_all(fd);
	IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"a\"}"));
	assert_order("sim: attached PASID", 2);
	assert_daemon_fds(base - 1); /* the VM's pidfd of its owner went with it */
}
END_TEST

/* The owner exits: its VM's PASIDs are detached, then its device's RID, then it is gone. */
START_TEST(owner_exit_order)
{
	struct json_object *r = NULL;
	pid_t holder;
	int hfd;

	hfd = it_connect_as(&D, getuid(), getgid(), NULL, 0, &holder);
	ck_assert_int_ge(hfd, 0);
	IT_OK(it_call(hfd, "vm.register", "{\"vm\":\"c\"}"));
	IT_OK(it_call(hfd, "device.assign", "{\"vm\":\"c\",\"device\":\"0000:00:06.0\"}"));
	IT_OK(it_call(hfd, "pasid.alloc", "{\"vm\":\"c\",\"type\":\"shared\",\"gpasid\":6}"));
	IT_OK(dev_attach(hfd, "c", "0000:00:06.0", 7));
	IT_OK(attach_pasid(hfd, "c", 6, "0000:00:06.0"));
	close(hfd);
	it_holder_release(holder);
	for (int i = 0; i < 100; i++) {
		r = it_call(fd, "vm.show", "{\"vm\":\"c\"}");
		if (!r || it_errcode(r))
			break;
		json_object_put(r);
		r = NULL;
		usleep(50000);
	}
	IT_ERR(r, 1003, "vm");
	{
		const char *log = it_log(&D);
		const char *p = strstr(log, "sim: detached PASID 4096 of 0000:00:06.0");
		const char *rid = strstr(log, "sim: detached the requester ID of 0000:00:06.0");

		ck_assert_msg(p && rid && p < rid, "%s", log);
	}
}
END_TEST

/* libpasid's calls, and what they check before sending. */
START_TEST(libpasid_calls)
{
	struct pasid_client *c;
	struct pasid_error err;
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	ck_assert_int_eq(pasid_connect(D.sock, &c, &err), 0);
	ck_assert_int_eq(pasid_device_attach(c, "a", DEV, 7, 3, nul, nul, &err), 0);
	ck_assert_str_eq(rid_of(fd, "a", DEV), "{\"pt_id\":7,\"dev_id\":3}");
	ck_assert_int_eq(pasid_device_attach(c, "a", DEV, 7, 3, -1, nul, &err), -EBADF);
	ck_assert_int_eq(pasid_device_attach(c, NULL, DEV, 7, 3, nul, nul, &err), -EINVAL);
	ck_assert_int_lt(pasid_device_attach(c, "a", SHDEV, 7, 3, nul, nul, &err), 0);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_int_eq(pasid_device_detach(c, "a", DEV, &err), 0);
	ck_assert_int_lt(pasid_device_detach(c, "a", DEV, &err), 0);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(rid_of(fd, "a", DEV), "none");
	pasid_close(c);
	close(nul);
}
END_TEST

/* Queues method with params (JSON text) and, for an attach, two descriptors. */
static int64_t
queue(struct pasid_client *c, const char *method, const char *params, const int *fds)
{
	struct json_object *p = json_tokener_parse(params);
	struct pasid_error err;
	int64_t id;

	ck_assert_ptr_nonnull(p);
	id = pasid_queue(c, method, p, fds, fds ? 2 : 0, &err);
	json_object_put(p);
	ck_assert_msg(id >= 1, "%s: %s", method, err.message);
	return id;
}

/* A VMM pipelining its whole sequence on one connection without waiting: every answer in
 * order of the requests, each as it would be alone, and nothing left behind. */
START_TEST(pipelined_sequence)
{
	static const struct {
		const char *method, *params;
		bool fds;
		int want;
	} seq[] = {
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"" DEV "\",\"pt_id\":7,\"dev_id\":3,\"fds\":2}", true, 0},
	    {"device.attach",
	     "{\"vm\":\"a\",\"device\":\"" DEV "\",\"pt_id\":9,\"dev_id\":3,\"fds\":2}", true, 0},
	    {"pasid.attach",
	     "{\"vm\":\"a\",\"gpasid\":5,\"device\":\"" DEV
	     "\",\"pt_id\":9,\"dev_id\":3,\"fds\":2}",
	     true, 0},
	    {"device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}", false, PASID_E_CONFLICT},
	    {"pasid.detach", "{\"vm\":\"a\",\"gpasid\":5,\"device\":\"" DEV "\"}", false, 0},
	    {"device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}", false, 0},
	    {"device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}", false, PASID_E_NOT_FOUND},
	};
	enum { N = sizeof(seq) / sizeof(seq[0]) };
	int nul[2] = {open("/dev/null", O_RDWR | O_CLOEXEC), open("/dev/null", O_RDWR | O_CLOEXEC)};
	struct pasid_client *c;
	struct pasid_error err;
	int64_t id[N];
	int rc[N], got = 0, base;

	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"a\",\"type\":\"local\",\"device\":\"" DEV "\",\"gpasid\":5}"));
	ck_assert_int_eq(pasid_connect(D.sock, &c, &err), 0);
	ck_assert_int_eq(pasid_call(c, "daemon.status", NULL, NULL, &err), 0);
	base = daemon_fds();
	ck_assert_int_eq(pasid_set_nonblocking(c, true), 0);
	for (int i = 0; i < N; i++) {
		id[i] = queue(c, seq[i].method, seq[i].params, seq[i].fds ? nul : NULL);
		rc[i] = 1;
	}
	got = itu_pump_responses(c, id, rc, N);
	ck_assert_int_eq(got, N);
	for (int i = 0; i < N; i++)
		ck_assert_msg(rc[i] == seq[i].want, "%d (%s): %d, want %d", i, seq[i].method, rc[i],
		              seq[i].want);
	ck_assert_str_eq(rid_of(fd, "a", DEV), "none");
	assert_daemon_fds(base);
	assert_order("sim: attached PASID 5", 1);
	pasid_close(c);
	close(nul[0]);
	close(nul[1]);
}
END_TEST

/* Acknowledged, it survives a kill -9; without the fd store (the harness has none) its
 * descriptors are lost: pasidd cannot detach it (1004) until the VMM attaches again. */
START_TEST(survives_kill9_lost)
{
	IT_OK(dev_attach(fd, "a", DEV, 7));
	close(fd);
	it_kill(&D);
	ck_assert_int_eq(it_restart(&D, NULL), 0);
	fd = it_connect(&D);
	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(rid_of(fd, "a", DEV), "{\"pt_id\":7,\"dev_id\":3,\"lost\":true}");
	IT_ERR(it_call(fd, "device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"), 1004,
	       "device");
	IT_ERR(it_call(fd, "device.release", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"), 1004,
	       "device");
	IT_OK(dev_attach(fd, "a", DEV, 9));
	ck_assert_str_eq(rid_of(fd, "a", DEV), "{\"pt_id\":9,\"dev_id\":3}");
	IT_OK(it_call(fd, "device.detach", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
	close(fd);
	it_kill(&D);
	ck_assert_int_eq(it_restart(&D, NULL), 0);
	fd = it_connect(&D);
	ck_assert_str_eq(rid_of(fd, "a", DEV), "none");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("devattach");
	TCase *tc = ck_case(s, "devattach", setup, teardown, 0);

	tcase_add_test(tc, attach_show_detach);
	tcase_add_test(tc, attach_replaces);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, detach_after_pasids);
	tcase_add_test(tc, release_order);
	tcase_add_test(tc, unregister_order);
	tcase_add_test(tc, owner_exit_order);
	tcase_add_test(tc, libpasid_calls);
	tcase_add_test(tc, pipelined_sequence);
	tcase_add_test(tc, survives_kill9_lost);
	return ck_run(s);
}
