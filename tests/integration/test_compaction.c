/* Issue 15: compaction in a forked child. The daemon keeps answering while a compaction runs,
 * a kill -9 in the middle of one loses nothing and leaves no child behind, a shutdown with
 * one running kills and cleans up after its child, and one that completes leaves the new
 * generation alone. PASIDD_TEST_COMPACT_STALL (daemon/state/compact_bg.c) holds the child
 * before it writes anything, so that "in the middle" does not depend on timing. */
#include <check.h>

#include "ck_main.h"
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct it_daemon d;

static void
teardown(void)
{
	it_cleanup(&d);
	it_release_kept();
	it_set_launcher(NULL);
}

static int64_t
status_int(int fd, const char *path)
{
	struct json_object *r = it_keep(it_call(fd, "daemon.status", NULL));

	ck_assert_msg(!it_result_mismatch(r), "daemon.status: %s", it_result_mismatch(r));
	return it_int(it_result(r), path);
}

/* One batch of 200 pasid.alloc/pasid.free pairs of gPASID 1 in VM "churn": about 14 KB of
 * journal; every answer must be a success. */
static void
churn_batch(int fd)
{
	static char *batch;
	struct json_object *r;

	if (!batch) {
		size_t cap = 200 * 200, n = 0;

		batch = it_keep_str(malloc(cap));
		n += (size_t)snprintf(batch + n, cap - n, "[");
		for (int i = 0; i < 200; i++)
			n += (size_t)snprintf(
			    batch + n, cap - n,
			    "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
			    "\"params\":{"
			    "\"vm\":\"churn\",\"type\":\"shared\",\"gpasid\":1}},"
			    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.free\",\"params\":{"
			    "\"vm\":\"churn\",\"gpasid\":1}}",
			    i ? "," : "", 2 * i, 2 * i + 1);
		snprintf(batch + n, cap - n, "]");
	}
	ck_assert_int_eq(it_sendline(fd, batch), 0);
	r = it_keep(it_recvjson(fd, 60000));
	ck_assert_msg(json_object_is_type(r, json_type_array) && json_object_array_length(r) == 400,
	              "churn: %s", r ? json_object_to_json_string(r) : "no answer");
	for (size_t i = 0; i < 400; i++)
		ck_assert_msg(!it_errcode(json_object_array_get_idx(r, i)), "churn: %s",
		              json_object_to_json_string(json_object_array_get_idx(r, i)));
}

/* Churns until a compaction has begun (the generation moves at its begin); returns the new
 * generation. */
static int64_t
churn_until_begun(int fd)
{
	int64_t gen = status_int(fd, "journal.generation"), now = gen;

	for (int round = 0; round < 1000 && now == gen; round++) {
		churn_batch(fd);
		now = status_int(fd, "journal.generation");
	}
	ck_assert_int_gt(now, gen);
	return now;
}

/* The process whose parent is pid (the compaction's child), 0 if there is none. */
static pid_t
child_of(pid_t pid)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	ck_assert_ptr_nonnull(dir);
	while (!found && (de = readdir(dir))) {
		char path[300], buf[512], *p;
		FILE *f;
		int ppid;
		char state;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == pid)
			found = atoi(de->d_name);
	}
	closedir(dir);
	return found;
}

/* Whether pid is gone (or a zombie: dead, waiting for its new parent) within 20 s. */
static bool
gone(pid_t pid)
{
	for (int i = 0; i < 2000; i++) {
		char path[64], buf[512], *p, state = 'Z';
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (!(f = fopen(path, "re")))
			return true;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && sscanf(p + 1, " %c", &state) == 1 && state == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

/* The names in the state directory, sorted, space-separated. */
static const char *
state_files(void)
{
	struct dirent **names;
	int n = scandir(d.state, &names, NULL, alphasort);
	char *s = it_keep_str(calloc(1, 4096));

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			strncat(s, names[i]->d_name, 4096 - strlen(s) - 2);
			strcat(s, " ");
		}
		free(names[i]);
	}
	free(names);
	return s;
}

/* Starts the daemon, with the compaction's child held if stall, and registers the VMs. */
static int
start(bool stall)
{
	int fd;

	if (stall)
		setenv("PASIDD_TEST_COMPACT_STALL", "1", 1);
	ck_assert_int_eq(it_start(&d, NULL), 0);
	unsetenv("PASIDD_TEST_COMPACT_STALL"); /* restarts hold nothing */
	fd = it_connect(&d);
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"a\"}"), 0);
	ck_assert_int_eq(it_code(fd, "vm.register", "{\"vm\":\"churn\"}"), 0);
	ck_assert_int_eq(
	    it_code(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"count\":50}"), 0);
	return fd;
}

START_TEST(kill9_during_background_compaction)
{
	int fd = start(true);
	int64_t gen = churn_until_begun(fd);
	pid_t child = child_of(d.pid);
	char tmp[64];
	const char *before;

	ck_assert_msg(child > 0, "no compaction child");
	snprintf(tmp, sizeof(tmp), "snapshot.%lld.tmp", (long long)gen);
	ck_assert_msg(strstr(state_files(), tmp), "%s", state_files());
	/* Answers keep coming while the compaction runs, and their changes go to the new
	 * journal. */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(it_code(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"),
		                 0);
	ck_assert_int_eq(it_code(fd, "pasid.free", "{\"vm\":\"a\",\"gpasid\":20}"), 0);
	churn_batch(fd);
	ck_assert_int_eq(status_int(fd, "journal.generation"), gen);
	ck_assert_int_eq(status_int(fd, "journal.snapshot_bytes"), 0); /* not done */
	ck_assert_int_eq(child_of(d.pid), child);
	before = it_snapshot(fd);
	close(fd);

	it_kill(&d);
	ck_assert_msg(gone(child), "the child %d outlived its daemon", (int)child);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	it_assert_same_snapshot(it_snapshot(fd), before);
	ck_assert_int_eq(status_int(fd, "used.shared"), 150 - 1);
	ck_assert_msg(!strstr(state_files(), ".tmp"), "%s", state_files());
	close(fd);
}
END_TEST

START_TEST(compaction_completes_while_allocating)
{
	int fd = start(false);
	int64_t gen = churn_until_begun(fd);
	int allocs = 0;
	const char *before;
	char want[64];
	pid_t child;

	/* Serving goes on until the snapshot stands (its size appears at the end): up to 200
	 * allocations meanwhile, then waiting up to 2 minutes (a daemon under valgrind). */
	for (int i = 0; status_int(fd, "journal.snapshot_bytes") == 0; i++) {
		ck_assert_int_lt(i, 200 + 12000);
		if (allocs < 200) {
			ck_assert_int_eq(
			    it_code(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"), 0);
			allocs++;
		} else {
			usleep(10000);
		}
	}
	ck_assert_int_eq(status_int(fd, "journal.generation"), gen);
	/* Reaped without waiting: gone soon after. */
	for (int i = 0; i < 2000 && (child = child_of(d.pid)) > 0; i++)
		usleep(10000);
	ck_assert_int_eq(child_of(d.pid), 0);
	snprintf(want, sizeof(want), "journal.%lld lock snapshot.%lld ", (long long)gen,
	         (long long)gen);
	ck_assert_str_eq(state_files(), want);
	/* Logged as the child is reaped: maybe a moment after the test sees it gone. */
	it_assert_log(&d, "in a child process, serving paused for");
	before = it_snapshot(fd);
	close(fd);
	it_kill(&d);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	it_assert_same_snapshot(it_snapshot(fd), before);
	ck_assert_int_eq(status_int(fd, "used.shared"), 50 + allocs);
	close(fd);
}
END_TEST

START_TEST(shutdown_kills_the_child)
{
	int fd = start(true);
	pid_t child;
	const char *before;

	churn_until_begun(fd);
	child = child_of(d.pid);
	ck_assert_msg(child > 0, "no compaction child");
	ck_assert_int_eq(it_code(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"), 0);
	before = it_snapshot(fd);
	close(fd);
	ck_assert_int_eq(it_stop(&d), 0);
	ck_assert_msg(gone(child), "the child %d outlived its daemon", (int)child);
	ck_assert_msg(!strstr(state_files(), ".tmp"), "%s", state_files());
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	it_assert_same_snapshot(it_snapshot(fd), before);
	close(fd);
}
END_TEST

/* No child can be made: the compaction runs in the foreground, as before there were
 * children, and says so. */
START_TEST(no_child_compacts_in_the_foreground)
{
	int fd;
	int64_t gen;
	const char *before;
	char want[64];

	it_set_launcher(NO_FORK);
	fd = start(false);
	it_set_launcher(NULL);
	gen = churn_until_begun(fd);
	ck_assert_int_gt(status_int(fd, "journal.snapshot_bytes"), 0); /* done at once */
	ck_assert_int_eq(child_of(d.pid), 0);
	snprintf(want, sizeof(want), "journal.%lld lock snapshot.%lld ", (long long)gen,
	         (long long)gen);
	ck_assert_str_eq(state_files(), want);
	it_assert_log(&d, "cannot compact in the background (fork: ");
	it_assert_log(&d, "compacted the state in");
	ck_assert_int_eq(it_code(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"), 0);
	before = it_snapshot(fd);
	close(fd);
	it_kill(&d);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	it_assert_same_snapshot(it_snapshot(fd), before);
	close(fd);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("compaction");
	TCase *tc = tcase_create("background");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, kill9_during_background_compaction);
	tcase_add_test(tc, compaction_completes_while_allocating);
	tcase_add_test(tc, shutdown_kills_the_child);
	tcase_add_test(tc, no_child_compacts_in_the_foreground);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run(suite());
}
