/* Unit tests for the durable record log (daemon/state/journal*.c): round trips, torn and
 * corrupt tails, crash-interrupted compaction, commit failure, locking, salvage and format
 * versions. Each test works in its own temporary directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "ck_dir.h"
#include "ck_main.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "journal.h"

/* ---- scaffolding ---- */

static char base_dir[64];
static char state_dir[96];

static void
setup(void)
{
	strcpy(base_dir, "/tmp/test_journal.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base_dir));
	/* A subdirectory that does not exist yet, so that journal_open() has to create it. */
	snprintf(state_dir, sizeof(state_dir), "%s/state", base_dir);
}

static void
teardown(void)
{
	ck_dir_remove(base_dir);
}

static void
path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", state_dir, name);
}

static off_t
file_size(const char *name)
{
	char p[160];
	struct stat st;

	path_of(p, sizeof(p), name);
	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_size;
}

static bool
file_exists(const char *name)
{
	char p[160];

	path_of(p, sizeof(p), name);
	return access(p, F_OK) == 0;
}

static int
unlink_in_state(const char *name)
{
	char p[160];

	path_of(p, sizeof(p), name);
	return unlink(p);
}

static uint8_t *
read_whole(const char *name, size_t *len)
{
	char p[160];
	FILE *f;
	uint8_t *buf;
	size_t n = (size_t)file_size(name);

	path_of(p, sizeof(p), name);
	f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, n, f), n);
	fclose(f);
	*len = n;
	return buf;
}

/* Replaces the file with len bytes of data (mode "wb") or adds them at its end ("ab"). */
static void
write_bytes(const char *name, const char *mode, const void *data, size_t len)
{
	char p[160];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, mode);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void
flip_byte(const char *name, off_t off)
{
	size_t len;
	uint8_t *buf = read_whole(name, &len);

	ck_assert_uint_lt((size_t)off, len);
	buf[off] ^= 0x5a;
	write_bytes(name, "wb", buf, len);
	free(buf);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The state directory holds exactly the named files (sorted order not required). */
static void
assert_files(const char *const *want, size_t nwant)
{
	char *have[32];
	const char *sorted_want[32];
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(state_dir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		ck_assert_uint_lt(n, 32);
		have[n++] = strdup(de->d_name);
	}
	closedir(d);
	ck_assert_uint_le(nwant, 32);
	memcpy(sorted_want, want, nwant * sizeof(*want));
	qsort(have, n, sizeof(*have), cmp_str);
	qsort(sorted_want, nwant, sizeof(*sorted_want), cmp_str);
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(have[i], sorted_want[i]);
		free(have[i]);
	}
}

/* ---- records as byte strings ---- */

struct rec {
	uint8_t *p;
	size_t len;
};

struct recs {
	struct rec *v;
	size_t n;
	size_t cap;
	size_t fail_at; /* make the callback fail at this record (SIZE_MAX: never) */
};

static void
recs_push(struct recs *r, const void *p, size_t len)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		ck_assert_ptr_nonnull(r->v);
	}
	r->v[r->n].p = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(r->v[r->n].p);
	if (len)
		memcpy(r->v[r->n].p, p, len);
	r->v[r->n].len = len;
	r->n++;
}

static void
recs_free(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].p);
	free(r->v);
	memset(r, 0, sizeof(*r));
	r->fail_at = SIZE_MAX;
}

static int
collect_cb(void *ctx, const void *rec, size_t len)
{
	struct recs *r = ctx;

	if (r->n == r->fail_at)
		return -ECANCELED;
	recs_push(r, rec, len);
	return 0;
}

/* Deterministic content: record i of length len. */
static void
fill_record(uint8_t *buf, size_t len, unsigned i)
{
	uint32_t x = 2166136261u ^ i;

	for (size_t k = 0; k < len; k++) {
		x = x * 1664525u + 1013904223u;
		buf[k] = (uint8_t)(x >> 24);
	}
}

static void
append_record(struct journal *j, struct recs *expect, size_t len, unsigned i)
{
	uint8_t *buf = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(buf);
	fill_record(buf, len, i);
	ck_assert_int_eq(journal_append(j, buf, len), 0);
	if (expect)
		recs_push(expect, buf, len);
	free(buf);
}

/* The first n records of got and want are equal. */
static void
assert_prefix(const struct recs *got, const struct recs *want, size_t n)
{
	ck_assert_uint_le(n, got->n);
	ck_assert_uint_le(n, want->n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(got->v[i].len, want->v[i].len);
		ck_assert_mem_eq(got->v[i].p, want->v[i].p, want->v[i].len);
	}
}

/* got holds exactly the first n records of want. */
static void
assert_recs_eq(const struct recs *got, const struct recs *want, size_t n)
{
	ck_assert_uint_eq(got->n, n);
	assert_prefix(got, want, n);
}

/* Opens and replays the state directory, collecting the records. */
static struct journal *
open_replay(struct recs *got, struct journal_stats *st)
{
	struct journal *j = NULL;

	recs_free(got);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(journal_replay(j, collect_cb, got), 0);
	journal_get_stats(j, st);
	ck_assert_uint_eq(st->replayed_records, got->n);
	return j;
}

/* ---- a small key/value state, to check compaction against ---- */

#define NKEYS 24

struct kv {
	bool set[NKEYS];
	uint8_t len[NKEYS];
	char val[NKEYS][40];
};

/* Record: byte 0 = key, bit 7 set for a delete; the rest is the value. */
static int
kv_apply(struct kv *s, const uint8_t *rec, size_t len)
{
	unsigned key;

	if (len < 1 || (rec[0] & 0x7f) >= NKEYS || len - 1 > sizeof(s->val[0]))
		return -EBADMSG;
	key = rec[0] & 0x7f;
	if (rec[0] & 0x80) {
		s->set[key] = false;
		return 0;
	}
	s->set[key] = true;
	s->len[key] = (uint8_t)(len - 1);
	memcpy(s->val[key], rec + 1, len - 1);
	return 0;
}

static int
kv_cb(void *ctx, const void *rec, size_t len)
{
	return kv_apply(ctx, rec, len);
}

static bool
kv_equal(const struct kv *a, const struct kv *b)
{
	for (unsigned k = 0; k < NKEYS; k++) {
		if (a->set[k] != b->set[k])
			return false;
		if (a->set[k] &&
		    (a->len[k] != b->len[k] || memcmp(a->val[k], b->val[k], a->len[k]) != 0))
			return false;
	}
	return true;
}

static int
kv_write_state(void *ctx, struct journal_snapshot *w)
{
	const struct kv *s = ctx;

	for (unsigned k = 0; k < NKEYS; k++) {
		uint8_t rec[1 + sizeof(s->val[0])];
		int rc;

		if (!s->set[k])
			continue;
		rec[0] = (uint8_t)k;
		memcpy(rec + 1, s->val[k], s->len[k]);
		rc = journal_snapshot_add(w, rec, 1u + s->len[k]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* count random sets and deletes, applied to model and appended; committed every
 * commit_every operations (0: left pending). */
static void
kv_ops(struct journal *j, struct kv *model, unsigned seed, unsigned count, unsigned commit_every)
{
	uint32_t x = seed * 2654435761u + 1;

	for (unsigned i = 0; i < count; i++) {
		uint8_t rec[1 + sizeof(model->val[0])];
		size_t len;

		x = x * 1664525u + 1013904223u;
		rec[0] = (uint8_t)((x >> 8) % NKEYS);
		if ((x >> 20) % 5 == 0) {
			rec[0] |= 0x80;
			len = 1;
		} else {
			len = 1 + (x >> 24) % sizeof(model->val[0]);
			fill_record(rec + 1, len - 1, seed * 100000 + i);
		}
		ck_assert_int_eq(kv_apply(model, rec, len), 0);
		ck_assert_int_eq(journal_append(j, rec, len), 0);
		if (commit_every && (i + 1) % commit_every == 0)
			ck_assert_int_eq(journal_commit(j), 0);
	}
}

static struct journal *
kv_open(struct kv *state, struct journal_stats *st)
{
	struct journal *j = NULL;

	memset(state, 0, sizeof(*state));
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_replay(j, kv_cb, state), 0);
	if (st)
		journal_get_stats(j, st);
	return j;
}

/* ---- tests ---- */

START_TEST(test_crc32c_vectors)
{
	static const uint8_t zeros[32],
	    ones[32] = {
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    };

	/* Check values from RFC 3720 (iSCSI) B.4 and the usual "123456789". */
	ck_assert_uint_eq(crc32c("123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(crc32c(zeros, 32), 0x8a9136aau);
	ck_assert_uint_eq(crc32c(ones, 32), 0x62a8ab43u);
	ck_assert_uint_eq(crc32c(NULL, 0), 0);
	ck_assert_uint_eq(crc32c_update(crc32c("1234", 4), "56789", 5), 0xe3069283u);
	/* What a zero-filled frame header would need to match. */
	ck_assert_uint_ne(crc32c(zeros, 4), 0);
}
END_TEST

/* The CRC bit by bit, straight from the polynomial: the reference for the tables and the
 * instruction. */
static uint32_t
crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc >> 1 ^ (crc & 1 ? 0x82f63b78u : 0);
	}
	return ~crc;
}

/* Every implementation gives the same CRC as the bitwise one for every length up to a few
 * words past each step size and every misalignment, and the check value; continuing a CRC
 * across calls of different implementations changes nothing. */
START_TEST(test_crc32c_impls)
{
	static const enum crc32c_impl impls[] = {CRC32C_HARDWARE, CRC32C_SLICING8, CRC32C_BYTEWISE};
	uint8_t buf[600];
	uint32_t seed = 0x12345678;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++) {
		ck_assert_uint_eq(crc32c_update_impl(impls[k], 0, "123456789", 9), 0xe3069283u);
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len + off <= sizeof(buf); len += len < 80 ? 1 : 37) {
				uint32_t want = crc32c_bitwise(0x5a5a5a5au, buf + off, len);

				ck_assert_uint_eq(
				    crc32c_update_impl(impls[k], 0x5a5a5a5au, buf + off, len),
				    want);
			}
		ck_assert_uint_eq(
		    crc32c_update_impl(impls[k], crc32c_update_impl(impls[(k + 1) % 3], 0, buf, 13),
		                       buf + 13, 500),
		    crc32c_bitwise(0, buf, 513));
	}
	/* The machines this runs on have SSE4.2: say so when the fallback was tested instead. */
	if (!crc32c_hw_available())
		fprintf(stderr, "test_crc32c_impls: no crc32 instruction here, tables only\n");
}
END_TEST

START_TEST(test_round_trip)
{
	static const size_t sizes[] = {0,     1,        2,  7,    8,    9,
	                               63,    64,       65, 4095, 4096, 4097,
	                               65536, 1u << 20, 0,  1,    300,  (1u << 20) - 1,
	                               3};
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j;
	unsigned idx = 0;

	j = open_replay(&got, &st);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(st.generation, 0);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	ck_assert_uint_eq(st.snapshot_bytes, 0);
	ck_assert_int_eq(st.last_compaction_unix, 0);
	/* Directory created private. */
	{
		struct stat ds;

		ck_assert_int_eq(stat(state_dir, &ds), 0);
		ck_assert_uint_eq(ds.st_mode & 0777, 0700);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		append_record(j, &want, sizes[i], idx++);
		if (i % 3 == 2)
			ck_assert_int_eq(journal_commit(j), 0);
	}
	/* Many small records, several per commit. */
	for (unsigned i = 0; i < 2000; i++) {
		append_record(j, &want, (i * 37u) % 301, idx++);
		if (i % 7 == 6)
			ck_assert_int_eq(journal_commit(j), 0);
	}
	ck_assert_uint_gt(journal_pending(j), 0);
	ck_assert_int_eq(journal_commit(j), 0);
	ck_assert_uint_eq(journal_pending(j), 0);
	ck_assert_int_eq(journal_commit(j), 0); /* nothing pending */
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.journal_bytes, (uint64_t)file_size("journal.0"));
	journal_close(j);

	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, want.n);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	/* Appends after a replay go after the replayed records. */
	for (unsigned i = 0; i < 50; i++)
		append_record(j, &want, i, idx++);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, want.n);
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

START_TEST(test_uncommitted_not_durable)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j = open_replay(&got, &st);

	append_record(j, &want, 10, 1);
	ck_assert_int_eq(journal_commit(j), 0);
	append_record(j, NULL, 10, 2);
	append_record(j, NULL, 10, 3);
	journal_close(j); /* pending records are discarded, not written */

	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, 1);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

START_TEST(test_discard_pending)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j = open_replay(&got, &st);
	size_t mark;

	append_record(j, &want, 5, 1);
	mark = journal_pending(j);
	append_record(j, NULL, 7, 2);
	append_record(j, NULL, 9, 3);
	ck_assert_int_eq(journal_discard_pending(j, journal_pending(j) + 1), -EINVAL);
	ck_assert_int_eq(journal_discard_pending(j, mark), 0);
	ck_assert_uint_eq(journal_pending(j), mark);
	append_record(j, &want, 11, 4);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, 2);
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

START_TEST(test_torn_tail_every_offset)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j = open_replay(&got, &st);
	uint64_t good_end, full_end;
	size_t full_len;
	uint8_t *full;

	for (unsigned i = 0; i < 20; i++) {
		append_record(j, &want, (i * 13u) % 70, i);
		if (i % 4 == 3)
			ck_assert_int_eq(journal_commit(j), 0);
	}
	ck_assert_int_eq(journal_commit(j), 0);
	journal_get_stats(j, &st);
	good_end = st.journal_bytes;
	append_record(j, &want, 50, 99); /* the record that will be torn */
	ck_assert_int_eq(journal_commit(j), 0);
	journal_get_stats(j, &st);
	full_end = st.journal_bytes;
	journal_close(j);
	ck_assert_uint_eq(full_end - good_end, 8 + 50);

	full = read_whole("journal.0", &full_len);
	ck_assert_uint_eq(full_len, full_end);
	for (uint64_t cut = good_end; cut <= full_end; cut++) {
		bool whole = cut == full_end;
		size_t nkeep = whole ? 21 : 20;
		uint8_t after[33];

		write_bytes("journal.0", "wb", full, (size_t)cut);
		j = open_replay(&got, &st);
		assert_recs_eq(&got, &want, nkeep);
		ck_assert_uint_eq(st.dropped_bytes, whole ? 0 : cut - good_end);
		ck_assert_uint_eq(st.journal_bytes, whole ? full_end : good_end);
		ck_assert_uint_eq((uint64_t)file_size("journal.0"), st.journal_bytes);

		/* A new record goes right after the last good one and replays. */
		fill_record(after, sizeof(after), (unsigned)cut);
		ck_assert_int_eq(journal_append(j, after, sizeof(after)), 0);
		ck_assert_int_eq(journal_commit(j), 0);
		journal_close(j);
		j = open_replay(&got, &st);
		ck_assert_uint_eq(st.dropped_bytes, 0);
		assert_prefix(&got, &want, nkeep);
		ck_assert_uint_eq(got.n, nkeep + 1);
		ck_assert_uint_eq(got.v[nkeep].len, sizeof(after));
		ck_assert_mem_eq(got.v[nkeep].p, after, sizeof(after));
		journal_close(j);
	}
	free(full);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

/* Ten records, one commit each; returns the journal size after each in ends[]. */
static void
ten_records(struct recs *want, uint64_t ends[10])
{
	struct recs got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j = open_replay(&got, &st);

	for (unsigned i = 0; i < 10; i++) {
		append_record(j, want, 20 + i, i);
		ck_assert_int_eq(journal_commit(j), 0);
		journal_get_stats(j, &st);
		ends[i] = st.journal_bytes;
	}
	journal_close(j);
	recs_free(&got);
}

/* ---- the whole directory, to show that a refusal changed nothing ---- */

/* A refusal changes no file (ck_dir.h). */
static void
dir_image_take(struct ck_dir *im)
{
	ck_dir_take(im, state_dir);
}

static void
assert_unchanged(struct ck_dir *before)
{
	ck_dir_assert_unchanged(before, state_dir);
}

/* Replay refuses the directory as damaged, names the file, the offset and what it found,
 * and changes nothing. */
static void
assert_refused(const char *needle, const char *needle2)
{
	struct recs got = {.fail_at = SIZE_MAX};
	struct ck_dir before;
	struct journal *j;

	dir_image_take(&before);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_replay(j, collect_cb, &got), -EUCLEAN);
	ck_assert_msg(strstr(journal_error(j), needle), "'%s' lacks '%s'", journal_error(j),
	              needle);
	if (needle2)
		ck_assert_msg(strstr(journal_error(j), needle2), "'%s' lacks '%s'",
		              journal_error(j), needle2);
	ck_assert_int_eq(journal_append(j, "x", 1), -EIO);
	journal_close(j);
	assert_unchanged(&before);
	recs_free(&got);
}

START_TEST(test_corrupt_payload_in_middle)
{
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	char needle[256];

	ten_records(&want, ends);
	flip_byte("journal.0", (off_t)ends[4] - 1); /* last payload byte of record 4 */
	/* The bad frame's own length leads to the next one. */
	snprintf(needle, sizeof(needle),
	         "journal.0: record at offset %llu fails its checksum (length 24), and valid "
	         "records follow at offset %llu: the journal is damaged, not torn",
	         (unsigned long long)ends[3], (unsigned long long)ends[4]);
	assert_refused(needle, NULL);
	recs_free(&want);
}
END_TEST

START_TEST(test_corrupt_crc_in_middle)
{
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	char needle[256];

	ten_records(&want, ends);
	flip_byte("journal.0", (off_t)ends[3] + 4); /* record 4's CRC field */
	snprintf(needle, sizeof(needle), "journal.0: record at offset %llu fails its checksum",
	         (unsigned long long)ends[3]);
	assert_refused(needle, "damaged, not torn");
	recs_free(&want);
}
END_TEST

START_TEST(test_corrupt_length_in_middle)
{
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	char needle[256];

	ten_records(&want, ends);
	/* Another length: the CRC no longer matches, and the length leads nowhere. */
	flip_byte("journal.0", (off_t)ends[3]);
	snprintf(needle, sizeof(needle), "journal.0: record at offset %llu ",
	         (unsigned long long)ends[3]);
	assert_refused(needle, "damaged, not torn");
	/* A length beyond the limit. */
	flip_byte("journal.0", (off_t)ends[3]);
	flip_byte("journal.0", (off_t)ends[5] + 3);
	snprintf(needle, sizeof(needle), "journal.0: record at offset %llu has a length of",
	         (unsigned long long)ends[5]);
	assert_refused(needle, "beyond the limit");
	recs_free(&want);
}
END_TEST

/* One flipped byte anywhere in any record but the last is damage, whatever field it hits;
 * in the last record it is a torn tail. */
START_TEST(test_flip_every_byte)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	uint64_t ends[10];
	size_t len;
	uint8_t *full;

	ten_records(&want, ends);
	full = read_whole("journal.0", &len);
	for (uint64_t off = 24; off < ends[9]; off++) {
		unsigned k = 0;
		char needle[256];

		while (ends[k] <= off)
			k++;
		full[off] ^= 0x5a;
		write_bytes("journal.0", "wb", full, len);
		full[off] ^= 0x5a;
		if (k < 9) {
			snprintf(needle, sizeof(needle), "journal.0: record at offset %llu ",
			         (unsigned long long)(k ? ends[k - 1] : 24));
			assert_refused(needle, "damaged, not torn");
			continue;
		}
		/* Nothing valid after it: the torn last record of a commit. */
		journal_close(open_replay(&got, &st));
		assert_recs_eq(&got, &want, 9);
		ck_assert_uint_eq(st.dropped_bytes, ends[9] - ends[8]);
	}
	free(full);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

/* Frames of n records of len bytes each into buf (capacity checked by the caller). */
static size_t
put_frames(uint8_t *buf, unsigned n, size_t len, unsigned seed)
{
	size_t at = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t crc;

		buf[at] = (uint8_t)len;
		buf[at + 1] = (uint8_t)(len >> 8);
		buf[at + 2] = (uint8_t)(len >> 16);
		buf[at + 3] = (uint8_t)(len >> 24);
		fill_record(buf + at + 8, len, seed + i);
		crc = crc32c_update(crc32c(buf + at, 4), buf + at + 8, len);
		for (int b = 0; b < 4; b++)
			buf[at + 4 + b] = (uint8_t)(crc >> (8 * b));
		at += 8 + len;
	}
	return at;
}

/* A damaged length field in a 30 MB journal: found at once, not after minutes. */
START_TEST(test_length_damage_in_big_journal)
{
	enum { N = 100000, LEN = 300 };
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	uint8_t *big = malloc((size_t)N * (8 + LEN));
	size_t n;
	char needle[256];

	ck_assert_ptr_nonnull(big);
	ten_records(&want, ends);
	n = put_frames(big, N, LEN, 500);
	/* Record 10's length now claims 16 MiB - 1: within the limit, wrong CRC. */
	big[0] = big[1] = big[2] = 0xff;
	write_bytes("journal.0", "ab", big, n);
	free(big);
	snprintf(needle, sizeof(needle),
	         "journal.0: record at offset %llu fails its checksum (length 16777215), and "
	         "valid records follow at offset %llu",
	         (unsigned long long)ends[9], (unsigned long long)ends[9] + 8 + LEN);
	assert_refused(needle, NULL);
	recs_free(&want);
}
END_TEST

/* Data behind a bad frame that makes the search for a valid frame expensive at every
 * offset: the budget runs out, and that counts as damage, never as a torn tail. */
START_TEST(test_search_budget_is_damage)
{
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	size_t n = 32u << 20;
	uint8_t *junk = calloc(1, n + 64);

	ck_assert_ptr_nonnull(junk);
	ten_records(&want, ends);
	/* Every fourth offset reads as a 1 MiB length. */
	for (size_t i = 0; i < n; i += 4)
		junk[i + 2] = 0x10;
	junk[0] = 0xee; /* the bad frame */
	n += put_frames(junk + n, 1, 20, 900);
	write_bytes("journal.0", "ab", junk, n);
	free(junk);
	assert_refused("could not be settled within 64 MiB of checksum work",
	               "taken as damage, not as a torn tail");
	recs_free(&want);
}
END_TEST

START_TEST(test_huge_length_rejected)
{
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	uint32_t len = JOURNAL_MAX_RECORD + 1;
	uint8_t *frame = calloc(1, 8 + (size_t)len);

	ck_assert_ptr_nonnull(frame);
	ten_records(&want, ends);
	/* A frame that is intact but over the limit: still treated as corruption. */
	frame[0] = (uint8_t)len;
	frame[1] = (uint8_t)(len >> 8);
	frame[2] = (uint8_t)(len >> 16);
	frame[3] = (uint8_t)(len >> 24);
	{
		uint32_t crc = crc32c_update(crc32c(frame, 4), frame + 8, len);

		frame[4] = (uint8_t)crc;
		frame[5] = (uint8_t)(crc >> 8);
		frame[6] = (uint8_t)(crc >> 16);
		frame[7] = (uint8_t)(crc >> 24);
	}
	write_bytes("journal.0", "ab", frame, 8 + (size_t)len);
	free(frame);
	{
		struct recs got = {.fail_at = SIZE_MAX};
		struct journal_stats st;
		struct journal *j = open_replay(&got, &st);

		assert_recs_eq(&got, &want, 10);
		ck_assert_uint_eq(st.dropped_bytes, 8 + (uint64_t)len);
		ck_assert_int_eq(journal_append(j, "x", JOURNAL_MAX_RECORD + 1), -EMSGSIZE);
		journal_close(j);
		recs_free(&got);
	}
	recs_free(&want);
}
END_TEST

START_TEST(test_zero_filled_tail)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	uint64_t ends[10];
	uint8_t *zeros = calloc(1, 4096);
	struct journal *j;

	ck_assert_ptr_nonnull(zeros);
	ten_records(&want, ends);
	write_bytes("journal.0", "ab", zeros, 4096);
	free(zeros);
	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, 10);
	ck_assert_uint_eq(st.dropped_bytes, 4096);
	ck_assert_uint_eq((uint64_t)file_size("journal.0"), ends[9]);
	append_record(j, &want, 17, 77);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);
	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, 11);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

START_TEST(test_garbage_tail)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	uint64_t ends[10];
	uint8_t junk[1000];
	struct journal *j;

	ten_records(&want, ends);
	fill_record(junk, sizeof(junk), 4242);
	/* A plausible small length so that the parser has to look at the CRC. */
	junk[0] = 12;
	junk[1] = junk[2] = junk[3] = 0;
	write_bytes("journal.0", "ab", junk, sizeof(junk));
	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, 10);
	ck_assert_uint_eq(st.dropped_bytes, sizeof(junk));
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

START_TEST(test_lock_ebusy)
{
	struct journal *a = NULL, *b = (struct journal *)&b;

	ck_assert_int_eq(journal_open(state_dir, &a), 0);
	ck_assert_int_eq(journal_open(state_dir, &b), -EBUSY);
	ck_assert_ptr_null(b);
	journal_close(a);
	ck_assert_int_eq(journal_open(state_dir, &b), 0);
	ck_assert_ptr_nonnull(b);
	journal_close(b);
}
END_TEST

START_TEST(test_api_misuse)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j = NULL;

	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_append(j, "a", 1), -EINVAL); /* before replay */
	ck_assert_int_eq(journal_commit(j), -EINVAL);
	ck_assert_int_eq(journal_compact(j, kv_write_state, NULL), -EINVAL);
	ck_assert(!journal_should_compact(j));
	ck_assert_int_eq(journal_replay(j, collect_cb, &got), 0);
	ck_assert_int_eq(journal_replay(j, collect_cb, &got), -EINVAL); /* twice */
	ck_assert_int_eq(journal_append(j, NULL, 0), 0);
	ck_assert_int_eq(journal_append(j, NULL, 1), -EINVAL);
	ck_assert_int_eq(journal_append(j, "", (size_t)JOURNAL_MAX_RECORD + 1), -EMSGSIZE);
	ck_assert_int_eq(journal_commit(j), 0);
	for (unsigned i = 0; i < 6; i++)
		append_record(j, &want, i, i);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	/* A failing callback stops the replay, its error comes back, and the handle is dead. */
	recs_free(&got);
	got.fail_at = 3;
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_replay(j, collect_cb, &got), -ECANCELED);
	ck_assert_uint_eq(got.n, 3);
	ck_assert_int_eq(journal_append(j, "a", 1), -EIO);
	journal_close(j);

	/* ... and nothing was changed on disk. */
	j = open_replay(&got, &st);
	ck_assert_uint_eq(got.n, 7);
	ck_assert_uint_eq(got.v[0].len, 0);
	journal_close(j);
	journal_close(NULL);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

/* The descriptor the journal writes to (journal.<gen> of state_dir), found in /proc. */
static int
journal_file_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[PATH_MAX], want[160];
	int found = -1;

	snprintf(want, sizeof(want), "%s/journal.", state_dir);
	while (d && (e = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);

		if (n > 0) {
			link[n] = '\0';
			if (!strncmp(link, want, strlen(want)))
				found = atoi(e->d_name);
		}
	}
	closedir(d);
	ck_assert_int_ge(found, 0);
	return found;
}

/* Waits for the commit worker's descriptor to say a group is done. */
static void
wait_commit_fd(struct journal *j)
{
	struct pollfd p = {.fd = journal_commit_fd(j), .events = POLLIN};

	ck_assert_int_ge(p.fd, 0);
	ck_assert_int_eq(poll(&p, 1, 10000), 1);
}

/* journal_commit_start(): the group goes to the worker, appends meanwhile form the next one,
 * at most one is in flight, and replay sees everything in order. */
START_TEST(test_async_commit)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j = open_replay(&got, &st);
	size_t pending;

	ck_assert_int_eq(journal_commit_start(j), 0); /* nothing to write */
	ck_assert(!journal_commit_busy(j));
	ck_assert_int_eq(journal_commit_finish(j, false), 0);
	journal_test_pause_commits(j, true);
	append_record(j, &want, 30, 1);
	append_record(j, &want, 40, 2);
	ck_assert_int_eq(journal_commit_start(j), 1);
	ck_assert(journal_commit_busy(j));
	ck_assert_uint_eq(journal_pending(j), 0);
	append_record(j, &want, 50, 3);
	pending = journal_pending(j);
	ck_assert_uint_eq(pending, JOURNAL_FRAME_SIZE + 50);
	ck_assert_int_eq(journal_commit_start(j), -EBUSY);
	ck_assert_int_eq(journal_commit_finish(j, false), -EINPROGRESS);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.commits, 0);
	/* Room is reserved behind what is in flight, not over it. */
	ck_assert_int_eq(journal_reserve(j, 10), 0);
	journal_test_pause_commits(j, false);
	wait_commit_fd(j);
	ck_assert_int_eq(journal_commit_finish(j, false), 0);
	ck_assert(!journal_commit_busy(j));
	ck_assert_uint_eq(journal_pending(j), pending);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.commits, 1);
	/* The next group through the worker again, then the synchronous path finishes it. */
	ck_assert_int_eq(journal_commit_start(j), 1);
	append_record(j, &want, 0, 4);
	ck_assert_int_eq(journal_commit(j), 0);
	ck_assert(!journal_commit_busy(j));
	ck_assert_uint_eq(journal_pending(j), 0);
	/* A wake-up of a group a wait already finished: nothing in flight, nothing to do. */
	ck_assert_int_eq(journal_commit_finish(j, false), 0);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.commits, 3);
	/* Closing waits for a group in flight; what it wrote is there. */
	append_record(j, &want, 60, 5);
	ck_assert_int_eq(journal_commit_start(j), 1);
	journal_close(j);

	j = open_replay(&got, &st);
	ck_assert_uint_le(got.n, 5);
	ck_assert_uint_ge(got.n, 4);
	assert_prefix(&got, &want, got.n);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

/* A group that fails in the worker is rolled back like a synchronous one, and the group
 * appended behind it is dropped: it may describe changes that depend on the failed ones. */
START_TEST(test_async_commit_failure)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct journal *j = open_replay(&got, &st);
	off_t size;
	int fd, saved, null;

	append_record(j, &want, 30, 1);
	ck_assert_int_eq(journal_commit(j), 0);
	size = file_size("journal.0");
	journal_test_pause_commits(j, true);
	append_record(j, NULL, 40, 2);
	ck_assert_int_eq(journal_commit_start(j), 1);
	append_record(j, NULL, 50, 3);
	/* The group's write fails: the descriptor is read-only for it. */
	fd = journal_file_fd();
	saved = dup(fd);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(dup2(null, fd), 0);
	close(null);
	journal_test_pause_commits(j, false);
	wait_commit_fd(j);
	ck_assert_int_lt(journal_commit_finish(j, false), 0);
	ck_assert_uint_eq(journal_pending(j), 0);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.commit_failures, 1);
	ck_assert_uint_eq(st.journal_bytes, (uint64_t)size);
	/* The rollback could not truncate /dev/null: the handle refuses all further work. */
	ck_assert_int_eq(journal_append(j, "x", 1), -EIO);
	ck_assert_int_eq(dup2(saved, fd), fd);
	close(saved);
	journal_close(j);

	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, 1);
	ck_assert_int_eq(file_size("journal.0"), size);
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

/* RLIMIT_FSIZE makes write() fail with EFBIG part-way through a commit: a cheap, real commit
 * failure. Check runs each test in its own process, so the limit does not leak. */
START_TEST(test_commit_failure_rolls_back)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_stats st;
	struct rlimit old, lim;
	struct journal *j = open_replay(&got, &st);
	off_t size, size_after;
	size_t pending;
	int rc_fail, rc_small;

	signal(SIGXFSZ, SIG_IGN);
	for (unsigned i = 0; i < 3; i++)
		append_record(j, &want, 40, i);
	ck_assert_int_eq(journal_commit(j), 0);
	size = file_size("journal.0");

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size + 100; /* room for part of the batch, not all of it */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	/* Only record results while the limit is in force: Check reports a failed assertion
	 * through a file, which the limit could stop as well. */
	append_record(j, NULL, 80, 10);
	append_record(j, NULL, 80, 11);
	rc_fail = journal_commit(j);
	pending = journal_pending(j);
	size_after = file_size("journal.0"); /* partial write truncated away? */
	journal_get_stats(j, &st);
	/* A small commit fits under the limit and goes right after the good data. */
	append_record(j, &want, 20, 12);
	rc_small = journal_commit(j);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

	ck_assert_int_eq(rc_fail, -EFBIG);
	ck_assert_uint_eq(pending, 0);
	ck_assert_int_eq(size_after, size);
	ck_assert_uint_eq(st.journal_bytes, (uint64_t)size);
	ck_assert_int_eq(rc_small, 0);
	append_record(j, &want, 200, 13);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	j = open_replay(&got, &st);
	assert_recs_eq(&got, &want, 5);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	journal_close(j);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

START_TEST(test_compaction_complete)
{
	static const char *const gen1[] = {"lock", "snapshot.1", "journal.1"};
	static const char *const gen2[] = {"lock", "snapshot.2", "journal.2"};
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	time_t before = time(NULL);
	int64_t stamp;

	kv_ops(j, &model, 1, 500, 10);
	kv_ops(j, &model, 2, 7, 0); /* pending: compaction commits them first */
	ck_assert(!journal_should_compact(j));
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	ck_assert_uint_eq(journal_pending(j), 0);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.generation, 1);
	ck_assert_uint_gt(st.snapshot_bytes, 0);
	ck_assert_uint_eq(st.snapshot_bytes, (uint64_t)file_size("snapshot.1"));
	ck_assert_uint_eq(st.journal_bytes, (uint64_t)file_size("journal.1"));
	ck_assert_uint_lt(st.journal_bytes, 64); /* just a header */
	ck_assert_int_ge(st.last_compaction_unix, (int64_t)before);
	ck_assert_int_le(st.last_compaction_unix, (int64_t)time(NULL));
	stamp = st.last_compaction_unix;
	assert_files(gen1, 3);
	kv_ops(j, &model, 3, 40, 3);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 1);
	ck_assert_int_eq(st.last_compaction_unix, stamp); /* kept in the snapshot */
	ck_assert_uint_eq(st.dropped_bytes, 0);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	assert_files(gen2, 3);
	kv_ops(j, &model, 4, 40, 1);
	journal_close(j);

	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 2);
	/* The snapshot is one record per live key: bounded by the state, not the history. */
	{
		unsigned live = 0;

		for (unsigned k = 0; k < NKEYS; k++)
			live += model.set[k];
		ck_assert_uint_le(st.snapshot_bytes, 24 + 32 + live * (8 + 41u));
	}
	journal_close(j);
}
END_TEST

START_TEST(test_empty_state_compaction)
{
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);

	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 1);
	ck_assert_uint_eq(st.replayed_records, 0);
	journal_close(j);
}
END_TEST

static void
crash_during_compaction(int step, bool from_snapshot)
{
	static const char *const files[2][2][3] = {
	    {{"lock", "journal.0"}, {"lock", "snapshot.1", "journal.1"}},
	    {{"lock", "snapshot.1", "journal.1"}, {"lock", "snapshot.2", "journal.2"}},
	};
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	uint64_t g = from_snapshot ? 1 : 0;
	bool newer = step >= 3; /* snapshot.n is in place from step 3 */

	kv_ops(j, &model, 10, 300, 7);
	if (from_snapshot)
		ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	kv_ops(j, &model, 11, 100, 9);
	ck_assert_int_eq(journal_commit(j), 0);
	kv_ops(j, &model, 12, 5, 0); /* still pending when the compaction starts */

	journal_test_fail_compaction_after(j, step);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), -EIO);
	/* "Dead": the handle accepts nothing more. */
	ck_assert_int_eq(journal_append(j, "x", 1), -EIO);
	ck_assert_int_eq(journal_commit(j), -EIO);
	journal_close(j);

	j = kv_open(&state, &st);
	ck_assert_msg(kv_equal(&state, &model), "state differs after crash at step %d", step);
	ck_assert_uint_eq(st.generation, g + (newer ? 1 : 0));
	ck_assert_uint_eq(st.dropped_bytes, 0);
	/* Leftovers cleaned up: only the chosen generation remains. */
	assert_files(files[from_snapshot][newer], g == 0 && !newer ? 2 : 3);

	/* Work goes on after recovery, including another compaction. */
	kv_ops(j, &model, 13, 50, 5);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	kv_ops(j, &model, 14, 20, 4);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, g + (newer ? 2 : 1));
	journal_close(j);
}

START_TEST(test_compaction_crash_gen0)
{
	crash_during_compaction(_i, false);
}
END_TEST

START_TEST(test_compaction_crash_gen1)
{
	crash_during_compaction(_i, true);
}
END_TEST

static int
failing_write_state(void *ctx, struct journal_snapshot *w)
{
	int rc = kv_write_state(ctx, w);

	return rc < 0 ? rc : -ENOSPC;
}

static int
ignoring_write_state(void *ctx, struct journal_snapshot *w)
{
	/* Ignores the error of an oversized record: the compaction must still fail. */
	journal_snapshot_add(w, "", (size_t)JOURNAL_MAX_RECORD + 1);
	return kv_write_state(ctx, w);
}

struct nested {
	struct journal *j;
	struct kv *model;
	int append_rc;
	int commit_rc;
	int compact_rc;
};

static int
nested_write_state(void *ctx, struct journal_snapshot *w)
{
	struct nested *n = ctx;

	n->append_rc = journal_append(n->j, "\x01z", 2);
	n->commit_rc = journal_commit(n->j);
	n->compact_rc = journal_compact(n->j, kv_write_state, n->model);
	return kv_write_state(n->model, w);
}

START_TEST(test_compaction_failure_keeps_working)
{
	static const char *const gen0[] = {"lock", "journal.0"};
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	struct nested n = {.j = j, .model = &model};

	kv_ops(j, &model, 20, 200, 10);
	ck_assert_int_eq(journal_compact(j, failing_write_state, &model), -ENOSPC);
	ck_assert_int_eq(journal_compact(j, ignoring_write_state, &model), -EMSGSIZE);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.generation, 0);
	assert_files(gen0, 2); /* no snapshot.1.tmp left behind */

	/* The journal keeps working on generation 0. */
	kv_ops(j, &model, 21, 30, 3);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 0);

	/* Nested use from write_state is refused; the compaction itself succeeds. */
	n.j = j;
	ck_assert_int_eq(journal_compact(j, nested_write_state, &n), 0);
	ck_assert_int_eq(n.append_rc, -EBUSY);
	ck_assert_int_eq(n.commit_rc, -EBUSY);
	ck_assert_int_eq(n.compact_rc, -EBUSY);
	ck_assert_uint_eq(journal_pending(j), 0);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 1);
	journal_close(j);
}
END_TEST

START_TEST(test_should_compact)
{
	struct recs got = {.fail_at = SIZE_MAX};
	struct kv model = {0};
	struct journal_stats st;
	struct journal *j = open_replay(&got, &st);
	unsigned i = 0;

	ck_assert(!journal_should_compact(j));
	while (!journal_should_compact(j)) {
		append_record(j, NULL, 4000, i);
		ck_assert_int_eq(journal_commit(j), 0);
		ck_assert_uint_lt(++i, 400);
	}
	journal_get_stats(j, &st);
	ck_assert_uint_gt(st.journal_bytes, 1u << 20);
	/* An empty state snapshot makes the journal small again. */
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	ck_assert(!journal_should_compact(j));
	journal_close(j);
	recs_free(&got);
}
END_TEST

/* ---- compaction in the background (journal_compact_begin/_write/_end) ---- */

/* A background compaction run in this process as the daemon runs it with a child: begin,
 * `after` operations appended and committed meanwhile (to the new journal), the snapshot of
 * the state as of the begin written, then the end with `result` (the child's). Returns what
 * the begin, or else the end, returned. */
static int
bg_compact(struct journal *j, struct kv *model, unsigned seed, unsigned after, int result)
{
	struct journal_compaction *c;
	struct kv at;
	int rc = journal_compact_begin(j, &c);

	if (rc < 0)
		return rc;
	at = *model; /* what the child's copy of the state would be */
	kv_ops(j, model, seed, after, 7);
	ck_assert_int_eq(journal_commit(j), 0);
	ck_assert_int_eq(journal_compact_write(c, kv_write_state, &at), 0);
	return journal_compact_end(j, c, result);
}

START_TEST(test_bg_compaction_complete)
{
	static const char *const gen1[] = {"lock", "snapshot.1", "journal.1"};
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	struct journal_compaction *c;

	kv_ops(j, &model, 50, 300, 10);
	kv_ops(j, &model, 51, 5, 0); /* pending: the begin commits them first */
	ck_assert_int_eq(journal_compact_begin(j, &c), 0);
	ck_assert_uint_eq(journal_pending(j), 0);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.generation, 1); /* appends go to journal.1 from now on */
	ck_assert_uint_eq(st.snapshot_bytes, 0);
	ck_assert(file_exists("journal.0"));
	ck_assert(file_exists("journal.1"));
	ck_assert(file_exists("snapshot.1.tmp"));
	/* One at a time. */
	{
		struct journal_compaction *c2 = NULL;

		ck_assert_int_eq(journal_compact_begin(j, &c2), -EBUSY);
		ck_assert_ptr_null(c2);
		ck_assert_int_eq(journal_compact(j, kv_write_state, &model), -EBUSY);
		ck_assert(!journal_should_compact(j));
	}
	{
		struct kv at = model;

		kv_ops(j, &model, 52, 100, 9);
		ck_assert_int_eq(journal_commit(j), 0);
		ck_assert_int_eq(journal_compact_write(c, kv_write_state, &at), 0);
	}
	ck_assert_int_eq(journal_compact_end(j, c, 0), 0);
	assert_files(gen1, 3);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.snapshot_bytes, (uint64_t)file_size("snapshot.1"));
	kv_ops(j, &model, 53, 21, 3);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 1);
	journal_close(j);
}
END_TEST

/* kill -9 of the daemon while its child writes: snapshot.g, journal.g and journal.n replay as
 * journal.g followed by journal.n, and the next compaction removes the chain. */
START_TEST(test_bg_chain_replays)
{
	static const char *const chain[] = {"lock", "snapshot.1", "journal.1", "journal.2"};
	static const char *const gen3[] = {"lock", "snapshot.3", "journal.3"};
	struct kv model = {0}, state, ro;
	struct journal_compaction *c;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st), *r;

	kv_ops(j, &model, 60, 200, 10);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	kv_ops(j, &model, 61, 100, 10);
	ck_assert_int_eq(journal_compact_begin(j, &c), 0);
	kv_ops(j, &model, 62, 100, 10);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j); /* "killed": no end */
	/* what a child killed half-way leaves */
	write_bytes("snapshot.2.tmp", "wb", "PASIDDS1half", 12);

	/* pasidd -n beside it reads the same. */
	memset(&ro, 0, sizeof(ro));
	ck_assert_int_eq(journal_open_readonly(state_dir, &r), 0);
	ck_assert_int_eq(journal_replay(r, kv_cb, &ro), 0);
	ck_assert(kv_equal(&ro, &model));
	journal_close(r);

	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 2);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	assert_files(chain, 4); /* the .tmp removed, the chain kept */
	kv_ops(j, &model, 63, 32, 4);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_int_eq(bg_compact(j, &model, 64, 50, 0), 0);
	assert_files(gen3, 3);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 3);
	journal_close(j);
}
END_TEST

/* The child failed: its .tmp goes, the handle stays on the new journal, the chain grows, and
 * the next compaction (in either order) removes all of it. */
START_TEST(test_bg_compaction_failure)
{
	static const char *const chain[] = {"lock", "journal.0", "journal.1", "journal.2"};
	static const char *const gen3[] = {"lock", "snapshot.3", "journal.3"};
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);

	kv_ops(j, &model, 70, 200, 10);
	ck_assert_int_eq(bg_compact(j, &model, 71, 40, -ENOSPC), -ENOSPC);
	ck_assert_int_eq(bg_compact(j, &model, 72, 40, -ECHILD), -ECHILD);
	assert_files(chain, 4);
	kv_ops(j, &model, 73, 30, 3);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 2);
	assert_files(chain, 4);
	if (_i == 0)
		ck_assert_int_eq(bg_compact(j, &model, 74, 10, 0), 0);
	else
		ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	assert_files(gen3, 3);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	journal_close(j);
}
END_TEST

/* A crash after each step of the background order: the state as of the crash comes back,
 * the records appended after the begin included. */
static void
crash_during_bg_compaction(int step, bool from_snapshot)
{
	static const char *const files[2][3][4] = {
	    {{"lock", "journal.0"},
	     {"lock", "journal.0", "journal.1"},
	     {"lock", "snapshot.1", "journal.1"}},
	    {{"lock", "snapshot.1", "journal.1"},
	     {"lock", "snapshot.1", "journal.1", "journal.2"},
	     {"lock", "snapshot.2", "journal.2"}},
	};
	static const size_t nfiles[2][3] = {{2, 3, 3}, {3, 4, 3}};
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	uint64_t g = from_snapshot ? 1 : 0;
	/* 0: generation g alone; 1: the chain g, n; 2: generation n */
	int shape = step == 1 ? 0 : step <= 5 ? 1 : 2;

	kv_ops(j, &model, 80, 300, 7);
	if (from_snapshot)
		ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	kv_ops(j, &model, 81, 100, 9);
	ck_assert_int_eq(journal_commit(j), 0);
	kv_ops(j, &model, 82, 5, 0); /* still pending when the compaction begins */

	journal_test_fail_compaction_after(j, step);
	ck_assert_int_eq(bg_compact(j, &model, 83, 60, 0), -EIO);
	/* "Dead": the handle accepts nothing more. */
	ck_assert_int_eq(journal_append(j, "x", 1), -EIO);
	journal_close(j);

	j = kv_open(&state, &st);
	ck_assert_msg(kv_equal(&state, &model), "state differs after crash at step %d", step);
	ck_assert_uint_eq(st.generation, g + (shape ? 1 : 0));
	ck_assert_uint_eq(st.dropped_bytes, 0);
	assert_files(files[from_snapshot][shape], nfiles[from_snapshot][shape]);

	/* Work goes on after recovery, including another compaction of each order. */
	kv_ops(j, &model, 84, 50, 5);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_int_eq(bg_compact(j, &model, 85, 20, 0), 0);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	kv_ops(j, &model, 86, 20, 4);
	journal_close(j);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, g + (shape ? 3 : 2));
	journal_close(j);
}

START_TEST(test_bg_compaction_crash_gen0)
{
	crash_during_bg_compaction(_i, false);
}
END_TEST

START_TEST(test_bg_compaction_crash_gen1)
{
	crash_during_bg_compaction(_i, true);
}
END_TEST

/* A chain snapshot.1, journal.1, journal.2 (a compaction begun, its child never done). */
static void
make_chain(struct kv *model)
{
	struct kv state;
	struct journal_compaction *c;
	struct journal *j = kv_open(&state, NULL);

	kv_ops(j, model, 90, 200, 10);
	ck_assert_int_eq(journal_compact(j, kv_write_state, model), 0);
	kv_ops(j, model, 91, 100, 10);
	ck_assert_int_eq(journal_compact_begin(j, &c), 0);
	kv_ops(j, model, 92, 100, 10);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);
}

/* journal.2 was begun after journal.1's last commit had finished: a torn end of journal.1
 * cannot come from a crash, and taking it as one would drop records acknowledged before
 * journal.2's. */
START_TEST(test_bg_chain_torn_journal_refused)
{
	struct kv model = {0};

	make_chain(&model);
	write_bytes("journal.1", "ab", "torn", 4);
	assert_refused("journal.1: ", "and journal.2 follows it: the journal is damaged, not torn");
}
END_TEST

START_TEST(test_bg_chain_damaged_journal_refused)
{
	struct kv model = {0};

	make_chain(&model);
	flip_byte("journal.1", file_size("journal.1") / 2);
	assert_refused("journal.1", "damaged, not torn");
}
END_TEST

/* A journal of the chain missing: what it held lives nowhere else. */
START_TEST(test_bg_chain_gap_refused)
{
	struct kv model = {0};
	struct journal *j;
	struct kv state;

	make_chain(&model);
	j = kv_open(&state, NULL);
	ck_assert_int_eq(bg_compact(j, &model, 93, 10, -EIO), -EIO); /* journal.3 */
	journal_close(j);
	unlink_in_state("journal.2");
	assert_refused("journal.3 holds changes to snapshot.3, which is missing, or to journal.2, "
	               "which is missing too",
	               NULL);
}
END_TEST

/* A snapshot inside the chain that cannot be used appeared complete by rename: damage. */
START_TEST(test_bg_chain_bad_snapshot_refused)
{
	struct kv model = {0};

	make_chain(&model);
	write_bytes("snapshot.2", "wb", "PASIDDS1", 8);
	assert_refused("journal.2 holds changes to snapshot.2, which cannot be used", NULL);
}
END_TEST

/* Closing the handle with a compaction begun (shutdown, its child killed) leaves no .tmp. */
START_TEST(test_bg_abandon)
{
	static const char *const chain[] = {"lock", "journal.0", "journal.1"};
	struct kv model = {0}, state;
	struct journal_compaction *c;
	struct journal *j = kv_open(&state, NULL);

	kv_ops(j, &model, 95, 100, 10);
	ck_assert_int_eq(journal_compact_begin(j, &c), 0);
	kv_ops(j, &model, 96, 10, 0);
	journal_compact_abandon(j);
	ck_assert(!file_exists("snapshot.1.tmp"));
	ck_assert_int_eq(journal_compact_begin(j, &c), 0); /* another may begin */
	ck_assert(file_exists("snapshot.2.tmp"));
	journal_close(j);
	ck_assert(!file_exists("snapshot.2.tmp"));
	j = kv_open(&state, NULL);
	ck_assert(kv_equal(&state, &model));
	journal_close(j);
	(void)chain;
}
END_TEST

START_TEST(test_stale_files_removed)
{
	static const char *const left[] = {"lock", "journal.0", "notes", "snapshot.01"};
	struct kv state;
	struct journal_stats st;
	struct journal *j;

	ck_assert_int_eq(mkdir(state_dir, 0700), 0);
	write_bytes("snapshot.1.tmp", "wb", "half a snapshot", 15);
	write_bytes("journal.3.tmp", "wb", "junk", 4);
	write_bytes("notes", "wb", "not ours", 8);
	write_bytes("snapshot.01", "wb", "not canonical, not ours", 23);
	j = kv_open(&state, &st);
	ck_assert_uint_eq(st.generation, 0);
	journal_close(j);
	assert_files(left, 4);
}
END_TEST

/* Shapes that no crash can produce must stop the daemon, not be guessed at. */
START_TEST(test_refuses_bad_journal_header)
{
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	struct journal *j;

	ten_records(&want, ends);
	flip_byte("journal.0", 2);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_replay(j, kv_cb, NULL), -EUCLEAN);
	ck_assert_str_eq(journal_error(j), "journal.0 does not start with PASIDDJ1");
	ck_assert_int_eq(journal_append(j, "x", 1), -EIO);
	journal_close(j);
	ck_assert_int_eq(file_size("journal.0"), (off_t)ends[9]); /* untouched */
	recs_free(&want);
}
END_TEST

START_TEST(test_refuses_orphan_journal)
{
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	struct journal *j;
	char from[160], to[160];

	ten_records(&want, ends);
	path_of(from, sizeof(from), "journal.0");
	path_of(to, sizeof(to), "journal.5");
	ck_assert_int_eq(rename(from, to), 0);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_replay(j, kv_cb, NULL), -EUCLEAN);
	ck_assert_str_eq(journal_error(j),
	                 "journal.5 holds changes to snapshot.5, which is missing, or to "
	                 "journal.4, which is missing too");
	journal_close(j);
	ck_assert(file_exists("journal.5"));
	recs_free(&want);
}
END_TEST

START_TEST(test_damaged_snapshot_with_newer_journal_refused)
{
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);

	kv_ops(j, &model, 30, 100, 10);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	kv_ops(j, &model, 31, 10, 1);
	journal_close(j);
	flip_byte("snapshot.1", file_size("snapshot.1") / 2);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	memset(&state, 0, sizeof(state));
	ck_assert_int_eq(journal_replay(j, kv_cb, &state), -EUCLEAN);
	ck_assert_msg(strstr(journal_error(j), "journal.1 holds changes to snapshot.1, which "
	                                       "cannot be used (snapshot.1: record at offset "),
	              "%s", journal_error(j));
	journal_close(j);
	ck_assert(file_exists("snapshot.1"));
	ck_assert(file_exists("journal.1"));
}
END_TEST

/* The only copy of the state is a damaged snapshot: starting empty would hand out every
 * PASID again. */
START_TEST(test_damaged_snapshot_only_copy_refused)
{
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	char p[160];

	kv_ops(j, &model, 35, 100, 10);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	journal_close(j);
	flip_byte("snapshot.1", file_size("snapshot.1") - 3); /* inside the trailer */
	path_of(p, sizeof(p), "journal.1");
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	memset(&state, 0, sizeof(state));
	ck_assert_int_eq(journal_replay(j, kv_cb, &state), -EUCLEAN);
	ck_assert_msg(strstr(journal_error(j), "snapshot.1 cannot be used (snapshot.1: its "
	                                       "trailer at offset "),
	              "%s", journal_error(j));
	ck_assert_msg(strstr(journal_error(j), "without journal.0"), "%s", journal_error(j));
	journal_close(j);
	ck_assert(file_exists("snapshot.1"));
	ck_assert(!file_exists("journal.0"));
}
END_TEST

START_TEST(test_damaged_snapshot_falls_back)
{
	static const char *const gen0[] = {"lock", "journal.0"};
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	uint8_t *snap;
	size_t len;

	kv_ops(j, &model, 40, 100, 10);
	/* Stop after the snapshot is in place but before journal.1 exists ... */
	journal_test_fail_compaction_after(j, 4);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), -EIO);
	journal_close(j);
	/* ... and damage it: journal.0 still has everything, so that is used. */
	snap = read_whole("snapshot.1", &len);
	if (_i == 0) {
		write_bytes("snapshot.1", "wb", snap, len - 1); /* trailer cut short */
	} else {
		/* Drop the first record: every frame and the trailer are intact, only the
		 * trailer's record count tells that something is missing. */
		size_t first = 8 + ((size_t)snap[24] | (size_t)snap[25] << 8);

		ck_assert_uint_lt(24 + first, len);
		memmove(snap + 24, snap + 24 + first, len - 24 - first);
		write_bytes("snapshot.1", "wb", snap, len - first);
	}
	free(snap);
	j = kv_open(&state, &st);
	ck_assert(kv_equal(&state, &model));
	ck_assert_uint_eq(st.generation, 0);
	journal_close(j);
	assert_files(gen0, 2);
}
END_TEST

/* ---- read-only replay (pasidd -n) ---- */

START_TEST(test_readonly_replay)
{
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal *locked, *r;
	struct journal_stats st;
	struct ck_dir before;
	uint64_t ends[10];

	ck_assert_int_eq(journal_open_readonly(state_dir, &r), -ENOENT);
	ten_records(&want, ends);
	write_bytes("journal.0", "ab", "torn", 4);
	write_bytes("journal.7.tmp", "wb", "junk", 4);
	/* A daemon holds the lock: a read-only replay does not need it. */
	ck_assert_int_eq(journal_open(state_dir, &locked), 0);
	dir_image_take(&before);
	ck_assert_int_eq(journal_open_readonly(state_dir, &r), 0);
	ck_assert_int_eq(journal_replay(r, collect_cb, &got), 0);
	assert_recs_eq(&got, &want, 10);
	journal_get_stats(r, &st);
	ck_assert_uint_eq(st.dropped_bytes, 4);
	ck_assert_int_eq(journal_append(r, "x", 1), -EROFS);
	ck_assert_int_eq(journal_commit(r), -EROFS);
	ck_assert_int_eq(journal_compact(r, kv_write_state, NULL), -EROFS);
	ck_assert(!journal_should_compact(r));
	journal_close(r);
	assert_unchanged(&before); /* the torn tail and the stale file are still there */

	/* Damage is refused the same way, with the same message. */
	flip_byte("journal.0", (off_t)ends[2] + 9);
	dir_image_take(&before);
	ck_assert_int_eq(journal_open_readonly(state_dir, &r), 0);
	recs_free(&got);
	ck_assert_int_eq(journal_replay(r, collect_cb, &got), -EUCLEAN);
	ck_assert_msg(strstr(journal_error(r), "journal.0: record at offset "), "%s",
	              journal_error(r));
	journal_close(r);
	assert_unchanged(&before);
	journal_close(locked);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

/* A complete snapshot without its journal (a crash between compaction steps 3 and 6):
 * replayed, and the missing journal is not created. */
START_TEST(test_readonly_creates_nothing)
{
	struct kv model = {0}, state;
	struct journal_stats st;
	struct ck_dir before;
	struct journal *j = kv_open(&state, &st);
	char p[160];

	kv_ops(j, &model, 50, 40, 4);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	journal_close(j);
	path_of(p, sizeof(p), "journal.1");
	ck_assert_int_eq(unlink(p), 0);
	dir_image_take(&before);
	memset(&state, 0, sizeof(state));
	ck_assert_int_eq(journal_open_readonly(state_dir, &j), 0);
	ck_assert_int_eq(journal_replay(j, kv_cb, &state), 0);
	ck_assert(kv_equal(&state, &model));
	journal_close(j);
	assert_unchanged(&before);
}
END_TEST

/* ---- salvage ---- */

struct salvaged {
	struct recs keep, lost;
	uint64_t lost_off[64];
	char lost_file[64][48];
	size_t refuse_at; /* keep refuses this record (SIZE_MAX: none) */
	unsigned kept_aside;
	char aside[4][96];
};

static int
salvage_keep(void *ctx, const void *rec, size_t len)
{
	struct salvaged *s = ctx;

	if (s->keep.n == s->refuse_at)
		return -EUCLEAN;
	recs_push(&s->keep, rec, len);
	return 0;
}

static void
salvage_lost(void *ctx, const char *file, uint64_t off, const void *rec, size_t len)
{
	struct salvaged *s = ctx;

	ck_assert_uint_lt(s->lost.n, 64);
	s->lost_off[s->lost.n] = off;
	snprintf(s->lost_file[s->lost.n], sizeof(s->lost_file[0]), "%s", file);
	recs_push(&s->lost, rec, len);
}

/* The new generation holds the kept records. */
static int
salvage_write(void *ctx, struct journal_snapshot *w)
{
	struct salvaged *s = ctx;

	for (size_t i = 0; i < s->keep.n; i++) {
		int rc = journal_snapshot_add(w, s->keep.v[i].p, s->keep.v[i].len);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static void
salvage_kept(void *ctx, const char *file, const char *aside)
{
	struct salvaged *s = ctx;

	ck_assert_uint_lt(s->kept_aside, 4);
	ck_assert(strncmp(aside, file, strlen(file)) == 0);
	snprintf(s->aside[s->kept_aside++], sizeof(s->aside[0]), "%s", aside);
}

static void
salvaged_free(struct salvaged *s)
{
	recs_free(&s->keep);
	recs_free(&s->lost);
}

START_TEST(test_salvage_journal)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = _i ? 6 : SIZE_MAX};
	struct recs want = {.fail_at = SIZE_MAX}, got = {.fail_at = SIZE_MAX};
	struct journal_salvage_info info;
	struct journal_stats st;
	struct ck_dir before;
	uint64_t ends[10];
	struct journal *j;
	uint8_t *damaged, *aside;
	size_t dlen, alen;
	char needle[128];
	size_t first_lost = _i ? 6 : 5;

	ten_records(&want, ends);
	flip_byte("journal.0", (off_t)ends[3] + 12); /* inside record 4 */
	if (_i) {
		/* Record 4 intact again, but record 6 is refused by the caller instead. */
		flip_byte("journal.0", (off_t)ends[3] + 12);
	}
	damaged = read_whole("journal.0", &dlen);
	dir_image_take(&before);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info), 0);
	ck_assert(info.damaged);
	snprintf(needle, sizeof(needle), "journal.0: record at offset %llu %s",
	         (unsigned long long)ends[_i ? 5 : 3],
	         _i ? "does not apply" : "fails its checksum");
	ck_assert_msg(strstr(info.damage, needle), "%s", info.damage);
	/* The prefix, and every readable record after the damage with its offset. */
	assert_recs_eq(&s.keep, &want, _i ? 6 : 4);
	ck_assert_uint_eq(info.prefix_records, s.keep.n);
	ck_assert_uint_eq(s.lost.n, 10 - first_lost);
	ck_assert_uint_eq(info.lost_records, s.lost.n);
	for (size_t k = 0; k < s.lost.n; k++) {
		size_t rec = first_lost + k;

		ck_assert_uint_eq(s.lost.v[k].len, want.v[rec].len);
		ck_assert_mem_eq(s.lost.v[k].p, want.v[rec].p, s.lost.v[k].len);
		ck_assert_uint_eq(s.lost_off[k], ends[rec - 1]);
		ck_assert_str_eq(s.lost_file[k], "journal.0");
	}
	ck_assert_uint_eq(info.unreadable_bytes, _i ? 0 : ends[4] - ends[3]);
	/* Nothing written yet, and nothing but the commit may follow. */
	ck_assert_int_eq(journal_append(j, "x", 1), -EINVAL);
	assert_unchanged(&before);
	ck_assert_int_eq(journal_salvage_commit(j, salvage_write, &s, salvage_kept), 0);
	/* A usable journal of the new generation from here on. */
	append_record(j, NULL, 5, 4242);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	ck_assert_uint_eq(s.kept_aside, 1);
	{
		const char *want_files[] = {"lock", "snapshot.1", "journal.1", s.aside[0]};

		assert_files(want_files, 4);
	}
	aside = read_whole(s.aside[0], &alen);
	ck_assert_uint_eq(alen, dlen);
	ck_assert_mem_eq(aside, damaged, dlen);
	j = open_replay(&got, &st);
	ck_assert_uint_eq(st.generation, 1);
	assert_prefix(&got, &want, _i ? 6 : 4);
	ck_assert_uint_eq(got.n, (_i ? 6 : 4) + 1);
	journal_close(j);
	free(aside);
	free(damaged);
	salvaged_free(&s);
	recs_free(&want);
	recs_free(&got);
}
END_TEST

/* A damaged snapshot: its records up to the damage are the prefix; the rest of it and the
 * whole journal are read for what they tell. */
START_TEST(test_salvage_snapshot)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	struct journal_salvage_info info;
	struct kv model = {0}, state;
	struct journal_stats st;
	struct journal *j = kv_open(&state, &st);
	unsigned in_journal;

	kv_ops(j, &model, 60, 200, 10);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	kv_ops(j, &model, 61, 7, 1);
	journal_close(j);
	flip_byte("snapshot.1", file_size("snapshot.1") / 2);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info), 0);
	ck_assert(info.damaged);
	ck_assert_msg(strstr(info.damage, "snapshot.1: record at offset "), "%s", info.damage);
	ck_assert_uint_gt(s.keep.n, 0);
	in_journal = 0;
	for (size_t k = 0; k < s.lost.n; k++)
		in_journal += !strcmp(s.lost_file[k], "journal.1");
	ck_assert_uint_eq(in_journal, 7);
	ck_assert_int_eq(journal_salvage_commit(j, salvage_write, &s, salvage_kept), 0);
	journal_close(j);
	ck_assert_uint_eq(s.kept_aside, 2);
	j = kv_open(&state, &st);
	ck_assert_uint_eq(st.generation, 2);
	journal_close(j);
	salvaged_free(&s);
}
END_TEST

/* Salvage follows the chain a background compaction left (snapshot.1, journal.1, journal.2)
 * as replay does: the prefix is snapshot.1, journal.1, then journal.2 up to the damage.
 * _i == 0: journal.1 ends torn with journal.2 behind it, which is damage there (every record
 * of journal.2 is lost, none of journal.1); _i == 1: journal.2, the last, is damaged in the
 * middle (all of journal.1 is kept). Salvage once took the chain's top generation for the
 * whole state and lost everything. */
START_TEST(test_salvage_chain)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	struct kv model = {0}, before_top, kept = {0}, state;
	struct journal_salvage_info info;
	struct journal_compaction *c;
	struct journal *j = kv_open(&state, NULL);
	size_t top_records = 40, chain_records = 100;

	kv_ops(j, &model, 70, 200, 10);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	for (unsigned k = 0; k < NKEYS; k++)
		chain_records += model.set[k]; /* snapshot.1's records, then journal.1's 100 */
	kv_ops(j, &model, 71, 100, 10);
	ck_assert_int_eq(journal_compact_begin(j, &c), 0);
	before_top = model;
	kv_ops(j, &model, 72, top_records, 10);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);
	if (_i == 0)
		write_bytes("journal.1", "ab", "torn", 4);
	else
		flip_byte("journal.2", file_size("journal.2") / 2);

	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info), 0);
	ck_assert(info.damaged);
	for (size_t k = 0; k < s.keep.n; k++)
		ck_assert_int_eq(kv_apply(&kept, s.keep.v[k].p, s.keep.v[k].len), 0);
	if (_i == 0) {
		ck_assert_msg(strstr(info.damage, "journal.1: ends at offset") &&
		                  strstr(info.damage, "newer journal behind it"),
		              "%s", info.damage);
		ck_assert(kv_equal(&kept, &before_top));
		ck_assert_uint_eq(s.keep.n, chain_records);
		ck_assert_uint_eq(s.lost.n, top_records);
		for (size_t k = 0; k < s.lost.n; k++)
			ck_assert_str_eq(s.lost_file[k], "journal.2");
	} else {
		ck_assert_msg(strstr(info.damage, "journal.2"), "%s", info.damage);
		/* Everything of snapshot.1 and journal.1 and the start of journal.2; of the
		 * rest of it, what can be read is lost (the damaged record is not). */
		ck_assert_uint_gt(s.keep.n, chain_records);
		ck_assert_uint_eq(info.prefix_records, s.keep.n);
		ck_assert_uint_gt(s.lost.n, 0);
		ck_assert_uint_eq(s.keep.n + s.lost.n + 1, chain_records + top_records);
		for (size_t k = 0; k < s.lost.n; k++)
			ck_assert_str_eq(s.lost_file[k], "journal.2");
	}
	ck_assert_int_eq(journal_salvage_commit(j, salvage_write, &s, salvage_kept), 0);
	journal_close(j);
	j = kv_open(&state, NULL);
	ck_assert(kv_equal(&state, &kept));
	journal_close(j);
	salvaged_free(&s);
}
END_TEST

/* What replay accepts is not salvaged. */
START_TEST(test_salvage_nothing)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	struct recs want = {.fail_at = SIZE_MAX};
	struct journal_salvage_info info;
	struct ck_dir before;
	uint64_t ends[10];
	struct journal *j;

	ten_records(&want, ends);
	write_bytes("journal.0", "ab", "torn", 4);
	dir_image_take(&before);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info), 0);
	ck_assert(!info.damaged);
	ck_assert_uint_eq(info.torn_bytes, 4);
	assert_recs_eq(&s.keep, &want, 10);
	ck_assert_int_eq(journal_salvage_commit(j, salvage_write, &s, salvage_kept), -EINVAL);
	journal_close(j);
	assert_unchanged(&before);
	salvaged_free(&s);
	recs_free(&want);
}
END_TEST

/* ---- format versions ---- */

/* A state in record format version v: with snapshot, a snapshot.1 and a journal.1 with
 * records after it; without, a journal.0. */
static void
write_in_format(uint32_t v, bool snapshot, struct kv *model)
{
	struct kv state = {0};
	struct journal *j;

	memset(model, 0, sizeof(*model));
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, v), 0);
	ck_assert_int_eq(journal_replay(j, kv_cb, &state), 0);
	kv_ops(j, model, 70, 50, 5);
	if (snapshot)
		ck_assert_int_eq(journal_compact(j, kv_write_state, model), 0);
	kv_ops(j, model, 71, 9, 3);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);
}

static uint32_t
format_of(const char *name)
{
	size_t len;
	uint8_t *b = read_whole(name, &len);
	uint32_t v;

	ck_assert_uint_ge(len, 24);
	v = (uint32_t)b[16] | (uint32_t)b[17] << 8 | (uint32_t)b[18] << 16 | (uint32_t)b[19] << 24;
	free(b);
	return v;
}

/* Replays the directory as a reader of record format version v into state. */
static int
replay_in_format(uint32_t v, bool readonly, struct kv *state, char *err, size_t n)
{
	struct journal *j;
	int rc;

	memset(state, 0, sizeof(*state));
	ck_assert_int_eq(
	    readonly ? journal_open_readonly(state_dir, &j) : journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, v), 0);
	rc = journal_replay(j, kv_cb, state);
	snprintf(err, n, "%s", journal_error(j));
	if (rc < 0) /* a refused replay leaves the handle good for nothing */
		ck_assert_int_eq(journal_append(j, "x", 1), -EIO);
	journal_close(j);
	return rc;
}

/* Every file written carries the version it was given, and replays in it. */
START_TEST(test_format_version_kept)
{
	struct kv model, state;
	struct journal *j;
	char err[JOURNAL_ERR_MAX];

	write_in_format(7, true, &model);
	ck_assert_uint_eq(format_of("snapshot.1"), 7);
	ck_assert_uint_eq(format_of("journal.1"), 7);
	ck_assert_int_eq(replay_in_format(7, false, &state, err, sizeof(err)), 0);
	ck_assert(kv_equal(&state, &model));
	/* A missing journal is created in the version too (a crash between compaction steps 3
	 * and 6). */
	ck_assert_int_eq(unlink_in_state("journal.1"), 0);
	ck_assert_int_eq(replay_in_format(7, false, &state, err, sizeof(err)), 0);
	ck_assert_uint_eq(format_of("journal.1"), 7);

	/* Only before replay. */
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, 7), 0);
	ck_assert_int_eq(journal_replay(j, kv_cb, &state), 0);
	ck_assert_int_eq(journal_set_format(j, 7), -EINVAL);
	journal_close(j);
	ck_assert_int_eq(journal_set_format(NULL, 0), -EINVAL);
}
END_TEST

/* Without journal_set_format(): version 0, what every file written before versions were
 * numbered holds. */
START_TEST(test_format_version_default)
{
	struct kv model, state;
	struct journal *j;

	write_in_format(0, true, &model);
	ck_assert_uint_eq(format_of("snapshot.1"), 0);
	j = kv_open(&state, NULL);
	ck_assert(kv_equal(&state, &model));
	journal_close(j);
}
END_TEST

/* Replay, a read-only replay and salvage refuse a file of another version with
 * -EPROTONOSUPPORT, naming it and both versions, and change nothing; the version that wrote
 * it still reads it. _i: 0 a later version, 1 an earlier one, 2 a later one in journal.0. */
START_TEST(test_other_format_version_refused)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	uint32_t written = _i == 1 ? 1 : 3;
	struct journal_salvage_info info;
	struct ck_dir before;
	struct kv model, state;
	char says[160], err[JOURNAL_ERR_MAX];
	struct journal *j;

	write_in_format(written, _i != 2, &model);
	snprintf(says, sizeof(says),
	         "%s holds records of format version %u, and this pasidd reads version 2 only",
	         _i == 2 ? "journal.0" : "snapshot.1", written);
	dir_image_take(&before);
	for (int ro = 0; ro < 2; ro++) {
		ck_assert_int_eq(replay_in_format(2, ro, &state, err, sizeof(err)),
		                 -EPROTONOSUPPORT);
		ck_assert_str_eq(err, says);
	}
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, 2), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info),
	                 -EPROTONOSUPPORT);
	ck_assert_str_eq(journal_error(j), says);
	ck_assert_int_eq(journal_salvage_commit(j, salvage_write, &s, salvage_kept), -EINVAL);
	journal_close(j);
	assert_unchanged(&before);
	ck_assert_int_eq(replay_in_format(written, false, &state, err, sizeof(err)), 0);
	ck_assert(kv_equal(&state, &model));
	salvaged_free(&s);
}
END_TEST

/* A reader of version 1 that also reads version 0: each record's file version, as the
 * callback sees it through journal_file_format(). */
struct upgrade_reader {
	struct journal *j;
	struct kv state;
	unsigned in[2]; /* records delivered from files of version 0 and 1 */
};

static int
upgrade_cb(void *ctx, const void *rec, size_t len)
{
	struct upgrade_reader *u = ctx;
	uint32_t v = journal_file_format(u->j);

	ck_assert_uint_le(v, 1);
	u->in[v]++;
	return kv_apply(&u->state, rec, len);
}

static struct journal *
open_upgrading(struct upgrade_reader *u, bool readonly)
{
	memset(u, 0, sizeof(*u));
	ck_assert_int_eq(
	    readonly ? journal_open_readonly(state_dir, &u->j) : journal_open(state_dir, &u->j), 0);
	ck_assert_int_eq(journal_set_format(u->j, 1), 0);
	ck_assert_int_eq(journal_read_formats(u->j, 0), 0);
	return u->j;
}

static void
assert_all_in_format(uint32_t v)
{
	DIR *d = opendir(state_dir);
	struct dirent *de;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "snapshot.", 9) && strncmp(de->d_name, "journal.", 8))
			continue;
		ck_assert_uint_eq(format_of(de->d_name), v);
		n++;
	}
	closedir(d);
	ck_assert_uint_ge(n, 1);
}

/* A directory of version 0 (_i: with a snapshot or without) read by version 1: each file in
 * its version; nothing appended until compaction has written the state in version 1; then
 * every file is of version 1 and replays to the same state, also for a reader of version 1
 * alone. A read-only reader reads it and changes nothing. */
START_TEST(test_format_upgrade)
{
	struct upgrade_reader u;
	struct kv model, state;
	struct ck_dir before;
	char err[JOURNAL_ERR_MAX];
	struct journal *j;

	write_in_format(0, _i, &model);
	dir_image_take(&before);
	j = open_upgrading(&u, true);
	ck_assert_int_eq(journal_replay(j, upgrade_cb, &u), 0);
	ck_assert(kv_equal(&u.state, &model));
	ck_assert_uint_eq(u.in[1], 0);
	ck_assert_uint_gt(u.in[0], 0);
	ck_assert_int_eq(journal_append(j, "x", 1), -EROFS);
	journal_close(j);
	assert_unchanged(&before);

	j = open_upgrading(&u, false);
	ck_assert_int_eq(journal_replay(j, upgrade_cb, &u), 0);
	ck_assert(kv_equal(&u.state, &model));
	ck_assert_uint_eq(u.in[1], 0);
	ck_assert_uint_eq(journal_file_format(j), 0);
	/* Records of version 1 never go into a file of version 0. */
	ck_assert_int_eq(journal_append(j, "\x01v1", 3), -EPROTO);
	ck_assert_uint_eq(journal_pending(j), 0);
	assert_all_in_format(0);
	ck_assert_int_eq(journal_compact(j, kv_write_state, &model), 0);
	ck_assert_uint_eq(journal_file_format(j), 1);
	assert_all_in_format(1);
	ck_assert_int_eq(journal_append(j, "\x01v1", 3), 0);
	ck_assert_int_eq(kv_apply(&model, (const uint8_t *)"\x01v1", 3), 0);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);
	assert_all_in_format(1);

	ck_assert_int_eq(replay_in_format(1, false, &state, err, sizeof(err)), 0);
	ck_assert(kv_equal(&state, &model));
	j = open_upgrading(&u, false);
	ck_assert_int_eq(journal_replay(j, upgrade_cb, &u), 0);
	ck_assert_uint_eq(u.in[0], 0);
	ck_assert_uint_gt(u.in[1], 0);
	ck_assert(kv_equal(&u.state, &model));
	journal_close(j);
}
END_TEST

/* A generation of version 0 whose journal a crash took away is given one of version 0,
 * the snapshot's, so that the generation stays of one version until compacted. */
START_TEST(test_format_upgrade_missing_journal)
{
	struct upgrade_reader u;
	struct kv model;
	struct journal *j;

	write_in_format(0, true, &model);
	ck_assert_int_eq(unlink_in_state("journal.1"), 0);
	j = open_upgrading(&u, false);
	ck_assert_int_eq(journal_replay(j, upgrade_cb, &u), 0);
	ck_assert_uint_eq(format_of("journal.1"), 0);
	ck_assert_uint_eq(journal_file_format(j), 0);
	ck_assert_int_eq(journal_append(j, "\x01v1", 3), -EPROTO);
	journal_close(j);
}
END_TEST

/* The files of one generation in two versions are not what an upgrade leaves: damage. */
START_TEST(test_format_mixed_generation_refused)
{
	static const char says[] = "journal.1 holds records of format version 1 and snapshot.1 of "
	                           "version 0: the files of one generation are written in one";
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	struct journal_salvage_info info;
	struct upgrade_reader u;
	struct ck_dir before;
	struct kv model;
	struct journal *j;
	uint8_t *b;
	size_t len;
	uint32_t crc;

	write_in_format(0, true, &model);
	b = read_whole("journal.1", &len);
	b[16] = 1;
	crc = crc32c(b, 20);
	for (int i = 0; i < 4; i++)
		b[20 + i] = (uint8_t)(crc >> (8 * i));
	write_bytes("journal.1", "wb", b, len);
	free(b);
	dir_image_take(&before);
	j = open_upgrading(&u, false);
	ck_assert_int_eq(journal_replay(j, upgrade_cb, &u), -EUCLEAN);
	ck_assert_str_eq(journal_error(j), says);
	journal_close(j);
	assert_unchanged(&before);

	/* Salvage agrees: damage at the journal, whose records are read as lost. */
	dir_image_take(&before);
	j = open_upgrading(&u, false);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info), 0);
	ck_assert(info.damaged);
	ck_assert_str_eq(info.damage, says);
	ck_assert_uint_eq(info.lost_records, 9); /* write_in_format()'s after the snapshot */
	ck_assert_uint_eq(s.lost.n, 9);
	for (size_t i = 0; i < s.lost.n; i++)
		ck_assert_str_eq(s.lost_file[i], "journal.1");
	ck_assert_uint_gt(info.prefix_records, 0);
	journal_close(j);
	assert_unchanged(&before);
	salvaged_free(&s);
}
END_TEST

/* A version above the range, or below it, is refused with both ends of the range named,
 * by replay, read-only replay and salvage, and nothing changes. */
START_TEST(test_format_range_refuses_others)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	uint32_t written = _i ? 0 : 3;
	struct journal_salvage_info info;
	struct upgrade_reader u;
	struct ck_dir before;
	struct kv model;
	char says[160];
	struct journal *j;

	write_in_format(written, true, &model);
	snprintf(says, sizeof(says),
	         "snapshot.1 holds records of format version %u, and this pasidd reads versions "
	         "1 to 2 only",
	         written);
	dir_image_take(&before);
	for (int ro = 0; ro < 2; ro++) {
		memset(&u, 0, sizeof(u));
		ck_assert_int_eq(
		    ro ? journal_open_readonly(state_dir, &j) : journal_open(state_dir, &j), 0);
		u.j = j;
		ck_assert_int_eq(journal_set_format(j, 2), 0);
		ck_assert_int_eq(journal_read_formats(j, 1), 0);
		ck_assert_int_eq(journal_replay(j, kv_cb, &u.state), -EPROTONOSUPPORT);
		ck_assert_str_eq(journal_error(j), says);
		journal_close(j);
	}
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, 2), 0);
	ck_assert_int_eq(journal_read_formats(j, 1), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info),
	                 -EPROTONOSUPPORT);
	ck_assert_str_eq(journal_error(j), says);
	journal_close(j);
	assert_unchanged(&before);
	salvaged_free(&s);

	/* Only a range that ends at the version set, and only before replay. */
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, 2), 0);
	ck_assert_int_eq(journal_read_formats(j, 3), -EINVAL);
	ck_assert_int_eq(journal_set_format(j, written), 0);
	ck_assert_int_eq(journal_replay(j, kv_cb, &u.state), 0);
	ck_assert_int_eq(journal_read_formats(j, 0), -EINVAL);
	journal_close(j);
	ck_assert_int_eq(journal_read_formats(NULL, 0), -EINVAL);
}
END_TEST

/* Salvage reads a damaged directory of version 0 in its version and writes the salvaged
 * generation in version 1; keep sees the version of the file. */
START_TEST(test_format_salvage_upgrades)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	struct journal_salvage_info info;
	struct recs want = {.fail_at = SIZE_MAX};
	uint64_t ends[10];
	struct journal *j;
	uint8_t *b;
	size_t len;

	ten_records(&want, ends);
	b = read_whole("journal.0", &len);
	b[ends[3] + 9] ^= 1; /* the payload of the fifth record: valid ones follow */
	write_bytes("journal.0", "wb", b, len);
	free(b);
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, 1), 0);
	ck_assert_int_eq(journal_read_formats(j, 0), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info), 0);
	ck_assert(info.damaged);
	ck_assert_uint_eq(journal_file_format(j), 0);
	ck_assert_uint_eq(s.keep.n, 4);
	ck_assert_int_eq(journal_salvage_commit(j, salvage_write, &s, salvage_kept), 0);
	ck_assert_uint_eq(journal_file_format(j), 1);
	ck_assert_int_eq(journal_append(j, "\x01v1", 3), 0);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);
	ck_assert_uint_eq(format_of("snapshot.1"), 1);
	ck_assert_uint_eq(format_of("journal.1"), 1);
	ck_assert_uint_eq(format_of(s.aside[0]), 0);
	salvaged_free(&s);
	recs_free(&want);
}
END_TEST

/* The last character of the magic is the file format's version: another one in a whole
 * header is another format, refused as such; in a header that fails its checksum it is
 * damage, which --salvage may take. */
START_TEST(test_other_file_format_refused)
{
	struct salvaged s = {
	    .keep.fail_at = SIZE_MAX, .lost.fail_at = SIZE_MAX, .refuse_at = SIZE_MAX};
	struct recs want = {.fail_at = SIZE_MAX};
	struct journal_salvage_info info;
	struct ck_dir before;
	char err[JOURNAL_ERR_MAX];
	uint64_t ends[10];
	struct kv state;
	struct journal *j;
	uint8_t *b;
	size_t len;
	uint32_t crc;

	ten_records(&want, ends);
	b = read_whole("journal.0", &len);
	b[7] = '2';
	crc = crc32c(b, 20);
	for (int i = 0; i < 4; i++)
		b[20 + i] = (uint8_t)(crc >> (8 * i));
	write_bytes("journal.0", "wb", b, len);
	dir_image_take(&before);
	ck_assert_int_eq(replay_in_format(0, false, &state, err, sizeof(err)), -EPROTONOSUPPORT);
	ck_assert_str_eq(err, "journal.0 is in file format PASIDDJ2, and this pasidd reads "
	                      "PASIDDJ1 only");
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info),
	                 -EPROTONOSUPPORT);
	journal_close(j);
	assert_unchanged(&before);

	b[20] ^= 1; /* the same magic, and a header that fails its checksum */
	write_bytes("journal.0", "wb", b, len);
	ck_assert_int_eq(replay_in_format(0, false, &state, err, sizeof(err)), -EUCLEAN);
	ck_assert_str_eq(err, "journal.0 does not start with PASIDDJ1");
	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_salvage(j, salvage_keep, salvage_lost, &s, &info), 0);
	ck_assert(info.damaged);
	journal_close(j);
	free(b);
	salvaged_free(&s);
	recs_free(&want);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *basic = tcase_create("basic");
	TCase *damage = tcase_create("damage");
	TCase *compact = tcase_create("compaction");

	tcase_add_checked_fixture(basic, setup, teardown);
	tcase_add_checked_fixture(damage, setup, teardown);
	tcase_add_checked_fixture(compact, setup, teardown);
	/* Generous: the suites also run under valgrind. */
	tcase_set_timeout(basic, 120);
	tcase_set_timeout(damage, 120);
	tcase_set_timeout(compact, 120);

	tcase_add_test(basic, test_crc32c_vectors);
	tcase_add_test(basic, test_crc32c_impls);
	tcase_add_test(basic, test_round_trip);
	tcase_add_test(basic, test_uncommitted_not_durable);
	tcase_add_test(basic, test_discard_pending);
	tcase_add_test(basic, test_lock_ebusy);
	tcase_add_test(basic, test_api_misuse);
	tcase_add_test(basic, test_commit_failure_rolls_back);
	tcase_add_test(basic, test_async_commit);
	tcase_add_test(basic, test_async_commit_failure);
	suite_add_tcase(s, basic);

	tcase_add_test(damage, test_torn_tail_every_offset);
	tcase_add_test(damage, test_corrupt_payload_in_middle);
	tcase_add_test(damage, test_corrupt_crc_in_middle);
	tcase_add_test(damage, test_corrupt_length_in_middle);
	tcase_add_test(damage, test_flip_every_byte);
	tcase_add_test(damage, test_length_damage_in_big_journal);
	tcase_add_test(damage, test_search_budget_is_damage);
	tcase_add_test(damage, test_huge_length_rejected);
	tcase_add_test(damage, test_zero_filled_tail);
	tcase_add_test(damage, test_garbage_tail);
	tcase_add_test(damage, test_stale_files_removed);
	tcase_add_test(damage, test_refuses_bad_journal_header);
	tcase_add_test(damage, test_refuses_orphan_journal);
	tcase_add_test(damage, test_damaged_snapshot_with_newer_journal_refused);
	tcase_add_test(damage, test_damaged_snapshot_only_copy_refused);
	tcase_add_loop_test(damage, test_damaged_snapshot_falls_back, 0, 2);
	tcase_add_test(damage, test_readonly_replay);
	tcase_add_test(damage, test_readonly_creates_nothing);
	tcase_add_loop_test(damage, test_salvage_journal, 0, 2);
	tcase_add_test(damage, test_salvage_snapshot);
	tcase_add_test(damage, test_salvage_nothing);
	tcase_add_test(damage, test_format_version_kept);
	tcase_add_test(damage, test_format_version_default);
	tcase_add_loop_test(damage, test_other_format_version_refused, 0, 3);
	tcase_add_test(damage, test_other_file_format_refused);
	tcase_add_loop_test(damage, test_format_upgrade, 0, 2);
	tcase_add_test(damage, test_format_upgrade_missing_journal);
	tcase_add_test(damage, test_format_mixed_generation_refused);
	tcase_add_loop_test(damage, test_format_range_refuses_others, 0, 2);
	tcase_add_test(damage, test_format_salvage_upgrades);
	suite_add_tcase(s, damage);

	tcase_add_test(compact, test_compaction_complete);
	tcase_add_test(compact, test_empty_state_compaction);
	tcase_add_loop_test(compact, test_compaction_crash_gen0, 1, JOURNAL_COMPACT_STEPS + 1);
	tcase_add_loop_test(compact, test_compaction_crash_gen1, 1, JOURNAL_COMPACT_STEPS + 1);
	tcase_add_test(compact, test_compaction_failure_keeps_working);
	tcase_add_test(compact, test_should_compact);
	tcase_add_test(compact, test_bg_compaction_complete);
	tcase_add_test(compact, test_bg_chain_replays);
	tcase_add_loop_test(compact, test_bg_compaction_failure, 0, 2);
	tcase_add_loop_test(compact, test_bg_compaction_crash_gen0, 1, JOURNAL_COMPACT_STEPS + 1);
	tcase_add_loop_test(compact, test_bg_compaction_crash_gen1, 1, JOURNAL_COMPACT_STEPS + 1);
	tcase_add_test(compact, test_bg_abandon);
	tcase_add_test(damage, test_bg_chain_torn_journal_refused);
	tcase_add_test(damage, test_bg_chain_damaged_journal_refused);
	tcase_add_test(damage, test_bg_chain_gap_refused);
	tcase_add_loop_test(damage, test_salvage_chain, 0, 2);
	tcase_add_test(damage, test_bg_chain_bad_snapshot_refused);
	suite_add_tcase(s, compact);
	return s;
}

int
main(void)
{
	return ck_run(journal_suite());
}
