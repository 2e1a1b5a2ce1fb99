/* Start-up replay with attachments: what journaling them (record format version 1) costs.
 *
 *   bench_replay [DIR [MAPPINGS]]
 *
 * DIR (default /dev/shm/pasidd-bench-replay) should be on the file system to be measured;
 * each case works in its own fresh subdirectory, removed afterwards. MAPPINGS (default
 * 200000) shared PASIDs in identity-mode VMs of 4096, each VM with one shared device. The journal
 * is written with the journal's own calls, one record per change as the daemon writes them, then
 * replayed by state_open() exactly as start-up does (record decoding, the core's replay path,
 * the namespace's tables):
 *
 *   journal, no attachments   REC_VM, REC_DEV, REC_MAP per mapping
 *   journal, attached         the same and one REC_ATTACH per mapping
 *   snapshot, attached        the same state from the snapshot start-up writes
 *
 * Built by tests/CMakeLists.txt as build/tests/bench_replay. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "backends.h"
#include "bench_common.h"
#include "journal.h"
#include "log.h"
#include "namespace.h"
#include "quota.h"
#include "record.h"
#include "state.h"

#define PER_VM 4096

static const struct ns_config cfg = {
    .pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 1048575}};

static void
die(const char *what, int err)
{
	fprintf(stderr, "bench_replay: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

struct result {
	double ms;
	unsigned long long records;
	unsigned attached;
};

/* state_open() as start-up runs it; with compact, then state_start() and a turn of the
 * loop, which writes the snapshot that the next start replays. */
static struct result
replay(const char *dir, struct backend *be, bool compact)
{
	struct event_base *base = event_base_new();
	struct state_stats st;
	struct result r;
	struct quota *q;
	struct state *s;
	char why[512];
	struct ns ns;
	double t0;
	int rc;

	if (!base || quota_new(&q) < 0 || ns_init(&ns, &cfg, be) < 0)
		die("setup", ENOMEM);
	t0 = bench_now();
	rc = state_open(dir, base, &ns, q, &s, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "bench_replay: %s\n", why);
		exit(1);
	}
	r.ms = (bench_now() - t0) * 1e3;
	state_get_stats(s, &st);
	r.records = (unsigned long long)st.replayed_records;
	r.attached = ns_attached(&ns);
	if (compact && (rc = state_start(s, why, sizeof(why))) < 0) {
		fprintf(stderr, "bench_replay: %s\n", why);
		exit(1);
	}
	/* The snapshot is written by the loop, soon after start-up. */
	if (compact) {
		event_base_loopexit(base, &(struct timeval){0, 500000});
		event_base_dispatch(base);
	}
	state_close(s);
	ns_destroy(&ns);
	quota_free(q);
	event_base_free(base);
	return r;
}

int
main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : "/dev/shm/pasidd-bench-replay";
	unsigned mappings = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200000;
	static const char *const names[] = {"journal, no attachments", "journal, attached",
	                                    "snapshot, attached"};
	struct result res[3];
	struct backend *be;
	char dir[4096], why[256];
	bool created = true;

	if (mappings == 0 || mappings > 1048575 - 4096)
		mappings = 200000;
	log_setup(0);
	if (backend_open("sim", &be, why, sizeof(why)) < 0) {
		fprintf(stderr, "bench_replay: %s\n", why);
		return 1;
	}
	if (mkdir(top, 0700) < 0) {
		if (errno != EEXIST)
			die(top, errno);
		created = false;
	}
	for (int c = 0; c < 2; c++) {
		snprintf(dir, sizeof(dir), "%s/bench-replay.%ld.%d", top, (long)getpid(), c);
		bench_write_journal(dir, mappings, PER_VM, c == 1, NULL);
		res[c] = replay(dir, be, c == 1);
		if (c == 1)
			res[2] = replay(dir, be, false);
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (created)
		rmdir(top);
	backend_close(be);

	printf("replay bench on %s, %u shared PASIDs in VMs of %d\n", top, mappings, PER_VM);
	printf("%-26s %10s %10s %10s %12s\n", "case", "records", "attached", "ms", "records/s");
	for (int c = 0; c < 3; c++)
		printf("%-26s %10llu %10u %10.1f %12.0f\n", names[c], res[c].records,
		       res[c].attached, res[c].ms, (double)res[c].records / (res[c].ms / 1e3));
	if (res[1].attached != mappings || res[2].attached != mappings || res[0].attached) {
		fprintf(stderr, "bench_replay: attachments replayed %u and %u of %u\n",
		        res[1].attached, res[2].attached, mappings);
		return 1;
	}
	return 0;
}
