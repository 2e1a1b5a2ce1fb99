#include "image.h"
#include "journal.h"
#include "record.h"

int
image_apply(const struct image *im, uint32_t version, const void *rec, size_t len, char *why,
            size_t whylen)
{
	/* Runtime quota limits share the journal but belong to the quotas, not the namespace;
	 * their layout is the same in every version. */
	return rec_is_quota(rec, len) ? rec_apply_quota(im->quota, rec, len, why, whylen)
	                              : rec_apply_version(im->ns, version, rec, len, why, whylen);
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
