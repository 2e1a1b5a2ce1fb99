/* vm.export and vm.import (DESIGN.md §8; the document is migrate_doc.h's). An import is found
 * conflict-free first, all conflicts at once (the core's tables, then this host's work queues
 * and quotas), and then made with the core's operations in the request's transaction: the
 * dispatcher commits it once, or undoes all of it. */
#include "idxd.h"
#include "log.h"
#include "methods.h"
#include "migrate_doc.h"
#include "ns_import.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "quota.h"
#include "render.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
method_vm_export(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	*result = migrate_doc_export(&c->d->ns, a->vm);
	return *result ? 0 : rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
}

/* The conflicts found, as the answer lists them, and the first one. */
struct found {
	struct json_object *list;
	struct ns_conflict first;
	size_t n;
};

static void
add_conflict(void *ctx, const struct ns_conflict *cf)
{
	struct found *f = ctx;
	struct json_object *o = json_object_new_object();
	char bdf[NS_BDF_LEN + 1];

	if (f->n++ == 0)
		f->first = *cf;
	if (cf->gpasid >= 0)
		json_object_object_add(o, "gpasid", json_object_new_int64(cf->gpasid));
	if (cf->bdf >= 0) {
		ns_bdf_format((uint32_t)cf->bdf, bdf);
		json_object_object_add(o, "device", json_object_new_string(bdf));
	}
	json_object_object_add(o, "what", json_object_new_string(ns_conflict_name(cf->what)));
	json_object_object_add(o, "why", json_object_new_string(cf->why));
	json_object_array_add(f->list, o);
}

static void __attribute__((format(printf, 6, 7)))
conflict(struct found *f, int64_t g, enum ns_conflict_what what, enum ns_errc code,
         const char *unused, const char *fmt, ...)
{
	struct ns_conflict cf = {.gpasid = g, .bdf = -1, .what = what, .code = code};
	va_list ap;

	(void)unused;
	va_start(ap, fmt);
	vsnprintf(cf.why, sizeof(cf.why), fmt, ap);
	va_end(ap);
	add_conflict(f, &cf);
}

/* Each work queue the mappings name, once, as pasid.alloc{wq} checks it; and on a host that
 * hands out shared PASIDs for work queues only, a shared mapping without one. */
static void
check_wqs(const struct pasidd *d, const struct ns_import *im, struct found *f)
{
	bool without = false;

	for (size_t i = 0; i < im->nmaps; i++) {
		const struct ns_import_map *m = &im->maps[i];
		struct ns_err err = {0};
		bool seen = false;

		if (m->type != NS_TYPE_SHARED)
			continue;
		if (!m->wq) {
			if (d->cfg.idxd_require_wq && !without)
				conflict(f, m->gpasid, NS_CF_WQ, NS_E_CONFLICT, NULL,
				         "this host hands out shared PASIDs for work queues only "
				         "([Idxd] RequireWQ=yes)");
			without = true;
			continue;
		}
		for (size_t k = 0; k < i && !seen; k++)
			seen = im->maps[k].wq && !strcmp(im->maps[k].wq, m->wq);
		if (seen || method_wq_usable(d, m->wq, &err) == 0)
			continue;
		conflict(f, m->gpasid,
		         err.code == NS_E_NOT_FOUND || err.code == NS_E_UNSUPPORTED ? NS_CF_MISSING
		                                                                    : NS_CF_WQ,
		         err.code, NULL, "work queue %s: %s", m->wq, err.message);
	}
}

/* MaxVMsPerUid for the owner, and the cgroup path's limits for every mapping of the VM, as
 * the commit's quota check would count them, read only. */
static void
check_quota(const struct pasidd *d, const struct ns_import *im, const struct ns_owner *owner,
            const char *cgroup, struct found *f)
{
	struct quota_denial den;
	unsigned mine;

	if (!method_vm_limit_ok(d, owner->uid, &mine))
		conflict(f, -1, NS_CF_QUOTA, NS_E_QUOTA, NULL,
		         "uid %u already has %u VMs (MaxVMsPerUid)", (unsigned)owner->uid, mine);
	if (!d->quota || !im->nmaps ||
	    quota_fits(d->quota, cgroup, 0, (unsigned)im->nmaps, &den) == 0)
		return;
	if (den.vm[0])
		conflict(f, -1, NS_CF_QUOTA, NS_E_QUOTA, NULL,
		         "the VM would hold %zu PASID(s) and may hold %llu (DefaultVMMax)",
		         im->nmaps, (unsigned long long)den.max);
	else
		conflict(
		    f, -1, NS_CF_QUOTA, NS_E_QUOTA, NULL,
		    "cgroup %.80s holds %llu PASID(s) of its max %llu; the VM's %zu more would "
		    "exceed it",
		    den.cgroup, (unsigned long long)den.current, (unsigned long long)den.max,
		    im->nmaps);
}

/* A real import with conflicts: the first one's error, with all of them in data. */
static int
refuse(struct rpc_call *c, struct found *f)
{
	struct ns_err err;

	c->data = json_object_new_object();
	json_object_object_add(c->data, "conflicts", f->list);
	f->list = NULL;
	ns_fail(&err, f->first.code, "document", "%s%s", f->first.why,
	        f->n > 1 ? " (and more conflicts: see data.conflicts)" : "");
	return rpc_fail_ns(c, &err);
}

int
method_vm_import(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct found f = {.list = json_object_new_array()};
	struct migrate_doc doc;
	struct migrate_err e;
	struct ns_owner owner;
	struct ns_err err;
	struct ns_vm *vm;
	char cgroup[4096];
	int pin = -1, r;

	if (migrate_doc_read(a->document, a->devices, a->wqs, &doc, &e) < 0) {
		json_object_put(f.list);
		return rpc_fail(c, e.code, e.param[0] ? e.param : NULL, "%s", e.message);
	}
	if (a->vm_name)
		doc.im.name = a->vm_name;
	if (a->resv) {
		struct ns_resv *named;

		if (ns_resv_named(&c->d->ns, a->resv, &named, &err) < 0) {
			json_object_put(f.list);
			migrate_doc_free(&doc);
			return rpc_fail_ns(c, &err);
		}
		doc.im.reservation = a->resv;
	}
	r = method_vm_owner(c, a->pid, &owner, cgroup, sizeof(cgroup), &pin);
	if (r < 0)
		goto out;
	/* What an xattr limit of the owner's cgroup says counts for the check and the commit
	 * (read on the way in, as vm.register does; a dry run only reads: quota_fits() asks the
	 * xattr of a cgroup that has no node yet). */
	if (c->d->quota && !a->dry_run)
		quota_refresh_xattrs(c->d->quota, cgroup);
	ns_import_check(&c->d->ns, &doc.im, add_conflict, &f);
	check_wqs(c->d, &doc.im, &f);
	check_quota(c->d, &doc.im, &owner, cgroup, &f);
	if (a->dry_run) {
		*result = json_object_new_object();
		json_object_object_add(*result, "ok", json_object_new_boolean(f.n == 0));
		json_object_object_add(*result, "conflicts", f.list);
		f.list = NULL;
		goto out;
	}
	if (f.n) {
		r = refuse(c, &f);
		goto out;
	}
	/* The VM takes the pin over, whatever becomes of the import. */
	r = ns_import(&c->d->ns, &doc.im, &owner, cgroup, pin, &vm, &err);
	pin = -1;
	if (r < 0) {
		r = rpc_fail_ns(c, &err);
		goto out;
	}
	log_info("VM %s imported with %zu mapping(s) and %u device(s) for pid %d (uid %u)",
	         vm->name, doc.im.nmaps, doc.im.ndevs, (int)owner.pid, (unsigned)owner.uid);
	*result = render_vm(vm);
out:
	if (pin >= 0)
		close(pin);
	json_object_put(f.list);
	migrate_doc_free(&doc);
	return r;
}
