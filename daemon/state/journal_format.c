/* The bytes of the journal's files.
 *
 * FILES (all in the state directory; <gen> is a decimal u64 without leading zeros)
 *
 *   lock               empty; flock(LOCK_EX) held while a journal is open (journal.c)
 *   snapshot.<gen>     complete state as of the start of generation <gen> (none for gen 0)
 *   journal.<gen>      records appended since snapshot.<gen>
 *   *.tmp              files being written; never read, deleted on start-up
 *   *.damaged-<time>   what pasidd --salvage kept aside (journal_salvage.c); never read
 *
 * FORMAT (little-endian)
 *
 *   header, 24 bytes:  magic[8] = "PASIDDS1" (snapshot) or "PASIDDJ1" (journal): its last
 *                          character is the version of this file format (header, frames,
 *                          trailer), changed only with them
 *                      u64 generation   (must match the file name)
 *                      u32 record format version: the version of the records' own layout,
 *                          which the journal stores and checks but does not interpret; its
 *                          user names it (journal_set_format(); record.h numbers them)
 *                      u32 CRC-32C of the 20 bytes before it
 *   record frame:      u32 length (<= JOURNAL_MAX_RECORD)
 *                      u32 CRC-32C over the 4 length bytes followed by the payload
 *                      payload[length]
 *   snapshot trailer:  u32 0xffffffff (never a valid length, so it cannot be a record)
 *                      u32 CRC-32C over the marker and the 24 bytes that follow
 *                      u64 record count, u64 payload bytes, i64 creation time (unix s)
 *
 * VERSIONS. The record format version field was "reserved, 0; a non-zero value is refused"
 * before versions were numbered, so every file written until then holds 0, which is the
 * first record format version: such files are read as they are, and a pasidd of that time
 * refuses a file of any later version, as it always did. A header that is whole (its
 * checksum holds) but names another file format or record format version is refused with
 * -EPROTONOSUPPORT before any of its records is read: those bytes may mean something else,
 * and reading them as ours could hand out PASIDs twice. It is not damage either, so nothing
 * offers to salvage it: replay, pasidd -n and --salvage all refuse it and change no file.
 * A reader may take a range of versions (journal_read_formats(): an upgrade reads the files
 * of the version before it); each file is then read in the version its header names.
 *
 * TORN OR DAMAGED. A journal is a header followed by frames. A frame that is incomplete,
 * longer than JOURNAL_MAX_RECORD, or fails its CRC is either the torn tail of the last commit
 * or damage. A commit is one pwrite() at the end of the file (journal_commit.c), so a crash
 * leaves at most a prefix of it: whole frames and then part of one, with nothing valid after
 * that part. So a bad frame with no whole CRC-valid frame anywhere after it is a torn tail,
 * cut off on replay; a bad frame with a valid one after it is damage, and replay refuses the
 * directory without touching it (a record lost from the middle could be a PASID that is
 * still in use). The CRC covers the length too, so a torn or zero-filled length field cannot
 * make us skip over good data or read garbage as a record (the CRC-32C of four zero bytes is
 * not zero). Looking for a valid frame behind a bad one tries first where the bad frame's
 * own length points (a damaged payload or CRC leaves the length intact), then every
 * following offset; the checksum work is bounded (JF_SCAN_BUDGET), and a search that runs out
 * of it counts as damage. A real torn tail is less than one frame long, so its search is
 * cheap.
 *
 * A snapshot is a header, frames and a trailer that ends exactly at end of file and whose
 * counts match the frames before it. Anything else is an incomplete snapshot and is never
 * used: a snapshot is delivered only after all of it has been verified (journal_replay.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_format.h"
#include "crc32c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAGIC_JOURNAL  "PASIDDJ1"
#define MAGIC_SNAPSHOT "PASIDDS1"

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

void
jf_name(char *buf, enum jf_kind kind, uint64_t gen, bool tmp)
{
	snprintf(buf, JF_NAME_LEN, "%s.%" PRIu64 "%s", kind == JF_SNAPSHOT ? "snapshot" : "journal",
	         gen, tmp ? ".tmp" : "");
}

bool
jf_parse_name(const char *name, struct jf_file *f)
{
	const char *p;
	uint64_t gen = 0;

	if (strncmp(name, "snapshot.", 9) == 0) {
		f->kind = JF_SNAPSHOT;
		p = name + 9;
	} else if (strncmp(name, "journal.", 8) == 0) {
		f->kind = JF_JOURNAL;
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

static const char *
magic_of(enum jf_kind kind)
{
	return kind == JF_SNAPSHOT ? MAGIC_SNAPSHOT : MAGIC_JOURNAL;
}

void
jf_put_header(uint8_t p[JF_HDR_SIZE], enum jf_kind kind, uint64_t gen, uint32_t format)
{
	memcpy(p, magic_of(kind), JF_MAGIC_LEN);
	put_le64(p + 8, gen);
	put_le32(p + 16, format);
	put_le32(p + 20, crc32c(p, 20));
}

int
jf_check_header(const uint8_t *data, size_t size, enum jf_kind kind, uint64_t gen, uint32_t oldest,
                uint32_t newest, char *why, size_t n)
{
	uint32_t format;
	const char *magic = magic_of(kind);
	char name[JF_NAME_LEN];
	bool crc_ok;

	jf_name(name, kind, gen, false);
	if (size < JF_HDR_SIZE) {
		snprintf(why, n, "%s is %zu bytes long, shorter than its %d-byte header", name,
		         size, JF_HDR_SIZE);
		return -EUCLEAN;
	}
	crc_ok = jf_get32(data + 20) == crc32c(data, 20);
	/* Another last character of the magic in a whole header is another file format, not
	 * a flipped bit: the checksum would have caught that. */
	if (crc_ok && memcmp(data, magic, JF_MAGIC_LEN - 1) == 0 && data[JF_MAGIC_LEN - 1] > ' ' &&
	    data[JF_MAGIC_LEN - 1] < 0x7f && data[JF_MAGIC_LEN - 1] != magic[JF_MAGIC_LEN - 1]) {
		snprintf(why, n, "%s is in file format %.8s, and this pasidd reads %s only", name,
		         (const char *)data, magic);
		return -EPROTONOSUPPORT;
	}
	if (memcmp(data, magic, JF_MAGIC_LEN) != 0) {
		snprintf(why, n, "%s does not start with %s", name, magic);
		return -EUCLEAN;
	}
	if (!crc_ok) {
		snprintf(why, n, "%s has a header that fails its checksum", name);
		return -EUCLEAN;
	}
	format = jf_get32(data + 16);
	if (format < oldest || format > newest) {
		if (oldest == newest)
			snprintf(why, n,
			         "%s holds records of format version %" PRIu32
			         ", and this pasidd reads version %" PRIu32 " only",
			         name, format, newest);
		else
			snprintf(why, n,
			         "%s holds records of format version %" PRIu32
			         ", and this pasidd reads versions %" PRIu32 " to %" PRIu32 " only",
			         name, format, oldest, newest);
		return -EPROTONOSUPPORT;
	}
	if (jf_get64(data + 8) != gen) {
		snprintf(why, n, "%s holds generation %" PRIu64 " in its header", name,
		         jf_get64(data + 8));
		return -EUCLEAN;
	}
	return 0;
}

int
jf_check_generation(uint64_t gen, uint32_t jv, uint32_t sv, char *why, size_t n)
{
	if (jv == sv)
		return 0;
	snprintf(why, n,
	         "journal.%" PRIu64 " holds records of format version %" PRIu32
	         " and snapshot.%" PRIu64 " of version %" PRIu32
	         ": the files of one generation are written in one",
	         gen, jv, gen, sv);
	return -EUCLEAN;
}

static uint32_t
frame_crc(const uint8_t *len_bytes, const void *payload, size_t len)
{
	return crc32c_update(crc32c(len_bytes, 4), payload, len);
}

void
jf_put_frame(uint8_t *dst, const void *rec, size_t len)
{
	put_le32(dst, (uint32_t)len);
	put_le32(dst + 4, frame_crc(dst, rec, len));
	if (len)
		memcpy(dst + JF_FRAME_SIZE, rec, len);
}

void
jf_put_trailer(uint8_t *t, uint64_t records, uint64_t payload, int64_t created)
{
	put_le32(t, JF_TRAILER_MARK);
	put_le64(t + JF_FRAME_SIZE, records);
	put_le64(t + JF_FRAME_SIZE + 8, payload);
	put_le64(t + JF_FRAME_SIZE + 16, (uint64_t)created);
	put_le32(t + 4, frame_crc(t, t + JF_FRAME_SIZE, JF_TRAILER_BODY));
}

static enum frame_kind
parse_frame(const uint8_t *p, size_t avail, uint32_t *len_out)
{
	uint32_t len, crc;

	if (avail < JF_FRAME_SIZE)
		return FRAME_BAD;
	len = jf_get32(p);
	crc = jf_get32(p + 4);
	if (len == JF_TRAILER_MARK) {
		if (avail < JF_TRAILER_SIZE ||
		    frame_crc(p, p + JF_FRAME_SIZE, JF_TRAILER_BODY) != crc)
			return FRAME_BAD;
		return FRAME_TRAILER;
	}
	if (len > JOURNAL_MAX_RECORD || len > avail - JF_FRAME_SIZE ||
	    frame_crc(p, p + JF_FRAME_SIZE, len) != crc)
		return FRAME_BAD;
	*len_out = len;
	return FRAME_RECORD;
}

/* What is wrong with the frame at off that parse_frame() refused, for the message. */
static const char *
frame_problem(const uint8_t *data, size_t size, size_t off, char *buf, size_t n)
{
	uint32_t len;

	if (size - off < JF_FRAME_SIZE) {
		snprintf(buf, n, "is cut short in its header (%zu of %d bytes)", size - off,
		         JF_FRAME_SIZE);
		return buf;
	}
	len = jf_get32(data + off);
	if (len == JF_TRAILER_MARK)
		snprintf(buf, n,
		         "is a snapshot trailer that fails its checksum or is cut short, or "
		         "has no place here");
	else if (len > JOURNAL_MAX_RECORD)
		snprintf(buf, n, "has a length of %" PRIu32 ", beyond the limit of %u", len,
		         JOURNAL_MAX_RECORD);
	else if (len > size - off - JF_FRAME_SIZE)
		snprintf(buf, n, "has a length of %" PRIu32 " but only %zu bytes follow", len,
		         size - off - JF_FRAME_SIZE);
	else
		snprintf(buf, n, "fails its checksum (length %" PRIu32 ")", len);
	return buf;
}

int
jf_valid_at(const uint8_t *data, size_t size, size_t off, uint64_t *budget)
{
	static const uint8_t empty[4];
	uint32_t len;

	if (off > size || size - off < JF_FRAME_SIZE)
		return 0;
	len = jf_get32(data + off);
	if (len > JOURNAL_MAX_RECORD || len > size - off - JF_FRAME_SIZE)
		return 0;
	/* Free: a zero-filled region is all zero lengths. */
	if (len == 0)
		return jf_get32(data + off + 4) == crc32c(empty, 4);
	if (*budget < 4 + (uint64_t)len)
		return -1;
	*budget -= 4 + (uint64_t)len;
	return frame_crc(data + off, data + off + JF_FRAME_SIZE, len) == jf_get32(data + off + 4);
}

/* Looks for a whole, CRC-valid frame after the bad frame at `bad`. */
static enum jf_behind
look_behind(const uint8_t *data, size_t size, size_t bad, uint64_t *budget, size_t *next)
{
	int r;

	/* A damaged payload or CRC leaves the length intact: the next frame is where it says. */
	if (size - bad >= JF_FRAME_SIZE && jf_get32(data + bad) <= JOURNAL_MAX_RECORD &&
	    jf_get32(data + bad) <= size - bad - JF_FRAME_SIZE) {
		*next = bad + JF_FRAME_SIZE + jf_get32(data + bad);
		r = jf_valid_at(data, size, *next, budget);
		if (r != 0)
			return r > 0 ? JF_BEHIND_VALID : JF_BEHIND_UNKNOWN;
	}
	for (*next = bad + 1; *next < size && size - *next >= JF_FRAME_SIZE; (*next)++) {
		r = jf_valid_at(data, size, *next, budget);
		if (r != 0)
			return r > 0 ? JF_BEHIND_VALID : JF_BEHIND_UNKNOWN;
	}
	return JF_BEHIND_NOTHING;
}

/* How the records of a file end at w->off, where parse_frame() found no record (k). */
static void
classify_end(const uint8_t *data, size_t size, enum jf_kind kind, enum frame_kind k,
             struct jf_walk *w)
{
	const uint8_t *body = data + w->off + JF_FRAME_SIZE;
	uint64_t budget = JF_SCAN_BUDGET;

	if (kind == JF_SNAPSHOT) {
		w->end = JF_END_DAMAGE;
		if (k == FRAME_TRAILER && w->off + JF_TRAILER_SIZE == size &&
		    jf_get64(body) == w->records && jf_get64(body + 8) == w->payload) {
			w->end = JF_END_CLEAN;
			w->created = (int64_t)jf_get64(body + 16);
		}
		return;
	}
	if (w->off == size) {
		w->end = JF_END_CLEAN;
		return;
	}
	w->behind = look_behind(data, size, w->off, &budget, &w->next);
	w->end = w->behind == JF_BEHIND_NOTHING ? JF_END_TORN : JF_END_DAMAGE;
}

void
jf_walk(const uint8_t *data, size_t size, enum jf_kind kind,
        int (*cb)(void *ctx, const void *rec, size_t len), void *ctx, struct jf_walk *w)
{
	memset(w, 0, sizeof(*w));
	w->off = JF_HDR_SIZE;
	for (;;) {
		uint32_t len = 0;
		enum frame_kind k = parse_frame(data + w->off, size - w->off, &len);

		if (k != FRAME_RECORD) {
			classify_end(data, size, kind, k, w);
			return;
		}
		if (cb && (w->rc = cb(ctx, data + w->off + JF_FRAME_SIZE, len)) < 0) {
			w->end = JF_END_REFUSED;
			return;
		}
		w->records++;
		w->payload += len;
		w->off += JF_FRAME_SIZE + len;
	}
}

void
jf_damage_text(const struct jf_walk *w, const uint8_t *data, size_t size, enum jf_kind kind,
               const char *name, char *buf, size_t n)
{
	char what[160];
	uint32_t len;

	if (kind == JF_SNAPSHOT && w->off == size) {
		snprintf(buf, n, "%s ends at offset %zu without its trailer", name, w->off);
	} else if (kind == JF_SNAPSHOT && size - w->off >= 4 &&
	           jf_get32(data + w->off) == JF_TRAILER_MARK) {
		if (parse_frame(data + w->off, size - w->off, &len) == FRAME_TRAILER)
			snprintf(buf, n,
			         "%s: its trailer at offset %zu does not match the %" PRIu64
			         " records before it or is not at the end",
			         name, w->off, w->records);
		else
			snprintf(buf, n,
			         "%s: its trailer at offset %zu fails its checksum or is cut short",
			         name, w->off);
	} else {
		snprintf(buf, n, "%s: record at offset %zu %s", name, w->off,
		         frame_problem(data, size, w->off, what, sizeof(what)));
	}
}
