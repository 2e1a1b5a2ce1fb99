/*
 * Hierarchical bitmap. Level 0 has one bit per id (1 = used); a bit of level k+1 is set
 * when word i of level k is full. A search for a free id looks at one word per level
 * going up and one per level coming down, so allocation costs the same at 1% and at
 * 99.99% fill, unlike a flat bitmap scan (O(size/64)) or a free list that cannot do
 * next-fit from an arbitrary cursor. 2^20 ids need 128 KiB + 2 KiB of summaries.
 */
#include "idmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
idmap_init(struct idmap *m, uint32_t size)
{
	uint64_t nbits = size;

	memset(m, 0, sizeof(*m));
	m->size = size;
	do {
		uint32_t nw = (uint32_t)((nbits + 63) / 64);

		if (m->nlevels == IDMAP_MAX_LEVELS)
			goto fail;
		if (nw == 0)
			nw = 1;
		m->level[m->nlevels] = calloc(nw, sizeof(uint64_t));
		if (!m->level[m->nlevels])
			goto fail;
		m->nwords[m->nlevels] = nw;
		/* Bits past the end count as used so that no search ever returns them. */
		if (nbits % 64 || nbits == 0)
			m->level[m->nlevels][nw - 1] = ~0ULL << (nbits % 64);
		m->nlevels++;
		nbits = nw;
	} while (nbits > 1);
	return 0;
fail:
	idmap_free(m);
	return -ENOMEM;
}

void
idmap_free(struct idmap *m)
{
	for (unsigned l = 0; l < m->nlevels; l++)
		free(m->level[l]);
	memset(m, 0, sizeof(*m));
}

/* Word `word` of level 0 became full: its bit in level 1, and up while words fill. */
void
idmap_set_up(struct idmap *m, uint32_t word)
{
	uint32_t i = word;

	for (unsigned l = 1; l < m->nlevels; l++) {
		uint64_t *w = &m->level[l][i / 64];

		*w |= 1ULL << (i % 64);
		if (*w != ~0ULL)
			break;
		i /= 64;
	}
}

/* Word `word` of level 0 was full and is not any more: up while words were full. */
void
idmap_clear_up(struct idmap *m, uint32_t word)
{
	uint32_t i = word;

	for (unsigned l = 1; l < m->nlevels; l++) {
		uint64_t *w = &m->level[l][i / 64];
		bool was_full = *w == ~0ULL;

		*w &= ~(1ULL << (i % 64));
		if (!was_full)
			break;
		i /= 64;
	}
}

/* First index >= pos at level l whose bit is clear, or -1. */
static int64_t
find_at(const struct idmap *m, unsigned l, uint64_t pos)
{
	uint64_t w = pos / 64, bits;
	int64_t up;

	if (w >= m->nwords[l])
		return -1;
	bits = ~m->level[l][w] & (~0ULL << (pos % 64));
	if (bits)
		return (int64_t)(w * 64 + (uint64_t)__builtin_ctzll(bits));
	if (l + 1 == m->nlevels)
		return -1;
	up = find_at(m, l + 1, w + 1);
	if (up < 0)
		return -1;
	return up * 64 + __builtin_ctzll(~m->level[l][up]);
}

int64_t
idmap_find_free(const struct idmap *m, uint32_t from)
{
	if (from >= m->size)
		return -1;
	return find_at(m, 0, from);
}

int64_t
idmap_find_free_wrap(const struct idmap *m, uint32_t from)
{
	int64_t r = idmap_find_free(m, from);

	return r >= 0 || from == 0 ? r : idmap_find_free(m, 0);
}

int64_t
idmap_find_used(const struct idmap *m, uint32_t from)
{
	uint32_t w = from / 64;
	uint64_t bits;

	if (from >= m->size)
		return -1;
	for (bits = m->level[0][w] & (~0ULL << (from % 64));; bits = m->level[0][w]) {
		if (bits) {
			uint64_t i = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);

			/* Bits past the end are set as "used" padding: not ids. */
			return i < m->size ? (int64_t)i : -1;
		}
		if (++w >= m->nwords[0])
			return -1;
	}
}
