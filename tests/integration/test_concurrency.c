/*
 * pasidd under concurrent clients: many VMMs allocating at once get host-unique hPASIDs, a
 * client that stalls (half a line, or never reading its answers) does not hold up anyone
 * else, and a pipelined connection gets every answer, in order. Nothing here asserts on
 * time: waits are bounded only so that a hang fails instead of blocking forever.
 */
#include "harness.h"

#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ERR     IT_ERR
#define OK      IT_OK
#define JSON_EQ IT_JSON_EQ

#define NCLIENTS   100
#define PER_CLIENT 20
#define SHARED_MAX 524287

static struct it_daemon D;
static int fd = -1;

static void
setup(void)
{
	ck_assert_msg(it_setup(&D, &fd, NULL) == 0, "pasidd did not start (log in %s)", D.log);
}

static void
teardown(void)
{
	it_teardown(&D, &fd);
}

/* ---- many client processes ---- */

/* What one client process reports back; small enough for one atomic pipe write. */
struct record {
	int idx;
	int status; /* 0: done; otherwise the error code met, or -1 */
	int nh;
	uint32_t h[PER_CLIENT];
	char why[96];
};

typedef void (*client_fn)(int idx, int s, struct record *rec);

struct clients {
	int n;
	pid_t pid[NCLIENTS];
	struct record rec[NCLIENTS];
	int release; /* closing it lets the clients exit */
};

static void
fail_rec(struct record *rec, int status, struct json_object *resp, const char *what)
{
	rec->status = status ? status : -1;
	snprintf(rec->why, sizeof(rec->why), "%s: %.70s", what,
	         resp ? json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN) : "no answer");
}

/* Forks n client processes that start together, each running fn on its own connection,
 * and waits for all their records. The clients (and so the VMs they own) stay alive until
 * clients_release(). */
static void
clients_run(struct clients *c, int n, client_fn fn)
{
	int go[2], rel[2], res[2];

	ck_assert_int_le(n, NCLIENTS);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(rel), 0);
	ck_assert_int_eq(pipe(res), 0);
	c->n = n;
	for (int i = 0; i < n; i++) {
		c->pid[i] = fork();
		ck_assert_int_ge(c->pid[i], 0);
		if (c->pid[i] == 0) {
			struct record rec = {.idx = i};
			char ch;
			int s;

			close(go[1]);
			close(rel[1]);
			close(res[0]);
			/* All start when the parent closes its end. */
			if (read(go[0], &ch, 1) < 0)
				_exit(2);
			s = it_connect(&D);
			if (s < 0)
				fail_rec(&rec, -1, NULL, "connect");
			else
				fn(i, s, &rec);
			if (write(res[1], &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
				_exit(3);
			if (read(rel[0], &ch, 1) < 0)
				_exit(4);
			_exit(0);
		}
	}
	close(go[0]);
	close(rel[0]);
	close(res[1]);
	close(go[1]);
	for (int got = 0; got < n; got++) {
		struct pollfd p = {.fd = res[0], .events = POLLIN};
		struct record rec;

		ck_assert_msg(poll(&p, 1, 120000) == 1, "only %d of %d clients finished", got, n);
		ck_assert_int_eq(read(res[0], &rec, sizeof(rec)), (ssize_t)sizeof(rec));
		ck_assert(rec.idx >= 0 && rec.idx < n);
		c->rec[rec.idx] = rec;
	}
	close(res[0]);
	c->release = rel[1];
}

static void
clients_release(struct clients *c)
{
	close(c->release);
	for (int i = 0; i < c->n; i++) {
		int status;

		ck_assert_int_eq(waitpid(c->pid[i], &status, 0), c->pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "client %d ended with status %d", i, status);
	}
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Registers c<idx> and allocates PER_CLIENT shared PASIDs: half one by one, half at once. */
static void
twenty_shared(int idx, int s, struct record *rec)
{
	char params[96];
	struct json_object *r;

	snprintf(params, sizeof(params), "{\"vm\":\"c%03d\"}", idx);
	r = it_call(s, "vm.register", params);
	if (it_errcode(r)) {
		fail_rec(rec, it_errcode(r), r, "vm.register");
		json_object_put(r);
		return;
	}
	json_object_put(r);
	snprintf(params, sizeof(params), "{\"vm\":\"c%03d\",\"type\":\"shared\"}", idx);
	for (int k = 0; k < PER_CLIENT / 2; k++) {
		r = it_call(s, "pasid.alloc", params);
		if (it_errcode(r) || it_int(it_result(r), "gpasid") != k + 1) {
			fail_rec(rec, it_errcode(r), r, "pasid.alloc");
			json_object_put(r);
			return;
		}
		rec->h[rec->nh++] = (uint32_t)it_int(it_result(r), "hpasid");
		json_object_put(r);
	}
	snprintf(params, sizeof(params), "{\"vm\":\"c%03d\",\"type\":\"shared\",\"count\":%d}", idx,
	         PER_CLIENT - PER_CLIENT / 2);
	r = it_call(s, "pasid.alloc", params);
	for (int k = PER_CLIENT / 2; k < PER_CLIENT && !it_errcode(r); k++) {
		struct json_object *m = it_get(it_result(r), "mappings");

		m = json_object_array_get_idx(m, (size_t)(k - PER_CLIENT / 2));
		if (it_int(m, "gpasid") != k + 1)
			break;
		rec->h[rec->nh++] = (uint32_t)it_int(m, "hpasid");
	}
	if (rec->nh != PER_CLIENT)
		fail_rec(rec, it_errcode(r), r, "pasid.alloc count");
	json_object_put(r);
}

START_TEST(hundred_clients)
{
	static struct clients c;
	uint32_t all[NCLIENTS * PER_CLIENT];
	struct json_object *list, *st;
	size_t n = 0;

	clients_run(&c, NCLIENTS, twenty_shared);
	for (int i = 0; i < NCLIENTS; i++) {
		ck_assert_msg(c.rec[i].status == 0, "client %d: %s", i, c.rec[i].why);
		ck_assert_int_eq(c.rec[i].nh, PER_CLIENT);
		for (int k = 0; k < PER_CLIENT; k++) {
			ck_assert(c.rec[i].h[k] >= 4096 && c.rec[i].h[k] <= SHARED_MAX);
			all[n++] = c.rec[i].h[k];
		}
	}
	/* Invariant 1: every hPASID handed out belongs to one mapping only. */
	qsort(all, n, sizeof(all[0]), cmp_u32);
	for (size_t i = 1; i < n; i++)
		ck_assert_msg(all[i] != all[i - 1], "hPASID %u handed out twice", all[i]);
	/* The daemon's own account agrees with what the clients were told. */
	list = it_keep(it_list_all(fd, "pasid.list", "mappings", NULL));
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(json_object_array_length(list), NCLIENTS * PER_CLIENT);
	for (int i = 0; i < NCLIENTS; i++) {
		for (int k = 0; k < PER_CLIENT; k++) {
			char vm[8];

			snprintf(vm, sizeof(vm), "c%03d", i);
			JSON_EQ(json_object_array_get_idx(list, (size_t)(i * PER_CLIENT + k)),
			        "{\"vm\":\"%s\",\"gpasid\":%d,\"hpasid\":%u,\"type\":\"shared\"}",
			        vm, k + 1, c.rec[i].h[k]);
		}
	}
	ck_assert_uint_eq(
	    json_object_array_length(it_keep(it_list_all(fd, "vm.list", "vms", NULL))), NCLIENTS);
	st = OK(it_call(fd, "daemon.status", NULL));
	JSON_EQ(it_get(st, "used"), "{\"local\":0,\"shared\":%d}", NCLIENTS * PER_CLIENT);
	JSON_EQ(it_get(st, "free"), "{\"shared\":%d}",
	        SHARED_MAX - 4096 + 1 - NCLIENTS * PER_CLIENT);
	ck_assert_int_eq(it_int(st, "vms"), NCLIENTS);
	clients_release(&c);
}
END_TEST

/* Registers r<idx> and asks for ten shared PASIDs at once. */
static void
ten_at_once(int idx, int s, struct record *rec)
{
	char params[96];
	struct json_object *r, *maps;

	snprintf(params, sizeof(params), "{\"vm\":\"r%03d\"}", idx);
	r = it_call(s, "vm.register", params);
	if (it_errcode(r)) {
		fail_rec(rec, it_errcode(r), r, "vm.register");
		json_object_put(r);
		return;
	}
	json_object_put(r);
	snprintf(params, sizeof(params), "{\"vm\":\"r%03d\",\"type\":\"shared\",\"count\":10}",
	         idx);
	r = it_call(s, "pasid.alloc", params);
	if (it_errcode(r)) {
		/* 1001 is an expected outcome here: the caller counts them. */
		if (it_errcode(r) != 1001 || strcmp(it_errreason(r), "exhausted"))
			fail_rec(rec, it_errcode(r), r, "pasid.alloc");
		else
			rec->status = 1001;
		json_object_put(r);
		return;
	}
	maps = it_get(it_result(r), "mappings");
	for (size_t k = 0; k < json_object_array_length(maps) && rec->nh < PER_CLIENT; k++)
		rec->h[rec->nh++] = (uint32_t)it_int(json_object_array_get_idx(maps, k), "hpasid");
	if (rec->nh != 10)
		fail_rec(rec, -1, r, "mappings");
	json_object_put(r);
}

/* 100 clients race for 500 numbers, ten each, all or nothing: exactly 50 win. */
START_TEST(race_for_a_small_range)
{
	static struct clients c;
	uint32_t all[500];
	int won = 0, lost = 0;
	size_t n = 0;
	struct json_object *st;

	close(fd);
	it_cleanup(&D);
	ck_assert_int_eq(it_start(&D, "--shared-range", "4096-4595", NULL), 0);
	fd = it_connect(&D);
	ck_assert_int_ge(fd, 0);
	clients_run(&c, NCLIENTS, ten_at_once);
	for (int i = 0; i < NCLIENTS; i++) {
		if (c.rec[i].status == 1001) {
			ck_assert_int_eq(c.rec[i].nh, 0);
			lost++;
			continue;
		}
		ck_assert_msg(c.rec[i].status == 0, "client %d: %s", i, c.rec[i].why);
		won++;
		for (int k = 0; k < c.rec[i].nh; k++) {
			ck_assert(c.rec[i].h[k] >= 4096 && c.rec[i].h[k] <= 4595);
			ck_assert_uint_lt(n, 500);
			all[n++] = c.rec[i].h[k];
		}
	}
	ck_assert_int_eq(won, 50);
	ck_assert_int_eq(lost, 50);
	qsort(all, n, sizeof(all[0]), cmp_u32);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(all[i], 4096 + i);
	st = OK(it_call(fd, "daemon.status", NULL));
	JSON_EQ(it_get(st, "used"), "{\"local\":0,\"shared\":500}");
	JSON_EQ(it_get(st, "free"), "{\"shared\":0}");
	ck_assert_uint_eq(
	    json_object_array_length(it_keep(it_list_all(fd, "pasid.list", "mappings", NULL))),
	    500);
	clients_release(&c);
}
END_TEST

/* ---- stalled clients ---- */

/* Writes requests on a non-blocking socket without reading any answer until the socket
 * takes no more (the daemon stopped reading it, or a safety bound). Returns how many whole
 * requests went out; a request cut short stays in *partial (offset in *off). */
static int
flood(int s, char *partial, size_t *plen, size_t *off)
{
	int sent = 0;

	for (int id = 1; id <= 10000; id++) {
		*plen = (size_t)snprintf(
		    partial, 128, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"rpc.discover\"}\n",
		    id);
		*off = 0;
		while (*off < *plen) {
			ssize_t n =
			    send(s, partial + *off, *plen - *off, MSG_DONTWAIT | MSG_NOSIGNAL);
			struct pollfd p = {.fd = s, .events = POLLOUT};

			if (n > 0) {
				*off += (size_t)n;
				continue;
			}
			ck_assert_msg(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
			              "send: %s", strerror(errno));
			/* Full: done once it stays full for a while. */
			if (poll(&p, 1, 1000) == 0)
				return sent;
		}
		sent++;
	}
	*plen = *off = 0;
	return sent;
}

/* Reads the flooded answers (finishing the cut request first) and checks that each of the
 * `expect` requests got its answer, in order. */
static void
drain(int s, int expect, const char *partial, size_t plen, size_t off)
{
	/* Room for one answer (rpc.discover) and one read; lines are taken out as they come. */
	static char buf[1 << 20];
	size_t len = 0;
	int got = 0;

	while (got < expect) {
		struct pollfd p = {.fd = s, .events = POLLIN | (off < plen ? POLLOUT : 0)};
		ssize_t n;
		char *nl;
		bool ok;

		ck_assert_msg(poll(&p, 1, 30000) > 0, "stuck after %d of %d answers", got, expect);
		if ((p.revents & POLLOUT) && off < plen) {
			n = send(s, partial + off, plen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		ck_assert_uint_lt(len, sizeof(buf));
		n = recv(s, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
		ck_assert_msg(n > 0 || (n < 0 && errno == EAGAIN),
		              "connection lost after %d answers", got);
		if (n <= 0)
			continue;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			struct json_object *r;

			*nl = '\0';
			r = json_tokener_parse(buf);
			got++;
			ok = r && it_int(r, "id") == got && it_result(r);
			json_object_put(r);
			ck_assert_msg(ok, "answer %d is not the answer to request %d", got, got);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
	}
}

START_TEST(stalled_clients_do_not_block)
{
	static const char half[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth";
	char partial[128];
	size_t plen = 0, off = 0;
	int silent, hog, other, late, flooded;
	struct json_object *r;

	/* One sends half a line and then nothing. */
	silent = it_connect(&D);
	ck_assert_int_ge(silent, 0);
	ck_assert_int_eq(it_send(silent, half, strlen(half)), 0);
	/* One sends and sends and never reads. */
	hog = it_connect(&D);
	ck_assert_int_ge(hog, 0);
	ck_assert_int_eq(fcntl(hog, F_SETFL, fcntl(hog, F_GETFL) | O_NONBLOCK), 0);
	flooded = flood(hog, partial, &plen, &off);
	ck_assert_int_gt(flooded, 0);

	/* Meanwhile, another client's 200 requests all complete. */
	other = it_connect(&D);
	ck_assert_int_ge(other, 0);
	OK(it_call(other, "vm.register", "{\"vm\":\"busy\"}"));
	for (int i = 0; i < 100; i++) {
		r = it_keep(it_call(other, "pasid.alloc", "{\"vm\":\"busy\",\"type\":\"shared\"}"));
		ck_assert_msg(!it_result_mismatch(r), "request %d: %s", 2 * i + 1,
		              it_result_mismatch(r));
		JSON_EQ(it_result(r), "{\"gpasid\":1,\"hpasid\":%d,\"type\":\"shared\"}", 4096 + i);
		r = it_keep(it_call(other, "pasid.free", "{\"vm\":\"busy\",\"gpasid\":1}"));
		ck_assert_msg(!it_result_mismatch(r), "request %d: %s", 2 * i + 2,
		              it_result_mismatch(r));
	}
	/* And a newcomer is served. */
	late = it_connect(&D);
	ck_assert_int_ge(late, 0);
	ck_assert_int_ge(it_int(OK(it_call(late, "daemon.status", NULL)), "connections"), 4);
	close(late);

	/* The stalled ones were not forgotten: the half line completes... */
	ck_assert_int_eq(it_sendline(silent, "od\":\"vm.list\"}"), 0);
	r = OK(it_recvjson(silent, 10000));
	ck_assert_int_eq(json_object_array_length(it_get(r, "vms")), 1);
	/* ...and the flood is answered, every request in order, once it is read. */
	drain(hog, flooded + (plen > 0), partial, plen, off);
	close(silent);
	close(hog);
	close(other);
}
END_TEST

/* ---- pipelining ---- */

START_TEST(pipelined_thousand)
{
	size_t cap = 1000 * 128, len = 0;
	char *buf = it_keep_str(malloc(cap));
	int gpasid = 0;

	OK(it_call(fd, "vm.register", "{\"vm\":\"pipe\"}"));
	/* Every 50th is an error, to show errors keep their place too. */
	for (int id = 1; id <= 1000; id++)
		len += (size_t)snprintf(
		    buf + len, cap - len, "%s%d%s", "{\"jsonrpc\":\"2.0\",\"id\":", id,
		    id % 50 ? ",\"method\":\"pasid.alloc\",\"params\":{\"vm\":\"pipe\",\"type\":"
		              "\"shared\"}}\n"
		            : ",\"method\":\"vm.nosuch\"}\n");
	ck_assert_int_eq(it_send(fd, buf, len), 0);
	for (int id = 1; id <= 1000; id++) {
		struct json_object *r = it_keep(it_recvjson(fd, 10000));

		ck_assert_msg(r, "answer %d missing", id);
		ck_assert_int_eq(it_int(r, "id"), id);
		if (id % 50 == 0) {
			ck_assert_msg(!it_error_mismatch(r, -32601, ""), "%s",
			              it_error_mismatch(r, -32601, ""));
			continue;
		}
		gpasid++;
		JSON_EQ(it_result(r), "{\"gpasid\":%d,\"hpasid\":%d,\"type\":\"shared\"}", gpasid,
		        4095 + gpasid);
	}
	JSON_EQ(it_get(OK(it_call(fd, "daemon.status", NULL)), "used"),
	        "{\"local\":0,\"shared\":980}");
	ck_assert_uint_eq(
	    json_object_array_length(it_keep(it_list_all(fd, "pasid.list", "mappings", NULL))),
	    980);
}
END_TEST

/* Much the same as one batch (600 requests, to stay within the 64 KiB line). */
START_TEST(batch_of_600)
{
	size_t cap = 600 * 128, len = 0;
	char *buf = it_keep_str(malloc(cap));
	struct json_object *r;

	OK(it_call(fd, "vm.register", "{\"vm\":\"b\"}"));
	len += (size_t)snprintf(buf, cap, "[");
	for (int id = 1; id <= 600; id++)
		len +=
		    (size_t)snprintf(buf + len, cap - len,
		                     "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
		                     "\"params\":{\"vm\":\"b\",\"type\":\"shared\"}}",
		                     id > 1 ? "," : "", id);
	len += (size_t)snprintf(buf + len, cap - len, "]");
	ck_assert_uint_le(len, 65536);
	ck_assert_int_eq(it_sendline(fd, buf), 0);
	r = it_keep(it_recvjson(fd, 10000));
	ck_assert_msg(json_object_is_type(r, json_type_array), "no batch answer");
	ck_assert_uint_eq(json_object_array_length(r), 600);
	/* Batch answers may come in any order; each id once, each gPASID once. */
	{
		static char seen_id[601], seen_g[601];

		for (size_t i = 0; i < 600; i++) {
			struct json_object *e = json_object_array_get_idx(r, i);
			int64_t id = it_int(e, "id"), g = it_int(e, "result.gpasid");

			ck_assert(id >= 1 && id <= 600 && !seen_id[id]);
			ck_assert(g >= 1 && g <= 600 && !seen_g[g]);
			ck_assert_int_eq(it_int(e, "result.hpasid"), 4095 + g);
			seen_id[id] = seen_g[g] = 1;
		}
	}
	JSON_EQ(it_get(OK(it_call(fd, "daemon.status", NULL)), "used"),
	        "{\"local\":0,\"shared\":600}");
}
END_TEST

static Suite *
concurrency_suite(void)
{
	Suite *s = suite_create("concurrency");
	TCase *tc;

	tc = tcase_create("many-clients");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, hundred_clients);
	tcase_add_test(tc, race_for_a_small_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("stalled-clients");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, stalled_clients_do_not_block);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipelining");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, pipelined_thousand);
	tcase_add_test(tc, batch_of_600);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run(concurrency_suite());
}
