/* The record codec (daemon/state/record.c) against the format record.h writes down: every
 * op's bytes as its table lays them out, and the format version. A state directory written
 * before the version was numbered (the bytes below, made by that code) replays as it is and
 * goes on being written; a file of another version, or of another file format, is refused by
 * start-up, pasidd -n and --salvage alike, with a message that names it, and no file is
 * touched. */
#include <check.h>

#include "ck_dir.h"
#include "ck_main.h"
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends.h"
#include "crc32c.h"
#include "journal.h"
#include "log.h"
#include "namespace.h"
#include "quota.h"
#include "record.h"
#include "salvage.h"
#include "state.h"

static const struct ns_config nc = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};

/* ---- records, byte by byte ---- */

struct bytes {
	uint8_t b[512];
	size_t n;
};

static void
put_u8(struct bytes *x, uint8_t v)
{
	x->b[x->n++] = v;
}

static void
put_u32(struct bytes *x, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put_u8(x, (uint8_t)(v >> (8 * i)));
}

static void
put_u64(struct bytes *x, uint64_t v)
{
	put_u32(x, (uint32_t)v);
	put_u32(x, (uint32_t)(v >> 32));
}

static void
put_raw(struct bytes *x, const void *p, size_t n)
{
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void
put_str(struct bytes *x, const char *s)
{
	put_u32(x, (uint32_t)strlen(s));
	put_raw(x, s, strlen(s));
}

/* Every record starts with u8 op, then str vm. */
static void
put_head(struct bytes *x, uint8_t op, const char *vm)
{
	put_u8(x, op);
	put_str(x, vm);
}

static void
assert_record(const uint8_t *got, size_t n, const struct bytes *want)
{
	struct rec_info ri;

	ck_assert_uint_eq(n, want->n);
	ck_assert_mem_eq(got, want->b, n);
	/* What the encoder writes, the decoder reads whole. */
	ck_assert_int_eq(rec_decode(got, n, &ri), 0);
	ck_assert_int_eq(ri.op, got[0]);
}

START_TEST(test_layouts)
{
	static const char uuid[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
	struct ns_vm vm = {.mode = NS_MODE_IDENTITY,
	                   .owner = {.pid = 4242, .starttime = 0x0102030405060708ull, .uid = 1000},
	                   .cgroup = "/machine.slice/vm-a.scope"};
	struct ns_device dev = {0};
	struct ns_mapping m = {.vm = &vm, .gpasid = 77, .hpasid = 0x12345, .type = NS_TYPE_LOCAL};
	struct ns_wq wq = {.ref = "dsa12/wq12.7", .nmaps = 1};
	struct backend_attach att = {
	    .dev_id = 0xd1d2d3d4, .pt_id = 0xe1e2e3e4, .iommufd = 5, .devfd = 6, .tag = 99};
	uint8_t buf[REC_BUF_MAX];
	struct bytes x;
	struct rec_info ri;
	uint32_t bdf;

	snprintf(vm.name, sizeof(vm.name), "vm-a");
	memcpy(vm.uuid, uuid, sizeof(uuid));
	/* BDF = domain << 16 | bus << 8 | device << 3 | function. */
	ck_assert_int_eq(ns_bdf_parse("0001:02:03.4", &bdf), 0);
	ck_assert_uint_eq(bdf, 1u << 16 | 2u << 8 | 3u << 3 | 4u);
	dev.bdf = bdf;
	m.dev = &dev;
	att.bdf = bdf;

	x = (struct bytes){0};
	put_head(&x, 1, "vm-a");
	put_u8(&x, 1);
	put_u32(&x, 4242);
	put_u64(&x, 0x0102030405060708ull);
	put_u32(&x, 1000);
	put_raw(&x, uuid, 36);
	put_str(&x, "/machine.slice/vm-a.scope");
	assert_record(buf, rec_vm(buf, &vm), &x);
	ck_assert_int_eq(rec_decode(buf, x.n, &ri), 0);
	ck_assert_str_eq(ri.uuid, uuid);
	ck_assert_str_eq(ri.cgroup, "/machine.slice/vm-a.scope");
	ck_assert_uint_eq(ri.starttime, 0x0102030405060708ull);

	x = (struct bytes){0};
	put_head(&x, 2, "vm-a");
	assert_record(buf, rec_unvm(buf, "vm-a"), &x);

	x = (struct bytes){0};
	put_head(&x, 3, "vm-a");
	put_u32(&x, bdf);
	put_u8(&x, 1);
	assert_record(buf, rec_dev(buf, "vm-a", bdf, true), &x);

	x = (struct bytes){0};
	put_head(&x, 4, "vm-a");
	put_u32(&x, bdf);
	assert_record(buf, rec_undev(buf, "vm-a", bdf), &x);

	x = (struct bytes){0};
	put_head(&x, 5, "vm-a");
	put_u8(&x, 1);
	put_u32(&x, 77);
	put_u32(&x, 0x12345);
	put_u32(&x, bdf);
	put_str(&x, ""); /* version 2: no work queue */
	assert_record(buf, rec_map(buf, &m), &x);
	/* A shared mapping has no device: 0. */
	m.type = NS_TYPE_SHARED;
	m.dev = NULL;
	x = (struct bytes){0};
	put_head(&x, 5, "vm-a");
	put_u8(&x, 0);
	put_u32(&x, 77);
	put_u32(&x, 0x12345);
	put_u32(&x, 0);
	put_str(&x, "");
	assert_record(buf, rec_map(buf, &m), &x);
	/* ... and one for a work queue names it. */
	m.wq = &wq;
	x = (struct bytes){0};
	put_head(&x, 5, "vm-a");
	put_u8(&x, 0);
	put_u32(&x, 77);
	put_u32(&x, 0x12345);
	put_u32(&x, 0);
	put_str(&x, "dsa12/wq12.7");
	assert_record(buf, rec_map(buf, &m), &x);
	ck_assert_int_eq(rec_decode(buf, x.n, &ri), 0);
	ck_assert_str_eq(ri.wq, "dsa12/wq12.7");
	/* Versions 0 and 1 had no work queue: their REC_MAP ends at the bdf, and a record of
	 * either layout read as the other version is malformed. */
	ck_assert_int_eq(rec_decode_version(buf, x.n, 1, &ri), -EUCLEAN);
	ck_assert_int_eq(rec_decode_version(buf, x.n - 4 - 12, 1, &ri), 0);
	ck_assert_str_eq(ri.wq, "");
	ck_assert_uint_eq(ri.hpasid, 0x12345);
	ck_assert_int_eq(rec_decode_version(buf, x.n - 4 - 12, 2, &ri), -EUCLEAN);
	ck_assert_int_eq(rec_decode_version(buf, x.n - 4 - 12, 0, &ri), 0);
	m.wq = NULL;

	x = (struct bytes){0};
	put_head(&x, 6, "vm-a");
	put_u32(&x, 77);
	assert_record(buf, rec_unmap(buf, "vm-a", 77), &x);

	x = (struct bytes){0};
	put_head(&x, 7, "");
	put_u32(&x, 123);
	assert_record(buf, rec_cursor(buf, 123), &x);

	x = (struct bytes){0};
	put_head(&x, 8, "");
	put_u32(&x, bdf);
	put_u32(&x, 9);
	assert_record(buf, rec_lcursor(buf, bdf, 9), &x);

	x = (struct bytes){0};
	put_head(&x, 9, "");
	put_str(&x, "/machine.slice");
	put_u64(&x, 100);
	assert_record(buf, rec_quota(buf, "/machine.slice", 100), &x);
	ck_assert(rec_is_quota(buf, x.n));
	ck_assert_int_eq(rec_decode(buf, x.n, &ri), 0);
	ck_assert_uint_eq(ri.max, 100);

	x = (struct bytes){0};
	put_head(&x, 10, "vm-a");
	put_u32(&x, 4242);
	put_u64(&x, 0x0102030405060708ull);
	put_u32(&x, 1000);
	assert_record(buf, rec_owner(buf, &vm), &x);

	/* Version 1: the descriptors and the host's tag are not part of the record. */
	x = (struct bytes){0};
	put_head(&x, 11, "vm-a");
	put_u32(&x, 77);
	put_u32(&x, bdf);
	put_u32(&x, 0xd1d2d3d4);
	put_u32(&x, 0xe1e2e3e4);
	assert_record(buf, rec_attach(buf, "vm-a", 77, &att), &x);
	ck_assert_int_eq(rec_decode(buf, x.n, &ri), 0);
	ck_assert_uint_eq(ri.gpasid, 77);
	ck_assert_uint_eq(ri.bdf, bdf);
	ck_assert_uint_eq(ri.dev_id, 0xd1d2d3d4);
	ck_assert_uint_eq(ri.pt_id, 0xe1e2e3e4);

	x = (struct bytes){0};
	put_head(&x, 12, "vm-a");
	put_u32(&x, 77);
	put_u32(&x, bdf);
	assert_record(buf, rec_detach(buf, "vm-a", 77, bdf), &x);
	ck_assert_int_eq(rec_decode(buf, x.n, &ri), 0);
	ck_assert_uint_eq(ri.gpasid, 77);
	ck_assert_uint_eq(ri.bdf, bdf);
}
END_TEST

/* Every truncation of an attach or detach record, and one byte more, is malformed; so is
 * either op in a file of version 0, which does not have them. */
START_TEST(test_attach_records_malformed)
{
	const struct backend_attach att = {.bdf = 0xa8, .dev_id = 3, .pt_id = 4};
	uint8_t buf[REC_BUF_MAX];
	struct rec_info ri;
	size_t n = _i ? rec_detach(buf, "vm-a", 9, 0xa8) : rec_attach(buf, "vm-a", 9, &att);

	ck_assert_uint_eq(n, 1 + 4 + 4 + (_i ? 8 : 16));
	ck_assert_int_eq(rec_decode_version(buf, n, 1, &ri), 0);
	for (size_t k = 0; k < n; k++) {
		ck_assert_int_eq(rec_decode(buf, k, &ri), -EUCLEAN);
		if (k)
			ck_assert_int_eq(ri.op, _i ? REC_DETACH : REC_ATTACH);
	}
	buf[n] = 0;
	ck_assert_int_eq(rec_decode(buf, n + 1, &ri), -EUCLEAN);
	ck_assert_int_eq(rec_decode_version(buf, n, 0, &ri), -EUCLEAN);
	ck_assert_int_eq(ri.op, _i ? REC_DETACH : REC_ATTACH);
	/* The ops of version 0 are the same in both. */
	n = rec_unmap(buf, "vm-a", 9);
	ck_assert_int_eq(rec_decode_version(buf, n, 0, &ri), 0);
	ck_assert_int_eq(rec_decode_version(buf, n, 1, &ri), 0);
}
END_TEST

/* A record ends where its last field does; strings hold no NUL; ops are record.h's. */
START_TEST(test_decode_refuses)
{
	uint8_t buf[REC_BUF_MAX];
	struct rec_info ri;
	size_t n = rec_unmap(buf, "vm-a", 77);

	ck_assert_int_eq(rec_decode(buf, n - 1, &ri), -EUCLEAN);
	buf[n] = 0;
	ck_assert_int_eq(rec_decode(buf, n + 1, &ri), -EUCLEAN);
	buf[6] = '\0'; /* inside "vm-a" */
	ck_assert_int_eq(rec_decode(buf, n, &ri), -EUCLEAN);
	n = rec_unvm(buf, "vm-a");
	buf[0] = 0;
	ck_assert_int_eq(rec_decode(buf, n, &ri), -EUCLEAN);
	buf[0] = REC_OP_MAX + 1;
	ck_assert_int_eq(rec_decode(buf, n, &ri), -EUCLEAN);
	ck_assert_int_eq(ri.op, REC_OP_MAX + 1);
	ck_assert_int_eq(rec_decode(buf, 0, &ri), -EUCLEAN);
}
END_TEST

/* A VM record with a mode, or a mapping record with a type, that the format does not have is
 * refused, not passed over: a mapping left out would be a PASID handed out twice. */
START_TEST(test_unknown_mode_and_type_refused)
{
	struct ns_vm vm = {.owner = {.pid = 1}, .cgroup = "/"};
	struct ns_mapping m = {.vm = &vm, .gpasid = 5, .hpasid = 4200, .type = NS_TYPE_SHARED};
	uint8_t buf[REC_BUF_MAX];
	struct backend *sim;
	struct rec_info ri;
	char why[256];
	struct ns ns;
	size_t n;

	snprintf(vm.name, sizeof(vm.name), "vm-a");
	snprintf(vm.uuid, sizeof(vm.uuid), "0f8fad5b-d9cb-469f-a165-70867728950e");
	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &nc, sim), 0);
	ns.replaying = true;
	n = rec_vm(buf, &vm);
	buf[1 + 4 + 4] = 2; /* the mode, after op and "vm-a" */
	ck_assert_int_eq(rec_decode(buf, n, &ri), -EUCLEAN);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_ptr_null(ns_vm_find(&ns, "vm-a"));
	buf[1 + 4 + 4] = NS_MODE_TRANSLATED;
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), 0);
	n = rec_map(buf, &m);
	buf[1 + 4 + 4] = 2; /* the type */
	ck_assert_int_eq(rec_decode(buf, n, &ri), -EUCLEAN);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "malformed record of type 5"), "%s", why);
	buf[1 + 4 + 4] = NS_TYPE_SHARED;
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), 0);
	ns_destroy(&ns);
	backend_close(sim);
}
END_TEST

/* ---- attachments replayed ---- */

#define DEV_S 0x0000a8u /* 0000:00:15.0, shared */
#define DEV_L 0x010300u /* 0001:03:00.0, vm-a's own */

/* Records one after the other, each after its u32 length. */
struct reclog {
	uint8_t *buf;
	size_t len, cap;
	unsigned count;
};

static int
reclog_add(void *ctx, const void *rec, size_t len)
{
	struct reclog *l = ctx;

	if (l->len + 4 + len > l->cap) {
		l->cap = (l->cap + 4 + len) * 2;
		l->buf = realloc(l->buf, l->cap);
		ck_assert_ptr_nonnull(l->buf);
	}
	memcpy(l->buf + l->len, &(uint32_t){(uint32_t)len}, 4);
	memcpy(l->buf + l->len + 4, rec, len);
	l->len += 4 + len;
	l->count++;
	return 0;
}

/* The journal as state.c keeps it: every event's record, within its announced size. */
static void
reclog_event(void *ctx, const struct ns_event *ev)
{
	uint8_t buf[REC_BUF_MAX];
	size_t n = rec_encode_event(buf, ev);

	ck_assert_uint_le(n, rec_event_max(ev));
	if (ev->kind == NS_EV_MAP_ATTACHED || ev->kind == NS_EV_MAP_DETACHED)
		ck_assert_uint_gt(n, 0);
	if (n)
		reclog_add(ctx, buf, n);
}

/* Replays l into fresh (initialised here); 0 or the first refusal, with why. */
static int
reclog_replay(const struct reclog *l, struct backend *sim, struct ns *fresh, char *why,
              size_t whylen)
{
	ck_assert_int_eq(ns_init(fresh, &nc, sim), 0);
	fresh->replaying = true;
	for (size_t off = 0; off < l->len;) {
		uint32_t len;
		int r;

		memcpy(&len, l->buf + off, 4);
		r = rec_apply(fresh, l->buf + off + 4, len, why, whylen);
		if (r < 0)
			return r;
		off += 4 + len;
	}
	fresh->replaying = false;
	return 0;
}

static void
reclog_snapshot(const struct ns *ns, struct reclog *l)
{
	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(rec_snapshot(ns, reclog_add, l), 0);
}

/* got holds every attachment of want and no other, as the journal keeps them: same device,
 * dev_id and pt_id, descriptors lost. */
static void
assert_same_attachments(const struct ns *want, const struct ns *got)
{
	ck_assert_uint_eq(ns_attached(got), ns_attached(want));
	for (unsigned i = 0; i < want->nvms; i++) {
		const struct ns_vm *wv = want->vms[i], *gv = ns_vm_find(got, wv->name);

		ck_assert_ptr_nonnull(gv);
		for (const struct ns_mapping *wm = ns_vm_next(want, wv, 0); wm;
		     wm = ns_vm_next(want, wv, wm->gpasid)) {
			const struct ns_mapping *gm = ns_lookup_gpasid(gv, wm->gpasid);

			ck_assert_ptr_nonnull(gm);
			ck_assert_uint_eq(gm->natts, wm->natts);
			for (unsigned k = 0; k < wm->natts; k++) {
				const struct backend_attach *wa = wm->atts[k];
				const struct backend_attach *ga = ns_attachment(gm, wa->bdf);

				ck_assert_ptr_nonnull(ga);
				ck_assert_uint_eq(ga->dev_id, wa->dev_id);
				ck_assert_uint_eq(ga->pt_id, wa->pt_id);
				ck_assert_int_eq(ga->iommufd, -1);
				ck_assert_int_eq(ga->devfd, -1);
			}
		}
	}
}

static void
attach_live(struct ns *ns, struct ns_vm *vm, uint32_t g, uint32_t bdf, uint32_t dev_id,
            uint32_t pt_id)
{
	struct backend_attach a = {.bdf = bdf,
	                           .dev_id = dev_id,
	                           .pt_id = pt_id,
	                           .iommufd = open("/dev/null", O_RDONLY | O_CLOEXEC),
	                           .devfd = open("/dev/null", O_RDONLY | O_CLOEXEC)};
	struct ns_err err = {0};

	ck_assert_int_ge(a.iommufd, 0);
	ck_assert_int_ge(a.devfd, 0);
	ck_assert_msg(ns_attach(ns, vm, g, &a, &err) == 0, "%s", err.message);
}

/* A live namespace with attachments made, replaced, detached and freed with their mapping,
 * its events recorded as the journal records them. */
static void
live_with_attachments(struct ns *ns, struct backend *sim, struct reclog *log)
{
	const struct ns_owner o = {.pid = 4242, .starttime = 1, .uid = 1000};
	struct ns_mapping *maps[4];
	struct ns_err err = {0};
	struct ns_vm *a, *b;

	memset(log, 0, sizeof(*log));
	ck_assert_int_eq(ns_init(ns, &nc, sim), 0);
	ck_assert_int_eq(ns_observe(ns, &(struct ns_observer){.apply = reclog_event, .ctx = log}),
	                 0);
	ck_assert_int_eq(ns_vm_create(ns, "vm-a", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_TRANSLATED, &o, "/", -1, &a, &err),
	                 0);
	ck_assert_int_eq(ns_vm_create(ns, "vm-b", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
	                              NS_MODE_IDENTITY, &o, "/", -1, &b, &err),
	                 0);
	ck_assert_int_eq(ns_device_assign(ns, a, DEV_S, true, &err), 0);
	ck_assert_int_eq(ns_device_assign(ns, b, DEV_S, true, &err), 0);
	ck_assert_int_eq(ns_device_assign(ns, a, DEV_L, false, &err), 0);
	ck_assert_int_eq(
	    ns_alloc(ns, a,
	             &(struct ns_alloc_req){
	                 .type = NS_TYPE_SHARED, .gpasid = 1, .count = 4, .wq = "dsa0/wq0.1"},
	             maps, &err),
	    0);
	ck_assert_int_eq(
	    ns_alloc(ns, a,
	             &(struct ns_alloc_req){
	                 .type = NS_TYPE_LOCAL, .bdf = DEV_L, .gpasid = 77, .count = 1},
	             maps, &err),
	    0);
	ck_assert_int_eq(
	    ns_alloc(ns, b,
	             &(struct ns_alloc_req){.type = NS_TYPE_SHARED, .gpasid = -1, .count = 1}, maps,
	             &err),
	    0);
	attach_live(ns, a, 1, DEV_S, 10, 100);
	attach_live(ns, a, 2, DEV_S, 10, 101);
	attach_live(ns, a, 3, DEV_S, 10, 102);
	attach_live(ns, a, 4, DEV_S, 10, 103);
	attach_live(ns, a, 77, DEV_L, 11, 104);
	attach_live(ns, b, maps[0]->gpasid, DEV_S, 12, 105);
	ck_assert_int_eq(ns_detach(ns, a, 2, DEV_S, &err), 0); /* detached */
	ck_assert_int_eq(ns_free(ns, a, 3, &err), 0);          /* detached, then freed */
	attach_live(ns, a, 2, DEV_S, 10, 106);                 /* attached again, elsewhere */
	ck_assert_uint_eq(ns_attached(ns), 5);
}

/* What the journal records of attachments replays to the same attachments, lost until the
 * fd store gives them back; so does a snapshot, in which each mapping's REC_ATTACH records
 * follow its REC_MAP; and a snapshot of the replayed state is the same snapshot. */
START_TEST(test_attachments_replay)
{
	struct reclog log, snap, again;
	struct backend *sim;
	struct ns live, fresh, fresh2;
	char why[256];
	int prev_op = 0;
	struct rec_info prev = {0}, ri;

	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	live_with_attachments(&live, sim, &log);
	ck_assert_msg(reclog_replay(&log, sim, &fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	assert_same_attachments(&live, &fresh);
	ck_assert_ptr_null(ns_attachment(ns_lookup_gpasid(ns_vm_find(&fresh, "vm-a"), 4), DEV_L));
	ck_assert_ptr_null(ns_lookup_gpasid(ns_vm_find(&fresh, "vm-a"), 3));
	ck_assert_uint_eq(
	    ns_attachment(ns_lookup_gpasid(ns_vm_find(&fresh, "vm-a"), 2), DEV_S)->pt_id, 106);
	/* The work queue the mappings were handed out for, counted once per live mapping. */
	ck_assert_str_eq(ns_lookup_gpasid(ns_vm_find(&fresh, "vm-a"), 4)->wq->ref, "dsa0/wq0.1");
	ck_assert_uint_eq(ns_wq_find(&fresh, "dsa0/wq0.1")->nmaps, 3);
	ns_destroy(&fresh);

	reclog_snapshot(&live, &snap);
	for (size_t off = 0; off < snap.len;) {
		uint32_t len;

		memcpy(&len, snap.buf + off, 4);
		ck_assert_int_eq(rec_decode(snap.buf + off + 4, len, &ri), 0);
		if (ri.op == REC_ATTACH) {
			/* Right after its mapping, or another attachment of it. */
			ck_assert(prev_op == REC_MAP || prev_op == REC_ATTACH);
			ck_assert_str_eq(ri.vm, prev.vm);
			ck_assert_uint_eq(ri.gpasid, prev.gpasid);
		}
		prev_op = ri.op;
		prev = ri;
		off += 4 + len;
	}
	ck_assert_msg(reclog_replay(&snap, sim, &fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	assert_same_attachments(&live, &fresh);
	ck_assert_uint_eq(ns_wq_find(&fresh, "dsa0/wq0.1")->nmaps, 3);
	reclog_snapshot(&fresh, &again);
	ck_assert_uint_eq(again.len, snap.len);
	ck_assert_mem_eq(again.buf, snap.buf, snap.len);
	/* The replayed state's log replays too: attachments lost stay as they were. */
	ck_assert_msg(reclog_replay(&again, sim, &fresh2, why, sizeof(why)) == 0, "%s", why);
	assert_same_attachments(&fresh, &fresh2);
	ns_destroy(&fresh2);
	ns_destroy(&fresh);
	ns_destroy(&live);
	free(log.buf);
	free(snap.buf);
	free(again.buf);
	backend_close(sim);
}
END_TEST

/* ---- runs of mappings (REC_MAP_RUN, version 3) ---- */

/* The layout of record.h's table, byte by byte; what makes a run, and what a reader refuses:
 * a count of 0, a run past 2^32-1 on either side, a type of neither, a file of version 2,
 * a record cut short or with a byte more. */
START_TEST(test_map_run_layout)
{
	struct ns_vm vm = {.mode = NS_MODE_IDENTITY}, other = {.mode = NS_MODE_IDENTITY};
	struct ns_device dev = {.bdf = 0x010300};
	struct ns_wq wq = {.ref = "dsa0/wq0.1"}, wq2 = {.ref = "dsa0/wq0.2"};
	struct ns_mapping a = {.vm = &vm,
	                       .gpasid = 7,
	                       .hpasid = 4100,
	                       .type = NS_TYPE_SHARED,
	                       .wq = &wq},
	                  b = a, c;
	uint8_t buf[REC_BUF_MAX];
	struct rec_info ri;
	struct bytes x;
	size_t n;

	snprintf(vm.name, sizeof(vm.name), "vm-a");
	snprintf(other.name, sizeof(other.name), "vm-a");
	b.gpasid = 8;
	b.hpasid = 4101;
	ck_assert(rec_map_follows(&a, &b));
	ck_assert(!rec_map_follows(&b, &a));
	c = b, c.hpasid = 4102;
	ck_assert(!rec_map_follows(&a, &c));
	c = b, c.gpasid = 9;
	ck_assert(!rec_map_follows(&a, &c));
	c = b, c.vm = &other;
	ck_assert(!rec_map_follows(&a, &c));
	c = b, c.wq = &wq2;
	ck_assert(!rec_map_follows(&a, &c));
	c = b, c.type = NS_TYPE_LOCAL, c.dev = &dev;
	ck_assert(!rec_map_follows(&a, &c));
	c = a, c.gpasid = UINT32_MAX, c.hpasid = 5;
	b = c, b.gpasid = 0, b.hpasid = 6;
	ck_assert(!rec_map_follows(&c, &b)); /* no wrap */

	n = rec_map_run(buf, &a, 4096);
	x = (struct bytes){0};
	put_head(&x, 18, "vm-a");
	put_u8(&x, 0);
	put_u32(&x, 7);
	put_u32(&x, 4100);
	put_u32(&x, 4096);
	put_u32(&x, 0);
	put_str(&x, "dsa0/wq0.1");
	assert_record(buf, n, &x);
	ck_assert_int_eq(rec_decode(buf, n, &ri), 0);
	ck_assert_int_eq(ri.op, REC_MAP_RUN);
	ck_assert_uint_eq(ri.gpasid, 7);
	ck_assert_uint_eq(ri.hpasid, 4100);
	ck_assert_uint_eq(ri.count, 4096);
	ck_assert_str_eq(ri.wq, "dsa0/wq0.1");
	ck_assert_int_eq(rec_decode_version(buf, n, 2, &ri), -EUCLEAN);
	ck_assert_int_eq(ri.op, REC_MAP_RUN);
	ck_assert_int_eq(rec_decode(buf, n - 1, &ri), -EUCLEAN);
	buf[n] = 0;
	ck_assert_int_eq(rec_decode(buf, n + 1, &ri), -EUCLEAN);

	/* A local run names its device. */
	a.type = NS_TYPE_LOCAL, a.dev = &dev, a.wq = NULL, a.gpasid = a.hpasid = 100;
	n = rec_map_run(buf, &a, 2);
	x = (struct bytes){0};
	put_head(&x, 18, "vm-a");
	put_u8(&x, 1);
	put_u32(&x, 100);
	put_u32(&x, 100);
	put_u32(&x, 2);
	put_u32(&x, 0x010300);
	put_str(&x, "");
	assert_record(buf, n, &x);

	/* count, g0, h0, type: each at its limit and one past it. */
	{
		static const struct {
			uint8_t type;
			uint32_t g, h, count;
			int want;
		} cases[] = {
		    {0, 1, 1, 0, -EUCLEAN},
		    {0, UINT32_MAX - 1, 1, 2, 0},
		    {0, UINT32_MAX - 1, 1, 3, -EUCLEAN},
		    {0, 1, UINT32_MAX, 1, 0},
		    {0, 1, UINT32_MAX, 2, -EUCLEAN},
		    {2, 1, 1, 1, -EUCLEAN},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			x = (struct bytes){0};
			put_head(&x, 18, "vm-a");
			put_u8(&x, cases[i].type);
			put_u32(&x, cases[i].g);
			put_u32(&x, cases[i].h);
			put_u32(&x, cases[i].count);
			put_u32(&x, 0);
			put_str(&x, "");
			ck_assert_msg(rec_decode(x.b, x.n, &ri) == cases[i].want, "case %zu", i);
		}
	}
}
END_TEST

/* A run replays to the mappings it stands for, as many REC_MAPs would; one that overlaps a
 * mapping already there is refused, naming the mapping that does not apply. */
START_TEST(test_map_run_replay)
{
	const struct ns_owner own = {.pid = 1, .starttime = 1, .uid = 0};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 300};
	struct ns_mapping *m[300];
	struct ns live, fresh;
	struct backend *sim;
	struct ns_err err;
	struct ns_vm *vm, *vt;
	uint8_t buf[REC_BUF_MAX];
	char why[512];
	size_t n;

	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&live, &nc, sim), 0);
	ck_assert_int_eq(ns_vm_create(&live, "vm-i", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_IDENTITY, &own, "/", -1, &vm, &err),
	                 0);
	ck_assert_int_eq(ns_vm_create(&live, "vm-t", "0f8fad5b-d9cb-469f-a165-70867728950f",
	                              NS_MODE_TRANSLATED, &own, "/", -1, &vt, &err),
	                 0);
	ck_assert_msg(ns_alloc(&live, vm, &req, m, &err) == 0, "%s", err.message);
	for (unsigned i = 1; i < 300; i++)
		ck_assert(rec_map_follows(m[i - 1], m[i]));

	ck_assert_int_eq(ns_init(&fresh, &nc, sim), 0);
	fresh.replaying = true;
	n = rec_vm(buf, vm);
	ck_assert_msg(rec_apply(&fresh, buf, n, why, sizeof(why)) == 0, "%s", why);
	n = rec_vm(buf, vt);
	ck_assert_msg(rec_apply(&fresh, buf, n, why, sizeof(why)) == 0, "%s", why);
	n = rec_map_run(buf, m[0], 300);
	ck_assert_msg(rec_apply(&fresh, buf, n, why, sizeof(why)) == 0, "%s", why);
	/* Again: its first mapping is there already. */
	ck_assert_int_eq(rec_apply(&fresh, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "mapping 1 of a run of 300") && strstr(why, "vm-i"), "%s", why);
	fresh.replaying = false;
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(fresh.shared_maps.count, 300);
	for (unsigned i = 0; i < 300; i++) {
		const struct ns_mapping *got =
		    ns_lookup_gpasid(ns_vm_find(&fresh, "vm-i"), m[i]->gpasid);

		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(got->hpasid, m[i]->hpasid);
		ck_assert_int_eq(got->type, NS_TYPE_SHARED);
	}

	/* A translated VM's run from gPASID 1, whose 11th mapping is there already (its second
	 * half was replayed first): the ten before it stand, as ten REC_MAPs would. */
	req.count = 20;
	ck_assert_msg(ns_alloc(&live, vt, &req, m, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(m[0]->gpasid, 1);
	for (unsigned i = 1; i < 20; i++)
		ck_assert(rec_map_follows(m[i - 1], m[i]));
	fresh.replaying = true;
	n = rec_map_run(buf, m[10], 10);
	ck_assert_msg(rec_apply(&fresh, buf, n, why, sizeof(why)) == 0, "%s", why);
	n = rec_map_run(buf, m[0], 20);
	ck_assert_int_eq(rec_apply(&fresh, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "gPASID 11 ") && strstr(why, "mapping 11 of a run of 20"), "%s",
	              why);
	fresh.replaying = false;
	for (unsigned i = 0; i < 20; i++) {
		const struct ns_mapping *got = ns_lookup_gpasid(ns_vm_find(&fresh, "vm-t"), i + 1);

		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(got->hpasid, m[i]->hpasid);
	}
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	ns_destroy(&fresh);
	ns_destroy(&live);
	backend_close(sim);
}
END_TEST

/* A VM of owner pid 1 named name, its UUID ending in the hex digit last. */
static struct ns_vm *
snap_vm(struct ns *ns, const char *name, enum ns_mode mode, char last)
{
	const struct ns_owner own = {.pid = 1, .starttime = 1, .uid = 0};
	char uuid[] = "0f8fad5b-d9cb-469f-a165-70867728950?";
	struct ns_vm *vm;
	struct ns_err err;

	uuid[sizeof(uuid) - 2] = last;
	ck_assert_msg(ns_vm_create(ns, name, uuid, mode, &own, "/", -1, &vm, &err) == 0, "%s",
	              err.message);
	return vm;
}

/* snap replays into *fresh (left for the caller to look into and destroy) to a state that
 * holds, and whose own snapshot is the same bytes. */
static void
assert_snapshot_replays(const struct reclog *snap, struct backend *sim, struct ns *fresh)
{
	struct reclog again;
	char why[512];

	ck_assert_msg(reclog_replay(snap, sim, fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(fresh, why, sizeof(why)) == 0, "%s", why);
	reclog_snapshot(fresh, &again);
	ck_assert_uint_eq(again.len, snap->len);
	ck_assert_mem_eq(again.buf, snap->buf, snap->len);
	free(again.buf);
}

/* A snapshot writes a VM's consecutive mappings as runs, in gPASID order (a hole splits
 * one), replays to the same state, and a snapshot of that is the same bytes. */
START_TEST(test_snapshot_runs)
{
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 300};
	static struct ns_mapping *m[300];
	struct reclog snap;
	struct ns live, fresh;
	struct backend *sim;
	struct ns_err err;
	struct ns_vm *vi, *vt;
	struct rec_info ri;
	uint32_t runs[8][3];
	unsigned nruns = 0, nmaps = 0;
	char why[512];

	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&live, &nc, sim), 0);
	vi = snap_vm(&live, "vm-i", NS_MODE_IDENTITY, 'e');
	vt = snap_vm(&live, "vm-t", NS_MODE_TRANSLATED, 'f');
	ck_assert_msg(ns_alloc(&live, vi, &req, m, &err) == 0, "%s", err.message);
	ck_assert_int_eq(ns_free(&live, vi, m[100]->gpasid, &err), 0);
	req.count = 3;
	ck_assert_msg(ns_alloc(&live, vt, &req, m, &err) == 0, "%s", err.message);
	req.count = 1, req.gpasid = 7;
	ck_assert_msg(ns_alloc(&live, vt, &req, m, &err) == 0, "%s", err.message);

	reclog_snapshot(&live, &snap);
	for (size_t off = 0; off < snap.len;) {
		uint32_t len;

		memcpy(&len, snap.buf + off, 4);
		ck_assert_int_eq(rec_decode(snap.buf + off + 4, len, &ri), 0);
		if (ri.op == REC_MAP_RUN) {
			ck_assert_uint_lt(nruns, 8);
			runs[nruns][0] = ri.gpasid;
			runs[nruns][1] = ri.hpasid;
			runs[nruns++][2] = ri.count;
		}
		nmaps += ri.op == REC_MAP;
		off += 4 + len;
	}
	ck_assert_uint_eq(nruns, 3);
	ck_assert_uint_eq(nmaps, 1); /* vm-t's gPASID 7 */
	ck_assert_uint_eq(runs[0][0], 4096);
	ck_assert_uint_eq(runs[0][2], 100);
	ck_assert_uint_eq(runs[1][0], 4197);
	ck_assert_uint_eq(runs[1][2], 199);
	ck_assert_uint_eq(runs[2][0], 1);
	ck_assert_uint_eq(runs[2][1], 4396);
	ck_assert_uint_eq(runs[2][2], 3);

	assert_snapshot_replays(&snap, sim, &fresh);
	ck_assert_uint_eq(fresh.shared_maps.count, 303);
	ck_assert_ptr_null(ns_lookup_gpasid(ns_vm_find(&fresh, "vm-i"), 4196));
	ck_assert_uint_eq(ns_lookup_gpasid(ns_vm_find(&fresh, "vm-t"), 7)->hpasid, 4399);
	ns_destroy(&fresh);
	ns_destroy(&live);
	free(snap.buf);
	backend_close(sim);
}
END_TEST

/* Each VM's mappings in a snapshot: in increasing gPASID order, runs as long as they can be
 * (no record would extend the one before it). Returns how many mappings the records hold. */
static unsigned
assert_maps_in_order(const struct reclog *snap)
{
	struct rec_info ri;
	char vm[sizeof(ri.vm)] = "";
	uint32_t next_g = 0, next_h = 0;
	bool have = false, extendable = false;
	unsigned total = 0;

	for (size_t off = 0; off < snap->len;) {
		uint32_t len, count;

		memcpy(&len, snap->buf + off, 4);
		ck_assert_int_eq(rec_decode(snap->buf + off + 4, len, &ri), 0);
		off += 4 + len;
		if (ri.op != REC_MAP && ri.op != REC_MAP_RUN)
			continue;
		count = ri.op == REC_MAP_RUN ? ri.count : 1;
		if (have && !strcmp(vm, ri.vm)) {
			ck_assert_msg(ri.gpasid >= next_g, "%s: gPASID %u after %u", vm, ri.gpasid,
			              next_g - 1);
			ck_assert_msg(!extendable || ri.gpasid != next_g || ri.hpasid != next_h,
			              "%s: gPASID %u could have continued the run before", vm,
			              ri.gpasid);
		}
		snprintf(vm, sizeof(vm), "%s", ri.vm);
		have = true;
		next_g = ri.gpasid + count;
		next_h = ri.hpasid + count;
		extendable = ri.type == NS_TYPE_SHARED && !ri.wq[0];
		total += count;
	}
	return total;
}

/* A VM's mappings come out of its map in no particular order once some live outside its
 * dense window (scattered numbers): a small VM's are sorted by comparison, a large one's by
 * radix, and one walked in order is left as it is; each way the snapshot is in order and
 * replays to the same state. */
START_TEST(test_snapshot_scattered_order)
{
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .count = 1};
	struct ns_mapping *m;
	struct reclog snap;
	struct ns live, fresh;
	struct backend *sim;
	struct ns_err err;
	struct ns_vm *small, *large, *plain;
	unsigned want = 0;
	uint32_t x = 12345;
	char why[512];

	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&live, &nc, sim), 0);
	small = snap_vm(&live, "small", NS_MODE_TRANSLATED, 'a');
	large = snap_vm(&live, "large", NS_MODE_IDENTITY, 'b');
	plain = snap_vm(&live, "plain", NS_MODE_TRANSLATED, 'c');
	/* Guest numbers far apart and in a scrambled order; a few next to each other. */
	for (int i = 0; i < 40; i++) {
		x = x * 1103515245u + 12345u;
		req.gpasid = 1 + (int64_t)((x >> 8) % 4095);
		if (ns_alloc(&live, small, &req, &m, &err) == 0)
			want++;
	}
	for (int64_t g = 3000; g < 3004; g++) {
		req.gpasid = g;
		want += ns_alloc(&live, small, &req, &m, &err) == 0;
	}
	/* 9000 hPASIDs 1 in 40 apart, from the top down, then a run of 50. */
	for (int64_t i = 0; i < 9000; i++) {
		req.gpasid = 8192 + 40 * (8999 - i);
		ck_assert_msg(ns_alloc(&live, large, &req, &m, &err) == 0, "%s", err.message);
		want++;
	}
	req.gpasid = -1;
	req.count = 50;
	{
		static struct ns_mapping *ms[50];

		ck_assert_msg(ns_alloc(&live, large, &req, ms, &err) == 0, "%s", err.message);
		ck_assert_msg(ns_alloc(&live, plain, &req, ms, &err) == 0, "%s", err.message);
	}
	want += 100;

	reclog_snapshot(&live, &snap);
	ck_assert_uint_eq(assert_maps_in_order(&snap), want);
	assert_snapshot_replays(&snap, sim, &fresh);
	ck_assert_uint_eq(fresh.shared_maps.count, want);
	ns_destroy(&fresh);
	ns_destroy(&live);
	free(snap.buf);
	backend_close(sim);
}
END_TEST

/* ---- reservations (version 3) ---- */

/* The layouts of record.h's table, byte by byte. */
START_TEST(test_reserve_layouts)
{
	struct ns_resv r = {.first = 8000,
	                    .last = 8063,
	                    .uid = 1000,
	                    .pid = 4242,
	                    .expires = 0x0102030405060708ull};
	uint8_t buf[REC_BUF_MAX];
	struct bytes want = {0};
	struct rec_info ri;
	size_t n;

	snprintf(r.name, sizeof(r.name), "mig");
	snprintf(r.why, sizeof(r.why), "import of vm-7");
	put_head(&want, 13, "");
	put_str(&want, "mig");
	put_u32(&want, 8000);
	put_u32(&want, 8063);
	put_str(&want, "import of vm-7");
	put_u32(&want, 1000);
	put_u32(&want, 4242);
	put_u64(&want, 0x0102030405060708ull);
	n = rec_reserve(buf, &r);
	assert_record(buf, n, &want);
	ck_assert_int_eq(rec_decode(buf, n, &ri), 0);
	ck_assert_str_eq(ri.name, "mig");
	ck_assert_str_eq(ri.why, "import of vm-7");
	ck_assert_uint_eq(ri.first, 8000);
	ck_assert_uint_eq(ri.last, 8063);
	ck_assert_uint_eq(ri.expires, 0x0102030405060708ull);
	ck_assert_uint_le(n, rec_event_max(&(struct ns_event){.kind = NS_EV_RESERVED, .resv = &r}));
	/* Not in the versions before 3: an op they do not have. */
	ck_assert_int_eq(rec_decode_version(buf, n, 2, &ri), -EUCLEAN);
	want.n = 0;
	put_head(&want, 14, "");
	put_str(&want, "mig");
	n = rec_unreserve(buf, "mig");
	assert_record(buf, n, &want);
	ck_assert_int_eq(rec_decode_version(buf, n, 2, &ri), -EUCLEAN);
	/* A config reservation is never recorded. */
	r.config = true;
	ck_assert_uint_eq(
	    rec_encode_event(buf, &(struct ns_event){.kind = NS_EV_RESERVED, .resv = &r}), 0);
	ck_assert_uint_eq(
	    rec_encode_event(buf, &(struct ns_event){.kind = NS_EV_UNRESERVED, .resv = &r}), 0);
}
END_TEST

/* Reservations made, used by name, removed, expired and from the configuration, journaled and
 * snapshotted: both replay to the same reservations (config ones left out), and the snapshot
 * puts a reservation before the mappings handed out of it. */
START_TEST(test_reservations_replay)
{
	struct ns_observer o = {.apply = reclog_event};
	struct ns_resv spec = {.first = 5000, .last = 5099, .uid = 3, .pid = 4, .expires = 77};
	struct ns_resv cfgr = {.first = 9000, .last = 9009};
	struct reclog log = {0}, snap, again;
	struct ns live, fresh;
	struct backend *sim;
	struct ns_err err;
	struct ns_vm *vm;
	struct ns_alloc_req req = {
	    .type = NS_TYPE_SHARED, .gpasid = -1, .count = 3, .reservation = "mig"};
	struct ns_mapping *m[3];
	const struct ns_owner own = {.pid = 1, .starttime = 1, .uid = 0};
	char why[256];
	size_t bad;

	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&live, &nc, sim), 0);
	o.ctx = &log;
	ck_assert_int_eq(ns_observe(&live, &o), 0);
	ck_assert_int_eq(ns_resv_set_config(&live, &cfgr, 1, &bad, &err), 0);
	snprintf(spec.name, sizeof(spec.name), "mig");
	snprintf(spec.why, sizeof(spec.why), "ahead of an import");
	ck_assert_int_eq(ns_reserve(&live, &spec, NULL, &err), 0);
	spec = (struct ns_resv){.first = 6000, .last = 6000};
	ck_assert_int_eq(ns_reserve(&live, &spec, NULL, &err), 0);
	spec = (struct ns_resv){.first = 7000, .last = 7001};
	ck_assert_int_eq(ns_reserve(&live, &spec, NULL, &err), 0);
	ck_assert_int_eq(ns_unreserve(&live, ns_resv_find(&live, "6000-6000"), &err), 0);
	ck_assert_int_eq(ns_vm_create(&live, "vm-a", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_TRANSLATED, &own, "/", -1, &vm, &err),
	                 0);
	ck_assert_msg(ns_alloc(&live, vm, &req, m, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(m[0]->hpasid, 5000);

	ck_assert_msg(reclog_replay(&log, sim, &fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(fresh.nresvs, 2);
	ck_assert_ptr_null(ns_resv_find(&fresh, "9000-9009"));
	ck_assert_ptr_null(ns_resv_find(&fresh, "6000-6000"));
	ck_assert_str_eq(ns_resv_find(&fresh, "mig")->why, "ahead of an import");
	ck_assert_uint_eq(ns_resv_find(&fresh, "mig")->expires, 77);
	ck_assert_uint_eq(ns_resv_find(&fresh, "mig")->uid, 3);
	ck_assert_uint_eq(ns_resv_find(&fresh, "mig")->pid, 4);
	ck_assert_uint_eq(ns_resv_find(&fresh, "mig")->nmaps, 3);
	ns_destroy(&fresh);

	reclog_snapshot(&live, &snap);
	ck_assert_msg(reclog_replay(&snap, sim, &fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(fresh.nresvs, 2);
	ck_assert_uint_eq(ns_resv_find(&fresh, "mig")->nmaps, 3);
	reclog_snapshot(&fresh, &again);
	ck_assert_uint_eq(again.len, snap.len);
	ck_assert_mem_eq(again.buf, snap.buf, snap.len);
	/* A removal of a reservation that is not there is damage. */
	{
		uint8_t buf[REC_BUF_MAX];
		size_t n = rec_unreserve(buf, "ghost");

		fresh.replaying = true;
		ck_assert_int_eq(rec_apply(&fresh, buf, n, why, sizeof(why)), -EUCLEAN);
		ck_assert_msg(strstr(why, "ghost"), "%s", why);
		/* An overlapping one too. */
		spec = (struct ns_resv){.first = 5050, .last = 5200};
		snprintf(spec.name, sizeof(spec.name), "x");
		n = rec_reserve(buf, &spec);
		ck_assert_int_eq(rec_apply(&fresh, buf, n, why, sizeof(why)), -EUCLEAN);
		fresh.replaying = false;
	}
	ns_destroy(&fresh);
	ns_destroy(&live);
	free(log.buf);
	free(snap.buf);
	free(again.buf);
	backend_close(sim);
}
END_TEST

/* An attach or detach that names a VM, mapping, device or attachment that is not there, or
 * attaches twice, is refused as damage and changes nothing. */
START_TEST(test_attach_replay_refused)
{
	const struct backend_attach on_s = {.bdf = DEV_S, .dev_id = 1, .pt_id = 2};
	const struct backend_attach on_l = {.bdf = DEV_L, .dev_id = 1, .pt_id = 2};
	struct ns_vm vm = {.owner = {.pid = 1}, .cgroup = "/"};
	struct ns_mapping m = {.vm = &vm, .gpasid = 5, .hpasid = 4200, .type = NS_TYPE_SHARED};
	static const struct {
		bool attach;
		const char *vm;
		uint32_t g;
		bool local;
		const char *says;
	} bad[] = {
	    {true, "vm-x", 5, false, "names unknown VM 'vm-x'"},
	    {true, "vm-a", 6, false, "gPASID 6 is not allocated in vm-a"},
	    {true, "vm-a", 5, true, "device 0001:03:00.0 is not assigned to vm-a"},
	    {true, "vm-a", 5, false, "gPASID 5 is attached twice"},
	    {false, "vm-x", 5, false, "names unknown VM 'vm-x'"},
	    {false, "vm-a", 6, false, "gPASID 6 is not allocated in vm-a"},
	    {false, "vm-a", 5, true, "gPASID 5 of vm-a is not attached on 0001:03:00.0"},
	};
	uint8_t buf[REC_BUF_MAX];
	struct reclog before, after;
	struct backend *sim;
	char why[256];
	struct ns ns;
	size_t n;

	snprintf(vm.name, sizeof(vm.name), "vm-a");
	snprintf(vm.uuid, sizeof(vm.uuid), "0f8fad5b-d9cb-469f-a165-70867728950e");
	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &nc, sim), 0);
	ns.replaying = true;
	ck_assert_int_eq(rec_apply(&ns, buf, rec_vm(buf, &vm), why, sizeof(why)), 0);
	ck_assert_int_eq(rec_apply(&ns, buf, rec_dev(buf, "vm-a", DEV_S, true), why, sizeof(why)),
	                 0);
	ck_assert_int_eq(rec_apply(&ns, buf, rec_map(buf, &m), why, sizeof(why)), 0);
	/* Version 0 does not have the op: refused before the record is looked at. */
	n = rec_attach(buf, "vm-a", 5, &on_s);
	ck_assert_int_eq(rec_apply_version(&ns, 0, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "record of type 11 in a file of format version 0"), "%s", why);
	ck_assert_uint_eq(ns_attached(&ns), 0);
	ck_assert_int_eq(rec_apply_version(&ns, 1, buf, n, why, sizeof(why)), 0);
	ck_assert_uint_eq(ns_attached(&ns), 1);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct backend_attach *a = bad[i].local ? &on_l : &on_s;

		n = bad[i].attach ? rec_attach(buf, bad[i].vm, bad[i].g, a)
		                  : rec_detach(buf, bad[i].vm, bad[i].g, a->bdf);
		reclog_snapshot(&ns, &before);
		why[0] = '\0';
		ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
		ck_assert_msg(strstr(why, bad[i].says), "%zu: '%s' lacks '%s'", i, why,
		              bad[i].says);
		reclog_snapshot(&ns, &after);
		ck_assert_uint_eq(after.len, before.len);
		ck_assert_mem_eq(after.buf, before.buf, before.len);
		ck_assert_uint_eq(ns_attached(&ns), 1);
		free(before.buf);
		free(after.buf);
	}
	/* Detached, it is gone; a second detach is refused. */
	n = rec_detach(buf, "vm-a", 5, DEV_S);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), 0);
	ck_assert_uint_eq(ns_attached(&ns), 0);
	ck_assert_ptr_null(ns_attachment(ns_lookup_gpasid(ns_vm_find(&ns, "vm-a"), 5), DEV_S));
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "gPASID 5 of vm-a is not attached on 0000:00:15.0"), "%s", why);
	ns_destroy(&ns);
	backend_close(sim);
}
END_TEST

/* Version 3: a device's requester ID attachment (device.attach) and its end. Every
 * truncation, and one byte more, is malformed; both ops are refused in a file of version 2,
 * which does not have them, while the ops of version 2 read the same in version 3. */
START_TEST(test_devattach_records)
{
	const struct backend_attach att = {.bdf = 0x010300, .dev_id = 0xd1d2d3d4, .pt_id = 77};
	struct ns_vm vm = {.owner = {.pid = 1}, .cgroup = "/"};
	struct ns_mapping m = {.vm = &vm, .gpasid = 5, .hpasid = 4200, .type = NS_TYPE_SHARED};
	uint8_t buf[REC_BUF_MAX];
	struct bytes x = {0};
	struct rec_info ri;
	size_t n;

	snprintf(vm.name, sizeof(vm.name), "vm-a");
	put_head(&x, 15, "vm-a");
	put_u32(&x, 0x010300);
	put_u32(&x, 0xd1d2d3d4);
	put_u32(&x, 77);
	assert_record(buf, rec_devattach(buf, "vm-a", &att), &x);
	ck_assert_int_eq(rec_decode(buf, x.n, &ri), 0);
	ck_assert_int_eq(ri.op, REC_DEVATTACH);
	ck_assert_uint_eq(ri.bdf, 0x010300);
	ck_assert_uint_eq(ri.dev_id, 0xd1d2d3d4);
	ck_assert_uint_eq(ri.pt_id, 77);
	ck_assert_uint_le(x.n, rec_event_max(&(struct ns_event){.kind = NS_EV_DEV_ATTACHED}));
	for (int op = 0; op < 2; op++) {
		n = op ? rec_devdetach(buf, "vm-a", 0x010300) : rec_devattach(buf, "vm-a", &att);
		ck_assert_uint_eq(n, 1 + 4 + 4 + (op ? 4 : 12));
		ck_assert_int_eq(rec_decode_version(buf, n, 3, &ri), 0);
		ck_assert_uint_eq(ri.bdf, 0x010300);
		for (size_t k = 0; k < n; k++)
			ck_assert_int_eq(rec_decode(buf, k, &ri), -EUCLEAN);
		buf[n] = 0;
		ck_assert_int_eq(rec_decode(buf, n + 1, &ri), -EUCLEAN);
		ck_assert_int_eq(rec_decode_version(buf, n, 2, &ri), -EUCLEAN);
		ck_assert_int_eq(ri.op, op ? REC_DEVDETACH : REC_DEVATTACH);
	}
	n = rec_map(buf, &m);
	ck_assert_int_eq(rec_decode_version(buf, n, 2, &ri), 0);
	ck_assert_int_eq(rec_decode_version(buf, n, 3, &ri), 0);
}
END_TEST

static void
devattach_live(struct ns *ns, struct ns_vm *vm, uint32_t bdf, uint32_t dev_id, uint32_t pt_id)
{
	struct backend_attach a = {.bdf = bdf,
	                           .dev_id = dev_id,
	                           .pt_id = pt_id,
	                           .iommufd = open("/dev/null", O_RDONLY | O_CLOEXEC),
	                           .devfd = open("/dev/null", O_RDONLY | O_CLOEXEC)};
	struct ns_err err = {0};

	ck_assert_msg(ns_device_attach(ns, vm, &a, &err) == 0, "%s", err.message);
}

/* The requester ID attachments of live as a fresh namespace has them after a replay: the same
 * devices, dev_id and pt_id, descriptors lost. */
static void
assert_same_rids(const struct ns *want, const struct ns *got)
{
	size_t it = 0;
	void *p;

	ck_assert_uint_eq(ns_rid_attached(got), ns_rid_attached(want));
	while (u32map_next(&want->devices, &it, NULL, &p)) {
		const struct ns_device *w = p, *g = ns_device_find(got, w->bdf);

		if (!w->rid) {
			ck_assert(!g || !g->rid);
			continue;
		}
		ck_assert_ptr_nonnull(g);
		ck_assert_ptr_nonnull(g->rid);
		ck_assert_uint_eq(g->rid->dev_id, w->rid->dev_id);
		ck_assert_uint_eq(g->rid->pt_id, w->rid->pt_id);
		ck_assert_int_eq(g->rid->iommufd, -1);
		ck_assert_int_eq(g->rid->devfd, -1);
		ck_assert_ptr_eq(g->owner, ns_vm_find(got, w->owner->name));
	}
}

/* What the journal records of requester ID attachments (attached, replaced, detached, attached
 * again, released with the device, unregistered with the VM) replays to the same state, and
 * so does a snapshot, where each REC_DEVATTACH follows its REC_DEV. */
START_TEST(test_devattach_replay)
{
	const struct ns_owner o = {.pid = 4242, .starttime = 1, .uid = 1000};
	struct reclog log, snap, again;
	struct ns live, fresh;
	struct ns_err err = {0};
	struct backend *sim;
	struct ns_vm *a, *b;
	struct rec_info ri, prev = {0};
	char why[256];

	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	memset(&log, 0, sizeof(log));
	ck_assert_int_eq(ns_init(&live, &nc, sim), 0);
	ck_assert_int_eq(
	    ns_observe(&live, &(struct ns_observer){.apply = reclog_event, .ctx = &log}), 0);
	ck_assert_int_eq(ns_vm_create(&live, "vm-a", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_TRANSLATED, &o, "/", -1, &a, &err),
	                 0);
	ck_assert_int_eq(ns_vm_create(&live, "vm-b", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
	                              NS_MODE_TRANSLATED, &o, "/", -1, &b, &err),
	                 0);
	ck_assert_int_eq(ns_device_assign(&live, a, DEV_L, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&live, a, 0x010400, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&live, a, 0x010500, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&live, b, DEV_S, false, &err), 0);
	devattach_live(&live, a, DEV_L, 1, 10);
	devattach_live(&live, a, DEV_L, 1, 11); /* replaced */
	devattach_live(&live, a, 0x010400, 2, 12);
	ck_assert_int_eq(ns_device_detach(&live, a, 0x010400, &err), 0);
	devattach_live(&live, a, 0x010400, 2, 13); /* attached again */
	devattach_live(&live, a, 0x010500, 3, 14);
	ck_assert_int_eq(ns_device_release(&live, a, 0x010500, &err), 0);
	devattach_live(&live, b, DEV_S, 4, 15);
	ck_assert_msg(ns_check(&live, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(ns_rid_attached(&live), 3);

	ck_assert_msg(reclog_replay(&log, sim, &fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	assert_same_rids(&live, &fresh);
	ck_assert_uint_eq(ns_device_find(&fresh, DEV_L)->rid->pt_id, 11);
	ck_assert_uint_eq(ns_device_find(&fresh, 0x010400)->rid->pt_id, 13);
	ck_assert_ptr_null(ns_device_find(&fresh, 0x010500)->rid);
	ns_destroy(&fresh);

	reclog_snapshot(&live, &snap);
	for (size_t off = 0; off < snap.len;) {
		uint32_t len;

		memcpy(&len, snap.buf + off, 4);
		ck_assert_int_eq(rec_decode(snap.buf + off + 4, len, &ri), 0);
		if (ri.op == REC_DEVATTACH) {
			ck_assert_int_eq(prev.op, REC_DEV);
			ck_assert_str_eq(ri.vm, prev.vm);
			ck_assert_uint_eq(ri.bdf, prev.bdf);
		}
		prev = ri;
		off += 4 + len;
	}
	ck_assert_msg(reclog_replay(&snap, sim, &fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	assert_same_rids(&live, &fresh);
	reclog_snapshot(&fresh, &again);
	ck_assert_uint_eq(again.len, snap.len);
	ck_assert_mem_eq(again.buf, snap.buf, snap.len);
	ns_destroy(&fresh);

	/* Unregistered: its devices' RIDs go with it, journaled before the VM's end. */
	ck_assert_int_ge(ns_vm_destroy(&live, a, &err), 0);
	ck_assert_uint_eq(ns_rid_attached(&live), 1);
	ck_assert_msg(reclog_replay(&log, sim, &fresh, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(ns_check(&fresh, why, sizeof(why)) == 0, "%s", why);
	assert_same_rids(&live, &fresh);
	ns_destroy(&fresh);
	ns_destroy(&live);
	free(log.buf);
	free(snap.buf);
	free(again.buf);
	backend_close(sim);
}
END_TEST

/* A requester ID record that does not apply (unknown VM, a device the VM does not hold
 * exclusively, attached twice, detached when not attached) is damage and changes nothing. */
START_TEST(test_devattach_replay_refused)
{
	const struct backend_attach on_l = {.bdf = DEV_L, .dev_id = 1, .pt_id = 2};
	const struct backend_attach on_s = {.bdf = DEV_S, .dev_id = 1, .pt_id = 2};
	struct ns_vm vm = {.owner = {.pid = 1}, .cgroup = "/"};
	uint8_t buf[REC_BUF_MAX];
	struct backend *sim;
	char why[256];
	struct ns ns;
	size_t n;

	snprintf(vm.name, sizeof(vm.name), "vm-a");
	snprintf(vm.uuid, sizeof(vm.uuid), "0f8fad5b-d9cb-469f-a165-70867728950e");
	ck_assert_int_eq(backend_open("sim", &sim, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &nc, sim), 0);
	ns.replaying = true;
	ck_assert_int_eq(rec_apply(&ns, buf, rec_vm(buf, &vm), why, sizeof(why)), 0);
	ck_assert_int_eq(rec_apply(&ns, buf, rec_dev(buf, "vm-a", DEV_S, true), why, sizeof(why)),
	                 0);
	ck_assert_int_eq(rec_apply(&ns, buf, rec_dev(buf, "vm-a", DEV_L, false), why, sizeof(why)),
	                 0);
	n = rec_devattach(buf, "vm-a", &on_l);
	ck_assert_int_eq(rec_apply_version(&ns, 2, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "record of type 15 in a file of format version 2"), "%s", why);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), 0);
	ck_assert_uint_eq(ns_rid_attached(&ns), 1);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "attached twice"), "%s", why);
	n = rec_devattach(buf, "vm-x", &on_l);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "unknown VM 'vm-x'"), "%s", why);
	n = rec_devattach(buf, "vm-a", &on_s);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "shared"), "%s", why);
	n = rec_devdetach(buf, "vm-a", DEV_S);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "is not attached"), "%s", why);
	ck_assert_uint_eq(ns_rid_attached(&ns), 1);
	n = rec_devdetach(buf, "vm-a", DEV_L);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), 0);
	ck_assert_uint_eq(ns_rid_attached(&ns), 0);
	ck_assert_int_eq(rec_apply(&ns, buf, n, why, sizeof(why)), -EUCLEAN);
	ns.replaying = false;
	ck_assert_msg(ns_check(&ns, why, sizeof(why)) == 0, "%s", why);
	ns_destroy(&ns);
	backend_close(sim);
}
END_TEST

/* ---- state directories ---- */

/* Written by pasidd before the record format version was numbered (commit 3364f0a), with
 * every op: journal.0 alone (registrations, devices, shared and local allocations, a quota,
 * a free, a VM released and unregistered), then compacted into snapshot.1, and journal.1 with
 * an owner handover, an allocation and two quota changes. */
static const uint8_t gen0_journal[] = {
    0x50, 0x41, 0x53, 0x49, 0x44, 0x44, 0x4a, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x65, 0xb4, 0xa5, 0x9d, 0x5b, 0x00, 0x00, 0x00, 0x65, 0x82, 0xdd, 0x18,
    0x01, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x00, 0x92, 0x10, 0x00, 0x00, 0x15, 0xcd,
    0x5b, 0x07, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x30, 0x66, 0x38, 0x66, 0x61, 0x64,
    0x35, 0x62, 0x2d, 0x64, 0x39, 0x63, 0x62, 0x2d, 0x34, 0x36, 0x39, 0x66, 0x2d, 0x61, 0x31, 0x36,
    0x35, 0x2d, 0x37, 0x30, 0x38, 0x36, 0x37, 0x37, 0x32, 0x38, 0x39, 0x35, 0x30, 0x65, 0x19, 0x00,
    0x00, 0x00, 0x2f, 0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e, 0x65, 0x2e, 0x73, 0x6c, 0x69, 0x63, 0x65,
    0x2f, 0x76, 0x6d, 0x2d, 0x61, 0x2e, 0x73, 0x63, 0x6f, 0x70, 0x65, 0x0e, 0x00, 0x00, 0x00, 0x4c,
    0x57, 0x93, 0x76, 0x03, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0xa8, 0x00, 0x00, 0x00,
    0x01, 0x0e, 0x00, 0x00, 0x00, 0x92, 0xa4, 0xf6, 0xf3, 0x03, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d,
    0x2d, 0x61, 0x00, 0x03, 0x01, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0xe1, 0x56, 0xc4, 0x65, 0x05,
    0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x96, 0x57, 0x6a, 0x7f, 0x05, 0x04, 0x00,
    0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0xcf, 0x04, 0x5f, 0x95, 0x05, 0x04, 0x00, 0x00, 0x00,
    0x76, 0x6d, 0x2d, 0x61, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x09, 0x00, 0x00, 0x00, 0x7b, 0x6f, 0xb6, 0xaa, 0x07, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
    0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x79, 0x1b, 0xd9, 0x2f, 0x05, 0x04, 0x00, 0x00, 0x00, 0x76,
    0x6d, 0x2d, 0x61, 0x01, 0x4d, 0x00, 0x00, 0x00, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00,
    0x16, 0x00, 0x00, 0x00, 0x40, 0xe0, 0x0f, 0xa7, 0x05, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d,
    0x61, 0x01, 0x4e, 0x00, 0x00, 0x00, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x0d, 0x00,
    0x00, 0x00, 0xb9, 0xdc, 0xc0, 0xdf, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x5b, 0x00, 0x00, 0x00, 0x20, 0xd5, 0xb5, 0xa2, 0x01, 0x04, 0x00, 0x00, 0x00,
    0x76, 0x6d, 0x2d, 0x62, 0x01, 0xf7, 0x10, 0x00, 0x00, 0xb1, 0x68, 0xde, 0x3a, 0x00, 0x00, 0x00,
    0x00, 0xe9, 0x03, 0x00, 0x00, 0x37, 0x63, 0x39, 0x65, 0x36, 0x36, 0x37, 0x39, 0x2d, 0x37, 0x34,
    0x32, 0x35, 0x2d, 0x34, 0x30, 0x64, 0x65, 0x2d, 0x39, 0x34, 0x34, 0x62, 0x2d, 0x65, 0x30, 0x37,
    0x66, 0x63, 0x31, 0x66, 0x39, 0x30, 0x61, 0x65, 0x37, 0x19, 0x00, 0x00, 0x00, 0x2f, 0x6d, 0x61,
    0x63, 0x68, 0x69, 0x6e, 0x65, 0x2e, 0x73, 0x6c, 0x69, 0x63, 0x65, 0x2f, 0x76, 0x6d, 0x2d, 0x62,
    0x2e, 0x73, 0x63, 0x6f, 0x70, 0x65, 0x16, 0x00, 0x00, 0x00, 0x4b, 0x3b, 0xfa, 0x7d, 0x05, 0x04,
    0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x62, 0x00, 0x03, 0x10, 0x00, 0x00, 0x03, 0x10, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0xdf, 0x12, 0xf6, 0x11, 0x05, 0x04, 0x00, 0x00,
    0x00, 0x76, 0x6d, 0x2d, 0x62, 0x00, 0x04, 0x10, 0x00, 0x00, 0x04, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x09, 0x7d, 0xf3, 0x6e, 0x07, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x95, 0x94, 0xe6, 0x34, 0x09, 0x00, 0x00, 0x00, 0x00,
    0x0e, 0x00, 0x00, 0x00, 0x2f, 0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e, 0x65, 0x2e, 0x73, 0x6c, 0x69,
    0x63, 0x65, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x1f, 0xb1,
    0x08, 0xf9, 0x06, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x01, 0x00, 0x00, 0x00, 0x43,
    0x00, 0x00, 0x00, 0xef, 0xce, 0x5f, 0xb9, 0x01, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x63,
    0x00, 0x92, 0x10, 0x00, 0x00, 0x15, 0xcd, 0x5b, 0x07, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00,
    0x00, 0x31, 0x36, 0x66, 0x64, 0x32, 0x37, 0x30, 0x36, 0x2d, 0x38, 0x62, 0x61, 0x66, 0x2d, 0x34,
    0x33, 0x33, 0x62, 0x2d, 0x38, 0x32, 0x65, 0x62, 0x2d, 0x38, 0x63, 0x37, 0x66, 0x61, 0x64, 0x61,
    0x38, 0x34, 0x37, 0x64, 0x61, 0x01, 0x00, 0x00, 0x00, 0x2f, 0x0e, 0x00, 0x00, 0x00, 0xc6, 0xfd,
    0x50, 0x92, 0x03, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x63, 0x10, 0x00, 0x00, 0x00, 0x01,
    0x0d, 0x00, 0x00, 0x00, 0x08, 0x05, 0xaf, 0xdc, 0x04, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d,
    0x63, 0x10, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x9c, 0x52, 0x14, 0x7a, 0x02, 0x04, 0x00,
    0x00, 0x00, 0x76, 0x6d, 0x2d, 0x63,
};

static const uint8_t gen1_snapshot[] = {
    0x50, 0x41, 0x53, 0x49, 0x44, 0x44, 0x53, 0x31, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x94, 0x8b, 0x19, 0x01, 0x5b, 0x00, 0x00, 0x00, 0x65, 0x82, 0xdd, 0x18,
    0x01, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x00, 0x92, 0x10, 0x00, 0x00, 0x15, 0xcd,
    0x5b, 0x07, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x30, 0x66, 0x38, 0x66, 0x61, 0x64,
    0x35, 0x62, 0x2d, 0x64, 0x39, 0x63, 0x62, 0x2d, 0x34, 0x36, 0x39, 0x66, 0x2d, 0x61, 0x31, 0x36,
    0x35, 0x2d, 0x37, 0x30, 0x38, 0x36, 0x37, 0x37, 0x32, 0x38, 0x39, 0x35, 0x30, 0x65, 0x19, 0x00,
    0x00, 0x00, 0x2f, 0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e, 0x65, 0x2e, 0x73, 0x6c, 0x69, 0x63, 0x65,
    0x2f, 0x76, 0x6d, 0x2d, 0x61, 0x2e, 0x73, 0x63, 0x6f, 0x70, 0x65, 0x0e, 0x00, 0x00, 0x00, 0x4c,
    0x57, 0x93, 0x76, 0x03, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0xa8, 0x00, 0x00, 0x00,
    0x01, 0x0e, 0x00, 0x00, 0x00, 0x92, 0xa4, 0xf6, 0xf3, 0x03, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d,
    0x2d, 0x61, 0x00, 0x03, 0x01, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x96, 0x57, 0x6a, 0x7f, 0x05,
    0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x40, 0xe0, 0x0f, 0xa7, 0x05, 0x04, 0x00,
    0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x01, 0x4e, 0x00, 0x00, 0x00, 0x4e, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x01, 0x00, 0x16, 0x00, 0x00, 0x00, 0x79, 0x1b, 0xd9, 0x2f, 0x05, 0x04, 0x00, 0x00, 0x00,
    0x76, 0x6d, 0x2d, 0x61, 0x01, 0x4d, 0x00, 0x00, 0x00, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01,
    0x00, 0x16, 0x00, 0x00, 0x00, 0xcf, 0x04, 0x5f, 0x95, 0x05, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d,
    0x2d, 0x61, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5b,
    0x00, 0x00, 0x00, 0x20, 0xd5, 0xb5, 0xa2, 0x01, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x62,
    0x01, 0xf7, 0x10, 0x00, 0x00, 0xb1, 0x68, 0xde, 0x3a, 0x00, 0x00, 0x00, 0x00, 0xe9, 0x03, 0x00,
    0x00, 0x37, 0x63, 0x39, 0x65, 0x36, 0x36, 0x37, 0x39, 0x2d, 0x37, 0x34, 0x32, 0x35, 0x2d, 0x34,
    0x30, 0x64, 0x65, 0x2d, 0x39, 0x34, 0x34, 0x62, 0x2d, 0x65, 0x30, 0x37, 0x66, 0x63, 0x31, 0x66,
    0x39, 0x30, 0x61, 0x65, 0x37, 0x19, 0x00, 0x00, 0x00, 0x2f, 0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e,
    0x65, 0x2e, 0x73, 0x6c, 0x69, 0x63, 0x65, 0x2f, 0x76, 0x6d, 0x2d, 0x62, 0x2e, 0x73, 0x63, 0x6f,
    0x70, 0x65, 0x16, 0x00, 0x00, 0x00, 0x4b, 0x3b, 0xfa, 0x7d, 0x05, 0x04, 0x00, 0x00, 0x00, 0x76,
    0x6d, 0x2d, 0x62, 0x00, 0x03, 0x10, 0x00, 0x00, 0x03, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x16, 0x00, 0x00, 0x00, 0xdf, 0x12, 0xf6, 0x11, 0x05, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d,
    0x62, 0x00, 0x04, 0x10, 0x00, 0x00, 0x04, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x00,
    0x00, 0x00, 0x4c, 0xcb, 0x83, 0x0c, 0x08, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0xb9, 0xdc, 0xc0, 0xdf, 0x08, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0xdf, 0x35, 0xcf, 0xf3,
    0x08, 0x00, 0x00, 0x00, 0x00, 0xa8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00,
    0x00, 0x09, 0x7d, 0xf3, 0x6e, 0x07, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x1f, 0x00,
    0x00, 0x00, 0x95, 0x94, 0xe6, 0x34, 0x09, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x2f,
    0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e, 0x65, 0x2e, 0x73, 0x6c, 0x69, 0x63, 0x65, 0x64, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xf1, 0x73, 0xdd, 0x04, 0x0f, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xa5, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33, 0xc9, 0x07,
    0x6b, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t gen1_journal[] = {
    0x50, 0x41, 0x53, 0x49, 0x44, 0x44, 0x4a, 0x31, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x55, 0x60, 0xd4, 0xac, 0x19, 0x00, 0x00, 0x00, 0xfe, 0x48,
    0xbb, 0x36, 0x0a, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0xf7, 0x10, 0x00, 0x00,
    0xb1, 0x68, 0xde, 0x3a, 0x00, 0x00, 0x00, 0x00, 0xe9, 0x03, 0x00, 0x00, 0x16, 0x00, 0x00,
    0x00, 0x7b, 0x12, 0xb1, 0xe8, 0x05, 0x04, 0x00, 0x00, 0x00, 0x76, 0x6d, 0x2d, 0x61, 0x00,
    0xf4, 0x01, 0x00, 0x00, 0x05, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00,
    0x00, 0x30, 0xf4, 0xd1, 0x0c, 0x07, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x1f,
    0x00, 0x00, 0x00, 0x1e, 0x41, 0xb4, 0xc6, 0x09, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00,
    0x00, 0x2f, 0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e, 0x65, 0x2e, 0x73, 0x6c, 0x69, 0x63, 0x65,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2a, 0x00, 0x00, 0x00, 0x28, 0xd5, 0x17,
    0xa0, 0x09, 0x00, 0x00, 0x00, 0x00, 0x19, 0x00, 0x00, 0x00, 0x2f, 0x6d, 0x61, 0x63, 0x68,
    0x69, 0x6e, 0x65, 0x2e, 0x73, 0x6c, 0x69, 0x63, 0x65, 0x2f, 0x76, 0x6d, 0x2d, 0x62, 0x2e,
    0x73, 0x63, 0x6f, 0x70, 0x65, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static char base_dir[64], state_dir[96];
static struct backend *be;

static void
setup(void)
{
	char why[256];

	log_setup(1);
	strcpy(base_dir, "/tmp/test_record.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base_dir));
	snprintf(state_dir, sizeof(state_dir), "%s/state", base_dir);
	ck_assert_int_eq(mkdir(state_dir, 0700), 0);
	ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
}

static void
teardown(void)
{
	backend_close(be);
	ck_dir_remove(base_dir);
}

static void
put_file(const char *name, const uint8_t *p, size_t n)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* A daemon's state directory always has its lock file. */
static void
install(bool gen1)
{
	put_file("lock", (const uint8_t *)"", 0);
	if (!gen1) {
		put_file("journal.0", gen0_journal, sizeof(gen0_journal));
		return;
	}
	put_file("snapshot.1", gen1_snapshot, sizeof(gen1_snapshot));
	put_file("journal.1", gen1_journal, sizeof(gen1_journal));
}

/* A header as the journal writes it, with another magic or record format version. */
static void
put_with_header(const char *name, const uint8_t *p, size_t n, const char *magic, uint32_t format)
{
	uint8_t *b = malloc(n);
	uint32_t crc;

	ck_assert_ptr_nonnull(b);
	memcpy(b, p, n);
	memcpy(b, magic, 8);
	for (int i = 0; i < 4; i++)
		b[16 + i] = (uint8_t)(format >> (8 * i));
	crc = crc32c(b, 20);
	for (int i = 0; i < 4; i++)
		b[20 + i] = (uint8_t)(crc >> (8 * i));
	put_file(name, b, n);
	free(b);
}

struct opened {
	struct event_base *base;
	struct ns ns;
	struct quota *q;
	struct state *st;
};

static int
open_state(struct opened *o, char *why, size_t len)
{
	int r;

	o->base = event_base_new();
	ck_assert_ptr_nonnull(o->base);
	ck_assert_int_eq(quota_new(&o->q), 0);
	ck_assert_int_eq(ns_init(&o->ns, &nc, be), 0);
	o->st = NULL;
	r = state_open(state_dir, o->base, &o->ns, o->q, &o->st, why, len);
	if (r == 0)
		ck_assert_int_eq(ns_check(&o->ns, why, len), 0);
	return r;
}

static void
close_state(struct opened *o)
{
	state_close(o->st);
	ns_destroy(&o->ns);
	quota_free(o->q);
	event_base_free(o->base);
}

static void
assert_owner(const struct ns_vm *vm, pid_t pid, uint64_t starttime, uid_t uid)
{
	ck_assert_int_eq(vm->owner.pid, pid);
	ck_assert_uint_eq(vm->owner.starttime, starttime);
	ck_assert_uint_eq(vm->owner.uid, uid);
}

static void
assert_map(const struct ns_vm *vm, uint32_t g, uint32_t h, enum ns_type type, uint32_t bdf)
{
	const struct ns_mapping *m = ns_lookup_gpasid(vm, g);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->hpasid, h);
	ck_assert_int_eq(m->type, type);
	ck_assert_uint_eq(m->dev ? m->dev->bdf : 0, bdf);
}

static uint64_t
runtime_limit(const struct quota *q, const char *cgroup)
{
	struct quota_entry e;

	ck_assert_int_eq(quota_get(q, cgroup, &e), 0);
	return e.limit[QUOTA_SRC_RUNTIME];
}

/* What both directories hold alike (the rest is checked where they differ). */
static void
assert_common(const struct ns *ns)
{
	const struct ns_vm *a = ns_vm_find(ns, "vm-a"), *b = ns_vm_find(ns, "vm-b");

	ck_assert_uint_eq(ns->nvms, 2);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(ns_vm_find(ns, "vm-c"));
	ck_assert_int_eq(a->mode, NS_MODE_TRANSLATED);
	ck_assert_str_eq(a->uuid, "0f8fad5b-d9cb-469f-a165-70867728950e");
	ck_assert_str_eq(a->cgroup, "/machine.slice/vm-a.scope");
	ck_assert_uint_eq(a->ndevs, 2);
	ck_assert(ns_vm_device(a, 0x0000a8)->shared);
	ck_assert(!ns_vm_device(a, 0x010300)->shared);
	assert_map(a, 2, 4097, NS_TYPE_SHARED, 0);
	assert_map(a, 3, 4098, NS_TYPE_SHARED, 0);
	assert_map(a, 77, 77, NS_TYPE_LOCAL, 0x010300);
	assert_map(a, 78, 78, NS_TYPE_LOCAL, 0x010300);
	ck_assert_ptr_null(ns_lookup_gpasid(a, 1)); /* freed */
	ck_assert_int_eq(b->mode, NS_MODE_IDENTITY);
	assert_owner(b, 4343, 987654321, 1001);
	assert_map(b, 4099, 4099, NS_TYPE_SHARED, 0);
	assert_map(b, 4100, 4100, NS_TYPE_SHARED, 0);
	ck_assert_uint_eq(ns->nlocal, 2);
}

/* The first version's files hold 0 where the version is; this pasidd writes 1 and reads 0
 * too. */
START_TEST(test_version_in_headers)
{
	ck_assert_int_eq(REC_FORMAT_VERSION, 3);
	ck_assert_int_eq(REC_FORMAT_OLDEST, 0);
	ck_assert_mem_eq(gen0_journal, "PASIDDJ1", 8);
	ck_assert_mem_eq(gen1_snapshot, "PASIDDS1", 8);
	ck_assert_mem_eq(gen0_journal + 16, "\0\0\0\0", 4);
	ck_assert_mem_eq(gen1_snapshot + 16, "\0\0\0\0", 4);
	ck_assert_mem_eq(gen1_journal + 16, "\0\0\0\0", 4);
}
END_TEST

/* The version in a file's header. */
static uint32_t
format_of(const char *name)
{
	char path[160];
	size_t len;
	uint8_t *b;
	uint32_t v;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	b = ck_dir_read_file(path, &len);
	ck_assert_uint_ge(len, 24);
	v = (uint32_t)b[16] | (uint32_t)b[17] << 8 | (uint32_t)b[18] << 16 | (uint32_t)b[19] << 24;
	free(b);
	return v;
}

/* The directory holds the lock, snapshot.<gen> and journal.<gen>, both of the current
 * version, and nothing else. */
static void
assert_upgraded(uint64_t gen)
{
	char snap[32], jnl[32];
	struct ck_dir now;

	snprintf(snap, sizeof(snap), "snapshot.%llu", (unsigned long long)gen);
	snprintf(jnl, sizeof(jnl), "journal.%llu", (unsigned long long)gen);
	ck_dir_take(&now, state_dir);
	ck_assert_uint_eq(now.n, 3);
	for (size_t i = 0; i < now.n; i++)
		ck_assert_msg(!strcmp(now.name[i], "lock") || !strcmp(now.name[i], snap) ||
		                  !strcmp(now.name[i], jnl),
		              "%s", now.name[i]);
	ck_dir_free(&now);
	ck_assert_uint_eq(format_of(snap), REC_FORMAT_VERSION);
	ck_assert_uint_eq(format_of(jnl), REC_FORMAT_VERSION);
}

/* What the state written in version 0 holds, with and without a snapshot (_i). */
static void
assert_earlier_state(const struct opened *o, bool gen1)
{
	const struct ns_vm *a = ns_vm_find(&o->ns, "vm-a");

	assert_common(&o->ns);
	if (gen1) {
		/* journal.1: the handover, gPASID 500, the limits changed. */
		assert_owner(a, 4343, 987654321, 1001);
		assert_map(a, 500, 4101, NS_TYPE_SHARED, 0);
		ck_assert_uint_eq(o->ns.shared_cursor, 6);
		ck_assert_uint_eq(o->ns.shared_maps.count, 5);
		ck_assert_uint_eq(runtime_limit(o->q, "/machine.slice"), QUOTA_NO_LIMIT);
		ck_assert_uint_eq(runtime_limit(o->q, "/machine.slice/vm-b.scope"), 7);
	} else {
		assert_owner(a, 4242, 123456789, 1000);
		ck_assert_uint_eq(o->ns.shared_cursor, 5);
		ck_assert_uint_eq(o->ns.shared_maps.count, 4);
		ck_assert_uint_eq(runtime_limit(o->q, "/machine.slice"), 100);
	}
	ck_assert_uint_eq(ns_attached(&o->ns), 0);
}

/* The state written in version 0 (before versions were numbered, too) or 1 replays to what
 * it held, with and without a snapshot (_i & 1; _i >> 1 the version: the records of 0 are
 * those of 1). pasidd -n agrees and writes nothing; start-up upgrades it: a snapshot of the
 * current version in the next generation, the earlier files gone, and the same state
 * replayed from it. */
START_TEST(test_earlier_state_replays)
{
	struct state_summary sum;
	struct state_stats stats;
	struct ck_dir before;
	struct opened o;
	char why[1024];

	install(_i & 1);
	if (_i >> 1 && (_i & 1)) {
		put_with_header("snapshot.1", gen1_snapshot, sizeof(gen1_snapshot), "PASIDDS1", 1);
		put_with_header("journal.1", gen1_journal, sizeof(gen1_journal), "PASIDDJ1", 1);
	} else if (_i >> 1) {
		put_with_header("journal.0", gen0_journal, sizeof(gen0_journal), "PASIDDJ1", 1);
	}
	_i &= 1;
	ck_dir_take(&before, state_dir);
	ck_assert_msg(state_check(state_dir, &nc, be, &sum, why, sizeof(why)) == 0, "%s", why);
	ck_assert(sum.exists);
	ck_assert_uint_eq(sum.records, 20);
	ck_assert_uint_eq(sum.vms, 2);
	ck_dir_assert_unchanged(&before, state_dir);

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	assert_earlier_state(&o, _i);
	state_get_stats(o.st, &stats);
	ck_assert_uint_eq(stats.replayed_records, 20);
	ck_assert_uint_eq(stats.generation, _i + 1);
	close_state(&o);
	assert_upgraded(_i + 1);

	/* Upgraded once: the next start replays the current version and compacts nothing. */
	ck_dir_take(&before, state_dir);
	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	assert_earlier_state(&o, _i);
	state_get_stats(o.st, &stats);
	ck_assert_uint_eq(stats.generation, _i + 1);
	close_state(&o);
	ck_dir_assert_unchanged(&before, state_dir);
	ck_assert_msg(state_check(state_dir, &nc, be, &sum, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(sum.vms, 2);
}
END_TEST

/* An upgrade goes on where the earlier pasidd stopped: its changes, attachments included,
 * are appended to the upgraded generation and replay with what was there. */
START_TEST(test_earlier_state_goes_on)
{
	struct state_stats stats;
	struct ns_err err = {0};
	struct opened o;
	char why[1024];
	const struct backend_attach *att;

	install(true);
	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(state_start(o.st, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_ge(ns_vm_destroy(&o.ns, ns_vm_find(&o.ns, "vm-b"), &err), 0);
	attach_live(&o.ns, ns_vm_find(&o.ns, "vm-a"), 500, 0x0000a8, 21, 22);
	ck_assert_int_eq(state_commit(o.st), 0);
	close_state(&o);
	assert_upgraded(2);

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	state_get_stats(o.st, &stats);
	ck_assert_uint_eq(stats.generation, 2);
	ck_assert_ptr_null(ns_vm_find(&o.ns, "vm-b"));
	assert_map(ns_vm_find(&o.ns, "vm-a"), 500, 4101, NS_TYPE_SHARED, 0);
	ck_assert_uint_eq(o.ns.shared_maps.count, 3);
	att = ns_attachment(ns_lookup_gpasid(ns_vm_find(&o.ns, "vm-a"), 500), 0x0000a8);
	ck_assert_ptr_nonnull(att);
	ck_assert_uint_eq(att->dev_id, 21);
	ck_assert_uint_eq(att->pt_id, 22);
	ck_assert_int_eq(att->iommufd, -1);
	ck_assert_uint_eq(ns_attached(&o.ns), 1);
	close_state(&o);
}
END_TEST

/* A framed record appended to a file of the state directory. */
static void
append_record(const char *name, const uint8_t *rec, size_t len)
{
	uint8_t frame[8];
	char path[160];
	uint32_t crc;
	FILE *f;

	for (int i = 0; i < 4; i++)
		frame[i] = (uint8_t)(len >> (8 * i));
	crc = crc32c_update(crc32c(frame, 4), rec, len);
	for (int i = 0; i < 4; i++)
		frame[4 + i] = (uint8_t)(crc >> (8 * i));
	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	f = fopen(path, "ab");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(frame, 1, 8, f), 8);
	ck_assert_uint_eq(fwrite(rec, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* An attach record in a file of version 0 is damage: start-up and pasidd -n refuse it and
 * change nothing. The same record in a file of version 1 replays. */
START_TEST(test_attach_in_version_0_refused)
{
	const struct backend_attach att = {.bdf = 0x0000a8, .dev_id = 5, .pt_id = 6};
	uint8_t rec[REC_BUF_MAX];
	size_t n = rec_attach(rec, "vm-a", 2, &att);
	struct state_summary sum;
	struct ck_dir before;
	struct opened o;
	char why[1024], where[64];

	install(false);
	append_record("journal.0", rec, n);
	snprintf(where, sizeof(where), "journal.0, record at offset %zu", sizeof(gen0_journal));
	ck_dir_take(&before, state_dir);
	ck_assert_int_eq(open_state(&o, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, where) &&
	                  strstr(why, "record of type 11 in a file of format version 0"),
	              "%s", why);
	close_state(&o);
	ck_assert_int_eq(state_check(state_dir, &nc, be, &sum, why, sizeof(why)), -EUCLEAN);
	ck_dir_assert_unchanged(&before, state_dir);

	put_with_header("journal.0", gen0_journal, sizeof(gen0_journal), "PASIDDJ1", 1);
	append_record("journal.0", rec, n);
	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(ns_attached(&o.ns), 1);
	ck_assert_uint_eq(
	    ns_attachment(ns_lookup_gpasid(ns_vm_find(&o.ns, "vm-a"), 2), 0x0000a8)->pt_id, 6);
	close_state(&o);
}
END_TEST

/* pasidd --salvage reads a damaged directory of version 0 as version 0 and writes what it
 * keeps in the current version: every file it leaves under a name replay reads is of it. */
START_TEST(test_salvage_writes_current_version)
{
	uint8_t b[sizeof(gen0_journal)];
	struct state_summary sum;
	struct ck_dir now;
	struct opened o;
	char why[1024];
	unsigned live = 0;

	/* A byte of the last record but one (vm-c's device released): the VM's end follows. */
	memcpy(b, gen0_journal, sizeof(b));
	b[sizeof(b) - 30] ^= 0x40;
	put_file("lock", (const uint8_t *)"", 0);
	put_file("journal.0", b, sizeof(b));
	ck_assert_int_eq(state_check(state_dir, &nc, be, &sum, why, sizeof(why)), -EUCLEAN);
	ck_assert_int_eq(salvage_run(state_dir, &nc, be), 0);
	ck_dir_take(&now, state_dir);
	for (size_t i = 0; i < now.n; i++) {
		if (!strcmp(now.name[i], "lock") || strstr(now.name[i], ".damaged-"))
			continue;
		ck_assert_msg(!strncmp(now.name[i], "snapshot.", 9) ||
		                  !strncmp(now.name[i], "journal.", 8),
		              "%s", now.name[i]);
		ck_assert_uint_eq(format_of(now.name[i]), REC_FORMAT_VERSION);
		live++;
	}
	ck_dir_free(&now);
	ck_assert_uint_eq(live, 2);
	/* vm-c's removal was after the damage: it stays. */
	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(o.ns.nvms, 3);
	ck_assert_ptr_nonnull(ns_vm_find(&o.ns, "vm-c"));
	assert_map(ns_vm_find(&o.ns, "vm-a"), 77, 77, NS_TYPE_LOCAL, 0x010300);
	close_state(&o);
}
END_TEST

/* Compaction writes both files of a generation in one version: a snapshot of one and a
 * journal of the other are damage, not an upgrade. */
START_TEST(test_mixed_generation_refused)
{
	struct ck_dir before;
	struct opened o;
	char why[1024];

	install(true);
	put_with_header("snapshot.1", gen1_snapshot, sizeof(gen1_snapshot), "PASIDDS1", 1);
	ck_dir_take(&before, state_dir);
	ck_assert_int_eq(open_state(&o, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "journal.1 holds records of format version 0 and snapshot.1 of "
	                          "version 1"),
	              "%s", why);
	close_state(&o);
	ck_dir_assert_unchanged(&before, state_dir);
}
END_TEST

/* Every snapshot and journal of the state directory rewritten as a pasidd of record format
 * version v wrote its header (the records are left as they are). */
static void
set_format_all(uint32_t v)
{
	struct ck_dir now;

	ck_dir_take(&now, state_dir);
	for (size_t i = 0; i < now.n; i++)
		if (!strncmp(now.name[i], "journal.", 8) || !strncmp(now.name[i], "snapshot.", 9))
			put_with_header(now.name[i], now.data[i], now.len[i],
			                now.name[i][0] == 'j' ? "PASIDDJ1" : "PASIDDS1", v);
	ck_dir_free(&now);
}

/* A state of version 2 (work queues, no reservations) replays under version 3 and is
 * upgraded before anything is appended; one of version 2 that holds a reservation record
 * (which no pasidd of version 2 wrote) is refused and left as it was. */
START_TEST(test_version2_state_upgraded)
{
	const struct ns_owner own = {.pid = 1, .starttime = 1, .uid = 0};
	/* One mapping per transaction: a transaction of two changes would be framed with
	 * REC_TXN, which files of version 2 do not have. */
	struct ns_alloc_req req = {
	    .type = NS_TYPE_SHARED, .gpasid = -1, .count = 1, .wq = "dsa0/wq0.1"};
	struct ns_resv spec = {.first = 9000, .last = 9009};
	struct ns_mapping *m[2];
	struct ns_err err = {0};
	struct ck_dir before;
	struct ns_vm *vm;
	struct opened o;
	char why[1024];

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(state_start(o.st, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(ns_vm_create(&o.ns, "vm-a", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_TRANSLATED, &own, "/", -1, &vm, &err),
	                 0);
	ck_assert_msg(ns_alloc(&o.ns, vm, &req, m, &err) == 0, "%s", err.message);
	/* Not the next gPASID: a snapshot would make the two one REC_MAP_RUN (version 3). */
	req.gpasid = 3;
	ck_assert_msg(ns_alloc(&o.ns, vm, &req, m + 1, &err) == 0, "%s", err.message);
	ck_assert_int_eq(state_commit(o.st), 0);
	close_state(&o);
	set_format_all(2);

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_str_eq(ns_lookup_gpasid(ns_vm_find(&o.ns, "vm-a"), 3)->wq->ref, "dsa0/wq0.1");
	/* Upgraded: a reservation can be journaled now, and replays. */
	ck_assert_msg(state_start(o.st, why, sizeof(why)) == 0, "%s", why);
	snprintf(spec.name, sizeof(spec.name), "later");
	ck_assert_int_eq(ns_reserve(&o.ns, &spec, NULL, &err), 0);
	ck_assert_int_eq(state_commit(o.st), 0);
	close_state(&o);
	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_ptr_nonnull(ns_resv_find(&o.ns, "later"));
	ck_assert_uint_eq(o.ns.shared_maps.count, 2);
	close_state(&o);

	/* The same files said to be of version 2: the reservation record is not of it. */
	set_format_all(2);
	ck_dir_take(&before, state_dir);
	ck_assert_int_eq(open_state(&o, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "type 13"), "%s", why);
	close_state(&o);
	ck_dir_assert_unchanged(&before, state_dir);
}
END_TEST

/* ---- the whole directory, to show that a refusal changed nothing ---- */

/* A state of a later version: a snapshot, a journal, a generation-0 journal of record format
 * version 4, or a journal in another file format. */
static const struct later {
	bool gen1;
	const char *file, *magic;
	uint32_t format;
	const char *says;
} later[] = {
    {true, "snapshot.1", "PASIDDS1", 4,
     "snapshot.1 holds records of format version 4, and this pasidd reads versions 0 to 3 only"},
    {true, "journal.1", "PASIDDJ1", 4,
     "journal.1 holds records of format version 4, and this pasidd reads versions 0 to 3 only"},
    {false, "journal.0", "PASIDDJ1", 4,
     "journal.0 holds records of format version 4, and this pasidd reads versions 0 to 3 only"},
    {true, "journal.1", "PASIDDJ2", 0,
     "journal.1 is in file format PASIDDJ2, and this pasidd reads PASIDDJ1 only"},
};

static void
install_later(const struct later *l)
{
	install(l->gen1);
	if (!strcmp(l->file, "snapshot.1"))
		put_with_header(l->file, gen1_snapshot, sizeof(gen1_snapshot), l->magic, l->format);
	else if (!strcmp(l->file, "journal.1"))
		put_with_header(l->file, gen1_journal, sizeof(gen1_journal), l->magic, l->format);
	else
		put_with_header(l->file, gen0_journal, sizeof(gen0_journal), l->magic, l->format);
}

/* Refused with a message naming the file and both versions, never taken for damage (which
 * --salvage would rewrite), and no file is touched: by start-up, pasidd -n, --salvage. */
START_TEST(test_later_version_refused)
{
	const struct later *l = &later[_i];
	struct state_summary sum;
	struct ck_dir before;
	struct opened o;
	char why[1024];

	install_later(l);
	ck_dir_take(&before, state_dir);
	ck_assert_int_eq(open_state(&o, why, sizeof(why)), -EPROTONOSUPPORT);
	ck_assert_ptr_null(o.st);
	ck_assert_msg(strstr(why, l->says), "'%s' lacks '%s'", why, l->says);
	ck_assert_msg(strstr(why, "refusing to serve") && strstr(why, "no file was changed") &&
	                  !strstr(why, "salvage"),
	              "%s", why);
	close_state(&o);
	ck_assert_int_eq(state_check(state_dir, &nc, be, &sum, why, sizeof(why)), -EPROTONOSUPPORT);
	ck_assert_msg(strstr(why, l->says), "'%s' lacks '%s'", why, l->says);
	ck_assert_int_eq(salvage_run(state_dir, &nc, be), 1);
	ck_dir_assert_unchanged(&before, state_dir);

	/* The pasidd that wrote it can still read it: put back as it was, it replays. */
	install(l->gen1);
	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	close_state(&o);
}
END_TEST

/* The frames of a journal file: offsets (after the 24-byte header) and ops, up to the zeros
 * after the last one. */
static size_t
journal_frames(const char *name, long *offs, uint8_t *ops, size_t max)
{
	char path[160];
	size_t len, n = 0, off = 24;
	uint8_t *b;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	b = ck_dir_read_file(path, &len);
	while (off + 8 < len && n < max) {
		uint32_t rl = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 |
		              (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;

		if (!rl || off + 8 + rl > len)
			break;
		offs[n] = (long)off;
		ops[n++] = b[off + 8];
		off += 8 + rl;
	}
	free(b);
	return n;
}

/* A count allocation that got consecutive numbers is one REC_MAP_RUN in the journal (a lone
 * mapping still a REC_MAP), and replays to the same mappings; a run record torn at the
 * journal's end (a crash in its write) is dropped whole: none of its mappings, nothing
 * else lost. */
START_TEST(test_map_run_journal)
{
	const struct ns_owner own = {.pid = 1, .starttime = 1, .uid = 0};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 1000};
	static struct ns_mapping *m[1000];
	uint32_t first_h[3];
	struct state_stats stats;
	struct ns_err err;
	struct opened o;
	struct ns_vm *vi, *vt;
	long offs[64];
	uint8_t ops[64];
	size_t n, runs = 0, maps = 0;
	char why[1024], path[160];

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(state_start(o.st, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(ns_vm_create(&o.ns, "vm-i", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_IDENTITY, &own, "/", -1, &vi, &err),
	                 0);
	ck_assert_int_eq(ns_vm_create(&o.ns, "vm-t", "0f8fad5b-d9cb-469f-a165-70867728950f",
	                              NS_MODE_TRANSLATED, &own, "/", -1, &vt, &err),
	                 0);
	ck_assert_msg(ns_alloc(&o.ns, vi, &req, m, &err) == 0, "%s", err.message);
	first_h[0] = m[0]->hpasid;
	ck_assert_int_eq(state_commit(o.st), 0);
	req.count = 1;
	ck_assert_msg(ns_alloc(&o.ns, vt, &req, m, &err) == 0, "%s", err.message);
	first_h[1] = m[0]->hpasid;
	ck_assert_int_eq(state_commit(o.st), 0);
	req.count = 50;
	ck_assert_msg(ns_alloc(&o.ns, vt, &req, m, &err) == 0, "%s", err.message);
	first_h[2] = m[0]->hpasid;
	ck_assert_int_eq(state_commit(o.st), 0);
	close_state(&o);

	n = journal_frames("journal.0", offs, ops, 64);
	for (size_t i = 0; i < n; i++) {
		runs += ops[i] == REC_MAP_RUN;
		maps += ops[i] == REC_MAP;
	}
	ck_assert_uint_eq(runs, 2);
	ck_assert_uint_eq(maps, 1);
	ck_assert_uint_lt(n, 12);
	ck_assert_int_eq(ops[n - 2], REC_MAP_RUN); /* then its cursor */

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	state_get_stats(o.st, &stats);
	ck_assert_uint_eq(stats.replayed_records, n);
	ck_assert_uint_eq(o.ns.shared_maps.count, 1051);
	for (uint32_t i = 0; i < 1000; i++)
		assert_map(ns_vm_find(&o.ns, "vm-i"), first_h[0] + i, first_h[0] + i,
		           NS_TYPE_SHARED, 0);
	assert_map(ns_vm_find(&o.ns, "vm-t"), 1, first_h[1], NS_TYPE_SHARED, 0);
	for (uint32_t i = 0; i < 50; i++)
		assert_map(ns_vm_find(&o.ns, "vm-t"), 2 + i, first_h[2] + i, NS_TYPE_SHARED, 0);
	close_state(&o);

	/* The last run's frame cut in the middle: its 50 mappings are gone, all else stays. */
	snprintf(path, sizeof(path), "%s/journal.0", state_dir);
	ck_assert_int_eq(truncate(path, offs[n - 2] + 8 + 10), 0);
	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	state_get_stats(o.st, &stats);
	ck_assert_uint_gt(stats.dropped_bytes, 0);
	ck_assert_uint_eq(o.ns.shared_maps.count, 1001);
	ck_assert_ptr_nonnull(ns_lookup_gpasid(ns_vm_find(&o.ns, "vm-t"), 1));
	ck_assert_ptr_null(ns_lookup_gpasid(ns_vm_find(&o.ns, "vm-t"), 2));
	ck_assert_ptr_null(ns_lookup_gpasid(ns_vm_find(&o.ns, "vm-t"), 51));
	close_state(&o);
}
END_TEST

static int
skip_record(void *ctx, const void *rec, size_t len)
{
	return 0;
}

/* Whether the state directory holds a file of that name. */
static bool
has_file(const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	return access(path, F_OK) == 0;
}

/* A start-up on a journal long enough to compact serves first: state_start() and
 * start-up's own commits leave the files as they were, and the snapshot is written by the
 * loop soon after, with the change made since in it. */
START_TEST(test_startup_compaction_deferred)
{
	struct ns_vm vm = {.mode = NS_MODE_IDENTITY,
	                   .owner = {.pid = 1, .starttime = 1, .uid = 0},
	                   .cgroup = "/",
	                   .uuid = "0f8fad5b-d9cb-469f-a165-70867728950e",
	                   .name = "vm-j"};
	struct ns_mapping m = {.vm = &vm, .type = NS_TYPE_SHARED}, *got;
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 1};
	struct state_stats stats;
	uint8_t rec[REC_BUF_MAX];
	struct journal *j;
	struct ns_err err;
	struct opened o;
	char why[1024];

	ck_assert_int_eq(journal_open(state_dir, &j), 0);
	ck_assert_int_eq(journal_set_format(j, REC_FORMAT_VERSION), 0);
	ck_assert_int_eq(journal_replay(j, skip_record, NULL), 0);
	ck_assert_int_eq(journal_append(j, rec, rec_vm(rec, &vm)), 0);
	for (uint32_t i = 0; i < 40000; i++) {
		m.gpasid = m.hpasid = 4096 + i;
		ck_assert_int_eq(journal_append(j, rec, rec_map(rec, &m)), 0);
	}
	/* Most of them freed again: the journal is long for what it holds, and due. */
	for (uint32_t i = 0; i < 39000; i++)
		ck_assert_int_eq(journal_append(j, rec, rec_unmap(rec, "vm-j", 4096 + i)), 0);
	ck_assert_int_eq(journal_append(j, rec, rec_cursor(rec, 40000)), 0);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(state_start(o.st, why, sizeof(why)) == 0, "%s", why);
	ck_assert(!has_file("snapshot.1"));
	ck_assert_msg(ns_alloc(&o.ns, ns_vm_find(&o.ns, "vm-j"), &req, &got, &err) == 0, "%s",
	              err.message);
	ck_assert_int_eq(state_commit(o.st), 0); /* as pasidd_open() does before serving */
	ck_assert(!has_file("snapshot.1"));
	state_get_stats(o.st, &stats);
	ck_assert_uint_eq(stats.generation, 0);
	/* About 0.1 s after serving began. */
	ck_assert_int_eq(event_base_loopexit(o.base, &(struct timeval){0, 500000}), 0);
	ck_assert_int_eq(event_base_dispatch(o.base), 0);
	ck_assert(has_file("snapshot.1"));
	ck_assert(!has_file("journal.0"));
	state_get_stats(o.st, &stats);
	ck_assert_uint_eq(stats.generation, 1);
	close_state(&o);

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(o.ns.shared_maps.count, 1001);
	assert_map(ns_vm_find(&o.ns, "vm-j"), 44096, 44096, NS_TYPE_SHARED, 0);
	close_state(&o);
}
END_TEST

/* A VM destroyed with its mappings is one REC_UNVM in the journal, without a REC_UNMAP for
 * each mapping (REC_UNVM frees what the VM held); a mapping freed alone is still its own
 * REC_UNMAP. Replay comes to the same: the VM and its numbers gone. */
START_TEST(test_unvm_without_unmaps)
{
	const struct ns_owner own = {.pid = 1, .starttime = 1, .uid = 0};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 500};
	static struct ns_mapping *m[500];
	struct ns_err err;
	struct opened o;
	struct ns_vm *vi, *vk;
	long offs[64];
	uint8_t ops[64];
	size_t n, unmaps = 0, unvms = 0;
	char why[1024];

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(state_start(o.st, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(ns_vm_create(&o.ns, "vm-i", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_IDENTITY, &own, "/", -1, &vi, &err),
	                 0);
	ck_assert_int_eq(ns_vm_create(&o.ns, "vm-k", "0f8fad5b-d9cb-469f-a165-70867728950f",
	                              NS_MODE_IDENTITY, &own, "/", -1, &vk, &err),
	                 0);
	ck_assert_msg(ns_alloc(&o.ns, vi, &req, m, &err) == 0, "%s", err.message);
	req.count = 2;
	ck_assert_msg(ns_alloc(&o.ns, vk, &req, m, &err) == 0, "%s", err.message);
	ck_assert_int_eq(state_commit(o.st), 0);
	ck_assert_int_eq(ns_free(&o.ns, vk, m[0]->gpasid, &err), 0);
	ck_assert_int_eq(state_commit(o.st), 0);
	ck_assert_int_ge(ns_vm_destroy(&o.ns, vi, &err), 0);
	ck_assert_int_eq(state_commit(o.st), 0);
	close_state(&o);

	n = journal_frames("journal.0", offs, ops, 64);
	for (size_t i = 0; i < n; i++) {
		unmaps += ops[i] == REC_UNMAP;
		unvms += ops[i] == REC_UNVM;
	}
	ck_assert_uint_eq(unmaps, 1);
	ck_assert_uint_eq(unvms, 1);
	ck_assert_uint_lt(n, 12);
	ck_assert_int_eq(ops[n - 1], REC_UNVM); /* alone: no REC_TXN before it */
	ck_assert_int_ne(ops[n - 2], REC_TXN);

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_ptr_null(ns_vm_find(&o.ns, "vm-i"));
	ck_assert_uint_eq(o.ns.shared_maps.count, 1);
	ck_assert_uint_eq(ns_vm_find(&o.ns, "vm-k")->maps.count, 1);
	close_state(&o);
}
END_TEST

/* A large state is compacted no more often than when its snapshot held a record per mapping:
 * a journal past 1 MiB and past twice the (small) snapshot of runs waits until it is also
 * past twice 34 bytes a live mapping. */
START_TEST(test_compaction_paced_by_mappings)
{
	const struct ns_owner own = {.pid = 1, .starttime = 1, .uid = 0};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 4096};
	static struct ns_mapping *m[4096];
	struct state_stats st;
	struct ns_err err;
	struct opened o;
	struct ns_vm *vi;
	char why[1024];

	ck_assert_msg(open_state(&o, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(state_start(o.st, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(ns_vm_create(&o.ns, "vm-i", "0f8fad5b-d9cb-469f-a165-70867728950e",
	                              NS_MODE_IDENTITY, &own, "/", -1, &vi, &err),
	                 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(ns_alloc(&o.ns, vi, &req, m, &err) == 0, "%s", err.message);
		ck_assert_int_eq(state_commit(o.st), 0);
	}
	req.count = 1;
	/* 32,768 live: due past 2,228,224 bytes of journal, not at 1 MiB. */
	for (;;) {
		for (int i = 0; i < 500; i++) {
			ck_assert_msg(ns_alloc(&o.ns, vi, &req, m, &err) == 0, "%s", err.message);
			ck_assert_int_eq(ns_free(&o.ns, vi, m[0]->gpasid, &err), 0);
		}
		ck_assert_int_eq(state_commit(o.st), 0);
		state_get_stats(o.st, &st);
		if (st.generation || st.journal_bytes > 2150000)
			break;
	}
	ck_assert_uint_eq(st.generation, 0);
	ck_assert_uint_gt(st.journal_bytes, 2000000);
	for (int k = 0; k < 10 && !st.generation; k++) {
		for (int i = 0; i < 500; i++) {
			ck_assert_msg(ns_alloc(&o.ns, vi, &req, m, &err) == 0, "%s", err.message);
			ck_assert_int_eq(ns_free(&o.ns, vi, m[0]->gpasid, &err), 0);
		}
		ck_assert_int_eq(state_commit(o.st), 0);
		state_get_stats(o.st, &st);
	}
	ck_assert_uint_eq(st.generation, 1);
	ck_assert_uint_lt(st.snapshot_bytes, 4096); /* runs */
	close_state(&o);
}
END_TEST

static Suite *
record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *codec = tcase_create("codec"), *version = tcase_create("version");

	tcase_add_test(codec, test_layouts);
	tcase_add_test(codec, test_decode_refuses);
	tcase_add_test(codec, test_unknown_mode_and_type_refused);
	tcase_add_loop_test(codec, test_attach_records_malformed, 0, 2);
	tcase_add_test(codec, test_attachments_replay);
	tcase_add_test(codec, test_attach_replay_refused);
	tcase_add_test(codec, test_devattach_records);
	tcase_add_test(codec, test_devattach_replay);
	tcase_add_test(codec, test_devattach_replay_refused);
	tcase_add_test(codec, test_reserve_layouts);
	tcase_add_test(codec, test_reservations_replay);
	tcase_add_test(codec, test_map_run_layout);
	tcase_add_test(codec, test_map_run_replay);
	tcase_add_test(codec, test_snapshot_runs);
	tcase_add_test(codec, test_snapshot_scattered_order);
	suite_add_tcase(s, codec);

	tcase_add_checked_fixture(version, setup, teardown);
	tcase_add_test(version, test_version_in_headers);
	tcase_add_loop_test(version, test_earlier_state_replays, 0, 4);
	tcase_add_test(version, test_earlier_state_goes_on);
	tcase_add_test(version, test_version2_state_upgraded);
	tcase_add_test(version, test_attach_in_version_0_refused);
	tcase_add_test(version, test_mixed_generation_refused);
	tcase_add_test(version, test_salvage_writes_current_version);
	tcase_add_test(version, test_map_run_journal);
	tcase_add_test(version, test_unvm_without_unmaps);
	tcase_add_test(version, test_compaction_paced_by_mappings);
	tcase_add_test(version, test_startup_compaction_deferred);
	tcase_add_loop_test(version, test_later_version_refused, 0,
	                    (int)(sizeof(later) / sizeof(later[0])));
	suite_add_tcase(s, version);
	return s;
}

int
main(void)
{
	return ck_run(record_suite());
}
