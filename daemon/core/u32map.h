/* Open-addressing hash map from uint32_t keys to pointers. */
#ifndef PASIDD_U32MAP_H
#define PASIDD_U32MAP_H

#include <stddef.h>
#include <stdint.h>

struct u32map_slot {
	uint32_t key;
	void *val; /* NULL marks an empty slot */
};

struct u32map {
	struct u32map_slot *slots;
	size_t cap; /* power of two or 0 */
	size_t count;
};

void u32map_init(struct u32map *m);
void u32map_free(struct u32map *m);
void *u32map_get(const struct u32map *m, uint32_t key);
/* Inserts or replaces; val must not be NULL. 0 or -ENOMEM. */
int u32map_put(struct u32map *m, uint32_t key, void *val);
/* Makes room for `n` more keys so that the next n puts cannot fail. */
int u32map_reserve(struct u32map *m, size_t n);
void *u32map_del(struct u32map *m, uint32_t key);

/* Iteration: for (size_t i = 0; u32map_next(m, &i, &k, &v);) — not across changes. */
int u32map_next(const struct u32map *m, size_t *iter, uint32_t *key, void **val);

#endif
