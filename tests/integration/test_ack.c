/* Issue 8, item 1 (invariant 6): no byte of an answer leaves the daemon before the commit
 * that covers every change it reports, whatever the peer pipelines, batches or leaves
 * unread; and a full state file system refuses changes instead of acknowledging what it
 * cannot keep. Every acknowledged change is checked after a kill -9 and restart. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct it_daemon d;

static void
teardown(void)
{
	it_release_kept();
	it_cleanup(&d);
}

/* A peer that keeps the daemon busy: cheap requests in bursts, answers read, until killed. */
static pid_t
flooder(void)
{
	pid_t pid = fork();
	char burst[50 * 64];
	size_t n = 0;
	int fd;

	if (pid != 0)
		return pid;
	fd = it_connect(&d);
	for (int i = 0; i < 50; i++)
		n += (size_t)sprintf(burst + n,
		                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"no.such\"}\n", i);
	for (;;) {
		struct it_reader rd;
		char *line;

		if (it_send(fd, burst, n) < 0)
			_exit(0);
		it_reader_init(&rd, fd);
		for (int i = 0; i < 50 && (line = it_reader_line(&rd, 5000)); i++)
			free(line);
		it_reader_free(&rd);
	}
}

/* The reproduction: answers of a batch wait unread in the daemon, then an allocation
 * of 100 followed by thousands of cheap lines, while other peers keep the daemon busy; the
 * daemon is killed the moment the allocation's answer arrives. Its 100 mappings must be
 * there after the restart. */
START_TEST(answer_waits_for_its_commit)
{
	ck_assert_int_eq(it_start(&d, NULL), 0);
	for (int round = 0; round < 6; round++) {
		char vm[32], *line, *big;
		long acked[101], table[4096];
		struct it_reader rd;
		size_t n = 0, cap = 20000 * 64 + 4096;
		int fd = it_connect(&d), got = 0, status;
		pid_t sender, floods[4];

		ck_assert_int_ge(fd, 0);
		snprintf(vm, sizeof(vm), "r%d", round);
		IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"%s\"}", vm));
		big = malloc(cap);
		n += (size_t)snprintf(big + n, cap - n, "[");
		for (int i = 0; i < 10; i++)
			n += (size_t)snprintf(
			    big + n, cap - n,
			    "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"rpc.discover\"}",
			    i ? "," : "", i);
		n += (size_t)snprintf(big + n, cap - n, "]\n");
		ck_assert_int_eq(it_send(fd, big, n), 0);
		/* Its answers wait unread in the daemon for a while; others keep it busy. */
		for (int i = 0; i < 4; i++)
			floods[i] = flooder();
		usleep(300000);
		n = 0;
		n += (size_t)snprintf(
		    big + n, cap - n,
		    "{\"jsonrpc\":\"2.0\",\"id\":\"alloc\",\"method\":\"pasid.alloc\","
		    "\"params\":{\"vm\":\"%s\",\"type\":\"shared\",\"count\":100}}\n",
		    vm);
		for (int i = 0; i < 20000; i++)
			n += (size_t)snprintf(
			    big + n, cap - n,
			    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"no.such\"}\n", i);
		/* Sent by a child while this process reads, so neither waits on the other. */
		sender = fork();
		ck_assert_int_ge(sender, 0);
		if (sender == 0)
			_exit(it_send(fd, big, n) < 0 ? 1 : 0);
		free(big);
		it_reader_init(&rd, fd);
		while ((line = it_reader_line(&rd, 60000))) {
			struct json_object *o, *maps;

			if (!strstr(line, "\"id\":\"alloc\"")) {
				free(line);
				continue;
			}
			/* Killed before anything else can happen: what was acknowledged must
			 * already be on disk. */
			kill(d.pid, SIGKILL);
			o = json_tokener_parse(line);
			free(line);
			maps = it_get(o, "result.mappings");
			ck_assert_msg(maps && json_object_array_length(maps) == 100,
			              "round %d: the allocation failed: %s", round,
			              json_object_to_json_string(o));
			for (size_t i = 0; i < 100; i++) {
				struct json_object *m = json_object_array_get_idx(maps, i);

				acked[i] = (long)it_int(m, "gpasid") << 20 | it_int(m, "hpasid");
			}
			got = 1;
			json_object_put(o);
			break;
		}
		it_reader_free(&rd);
		close(fd);
		waitpid(sender, &status, 0);
		for (int i = 0; i < 4; i++) {
			kill(floods[i], SIGKILL);
			waitpid(floods[i], &status, 0);
		}
		ck_assert_msg(got, "round %d: the allocation was never answered", round);
		it_kill(&d);
		ck_assert_int_eq(it_restart(&d, NULL), 0);
		fd = it_connect(&d);
		ck_assert_int_eq(it_vm_table(fd, vm, table, 4096), 0);
		for (size_t i = 0; i < 100; i++) {
			long g = acked[i] >> 20, h = acked[i] & 0xfffff;

			ck_assert_msg(table[g] == h,
			              "round %d: acknowledged mapping %ld->%ld of %s is %s after a "
			              "kill -9",
			              round, g, h, vm, table[g] < 0 ? "lost" : "changed");
		}
		close(fd);
	}
}
END_TEST

/* ---- random kills under mixed pipelined traffic ---- */

/* The traffic generator, in a child: pipelines single requests, batches mixing allocations,
 * frees, discovery, unknown methods and notifications, and bulk allocations, on VM `vm`,
 * each gPASID allocated at most once; reads its answers in bursts with pauses (so that
 * answers pile up in the daemon). Logs to fd `log`, one write per line, in order:
 *   "A g h" an allocation acknowledged, "s g" a free sent, "F g" a free acknowledged. */
enum { OP_ALLOC = 1, OP_FREE, OP_BULK, OP_OTHER };

struct pending {
	int op;
	int g, count;
};

static void
logf_line(int log, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(log, buf, (size_t)n) != n)
		_exit(5);
}

static void
ack_one(int log, const struct pending *p, struct json_object *resp, int *held, int *nheld)
{
	struct json_object *res = it_result(resp), *maps;

	if (!res)
		return; /* refused: nothing to remember */
	switch (p->op) {
	case OP_ALLOC:
		logf_line(log, "A %d %lld\n", p->g, (long long)it_int(res, "hpasid"));
		held[(*nheld)++] = p->g;
		break;
	case OP_BULK:
		maps = it_get(res, "mappings");
		for (size_t i = 0; maps && i < json_object_array_length(maps); i++) {
			struct json_object *m = json_object_array_get_idx(maps, i);

			logf_line(log, "A %lld %lld\n", (long long)it_int(m, "gpasid"),
			          (long long)it_int(m, "hpasid"));
			held[(*nheld)++] = (int)it_int(m, "gpasid");
		}
		break;
	case OP_FREE:
		logf_line(log, "F %d\n", p->g);
		break;
	}
}

#define GEN_MAX_ID (1 << 18)

/* Appends the next piece of traffic to buf; returns its length. */
static size_t
next_traffic(char *buf, const char *vm, int log, struct pending *pend, int *id, int *next_g,
             int *held, int *nheld)
{
	int k = (int)(random() % 8);
	size_t n = 0;

	if (k < 3 && *next_g < 4000) { /* single allocation */
		pend[*id] = (struct pending){OP_ALLOC, *next_g, 1};
		n += (size_t)sprintf(
		    buf + n,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
		    "\"params\":{\"vm\":\"%s\",\"type\":\"shared\",\"gpasid\":%d}}\n",
		    (*id)++, vm, (*next_g)++);
	} else if (k < 5) { /* a batch of everything */
		n += (size_t)sprintf(buf + n, "[");
		for (int i = 0; i < 8; i++) {
			int j = (int)(random() % 5);

			if (i)
				buf[n++] = ',';
			if (j == 0 && *next_g < 4000) {
				pend[*id] = (struct pending){OP_ALLOC, *next_g, 1};
				n += (size_t)sprintf(
				    buf + n,
				    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
				    "\"params\":{\"vm\":\"%s\",\"type\":\"shared\",\"gpasid\":%d}}",
				    (*id)++, vm, (*next_g)++);
			} else if (j == 1 && *nheld > 0) {
				int at = (int)(random() % *nheld), g = held[at];

				held[at] = held[--*nheld];
				logf_line(log, "s %d\n", g);
				pend[*id] = (struct pending){OP_FREE, g, 1};
				n += (size_t)sprintf(
				    buf + n,
				    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid."
				    "free\",\"params\":{\"vm\":\"%s\",\"gpasid\":%d}}",
				    (*id)++, vm, g);
			} else if (j == 2) {
				pend[*id] = (struct pending){OP_OTHER, 0, 0};
				n += (size_t)sprintf(buf + n,
				                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
				                     "\"rpc.discover\"}",
				                     (*id)++);
			} else if (j == 3) {
				pend[*id] = (struct pending){OP_OTHER, 0, 0};
				n += (size_t)sprintf(
				    buf + n,
				    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"no.such\"}",
				    (*id)++);
			} else {
				/* A notification: executed, never answered. */
				n += (size_t)sprintf(
				    buf + n, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.status\"}");
			}
		}
		n += (size_t)sprintf(buf + n, "]\n");
	} else if (k == 5 && *next_g + 64 < 4000) { /* bulk */
		int c = 1 + (int)(random() % 64);

		pend[*id] = (struct pending){OP_BULK, *next_g, c};
		n += (size_t)sprintf(buf + n,
		                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
		                     "\"params\":{\"vm\":\"%s\",\"type\":\"shared\",\"gpasid\":%d,"
		                     "\"count\":%d}}\n",
		                     (*id)++, vm, *next_g, c);
		*next_g += c;
	} else if (k == 6 && *nheld > 0) {
		int at = (int)(random() % *nheld), g = held[at];

		held[at] = held[--*nheld];
		logf_line(log, "s %d\n", g);
		pend[*id] = (struct pending){OP_FREE, g, 1};
		n += (size_t)sprintf(buf + n,
		                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.free\","
		                     "\"params\":{\"vm\":\"%s\",\"gpasid\":%d}}\n",
		                     (*id)++, vm, g);
	} else {
		pend[*id] = (struct pending){OP_OTHER, 0, 0};
		n += (size_t)sprintf(
		    buf + n, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"daemon.status\"}\n",
		    (*id)++);
	}
	return n;
}

static void
ack_line(int log, char *line, struct pending *pend, int *held, int *nheld)
{
	struct json_object *o = json_tokener_parse(line);
	size_t n = json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 1;

	for (size_t i = 0; o && i < n; i++) {
		struct json_object *e =
		    json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, i) : o;
		int64_t rid = it_int(e, "id");

		if (rid > 0 && rid < GEN_MAX_ID)
			ack_one(log, &pend[rid], e, held, nheld);
	}
	json_object_put(o);
}

/* Runs until the daemon goes away: writes whenever the socket takes more, and reads in
 * phases, some of which read nothing, so that answers pile up in the daemon. */
static void
generator(const char *vm, int log, unsigned seed)
{
	static struct pending pend[GEN_MAX_ID];
	int fd = it_connect(&d), held[4096], nheld = 0, next_g = 1, id = 1, paused = 0;
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap);
	struct it_reader rd;

	/* Killed before this child got to connect (a loaded machine can take longer than the
	 * shortest wait before the kill): nothing was sent, so nothing was acknowledged. A
	 * negative fd would make poll() report nothing, for ever. */
	if (fd < 0)
		_exit(0);
	srandom(seed);
	it_reader_init(&rd, fd);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char *line;

		while (len < cap / 2 && id < GEN_MAX_ID - 16)
			len += next_traffic(out + len, vm, log, pend, &id, &next_g, held, &nheld);
		if (len)
			p.events |= POLLOUT;
		if (paused > 0)
			p.events &= (short)~POLLIN;
		if (poll(&p, 1, 10) < 0)
			_exit(6);
		if (p.revents & (POLLHUP | POLLERR))
			p.revents |= POLLIN; /* to read the end */
		if (p.revents & POLLOUT) {
			ssize_t n = send(fd, out, len, MSG_NOSIGNAL);

			if (n < 0 && errno != EAGAIN)
				_exit(0);
			if (n > 0) {
				memmove(out, out + n, len - (size_t)n);
				len -= (size_t)n;
			}
		}
		if (paused > 0) {
			paused--;
		} else if (p.revents & POLLIN) {
			for (int i = 0; i < 256 && (line = it_reader_line(&rd, 0)); i++) {
				ack_line(log, line, pend, held, &nheld);
				free(line);
			}
			if (rd.eof)
				_exit(0);
			if (random() % 64 == 0)
				paused = 1 + (int)(random() % 20);
		}
	}
}

START_TEST(random_kills_under_pipelined_traffic)
{
	unsigned rounds = it_wrapped() ? 6 : 25, total = 0;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	srandom((unsigned)time(NULL));
	for (unsigned round = 0; round < rounds; round++) {
		char vm[32], logpath[160], line[64];
		long hp[4096], table[4096];
		bool freed_sent[4096], freed[4096];
		int fd, log, status;
		unsigned checked = 0;
		pid_t gen, floods[2];
		FILE *f;

		snprintf(vm, sizeof(vm), "k%u", round);
		snprintf(logpath, sizeof(logpath), "%s/gen%u.log", d.dir, round);
		fd = it_connect(&d);
		IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"%s\"}", vm));
		close(fd);
		log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		ck_assert_int_ge(log, 0);
		gen = fork();
		ck_assert_int_ge(gen, 0);
		if (gen == 0)
			generator(vm, log, (unsigned)random());
		close(log);
		for (int i = 0; i < 2; i++)
			floods[i] = flooder();
		/* A random moment, then kill -9. */
		usleep((useconds_t)(20000 + random() % (it_wrapped() ? 1500000 : 300000)));
		it_kill(&d);
		waitpid(gen, &status, 0);
		for (int i = 0; i < 2; i++) {
			int st;

			kill(floods[i], SIGKILL);
			waitpid(floods[i], &st, 0);
		}
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "round %u: the generator failed (status %d)", round, status);
		ck_assert_int_eq(it_restart(&d, NULL), 0);
		memset(freed_sent, 0, sizeof(freed_sent));
		memset(freed, 0, sizeof(freed));
		for (int i = 0; i < 4096; i++)
			hp[i] = -1;
		f = fopen(logpath, "re");
		ck_assert_ptr_nonnull(f);
		while (fgets(line, sizeof(line), f)) {
			long g, h;

			if (sscanf(line, "A %ld %ld", &g, &h) == 2)
				hp[g] = h;
			else if (sscanf(line, "s %ld", &g) == 1)
				freed_sent[g] = true;
			else if (sscanf(line, "F %ld", &g) == 1)
				freed[g] = true;
		}
		fclose(f);
		fd = it_connect(&d);
		ck_assert_int_eq(it_vm_table(fd, vm, table, 4096), 0);
		for (int g = 1; g < 4096; g++) {
			if (freed[g]) {
				ck_assert_msg(
				    table[g] < 0,
				    "round %u: gPASID %d of %s was freed (acknowledged) but is "
				    "back after a kill -9",
				    round, g, vm);
				checked++;
			} else if (hp[g] >= 0 && !freed_sent[g]) {
				ck_assert_msg(
				    table[g] == hp[g],
				    "round %u: acknowledged %d->%ld of %s is %s after a kill -9",
				    round, g, hp[g], vm, table[g] < 0 ? "lost" : "changed");
				checked++;
			}
		}
		close(fd);
		total += checked;
	}
	/* A round killed before anything was acknowledged checks nothing; all of them doing so
	 * would leave the test hollow. */
	fprintf(stderr, "random kills: %u acknowledged changes checked in %u rounds\n", total,
	        rounds);
	ck_assert_msg(total > 0, "no acknowledged change was checked in %u rounds", rounds);
}
END_TEST

/* ---- commits off the loop: order and crashes while one is in flight ---- */

/* A line reader over several connections at once: what read() gave, split at LF. */
struct lines {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool eof;
};

/* The next complete line of l (NUL-terminated in place, valid until the next call), or NULL
 * when none is complete; reads once when readable and nothing is complete. */
static char *
lines_next(struct lines *l, size_t *used)
{
	char *nl;
	ssize_t n;

	if (*used) {
		memmove(l->buf, l->buf + *used, l->len - *used);
		l->len -= *used;
		*used = 0;
	}
	nl = memchr(l->buf, '\n', l->len);
	if (!nl && !l->eof && l->len < sizeof(l->buf)) {
		n = recv(l->fd, l->buf + l->len, sizeof(l->buf) - l->len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			l->eof = true;
		else if (n > 0)
			l->len += (size_t)n;
		nl = memchr(l->buf, '\n', l->len);
	}
	if (!nl)
		return NULL;
	*nl = '\0';
	*used = (size_t)(nl - l->buf) + 1;
	return l->buf;
}

/* Sends data on fd from a child, so that the daemon's answers and our reading go on
 * meanwhile. */
static pid_t
send_in_child(int fd, const char *data, size_t n)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(it_send(fd, data, n) < 0 ? 1 : 0);
	return pid;
}

/* Pipelined changes and read-only requests on several connections while commits run off the
 * loop: every connection's answers come in the order of its requests (a read-only answer
 * never overtakes a held one), and each says what its request did. */
START_TEST(pipelined_answers_keep_their_order)
{
	enum { CONNS = 4, ROUNDS = 400, PER = 3 };
	static char buf[CONNS][ROUNDS * PER * 128];
	static struct lines ls[CONNS];
	size_t n[CONNS] = {0}, used[CONNS] = {0};
	unsigned next[CONNS] = {0}, done = 0;
	pid_t senders[CONNS];
	int fd, status;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	for (int c = 0; c < CONNS - 1; c++)
		IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"o%d\"}", c));
	for (int c = 0; c < CONNS; c++) {
		for (int i = 0; i < ROUNDS; i++) {
			unsigned id = (unsigned)(i * PER);

			if (c == CONNS - 1) { /* a reader only */
				for (int k = 0; k < PER; k++)
					n[c] += (size_t)sprintf(
					    buf[c] + n[c],
					    "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\"}\n",
					    id + k, k % 2 ? "vm.list" : "daemon.status");
				continue;
			}
			n[c] += (size_t)sprintf(
			    buf[c] + n[c],
			    "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"pasid.alloc\",\"params\":"
			    "{\"vm\":\"o%d\",\"type\":\"shared\",\"gpasid\":%d}}\n"
			    "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"daemon.status\"}\n"
			    "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"pasid.free\",\"params\":"
			    "{\"vm\":\"o%d\",\"gpasid\":%d}}\n",
			    id, c, i + 1, id + 1, id + 2, c, i + 1);
		}
		ls[c].fd = it_connect(&d);
		ls[c].len = 0;
		ls[c].eof = false;
		senders[c] = send_in_child(ls[c].fd, buf[c], n[c]);
	}
	while (done < CONNS) {
		struct pollfd p[CONNS];
		bool progress = false;

		for (int c = 0; c < CONNS; c++) {
			char *line;

			while (next[c] < ROUNDS * PER && (line = lines_next(&ls[c], &used[c]))) {
				struct json_object *o = json_tokener_parse(line);
				unsigned k = next[c] % PER;

				ck_assert_msg(o && it_int(o, "id") == next[c],
				              "connection %d: answer %u out of order: %s", c,
				              next[c], line);
				ck_assert_msg(it_result(o), "connection %d: %s", c, line);
				if (c < CONNS - 1 && k == 0)
					ck_assert_int_eq(it_int(o, "result.gpasid"),
					                 next[c] / PER + 1);
				json_object_put(o);
				if (++next[c] == ROUNDS * PER)
					done++;
				progress = true;
			}
			ck_assert_msg(!ls[c].eof || next[c] == ROUNDS * PER,
			              "connection %d closed after %u answers", c, next[c]);
			p[c] = (struct pollfd){.fd = ls[c].fd, .events = POLLIN};
		}
		if (!progress && done < CONNS)
			ck_assert_int_gt(poll(p, CONNS, 20000), 0);
	}
	for (int c = 0; c < CONNS; c++) {
		waitpid(senders[c], &status, 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(ls[c].fd);
	}
	/* Everything allocated was freed again. */
	for (int c = 0; c < CONNS - 1; c++) {
		struct json_object *r = it_callf(fd, "pasid.list", "{\"vm\":\"o%d\"}", c);

		ck_assert_int_eq(json_object_array_length(it_get(r, "result.mappings")), 0);
		json_object_put(r);
	}
	close(fd);
	it_stop(&d);
}
END_TEST

/* kill -9 while several connections stream pipelined allocations, so that a commit is in
 * flight with the next group forming behind it: every allocation whose answer arrived (also
 * those read after the kill, sent before it) is there after the restart, with its hPASID. */
START_TEST(kill9_with_commits_in_flight)
{
	enum { CONNS = 4, ALLOCS = 3000 };
	static char buf[CONNS][ALLOCS * 128];
	static struct lines ls[CONNS];
	static long acked[CONNS][4096], table[4096];
	unsigned rounds = it_wrapped() ? 2 : 6, checked = 0;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	srandom((unsigned)time(NULL));
	for (unsigned round = 0; round < rounds; round++) {
		size_t n[CONNS] = {0}, used[CONNS] = {0};
		unsigned answers = 0, kill_at = 100 + (unsigned)(random() % (CONNS * ALLOCS / 2));
		bool killed = false;
		pid_t senders[CONNS];
		int fd = it_connect(&d), status;

		for (int c = 0; c < CONNS; c++) {
			IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"f%u-%d\"}", round, c));
			for (int g = 0; g < 4096; g++)
				acked[c][g] = -1;
			for (int i = 1; i <= ALLOCS; i++)
				n[c] += (size_t)sprintf(
				    buf[c] + n[c],
				    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
				    "\"params\":{\"vm\":\"f%u-%d\",\"type\":\"shared\",\"gpasid\":%"
				    "d}}\n",
				    i, round, c, i);
		}
		close(fd);
		for (int c = 0; c < CONNS; c++) {
			ls[c].fd = it_connect(&d);
			ls[c].len = 0;
			ls[c].eof = false;
			senders[c] = send_in_child(ls[c].fd, buf[c], n[c]);
		}
		/* Read until every connection is closed: killed, the daemon closes them all. */
		for (;;) {
			struct pollfd p[CONNS];
			bool progress = false, open = false;

			for (int c = 0; c < CONNS; c++) {
				char *line;

				while ((line = lines_next(&ls[c], &used[c]))) {
					struct json_object *o = json_tokener_parse(line);
					long g = o ? (long)it_int(o, "id") : -1;

					ck_assert_msg(o && g >= 1 && g <= ALLOCS, "%s", line);
					if (it_result(o))
						acked[c][g] = (long)it_int(o, "result.hpasid");
					json_object_put(o);
					answers++;
					progress = true;
				}
				open |= !ls[c].eof;
				p[c] = (struct pollfd){.fd = ls[c].eof ? -1 : ls[c].fd,
				                       .events = POLLIN};
			}
			if (!killed && (answers >= kill_at || !open)) {
				kill(d.pid, SIGKILL);
				killed = true;
			}
			if (!open)
				break;
			if (!progress)
				ck_assert_int_gt(poll(p, CONNS, 20000), 0);
		}
		for (int c = 0; c < CONNS; c++) {
			waitpid(senders[c], &status, 0);
			close(ls[c].fd);
		}
		it_kill(&d);
		ck_assert_int_eq(it_restart(&d, NULL), 0);
		fd = it_connect(&d);
		for (int c = 0; c < CONNS; c++) {
			char vm[32];

			snprintf(vm, sizeof(vm), "f%u-%d", round, c);
			ck_assert_int_eq(it_vm_table(fd, vm, table, 4096), 0);
			for (int g = 1; g <= ALLOCS; g++) {
				if (acked[c][g] < 0)
					continue;
				ck_assert_msg(table[g] == acked[c][g],
				              "round %u: acknowledged %d->%ld of %s is %s after a "
				              "kill -9",
				              round, g, acked[c][g], vm,
				              table[g] < 0 ? "lost" : "changed");
				checked++;
			}
		}
		close(fd);
	}
	fprintf(stderr, "kill -9 with commits in flight: %u acknowledged allocations checked\n",
	        checked);
	ck_assert_uint_gt(checked, 0);
	it_stop(&d);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("ack");
	TCase *tc = tcase_create("durable-before-acknowledged");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, answer_waits_for_its_commit);
	tcase_add_test(tc, random_kills_under_pipelined_traffic);
	tcase_add_test(tc, pipelined_answers_keep_their_order);
	tcase_add_test(tc, kill9_with_commits_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
