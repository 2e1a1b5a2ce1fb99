/* Durable record log: snapshot + journal per generation, group commit, crash-safe compaction.
 *
 * FILES (all in the state directory; <gen> is a decimal u64 without leading zeros)
 *
 *   lock               empty; flock(LOCK_EX) held while a journal is open
 *   snapshot.<gen>     complete state as of the start of generation <gen> (none for gen 0)
 *   journal.<gen>      records appended since snapshot.<gen>
 *   *.tmp              files being written; never read, deleted on start-up
 *
 * FORMAT (little-endian)
 *
 *   header, 24 bytes:  magic[8] = "PASIDDS1" (snapshot) or "PASIDDJ1" (journal)
 *                      u64 generation   (must match the file name)
 *                      u32 reserved = 0 (format flags; a non-zero value is refused)
 *                      u32 CRC-32C of the 20 bytes before it
 *   record frame:      u32 length (<= JOURNAL_MAX_RECORD)
 *                      u32 CRC-32C over the 4 length bytes followed by the payload
 *                      payload[length]
 *   snapshot trailer:  u32 0xffffffff (never a valid length, so it cannot be a record)
 *                      u32 CRC-32C over the marker and the 24 bytes that follow
 *                      u64 record count, u64 payload bytes, i64 creation time (unix s)
 *
 * A journal is a header followed by frames. A frame that is incomplete, longer than
 * JOURNAL_MAX_RECORD, or fails its CRC is either the torn tail of the last commit or damage.
 * A commit is one pwrite() at the end of the file, so a crash leaves at most a prefix of it:
 * whole frames and then part of one, with nothing valid after that part. So a bad frame with
 * no whole CRC-valid frame anywhere after it is a torn tail, cut off on replay; a bad frame
 * with a valid one after it is damage, and replay refuses the directory without touching it
 * (a record lost from the middle could be a PASID that is still in use). The CRC covers the
 * length too, so a torn or zero-filled length field cannot make us skip over good data or read
 * garbage as a record (the CRC-32C of four zero bytes is not zero). Looking for a valid frame
 * behind a bad one tries first where the bad frame's own length points (a damaged payload or
 * CRC leaves the length intact), then every following offset; the checksum work is bounded
 * (SCAN_BUDGET), and a search that runs out of it counts as damage. A real torn tail is less
 * than one frame long, so its search is cheap.
 *
 * A snapshot is a header, frames and a trailer that ends exactly at end of file and whose
 * counts match the frames before it. Anything else is an incomplete snapshot and is never
 * used: a snapshot is delivered only after all of it has been verified.
 *
 * WRITING. journal_append() frames a record into a memory buffer; journal_commit() writes the
 * whole buffer with one pwrite() at the committed size and then calls fdatasync(), so N
 * records cost one write and one sync (group commit). On failure the file is truncated back
 * to the committed size; if that fails too the handle refuses all further work, because a
 * later shorter commit could otherwise leave stale, valid-looking frames behind it.
 *
 * COMPACTION from generation g to n = g+1, in numbered steps (the test hook stops after any):
 *    1  snapshot.n.tmp created, header written
 *    2  all records and the trailer written, file fsynced
 *    3  snapshot.n.tmp renamed to snapshot.n
 *    4  directory fsynced
 *    5  journal.n.tmp created with its header, fsynced
 *    6  journal.n.tmp renamed to journal.n
 *    7  directory fsynced: generation n is established, the handle switches to it
 *    8  journal.g removed
 *    9  snapshot.g removed (if any)
 *   10  directory fsynced
 * Until step 3 a restart still sees generation g as newest. From step 3 on it sees a complete
 * snapshot.n, which already contains everything in journal.g because pending records were
 * committed first and nothing is appended during compaction. So an ordinary failure in steps
 * 4-7 must remove snapshot.n (and journal.n) again before more records go to journal.g; if
 * that removal fails the handle is given up, and the restart then picks generation n, with
 * nothing lost.
 *
 * RECOVERY (journal_replay). Take the highest generation c whose snapshot is complete, or 0
 * with no snapshot if none is. Refuse (-EUCLEAN) when a journal of a generation above c
 * exists (records were appended on top of a snapshot we cannot read), or when an incomplete
 * snapshot was skipped and journal.c is missing (journal.c's records then live only in the
 * unreadable snapshot), or when journal.c is damaged (above). None of these can be produced
 * by a crash with the order above, and a refusal changes no file. If journal.c is missing
 * (crash between steps 3 and 6) it is created empty. Finally *.tmp files, files of older
 * generations and skipped snapshots are deleted. A read-only handle (journal_open_readonly)
 * replays the same way but writes, truncates and deletes nothing.
 *
 * SALVAGE (journal_salvage, pasidd --salvage) takes over where replay refuses: the records of
 * the newest generation up to the first damage are the valid prefix; every CRC-valid frame
 * found after that point is handed over separately for what it tells about PASIDs that may
 * still be in use. journal_salvage_commit() then hard-links every snapshot and journal file
 * to NAME.damaged-<unixtime>, a name replay ignores, compacts the salvaged state into a
 * generation above all of them and removes the old names. A crash before the compaction's
 * step 3 leaves the old, refused directory (plus links); one after it, the new generation. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal.h"
#include "crc32c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC_JOURNAL  "PASIDDJ1"
#define MAGIC_SNAPSHOT "PASIDDS1"
#define MAGIC_LEN      8
#define HDR_SIZE       24
#define FRAME_SIZE     JOURNAL_FRAME_SIZE
#define TRAILER_MARK   0xffffffffu
#define TRAILER_BODY   24
#define TRAILER_SIZE   (FRAME_SIZE + TRAILER_BODY)
#define LOCK_NAME      "lock"
#define NAME_LEN       48 /* "snapshot." + 20 digits + ".tmp" + NUL fits */

/* Below this the journal is not worth compacting however small the snapshot. */
#define COMPACT_MIN_JOURNAL (1u << 20)
/* Snapshot records are gathered into writes of about this size. */
#define SNAPSHOT_BUF (256u << 10)
/* After a commit, an append buffer grown beyond this is released rather than kept. */
#define KEEP_BUF_MAX (4u << 20)
/* Checksum work allowed when looking for a valid frame behind a bad one at start-up: well
 * above the quadratic worst case of searching one torn frame of pasidd's (a few KiB), and
 * a fraction of a second of CRC-32C. */
#define SCAN_BUDGET (64u << 20)
/* The same for --salvage, which reads everything it can of a damaged journal. */
#define SALVAGE_BUDGET (1u << 30)

struct dir_list;

enum journal_phase {
	PHASE_OPENED, /* locked, not replayed yet */
	PHASE_READY,
	PHASE_BROKEN, /* unusable: failed replay, failed rollback or simulated crash */
};

struct journal {
	int dirfd;
	int lockfd;
	int fd; /* journal.<gen>, open from replay on */
	enum journal_phase phase;
	bool compacting;
	int fail_after_step;
	uint64_t gen;
	uint64_t committed; /* journal size known to be on disk */
	uint64_t snapshot_bytes;
	int64_t snapshot_time;
	uint64_t replayed;
	uint64_t dropped;
	uint8_t *buf; /* framed records not yet committed */
	size_t len;
	size_t cap;
	uint64_t allocated; /* file space reserved with fallocate, from offset 0 */
	bool no_reserve;    /* the file system cannot reserve: commits may hit ENOSPC */
	bool readonly;      /* journal_open_readonly(): replay only, no lock, nothing written */
	bool salvaging;     /* journal_salvage() done: only journal_salvage_commit() may follow */
	struct dir_list *files;    /* what journal_salvage() found, for journal_salvage_commit() */
	char err[JOURNAL_ERR_MAX]; /* why replay or salvage failed; see journal_error() */
};

struct journal_snapshot {
	int fd;
	int err; /* first failure; sticks so that an ignored error still fails the compaction */
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint64_t records;
	uint64_t payload;
	uint64_t file_bytes;
};

enum file_kind {
	FILE_SNAPSHOT,
	FILE_JOURNAL,
};

struct dir_file {
	enum file_kind kind;
	bool tmp;
	uint64_t gen;
};

struct dir_list {
	struct dir_file *v;
	size_t n;
	size_t cap;
};

struct snapshot_view {
	uint8_t *data;
	size_t size;
	int64_t created;
};

enum frame_kind {
	FRAME_BAD,
	FRAME_RECORD,
	FRAME_TRAILER,
};

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void
file_name(char *buf, enum file_kind kind, uint64_t gen, bool tmp)
{
	snprintf(buf, NAME_LEN, "%s.%" PRIu64 "%s", kind == FILE_SNAPSHOT ? "snapshot" : "journal",
	         gen, tmp ? ".tmp" : "");
}

static int
buf_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	uint8_t *p;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(*buf, ncap);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = ncap;
	return 0;
}

static void
put_header(uint8_t *p, const char *magic, uint64_t gen)
{
	memcpy(p, magic, MAGIC_LEN);
	put_le64(p + 8, gen);
	put_le32(p + 16, 0);
	put_le32(p + 20, crc32c(p, 20));
}

static bool
header_ok(const uint8_t *p, size_t size, const char *magic, uint64_t gen)
{
	return size >= HDR_SIZE && memcmp(p, magic, MAGIC_LEN) == 0 && get_le64(p + 8) == gen &&
	       get_le32(p + 16) == 0 && get_le32(p + 20) == crc32c(p, 20);
}

static uint32_t
frame_crc(const uint8_t *len_bytes, const void *payload, size_t len)
{
	return crc32c_update(crc32c(len_bytes, 4), payload, len);
}

/* dst must have room for FRAME_SIZE + len bytes. */
static void
put_frame(uint8_t *dst, const void *rec, size_t len)
{
	put_le32(dst, (uint32_t)len);
	put_le32(dst + 4, frame_crc(dst, rec, len));
	if (len)
		memcpy(dst + FRAME_SIZE, rec, len);
}

static enum frame_kind
parse_frame(const uint8_t *p, size_t avail, uint32_t *len_out)
{
	uint32_t len, crc;

	if (avail < FRAME_SIZE)
		return FRAME_BAD;
	len = get_le32(p);
	crc = get_le32(p + 4);
	if (len == TRAILER_MARK) {
		if (avail < TRAILER_SIZE || frame_crc(p, p + FRAME_SIZE, TRAILER_BODY) != crc)
			return FRAME_BAD;
		return FRAME_TRAILER;
	}
	if (len > JOURNAL_MAX_RECORD || len > avail - FRAME_SIZE ||
	    frame_crc(p, p + FRAME_SIZE, len) != crc)
		return FRAME_BAD;
	*len_out = len;
	return FRAME_RECORD;
}

/* What is wrong with a header that header_ok() refuses, for the message. */
static const char *
header_problem(const uint8_t *p, size_t size, const char *magic, uint64_t gen, char *buf, size_t n)
{
	if (size < HDR_SIZE)
		snprintf(buf, n, "is %zu bytes long, shorter than its %d-byte header", size,
		         HDR_SIZE);
	else if (memcmp(p, magic, MAGIC_LEN) != 0)
		snprintf(buf, n, "does not start with %s", magic);
	else if (get_le32(p + 20) != crc32c(p, 20))
		snprintf(buf, n, "has a header that fails its checksum");
	else if (get_le64(p + 8) != gen)
		snprintf(buf, n, "holds generation %" PRIu64 " in its header", get_le64(p + 8));
	else
		snprintf(buf, n, "has unknown format flags %#x in its header", get_le32(p + 16));
	return buf;
}

/* What is wrong with the frame at off that parse_frame() refused, for the message. */
static const char *
frame_problem(const uint8_t *data, size_t size, size_t off, char *buf, size_t n)
{
	uint32_t len;

	if (size - off < FRAME_SIZE) {
		snprintf(buf, n, "is cut short in its header (%zu of %d bytes)", size - off,
		         FRAME_SIZE);
		return buf;
	}
	len = get_le32(data + off);
	if (len == TRAILER_MARK)
		snprintf(buf, n,
		         "is a snapshot trailer that fails its checksum or is cut short, or "
		         "has no place here");
	else if (len > JOURNAL_MAX_RECORD)
		snprintf(buf, n, "has a length of %" PRIu32 ", beyond the limit of %u", len,
		         JOURNAL_MAX_RECORD);
	else if (len > size - off - FRAME_SIZE)
		snprintf(buf, n, "has a length of %" PRIu32 " but only %zu bytes follow", len,
		         size - off - FRAME_SIZE);
	else
		snprintf(buf, n, "fails its checksum (length %" PRIu32 ")", len);
	return buf;
}

/* 1 if a whole record frame with a good CRC starts at off, 0 if not, -1 if checking it
 * would take more than what is left of *budget. */
static int
valid_at(const uint8_t *data, size_t size, size_t off, uint64_t *budget)
{
	static const uint8_t empty[4];
	uint32_t len;

	if (off > size || size - off < FRAME_SIZE)
		return 0;
	len = get_le32(data + off);
	if (len > JOURNAL_MAX_RECORD || len > size - off - FRAME_SIZE)
		return 0;
	/* Free: a zero-filled region is all zero lengths. */
	if (len == 0)
		return get_le32(data + off + 4) == crc32c(empty, 4);
	if (*budget < 4 + (uint64_t)len)
		return -1;
	*budget -= 4 + (uint64_t)len;
	return frame_crc(data + off, data + off + FRAME_SIZE, len) == get_le32(data + off + 4);
}

enum behind {
	BEHIND_NOTHING, /* no valid frame after the bad one: a torn tail */
	BEHIND_VALID,   /* a valid frame at *next: damage */
	BEHIND_UNKNOWN, /* the budget ran out first */
};

/* Looks for a whole, CRC-valid frame after the bad frame at `bad`. */
static enum behind
look_behind(const uint8_t *data, size_t size, size_t bad, uint64_t *budget, size_t *next)
{
	int r;

	/* A damaged payload or CRC leaves the length intact: the next frame is where it says. */
	if (size - bad >= FRAME_SIZE && get_le32(data + bad) <= JOURNAL_MAX_RECORD &&
	    get_le32(data + bad) <= size - bad - FRAME_SIZE) {
		*next = bad + FRAME_SIZE + get_le32(data + bad);
		r = valid_at(data, size, *next, budget);
		if (r != 0)
			return r > 0 ? BEHIND_VALID : BEHIND_UNKNOWN;
	}
	for (*next = bad + 1; *next < size && size - *next >= FRAME_SIZE; (*next)++) {
		r = valid_at(data, size, *next, budget);
		if (r != 0)
			return r > 0 ? BEHIND_VALID : BEHIND_UNKNOWN;
	}
	return BEHIND_NOTHING;
}

/* Removing a file that is already gone counts as success: recovery and rollback may run
 * after a crash that had removed it. */
static int
unlink_name(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int
write_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Reads a whole regular file. Records are checked in full before a snapshot is used and the
 * journal must be read to its end anyway, so one buffer is the simplest; read() rather than
 * mmap() so that an I/O error is an error code, not a SIGBUS. */
static int
read_file(int dirfd, const char *name, int flags, int *fd_out, uint8_t **data, size_t *size)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EUCLEAN;
		goto fail;
	}
	if ((uint64_t)st.st_size > SIZE_MAX - 1) {
		rc = -EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*data = buf;
	*size = got;
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

/* 1 and a filled view if snapshot.<gen> is complete, 0 if it is not (with what is wrong in
 * why), <0 if it cannot be read. */
static int
snapshot_load(int dirfd, uint64_t gen, struct snapshot_view *v, char *why, size_t whylen)
{
	char name[NAME_LEN], what[160];
	uint64_t count = 0, payload = 0;
	size_t off = HDR_SIZE;
	uint8_t *data;
	size_t size;
	int rc;

	file_name(name, FILE_SNAPSHOT, gen, false);
	rc = read_file(dirfd, name, O_RDONLY, NULL, &data, &size);
	if (rc < 0)
		return rc;
	if (!header_ok(data, size, MAGIC_SNAPSHOT, gen)) {
		snprintf(why, whylen, "%s %s", name,
		         header_problem(data, size, MAGIC_SNAPSHOT, gen, what, sizeof(what)));
		goto incomplete;
	}
	for (;;) {
		uint32_t len = 0;
		const uint8_t *body = data + off + FRAME_SIZE;

		switch (parse_frame(data + off, size - off, &len)) {
		case FRAME_BAD:
			if (off == size)
				snprintf(why, whylen, "%s ends at offset %zu without its trailer",
				         name, off);
			else if (size - off >= 4 && get_le32(data + off) == TRAILER_MARK)
				snprintf(
				    why, whylen,
				    "%s: its trailer at offset %zu fails its checksum or is cut "
				    "short",
				    name, off);
			else
				snprintf(why, whylen, "%s: record at offset %zu %s", name, off,
				         frame_problem(data, size, off, what, sizeof(what)));
			goto incomplete;
		case FRAME_TRAILER:
			if (off + TRAILER_SIZE != size || get_le64(body) != count ||
			    get_le64(body + 8) != payload) {
				snprintf(why, whylen,
				         "%s: its trailer at offset %zu does not match the %" PRIu64
				         " records before it or is not at the end",
				         name, off, count);
				goto incomplete;
			}
			v->data = data;
			v->size = size;
			v->created = (int64_t)get_le64(body + 16);
			return 1;
		case FRAME_RECORD:
			off += FRAME_SIZE + len;
			count++;
			payload += len;
			break;
		}
	}
incomplete:
	free(data);
	return 0;
}

static bool
parse_name(const char *name, struct dir_file *f)
{
	const char *p;
	uint64_t gen = 0;

	if (strncmp(name, "snapshot.", 9) == 0) {
		f->kind = FILE_SNAPSHOT;
		p = name + 9;
	} else if (strncmp(name, "journal.", 8) == 0) {
		f->kind = FILE_JOURNAL;
		p = name + 8;
	} else {
		return false;
	}
	/* Only the canonical spelling, so that two names can never denote one generation. */
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (gen > (UINT64_MAX - d) / 10)
			return false;
		gen = gen * 10 + d;
	}
	if (*p == '\0')
		f->tmp = false;
	else if (strcmp(p, ".tmp") == 0)
		f->tmp = true;
	else
		return false;
	f->gen = gen;
	return true;
}

static int
scan_dir(int dirfd, struct dir_list *l)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	/* A fresh open rather than dup(): a dup would share (and move) dirfd's read position. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		struct dir_file f;

		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = -errno;
			break;
		}
		if (!parse_name(de->d_name, &f))
			continue;
		if (l->n == l->cap) {
			size_t ncap = l->cap ? 2 * l->cap : 8;
			struct dir_file *nv = realloc(l->v, ncap * sizeof(*nv));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			l->v = nv;
			l->cap = ncap;
		}
		l->v[l->n++] = f;
	}
	closedir(d);
	return rc;
}

static int
cmp_gen_desc(const void *a, const void *b)
{
	const struct dir_file *x = a, *y = b;

	return x->gen < y->gen ? 1 : x->gen > y->gen ? -1 : 0;
}

static bool
list_has(const struct dir_list *l, enum file_kind kind, uint64_t gen)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == kind && !l->v[i].tmp && l->v[i].gen == gen)
			return true;
	return false;
}

/* journal.<gen>.tmp with a synced header; the caller renames it into place. */
static int
create_journal_tmp(int dirfd, uint64_t gen, int *fd_out)
{
	char name[NAME_LEN];
	uint8_t hdr[HDR_SIZE];
	int fd, rc;

	file_name(name, FILE_JOURNAL, gen, true);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	put_header(hdr, MAGIC_JOURNAL, gen);
	rc = write_all(fd, hdr, sizeof(hdr), 0);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		unlink_name(dirfd, name);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/* Creates journal.<gen> atomically: it appears complete with its header or not at all. */
static int
create_journal(int dirfd, uint64_t gen, int *fd_out)
{
	char tmp[NAME_LEN], name[NAME_LEN];
	int fd, rc;

	rc = create_journal_tmp(dirfd, gen, &fd);
	if (rc < 0)
		return rc;
	file_name(tmp, FILE_JOURNAL, gen, true);
	file_name(name, FILE_JOURNAL, gen, false);
	if (renameat(dirfd, tmp, dirfd, name) < 0 || fsync(dirfd) < 0) {
		rc = -errno;
		close(fd);
		unlink_name(dirfd, tmp);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/* The message for a file that cannot be read at all. */
static void
read_failure(struct journal *j, const char *name, int rc)
{
	if (rc == -EUCLEAN)
		snprintf(j->err, sizeof(j->err), "%s is not a regular file", name);
	else
		snprintf(j->err, sizeof(j->err), "cannot read %s: %s", name, strerror(-rc));
}

/* Delivers journal.<gen>'s records; cuts off and counts a torn tail, refuses damage. */
static int
replay_journal(struct journal *j, uint64_t gen, int (*cb)(void *, const void *, size_t), void *ctx,
               int *fd_out)
{
	char name[NAME_LEN], what[160];
	size_t off = HDR_SIZE, size, next = 0;
	uint64_t budget = SCAN_BUDGET;
	uint8_t *data;
	int fd, rc;

	file_name(name, FILE_JOURNAL, gen, false);
	rc = read_file(j->dirfd, name, j->readonly ? O_RDONLY : O_RDWR, &fd, &data, &size);
	if (rc < 0) {
		read_failure(j, name, rc);
		return rc;
	}
	/* Journals appear by rename with their header synced, so a bad header is damage, not a
	 * crash, and guessing could hand out PASIDs twice. */
	if (!header_ok(data, size, MAGIC_JOURNAL, gen)) {
		snprintf(j->err, sizeof(j->err), "%s %s", name,
		         header_problem(data, size, MAGIC_JOURNAL, gen, what, sizeof(what)));
		rc = -EUCLEAN;
		goto out;
	}
	for (;;) {
		uint32_t len = 0;

		if (parse_frame(data + off, size - off, &len) != FRAME_RECORD)
			break;
		rc = cb(ctx, data + off + FRAME_SIZE, len);
		if (rc < 0) {
			snprintf(j->err, sizeof(j->err), "%s, record at offset %zu", name, off);
			goto out;
		}
		j->replayed++;
		off += FRAME_SIZE + len;
	}
	rc = 0;
	if (off < size) {
		switch (look_behind(data, size, off, &budget, &next)) {
		case BEHIND_NOTHING:
			break;
		case BEHIND_VALID:
			snprintf(j->err, sizeof(j->err),
			         "%s: record at offset %zu %s, and valid records follow at offset "
			         "%zu: the journal is damaged, not torn",
			         name, off, frame_problem(data, size, off, what, sizeof(what)),
			         next);
			rc = -EUCLEAN;
			goto out;
		case BEHIND_UNKNOWN:
			snprintf(j->err, sizeof(j->err),
			         "%s: record at offset %zu %s, and whether valid records follow "
			         "could not be settled within %u MiB of checksum work: taken as "
			         "damage, not as a torn tail",
			         name, off, frame_problem(data, size, off, what, sizeof(what)),
			         SCAN_BUDGET >> 20);
			rc = -EUCLEAN;
			goto out;
		}
		if (!j->readonly && (ftruncate(fd, (off_t)off) < 0 || fdatasync(fd) < 0)) {
			rc = -errno;
			snprintf(j->err, sizeof(j->err), "cannot cut the torn tail off %s: %s",
			         name, strerror(-rc));
			goto out;
		}
		j->dropped = size - off;
	}
	j->committed = off;
out:
	free(data);
	if (rc < 0 || j->readonly)
		close(fd);
	else
		*fd_out = fd;
	return rc;
}

static void
delete_stale(struct journal *j, const struct dir_list *l, uint64_t gen, bool have_snapshot)
{
	bool removed = false;

	for (size_t i = 0; i < l->n; i++) {
		const struct dir_file *f = &l->v[i];
		char name[NAME_LEN];

		/* Files of newer generations that survived the checks in journal_replay() are
		 * incomplete snapshots, like an unusable snapshot of this generation. */
		if (!f->tmp && f->gen == gen && (f->kind == FILE_JOURNAL || have_snapshot))
			continue;
		file_name(name, f->kind, f->gen, f->tmp);
		/* Best effort: a leftover is removed again at the next start and, being older,
		 * incomplete or temporary, is never used. */
		if (unlink_name(j->dirfd, name) == 0)
			removed = true;
	}
	if (removed)
		fsync(j->dirfd);
}

int
journal_replay(struct journal *j, int (*cb)(void *ctx, const void *rec, size_t len), void *ctx)
{
	struct snapshot_view sv = {0};
	struct dir_list l = {0};
	bool have_snapshot = false;
	uint64_t gen = 0, skipped_gen = 0;
	char skipped[JOURNAL_ERR_MAX / 2] = "", why[JOURNAL_ERR_MAX / 2];
	int fd = -1, rc;

	if (!j || !cb)
		return -EINVAL;
	if (j->phase != PHASE_OPENED)
		return j->phase == PHASE_BROKEN ? -EIO : -EINVAL;
	/* Any failure below leaves the handle unusable: the caller must not append to a state
	 * it has only partly seen. */
	j->phase = PHASE_BROKEN;
	j->err[0] = '\0';

	rc = scan_dir(j->dirfd, &l);
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "cannot list the directory: %s", strerror(-rc));
		goto out;
	}
	if (l.n) /* qsort() must not be given NULL, even for zero elements */
		qsort(l.v, l.n, sizeof(*l.v), cmp_gen_desc);
	for (size_t i = 0; i < l.n; i++) {
		char name[NAME_LEN];

		if (l.v[i].kind != FILE_SNAPSHOT || l.v[i].tmp)
			continue;
		why[0] = '\0';
		rc = snapshot_load(j->dirfd, l.v[i].gen, &sv, why, sizeof(why));
		if (rc < 0) {
			file_name(name, FILE_SNAPSHOT, l.v[i].gen, false);
			read_failure(j, name, rc);
			goto out;
		}
		if (rc == 1) {
			have_snapshot = true;
			gen = l.v[i].gen;
			break;
		}
		/* The newest one that cannot be used is the one a refusal has to name. */
		if (!skipped[0]) {
			snprintf(skipped, sizeof(skipped), "%s", why);
			skipped_gen = l.v[i].gen;
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		uint64_t g = l.v[i].gen;

		if (l.v[i].kind == FILE_JOURNAL && !l.v[i].tmp && g > gen) {
			if (!list_has(&l, FILE_SNAPSHOT, g))
				snprintf(j->err, sizeof(j->err),
				         "journal.%" PRIu64 " holds changes to snapshot.%" PRIu64
				         ", which is missing",
				         g, g);
			else
				snprintf(j->err, sizeof(j->err),
				         "journal.%" PRIu64 " holds changes to snapshot.%" PRIu64
				         ", which cannot be used (%s)",
				         g, g, skipped_gen == g ? skipped : "incomplete");
			rc = -EUCLEAN;
			goto out;
		}
	}
	if (skipped[0] && !list_has(&l, FILE_JOURNAL, gen)) {
		snprintf(j->err, sizeof(j->err),
		         "snapshot.%" PRIu64 " cannot be used (%s), and without journal.%" PRIu64
		         " the older state is not complete either",
		         skipped_gen, skipped, gen);
		rc = -EUCLEAN;
		goto out;
	}

	if (have_snapshot) {
		size_t off = HDR_SIZE;

		/* Already verified in full by snapshot_load(). */
		for (;;) {
			uint32_t len = get_le32(sv.data + off);

			if (len == TRAILER_MARK)
				break;
			rc = cb(ctx, sv.data + off + FRAME_SIZE, len);
			if (rc < 0) {
				snprintf(j->err, sizeof(j->err),
				         "snapshot.%" PRIu64 ", record at offset %zu", gen, off);
				goto out;
			}
			j->replayed++;
			off += FRAME_SIZE + len;
		}
		j->snapshot_bytes = sv.size;
		j->snapshot_time = sv.created;
	}

	if (list_has(&l, FILE_JOURNAL, gen)) {
		rc = replay_journal(j, gen, cb, ctx, &fd);
	} else if (j->readonly) {
		/* The snapshot holds everything; a read-only replay creates nothing. */
		j->committed = HDR_SIZE;
		rc = 0;
	} else {
		/* Crash between compaction steps 3 and 6: the snapshot holds everything. */
		rc = create_journal(j->dirfd, gen, &fd);
		if (rc < 0)
			snprintf(j->err, sizeof(j->err), "cannot create journal.%" PRIu64 ": %s",
			         gen, strerror(-rc));
		j->committed = HDR_SIZE;
	}
	if (rc < 0)
		goto out;

	if (!j->readonly)
		delete_stale(j, &l, gen, have_snapshot);
	j->fd = fd;
	j->gen = gen;
	j->phase = PHASE_READY;
	rc = 0;
out:
	free(sv.data);
	free(l.v);
	return rc;
}

const char *
journal_error(const struct journal *j)
{
	return j ? j->err : "";
}

int
journal_open(const char *dir, struct journal **out)
{
	struct journal *j;
	int rc;

	if (!dir || !out)
		return -EINVAL;
	*out = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->lockfd = -1;
	j->fd = -1;
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	j->lockfd = openat(j->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->lockfd < 0) {
		rc = -errno;
		goto fail;
	}
	/* flock() belongs to the open file description, so even a second open within this
	 * process is refused, and the kernel drops the lock when a crashed daemon's fds go. */
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	j->phase = PHASE_OPENED;
	*out = j;
	return 0;
fail:
	journal_close(j);
	return rc;
}

int
journal_open_readonly(const char *dir, struct journal **out)
{
	struct journal *j;
	int rc;

	if (!dir || !out)
		return -EINVAL;
	*out = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->lockfd = -1;
	j->fd = -1;
	j->readonly = true;
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = -errno;
		journal_close(j);
		return rc;
	}
	j->phase = PHASE_OPENED;
	*out = j;
	return 0;
}

/* 0 if the journal may be written now. */
static int
check_ready(const struct journal *j)
{
	if (!j)
		return -EINVAL;
	if (j->phase == PHASE_BROKEN)
		return -EIO;
	if (j->phase != PHASE_READY || j->salvaging)
		return -EINVAL;
	if (j->readonly)
		return -EROFS;
	if (j->compacting)
		return -EBUSY;
	return 0;
}

int
journal_append(struct journal *j, const void *rec, size_t len)
{
	int rc = check_ready(j);

	if (rc < 0)
		return rc;
	if (len > JOURNAL_MAX_RECORD)
		return -EMSGSIZE;
	if (!rec && len)
		return -EINVAL;
	rc = buf_reserve(&j->buf, &j->cap, j->len + FRAME_SIZE + len);
	if (rc < 0)
		return rc;
	put_frame(j->buf + j->len, rec, len);
	j->len += FRAME_SIZE + len;
	return 0;
}

int
journal_commit(struct journal *j)
{
	int rc = check_ready(j);

	if (rc < 0)
		return rc;
	if (j->len == 0)
		return 0;
	rc = write_all(j->fd, j->buf, j->len, (off_t)j->committed);
	if (rc == 0 && fdatasync(j->fd) < 0)
		rc = -errno;
	if (rc == 0)
		j->committed += j->len;
	j->len = 0;
	if (j->cap > KEEP_BUF_MAX) {
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
	if (rc < 0 && (ftruncate(j->fd, (off_t)j->committed) < 0 || fdatasync(j->fd) < 0))
		j->phase = PHASE_BROKEN;
	return rc;
}

size_t
journal_pending(const struct journal *j)
{
	return j ? j->len : 0;
}

int
journal_discard_pending(struct journal *j, size_t keep)
{
	if (!j || keep > j->len)
		return -EINVAL;
	j->len = keep;
	return 0;
}

static int
snapshot_flush(struct journal_snapshot *w)
{
	int rc;

	if (w->err)
		return w->err;
	rc = write_all(w->fd, w->buf, w->len, (off_t)w->file_bytes);
	if (rc < 0) {
		w->err = rc;
		return rc;
	}
	w->file_bytes += w->len;
	w->len = 0;
	return 0;
}

int
journal_snapshot_add(struct journal_snapshot *w, const void *rec, size_t len)
{
	size_t need = FRAME_SIZE + len;
	int rc;

	if (!w)
		return -EINVAL;
	if (w->err)
		return w->err;
	if (len > JOURNAL_MAX_RECORD || (!rec && len)) {
		/* Sticky, so that a write_state that ignores it cannot produce a snapshot with
		 * part of the state missing. */
		w->err = len > JOURNAL_MAX_RECORD ? -EMSGSIZE : -EINVAL;
		return w->err;
	}
	if (w->len + need > w->cap) {
		rc = snapshot_flush(w);
		if (rc < 0)
			return rc;
		rc = buf_reserve(&w->buf, &w->cap, need);
		if (rc < 0) {
			w->err = rc;
			return rc;
		}
	}
	put_frame(w->buf + w->len, rec, len);
	w->len += need;
	w->records++;
	w->payload += len;
	return 0;
}

/* The test hook: true if the compaction must stop here, as if the process had died. */
static bool
crash_point(struct journal *j, int step)
{
	if (j->fail_after_step != step)
		return false;
	j->fail_after_step = 0;
	j->phase = PHASE_BROKEN;
	return true;
}

int
journal_compact(struct journal *j, int (*write_state)(void *ctx, struct journal_snapshot *w),
                void *ctx)
{
	char snap_tmp[NAME_LEN], snap[NAME_LEN], jnl_tmp[NAME_LEN], jnl[NAME_LEN];
	char old_snap[NAME_LEN], old_jnl[NAME_LEN];
	struct journal_snapshot w = {.fd = -1};
	uint64_t gen;
	int64_t now = (int64_t)time(NULL);
	int nfd = -1, rc;
	uint8_t *t;

	rc = check_ready(j);
	if (rc < 0)
		return rc;
	if (!write_state)
		return -EINVAL;
	rc = journal_commit(j);
	if (rc < 0)
		return rc;

	gen = j->gen + 1;
	file_name(snap_tmp, FILE_SNAPSHOT, gen, true);
	file_name(snap, FILE_SNAPSHOT, gen, false);
	file_name(jnl_tmp, FILE_JOURNAL, gen, true);
	file_name(jnl, FILE_JOURNAL, gen, false);
	file_name(old_snap, FILE_SNAPSHOT, j->gen, false);
	file_name(old_jnl, FILE_JOURNAL, j->gen, false);

	/* Step 1. O_TRUNC: a .tmp left by an earlier failed attempt is simply overwritten. */
	w.fd =
	    openat(j->dirfd, snap_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w.fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = buf_reserve(&w.buf, &w.cap, SNAPSHOT_BUF);
	if (rc < 0)
		goto fail_tmp;
	put_header(w.buf, MAGIC_SNAPSHOT, gen);
	w.len = HDR_SIZE;
	rc = snapshot_flush(&w);
	if (rc < 0)
		goto fail_tmp;
	if (crash_point(j, 1))
		goto crashed;

	/* Step 2. Appends from inside write_state are refused: they would land in journal.g,
	 * which is about to be dropped, after the snapshot has been taken. */
	j->compacting = true;
	rc = write_state(ctx, &w);
	j->compacting = false;
	if (rc >= 0)
		rc = w.err;
	if (rc < 0)
		goto fail_tmp;
	if (w.len + TRAILER_SIZE > w.cap) {
		rc = snapshot_flush(&w);
		if (rc < 0)
			goto fail_tmp;
	}
	t = w.buf + w.len;
	put_le32(t, TRAILER_MARK);
	put_le64(t + FRAME_SIZE, w.records);
	put_le64(t + FRAME_SIZE + 8, w.payload);
	put_le64(t + FRAME_SIZE + 16, (uint64_t)now);
	put_le32(t + 4, frame_crc(t, t + FRAME_SIZE, TRAILER_BODY));
	w.len += TRAILER_SIZE;
	rc = snapshot_flush(&w);
	if (rc < 0)
		goto fail_tmp;
	if (fsync(w.fd) < 0) {
		rc = -errno;
		goto fail_tmp;
	}
	close(w.fd);
	w.fd = -1;
	if (crash_point(j, 2))
		goto crashed;

	/* Step 3: from here a restart would choose the new generation. */
	if (renameat(j->dirfd, snap_tmp, j->dirfd, snap) < 0) {
		rc = -errno;
		goto fail_tmp;
	}
	if (crash_point(j, 3))
		goto crashed;
	/* Step 4: the rename must be durable before a journal of the new generation exists,
	 * or a crash could leave journal.n without the snapshot it builds on. */
	if (fsync(j->dirfd) < 0) {
		rc = -errno;
		goto fail_new;
	}
	if (crash_point(j, 4))
		goto crashed;
	rc = create_journal_tmp(j->dirfd, gen, &nfd); /* step 5 */
	if (rc < 0)
		goto fail_new;
	if (crash_point(j, 5))
		goto crashed;
	if (renameat(j->dirfd, jnl_tmp, j->dirfd, jnl) < 0) { /* step 6 */
		rc = -errno;
		goto fail_new;
	}
	if (crash_point(j, 6))
		goto crashed;
	if (fsync(j->dirfd) < 0) { /* step 7 */
		rc = -errno;
		goto fail_new;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = nfd;
	nfd = -1;
	j->gen = gen;
	j->committed = HDR_SIZE;
	j->allocated = 0;
	j->snapshot_bytes = w.file_bytes;
	j->snapshot_time = now;
	if (crash_point(j, 7))
		goto crashed;

	/* Steps 8-10. The new generation stands; failures here only leave old files, which
	 * the next start removes, so they do not fail the compaction. */
	unlink_name(j->dirfd, old_jnl);
	if (crash_point(j, 8))
		goto crashed;
	unlink_name(j->dirfd, old_snap);
	if (crash_point(j, 9))
		goto crashed;
	fsync(j->dirfd);
	if (crash_point(j, 10))
		goto crashed;
	rc = 0;
	goto out;

fail_new:
	/* snapshot.n is visible: records appended to journal.g from now on would be lost at the
	 * next start unless it goes away again. If it cannot, give up the handle instead; the
	 * restart then picks generation n, which holds everything committed so far. */
	if (unlink_name(j->dirfd, jnl_tmp) < 0 || unlink_name(j->dirfd, jnl) < 0 ||
	    unlink_name(j->dirfd, snap) < 0 || fsync(j->dirfd) < 0)
		j->phase = PHASE_BROKEN;
	goto out;
fail_tmp:
	/* Harmless if it stays: a .tmp is never read. */
	unlink_name(j->dirfd, snap_tmp);
	goto out;
crashed:
	rc = -EIO;
out:
	if (w.fd >= 0)
		close(w.fd);
	if (nfd >= 0)
		close(nfd);
	free(w.buf);
	return rc;
}

bool
journal_should_compact(const struct journal *j)
{
	uint64_t limit;

	if (!j || j->phase != PHASE_READY || j->readonly)
		return false;
	limit = 2 * j->snapshot_bytes;
	if (limit < COMPACT_MIN_JOURNAL)
		limit = COMPACT_MIN_JOURNAL;
	return j->committed > limit;
}

void
journal_get_stats(const struct journal *j, struct journal_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!j)
		return;
	st->replayed_records = j->replayed;
	st->dropped_bytes = j->dropped;
	st->journal_bytes = j->committed;
	st->snapshot_bytes = j->snapshot_bytes;
	st->generation = j->gen;
	st->last_compaction_unix = j->snapshot_time;
}

/* ---- salvage ---- */

struct salvage {
	struct journal *j;
	int (*keep)(void *ctx, const void *rec, size_t len);
	void (*lost)(void *ctx, const char *file, uint64_t off, const void *rec, size_t len);
	void *ctx;
	struct journal_salvage_info *info;
	uint64_t budget; /* for reading the damaged part */
};

static void cut(struct salvage *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The valid prefix ends here. */
static void
cut(struct salvage *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->info->damage, sizeof(s->info->damage), fmt, ap);
	va_end(ap);
	s->info->damaged = true;
}

/* Hands every whole, CRC-valid record frame in data[from, size) to lost: what can still be
 * read of the damaged part. */
static void
read_lost(struct salvage *s, const char *name, const uint8_t *data, size_t size, size_t from)
{
	size_t p = from;

	while (p < size && size - p >= FRAME_SIZE) {
		int r = valid_at(data, size, p, &s->budget);

		if (r < 0) {
			s->info->scan_incomplete = true;
			break;
		}
		if (r == 0) {
			p++;
			s->info->unreadable_bytes++;
			continue;
		}
		s->lost(s->ctx, name, p, data + p + FRAME_SIZE, get_le32(data + p));
		s->info->lost_records++;
		p += FRAME_SIZE + get_le32(data + p);
	}
	s->info->unreadable_bytes += size - p;
}

/* One file of the newest generation: its records go to keep until the first damage or the
 * first record keep refuses; from there on, to lost. */
static void
salvage_file(struct salvage *s, enum file_kind kind, uint64_t gen, const uint8_t *data, size_t size)
{
	const char *magic = kind == FILE_SNAPSHOT ? MAGIC_SNAPSHOT : MAGIC_JOURNAL;
	uint64_t count = 0, payload = 0;
	char name[NAME_LEN], what[160];
	size_t off = HDR_SIZE, next;

	file_name(name, kind, gen, false);
	if (s->info->damaged) {
		read_lost(s, name, data, size, header_ok(data, size, magic, gen) ? HDR_SIZE : 0);
		return;
	}
	if (!header_ok(data, size, magic, gen)) {
		cut(s, "%s %s", name, header_problem(data, size, magic, gen, what, sizeof(what)));
		read_lost(s, name, data, size, 0);
		return;
	}
	for (;;) {
		uint32_t len = 0;
		enum frame_kind k = parse_frame(data + off, size - off, &len);
		uint64_t budget = SCAN_BUDGET;
		const uint8_t *body = data + off + FRAME_SIZE;

		if (k == FRAME_RECORD) {
			if (s->keep(s->ctx, body, len) < 0) {
				cut(s, "%s: record at offset %zu does not apply", name, off);
				read_lost(s, name, data, size, off);
				return;
			}
			s->info->prefix_records++;
			count++;
			payload += len;
			off += FRAME_SIZE + len;
			continue;
		}
		if (kind == FILE_SNAPSHOT && k == FRAME_TRAILER && off + TRAILER_SIZE == size &&
		    get_le64(body) == count && get_le64(body + 8) == payload)
			return; /* the whole snapshot */
		if (kind == FILE_JOURNAL && (off == size || look_behind(data, size, off, &budget,
		                                                        &next) == BEHIND_NOTHING)) {
			/* The end, or a torn tail that replay would cut off too. */
			s->info->torn_bytes = size - off;
			return;
		}
		if (off == size)
			cut(s, "%s ends at offset %zu without its trailer", name, off);
		else
			cut(s, "%s: record at offset %zu %s", name, off,
			    frame_problem(data, size, off, what, sizeof(what)));
		read_lost(s, name, data, size, off);
		return;
	}
}

/* Reads one file and salvages it (newest generation) or reads it for lost records. */
static int
salvage_read(struct salvage *s, enum file_kind kind, uint64_t gen, bool newest)
{
	char name[NAME_LEN];
	uint8_t *data;
	size_t size;
	int rc;

	file_name(name, kind, gen, false);
	rc = read_file(s->j->dirfd, name, O_RDONLY, NULL, &data, &size);
	if (rc < 0) {
		read_failure(s->j, name, rc);
		return rc;
	}
	if (newest)
		salvage_file(s, kind, gen, data, size);
	else
		read_lost(s, name, data, size,
		          header_ok(data, size,
		                    kind == FILE_SNAPSHOT ? MAGIC_SNAPSHOT : MAGIC_JOURNAL, gen)
		              ? HDR_SIZE
		              : 0);
	free(data);
	return 0;
}

int
journal_salvage(struct journal *j, int (*keep)(void *ctx, const void *rec, size_t len),
                void (*lost)(void *ctx, const char *file, uint64_t off, const void *rec,
                             size_t len),
                void *ctx, struct journal_salvage_info *info)
{
	struct salvage s = {
	    .j = j, .keep = keep, .lost = lost, .ctx = ctx, .info = info, .budget = SALVAGE_BUDGET};
	struct dir_list *l;
	uint64_t top = 0;
	bool any = false, whole_base;
	int rc;

	if (!j || !keep || !lost || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	if (j->phase != PHASE_OPENED || j->readonly)
		return -EINVAL;
	j->phase = PHASE_BROKEN;
	j->err[0] = '\0';
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	j->files = l;
	rc = scan_dir(j->dirfd, l);
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "cannot list the directory: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].tmp)
			continue;
		any = true;
		if (l->v[i].gen > top)
			top = l->v[i].gen;
	}
	if (!any)
		return 0;

	/* The valid prefix: snapshot.top (none for generation 0), then journal.top. */
	whole_base = top == 0 && !list_has(l, FILE_SNAPSHOT, 0);
	if (list_has(l, FILE_SNAPSHOT, top)) {
		rc = salvage_read(&s, FILE_SNAPSHOT, top, true);
		if (rc < 0)
			return rc;
		whole_base = !info->damaged;
	} else if (!whole_base) {
		cut(&s,
		    "journal.%" PRIu64 " holds changes to snapshot.%" PRIu64 ", which is missing",
		    top, top);
	}
	if (list_has(l, FILE_JOURNAL, top)) {
		rc = salvage_read(&s, FILE_JOURNAL, top, true);
		if (rc < 0)
			return rc;
	}
	/* Without a whole snapshot of the newest generation, the older files are the only
	 * record of what it held. */
	for (size_t i = 0; !whole_base && i < l->n; i++) {
		if (l->v[i].tmp || l->v[i].gen == top)
			continue;
		rc = salvage_read(&s, l->v[i].kind, l->v[i].gen, false);
		if (rc < 0)
			return rc;
	}
	if (!info->damaged)
		return 0; /* nothing that replay would refuse: the handle stays unusable */
	j->gen = top;
	j->committed = HDR_SIZE;
	j->phase = PHASE_READY;
	j->salvaging = true;
	return 0;
}

int
journal_salvage_commit(struct journal *j, int (*write_state)(void *ctx, struct journal_snapshot *w),
                       void *ctx, void (*kept)(void *ctx, const char *file, const char *aside))
{
	long long now = (long long)time(NULL);
	struct dir_list *l;
	int rc;

	if (!j || !write_state || !j->salvaging || j->phase != PHASE_READY)
		return -EINVAL;
	l = j->files;
	/* Every old file under a second name that replay ignores, durably, before anything
	 * else changes: from here on its bytes stay as they are for inspection. */
	for (size_t i = 0; i < l->n; i++) {
		char name[NAME_LEN], aside[NAME_LEN + 40];

		if (l->v[i].tmp)
			continue;
		file_name(name, l->v[i].kind, l->v[i].gen, false);
		for (unsigned k = 0;; k++) {
			if (k == 0)
				snprintf(aside, sizeof(aside), "%s.damaged-%lld", name, now);
			else
				snprintf(aside, sizeof(aside), "%s.damaged-%lld.%u", name, now, k);
			if (linkat(j->dirfd, name, j->dirfd, aside, 0) == 0)
				break;
			if (errno != EEXIST || k == 100) {
				rc = -errno;
				snprintf(j->err, sizeof(j->err), "cannot keep %s as %s: %s", name,
				         aside, strerror(-rc));
				return rc;
			}
		}
		if (kept)
			kept(ctx, name, aside);
	}
	if (fsync(j->dirfd) < 0) {
		rc = -errno;
		snprintf(j->err, sizeof(j->err), "cannot sync the directory: %s", strerror(-rc));
		return rc;
	}
	j->salvaging = false;
	rc = journal_compact(j, write_state, ctx);
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "cannot write the salvaged state: %s",
		         strerror(-rc));
		return rc;
	}
	/* The new generation stands; the old names go (compaction took those of the newest
	 * one already), their bytes stay under the .damaged names. */
	for (size_t i = 0; i < l->n; i++) {
		char name[NAME_LEN];

		if (l->v[i].tmp)
			continue;
		file_name(name, l->v[i].kind, l->v[i].gen, false);
		unlink_name(j->dirfd, name);
	}
	fsync(j->dirfd);
	return 0;
}

void
journal_test_fail_compaction_after(struct journal *j, int step)
{
	if (j)
		j->fail_after_step = step;
}

void
journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->lockfd >= 0)
		close(j->lockfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->files)
		free(j->files->v);
	free(j->files);
	free(j->buf);
	free(j);
}

/* Reserving the space a commit will write, before the change is made, is what lets the
 * caller refuse a request when the file system is full rather than fail a commit whose
 * changes are already applied. Space is taken in steps so that most calls only compare. */
#define RESERVE_STEP (4u << 20)

int
journal_reserve(struct journal *j, size_t bytes)
{
	uint64_t need, want;
	int rc = check_ready(j);

	if (rc < 0)
		return rc;
	need = j->committed + j->len + bytes;
	if (j->no_reserve || need <= j->allocated)
		return 0;
	want = need + RESERVE_STEP;
	if (fallocate(j->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)want) == 0) {
		j->allocated = want;
		return 0;
	}
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		j->no_reserve = true;
		return 0;
	}
	/* Less than the step may still fit what is needed now. */
	if (fallocate(j->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)need) == 0) {
		j->allocated = need;
		return 0;
	}
	return -errno;
}
