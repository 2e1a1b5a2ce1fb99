/* Issue 14, below the socket: the migration document read and written (migrate_doc.c), the
 * core's conflict check and import (ns_import.c) on two namespaces, and the journal's
 * transaction frame replayed whole or not at all (image.c). */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "image.h"
#include "migrate_doc.h"
#include "namespace.h"
#include "ns_import.h"
#include "pasid-proto.h"
#include "record.h"

static struct ns src, dst;
static struct backend *be_src, *be_dst;
static const struct ns_owner owner = {.pid = 1, .starttime = 1, .uid = 0};

static void
open_ns(struct ns *ns, struct backend **be, unsigned bits, uint32_t shared_last)
{
	struct ns_config cfg = {
	    .pasid_bits = bits, .local = {1, 4095}, .shared = {4096, shared_last}};
	char why[160];

	ck_assert_int_eq(backend_open("sim", be, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(ns, &cfg, *be), 0);
}

static void
setup(void)
{
	open_ns(&src, &be_src, 20, 524287);
	open_ns(&dst, &be_dst, 20, 524287);
}

static void
teardown(void)
{
	ns_destroy(&src);
	ns_destroy(&dst);
	backend_close(be_src);
	backend_close(be_dst);
}

static struct ns_vm *
mkvm(struct ns *ns, const char *name, enum ns_mode mode)
{
	struct ns_vm *vm;
	struct ns_err err;

	ck_assert_int_eq(ns_vm_create(ns, name, "0f8fad5b-d9cb-469f-a165-70867728950e", mode,
	                              &owner, "/", -1, &vm, &err),
	                 0);
	return vm;
}

static void
alloc(struct ns *ns, struct ns_vm *vm, enum ns_type t, uint32_t bdf, int64_t g, unsigned n)
{
	struct ns_alloc_req req = {.type = t, .bdf = bdf, .gpasid = g, .count = n};
	struct ns_mapping *out[4096];
	struct ns_err err;

	ck_assert_msg(ns_alloc(ns, vm, &req, out, &err) == 0, "%s", err.message);
}

/* The document of a VM of src, read back for dst. */
static struct json_object *
exported(const char *vm)
{
	struct json_object *doc = migrate_doc_export(&src, ns_vm_find(&src, vm));

	ck_assert_ptr_nonnull(doc);
	return doc;
}

struct seen {
	struct ns_conflict c[64];
	size_t n;
};

static void
collect(void *ctx, const struct ns_conflict *c)
{
	struct seen *s = ctx;

	if (s->n < 64)
		s->c[s->n] = *c;
	s->n++;
}

START_TEST(roundtrip_translated_with_device_map)
{
	struct ns_vm *vm = mkvm(&src, "t", NS_MODE_TRANSLATED), *got;
	struct json_object *doc, *map, *again;
	struct migrate_doc d;
	struct migrate_err e;
	struct ns_err err;
	struct seen s = {0};

	ck_assert_int_eq(ns_device_assign(&src, vm, 0x20, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&src, vm, 0x30, true, &err), 0);
	alloc(&src, vm, NS_TYPE_SHARED, 0, -1, 40);
	alloc(&src, vm, NS_TYPE_LOCAL, 0x20, 100, 3);
	/* dst is partly full: other hPASIDs. */
	alloc(&dst, mkvm(&dst, "other", NS_MODE_TRANSLATED), NS_TYPE_SHARED, 0, -1, 7);
	doc = exported("t");
	map = json_tokener_parse("{\"0000:00:04.0\":\"0000:00:05.0\"}");
	ck_assert_int_eq(migrate_doc_read(doc, map, NULL, &d, &e), 0);
	ck_assert_uint_eq(d.im.nmaps, 43);
	ck_assert_uint_eq(ns_import_check(&dst, &d.im, collect, &s), 0);
	ck_assert_int_eq(ns_txn_begin(&dst), 0);
	ck_assert_int_eq(ns_import(&dst, &d.im, &owner, "/", -1, &got, &err), 0);
	ck_assert_int_eq(ns_txn_commit(&dst, &err), 0);
	ck_assert_uint_eq(got->maps.count, 43);
	ck_assert_ptr_nonnull(ns_vm_device(got, 0x28));
	ck_assert_uint_eq(ns_lookup_gpasid(got, 1)->hpasid, 4096 + 7);
	ck_assert_uint_eq(ns_lookup_gpasid(got, 101)->hpasid, 101);
	again = migrate_doc_export(&dst, got);
	/* The same document but for the device map. */
	{
		char *want = strdup(json_object_to_json_string(doc)), *p;

		while ((p = strstr(want, "0000:00:04.0")))
			memcpy(p, "0000:00:05.0", 12);
		ck_assert_str_eq(json_object_to_json_string(again), want);
		free(want);
	}
	migrate_doc_free(&d);
	json_object_put(again);
	json_object_put(map);
	json_object_put(doc);
	{
		char why[256];

		ck_assert_int_eq(ns_check(&dst, why, sizeof(why)), 0);
	}
}
END_TEST

START_TEST(conflicts_every_kind)
{
	struct ns_vm *vm, *occ;
	struct json_object *doc;
	struct migrate_doc d;
	struct migrate_err e;
	struct ns_err err;
	struct seen s = {0};

	ns_destroy(&src);
	backend_close(be_src);
	open_ns(&src, &be_src, 20, 1048575); /* a source whose shared range reaches 600000 */
	vm = mkvm(&src, "c", NS_MODE_IDENTITY);
	ck_assert_int_eq(ns_device_assign(&src, vm, 0x20, false, &err), 0);
	alloc(&src, vm, NS_TYPE_SHARED, 0, 600000, 2); /* beyond dst's shared range */
	alloc(&src, vm, NS_TYPE_SHARED, 0, 5000, 2);
	alloc(&src, vm, NS_TYPE_LOCAL, 0x20, 40, 1);
	/* dst: 19 bits, a shared range up to 524287, device 0x20 carries 5 bits only, 5001
	 * taken, and a VM of the same name. */
	ns_destroy(&dst);
	backend_close(be_dst);
	open_ns(&dst, &be_dst, 19, 524287);
	ck_assert_int_eq(backend_sim_set_width(be_dst, 0x20, 5), 0);
	occ = mkvm(&dst, "c", NS_MODE_IDENTITY);
	alloc(&dst, occ, NS_TYPE_SHARED, 0, 5001, 1);
	doc = exported("c");
	ck_assert_int_eq(migrate_doc_read(doc, NULL, NULL, &d, &e), 0);
	ck_assert_uint_eq(ns_import_check(&dst, &d.im, collect, &s), 6);
	ck_assert_int_eq(s.c[0].what, NS_CF_TAKEN); /* the name */
	ck_assert_int_eq(s.c[0].gpasid, -1);
	ck_assert_int_eq(s.c[1].what, NS_CF_WIDTH); /* 20-bit guest on a 19-bit host */
	ck_assert_int_eq(s.c[1].code, NS_E_RANGE);
	ck_assert_int_eq(s.c[2].what, NS_CF_WIDTH); /* PASID 40 on a 5-bit device */
	ck_assert_int_eq(s.c[2].gpasid, 40);
	ck_assert_int_eq(s.c[2].bdf, 0x20);
	ck_assert_int_eq(s.c[3].what, NS_CF_TAKEN);
	ck_assert_int_eq(s.c[3].gpasid, 5001);
	ck_assert_int_eq(s.c[4].what, NS_CF_RANGE); /* 600000: beyond 19 bits */
	ck_assert_int_eq(s.c[4].gpasid, 600000);
	ck_assert_int_eq(s.c[5].what, NS_CF_RANGE);
	ck_assert_int_eq(s.c[5].gpasid, 600001);
	ck_assert_str_eq(ns_conflict_name(s.c[4].what), "out_of_range");
	migrate_doc_free(&d);
	json_object_put(doc);
}
END_TEST

START_TEST(translated_needs_free_hpasids)
{
	struct ns_vm *vm = mkvm(&src, "x", NS_MODE_TRANSLATED);
	struct json_object *doc;
	struct migrate_doc d;
	struct migrate_err e;
	struct seen s = {0};

	alloc(&src, vm, NS_TYPE_SHARED, 0, 4000, 20);
	ns_destroy(&dst);
	backend_close(be_dst);
	open_ns(&dst, &be_dst, 20, 4105); /* 10 shared hPASIDs */
	doc = exported("x");
	ck_assert_int_eq(migrate_doc_read(doc, NULL, NULL, &d, &e), 0);
	ck_assert_uint_eq(ns_import_check(&dst, &d.im, collect, &s), 1);
	ck_assert_int_eq(s.c[0].what, NS_CF_EXHAUSTED);
	ck_assert_int_eq(s.c[0].code, NS_E_EXHAUSTED);
	migrate_doc_free(&d);
	json_object_put(doc);
}
END_TEST

/* A failure half-way through an import leaves nothing once the transaction is aborted. */
START_TEST(import_all_or_nothing)
{
	struct ns_vm *vm = mkvm(&src, "a", NS_MODE_IDENTITY), *got = NULL;
	struct json_object *doc;
	struct migrate_doc d;
	struct migrate_err e;
	struct ns_err err;

	alloc(&src, vm, NS_TYPE_SHARED, 0, 5000, 100);
	alloc(&dst, mkvm(&dst, "occ", NS_MODE_IDENTITY), NS_TYPE_SHARED, 0, 5099, 1);
	doc = exported("a");
	ck_assert_int_eq(migrate_doc_read(doc, NULL, NULL, &d, &e), 0);
	ck_assert_int_eq(ns_txn_begin(&dst), 0);
	ck_assert_int_lt(ns_import(&dst, &d.im, &owner, "/", -1, &got, &err), 0);
	ns_txn_abort(&dst);
	ck_assert_ptr_null(ns_vm_find(&dst, "a"));
	ck_assert_uint_eq(ns_shared_used(&dst), 1);
	/* Without a transaction it is refused outright. */
	ck_assert_int_eq(ns_import(&dst, &d.im, &owner, "/", -1, &got, &err), -EINVAL);
	migrate_doc_free(&d);
	json_object_put(doc);
}
END_TEST

/* ---- hostile documents, each refused with the member named ---- */

#define HEAD                                                                                       \
	"\"format\":\"pasidd-vm\",\"version\":1,\"vm\":\"h\",\"uuid\":"                            \
	"\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"mode\":\"identity\",\"pasid_bits\":20"

static const struct {
	const char *doc, *devices, *wqs;
	int code;
	const char *param;
} bad_docs[] = {
    {"7", NULL, NULL, PROTO_E_INVALID_PARAMS, "document"},
    {"{\"version\":1}", NULL, NULL, PROTO_E_INVALID_PARAMS, "document.format"},
    {"{\"format\":\"pasidd-vm\",\"version\":\"1\"}", NULL, NULL, PROTO_E_INVALID_PARAMS,
     "document.version"},
    {"{\"format\":\"pasidd-vm\",\"version\":2,\"whatever\":[]}", NULL, NULL, PROTO_E_UNSUPPORTED,
     "document.version"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[],\"x\":null}", NULL, NULL, PROTO_E_INVALID_PARAMS,
     "document.x"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":5,\"type\":\"shared\",\"hpasid\":6}]}",
     NULL, NULL, PROTO_E_INVALID_PARAMS, "document.mappings[0].hpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":5,\"type\":\"shared\",\"q\":1}]}", NULL,
     NULL, PROTO_E_INVALID_PARAMS, "document.mappings[0].q"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":9,\"type\":\"shared\"},{\"gpasid\":5,"
     "\"type\":\"shared\"},{\"gpasid\":9,\"type\":\"shared\"}]}",
     NULL, NULL, PROTO_E_INVALID_PARAMS, "document.mappings[2].gpasid"},
    {"{" HEAD ",\"devices\":[{\"device\":\"0000:00:04.0\",\"shared\":false},{\"device\":"
     "\"0000:00:05.0\",\"shared\":false}],\"mappings\":[]}",
     "{\"0000:00:04.0\":\"0000:00:05.0\"}", NULL, PROTO_E_INVALID_PARAMS,
     "document.devices[1].device"},
    {"{" HEAD ",\"devices\":[{\"device\":\"0000:00:04.0\",\"shared\":false},{\"device\":"
     "\"0000:00:05.0\",\"shared\":false}],\"mappings\":[]}",
     "{\"0000:00:04.0\":\"0000:00:07.0\",\"0000:00:05.0\":\"0000:00:07.0\"}", NULL,
     PROTO_E_INVALID_PARAMS, "devices.0000:00:05.0"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[]}", "{\"bad\":\"0000:00:07.0\"}", NULL,
     PROTO_E_INVALID_PARAMS, "devices"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[]}", NULL, "{\"dsa0/wq0.0\":\"dsa1/wq1.0\"}",
     PROTO_E_INVALID_PARAMS, "wqs.dsa0/wq0.0"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":5,\"type\":\"shared\",\"wq\":"
     "\"dsa0/wq0.0\"}]}",
     NULL, "{\"dsa0/wq0.0\":7}", PROTO_E_INVALID_PARAMS, "wqs.dsa0/wq0.0"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":5,\"type\":\"shared\",\"wq\":7}]}", NULL,
     NULL, PROTO_E_INVALID_PARAMS, "document.mappings[0].wq"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":true,\"type\":\"shared\"}]}", NULL, NULL,
     PROTO_E_INVALID_PARAMS, "document.mappings[0].gpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":5,\"type\":\"sha\\u0000red\"}]}", NULL,
     NULL, PROTO_E_INVALID_PARAMS, "document.mappings[0].type"},
    {"{\"format\":\"pasidd-vm\",\"version\":1,\"vm\":\"h\",\"uuid\":"
     "\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"mode\":\"identity\",\"pasid_bits\":4,"
     "\"devices\":[],\"mappings\":[{\"gpasid\":16,\"type\":\"shared\"}]}",
     NULL, NULL, PROTO_E_INVALID_PARAMS, "document.mappings[0].gpasid"},
};

START_TEST(hostile_document)
{
	struct json_object *doc = json_tokener_parse(bad_docs[_i].doc);
	struct json_object *dev =
	    bad_docs[_i].devices ? json_tokener_parse(bad_docs[_i].devices) : NULL;
	struct json_object *wqs = bad_docs[_i].wqs ? json_tokener_parse(bad_docs[_i].wqs) : NULL;
	struct migrate_doc d;
	struct migrate_err e;

	ck_assert_ptr_nonnull(doc);
	ck_assert_int_lt(migrate_doc_read(doc, dev, wqs, &d, &e), 0);
	ck_assert_msg(e.code == bad_docs[_i].code && !strcmp(e.param, bad_docs[_i].param),
	              "%s: got %d '%s' (%s)", bad_docs[_i].doc, e.code, e.param, e.message);
	ck_assert_ptr_null(d.im.maps);
	json_object_put(doc);
	json_object_put(dev);
	json_object_put(wqs);
}
END_TEST

/* ---- the journal's transaction frame ---- */

struct recs {
	uint8_t buf[64][REC_BUF_MAX];
	size_t len[64];
	unsigned n;
};

static int
add_rec(void *ctx, const void *rec, size_t len)
{
	struct recs *r = ctx;

	memcpy(r->buf[r->n], rec, len);
	r->len[r->n++] = len;
	return 0;
}

START_TEST(txn_replayed_whole_or_not_at_all)
{
	struct ns_vm *vm = mkvm(&src, "j", NS_MODE_TRANSLATED);
	static struct recs r;
	struct image_txn txn = {0};
	struct image im = {&dst, NULL, &txn};
	uint8_t frame[REC_BUF_MAX];
	char why[256];
	uint32_t n;

	alloc(&src, vm, NS_TYPE_SHARED, 0, -1, 5);
	r.n = 0;
	ck_assert_int_eq(rec_snapshot(&src, add_rec, &r), 0);
	ck_assert_uint_ge(r.n, 3); /* VM, a REC_MAP_RUN of the 5, CURSOR */
	ck_assert_uint_eq(rec_txn(frame, r.n), REC_TXN_SIZE);
	ck_assert(rec_is_txn(frame, REC_TXN_SIZE, REC_FORMAT_VERSION, &n) && n == r.n);
	ck_assert(!rec_is_txn(frame, REC_TXN_SIZE, 2, &n)); /* not a record of version 2 */
	dst.replaying = true;
	/* Cut short: nothing of it. */
	ck_assert_int_eq(
	    image_apply(&im, REC_FORMAT_VERSION, frame, REC_TXN_SIZE, why, sizeof(why)), 0);
	for (unsigned i = 0; i + 1 < r.n; i++)
		ck_assert_int_eq(
		    image_apply(&im, REC_FORMAT_VERSION, r.buf[i], r.len[i], why, sizeof(why)), 0);
	ck_assert_ptr_null(ns_vm_find(&dst, "j"));
	ck_assert_uint_eq(image_finish(&im), r.n); /* the frame and all but one record */
	ck_assert_ptr_null(ns_vm_find(&dst, "j"));
	/* Whole: all of it once the last record is read. */
	ck_assert_int_eq(
	    image_apply(&im, REC_FORMAT_VERSION, frame, REC_TXN_SIZE, why, sizeof(why)), 0);
	for (unsigned i = 0; i < r.n; i++) {
		ck_assert_ptr_null(ns_vm_find(&dst, "j"));
		ck_assert_int_eq(
		    image_apply(&im, REC_FORMAT_VERSION, r.buf[i], r.len[i], why, sizeof(why)), 0);
	}
	ck_assert_ptr_nonnull(ns_vm_find(&dst, "j"));
	ck_assert_uint_eq(ns_vm_find(&dst, "j")->maps.count, 5);
	ck_assert_uint_eq(image_finish(&im), 0);
	/* A frame inside a frame is damage. */
	ck_assert_int_eq(
	    image_apply(&im, REC_FORMAT_VERSION, frame, REC_TXN_SIZE, why, sizeof(why)), 0);
	ck_assert_int_eq(
	    image_apply(&im, REC_FORMAT_VERSION, frame, REC_TXN_SIZE, why, sizeof(why)), -EUCLEAN);
	image_finish(&im);
	dst.replaying = false;
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("migrate");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, roundtrip_translated_with_device_map);
	tcase_add_test(tc, conflicts_every_kind);
	tcase_add_test(tc, translated_needs_free_hpasids);
	tcase_add_test(tc, import_all_or_nothing);
	tcase_add_loop_test(tc, hostile_document, 0, sizeof(bad_docs) / sizeof(bad_docs[0]));
	tcase_add_test(tc, txn_replayed_whole_or_not_at_all);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run(suite());
}
