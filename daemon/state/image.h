/* The live state as journal records and back: the namespace and the quotas, which the
 * daemon's state (state.c) and pasidd --salvage (salvage.c) both replay records into and
 * write snapshots from. Internal to state/. */
#ifndef PASIDD_IMAGE_H
#define PASIDD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct journal_snapshot;
struct ns;
struct quota;

struct image {
	struct ns *ns; /* replaying while records are applied */
	struct quota *quota;
};

/* Applies one record of format version `version` (the file's: journal_file_format()) to
 * whichever part it belongs to: a quota record (record.h) to the quotas, every other to the
 * namespace. 0, or -EUCLEAN with why. */
int image_apply(const struct image *im, uint32_t version, const void *rec, size_t len, char *why,
                size_t whylen);

/* journal_compact()'s write_state, ctx a struct image: every record that rebuilds both. */
int image_write(void *ctx, struct journal_snapshot *w);

#endif
