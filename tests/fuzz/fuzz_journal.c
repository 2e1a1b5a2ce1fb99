/*
 * libFuzzer target: start-up replay of a state directory (daemon/state/journal*.c) into a
 * namespace (record.c), as state_open() does it.
 *
 * Input: byte 0 picks what the rest becomes, so that the fuzzer gets past the CRCs as
 * easily as it gets to damage them:
 *   0  records: a stream of [u16 little-endian length][payload] that this target frames
 *      (valid CRCs) into journal.0 behind a valid header;
 *   1  raw bytes behind a valid journal.0 header (torn and corrupt tails);
 *   2  raw bytes as the whole journal.0 (headers);
 *   3  records as in 0, the first byte[1] of them framed into a complete snapshot.1 and the
 *      rest into journal.1;
 *   4  raw bytes as snapshot.1, next to an empty valid journal.1;
 *   5  as 0, and 6 as 3, with headers of REC_FORMAT_OLDEST: a directory an upgrade reads.
 * The other modes' headers hold REC_FORMAT_VERSION. The records are applied as state.c's
 * replay does (image_apply()): quota records to a fresh quota tree, all others to a fresh
 * namespace that is replaying, each file's records in its version (journal_file_format()).
 *
 * Oracles besides the sanitizers (any failure aborts):
 *  - a read-only replay (pasidd -n) gives the same result and records as the real one, and
 *    changes no file;
 *  - a replay that is refused changes no file, and says why (journal_error());
 *  - a replay refused as -EUCLEAN is what --salvage takes: journal_salvage() finds damage,
 *    and after journal_salvage_commit() the directory replays to exactly the records the
 *    salvage kept;
 *  - a replay refused as -EPROTONOSUPPORT (a whole header of another format version) is not
 *    damage: journal_salvage() refuses it too, and changes no file;
 *  - a replay that succeeds leaves a namespace that passes ns_check() and a quota tree that
 *    passes quota_check(): the record decoder must refuse what breaks an invariant, since
 *    the daemon would then serve it;
 *  - after a successful replay the journal takes a new record, and a second replay of the
 *    directory delivers exactly the records of the first plus that one (a cut-off tail is
 *    really gone, and nothing after it resurfaces);
 *  - after a successful replay of files of an older version, the journal refuses a record
 *    (-EPROTO) until compaction, as state.c's upgrade does, writes the replayed state in
 *    REC_FORMAT_VERSION; that directory then replays to the same state (the same multiset
 *    of snapshot records) and holds files of REC_FORMAT_VERSION only;
 *  - no descriptor or memory is left behind (LeakSanitizer; the descriptor count is
 *    compared to the one before).
 */
#include "backends.h"
#include "config.h"
#include "crc32c.h"
#include "image.h"
#include "journal.h"
#include "namespace.h"
#include "quota.h"
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_SIZE    24
#define FRAME_SIZE  8
#define MAX_RECORDS 4096

static char base[200], dir[256];
static struct pasidd_config cfg;
static struct backend *be;
static bool ready;

static void bug(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void
bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz_journal: BUG: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void
clear_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		if (mkdir(dir, 0700) < 0)
			bug("mkdir %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		char path[512];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* At exit (not after a crash, whose files may be worth a look). */
static void
remove_dirs(void)
{
	clear_dir();
	rmdir(dir);
	rmdir(base);
}

static void
setup_once(void)
{
	char why[256];
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	/* tmpfs where there is one: replay fsyncs, and a disk would be the bottleneck. */
	snprintf(base, sizeof(base), "%s/fuzz-journal.XXXXXX", tmp);
	if (!mkdtemp(base))
		bug("mkdtemp: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/state", base);
	atexit(remove_dirs);
	config_init(&cfg);
	if (config_finish(&cfg, why, sizeof(why)) < 0)
		bug("default config refused: %s", why);
	if (backend_open("sim", &be, why, sizeof(why)) < 0)
		bug("backend: %s", why);
	ready = true;
}

/* ---- building files ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void
put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			bug("out of memory");
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
put32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	put(b, x, 4);
}

static void
put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

/* The header layout of journal_format.c: magic, generation, record format version, CRC-32C
 * of the rest. */
static void
header(struct buf *b, const char *magic, uint64_t gen, uint32_t version)
{
	size_t at = b->len;

	put(b, magic, 8);
	put64(b, gen);
	put32(b, version);
	put32(b, crc32c(b->p + at, 20));
}

static void
frame(struct buf *b, const uint8_t *rec, size_t len)
{
	uint8_t lenb[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
	                   (uint8_t)(len >> 24)};

	put(b, lenb, 4);
	put32(b, crc32c_update(crc32c(lenb, 4), rec, len));
	put(b, rec, len);
}

/* A snapshot's trailer: marker, CRC over the marker and the body, body. */
static void
trailer(struct buf *b, uint64_t count, uint64_t payload)
{
	uint8_t t[28];
	struct buf body = {0};

	put32(&body, 0xffffffffu);
	put64(&body, count);
	put64(&body, payload);
	put64(&body, 1700000000);
	memcpy(t, body.p, sizeof(t));
	free(body.p);
	put(b, t, 4);
	put32(b, crc32c(t, sizeof(t)));
	put(b, t + 4, 24);
}

static void
write_file(const char *name, const struct buf *b)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (b->len && write(fd, b->p, b->len) != (ssize_t)b->len))
		bug("cannot write %s: %s", path, strerror(errno));
	close(fd);
}

/* Splits a record stream; returns how many records, their starts and lengths. */
static size_t
split_records(const uint8_t *p, size_t n, const uint8_t **rec, size_t *len)
{
	size_t k = 0;

	while (n >= 2 && k < MAX_RECORDS) {
		size_t l = (size_t)p[0] | (size_t)p[1] << 8;

		p += 2;
		n -= 2;
		if (l > n)
			l = n;
		rec[k] = p;
		len[k++] = l;
		p += l;
		n -= l;
	}
	return k;
}

static void
build(const uint8_t *data, size_t size)
{
	static const uint8_t *rec[MAX_RECORDS];
	static size_t len[MAX_RECORDS];
	struct buf j = {0}, s = {0};
	unsigned mode = size ? data[0] % 7 : 0;
	uint32_t v = REC_FORMAT_VERSION;
	size_t n, cut = 0;
	uint64_t payload = 0;

	data += size > 0;
	size -= size > 0;
	if (mode >= 5) {
		v = REC_FORMAT_OLDEST;
		mode = mode == 5 ? 0 : 3;
	}
	switch (mode) {
	case 0:
		header(&j, "PASIDDJ1", 0, v);
		n = split_records(data, size, rec, len);
		for (size_t i = 0; i < n; i++)
			frame(&j, rec[i], len[i]);
		write_file("journal.0", &j);
		break;
	case 1:
		header(&j, "PASIDDJ1", 0, v);
		put(&j, data, size);
		write_file("journal.0", &j);
		break;
	case 2:
		put(&j, data, size);
		write_file("journal.0", &j);
		break;
	case 3:
		if (size) {
			cut = data[0];
			data++;
			size--;
		}
		n = split_records(data, size, rec, len);
		if (cut > n)
			cut = n;
		header(&s, "PASIDDS1", 1, v);
		for (size_t i = 0; i < cut; i++) {
			frame(&s, rec[i], len[i]);
			payload += len[i];
		}
		trailer(&s, cut, payload);
		write_file("snapshot.1", &s);
		header(&j, "PASIDDJ1", 1, v);
		for (size_t i = cut; i < n; i++)
			frame(&j, rec[i], len[i]);
		write_file("journal.1", &j);
		break;
	default:
		put(&s, data, size);
		write_file("snapshot.1", &s);
		header(&j, "PASIDDJ1", 1, v);
		write_file("journal.1", &j);
		break;
	}
	free(j.p);
	free(s.p);
}

/* ---- replay ---- */

/* A handle on the directory as the daemon opens it (read-only: as pasidd -n does). */
static struct journal *
open_dir(bool readonly)
{
	struct journal *j;
	int r = readonly ? journal_open_readonly(dir, &j) : journal_open(dir, &j);

	if (r < 0)
		bug("journal_open%s: %s", readonly ? "_readonly" : "", strerror(-r));
	if (journal_set_format(j, REC_FORMAT_VERSION) < 0 ||
	    journal_read_formats(j, REC_FORMAT_OLDEST) < 0)
		bug("journal_set_format or journal_read_formats refused");
	return j;
}

struct applied {
	const struct journal *j; /* which version the record is in */
	struct ns *ns;
	struct quota *quota;
	uint64_t count, hash;
};

/* FNV-1a over every record's length and bytes, in order. */
static void
mix(struct applied *a, const void *rec, size_t len)
{
	const uint8_t *p = rec;

	for (size_t i = 0; i < sizeof(len); i++)
		a->hash = (a->hash ^ (uint8_t)(len >> (8 * i))) * 1099511628211ull;
	for (size_t i = 0; i < len; i++)
		a->hash = (a->hash ^ p[i]) * 1099511628211ull;
	a->count++;
}

static int
apply_cb(void *ctx, const void *rec, size_t len)
{
	struct applied *a = ctx;
	char why[256];

	/* As state.c's replay_one(): a record that does not apply stops the start-up. */
	if (image_apply(&(struct image){a->ns, a->quota, NULL}, journal_file_format(a->j), rec, len,
	                why, sizeof(why)) < 0)
		return -EUCLEAN;
	mix(a, rec, len);
	return 0;
}

static int
count_cb(void *ctx, const void *rec, size_t len)
{
	mix(ctx, rec, len);
	return 0;
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Names and contents of every file in the directory, as one order-independent hash: what
 * "no file changed" means. */
static uint64_t
dir_hash(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t sum = 0;

	if (!d)
		bug("opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		struct applied a = {.hash = 14695981039346656037ull};
		char path[512];
		uint8_t buf[4096];
		ssize_t n;
		int fd;

		/* The empty lock file is created by the first journal_open(); a daemon's state
		 * directory always has it. */
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "lock"))
			continue;
		mix(&a, de->d_name, strlen(de->d_name));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			mix(&a, buf, (size_t)n);
		if (fd >= 0)
			close(fd);
		sum += a.hash;
	}
	closedir(d);
	return sum;
}

/* Replays j as state.c does into ns (initialised here) and a fresh quota tree, checking what
 * it accepts; replay_release() lets go of both. */
static int
replay_into(struct journal *j, struct applied *a, struct ns *ns)
{
	char why[256];
	int r;

	if (ns_init(ns, &cfg.ns, be) < 0)
		bug("ns_init failed");
	ns->replaying = true;
	a->ns = ns;
	a->j = j;
	if (quota_new(&a->quota) < 0)
		bug("quota_new failed");
	r = journal_replay(j, apply_cb, a);
	ns->replaying = false;
	if (r == 0 && ns_check(ns, why, sizeof(why)) < 0)
		bug("replay accepted a state that breaks a rule: %s", why);
	if (r == 0 && quota_check(a->quota, why, sizeof(why)) < 0)
		bug("replay accepted a quota tree that breaks a rule: %s", why);
	if (r < 0 && r != -EUCLEAN && r != -EPROTONOSUPPORT && r != -ENOMEM)
		bug("replay failed with %s", strerror(-r));
	return r;
}

static void
replay_release(struct applied *a)
{
	ns_destroy(a->ns);
	quota_free(a->quota);
	a->ns = NULL;
	a->quota = NULL;
}

static int
replay_checked(struct journal *j, struct applied *a)
{
	struct ns ns;
	int r = replay_into(j, a, &ns);

	replay_release(a);
	return r;
}

/* The state replayed into a, as the sum of its snapshot records' hashes: the same for the
 * same state whatever order the tables iterate in. */
static int
sum_add(void *ctx, const void *rec, size_t len)
{
	struct applied one = {.hash = 14695981039346656037ull};

	mix(&one, rec, len);
	*(uint64_t *)ctx += one.hash;
	return 0;
}

static uint64_t
state_sum(const struct applied *a)
{
	uint64_t sum = 0;

	if (rec_snapshot(a->ns, sum_add, &sum) < 0 ||
	    rec_snapshot_quota(a->quota, sum_add, &sum) < 0)
		bug("snapshot failed");
	return sum;
}

/* Every snapshot and journal file of the directory that replay reads holds
 * REC_FORMAT_VERSION. */
static void
assert_all_current(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		bug("opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		char path[512];
		uint8_t h[HDR_SIZE];
		int fd;

		if ((strncmp(de->d_name, "snapshot.", 9) && strncmp(de->d_name, "journal.", 8)) ||
		    strstr(de->d_name, ".damaged-"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, h, sizeof(h)) != (ssize_t)sizeof(h))
			bug("cannot read the header of %s", de->d_name);
		close(fd);
		if ((uint32_t)(h[16] | h[17] << 8 | h[18] << 16 | (uint32_t)h[19] << 24) !=
		    REC_FORMAT_VERSION)
			bug("%s is not of version %d after the upgrade", de->d_name,
			    REC_FORMAT_VERSION);
	}
	closedir(d);
}

/* After a successful replay (into first) of files of an older version: nothing is appended
 * to them; compaction writes the state in REC_FORMAT_VERSION, which replays to the same. */
static void
upgrade(struct journal *j, struct applied *first)
{
	struct applied again = {.hash = 14695981039346656037ull};
	static const uint8_t rec[] = "x";
	uint64_t want = state_sum(first);
	struct ns ns;
	int r;

	if (journal_append(j, rec, sizeof(rec)) != -EPROTO)
		bug("a record appended to a file of version %u", journal_file_format(j));
	r = journal_compact(j, image_write, &(struct image){first->ns, first->quota, NULL});
	if (r < 0)
		bug("the upgrade's compaction failed: %s", strerror(-r));
	if (journal_file_format(j) != REC_FORMAT_VERSION)
		bug("compaction left files of version %u", journal_file_format(j));
	journal_close(j);
	assert_all_current();
	j = open_dir(false);
	r = replay_into(j, &again, &ns);
	if (r < 0)
		bug("the upgraded directory does not replay: %s (%s)", strerror(-r),
		    journal_error(j));
	if (journal_file_format(j) != REC_FORMAT_VERSION)
		bug("the upgraded directory replays as version %u", journal_file_format(j));
	if (state_sum(&again) != want)
		bug("the upgraded directory replays to another state");
	replay_release(&again);
	journal_close(j);
}

/* What --salvage keeps: applied as replay would, and copied for the new snapshot. */
struct kept {
	struct applied a;
	uint8_t **rec;
	size_t *len;
	size_t n;
};

static int
keep_cb(void *ctx, const void *rec, size_t len)
{
	struct kept *k = ctx;

	if (apply_cb(&k->a, rec, len) < 0)
		return -EUCLEAN;
	k->rec = realloc(k->rec, (k->n + 1) * sizeof(*k->rec));
	k->len = realloc(k->len, (k->n + 1) * sizeof(*k->len));
	if (!k->rec || !k->len || !(k->rec[k->n] = malloc(len ? len : 1)))
		bug("out of memory");
	memcpy(k->rec[k->n], rec, len);
	k->len[k->n++] = len;
	return 0;
}

static void
lost_cb(void *ctx, const char *file, uint64_t off, const void *rec, size_t len)
{
	(void)ctx;
	(void)file;
	(void)off;
	(void)rec;
	(void)len;
}

static int
write_kept(void *ctx, struct journal_snapshot *w)
{
	struct kept *k = ctx;

	for (size_t i = 0; i < k->n; i++) {
		int r = journal_snapshot_add(w, k->rec[i], k->len[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* A fresh namespace and quota tree for what salvage keeps ... */
static void
kept_begin(struct kept *k, struct ns *ns)
{
	if (ns_init(ns, &cfg.ns, be) < 0 || quota_new(&k->a.quota) < 0)
		bug("out of memory");
	ns->replaying = true;
	k->a.ns = ns;
}

/* ... and their end; the count and hash of what was kept stay. */
static void
kept_end(struct kept *k, struct ns *ns)
{
	ns_destroy(ns);
	quota_free(k->a.quota);
	for (size_t i = 0; i < k->n; i++)
		free(k->rec[i]);
	free(k->rec);
	free(k->len);
	k->a.ns = NULL;
	k->a.quota = NULL;
}

/* The directory that replay refused (as `refused`) through --salvage. Damage is salvaged, and
 * the directory must then replay to exactly what salvage kept; another format version is not
 * damage: salvage must refuse it too, and write nothing. */
static void
salvage(int refused)
{
	struct kept k = {.a.hash = 14695981039346656037ull};
	struct applied again = {.hash = 14695981039346656037ull};
	struct journal_salvage_info info;
	uint64_t files = dir_hash();
	struct journal *j;
	struct ns ns;
	int r;

	kept_begin(&k, &ns);
	j = open_dir(false);
	k.a.j = j;
	r = journal_salvage(j, keep_cb, lost_cb, &k, &info);
	if (refused == -EPROTONOSUPPORT) {
		if (r != -EPROTONOSUPPORT)
			bug("replay refuses another format version, salvage gives %d", r);
	} else {
		if (r < 0)
			bug("salvage failed: %s (%s)", strerror(-r), journal_error(j));
		if (!info.damaged)
			bug("replay refuses the directory, salvage finds nothing to salvage");
		r = journal_salvage_commit(j, write_kept, &k, NULL);
		if (r < 0)
			bug("salvage commit failed: %s (%s)", strerror(-r), journal_error(j));
		/* What salvage writes is of this version, whatever it read. */
		assert_all_current();
	}
	journal_close(j);
	kept_end(&k, &ns);
	if (refused == -EPROTONOSUPPORT) {
		if (dir_hash() != files)
			bug("salvage of another format version changed the directory");
		return;
	}
	j = open_dir(false);
	r = journal_replay(j, count_cb, &again);
	if (r < 0)
		bug("the salvaged directory does not replay: %s (%s)", strerror(-r),
		    journal_error(j));
	if (again.count != k.a.count || again.hash != k.a.hash)
		bug("the salvaged directory replays %llu records, salvage kept %llu",
		    (unsigned long long)again.count, (unsigned long long)k.a.count);
	journal_close(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t marker[] = "fuzz-journal-marker";
	struct applied first = {.hash = 14695981039346656037ull};
	struct applied again = {.hash = 14695981039346656037ull};
	struct applied ro = {.hash = 14695981039346656037ull};
	struct journal *j;
	uint64_t files;
	struct ns ns;
	int fds, r, rro;

	if (!ready)
		setup_once();
	fds = open_fds();
	clear_dir();
	build(data, size);
	files = dir_hash();

	/* pasidd -n first: the same verdict, and nothing written. */
	j = open_dir(true);
	rro = replay_checked(j, &ro);
	journal_close(j);
	if (dir_hash() != files)
		bug("a read-only replay changed the directory");

	j = open_dir(false);
	r = replay_into(j, &first, &ns);
	if (r != rro)
		bug("read-only replay gave %d, replay %d", rro, r);
	if (r == 0 && (ro.count != first.count || ro.hash != first.hash))
		bug("read-only replay delivered other records");
	if (r < 0 && !journal_error(j)[0])
		bug("a refusal without a reason");
	if (r == 0 && journal_file_format(j) != REC_FORMAT_VERSION) {
		upgrade(j, &first);
		replay_release(&first);
	} else if (r == 0) {
		replay_release(&first);
		r = journal_append(j, marker, sizeof(marker));
		if (r == 0)
			r = journal_commit(j);
		if (r < 0)
			bug("a replayed journal does not take a record: %s", strerror(-r));
		mix(&first, marker, sizeof(marker));
		journal_close(j);
		j = open_dir(false);
		r = journal_replay(j, count_cb, &again);
		if (r < 0)
			bug("the directory does not replay after a clean run: %s", strerror(-r));
		if (again.count != first.count || again.hash != first.hash)
			bug("second replay delivered %llu records (hash %016llx), the first "
			    "%llu + 1 (hash %016llx)",
			    (unsigned long long)again.count, (unsigned long long)again.hash,
			    (unsigned long long)first.count - 1, (unsigned long long)first.hash);
		journal_close(j);
	} else {
		replay_release(&first);
		journal_close(j);
		if (dir_hash() != files)
			bug("a refused replay changed the directory");
		if (r == -EUCLEAN || r == -EPROTONOSUPPORT)
			salvage(r);
	}
	if (fds >= 0 && open_fds() != fds)
		bug("%d descriptors before, %d after", fds, open_fds());
	return 0;
}
