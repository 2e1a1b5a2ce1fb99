/* The hierarchical bitmap and the u32 hash map against plain models. */
#include <check.h>

#include "ck_main.h"
#include <stdlib.h>
#include <stddef.h>

#include "idmap.h"
#include "u32map.h"
#include "slab.h"

START_TEST(idmap_sizes_and_edges)
{
	static const uint32_t sizes[] = {1, 2, 63, 64, 65, 4095, 4096, 4097, 262144, 1048575};

	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct idmap m;
		uint32_t n = sizes[s];

		ck_assert_int_eq(idmap_init(&m, n), 0);
		ck_assert_int_eq(idmap_find_free(&m, 0), 0);
		ck_assert_int_eq(idmap_find_free(&m, n), -1);
		ck_assert(idmap_test(&m, n)); /* past the end counts as used */
		for (uint32_t i = 0; i < n; i++)
			idmap_set(&m, i);
		ck_assert_uint_eq(m.used, n);
		ck_assert_int_eq(idmap_find_free_wrap(&m, 0), -1);
		idmap_clear(&m, n - 1);
		ck_assert_int_eq(idmap_find_free(&m, 0), n - 1);
		ck_assert_int_eq(idmap_find_free_wrap(&m, n - 1), n - 1);
		idmap_clear(&m, 0);
		ck_assert_int_eq(idmap_find_free_wrap(&m, n > 1 ? 1 : 0), n > 1 ? n - 1 : 0);
		ck_assert_int_eq(idmap_find_free(&m, 0), 0);
		idmap_free(&m);
	}
}
END_TEST

START_TEST(idmap_random_vs_model)
{
	const uint32_t n = 70000;
	struct idmap m;
	unsigned char *model = calloc(n, 1);

	srandom(42);
	ck_assert_int_eq(idmap_init(&m, n), 0);
	for (int step = 0; step < 300000; step++) {
		uint32_t i = (uint32_t)random() % n;
		int op = (int)(random() % 3);

		if (op == 0) {
			idmap_set(&m, i);
			model[i] = 1;
		} else if (op == 1 && step % 7) {
			idmap_clear(&m, i);
			model[i] = 0;
		} else {
			int64_t want = -1;

			for (uint32_t j = i; j < n; j++)
				if (!model[j]) {
					want = j;
					break;
				}
			ck_assert_int_eq(idmap_find_free(&m, i), want);
		}
		ck_assert_int_eq(idmap_test(&m, i), model[i]);
	}
	idmap_free(&m);
	free(model);
}
END_TEST

START_TEST(idmap_full_fill_is_findable)
{
	/* Nearly full: the one free bit is found from every start. */
	struct idmap m;
	const uint32_t n = 1u << 20;

	ck_assert_int_eq(idmap_init(&m, n), 0);
	for (uint32_t i = 0; i < n; i++)
		idmap_set(&m, i);
	idmap_clear(&m, 777777);
	ck_assert_int_eq(idmap_find_free_wrap(&m, 0), 777777);
	ck_assert_int_eq(idmap_find_free_wrap(&m, 777778), 777777);
	ck_assert_int_eq(idmap_find_free(&m, 777778), -1);
	idmap_free(&m);
}
END_TEST

START_TEST(idmap_find_used_walks_the_set)
{
	static const uint32_t sizes[] = {1, 63, 64, 65, 4095, 524288};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct idmap m;
		uint32_t n = sizes[s], count = 0;

		ck_assert_int_eq(idmap_init(&m, n), 0);
		ck_assert_int_eq(idmap_find_used(&m, 0), -1);
		for (uint32_t i = 0; i < n; i += 1 + i % 97)
			idmap_set(&m, i);
		for (int64_t i = idmap_find_used(&m, 0); i >= 0;
		     i = idmap_find_used(&m, (uint32_t)i + 1)) {
			ck_assert(idmap_test(&m, (uint32_t)i));
			count++;
		}
		ck_assert_uint_eq(count, m.used);
		/* The padding bits past the end are never an id. */
		idmap_set(&m, n - 1);
		ck_assert_int_eq(idmap_find_used(&m, n - 1), n - 1);
		ck_assert_int_eq(idmap_find_used(&m, n), -1);
		idmap_free(&m);
	}
}
END_TEST

START_TEST(u32map_random_vs_model)
{
	struct u32map m;
	const uint32_t keyspace = 5000;
	void **model = calloc(keyspace, sizeof(void *));
	size_t count = 0;

	u32map_init(&m);
	srandom(7);
	for (int step = 0; step < 200000; step++) {
		uint32_t k = (uint32_t)random() % keyspace;
		void *v = (void *)(uintptr_t)(step + 1);

		if (random() % 2) {
			ck_assert_int_eq(u32map_put(&m, k, v), 0);
			count += model[k] == NULL;
			model[k] = v;
		} else {
			ck_assert_ptr_eq(u32map_del(&m, k), model[k]);
			count -= model[k] != NULL;
			model[k] = NULL;
		}
		ck_assert_uint_eq(m.count, count);
	}
	for (uint32_t k = 0; k < keyspace; k++)
		ck_assert_ptr_eq(u32map_get(&m, k), model[k]);
	size_t it = 0, seen = 0;
	uint32_t key;
	void *val;

	while (u32map_next(&m, &it, &key, &val)) {
		ck_assert_ptr_eq(model[key], val);
		seen++;
	}
	ck_assert_uint_eq(seen, count);
	u32map_free(&m);
	free(model);
}
END_TEST

/* A dense map (window over base..base+span-1, values from a slab) against a model, with keys
 * in the span (dense, sparse and beyond the window's growth) and outside it (hashed); the map
 * checks itself after every step, and iteration gives the window's keys in order first. */
struct obj {
	uint64_t payload;
	uint32_t id;
	uint32_t key;
};

static void
dense_vs_model(uint32_t base, uint32_t span, int prefill, unsigned seed)
{
	const uint32_t keyspace = span + 3000;
	struct obj **model = calloc(keyspace, sizeof(*model));
	struct slab pool;
	struct u32map m;
	size_t count = 0;
	char why[160];

	slab_init(&pool, sizeof(struct obj), offsetof(struct obj, id));
	ck_assert_int_eq(u32map_init_dense(&m, &pool, base + 1000, span, prefill), 0);
	srandom(seed);
	for (int step = 0; step < 60000; step++) {
		/* Mostly low keys of the span at first, spreading out later: the window grows. */
		uint32_t lim = step < 20000 ? 2000 : keyspace;
		uint32_t k = (uint32_t)random() % lim;

		if (random() % 3) {
			struct obj *o = model[k] ? model[k] : slab_alloc(&pool);

			ck_assert_ptr_nonnull(o);
			o->key = base + k;
			ck_assert_int_eq(u32map_reserve(&m, 1), 0);
			ck_assert_int_eq(u32map_put(&m, base + k, o), 0);
			count += model[k] == NULL;
			model[k] = o;
		} else {
			ck_assert_ptr_eq(u32map_del(&m, base + k), model[k]);
			if (model[k])
				slab_free(&pool, model[k]);
			count -= model[k] != NULL;
			model[k] = NULL;
		}
		ck_assert_uint_eq(m.count, count);
		ck_assert_uint_eq(pool.live, count);
		if (step % 1000 == 0)
			ck_assert_msg(u32map_check(&m, why, sizeof(why)) == 0, "%s", why);
	}
	ck_assert_msg(u32map_check(&m, why, sizeof(why)) == 0, "%s", why);
	for (uint32_t k = 0; k < keyspace; k++)
		ck_assert_ptr_eq(u32map_get(&m, base + k), model[k]);
	ck_assert_ptr_null(u32map_get(&m, base + keyspace + 12345));
	size_t it = 0, seen = 0;
	uint32_t key, last = 0;
	void *val;
	int in_window = 1;

	while (u32map_next(&m, &it, &key, &val)) {
		struct obj *o = val;

		ck_assert_ptr_eq(model[key - base], o);
		ck_assert_uint_eq(o->key, key);
		if (in_window && it <= m.dcap) {
			ck_assert(seen == 0 || key > last);
			last = key;
		} else {
			in_window = 0;
		}
		seen++;
	}
	ck_assert_uint_eq(seen, count);
	u32map_free(&m);
	slab_destroy(&pool);
	free(model);
}

START_TEST(u32map_dense_vs_model)
{
	dense_vs_model(0, 4095, 0, 11);
	dense_vs_model(4096, 1u << 16, 0, 12);
	dense_vs_model(4096, 1u << 16, 1, 13);
}
END_TEST

/* Freed objects are reused first, with their own id; ids map back to them. */
START_TEST(slab_reuse_and_ids)
{
	struct slab pool;
	struct obj *a[3 * SLAB_CHUNK];

	slab_init(&pool, sizeof(struct obj), offsetof(struct obj, id));
	for (unsigned i = 0; i < 3 * SLAB_CHUNK; i++) {
		ck_assert_ptr_nonnull(a[i] = slab_alloc(&pool));
		ck_assert_uint_eq(a[i]->id, i + 1);
		ck_assert_ptr_eq(slab_at(&pool, a[i]->id), a[i]);
		a[i]->payload = i;
	}
	slab_free(&pool, a[5]);
	slab_free(&pool, a[SLAB_CHUNK + 1]);
	ck_assert_uint_eq(pool.live, 3 * SLAB_CHUNK - 2);
	struct obj *b = slab_alloc(&pool), *c = slab_alloc(&pool);

	ck_assert_ptr_eq(b, a[SLAB_CHUNK + 1]);
	ck_assert_ptr_eq(c, a[5]);
	ck_assert_uint_eq(b->id, SLAB_CHUNK + 2);
	ck_assert_uint_eq(c->id, 6);
	ck_assert_uint_eq(pool.live, 3 * SLAB_CHUNK);
	slab_destroy(&pool);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, idmap_sizes_and_edges);
	tcase_add_test(tc, idmap_random_vs_model);
	tcase_add_test(tc, idmap_full_fill_is_findable);
	tcase_add_test(tc, idmap_find_used_walks_the_set);
	tcase_add_test(tc, u32map_random_vs_model);
	tcase_add_test(tc, u32map_dense_vs_model);
	tcase_add_test(tc, slab_reuse_and_ids);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
