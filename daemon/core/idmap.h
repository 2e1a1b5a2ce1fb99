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
/* Setting and clearing are inline for their common case, a bit of level 0 whose word
 * neither fills nor stops being full (every allocation and free does one of each per map);
 * a summary level to update goes out of line. */
void idmap_set_up(struct idmap *m, uint32_t word);
void idmap_clear_up(struct idmap *m, uint32_t word);

static inline bool
idmap_test(const struct idmap *m, uint32_t i)
{
	return i >= m->size || (m->level[0][i / 64] >> (i % 64)) & 1;
}

static inline void
idmap_set(struct idmap *m, uint32_t i)
{
	uint64_t *w, bit;

	if (i >= m->size)
		return;
	w = &m->level[0][i / 64];
	bit = 1ULL << (i % 64);
	if (*w & bit)
		return;
	m->used++;
	*w |= bit;
	if (*w == ~0ULL && m->nlevels > 1)
		idmap_set_up(m, i / 64);
}

static inline void
idmap_clear(struct idmap *m, uint32_t i)
{
	uint64_t *w, bit;

	if (i >= m->size)
		return;
	w = &m->level[0][i / 64];
	bit = 1ULL << (i % 64);
	if (!(*w & bit))
		return;
	m->used--;
	if (*w == ~0ULL && m->nlevels > 1)
		idmap_clear_up(m, i / 64);
	*w &= ~bit;
}
/* First free id >= from, or -1. */
int64_t idmap_find_free(const struct idmap *m, uint32_t from);
/* First used id >= from, or -1. A scan of level 0 (the summaries track full words, not
 * empty ones): for walking a set in order, where each call resumes where the last ended. */
int64_t idmap_find_used(const struct idmap *m, uint32_t from);
/* First free id >= from, wrapping around to 0: the next-fit search. -1 when full. */
int64_t idmap_find_free_wrap(const struct idmap *m, uint32_t from);

#endif
