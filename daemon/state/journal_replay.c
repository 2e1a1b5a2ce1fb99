/* Start-up: the state directory's records handed back in order.
 *
 * RECOVERY (journal_replay). Take the highest generation b whose snapshot is complete, or 0
 * with no snapshot if none is. Then the journals: journal.b and every journal above it up to
 * the highest one, t, replayed in that order. A journal above b exists only when a
 * background compaction (journal_compact.c) started journal.b+1 before its snapshot.b+1
 * stood: b+1 holds what followed the state of b, and so on up the chain. Refuse (-EUCLEAN):
 * when one of journals b..t is missing while a higher one exists (a gap: the records of the
 * missing one live nowhere else), when a snapshot file of a generation in b+1..t exists but
 * cannot be used (it appeared by rename once complete, so it is damaged, not torn), when an
 * incomplete snapshot was skipped and journal.b is missing (journal.b's records then live
 * only in the unreadable snapshot), when a journal is damaged (journal_format.c tells a torn
 * tail from damage), and when a journal below t ends in a torn tail: journal.k+1 is created
 * only after every commit to journal.k has finished, so a bad end with a journal behind it
 * is damage, not a crash. None of these can be produced by a crash with the order of either
 * compaction's steps, and a refusal changes no file. A file of another format version is
 * refused too (-EPROTONOSUPPORT), the snapshot of the newest generation included: skipping it
 * for an older one would lose what it holds. If journal.b is missing and none above it
 * exists (a crash between the foreground compaction's steps 3 and 6) it is created empty.
 * Finally *.tmp files, files of generations outside b..t and skipped snapshots are deleted.
 * Files of an older record format version are read as they are when the reader takes them
 * (journal_read_formats()), each file in its own version; a snapshot and the journal of its
 * generation are of the same one. A read-only handle (journal_open_readonly) replays the
 * same way but writes, truncates and deletes nothing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A snapshot verified in full, ready to deliver. */
struct snapshot_view {
	uint8_t *data;
	size_t size;
	int64_t created;
	uint32_t format; /* its records' version */
};

/* What replay reads: the generation, and its snapshot if it has one. */
struct replay_plan {
	uint64_t gen; /* b */
	uint64_t top; /* t: the last journal, b when there is no chain */
	bool have_snapshot;
	struct snapshot_view sv;
};

static int
cmp_gen_desc(const void *a, const void *b)
{
	const struct jf_file *x = a, *y = b;

	return x->gen < y->gen ? 1 : x->gen > y->gen ? -1 : 0;
}

/* 1 and a filled view if snapshot.<gen> is complete, 0 if it is not (with what is wrong in
 * why), <0 if it cannot be read (-EPROTONOSUPPORT: of another format, with why). */
static int
snapshot_load(const struct journal *j, uint64_t gen, struct snapshot_view *v, char *why,
              size_t whylen)
{
	char name[JF_NAME_LEN];
	struct jf_walk w;
	uint8_t *data;
	size_t size;
	int rc;

	jf_name(name, JF_SNAPSHOT, gen, false);
	rc = jio_read(j->dirfd, name, O_RDONLY, NULL, &data, &size);
	if (rc < 0)
		return rc;
	rc = jf_check_header(data, size, JF_SNAPSHOT, gen, j->oldest, j->format, why, whylen);
	if (rc == -EPROTONOSUPPORT) {
		free(data);
		return rc;
	}
	if (rc == 0) {
		jf_walk(data, size, JF_SNAPSHOT, NULL, NULL, &w);
		if (w.end == JF_END_CLEAN) {
			v->data = data;
			v->size = size;
			v->created = w.created;
			v->format = jf_header_format(data);
			return 1;
		}
		jf_damage_text(&w, data, size, JF_SNAPSHOT, name, why, whylen);
	}
	free(data);
	return 0;
}

/* Picks the generation to replay from the files in l, or refuses the directory. */
static int
choose_generation(struct journal *j, struct jio_list *l, struct replay_plan *p)
{
	char skipped[JOURNAL_ERR_MAX / 2] = "", why[JOURNAL_ERR_MAX / 2];
	uint64_t skipped_gen = 0;
	int rc;

	if (l->n) /* qsort() must not be given NULL, even for zero elements */
		qsort(l->v, l->n, sizeof(*l->v), cmp_gen_desc);
	for (size_t i = 0; i < l->n && !p->have_snapshot; i++) {
		char name[JF_NAME_LEN];

		if (l->v[i].kind != JF_SNAPSHOT || l->v[i].tmp)
			continue;
		why[0] = '\0';
		rc = snapshot_load(j, l->v[i].gen, &p->sv, why, sizeof(why));
		if (rc == -EPROTONOSUPPORT) {
			snprintf(j->err, sizeof(j->err), "%s", why);
			return rc;
		}
		if (rc < 0) {
			jf_name(name, JF_SNAPSHOT, l->v[i].gen, false);
			jio_read_failure(j, name, rc);
			return rc;
		}
		if (rc == 1) {
			p->have_snapshot = true;
			p->gen = l->v[i].gen;
		} else if (!skipped[0]) {
			/* The newest one that cannot be used is the one a refusal has to name. */
			snprintf(skipped, sizeof(skipped), "%s", why);
			skipped_gen = l->v[i].gen;
		}
	}
	p->top = p->gen;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == JF_JOURNAL && !l->v[i].tmp && l->v[i].gen > p->top)
			p->top = l->v[i].gen;
	/* Any snapshot file in b+1..t was skipped: with journals of its generation beside it,
	 * it is damaged. The list is sorted newest first: the lowest is named. */
	for (size_t i = l->n; i-- > 0;) {
		uint64_t g = l->v[i].gen;

		if (l->v[i].kind != JF_SNAPSHOT || l->v[i].tmp || g <= p->gen || g > p->top)
			continue;
		snprintf(j->err, sizeof(j->err),
		         "journal.%" PRIu64 " holds changes to snapshot.%" PRIu64
		         ", which cannot be used (%s)",
		         g, g, skipped_gen == g ? skipped : "incomplete");
		return -EUCLEAN;
	}
	/* The chain b..t without a gap: the lowest journal whose predecessor is missing is the
	 * one a refusal names. */
	for (size_t i = l->n; i-- > 0;) {
		uint64_t g = l->v[i].gen;

		if (l->v[i].kind != JF_JOURNAL || l->v[i].tmp || g <= p->gen ||
		    jio_has(l, JF_JOURNAL, g - 1))
			continue;
		snprintf(j->err, sizeof(j->err),
		         "journal.%" PRIu64 " holds changes to snapshot.%" PRIu64
		         ", which is missing, or to journal.%" PRIu64 ", which is missing too",
		         g, g, g - 1);
		return -EUCLEAN;
	}
	if (skipped[0] && !jio_has(l, JF_JOURNAL, p->gen)) {
		snprintf(j->err, sizeof(j->err),
		         "snapshot.%" PRIu64 " cannot be used (%s), and without journal.%" PRIu64
		         " the older state is not complete either",
		         skipped_gen, skipped, p->gen);
		return -EUCLEAN;
	}
	return 0;
}

/* Delivers the records of a snapshot that snapshot_load() verified in full. */
static int
replay_snapshot(struct journal *j, const struct replay_plan *p,
                int (*cb)(void *, const void *, size_t), void *ctx)
{
	size_t off = JF_HDR_SIZE;
	int rc;

	j->file_format = p->sv.format;
	for (;;) {
		uint32_t len = jf_get32(p->sv.data + off);

		if (len == JF_TRAILER_MARK)
			break;
		rc = cb(ctx, p->sv.data + off + JF_FRAME_SIZE, len);
		if (rc < 0) {
			snprintf(j->err, sizeof(j->err),
			         "snapshot.%" PRIu64 ", record at offset %zu", p->gen, off);
			return rc;
		}
		j->replayed++;
		off += JF_FRAME_SIZE + len;
	}
	j->snapshot_bytes = p->sv.size;
	j->snapshot_time = p->sv.created;
	return 0;
}

/* Delivers journal.<gen>'s records; refuses damage. A torn tail of the last journal (t) is
 * cut off and counted; of an earlier one, it is damage. */
static int
replay_journal(struct journal *j, const struct replay_plan *p, uint64_t gen,
               int (*cb)(void *, const void *, size_t), void *ctx, int *fd_out)
{
	char name[JF_NAME_LEN], what[JOURNAL_ERR_MAX / 2];
	bool last = gen == p->top;
	struct jf_walk w;
	uint8_t *data;
	size_t size;
	int fd, rc;

	jf_name(name, JF_JOURNAL, gen, false);
	rc = jio_read(j->dirfd, name, j->readonly ? O_RDONLY : O_RDWR, &fd, &data, &size);
	if (rc < 0) {
		jio_read_failure(j, name, rc);
		return rc;
	}
	/* Journals appear by rename with their header synced, so a bad header is damage, not a
	 * crash, and guessing could hand out PASIDs twice. */
	rc = jf_check_header(data, size, JF_JOURNAL, gen, j->oldest, j->format, j->err,
	                     sizeof(j->err));
	if (rc < 0)
		goto out;
	j->file_format = jf_header_format(data);
	if (p->have_snapshot && gen == p->gen) {
		rc = jf_check_generation(gen, j->file_format, p->sv.format, j->err, sizeof(j->err));
		if (rc < 0)
			goto out;
	}
	jf_walk(data, size, JF_JOURNAL, cb, ctx, &w);
	j->replayed += w.records;
	switch (w.end) {
	case JF_END_REFUSED:
		snprintf(j->err, sizeof(j->err), "%s, record at offset %zu", name, w.off);
		rc = w.rc;
		goto out;
	case JF_END_DAMAGE:
		jf_damage_text(&w, data, size, JF_JOURNAL, name, what, sizeof(what));
		if (w.behind == JF_BEHIND_VALID)
			snprintf(
			    j->err, sizeof(j->err),
			    "%s, and valid records follow at offset %zu: the journal is damaged, "
			    "not torn",
			    what, w.next);
		else
			snprintf(j->err, sizeof(j->err),
			         "%s, and whether valid records follow could not be settled within "
			         "%u MiB of checksum work: taken as damage, not as a torn tail",
			         what, JF_SCAN_BUDGET >> 20);
		rc = -EUCLEAN;
		goto out;
	case JF_END_TORN:
		if (!last) {
			jf_damage_text(&w, data, size, JF_JOURNAL, name, what, sizeof(what));
			snprintf(j->err, sizeof(j->err),
			         "%s, and journal.%" PRIu64
			         " follows it: the journal is damaged, not torn (its successor was "
			         "begun after its last commit)",
			         what, gen + 1);
			rc = -EUCLEAN;
			goto out;
		}
		if (!j->readonly && (ftruncate(fd, (off_t)w.off) < 0 || fdatasync(fd) < 0)) {
			rc = -errno;
			snprintf(j->err, sizeof(j->err), "cannot cut the torn tail off %s: %s",
			         name, strerror(-rc));
			goto out;
		}
		j->dropped = size - w.off;
		break;
	case JF_END_CLEAN:
		break;
	}
	j->committed = w.off;
out:
	free(data);
	if (rc < 0 || j->readonly || !last)
		close(fd);
	else
		*fd_out = fd;
	return rc;
}

/* The journals b..t, replayed in order; journal.b created empty when a crash between the
 * foreground compaction's steps 3 and 6 left none (the snapshot then holds everything). */
static int
replay_or_create_journal(struct journal *j, const struct jio_list *l, const struct replay_plan *p,
                         int (*cb)(void *, const void *, size_t), void *ctx, int *fd)
{
	uint64_t gen = p->gen;
	int rc = 0;

	if (jio_has(l, JF_JOURNAL, gen)) {
		/* choose_generation() saw every one of them there */
		for (uint64_t g = gen;; g++) {
			rc = replay_journal(j, p, g, cb, ctx, fd);
			if (rc < 0 || g == p->top)
				return rc;
		}
	}
	/* In the snapshot's version: the generation stays of one, and an upgrade compacts it
	 * as it does any other. A read-only replay creates nothing. */
	j->file_format = p->have_snapshot ? p->sv.format : j->format;
	if (!j->readonly) {
		rc = jio_create_journal(j->dirfd, gen, j->file_format, fd);
		if (rc < 0)
			snprintf(j->err, sizeof(j->err), "cannot create journal.%" PRIu64 ": %s",
			         gen, strerror(-rc));
	}
	j->committed = JF_HDR_SIZE;
	return rc;
}

static void
delete_stale(struct journal *j, const struct jio_list *l, const struct replay_plan *p)
{
	uint64_t gen = p->gen;
	bool have_snapshot = p->have_snapshot;

	bool removed = false;

	for (size_t i = 0; i < l->n; i++) {
		const struct jf_file *f = &l->v[i];
		char name[JF_NAME_LEN];

		/* Files of newer generations that survived the checks in journal_replay() are
		 * incomplete snapshots, like an unusable snapshot of this generation. */
		if (!f->tmp && f->gen == gen && (f->kind == JF_JOURNAL || have_snapshot))
			continue;
		if (!f->tmp && f->kind == JF_JOURNAL && f->gen > gen && f->gen <= p->top)
			continue; /* the chain */
		jf_name(name, f->kind, f->gen, f->tmp);
		/* Best effort: a leftover is removed again at the next start and, being older,
		 * incomplete or temporary, is never used. */
		if (jio_unlink(j->dirfd, name) == 0)
			removed = true;
	}
	if (removed)
		fsync(j->dirfd);
}

int
journal_replay(struct journal *j, int (*cb)(void *ctx, const void *rec, size_t len), void *ctx)
{
	struct replay_plan p = {0};
	struct jio_list l = {0};
	int fd = -1, rc;

	if (!j || !cb)
		return -EINVAL;
	if (j->phase != PHASE_OPENED)
		return j->phase == PHASE_BROKEN ? -EIO : -EINVAL;
	/* Any failure below leaves the handle unusable: the caller must not append to a state
	 * it has only partly seen. */
	j->phase = PHASE_BROKEN;
	j->err[0] = '\0';

	rc = jio_list(j->dirfd, &l);
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "cannot list the directory: %s", strerror(-rc));
		goto out;
	}
	rc = choose_generation(j, &l, &p);
	if (rc == 0 && p.have_snapshot)
		rc = replay_snapshot(j, &p, cb, ctx);
	if (rc == 0)
		rc = replay_or_create_journal(j, &l, &p, cb, ctx, &fd);
	if (rc < 0)
		goto out;

	if (!j->readonly)
		delete_stale(j, &l, &p);
	j->fd = fd;
	j->base = p.gen;
	j->gen = p.top;
	j->phase = PHASE_READY;
out:
	free(p.sv.data);
	free(l.v);
	return rc;
}
