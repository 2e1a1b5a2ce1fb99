/* Issue 13: events.subscribe. A subscriber gets each change of the state as a notification,
 * in order, with seq increasing, once durable; only what it asked for and may see; nothing of
 * a refused request; and a subscriber that does not read is dropped without slowing anyone,
 * told how many events it lost. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "libpasid.h"

#define NOBODY 65534
#define DEV    "0000:00:04.0"

static struct it_daemon d;
static int root_fd = -1;

static void
start(const char *conf_text)
{
	char conf[256];

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	ck_assert_int_eq(it_write_file(&d, "events.conf", conf_text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	root_fd = it_connect(&d);
	ck_assert_int_ge(root_fd, 0);
}

static void
teardown(void)
{
	it_release_kept();
	if (root_fd >= 0)
		close(root_fd);
	root_fd = -1;
	it_cleanup(&d);
}

/* The next event notification's params on r (kept), skipping nothing: an answer there is a
 * failure. NULL after timeout_ms. */
static struct json_object *
next_event(struct it_reader *r, int timeout_ms)
{
	char *line = it_reader_line(r, timeout_ms);
	struct json_object *n;

	if (!line)
		return NULL;
	n = it_keep(json_tokener_parse(line));
	free(line);
	ck_assert_msg(n && !strcmp(it_str(n, "jsonrpc"), "2.0") &&
	                  !strcmp(it_str(n, "method"), "event") && !it_get(n, "id"),
	              "not an event notification: %s", n ? json_object_to_json_string(n) : "?");
	return it_get(n, "params");
}

/* Subscribes on fd with params (NULL: none) and reads the answer: {}. */
static void
subscribe(int fd, struct it_reader *r, const char *params)
{
	char line[512], *ans;

	snprintf(line, sizeof(line),
	         "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"events.subscribe\"%s%s}",
	         params ? ",\"params\":" : "", params ? params : "");
	ck_assert_int_eq(it_sendline(fd, line), 0);
	ans = it_reader_line(r, 5000);
	ck_assert_ptr_nonnull(ans);
	ck_assert_msg(!strcmp(ans, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}"), "answer: %s",
	              ans);
	free(ans);
}

/* A VM's story, told by an ordinary uid's VMM, as an admin's subscriber sees it. */
START_TEST(vm_story)
{
	static const char *const want[] = {"vm.register", "device.assign", "pasid.alloc",
	                                   "pasid.free", "vm.reclaim"};
	struct it_reader r;
	struct json_object *e;
	int64_t seq = 0;
	pid_t holder;
	char *line;
	int fd;

	start("[Daemon]\nSocketMode=0666\n");
	it_reader_init(&r, root_fd);
	subscribe(root_fd, &r, NULL);
	fd = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &holder);
	ck_assert_int_ge(fd, 0);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"vm1\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"vm1\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\",\"count\":8}"));
	/* Refused requests are not told. */
	IT_ERR(it_call(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":99}"), 1003, "gpasid");
	IT_ERR(it_call(fd, "pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"local\"}"), -32602, "device");
	IT_ERR(it_call(fd, "vm.register", "{\"vm\":\"vm1\",\"pid\":1}"), 1005, "pid");
	IT_OK(it_call(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":3}"));
	close(fd);
	it_holder_release(holder);
	for (size_t i = 0; i < 5; i++) {
		e = next_event(&r, 5000);
		ck_assert_msg(e, "event %zu (%s) did not come", i, want[i]);
		ck_assert_str_eq(it_str(e, "kind"), want[i]);
		ck_assert_str_eq(it_str(e, "vm"), "vm1");
		ck_assert_int_eq(strlen(it_str(e, "uuid")), 36);
		ck_assert_int_gt(it_int(e, "seq"), seq);
		seq = it_int(e, "seq");
		ck_assert_int_eq(strlen(it_str(e, "time")), 27);
		ck_assert_ptr_nonnull(strstr(it_str(e, "message"), "vm1"));
		if (i < 4) {
			ck_assert_int_eq(it_int(e, "peer_pid"), holder);
			ck_assert_int_eq(it_int(e, "peer_uid"), NOBODY);
			ck_assert_msg(json_object_is_type(it_get(e, "peer_pid"), json_type_int),
			              "peer_pid is a number");
		} else {
			ck_assert_str_eq(it_str(e, "cause"), "owner-exit");
			ck_assert_ptr_null(it_get(e, "peer_pid"));
			ck_assert_int_eq(it_int(e, "count"), 7);
			ck_assert_str_eq(it_str(e, "gpasid"), "1-2,4-8");
			ck_assert_str_eq(it_str(e, "device"), DEV);
		}
		if (i == 2) {
			ck_assert_int_eq(it_int(e, "count"), 8);
			ck_assert_str_eq(it_str(e, "gpasid"), "1-8");
			ck_assert_str_eq(it_str(e, "hpasid"), "4096-4103");
		}
	}
	/* The subscribed connection still serves requests. */
	ck_assert_int_eq(
	    it_sendline(root_fd, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"daemon.status\"}"), 0);
	line = it_reader_line(&r, 5000);
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line, "\"id\":9,\"result\""));
	free(line);
	/* And nothing else came. */
	ck_assert_ptr_null(it_reader_line(&r, 300));
	it_reader_free(&r);
}
END_TEST

/* kinds and vm keep the rest out; bad ones are refused naming the parameter. */
START_TEST(filters)
{
	struct it_reader r;
	struct json_object *e;

	start("[Daemon]\n");
	it_reader_init(&r, root_fd);
	IT_ERR(it_call(root_fd, "events.subscribe", "{\"kinds\":[\"pasid.nosuch\"]}"), -32602,
	       "kinds");
	IT_ERR(it_call(root_fd, "events.subscribe", "{\"kinds\":[]}"), -32602, "kinds");
	IT_ERR(it_call(root_fd, "events.subscribe", "{\"kinds\":\"pasid.alloc\"}"), -32602,
	       "kinds");
	IT_ERR(
	    it_call(root_fd, "events.subscribe", "{\"kinds\":[\"pasid.alloc\",\"pasid.alloc\"]}"),
	    -32602, "kinds");
	IT_ERR(it_call(root_fd, "events.subscribe", "{\"kinds\":[1]}"), -32602, "kinds");
	IT_ERR(it_call(root_fd, "events.subscribe", "{\"vm\":\"-bad\"}"), -32602, "vm");
	IT_ERR(it_call(root_fd, "events.subscribe", "{\"since\":1}"), -32602, "since");
	subscribe(root_fd, &r, "{\"kinds\":[\"pasid.alloc\",\"vm.unregister\"],\"vm\":\"vm1\"}");
	{
		int fd = it_connect(&d);

		IT_OK(it_call(fd, "vm.register", "{\"vm\":\"vm1\"}"));
		IT_OK(it_call(fd, "vm.register", "{\"vm\":\"vm2\"}"));
		IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm2\",\"type\":\"shared\"}"));
		IT_OK(
		    it_call(fd, "pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\",\"count\":2}"));
		IT_OK(it_call(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":1}"));
		IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"vm2\"}"));
		IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"vm1\"}"));
		close(fd);
	}
	e = next_event(&r, 5000);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(it_str(e, "kind"), "pasid.alloc");
	ck_assert_str_eq(it_str(e, "vm"), "vm1");
	ck_assert_int_eq(it_int(e, "count"), 2);
	e = next_event(&r, 5000);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(it_str(e, "kind"), "vm.unregister");
	ck_assert_str_eq(it_str(e, "vm"), "vm1");
	ck_assert_int_eq(it_int(e, "count"), 1);
	ck_assert_ptr_null(it_reader_line(&r, 300));
	it_reader_free(&r);
}
END_TEST

/* A subscriber that is not an administrator sees only its own VMs. */
START_TEST(non_admin)
{
	struct it_reader r;
	struct json_object *e;
	pid_t holder;
	int fd;

	start("[Daemon]\nSocketMode=0666\n");
	fd = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &holder);
	ck_assert_int_ge(fd, 0);
	it_reader_init(&r, fd);
	IT_OK(it_call(root_fd, "vm.register", "{\"vm\":\"root-vm\"}"));
	IT_ERR(it_call(fd, "events.subscribe", "{\"vm\":\"root-vm\"}"), 1005, "vm");
	IT_ERR(it_call(fd, "events.subscribe", "{\"vm\":\"root-vm\",\"kinds\":[\"pasid.free\"]}"),
	       1005, "vm");
	subscribe(fd, &r, "{\"vm\":\"not-yet\"}");
	subscribe(fd, &r, NULL);
	IT_OK(it_call(root_fd, "pasid.alloc", "{\"vm\":\"root-vm\",\"type\":\"shared\"}"));
	IT_OK(it_call(root_fd, "quota.set", "{\"cgroup\":\"/x.slice\",\"max\":5}"));
	IT_OK(it_call(root_fd, "vm.register", "{\"vm\":\"root-vm2\"}"));
	ck_assert_int_eq(it_sendline(fd, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"vm.register\","
	                                 "\"params\":{\"vm\":\"mine\"}}"),
	                 0);
	{
		/* The answer and the event, in whichever order they are written. */
		bool answer = false, event = false;

		for (int i = 0; i < 2; i++) {
			char *line = it_reader_line(&r, 5000);
			struct json_object *o;

			ck_assert_ptr_nonnull(line);
			o = it_keep(json_tokener_parse(line));
			free(line);
			if (it_get(o, "id")) {
				answer = true;
				continue;
			}
			e = it_get(o, "params");
			ck_assert_str_eq(it_str(e, "kind"), "vm.register");
			ck_assert_str_eq(it_str(e, "vm"), "mine");
			ck_assert_int_eq(it_int(e, "peer_uid"), NOBODY);
			event = true;
		}
		ck_assert(answer && event);
	}
	ck_assert_ptr_null(it_reader_line(&r, 300));
	it_reader_free(&r);
	close(fd);
	it_holder_release(holder);
}
END_TEST

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define PAIRS 20000
#define CHUNK 250

/* A subscriber that never reads while another client makes 40,000 changes: the client is not
 * slowed, the subscriber is dropped, and when it reads at last it is told what it lost. */
START_TEST(slow_subscriber)
{
	struct it_reader r, w;
	struct json_object *e = NULL, *m;
	char line[400], *s;
	int slow, fd, n = 0;
	size_t events = 0;
	double t0;
	int64_t seq = 0;

	start("[Limits]\nIdleTimeoutSec=300\n");
	slow = it_connect(&d);
	it_reader_init(&r, slow);
	subscribe(slow, &r, NULL);
	fd = it_connect(&d);
	it_reader_init(&w, fd);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"busy\"}"));
	t0 = now_s();
	for (int i = 0; i < PAIRS; i += CHUNK) {
		for (int k = 0; k < CHUNK; k++) {
			snprintf(
			    line, sizeof(line),
			    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\",\"params\":"
			    "{\"vm\":\"busy\",\"type\":\"shared\",\"gpasid\":1}}\n"
			    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.free\",\"params\":"
			    "{\"vm\":\"busy\",\"gpasid\":1}}",
			    2 * (i + k), 2 * (i + k) + 1);
			ck_assert_int_eq(it_sendline(fd, line), 0);
		}
		for (int k = 0; k < 2 * CHUNK; k++) {
			s = it_reader_line(&w, 30000);
			ck_assert_msg(s && strstr(s, "\"result\""), "answer %d: %s", n,
			              s ? s : "none");
			free(s);
			n++;
		}
	}
	ck_assert_int_eq(n, 2 * PAIRS);
	fprintf(stderr, "slow_subscriber: %d requests in %.2f s with a subscriber not reading\n", n,
	        now_s() - t0);
	/* Counted where an administrator looks. */
	m = IT_OK(it_call(fd, "daemon.metrics", NULL));
	ck_assert_msg(json_object_is_type(m, json_type_string), "metrics text");
	s = strstr(json_object_get_string(m), "\npasidd_events_dropped_total ");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_gt(atoll(s + strlen("\npasidd_events_dropped_total ")), 0);
	ck_assert_ptr_nonnull(
	    strstr(json_object_get_string(m), "\npasidd_event_subscribers_dropped_total 1\n"));
	/* At last it reads: what was queued before it fell behind, in order, then lost. */
	for (;;) {
		e = next_event(&r, 5000);
		ck_assert_msg(e, "the stream ended without a lost notification after %zu events",
		              events);
		if (!strcmp(it_str(e, "kind"), "lost"))
			break;
		ck_assert_int_gt(it_int(e, "seq"), seq);
		seq = it_int(e, "seq");
		events++;
	}
	ck_assert_int_gt(it_int(e, "lost"), 0);
	ck_assert_int_gt(it_int(e, "seq"), seq);
	ck_assert_int_gt(events, 0);
	fprintf(stderr, "slow_subscriber: %zu events delivered, then lost %lld from seq %lld\n",
	        events, (long long)it_int(e, "lost"), (long long)it_int(e, "seq"));
	/* Then the daemon hangs up. */
	ck_assert_ptr_null(it_reader_line(&r, 5000));
	ck_assert(r.eof);
	/* The daemon still serves. */
	IT_OK(it_call(fd, "daemon.status", NULL));
	it_reader_free(&r);
	it_reader_free(&w);
	close(slow);
	close(fd);
}
END_TEST

/* libpasid's stream: events kept while a call waits, a timeout, a refusal, the end. */
START_TEST(libpasid_stream)
{
	static const char *const kinds[] = {"pasid.alloc", NULL}, *const bad_kinds[] = {"nope",
	                                                                                NULL};
	struct pasid_client *c = NULL, *c2 = NULL;
	struct json_object *e = NULL, *st = NULL;
	struct pasid_error err;

	start("[Daemon]\n");
	ck_assert_int_eq(pasid_connect(d.sock, &c, &err), 0);
	ck_assert_int_eq(pasid_connect(d.sock, &c2, &err), 0);
	ck_assert_int_eq(pasid_events_subscribe(c2, NULL, bad_kinds, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, -32602);
	ck_assert_str_eq(err.param, "kinds");
	ck_assert_int_eq(pasid_events_subscribe(c, NULL, kinds, &err), 0);
	ck_assert_int_eq(pasid_event_next(c, &e, 100, &err), 0);
	ck_assert_ptr_null(e);
	IT_OK(it_call(root_fd, "vm.register", "{\"vm\":\"lib\"}"));
	IT_OK(it_call(root_fd, "pasid.alloc", "{\"vm\":\"lib\",\"type\":\"shared\",\"count\":3}"));
	IT_OK(it_call(root_fd, "pasid.free", "{\"vm\":\"lib\",\"gpasid\":2}"));
	/* A call meanwhile: the event read while it waits is kept. */
	ck_assert_int_eq(pasid_call(c, "daemon.status", NULL, &st, &err), 0);
	json_object_put(st);
	ck_assert_int_eq(pasid_event_next(c, &e, 5000, &err), 1);
	it_keep(e);
	ck_assert_str_eq(it_str(e, "kind"), "pasid.alloc");
	ck_assert_str_eq(it_str(e, "vm"), "lib");
	ck_assert_int_eq(it_int(e, "count"), 3);
	ck_assert_int_eq(pasid_event_next(c, &e, 200, &err), 0);
	/* The daemon goes away: the stream ends. */
	it_stop(&d);
	ck_assert_int_eq(pasid_event_next(c, &e, 5000, &err), -ECONNRESET);
	pasid_close(c);
	pasid_close(c2);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("stream");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, vm_story);
	tcase_add_test(tc, filters);
	tcase_add_test(tc, non_admin);
	tcase_add_test(tc, slow_subscriber);
	tcase_add_test(tc, libpasid_stream);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0)
		ck_skip("needs root to act as two uids");
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
