/* A set of small integers 0..size-1 with O(log64 size) insert, erase and "first free at or
 * after" queries, whatever the fill level. */
#ifndef PASIDD_IDMAP_H
#define PASIDD_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

#define IDMAP_MAX_LEVELS 5 /* 64^5 > 2^30, more than any PASID width */

struct idmap {
	uint32_t size;
	uint32_t used;
	unsigned nlevels;
	uint32_t nwords[IDMAP_MAX_LEVELS];
	uint64_t *level[IDMAP_MAX_LEVELS]; /* level[0]: one bit per id, 1 = used */
};

int idmap_init(struct idmap *m, uint32_t size);
void idmap_free(struct idmap *m);
bool idmap_test(const struct idmap *m, uint32_t i);
void idmap_set(struct idmap *m, uint32_t i);
void idmap_clear(struct idmap *m, uint32_t i);
/* First free id >= from, or -1. */
int64_t idmap_find_free(const struct idmap *m, uint32_t from);
/* First used id >= from, or -1. A scan of level 0 (the summaries track full words, not
 * empty ones): for walking a set in order, where each call resumes where the last ended. */
int64_t idmap_find_used(const struct idmap *m, uint32_t from);
/* First free id >= from, wrapping around to 0: the next-fit search. -1 when full. */
int64_t idmap_find_free_wrap(const struct idmap *m, uint32_t from);

#endif
