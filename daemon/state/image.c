#include "image.h"
#include "journal.h"
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
apply_one(const struct image *im, uint32_t version, const void *rec, size_t len, char *why,
          size_t whylen)
{
	/* Runtime quota limits share the journal but belong to the quotas, not the namespace;
	 * their layout is the same in every version. */
	return rec_is_quota(rec, len) ? rec_apply_quota(im->quota, rec, len, why, whylen)
	                              : rec_apply_version(im->ns, version, rec, len, why, whylen);
}

static void
txn_clear(struct image_txn *t)
{
	free(t->buf);
	*t = (struct image_txn){0};
}

static int
hold(struct image_txn *t, const void *rec, size_t len)
{
	uint32_t n = (uint32_t)len;

	if (t->len + sizeof(n) + len > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		uint8_t *b;

		while (cap < t->len + sizeof(n) + len)
			cap *= 2;
		if (!(b = realloc(t->buf, cap)))
			return -ENOMEM;
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, &n, sizeof(n));
	memcpy(t->buf + t->len + sizeof(n), rec, len);
	t->len += sizeof(n) + len;
	t->held++;
	return 0;
}

/* The transaction's last record came: all of it, in order. */
static int
apply_held(const struct image *im, char *why, size_t whylen)
{
	struct image_txn *t = im->txn;
	int r = 0;

	for (size_t off = 0; r == 0 && off < t->len;) {
		uint32_t n;

		memcpy(&n, t->buf + off, sizeof(n));
		r = apply_one(im, t->version, t->buf + off + sizeof(n), n, why, whylen);
		off += sizeof(n) + n;
	}
	t->len = 0;
	t->held = 0;
	return r;
}

int
image_apply(const struct image *im, uint32_t version, const void *rec, size_t len, char *why,
            size_t whylen)
{
	struct image_txn *t = im->txn;
	uint32_t n;

	if (rec_is_txn(rec, len, version, &n)) {
		if (t && t->want) {
			snprintf(why, whylen,
			         "a transaction begins before the %u record(s) left of the one "
			         "before it",
			         t->want);
			return -EUCLEAN;
		}
		if (t) {
			t->want = n;
			t->version = version;
		}
		return 0;
	}
	if (!t || !t->want)
		return apply_one(im, version, rec, len, why, whylen);
	if (hold(t, rec, len) < 0) {
		snprintf(why, whylen, "out of memory holding a transaction");
		return -ENOMEM;
	}
	return --t->want ? 0 : apply_held(im, why, whylen);
}

uint32_t
image_finish(const struct image *im)
{
	uint32_t dropped = 0;

	if (im->txn) {
		dropped = im->txn->want ? im->txn->held + 1 : 0;
		txn_clear(im->txn);
	}
	return dropped;
}

static int
snapshot_add(void *ctx, const void *rec, size_t len)
{
	return journal_snapshot_add(ctx, rec, len);
}

int
image_write(void *ctx, struct journal_snapshot *w)
{
	const struct image *im = ctx;
	int r = rec_snapshot(im->ns, snapshot_add, w);

	return r < 0 ? r : rec_snapshot_quota(im->quota, snapshot_add, w);
}
