/* Journal throughput: what group commit buys, and what durability costs.
 *
 *   bench_journal [DIR [MAX_RECORDS]]
 *
 * DIR (default /dev/shm/pasidd-bench-journal) should be on the file system to be measured;
 * each mode works in its own fresh subdirectory, removed afterwards. Every mode writes 64-byte
 * records until MAX_RECORDS (default 1000000) or about 2 seconds, whichever comes first, so
 * the whole run stays under 10 s:
 *
 *   journal, 1/commit    append + commit per record: one write + fdatasync each
 *   journal, 64/commit   64 appends, then one commit
 *   raw write+fdatasync  baseline: write() + fdatasync() per record, no framing or CRC
 *   raw write            baseline: write() per record, never synced (an upper bound)
 *
 * Built by tests/CMakeLists.txt as build/tests/bench_journal. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#define REC_SIZE    64
#define TIME_BUDGET 2.0 /* seconds per mode */
#define CHECK_EVERY 64  /* look at the clock this often */

enum mode {
	MODE_JOURNAL_1,
	MODE_JOURNAL_64,
	MODE_RAW_SYNC,
	MODE_RAW,
};

static const char *const mode_names[] = {
    "journal, 1/commit",
    "journal, 64/commit",
    "raw write+fdatasync",
    "raw write",
};

struct result {
	uint64_t records;
	double seconds;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void
die(const char *what, int err)
{
	fprintf(stderr, "bench_journal: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int
count_cb(void *ctx, const void *rec, size_t len)
{
	(void)rec;
	if (len != REC_SIZE)
		return -EBADMSG;
	(*(uint64_t *)ctx)++;
	return 0;
}

static struct result
run_journal(const char *dir, uint64_t max, unsigned batch)
{
	struct result r = {0};
	uint8_t rec[REC_SIZE];
	struct journal *j;
	uint64_t replayed = 0;
	double t0, deadline;
	int rc;

	rc = journal_open(dir, &j);
	if (rc < 0)
		die("journal_open", rc);
	rc = journal_replay(j, count_cb, &replayed);
	if (rc < 0)
		die("journal_replay", rc);
	t0 = now();
	deadline = t0 + TIME_BUDGET;
	while (r.records < max) {
		memset(rec, (int)r.records, sizeof(rec));
		rc = journal_append(j, rec, sizeof(rec));
		if (rc < 0)
			die("journal_append", rc);
		r.records++;
		if (r.records % batch == 0) {
			rc = journal_commit(j);
			if (rc < 0)
				die("journal_commit", rc);
			if (r.records % CHECK_EVERY == 0 && now() > deadline)
				break;
		}
	}
	rc = journal_commit(j);
	if (rc < 0)
		die("journal_commit", rc);
	r.seconds = now() - t0;
	journal_close(j);

	/* Make sure what was measured is really there. */
	rc = journal_open(dir, &j);
	if (rc < 0)
		die("journal_open", rc);
	rc = journal_replay(j, count_cb, &replayed);
	if (rc < 0)
		die("journal_replay", rc);
	journal_close(j);
	if (replayed != r.records) {
		fprintf(stderr, "bench_journal: replayed %" PRIu64 " of %" PRIu64 " records\n",
		        replayed, r.records);
		exit(1);
	}
	return r;
}

static struct result
run_raw(const char *dir, uint64_t max, int sync)
{
	struct result r = {0};
	uint8_t rec[REC_SIZE];
	char path[4096];
	double t0, deadline;
	int fd;

	if (mkdir(dir, 0700) < 0)
		die(dir, errno);
	snprintf(path, sizeof(path), "%s/raw", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path, errno);
	t0 = now();
	deadline = t0 + TIME_BUDGET;
	while (r.records < max) {
		memset(rec, (int)r.records, sizeof(rec));
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			die("write", errno ? errno : EIO);
		if (sync && fdatasync(fd) < 0)
			die("fdatasync", errno);
		r.records++;
		if (r.records % CHECK_EVERY == 0 && now() > deadline)
			break;
	}
	r.seconds = now() - t0;
	close(fd);
	return r;
}

int
main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : "/dev/shm/pasidd-bench-journal";
	uint64_t max = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	struct result res[4];
	char dir[4096];
	bool created = true;

	if (max == 0)
		max = 1;
	if (mkdir(base, 0700) < 0) {
		if (errno != EEXIST)
			die(base, errno);
		created = false;
	}
	for (int m = MODE_JOURNAL_1; m <= MODE_RAW; m++) {
		snprintf(dir, sizeof(dir), "%s/bench-journal.%ld.%d", base, (long)getpid(), m);
		switch (m) {
		case MODE_JOURNAL_1:
			res[m] = run_journal(dir, max, 1);
			break;
		case MODE_JOURNAL_64:
			res[m] = run_journal(dir, max, 64);
			break;
		case MODE_RAW_SYNC:
			res[m] = run_raw(dir, max, 1);
			break;
		default:
			res[m] = run_raw(dir, max, 0);
			break;
		}
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (created)
		rmdir(base);

	printf("journal bench on %s, %d-byte records\n", base, REC_SIZE);
	printf("%-22s %12s %9s %14s\n", "mode", "records", "seconds", "records/s");
	for (int m = MODE_JOURNAL_1; m <= MODE_RAW; m++)
		printf("%-22s %12" PRIu64 " %9.3f %14.0f\n", mode_names[m], res[m].records,
		       res[m].seconds, (double)res[m].records / res[m].seconds);
	return 0;
}
