/* A pool of fixed-size objects numbered by 32-bit ids: no allocator header per object, and a
 * 4-byte id where a table would hold an 8-byte pointer (u32map's dense window). Objects are
 * carved from chunks of SLAB_CHUNK that stay put (pointers to them stay valid), and freed ones
 * are reused first. Each object holds its own id at id_off (the pool writes it there), which
 * is how a table turns a pointer back into an id; the pool threads its free list through the
 * same field. Chunks go back to libc only with the pool. */
#ifndef PASIDD_SLAB_H
#define PASIDD_SLAB_H

#include <stddef.h>
#include <stdint.h>

#define SLAB_CHUNK_SHIFT 12
#define SLAB_CHUNK       (1u << SLAB_CHUNK_SHIFT)

struct slab {
	size_t size;   /* of an object, a multiple of 8 */
	size_t id_off; /* offset of the object's uint32_t id */
	char **chunks; /* SLAB_CHUNK objects each */
	uint32_t nchunks, chunks_cap;
	uint32_t next; /* ids handed out so far, + 1 (id 0 means none) */
	uint32_t free; /* first freed id, 0 for none */
	uint32_t live; /* objects allocated now */
};

void slab_init(struct slab *s, size_t size, size_t id_off);
/* Frees every chunk, whatever is still allocated in them. */
void slab_destroy(struct slab *s);
static inline void *
slab_at(const struct slab *s, uint32_t id)
{
	uint32_t i = id - 1;

	return s->chunks[i >> SLAB_CHUNK_SHIFT] + (size_t)(i & (SLAB_CHUNK - 1)) * s->size;
}

static inline uint32_t
slab_id(const struct slab *s, const void *obj)
{
	return *(const uint32_t *)((const char *)obj + s->id_off);
}

/* The out-of-line halves of slab_alloc and slab_free: a new chunk, and under
 * AddressSanitizer every call (freed objects are poisoned). */
void *slab_alloc_slow(struct slab *s);
void slab_free_slow(struct slab *s, void *obj);

/* An object with its id filled in, or NULL on ENOMEM. Not zeroed: the caller writes every
 * field (a freed object still holds what it held). Inline for a freed object to reuse (one
 * a mapping freed, in the steady state of allocation and freeing). */
static inline void *
slab_alloc(struct slab *s)
{
#if defined(__SANITIZE_ADDRESS__)
	return slab_alloc_slow(s);
#else
	uint32_t id = s->free;
	uint32_t *field;
	char *obj;

	if (!id)
		return slab_alloc_slow(s);
	obj = (char *)slab_at(s, id);
	field = (uint32_t *)(obj + s->id_off);
	s->free = *field;
	*field = id;
	s->live++;
	return obj;
#endif
}

static inline void
slab_free(struct slab *s, void *obj)
{
#if defined(__SANITIZE_ADDRESS__)
	slab_free_slow(s, obj);
#else
	uint32_t *field;
	uint32_t id;

	if (!obj)
		return;
	field = (uint32_t *)((char *)obj + s->id_off);
	id = *field;
	*field = s->free;
	s->free = id;
	s->live--;
#endif
}

#endif
