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

/* The records of a transaction (REC_TXN) read so far and not applied yet. */
struct image_txn {
	uint32_t want; /* records of it still to come; 0: none open */
	uint32_t held; /* records held */
	uint8_t *buf;  /* each as its u32 length (host order) and its bytes */
	size_t len, cap;
	uint32_t version;
};

struct image {
	struct ns *ns; /* replaying while records are applied */
	struct quota *quota;
	/* Where the records of a transaction wait for its last one; NULL: records framed by a
	 * REC_TXN are applied one by one as they come (a fuzzer's record-by-record replay). */
	struct image_txn *txn;
};

/* Applies one record of format version `version` (the file's: journal_file_format()) to
 * whichever part it belongs to: a quota record (record.h) to the quotas, every other to the
 * namespace; the records of a transaction once its last one is read. 0, or -EUCLEAN with why
 * (-ENOMEM). */
int image_apply(const struct image *im, uint32_t version, const void *rec, size_t len, char *why,
                size_t whylen);
/* After the last record: drops the records of a transaction that the journal ended in the
 * middle of (a crash during its commit) and returns how many there were, its REC_TXN
 * included (0: none); frees the buffer. */
uint32_t image_finish(const struct image *im);

/* journal_compact()'s write_state, ctx a struct image: every record that rebuilds both. */
int image_write(void *ctx, struct journal_snapshot *w);

#endif
