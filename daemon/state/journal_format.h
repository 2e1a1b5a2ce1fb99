/* The bytes of the journal's files: headers, record frames, snapshot trailers, their
 * checksums and names, and the walk over a file's records that says what ends them. No I/O:
 * every function here reads or fills memory. The layout and the argument that tells a torn
 * tail from damage are at the top of journal_format.c. Internal to the journal. */
#ifndef PASIDD_JOURNAL_FORMAT_H
#define PASIDD_JOURNAL_FORMAT_H

#include "journal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JF_MAGIC_LEN    8
#define JF_HDR_SIZE     24
#define JF_FRAME_SIZE   JOURNAL_FRAME_SIZE
#define JF_TRAILER_MARK 0xffffffffu
#define JF_TRAILER_BODY 24
#define JF_TRAILER_SIZE (JF_FRAME_SIZE + JF_TRAILER_BODY)
#define JF_NAME_LEN     48 /* "snapshot." + 20 digits + ".tmp" + NUL fits */
/* Checksum work allowed when looking for a valid frame behind a bad one at start-up: well
 * above the quadratic worst case of searching one torn frame of pasidd's (a few KiB), and
 * a fraction of a second of CRC-32C. */
#define JF_SCAN_BUDGET (64u << 20)

enum jf_kind {
	JF_SNAPSHOT,
	JF_JOURNAL,
};

/* A file of the state directory, as its name tells it. */
struct jf_file {
	enum jf_kind kind;
	bool tmp;
	uint64_t gen;
};

static inline uint32_t
jf_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
jf_get64(const uint8_t *p)
{
	return (uint64_t)jf_get32(p) | (uint64_t)jf_get32(p + 4) << 32;
}

/* "snapshot.<gen>" or "journal.<gen>", with ".tmp" if tmp, into buf[JF_NAME_LEN]. */
void jf_name(char *buf, enum jf_kind kind, uint64_t gen, bool tmp);
/* Whether name is one of those names in its one canonical spelling; fills f. */
bool jf_parse_name(const char *name, struct jf_file *f);

/* A header for a file of this kind and generation, holding the records' format version. */
void jf_put_header(uint8_t p[JF_HDR_SIZE], enum jf_kind kind, uint64_t gen, uint32_t format);
/* Whether the file that data[0, size) holds starts with such a header, of a record format
 * version from oldest to newest. 0; -EUCLEAN when it does not (a short file, another magic, a
 * failed checksum, another generation); or -EPROTONOSUPPORT when the header is whole (its
 * checksum holds) but written for another file format or record format version, whose bytes
 * this code must not read. why gets one line, starting with the file's name, except for 0. */
int jf_check_header(const uint8_t *data, size_t size, enum jf_kind kind, uint64_t gen,
                    uint32_t oldest, uint32_t newest, char *why, size_t n);

/* Whether journal.<gen> of record format version jv may follow a whole snapshot.<gen> of
 * version sv: compaction writes both files of a generation in one version, so two versions
 * in one are not an upgrade but a shape no pasidd writes. 0, or -EUCLEAN with why. Replay
 * and salvage both ask. */
int jf_check_generation(uint64_t gen, uint32_t jv, uint32_t sv, char *why, size_t n);

/* The record format version in a header that jf_check_header() accepted. */
static inline uint32_t
jf_header_format(const uint8_t *data)
{
	return jf_get32(data + 16);
}

/* Frames rec into dst, which must have room for JF_FRAME_SIZE + len bytes. */
void jf_put_frame(uint8_t *dst, const void *rec, size_t len);
/* A snapshot's trailer into t[JF_TRAILER_SIZE]. */
void jf_put_trailer(uint8_t *t, uint64_t records, uint64_t payload, int64_t created);

/* 1 if a whole record frame with a good CRC starts at off, 0 if not, -1 if checking it
 * would take more than what is left of *budget. */
int jf_valid_at(const uint8_t *data, size_t size, size_t off, uint64_t *budget);

/* What ends a file's records. */
enum jf_end {
	JF_END_CLEAN,   /* journal: the end of the file; snapshot: its trailer, matching, at
	                 * the end of the file */
	JF_END_TORN,    /* journal: a bad frame with no whole valid frame behind it */
	JF_END_DAMAGE,  /* anything else that is not a record: jf_damage_text() says what */
	JF_END_REFUSED, /* the callback refused the record at off */
};

/* What lies behind a journal's bad frame. */
enum jf_behind {
	JF_BEHIND_NOTHING, /* no valid frame after the bad one: a torn tail */
	JF_BEHIND_VALID,   /* a valid frame at next: damage */
	JF_BEHIND_UNKNOWN, /* the budget ran out first: taken as damage */
};

struct jf_walk {
	enum jf_end end;
	size_t off;            /* where the records end: the end of the file, the trailer, the bad
	                        * frame or the refused record */
	uint64_t records;      /* the records before off */
	uint64_t payload;      /* their bytes, framing excluded */
	int rc;                /* JF_END_REFUSED: what the callback returned */
	int64_t created;       /* a snapshot's JF_END_CLEAN: its creation time (unix s) */
	enum jf_behind behind; /* a journal's JF_END_DAMAGE */
	size_t next;           /* JF_BEHIND_VALID: where the valid frame starts */
};

/* Walks the records of a file of this kind whose header (checked) data starts with, calling
 * cb (when not NULL) for each, until something that is not a record, or a record cb refuses
 * (returns < 0); w says which. This is where a journal's torn tail is told from damage: the
 * one rule shared by replay and salvage. */
void jf_walk(const uint8_t *data, size_t size, enum jf_kind kind,
             int (*cb)(void *ctx, const void *rec, size_t len), void *ctx, struct jf_walk *w);

/* The line for a JF_END_DAMAGE walk of the file `name`: where and what ("journal.3: record at
 * offset 1234 fails its checksum (length 52)"), without what lies behind it. */
void jf_damage_text(const struct jf_walk *w, const uint8_t *data, size_t size, enum jf_kind kind,
                    const char *name, char *buf, size_t n);

#endif
