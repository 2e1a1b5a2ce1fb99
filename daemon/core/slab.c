/* Fixed-size object pool; see slab.h. */
#include "slab.h"

#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer a freed object is poisoned (all but its id, which holds the free
 * list), so that a mapping read after it was freed is caught as with malloc. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
static void
poison(const struct slab *s, void *obj, int on)
{
	size_t lo = s->id_off & ~(size_t)7, hi = (s->id_off + sizeof(uint32_t) + 7) & ~(size_t)7;

	if (on) {
		ASAN_POISON_MEMORY_REGION(obj, lo);
		if (hi < s->size)
			ASAN_POISON_MEMORY_REGION((char *)obj + hi, s->size - hi);
	} else {
		ASAN_UNPOISON_MEMORY_REGION(obj, s->size);
	}
}

static void
unpoison_chunk(const struct slab *s, char *chunk)
{
	ASAN_UNPOISON_MEMORY_REGION(chunk, SLAB_CHUNK * s->size);
}
#else
static void
poison(const struct slab *s, void *obj, int on)
{
	(void)s;
	(void)obj;
	(void)on;
}

static void
unpoison_chunk(const struct slab *s, char *chunk)
{
	(void)s;
	(void)chunk;
}
#endif

void
slab_init(struct slab *s, size_t size, size_t id_off)
{
	memset(s, 0, sizeof(*s));
	s->size = (size + 7) & ~(size_t)7;
	s->id_off = id_off;
	s->next = 1;
}

void
slab_destroy(struct slab *s)
{
	for (uint32_t i = 0; i < s->nchunks; i++) {
		unpoison_chunk(s, s->chunks[i]);
		free(s->chunks[i]);
	}
	free(s->chunks);
	slab_init(s, s->size, s->id_off);
}

static uint32_t *
id_field(const struct slab *s, void *obj)
{
	return (uint32_t *)((char *)obj + s->id_off);
}

void *
slab_alloc_slow(struct slab *s)
{
	uint32_t id;
	void *obj;

	if (s->free) {
		id = s->free;
		obj = slab_at(s, id);
		s->free = *id_field(s, obj);
	} else {
		if (s->next == UINT32_MAX)
			return NULL;
		if (((s->next - 1) >> SLAB_CHUNK_SHIFT) == s->nchunks) {
			char *chunk;

			if (s->nchunks == s->chunks_cap) {
				uint32_t cap = s->chunks_cap ? 2 * s->chunks_cap : 16;
				char **p = realloc(s->chunks, cap * sizeof(*p));

				if (!p)
					return NULL;
				s->chunks = p;
				s->chunks_cap = cap;
			}
			/* Not zeroed here: each object is as it is handed out, and untouched
			 * pages of a chunk cost no memory. */
			if (!(chunk = malloc(SLAB_CHUNK * s->size)))
				return NULL;
			s->chunks[s->nchunks++] = chunk;
		}
		id = s->next++;
		obj = slab_at(s, id);
	}
	poison(s, obj, 0);
	*id_field(s, obj) = id;
	s->live++;
	return obj;
}

void
slab_free_slow(struct slab *s, void *obj)
{
	uint32_t id;

	if (!obj)
		return;
	id = slab_id(s, obj);

	*id_field(s, obj) = s->free;
	s->free = id;
	s->live--;
	poison(s, obj, 1);
}
