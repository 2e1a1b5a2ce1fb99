/* The record codec: encoding the namespace's changes, decoding records, applying them in
 * replay, and the records of a snapshot. Every layout, and how the format is versioned, is
 * written down once, at the top of record.h; the encoders and decode_fields() follow that
 * table field by field. */
#include "record.h"
#include "backend.h"
#include "cgpath.h"
#include "namespace.h"
#include "quota.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding ---- */

static uint8_t *
put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *
put64(uint8_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

static uint8_t *
putstr(uint8_t *p, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	p = put32(p, (uint32_t)n);
	memcpy(p, s, n);
	return p + n;
}

static uint8_t *
head(uint8_t *buf, enum rec_op op, const char *vm)
{
	return putstr(put8(buf, (uint8_t)op), vm, NS_VM_NAME_MAX);
}

size_t
rec_vm(uint8_t *buf, const struct ns_vm *vm)
{
	uint8_t *p = head(buf, REC_VM, vm->name);

	p = put8(p, (uint8_t)vm->mode);
	p = put32(p, (uint32_t)vm->owner.pid);
	p = put64(p, vm->owner.starttime);
	p = put32(p, (uint32_t)vm->owner.uid);
	memcpy(p, vm->uuid, NS_UUID_LEN);
	p += NS_UUID_LEN;
	p = putstr(p, vm->cgroup, 4096);
	return (size_t)(p - buf);
}

size_t
rec_owner(uint8_t *buf, const struct ns_vm *vm)
{
	uint8_t *p = head(buf, REC_OWNER, vm->name);

	p = put32(p, (uint32_t)vm->owner.pid);
	p = put64(p, vm->owner.starttime);
	p = put32(p, (uint32_t)vm->owner.uid);
	return (size_t)(p - buf);
}

size_t
rec_unvm(uint8_t *buf, const char *vm)
{
	return (size_t)(head(buf, REC_UNVM, vm) - buf);
}

size_t
rec_dev(uint8_t *buf, const char *vm, uint32_t bdf, bool shared)
{
	return (size_t)(put8(put32(head(buf, REC_DEV, vm), bdf), shared) - buf);
}

size_t
rec_undev(uint8_t *buf, const char *vm, uint32_t bdf)
{
	return (size_t)(put32(head(buf, REC_UNDEV, vm), bdf) - buf);
}

size_t
rec_map(uint8_t *buf, const struct ns_mapping *m)
{
	uint8_t *p = head(buf, REC_MAP, m->vm->name);

	p = put8(p, (uint8_t)m->type);
	p = put32(p, m->gpasid);
	p = put32(p, m->hpasid);
	p = put32(p, m->dev ? m->dev->bdf : 0);
	p = putstr(p, m->wq ? m->wq->ref : "", NS_WQ_REF_MAX);
	return (size_t)(p - buf);
}

size_t
rec_map_run(uint8_t *buf, const struct ns_mapping *first, uint32_t n)
{
	uint8_t *p = head(buf, REC_MAP_RUN, first->vm->name);

	p = put8(p, (uint8_t)first->type);
	p = put32(p, first->gpasid);
	p = put32(p, first->hpasid);
	p = put32(p, n);
	p = put32(p, first->dev ? first->dev->bdf : 0);
	p = putstr(p, first->wq ? first->wq->ref : "", NS_WQ_REF_MAX);
	return (size_t)(p - buf);
}

bool
rec_map_follows(const struct ns_mapping *prev, const struct ns_mapping *m)
{
	/* A mapping just added has no attachments: nothing of it is lost in the run. */
	return m->vm == prev->vm && m->type == prev->type && m->dev == prev->dev &&
	       m->wq == prev->wq && !m->natts && prev->gpasid != UINT32_MAX &&
	       m->gpasid == prev->gpasid + 1 && prev->hpasid != UINT32_MAX &&
	       m->hpasid == prev->hpasid + 1;
}

size_t
rec_unmap(uint8_t *buf, const char *vm, uint32_t gpasid)
{
	return (size_t)(put32(head(buf, REC_UNMAP, vm), gpasid) - buf);
}

size_t
rec_cursor(uint8_t *buf, uint32_t cursor)
{
	return (size_t)(put32(head(buf, REC_CURSOR, ""), cursor) - buf);
}

size_t
rec_lcursor(uint8_t *buf, uint32_t bdf, uint32_t cursor)
{
	return (size_t)(put32(put32(head(buf, REC_LCURSOR, ""), bdf), cursor) - buf);
}

size_t
rec_quota(uint8_t *buf, const char *cgroup, uint64_t max)
{
	return (size_t)(put64(putstr(head(buf, REC_QUOTA, ""), cgroup, CGROUP_PATH_MAX - 1), max) -
	                buf);
}

size_t
rec_attach(uint8_t *buf, const char *vm, uint32_t gpasid, const struct backend_attach *a)
{
	uint8_t *p = head(buf, REC_ATTACH, vm);

	p = put32(p, gpasid);
	p = put32(p, a->bdf);
	p = put32(p, a->dev_id);
	p = put32(p, a->pt_id);
	return (size_t)(p - buf);
}

size_t
rec_detach(uint8_t *buf, const char *vm, uint32_t gpasid, uint32_t bdf)
{
	return (size_t)(put32(put32(head(buf, REC_DETACH, vm), gpasid), bdf) - buf);
}

size_t
rec_devattach(uint8_t *buf, const char *vm, const struct backend_attach *a)
{
	uint8_t *p = head(buf, REC_DEVATTACH, vm);

	p = put32(p, a->bdf);
	p = put32(p, a->dev_id);
	p = put32(p, a->pt_id);
	return (size_t)(p - buf);
}

size_t
rec_reserve(uint8_t *buf, const struct ns_resv *r)
{
	uint8_t *p = head(buf, REC_RESERVE, "");

	p = putstr(p, r->name, NS_VM_NAME_MAX);
	p = put32(p, r->first);
	p = put32(p, r->last);
	p = putstr(p, r->why, NS_RESV_WHY_MAX);
	p = put32(p, (uint32_t)r->uid);
	p = put32(p, (uint32_t)r->pid);
	p = put64(p, r->expires);
	return (size_t)(p - buf);
}

size_t
rec_devdetach(uint8_t *buf, const char *vm, uint32_t bdf)
{
	return (size_t)(put32(head(buf, REC_DEVDETACH, vm), bdf) - buf);
}

size_t
rec_unreserve(uint8_t *buf, const char *name)
{
	return (size_t)(putstr(head(buf, REC_UNRESERVE, ""), name, NS_VM_NAME_MAX) - buf);
}

/* ---- decoding ---- */

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static bool
take(struct reader *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return false;
	}
	return true;
}

static uint8_t
get8(struct reader *r)
{
	return take(r, 1) ? *r->p++ : 0;
}

static uint32_t
get32(struct reader *r)
{
	uint32_t v = 0;

	if (!take(r, 4))
		return 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)r->p[i] << (8 * i);
	r->p += 4;
	return v;
}

static uint64_t
get64(struct reader *r)
{
	uint64_t lo = get32(r);

	return lo | (uint64_t)get32(r) << 32;
}

static void
getstr(struct reader *r, char *out, size_t max)
{
	uint32_t n = get32(r);

	out[0] = '\0';
	if (n >= max) {
		r->bad = true;
		return;
	}
	if (!take(r, n))
		return;
	memcpy(out, r->p, n);
	out[n] = '\0';
	r->p += n;
	if (strlen(out) != n)
		r->bad = true;
}

#define CORRUPT(...)                                                                               \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return -EUCLEAN;                                                                   \
	} while (0)

/* The first format version that has op (record.h's VERSIONS). */
static uint32_t
op_since(enum rec_op op)
{
	if (op == REC_DEVATTACH || op == REC_DEVDETACH || op == REC_TXN || op == REC_RESERVE ||
	    op == REC_UNRESERVE || op == REC_MAP_RUN)
		return 3;
	return op == REC_ATTACH || op == REC_DETACH ? 1 : 0;
}

/* Whether the records of op are about an existing VM, which the head names. */
static bool
names_vm(enum rec_op op)
{
	return op != REC_VM && op != REC_CURSOR && op != REC_LCURSOR && op != REC_TXN &&
	       op != REC_RESERVE && op != REC_UNRESERVE;
}

/* Applies a decoded record of one of the ops that rec_apply() does not word itself. */
static int
apply_change(struct ns *ns, const struct rec_info *ri, struct ns_vm *vm, struct ns_err *err)
{
	struct ns_owner o = {.pid = ri->pid, .starttime = ri->starttime, .uid = ri->uid};

	switch (ri->op) {
	case REC_VM:
		return ns_vm_create(ns, ri->vm, ri->uuid, (enum ns_mode)ri->mode, &o, ri->cgroup,
		                    -1, NULL, err);
	case REC_OWNER:
		return ns_vm_set_owner(ns, vm, &o, -1, err);
	case REC_UNVM:
		return ns_vm_destroy(ns, vm, err);
	case REC_DEV:
		return ns_device_assign(ns, vm, ri->bdf, ri->shared, err);
	case REC_UNDEV:
		return ns_device_release(ns, vm, ri->bdf, err);
	case REC_UNMAP:
		return ns_free(ns, vm, ri->gpasid, err);
	default:
		return 0; /* rec_apply() took care of the others */
	}
}

/* An attachment as the journal has it: its descriptors lost until the fd store gives them
 * back (ns_attach() records it so while replaying, and calls no backend). */
static int
apply_attach(struct ns *ns, struct ns_vm *vm, const struct rec_info *ri, char *why, size_t whylen)
{
	const struct backend_attach a = {
	    .bdf = ri->bdf, .dev_id = ri->dev_id, .pt_id = ri->pt_id, .iommufd = -1, .devfd = -1};
	struct ns_err err = {0};
	char bdf[NS_BDF_LEN + 1];

	ns_bdf_format(ri->bdf, bdf);
	if (ri->op == REC_ATTACH && ns_attach(ns, vm, ri->gpasid, &a, &err) < 0)
		CORRUPT("VM '%s' attaches gPASID %u on %s, which does not apply: %s", ri->vm,
		        ri->gpasid, bdf, err.message);
	if (ri->op == REC_DETACH && ns_detach(ns, vm, ri->gpasid, ri->bdf, &err) < 0)
		CORRUPT("VM '%s' detaches gPASID %u from %s, which does not apply: %s", ri->vm,
		        ri->gpasid, bdf, err.message);
	return 0;
}

/* A requester ID attachment as the journal has it, its descriptors lost as apply_attach's. */
static int
apply_devattach(struct ns *ns, struct ns_vm *vm, const struct rec_info *ri, char *why,
                size_t whylen)
{
	const struct backend_attach a = {
	    .bdf = ri->bdf, .dev_id = ri->dev_id, .pt_id = ri->pt_id, .iommufd = -1, .devfd = -1};
	struct ns_err err = {0};
	char bdf[NS_BDF_LEN + 1];

	ns_bdf_format(ri->bdf, bdf);
	if (ri->op == REC_DEVATTACH && ns_device_attach(ns, vm, &a, &err) < 0)
		CORRUPT("VM '%s' attaches the requester ID of %s, which does not apply: %s", ri->vm,
		        bdf, err.message);
	if (ri->op == REC_DEVDETACH && ns_device_detach(ns, vm, ri->bdf, &err) < 0)
		CORRUPT("VM '%s' detaches the requester ID of %s, which does not apply: %s", ri->vm,
		        bdf, err.message);
	return 0;
}

/* A reservation made or removed, as range.reserve and range.unreserve (or the expiry) did. */
static int
apply_reserve(struct ns *ns, const struct rec_info *ri, char *why, size_t whylen)
{
	struct ns_resv spec = {.first = ri->first,
	                       .last = ri->last,
	                       .uid = (uid_t)ri->uid,
	                       .pid = (pid_t)ri->pid,
	                       .expires = ri->expires};
	struct ns_err err = {0};
	struct ns_resv *r;

	if (ri->vm[0])
		CORRUPT("reservation record %d names VM '%s'", ri->op, ri->vm);
	if (ri->op == REC_UNRESERVE) {
		if (!(r = ns_resv_find(ns, ri->name)))
			CORRUPT("removal of unknown reservation '%s'", ri->name);
		ns_unreserve(ns, r, NULL);
		return 0;
	}
	/* The name as recorded, which is never empty: a default one was filled in when made. */
	if (!ri->name[0])
		CORRUPT("reservation %u-%u without a name", ri->first, ri->last);
	memcpy(spec.name, ri->name, sizeof(spec.name));
	memcpy(spec.why, ri->why, sizeof(spec.why));
	if (ns_reserve(ns, &spec, NULL, &err) < 0)
		CORRUPT("reservation %s of %u-%u does not apply: %s", ri->name, ri->first, ri->last,
		        err.message);
	return 0;
}

/* A run's mappings one by one, as its REC_MAPs would be; the first that does not apply is
 * named whole, as a REC_MAP's would be. */
static int
apply_run(struct ns *ns, struct ns_vm *vm, const struct rec_info *ri, char *why, size_t whylen)
{
	const char *wq = ri->wq[0] ? ri->wq : NULL;
	struct ns_err err = {0};

	for (uint32_t i = 0; i < ri->count; i++)
		if (ns_insert(ns, vm, (enum ns_type)ri->type, ri->bdf, ri->gpasid + i,
		              ri->hpasid + i, wq, NULL, &err) < 0)
			CORRUPT(
			    "VM '%s' maps gPASID %u to %s hPASID %u%s%s (mapping %u of a run of "
			    "%u), which does not apply: %s",
			    ri->vm, ri->gpasid + i, ns_type_name((enum ns_type)ri->type),
			    ri->hpasid + i, wq ? " for work queue " : "", ri->wq, i + 1, ri->count,
			    err.message);
	return 0;
}

int
rec_apply(struct ns *ns, const void *rec, size_t len, char *why, size_t whylen)
{
	return rec_apply_version(ns, REC_FORMAT_VERSION, rec, len, why, whylen);
}

int
rec_apply_version(struct ns *ns, uint32_t version, const void *rec, size_t len, char *why,
                  size_t whylen)
{
	struct ns_vm *vm = NULL;
	struct ns_err err = {0};
	struct rec_info ri;
	int rc = rec_decode_version(rec, len, version, &ri);

	if (ri.op == REC_QUOTA)
		CORRUPT("a quota record is for rec_apply_quota, not the namespace");
	if (ri.op < REC_VM || ri.op > REC_OP_MAX)
		CORRUPT("unknown record type %d", ri.op);
	if (op_since(ri.op) > version)
		CORRUPT("record of type %d in a file of format version %u, which does not have it",
		        ri.op, version);
	if (rc < 0)
		CORRUPT("malformed record of type %d (%zu bytes)", ri.op, len);
	if (names_vm(ri.op) && !(vm = ns_vm_find(ns, ri.vm)))
		CORRUPT("record %d names unknown VM '%s'", ri.op, ri.vm);
	switch (ri.op) {
	case REC_MAP:
		/* Names the whole mapping: pasidd -n and a refused start-up point at it. */
		if (ns_insert(ns, vm, (enum ns_type)ri.type, ri.bdf, ri.gpasid, ri.hpasid,
		              ri.wq[0] ? ri.wq : NULL, NULL, &err) < 0)
			CORRUPT(
			    "VM '%s' maps gPASID %u to %s hPASID %u%s%s, which does not apply: %s",
			    ri.vm, ri.gpasid, ns_type_name((enum ns_type)ri.type), ri.hpasid,
			    ri.wq[0] ? " for work queue " : "", ri.wq, err.message);
		return 0;
	case REC_MAP_RUN:
		return apply_run(ns, vm, &ri, why, whylen);
	case REC_CURSOR:
		if (ns_set_cursor(ns, ri.cursor) < 0)
			CORRUPT("shared cursor %u beyond the shared range", ri.cursor);
		return 0;
	case REC_LCURSOR:
		if (ns_set_local_cursor(ns, ri.bdf, ri.cursor) < 0)
			CORRUPT("local cursor %u of a device beyond the local range", ri.cursor);
		return 0;
	case REC_ATTACH:
	case REC_DETACH:
		return apply_attach(ns, vm, &ri, why, whylen);
	case REC_TXN:
		return 0; /* the frame is the replayer's (image.c): nothing of the namespace */
	case REC_DEVATTACH:
	case REC_DEVDETACH:
		return apply_devattach(ns, vm, &ri, why, whylen);
	case REC_RESERVE:
	case REC_UNRESERVE:
		return apply_reserve(ns, &ri, why, whylen);
	default:
		if (apply_change(ns, &ri, vm, &err) < 0)
			CORRUPT("record %d for '%s' does not apply: %s", ri.op, ri.vm, err.message);
		return 0;
	}
}

/* A VM's mappings in gPASID order, so that consecutive ones become runs. NULL when out of
 * memory; the caller frees it. */
struct keyed_map {
	uint32_t key;
	const struct ns_mapping *m;
};

/* Below this many, a comparison sort: the radix sort's two passes over 65,536 counters cost
 * as much as sorting thousands, and a host's many small VMs each paid them (58-71 us a VM of
 * three mappings: a snapshot of 1,000 such VMs spent 60-70 ms clearing and summing counters). */
#define RADIX_MIN 8192

static int
cmp_key(const void *x, const void *y)
{
	uint32_t a = ((const struct keyed_map *)x)->key, b = ((const struct keyed_map *)y)->key;

	return (a > b) - (a < b);
}

/* Two passes of 16 bits: a comparison sort of a million takes longer than the rest of the
 * snapshot. Returns the sorted array (a or tmp), or NULL when out of memory. */
static struct keyed_map *
radix_sort(struct keyed_map *a, struct keyed_map *tmp, size_t n)
{
	size_t *count = malloc(65536 * sizeof(*count));

	if (!count)
		return NULL;
	for (unsigned shift = 0; shift < 32; shift += 16) {
		size_t sum = 0;
		struct keyed_map *t;

		memset(count, 0, 65536 * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].key >> shift) & 0xffff]++;
		for (size_t d = 0; d < 65536; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i].key >> shift) & 0xffff]++] = a[i];
		t = a, a = tmp, tmp = t;
	}
	free(count);
	return a;
}

static struct keyed_map *
maps_in_order(const struct ns_vm *vm, size_t *n)
{
	size_t cnt = vm->maps.count, got = 0, it = 0, i;
	struct keyed_map *a = malloc((cnt ? cnt : 1) * sizeof(*a)), *tmp, *sorted;
	void *m;

	if (!a)
		return NULL;
	while (got < cnt && u32map_next(&vm->maps, &it, NULL, &m)) {
		a[got].m = m;
		a[got++].key = ((const struct ns_mapping *)m)->gpasid;
	}
	*n = got;
	/* Mostly in order already: a dense map's window is walked by key. */
	for (i = 1; i < got && a[i - 1].key < a[i].key; i++)
		;
	if (i >= got)
		return a;
	if (got < RADIX_MIN) {
		qsort(a, got, sizeof(*a), cmp_key);
		return a;
	}
	if (!(tmp = malloc(got * sizeof(*tmp))) || !(sorted = radix_sort(a, tmp, got))) {
		free(a);
		free(tmp);
		return NULL;
	}
	free(sorted == a ? tmp : a);
	return sorted;
}

/* A VM's mappings: a REC_MAP_RUN for each run of two or more consecutive ones without
 * attachments, a REC_MAP for every other, each followed by the REC_ATTACH of every
 * attachment of the mapping (the devices came before). */
static int
snapshot_maps(const struct ns_vm *vm, int (*add)(void *ctx, const void *rec, size_t len), void *ctx,
              uint8_t *buf)
{
	struct keyed_map *a;
	size_t n = 0;
	int r = 0;

	if (!(a = maps_in_order(vm, &n)))
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n;) {
		const struct ns_mapping *map = a[i].m;
		size_t len = 1;

		while (!map->natts && i + len < n && len < UINT32_MAX &&
		       rec_map_follows(a[i + len - 1].m, a[i + len].m))
			len++;
		if (len > 1) {
			r = add(ctx, buf, rec_map_run(buf, map, (uint32_t)len));
			i += len;
			continue;
		}
		r = add(ctx, buf, rec_map(buf, map));
		for (unsigned k = 0; r >= 0 && k < map->natts; k++)
			r = add(ctx, buf, rec_attach(buf, vm->name, map->gpasid, map->atts[k]));
		i++;
	}
	free(a);
	return r;
}

int
rec_snapshot(const struct ns *ns, int (*add)(void *ctx, const void *rec, size_t len), void *ctx)
{
	uint8_t buf[REC_BUF_MAX];
	size_t it = 0;
	void *d;
	int r;

	/* Before the mappings that were handed out of them, which they would refuse after. */
	for (unsigned i = 0; i < ns->nresvs; i++)
		if (!ns->resvs[i]->config &&
		    (r = add(ctx, buf, rec_reserve(buf, ns->resvs[i]))) < 0)
			return r;
	for (unsigned i = 0; i < ns->nvms; i++) {
		const struct ns_vm *vm = ns->vms[i];

		if ((r = add(ctx, buf, rec_vm(buf, vm))) < 0)
			return r;
		for (unsigned k = 0; k < vm->ndevs; k++) {
			const struct ns_device *dev = vm->devs[k].dev;

			if ((r = add(ctx, buf,
			             rec_dev(buf, vm->name, dev->bdf, vm->devs[k].shared))) < 0)
				return r;
			/* Right after its device, which it needs. */
			if (dev->rid &&
			    (r = add(ctx, buf, rec_devattach(buf, vm->name, dev->rid))) < 0)
				return r;
		}
		if ((r = snapshot_maps(vm, add, ctx, buf)) < 0)
			return r;
	}
	while (u32map_next(&ns->devices, &it, NULL, &d)) {
		const struct ns_device *dev = d;

		if ((r = add(ctx, buf, rec_lcursor(buf, dev->bdf, dev->local_cursor))) < 0)
			return r;
	}
	return add(ctx, buf, rec_cursor(buf, ns->shared_cursor));
}

bool
rec_is_quota(const void *rec, size_t len)
{
	return len > 0 && *(const uint8_t *)rec == REC_QUOTA;
}

int
rec_apply_quota(struct quota *q, const void *rec, size_t len, char *why, size_t whylen)
{
	char canon[CGROUP_PATH_MAX];
	struct rec_info ri;

	if (rec_decode(rec, len, &ri) < 0 || ri.op != REC_QUOTA || ri.vm[0])
		CORRUPT("malformed quota record (%zu bytes)", len);
	if (cgroup_normalize(ri.cgroup, canon, sizeof(canon)) < 0 || strcmp(ri.cgroup, canon))
		CORRUPT("quota record for '%s', which is not a canonical cgroup path", ri.cgroup);
	if (ri.max != QUOTA_NO_LIMIT && ri.max > INT64_MAX)
		CORRUPT("quota record for %s with limit %llu", ri.cgroup,
		        (unsigned long long)ri.max);
	if (quota_set_limit(q, ri.cgroup, QUOTA_SRC_RUNTIME, ri.max) < 0)
		CORRUPT("out of memory for the quota of %s", ri.cgroup);
	return 0;
}

int
rec_snapshot_quota(const struct quota *q, int (*add)(void *ctx, const void *rec, size_t len),
                   void *ctx)
{
	uint8_t buf[REC_BUF_MAX];
	struct quota_entry e;
	size_t it = 0;
	int r;

	while (quota_next(q, &it, &e)) {
		if (e.limit[QUOTA_SRC_RUNTIME] == QUOTA_NO_LIMIT)
			continue;
		if ((r = add(ctx, buf, rec_quota(buf, e.cgroup, e.limit[QUOTA_SRC_RUNTIME]))) < 0)
			return r;
	}
	return 0;
}

/* The fields after the head, as the table in record.h lays them out for op. */
static void
decode_fields(struct reader *r, uint32_t version, struct rec_info *out)
{
	switch (out->op) {
	case REC_VM:
		out->mode = get8(r);
		r->bad |= out->mode > NS_MODE_IDENTITY;
		out->pid = (int32_t)get32(r);
		out->starttime = get64(r);
		out->uid = get32(r);
		if (take(r, NS_UUID_LEN)) {
			memcpy(out->uuid, r->p, NS_UUID_LEN);
			r->p += NS_UUID_LEN;
		}
		getstr(r, out->cgroup, sizeof(out->cgroup));
		break;
	case REC_OWNER:
		out->pid = (int32_t)get32(r);
		out->starttime = get64(r);
		out->uid = get32(r);
		break;
	case REC_UNVM:
		break;
	case REC_DEV:
		out->bdf = get32(r);
		out->shared = get8(r) != 0;
		break;
	case REC_UNDEV:
		out->bdf = get32(r);
		break;
	case REC_MAP:
		out->type = get8(r);
		r->bad |= out->type > NS_TYPE_LOCAL;
		out->gpasid = get32(r);
		out->hpasid = get32(r);
		out->bdf = get32(r);
		if (version >= 2)
			getstr(r, out->wq, sizeof(out->wq));
		break;
	case REC_MAP_RUN:
		out->type = get8(r);
		r->bad |= out->type > NS_TYPE_LOCAL;
		out->gpasid = get32(r);
		out->hpasid = get32(r);
		out->count = get32(r);
		r->bad |= out->count == 0 || out->gpasid > UINT32_MAX - (out->count - 1) ||
		          out->hpasid > UINT32_MAX - (out->count - 1);
		out->bdf = get32(r);
		getstr(r, out->wq, sizeof(out->wq));
		break;
	case REC_UNMAP:
		out->gpasid = get32(r);
		break;
	case REC_CURSOR:
		out->cursor = get32(r);
		break;
	case REC_LCURSOR:
		out->bdf = get32(r);
		out->cursor = get32(r);
		break;
	case REC_QUOTA:
		getstr(r, out->cgroup, sizeof(out->cgroup));
		out->max = get64(r);
		break;
	case REC_ATTACH:
		out->gpasid = get32(r);
		out->bdf = get32(r);
		out->dev_id = get32(r);
		out->pt_id = get32(r);
		break;
	case REC_DETACH:
		out->gpasid = get32(r);
		out->bdf = get32(r);
		break;
	case REC_TXN:
		out->cursor = get32(r);
		r->bad |= out->cursor == 0 || out->vm[0];
		break;
	case REC_DEVATTACH:
		out->bdf = get32(r);
		out->dev_id = get32(r);
		out->pt_id = get32(r);
		break;
	case REC_DEVDETACH:
		out->bdf = get32(r);
		break;
	case REC_RESERVE:
		getstr(r, out->name, sizeof(out->name));
		out->first = get32(r);
		out->last = get32(r);
		getstr(r, out->why, sizeof(out->why));
		out->uid = get32(r);
		out->pid = (int32_t)get32(r);
		out->expires = get64(r);
		break;
	case REC_UNRESERVE:
		getstr(r, out->name, sizeof(out->name));
		break;
	default:
		r->bad = true;
	}
}

int
rec_decode_version(const void *rec, size_t len, uint32_t version, struct rec_info *out)
{
	struct reader r = {.p = rec, .end = (const uint8_t *)rec + len};

	memset(out, 0, offsetof(struct rec_info, vm));
	out->vm[0] = out->uuid[0] = out->uuid[NS_UUID_LEN] = out->cgroup[0] = out->wq[0] = '\0';
	out->name[0] = out->why[0] = '\0';
	out->op = get8(&r);
	getstr(&r, out->vm, sizeof(out->vm));
	decode_fields(&r, version, out);
	return r.bad || r.p != r.end || op_since(out->op) > version ? -EUCLEAN : 0;
}

int
rec_decode(const void *rec, size_t len, struct rec_info *out)
{
	return rec_decode_version(rec, len, REC_FORMAT_VERSION, out);
}

size_t
rec_encode_event(uint8_t *buf, const struct ns_event *ev)
{
	switch (ev->kind) {
	case NS_EV_VM_CREATED:
		return rec_vm(buf, ev->vm);
	case NS_EV_VM_OWNER:
		return rec_owner(buf, ev->vm);
	case NS_EV_VM_DESTROYED:
		return rec_unvm(buf, ev->vm->name);
	case NS_EV_DEV_ASSIGNED:
		return rec_dev(buf, ev->vm->name, ev->bdf, ev->shared);
	case NS_EV_DEV_RELEASED:
		return rec_undev(buf, ev->vm->name, ev->bdf);
	case NS_EV_MAP_ADDED:
		return rec_map(buf, ev->map);
	case NS_EV_MAP_REMOVED:
		return rec_unmap(buf, ev->vm->name, ev->map->gpasid);
	case NS_EV_CURSOR:
		return rec_cursor(buf, ev->cursor);
	case NS_EV_LCURSOR:
		return rec_lcursor(buf, ev->bdf, ev->cursor);
	case NS_EV_QUOTA_SET:
		return rec_quota(buf, ev->cgroup, ev->max);
	case NS_EV_MAP_ATTACHED:
		return rec_attach(buf, ev->vm->name, ev->map->gpasid, ev->att);
	case NS_EV_MAP_DETACHED:
		return rec_detach(buf, ev->vm->name, ev->map->gpasid, ev->att->bdf);
	case NS_EV_DEV_ATTACHED:
		return rec_devattach(buf, ev->vm->name, ev->att);
	case NS_EV_DEV_DETACHED:
		return rec_devdetach(buf, ev->vm->name, ev->bdf);
	case NS_EV_RESERVED: /* a config one comes from the configuration at every start */
		return ev->resv->config ? 0 : rec_reserve(buf, ev->resv);
	case NS_EV_UNRESERVED:
		return ev->resv->config ? 0 : rec_unreserve(buf, ev->resv->name);
	}
	return 0;
}

size_t
rec_event_max(const struct ns_event *ev)
{
	switch (ev->kind) {
	case NS_EV_VM_CREATED:
		return 1 + 4 + NS_VM_NAME_MAX + 1 + 4 + 8 + 4 + NS_UUID_LEN + 4 +
		       strlen(ev->vm->cgroup);
	case NS_EV_QUOTA_SET:
		return 1 + 4 + 4 + strlen(ev->cgroup) + 8;
	case NS_EV_MAP_ATTACHED:
		return 1 + 4 + NS_VM_NAME_MAX + 4 + 4 + 4 + 4;
	case NS_EV_RESERVED:
		return ev->resv->config
		           ? 0
		           : 1 + 4 + 4 + NS_VM_NAME_MAX + 4 + 4 + 4 + NS_RESV_WHY_MAX + 4 + 4 + 8;
	case NS_EV_UNRESERVED:
		return ev->resv->config ? 0 : 1 + 4 + 4 + NS_VM_NAME_MAX;
	default: /* the longest of the others: REC_MAP */
		return 1 + 4 + NS_VM_NAME_MAX + 1 + 4 + 4 + 4 + 4 + NS_WQ_REF_MAX;
	}
}

size_t
rec_txn(uint8_t *buf, uint32_t n)
{
	return (size_t)(put32(head(buf, REC_TXN, ""), n) - buf);
}

bool
rec_is_txn(const void *rec, size_t len, uint32_t version, uint32_t *n)
{
	struct rec_info ri;

	/* The op byte first: the records of every other op are not decoded twice. */
	if (len < 1 || *(const uint8_t *)rec != REC_TXN ||
	    rec_decode_version(rec, len, version, &ri) < 0)
		return false;
	*n = ri.cursor;
	return true;
}
