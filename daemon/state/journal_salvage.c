/* pasidd --salvage at the level of files: what a refused state directory still holds.
 *
 * SALVAGE (journal_salvage) takes over where replay refuses: the records replay would read,
 * in its order, up to the first damage are the valid prefix: the newest snapshot b (none for
 * generation 0), then journal.b and each journal above it up to the highest, t (the chain a
 * background compaction leaves when it did not finish, journal_replay.c). Every CRC-valid
 * frame found after that point is handed over separately for what it tells about PASIDs that
 * may still be in use. Where the prefix ends is decided as replay decides it (jf_walk(),
 * journal_format.c): a torn tail of journal.t is no damage, and is dropped as replay drops
 * it; one of a journal with another behind it is damage, and so is a gap in the chain.
 * journal_salvage_commit() then hard-links every snapshot and journal file to
 * NAME.damaged-<unixtime>, a name replay ignores, compacts the salvaged state into a
 * generation above all of them and removes the old names. A crash before the compaction's
 * step 3 (journal_compact.c) leaves the old, refused directory (plus links); one after it,
 * the new generation. A file of another format version is not damage: salvage refuses it
 * as replay does, before anything is written. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The checksum work allowed for reading everything that can be read of a damaged state. */
#define SALVAGE_BUDGET (1u << 30)

struct salvage {
	struct journal *j;
	int (*keep)(void *ctx, const void *rec, size_t len);
	void (*lost)(void *ctx, const char *file, uint64_t off, const void *rec, size_t len);
	void *ctx;
	struct journal_salvage_info *info;
	uint64_t budget;          /* for reading the damaged part */
	bool snapshot_whole;      /* the newest generation's snapshot went to keep whole */
	uint32_t snapshot_format; /* and was of this version */
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

	while (p < size && size - p >= JF_FRAME_SIZE) {
		int r = jf_valid_at(data, size, p, &s->budget);

		if (r < 0) {
			s->info->scan_incomplete = true;
			break;
		}
		if (r == 0) {
			p++;
			s->info->unreadable_bytes++;
			continue;
		}
		s->lost(s->ctx, name, p, data + p + JF_FRAME_SIZE, jf_get32(data + p));
		s->info->lost_records++;
		p += JF_FRAME_SIZE + jf_get32(data + p);
	}
	s->info->unreadable_bytes += size - p;
}

/* A file of the valid prefix with a good header: its records go to keep until the first
 * damage or the first record keep refuses; from there on, to lost. last: the chain's last
 * journal, the only one whose tail may be torn. */
static void
salvage_prefix(struct salvage *s, const char *name, enum jf_kind kind, const uint8_t *data,
               size_t size, bool last)
{
	struct jf_walk w;

	jf_walk(data, size, kind, s->keep, s->ctx, &w);
	s->info->prefix_records += w.records;
	switch (w.end) {
	case JF_END_CLEAN:
		return;
	case JF_END_TORN:
		/* A torn tail that replay would cut off too; with a journal behind it, no
		 * commit can have been cut there, so it is damage. */
		if (kind == JF_JOURNAL && last) {
			s->info->torn_bytes = size - w.off;
			return;
		}
		if (kind == JF_JOURNAL) {
			cut(s,
			    "%s: ends at offset %zu in a torn record, with a newer journal behind "
			    "it",
			    name, w.off);
			break;
		}
		return;
	case JF_END_REFUSED:
		cut(s, "%s: record at offset %zu does not apply", name, w.off);
		break;
	case JF_END_DAMAGE:
		jf_damage_text(&w, data, size, kind, name, s->info->damage,
		               sizeof(s->info->damage));
		s->info->damaged = true;
		break;
	}
	read_lost(s, name, data, size, w.off);
}

/* Reads one file and salvages it (of the valid prefix, before any damage) or reads it for
 * lost records. last: see salvage_prefix(). */
static int
salvage_read(struct salvage *s, enum jf_kind kind, uint64_t gen, bool newest, bool last)
{
	char name[JF_NAME_LEN], why[JOURNAL_ERR_MAX];
	uint8_t *data;
	size_t size;
	bool hdr;
	int rc;

	jf_name(name, kind, gen, false);
	rc = jio_read(s->j->dirfd, name, O_RDONLY, NULL, &data, &size);
	if (rc < 0) {
		jio_read_failure(s->j, name, rc);
		return rc;
	}
	rc = jf_check_header(data, size, kind, gen, s->j->oldest, s->j->format, why, sizeof(why));
	if (rc == -EPROTONOSUPPORT) {
		/* Records of another format read as ours would be guesses, not salvage. */
		snprintf(s->j->err, sizeof(s->j->err), "%s", why);
		free(data);
		return rc;
	}
	hdr = rc == 0;
	if (hdr && newest && !s->info->damaged && kind == JF_JOURNAL && s->snapshot_whole)
		rc = jf_check_generation(gen, jf_header_format(data), s->snapshot_format, why,
		                         sizeof(why));
	if (!newest || s->info->damaged) {
		read_lost(s, name, data, size, hdr ? JF_HDR_SIZE : 0);
	} else if (rc < 0) {
		/* A header that does not hold, or a journal of another version than its
		 * snapshot, as replay refuses them; its records, if any, are lost. */
		cut(s, "%s", why);
		read_lost(s, name, data, size, hdr ? JF_HDR_SIZE : 0);
	} else {
		/* Each file in its own version: keep asks which (journal_file_format()). */
		s->j->file_format = jf_header_format(data);
		salvage_prefix(s, name, kind, data, size, last);
		if (kind == JF_SNAPSHOT && !s->info->damaged) {
			s->snapshot_whole = true;
			s->snapshot_format = s->j->file_format;
		}
	}
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
	struct jio_list *l;
	uint64_t top = 0, base = 0;
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
	rc = jio_list(j->dirfd, l);
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
		if (l->v[i].kind == JF_SNAPSHOT && l->v[i].gen > base)
			base = l->v[i].gen;
	}
	if (!any)
		return 0;

	/* The valid prefix: snapshot.base (none for generation 0), then journal.base up to
	 * journal.top. With no snapshot at all, base is 0 when journal.0 is there, and top
	 * otherwise: the journal above a snapshot that is missing. */
	if (base == 0 && !jio_has(l, JF_SNAPSHOT, 0) && !jio_has(l, JF_JOURNAL, 0))
		base = top;
	whole_base = base == 0 && !jio_has(l, JF_SNAPSHOT, 0);
	if (jio_has(l, JF_SNAPSHOT, base)) {
		rc = salvage_read(&s, JF_SNAPSHOT, base, true, false);
		if (rc < 0)
			return rc;
		whole_base = !info->damaged;
	} else if (!whole_base) {
		cut(&s,
		    "journal.%" PRIu64 " holds changes to snapshot.%" PRIu64 ", which is missing",
		    base, base);
	}
	for (uint64_t g = base; g <= top; g++) {
		if (!jio_has(l, JF_JOURNAL, g)) {
			if (g < top && !info->damaged)
				cut(&s,
				    "journal.%" PRIu64 " is missing between journal.%" PRIu64
				    " and journal.%" PRIu64,
				    g, base, top);
			continue;
		}
		rc = salvage_read(&s, JF_JOURNAL, g, true, g == top);
		if (rc < 0)
			return rc;
	}
	/* Without a whole base snapshot, the older files are the only record of what it held. */
	for (size_t i = 0; !whole_base && i < l->n; i++) {
		if (l->v[i].tmp || l->v[i].gen >= base)
			continue;
		rc = salvage_read(&s, l->v[i].kind, l->v[i].gen, false, false);
		if (rc < 0)
			return rc;
	}
	if (!info->damaged)
		return 0;       /* nothing that replay would refuse: the handle stays unusable */
	j->gen = j->base = top; /* compaction's steps 8-9 remove top's files */
	j->committed = JF_HDR_SIZE;
	j->phase = PHASE_READY;
	j->salvaging = true;
	return 0;
}

/* Every old file under a second name that replay ignores, durably, before anything else
 * changes: from here on its bytes stay as they are for inspection. */
static int
keep_aside(struct journal *j, void (*kept)(void *ctx, const char *file, const char *aside),
           void *ctx)
{
	long long now = (long long)time(NULL);
	const struct jio_list *l = j->files;
	int rc;

	for (size_t i = 0; i < l->n; i++) {
		char name[JF_NAME_LEN], aside[JF_NAME_LEN + 40];

		if (l->v[i].tmp)
			continue;
		jf_name(name, l->v[i].kind, l->v[i].gen, false);
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
	return 0;
}

int
journal_salvage_commit(struct journal *j, int (*write_state)(void *ctx, struct journal_snapshot *w),
                       void *ctx, void (*kept)(void *ctx, const char *file, const char *aside))
{
	const struct jio_list *l;
	int rc;

	if (!j || !write_state || !j->salvaging || j->phase != PHASE_READY)
		return -EINVAL;
	rc = keep_aside(j, kept, ctx);
	if (rc < 0)
		return rc;
	j->salvaging = false;
	rc = journal_compact(j, write_state, ctx);
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "cannot write the salvaged state: %s",
		         strerror(-rc));
		return rc;
	}
	/* The new generation stands; the old names go (compaction took those of the newest
	 * one already), their bytes stay under the .damaged names. */
	l = j->files;
	for (size_t i = 0; i < l->n; i++) {
		char name[JF_NAME_LEN];

		if (l->v[i].tmp)
			continue;
		jf_name(name, l->v[i].kind, l->v[i].gen, false);
		jio_unlink(j->dirfd, name);
	}
	fsync(j->dirfd);
	return 0;
}
