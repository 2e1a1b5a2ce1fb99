/* Issue 3: state survives kill -9 and restarts; owner exit reclaims, also while the daemon
 * is down; a state that breaks the rules is refused. */
#include <check.h>

#include "ck_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct it_daemon d;

static void
teardown(void)
{
	it_cleanup(&d);
}

/* "g:h g:h ..." of a VM, sorted by gpasid (vm.show order), every page of it. */
static char *
table_of(int fd, const char *vm)
{
	char params[128], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_object *maps;

	snprintf(params, sizeof(params), "{\"vm\":\"%s\"}", vm);
	maps = it_list_all(fd, "vm.show", "mappings", params);
	for (size_t i = 0; maps && i < json_object_array_length(maps); i++) {
		struct json_object *m = json_object_array_get_idx(maps, i);

		fprintf(f, "%lld:%lld ", (long long)it_int(m, "gpasid"),
		        (long long)it_int(m, "hpasid"));
	}
	if (!maps)
		fprintf(f, "no VM");
	fclose(f);
	json_object_put(maps);
	return buf;
}

START_TEST(kill9_keeps_the_table)
{
	int fd;
	char *before, *after;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"a\"}"), 0);
	ck_assert_int_eq(it_code(fd, "device.assign", "{\"vm\":\"a\",\"device\":\"0000:00:02.0\"}"),
	                 0);
	ck_assert_int_eq(
	    it_code(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"count\":50}"), 0);
	ck_assert_int_eq(it_code(fd, "pasid.alloc",
	                         "{\"vm\":\"a\",\"type\":\"local\",\"device\":\"0000:00:02.0\"}"),
	                 0);
	ck_assert_int_eq(it_code(fd, "pasid.free", "{\"vm\":\"a\",\"gpasid\":7}"), 0);
	before = table_of(fd, "a");
	close(fd);
	it_kill(&d);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	after = table_of(fd, "a");
	ck_assert_str_eq(before, after);
	/* next-fit survives too: the next hPASID follows the last one handed out */
	struct json_object *r = it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}");
	ck_assert_int_eq(it_int(r, "result.hpasid"), 4096 + 50);
	ck_assert_int_eq(it_int(r, "result.gpasid"), 7);
	json_object_put(r);
	r = it_call(fd, "daemon.status", NULL);
	ck_assert_int_gt(it_int(r, "result.journal.replayed_records"), 0);
	ck_assert_int_eq(it_int(r, "result.used.shared"), 50);
	json_object_put(r);
	free(before);
	free(after);
	close(fd);
}
END_TEST

/* The worker: allocates and frees on VM "c" as fast as it can, one request at a time,
 * logging "P op" before sending and "A g h" / "F g" once acknowledged. */
static void
worker(const char *logpath, unsigned seed)
{
	FILE *log = fopen(logpath, "a");
	int fd = it_connect(&d);
	long held[4096];
	unsigned nheld = 0;

	setvbuf(log, NULL, _IONBF, 0);
	srandom(seed);
	for (;;) {
		struct json_object *r;

		if (nheld == 0 || (nheld < 3000 && random() % 3)) {
			fprintf(log, "P A\n");
			r = it_call(fd, "pasid.alloc", "{\"vm\":\"c\",\"type\":\"shared\"}");
			if (!r)
				_exit(0);
			if (it_errcode(r))
				_exit(3);
			held[nheld++] = (long)it_int(r, "result.gpasid");
			fprintf(log, "A %lld %lld\n", (long long)it_int(r, "result.gpasid"),
			        (long long)it_int(r, "result.hpasid"));
		} else {
			unsigned k = (unsigned)random() % nheld;
			char p[64];

			snprintf(p, sizeof(p), "{\"vm\":\"c\",\"gpasid\":%ld}", held[k]);
			fprintf(log, "P F %ld\n", held[k]);
			r = it_call(fd, "pasid.free", p);
			if (!r)
				_exit(0);
			if (it_errcode(r))
				_exit(4);
			fprintf(log, "F %ld\n", held[k]);
			held[k] = held[--nheld];
		}
		json_object_put(r);
	}
}

START_TEST(crash_loop)
{
	char logpath[160];
	long model[4096]; /* gpasid -> hpasid, 0 = free */
	long max_h = 0;
	int fd;

	memset(model, 0, sizeof(model));
	ck_assert_int_eq(it_start(&d, NULL), 0);
	snprintf(logpath, sizeof(logpath), "%s/acks.log", d.dir);
	fd = it_connect(&d);
	/* The test process owns the VM, so it outlives every crash of the daemon. */
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"c\"}"), 0);
	close(fd);
	srandom((unsigned)time(NULL));
	for (int round = 0; round < 20; round++) {
		pid_t w = fork();
		FILE *log;
		char line[128], pending[128] = "";
		int status;

		if (w == 0) {
			/* Each round's worker resumes from what the daemon holds now. */
			worker(logpath, (unsigned)round * 7919u);
			_exit(0);
		}
		usleep((useconds_t)(20000 + random() % 150000));
		it_kill(&d);
		waitpid(w, &status, 0);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "worker failed in round %d (status %d)", round, status);
		/* Fold this round's acknowledgements into the model. */
		log = fopen(logpath, "r");
		while (fgets(line, sizeof(line), log)) {
			long g, h;

			if (sscanf(line, "A %ld %ld", &g, &h) == 2) {
				ck_assert_int_eq(model[g], 0);
				model[g] = h;
				if (h > max_h)
					max_h = h;
				pending[0] = '\0';
			} else if (sscanf(line, "F %ld", &g) == 1) {
				model[g] = 0;
				pending[0] = '\0';
			} else if (line[0] == 'P') {
				snprintf(pending, sizeof(pending), "%s", line + 2);
			}
		}
		fclose(log);
		unlink(logpath);
		ck_assert_int_eq(it_restart(&d, NULL), 0);
		fd = it_connect(&d);
		struct json_object *r;
		long seen[4096];

		ck_assert_int_eq(it_vm_table(fd, "c", seen, 4096), 0);
		for (long g = 0; g < 4096; g++)
			seen[g] = seen[g] < 0 ? 0 : seen[g];
		/* Every acknowledged change is there; only the one unacknowledged request
		 * may have gone either way. */
		for (long g = 0; g < 4096; g++) {
			if (seen[g] == model[g])
				continue;
			if (pending[0] == 'A' && model[g] == 0 && seen[g] > max_h) {
				model[g] = seen[g]; /* the unacknowledged alloc made it */
				max_h = seen[g];
				continue;
			}
			long pg;
			if (sscanf(pending, "F %ld", &pg) == 1 && pg == g && seen[g] == 0) {
				model[g] = 0; /* the unacknowledged free made it */
				continue;
			}
			ck_abort_msg("round %d: gpasid %ld holds %ld, acknowledged state says %ld",
			             round, g, seen[g], model[g]);
		}
		/* No hPASID twice, and the next one continues past all handed out. */
		r = it_call(fd, "pasid.alloc", "{\"vm\":\"c\",\"type\":\"shared\"}");
		ck_assert_int_eq(it_errcode(r), 0);
		ck_assert_int_gt(it_int(r, "result.hpasid"), max_h);
		model[it_int(r, "result.gpasid")] = (long)it_int(r, "result.hpasid");
		max_h = (long)it_int(r, "result.hpasid");
		json_object_put(r);
		close(fd);
	}
}
END_TEST

/* A child that registers a VM, allocates, says so, and exits when told. */
static pid_t
owner_child(const char *vm, int *go)
{
	int ready[2], wait_fd[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(wait_fd), 0);
	pid = fork();
	if (pid == 0) {
		int fd = it_connect(&d);
		char p[128];

		/* Only the parent may hold the write end, or "exit when told" never comes. */
		close(wait_fd[1]);
		close(ready[0]);
		snprintf(p, sizeof(p), "{\"vm\":\"%s\"}", vm);
		if (it_code(fd, "vm.register", p))
			_exit(1);
		snprintf(p, sizeof(p), "{\"vm\":\"%s\",\"type\":\"shared\",\"count\":3}", vm);
		if (it_code(fd, "pasid.alloc", p))
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(wait_fd[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(wait_fd[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*go = wait_fd[1];
	return pid;
}

START_TEST(owner_exit_while_running)
{
	int fd, go, status;
	pid_t child;
	struct json_object *r;
	int code = 0;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	child = owner_child("owned", &go);
	ck_assert_int_eq(it_code(fd, "vm.show", "{\"vm\":\"owned\"}"), 0);
	r = it_call(fd, "vm.show", "{\"vm\":\"owned\"}");
	ck_assert_int_eq(it_int(r, "result.pid"), child);
	json_object_put(r);
	close(go);
	waitpid(child, &status, 0);
	/* Seen through the pidfd: poll until it is gone (bounded, not timed). */
	for (int i = 0; i < 500 && code != 1003; i++) {
		code = it_code(fd, "vm.show", "{\"vm\":\"owned\"}");
		if (code != 1003)
			usleep(10000);
	}
	ck_assert_int_eq(code, 1003);
	r = it_call(fd, "daemon.status", NULL);
	ck_assert_int_eq(it_int(r, "result.used.shared"), 0);
	ck_assert_int_eq(it_int(r, "result.vms"), 0);
	json_object_put(r);
	close(fd);
}
END_TEST

START_TEST(owner_exit_while_down)
{
	int fd, go, status;
	pid_t child;
	struct json_object *r;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	child = owner_child("gone", &go);
	ck_assert_int_eq(it_stop(&d), 0);
	close(go);
	waitpid(child, &status, 0);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_eq(it_code(fd, "vm.show", "{\"vm\":\"gone\"}"), 1003);
	r = it_call(fd, "daemon.status", NULL);
	ck_assert_int_eq(it_int(r, "result.used.shared"), 0);
	json_object_put(r);
	/* the numbers went back to the pool: a new VM can allocate */
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"gone\"}"), 0);
	close(fd);
}
END_TEST

START_TEST(reattach_after_restart)
{
	int fd;
	struct json_object *r1, *r2;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	r1 = it_call(fd, "vm.register", "{\"vm\":\"re\",\"mode\":\"identity\"}");
	ck_assert_int_eq(it_code(fd, "pasid.alloc", "{\"vm\":\"re\",\"type\":\"shared\"}"), 0);
	close(fd);
	it_kill(&d);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	/* The same process registers again: the same VM, unchanged. */
	r2 = it_call(fd, "vm.register", "{\"vm\":\"re\"}");
	ck_assert_str_eq(it_str(r1, "result.uuid"), it_str(r2, "result.uuid"));
	ck_assert_str_eq(it_str(r2, "result.mode"), "identity");
	r1 = (json_object_put(r1), it_call(fd, "vm.show", "{\"vm\":\"re\"}"));
	ck_assert_int_eq(it_int(r1, "result.pasids"), 1);
	json_object_put(r1);
	json_object_put(r2);
	close(fd);
}
END_TEST

START_TEST(torn_tail_is_dropped)
{
	int fd;
	char cmd[512], *out = NULL;
	struct json_object *r;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"t\"}"), 0);
	ck_assert_int_eq(
	    it_code(fd, "pasid.alloc", "{\"vm\":\"t\",\"type\":\"shared\",\"count\":5}"), 0);
	close(fd);
	it_kill(&d);
	/* Half a record of garbage at the end of every journal file, as a crash mid-write
	 * could leave. */
	snprintf(
	    cmd, sizeof(cmd),
	    "for f in %s/journal.*; do printf '\\x20\\x00\\x00\\x00\\xde\\xad' >> \"$f\"; done",
	    d.state);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	r = it_call(fd, "vm.show", "{\"vm\":\"t\"}");
	ck_assert_int_eq(it_int(r, "result.pasids"), 5);
	json_object_put(r);
	r = it_call(fd, "daemon.status", NULL);
	ck_assert_int_gt(it_int(r, "result.journal.dropped_bytes"), 0);
	json_object_put(r);
	close(fd);
	free(out);
}
END_TEST

/* kill -9 while a client fills an identity VM with count allocations, each journaled as one
 * run record: after the restart every allocation is there whole or not at all (the VM holds
 * a multiple of the count), every acknowledged one is there, and at most the one in flight
 * beyond them. */
START_TEST(kill9_during_count_fill)
{
	enum { COUNT = 256 };
	char ackpath[160];
	long held = 0;
	int fd;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	snprintf(ackpath, sizeof(ackpath), "%s/acks.count", d.dir);
	fd = it_connect(&d);
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"f\",\"mode\":\"identity\"}"), 0);
	close(fd);
	srandom((unsigned)time(NULL));
	for (int round = 0; round < 6; round++) {
		long acked = 0, now;
		FILE *f;
		int status;
		pid_t w;

		unlink(ackpath);
		w = fork();

		if (w == 0) {
			int c = it_connect(&d);

			f = fopen(ackpath, "w");
			if (c < 0 || !f)
				_exit(1);
			for (long n = 0;; n++) {
				if (it_code(c, "pasid.alloc",
				            "{\"vm\":\"f\",\"type\":\"shared\",\"count\":256}"))
					break;
				fprintf(f, "%ld\n", n + 1);
				fflush(f);
			}
			_exit(0);
		}
		/* Killed at a random point once the fill is under way: a slow daemon (valgrind,
		 * a busy machine) must have acknowledged something first, or the round tests
		 * nothing. */
		for (int i = 0; i < 6000; i++) {
			struct stat st;

			if (stat(ackpath, &st) == 0 && st.st_size > 0)
				break;
			usleep(10000);
		}
		usleep((useconds_t)(random() % 100000));
		it_kill(&d);
		waitpid(w, &status, 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		f = fopen(ackpath, "r");
		ck_assert_ptr_nonnull(f);
		while (fscanf(f, "%ld", &now) == 1)
			acked = now;
		fclose(f);
		ck_assert_int_eq(it_restart(&d, NULL), 0);
		fd = it_connect(&d);
		now = (long)it_int(IT_OK(it_call(fd, "vm.show", "{\"vm\":\"f\",\"limit\":1}")),
		                   "pasids");
		close(fd);
		ck_assert_msg(now % COUNT == 0, "round %d: %ld mappings, not whole allocations",
		              round, now);
		ck_assert_msg(now >= held + acked * COUNT && now <= held + (acked + 1) * COUNT,
		              "round %d: %ld mappings, %ld before and %ld allocations acknowledged",
		              round, now, held, acked);
		held = now;
	}
	ck_assert_int_gt(held, 0);
}
END_TEST

START_TEST(second_daemon_on_same_state_refused)
{
	char *out = NULL, sock2[160];
	int st;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	snprintf(sock2, sizeof(sock2), "%s/other.sock", d.dir);
	st = it_run(&out, "--foreground", "--backend", "sim", "--config", "/dev/null", "--socket",
	            sock2, "--state-dir", d.state, NULL);
	ck_assert_int_ne(st, 0);
	ck_assert_ptr_nonnull(strstr(out, "another pasidd"));
	free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("durability");
	TCase *tc = tcase_create("durability");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, kill9_keeps_the_table);
	tcase_add_test(tc, crash_loop);
	tcase_add_test(tc, owner_exit_while_running);
	tcase_add_test(tc, owner_exit_while_down);
	tcase_add_test(tc, reattach_after_restart);
	tcase_add_test(tc, torn_tail_is_dropped);
	tcase_add_test(tc, kill9_during_count_fill);
	tcase_add_test(tc, second_daemon_on_same_state_refused);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
