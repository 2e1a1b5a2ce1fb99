/* Map from uint32_t keys to pointers: an open-addressing hash, optionally with a dense window
 * in front of it (u32map_init_dense) for keys that fill a known range. */
#ifndef PASIDD_U32MAP_H
#define PASIDD_U32MAP_H

#include <stddef.h>
#include <stdint.h>

#include "slab.h"

struct u32map_slot {
	uint32_t key;
	void *val; /* NULL marks an empty slot */
};

struct u32map {
	struct u32map_slot *slots;
	size_t cap;    /* power of two or 0 */
	size_t count;  /* keys held, in the window and in the hash */
	size_t hcount; /* ... in the hash */
	/* Dense window: the keys base+wlo..base+wlo+dcap-1 (within the span base..base+span-1)
	 * are held as the slab ids of their values in ids[key - base - wlo] (0: none); every
	 * other key is in the hash. The window grows (doubling, up to the span) while the keys of
	 * the span fill at least 1/8 of it, so it costs at most 32 B per key, and a few stray
	 * keys take hash slots instead. */
	const struct slab *pool; /* NULL: a plain hash */
	uint32_t *ids;
	uint32_t base, span, wlo, dcap;
	size_t nspan; /* keys within the span (window or hash) */
};

void u32map_init(struct u32map *m);
/* A map whose values are all objects of pool, with a window over base..base+span-1; prefill:
 * the whole window allocated now (a range that will fill; its pages cost memory as they are
 * written). 0 or -ENOMEM (prefill only). */
int u32map_init_dense(struct u32map *m, const struct slab *pool, uint32_t base, uint32_t span,
                      int prefill);
void u32map_free(struct u32map *m);
/* Lookups, insertions (u32map_put_obj) and removals are inline for a key of the window (a mapping's
 * number, nearly always: several of each per allocation and free); the rest goes out of line. */
void *u32map_get_slow(const struct u32map *m, uint32_t key);
void *u32map_del_slow(struct u32map *m, uint32_t key);

/* The window's slot of key, or -1 when the key is not held there. */
static inline int64_t
u32map_dense_off(const struct u32map *m, uint32_t key)
{
	uint32_t lo = m->base + m->wlo;

	return key >= lo && key - lo < m->dcap ? (int64_t)(key - lo) : -1;
}

static inline void *
u32map_get(const struct u32map *m, uint32_t key)
{
	int64_t off = u32map_dense_off(m, key);

	if (off >= 0)
		return m->ids[off] ? slab_at(m->pool, m->ids[off]) : NULL;
	return u32map_get_slow(m, key);
}

/* Inserts or replaces; val must not be NULL. 0 or -ENOMEM. */
int u32map_put(struct u32map *m, uint32_t key, void *val);
/* u32map_put of an object of the map's pool (u32map_init_dense), inline when the key falls
 * in the window. */
static inline int
u32map_put_obj(struct u32map *m, uint32_t key, void *val)
{
	int64_t off = u32map_dense_off(m, key);

	if (off < 0)
		return u32map_put(m, key, val);
	if (!m->ids[off]) {
		m->count++;
		m->nspan++;
	}
	m->ids[off] = slab_id(m->pool, val);
	return 0;
}
/* Makes room for `n` more keys so that the next n puts cannot fail. Inline: asked on every
 * allocation, and there is room nearly always. */
int u32map_reserve_grow(struct u32map *m, size_t n);
static inline int
u32map_reserve(struct u32map *m, size_t n)
{
	/* The hash's load stays under 3/4 (keys in the window need no room). */
	return m->cap && (m->hcount + n) * 4 < m->cap * 3 ? 0 : u32map_reserve_grow(m, n);
}
/* Removes key; its value, or NULL when it was not there. */
static inline void *
u32map_del(struct u32map *m, uint32_t key)
{
	int64_t off = u32map_dense_off(m, key);
	void *val;

	if (off < 0)
		return u32map_del_slow(m, key);
	if (!m->ids[off])
		return NULL;
	val = slab_at(m->pool, m->ids[off]);
	m->ids[off] = 0;
	m->count--;
	m->nspan--;
	return val;
}

/* Iteration: for (size_t i = 0; u32map_next(m, &i, &k, &v);) — not across changes. The
 * window's keys come first, in increasing order, then the hash's in no order. */
int u32map_next(const struct u32map *m, size_t *iter, uint32_t *key, void **val);
/* Whether the map agrees with itself (counts, each key where a lookup finds it, window ids of
 * live objects): 0, or -EUCLEAN with why. O(window + slots). */
int u32map_check(const struct u32map *m, char *why, size_t whylen);

#endif
