/* Linear probing with backward-shift deletion: no tombstones, so lookups stay short after
 * any number of alloc/free cycles. The dense window (see u32map.h) takes the hashing, the
 * 16-byte slots and the rehashing out of maps whose keys fill a range. */
#include "u32map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

#define DENSE_MIN 64 /* first window, in keys */

static size_t
slot_of(const struct u32map *m, uint32_t key)
{
	/* Fibonacci hashing spreads consecutive PASIDs. */
	return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ULL) >> 32) & (m->cap - 1);
}

void
u32map_init(struct u32map *m)
{
	memset(m, 0, sizeof(*m));
}

int
u32map_init_dense(struct u32map *m, const struct slab *pool, uint32_t base, uint32_t span,
                  int prefill)
{
	u32map_init(m);
	m->pool = pool;
	m->base = base;
	m->span = span;
	if (prefill && span) {
		if (!(m->ids = calloc(span, sizeof(*m->ids))))
			return -ENOMEM;
		m->dcap = span;
	}
	return 0;
}

void
u32map_free(struct u32map *m)
{
	free(m->slots);
	free(m->ids);
	m->slots = NULL;
	m->ids = NULL;
	m->cap = m->count = m->hcount = m->nspan = 0;
	m->dcap = 0;
}

static void *
hash_get(const struct u32map *m, uint32_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].val)
			return NULL;
		if (m->slots[i].key == key)
			return m->slots[i].val;
	}
}

static void
insert_slot(struct u32map *m, uint32_t key, void *val)
{
	size_t i = slot_of(m, key);

	while (m->slots[i].val && m->slots[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].val)
		m->hcount++;
	m->slots[i].key = key;
	m->slots[i].val = val;
}

static int
grow(struct u32map *m, size_t ncap)
{
	struct u32map_slot *old = m->slots;
	size_t ocap = m->cap;

	m->slots = calloc(ncap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = ncap;
	m->hcount = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].val)
			insert_slot(m, old[i].key, old[i].val);
	free(old);
	return 0;
}

int
u32map_reserve_grow(struct u32map *m, size_t n)
{
	size_t ncap = m->cap ? m->cap : 16;

	/* Keep the load factor under 3/4. */
	while ((m->hcount + n) * 4 >= ncap * 3)
		ncap *= 2;
	return ncap == m->cap ? 0 : grow(m, ncap);
}

static void *
hash_del(struct u32map *m, uint32_t key)
{
	size_t i, j;
	void *val;

	if (!m->cap)
		return NULL;
	for (i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].val)
			return NULL;
		if (m->slots[i].key == key)
			break;
	}
	val = m->slots[i].val;
	m->slots[i].val = NULL;
	m->hcount--;
	/* Shift back every following entry that would no longer be reachable. */
	for (j = (i + 1) & (m->cap - 1); m->slots[j].val; j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m, m->slots[j].key);

		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			m->slots[i] = m->slots[j];
			m->slots[j].val = NULL;
			i = j;
		}
	}
	return val;
}

#define dense_off u32map_dense_off

void *
u32map_get_slow(const struct u32map *m, uint32_t key)
{
	/* Outside the window (u32map_get took the keys inside it). */
	return hash_get(m, key);
}

static int
in_span(const struct u32map *m, uint32_t key)
{
	return m->pool && key >= m->base && key - m->base < m->span;
}

/* Grows the window (doubling, towards offset off, which it does not cover) when the span's
 * keys would fill 1/8 of it, and moves the hash's keys it now covers. The first window starts
 * at the first key, so a map whose keys fill the top of the span pays for that part only.
 * Best effort: on ENOMEM nothing changes (the key goes to the hash, where u32map_reserve
 * made room). */
static void
dense_grow(struct u32map *m, uint32_t off)
{
	uint64_t lo, hi, ncap = m->dcap ? 2 * (uint64_t)m->dcap : DENSE_MIN, shift;
	struct u32map_slot *old = m->slots, *slots = NULL;
	uint32_t *ids;

	if (!m->dcap)
		lo = hi = off & ~(uint64_t)(DENSE_MIN - 1);
	else
		lo = m->wlo, hi = (uint64_t)m->wlo + m->dcap;
	if (off < lo)
		lo = off;
	if (off >= hi)
		hi = (uint64_t)off + 1;
	while (ncap < hi - lo)
		ncap *= 2;
	if (ncap > m->span)
		ncap = m->span;
	if (ncap > DENSE_MIN && (m->nspan + 1) * 8 < ncap)
		return;
	/* Downwards the window ends where it ended; upwards it starts where it started. */
	if (m->dcap && off < m->wlo)
		lo = hi > ncap ? hi - ncap : 0;
	if (lo + ncap > m->span)
		lo = m->span - ncap;
	/* A new table only when the hash holds keys to move: an empty one stays as it is (a
	 * count allocation makes room in the hash for all its keys, and a window grown nine
	 * times while a VM fills would otherwise zero that room nine times). */
	if (m->hcount && !(slots = calloc(m->cap, sizeof(*slots))))
		return;
	if (!(ids = realloc(m->ids, ncap * sizeof(*ids)))) {
		free(slots);
		return;
	}
	shift = m->dcap ? m->wlo - lo : 0;
	memmove(ids + shift, ids, (size_t)m->dcap * sizeof(*ids));
	memset(ids, 0, shift * sizeof(*ids));
	memset(ids + shift + m->dcap, 0, (ncap - shift - m->dcap) * sizeof(*ids));
	m->ids = ids;
	m->wlo = (uint32_t)lo;
	m->dcap = (uint32_t)ncap;
	/* The hash's keys now within the window move into it; the rest are put back into a
	 * table of the same size (there is room: it had them all). */
	if (slots) {
		size_t ocap = m->cap;

		m->slots = slots;
		m->hcount = 0;
		for (size_t i = 0; i < ocap; i++) {
			int64_t d;

			if (!old[i].val)
				continue;
			if ((d = dense_off(m, old[i].key)) >= 0)
				m->ids[d] = slab_id(m->pool, old[i].val);
			else
				insert_slot(m, old[i].key, old[i].val);
		}
		free(old);
	}
}

int
u32map_put(struct u32map *m, uint32_t key, void *val)
{
	int64_t off = dense_off(m, key);
	int r;

	if (off < 0 && in_span(m, key) && !hash_get(m, key)) {
		dense_grow(m, key - m->base);
		off = dense_off(m, key);
	}
	if (off >= 0) {
		if (!m->ids[off]) {
			m->count++;
			m->nspan++;
		}
		m->ids[off] = slab_id(m->pool, val);
		return 0;
	}
	if ((r = u32map_reserve(m, 1)) < 0)
		return r;
	if (!hash_get(m, key)) {
		m->count++;
		m->nspan += in_span(m, key);
	}
	insert_slot(m, key, val);
	return 0;
}

/* Outside the window (u32map_del took the keys inside it). */
void *
u32map_del_slow(struct u32map *m, uint32_t key)
{
	void *val;

	if ((val = hash_del(m, key))) {
		m->count--;
		m->nspan -= in_span(m, key);
	}
	return val;
}

int
u32map_next(const struct u32map *m, size_t *iter, uint32_t *key, void **val)
{
	for (; *iter < m->dcap; (*iter)++) {
		if (m->ids[*iter]) {
			if (key)
				*key = m->base + m->wlo + (uint32_t)*iter;
			if (val)
				*val = slab_at(m->pool, m->ids[*iter]);
			(*iter)++;
			return 1;
		}
	}
	for (; *iter - m->dcap < m->cap; (*iter)++) {
		size_t i = *iter - m->dcap;

		if (m->slots[i].val) {
			if (key)
				*key = m->slots[i].key;
			if (val)
				*val = m->slots[i].val;
			(*iter)++;
			return 1;
		}
	}
	return 0;
}

int
u32map_check(const struct u32map *m, char *why, size_t whylen)
{
	size_t dense = 0, hashed = 0, nspan = 0;

	for (uint32_t i = 0; i < m->dcap; i++) {
		if (!m->ids[i])
			continue;
		/* A freed object holds the next free id, never its own. */
		if (m->ids[i] >= m->pool->next ||
		    slab_id(m->pool, slab_at(m->pool, m->ids[i])) != m->ids[i]) {
			snprintf(why, whylen, "key %u holds id %u, not a live object",
			         m->base + m->wlo + i, m->ids[i]);
			return -EUCLEAN;
		}
		dense++;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].val)
			continue;
		if (dense_off(m, m->slots[i].key) >= 0 ||
		    hash_get(m, m->slots[i].key) != m->slots[i].val) {
			snprintf(why, whylen, "key %u hashed where it cannot be found",
			         m->slots[i].key);
			return -EUCLEAN;
		}
		hashed++;
		nspan += in_span(m, m->slots[i].key);
	}
	if (dense + hashed != m->count || hashed != m->hcount || dense + nspan != m->nspan ||
	    (uint64_t)m->wlo + m->dcap > m->span) {
		snprintf(why, whylen,
		         "counts %zu keys (%zu hashed, %zu in span) but holds %zu + %zu", m->count,
		         m->hcount, m->nspan, dense, hashed);
		return -EUCLEAN;
	}
	return 0;
}
