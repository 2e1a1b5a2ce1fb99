/* Linear probing with backward-shift deletion: no tombstones, so lookups stay short after
 * any number of alloc/free cycles. */
#include "u32map.h"

#include <errno.h>
#include <stdlib.h>

static size_t
slot_of(const struct u32map *m, uint32_t key)
{
	/* Fibonacci hashing spreads consecutive PASIDs. */
	return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ULL) >> 32) & (m->cap - 1);
}

void
u32map_init(struct u32map *m)
{
	m->slots = NULL;
	m->cap = m->count = 0;
}

void
u32map_free(struct u32map *m)
{
	free(m->slots);
	u32map_init(m);
}

void *
u32map_get(const struct u32map *m, uint32_t key)
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
		m->count++;
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
	m->count = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].val)
			insert_slot(m, old[i].key, old[i].val);
	free(old);
	return 0;
}

int
u32map_reserve(struct u32map *m, size_t n)
{
	size_t ncap = m->cap ? m->cap : 16;

	/* Keep the load factor under 3/4. */
	while ((m->count + n) * 4 >= ncap * 3)
		ncap *= 2;
	return ncap == m->cap ? 0 : grow(m, ncap);
}

int
u32map_put(struct u32map *m, uint32_t key, void *val)
{
	int r = u32map_reserve(m, 1);

	if (r < 0)
		return r;
	insert_slot(m, key, val);
	return 0;
}

void *
u32map_del(struct u32map *m, uint32_t key)
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
	m->count--;
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

int
u32map_next(const struct u32map *m, size_t *iter, uint32_t *key, void **val)
{
	for (; *iter < m->cap; (*iter)++) {
		if (m->slots[*iter].val) {
			if (key)
				*key = m->slots[*iter].key;
			if (val)
				*val = m->slots[*iter].val;
			(*iter)++;
			return 1;
		}
	}
	return 0;
}
