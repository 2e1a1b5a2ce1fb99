/* pasidd --salvage.
 *
 * The valid prefix of the state (what replay delivers up to the first damage) is kept as it
 * is. The damaged part cannot be trusted to be complete, so none of its changes is applied;
 * but every PASID a readable mapping record there names may be in use by a running VM, and
 * must not be handed to anyone else while that VM's owner lives. Such hPASIDs that the prefix
 * does not hold go into a VM "salvaged.<vm>" in identity mode (gPASID = hPASID), owned by
 * the original VM's owner: the ordinary owner-exit reclaim then returns them, they show in
 * vm.list and pasid.list, and an admin may vm.unregister them. Local PASIDs need their device:
 * a device the damaged part gave to a VM and that the prefix leaves free is assigned to the
 * salvaged VM, so that no other VM gets it, nor any local PASID on it, before that owner is
 * gone. An owner that cannot be read at all is taken to be pid 1: until the host reboots or
 * an admin unregisters the VM. */
#include "salvage.h"
#include "backend.h"
#include "image.h"
#include "journal.h"
#include "log.h"
#include "namespace.h"
#include "peer.h"
#include "quota.h"
#include "record.h"
#include "state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#define FILE_LEN 48

/* An owner as the damaged part or the prefix tells it. */
struct known_owner {
	bool known;
	struct ns_owner o;
	char cgroup[4097];
};

struct lost_vm {
	char name[NS_VM_NAME_MAX + 1];
	struct known_owner owner;
};

/* A mapping or a device assignment read after the damage. */
struct lost_use {
	char vm[NS_VM_NAME_MAX + 1];
	bool device;  /* an exclusive device (bdf) rather than a shared hPASID */
	uint32_t num; /* hPASID or bdf */
	uint32_t gpasid;
	char file[FILE_LEN];
	uint64_t off;
	struct known_owner owner; /* the VM's owner as last read before this record */
};

/* A salvaged VM and what went into it, for the report. */
struct quarantine {
	struct ns_vm *vm;
	const char *orig;
	unsigned pasids, devices;
};

struct salvage {
	const char *dir;
	const struct journal *j; /* which version the record being kept is in */
	struct image img;        /* the valid prefix, and what is salvaged into it */
	char refused[256];       /* why the record that ended the prefix did not apply */
	char misfit[320];        /* a mapping outside the configured ranges */
	struct lost_vm *vms;
	size_t nvms;
	struct lost_use *uses;
	size_t nuses;
	struct quarantine q[64];
	size_t nq;
	bool have_cursor;
	uint32_t cursor;
	unsigned ops[REC_OP_MAX + 1];
	unsigned undecodable, quotas;
};

static void *
grow(void *v, size_t n, size_t size)
{
	return (n & (n - 1)) == 0 ? realloc(v, (n ? 2 * n : 1) * size) : v;
}

/* Whether a mapping lies where the configuration puts its kind: if not, the state was
 * written under other ranges, and salvaging it under these would lose it for nothing. */
static void
check_fit(struct salvage *s, const void *rec, size_t len, const char *file, uint64_t off)
{
	const struct ns_config *c = &s->img.ns->cfg;
	struct rec_info ri;
	const struct ns_range *r;
	char where[96] = "";

	if (s->misfit[0] || rec_decode(rec, len, &ri) < 0 ||
	    (ri.op != REC_MAP && ri.op != REC_MAP_RUN))
		return;
	r = ri.type == NS_TYPE_LOCAL ? &c->local : &c->shared;
	if (ri.op == REC_MAP_RUN && ri.hpasid >= r->first && ri.hpasid <= r->last &&
	    ri.hpasid + (ri.count - 1) > r->last) {
		/* The first in the range, a later one not: name that one. */
		ri.gpasid += r->last + 1 - ri.hpasid;
		ri.hpasid = r->last + 1;
	}
	if (ri.hpasid >= r->first && ri.hpasid <= r->last)
		return;
	if (file)
		snprintf(where, sizeof(where), "%s, record at offset %" PRIu64 ": ", file, off);
	snprintf(s->misfit, sizeof(s->misfit),
	         "%sVM '%s' maps gPASID %u to %s hPASID %u, outside the %s range %u-%u", where,
	         ri.vm, ri.gpasid, ns_type_name((enum ns_type)ri.type), ri.hpasid,
	         ns_type_name((enum ns_type)ri.type), r->first, r->last);
}

static int
keep_cb(void *ctx, const void *rec, size_t len)
{
	struct salvage *s = ctx;

	if (image_apply(&s->img, journal_file_format(s->j), rec, len, s->refused,
	                sizeof(s->refused)) < 0) {
		check_fit(s, rec, len, NULL, 0);
		return -EUCLEAN;
	}
	return 0;
}

static struct lost_vm *
lost_vm(struct salvage *s, const char *name)
{
	for (size_t i = 0; i < s->nvms; i++)
		if (!strcmp(s->vms[i].name, name))
			return &s->vms[i];
	return NULL;
}

static void
lost_cb(void *ctx, const char *file, uint64_t off, const void *rec, size_t len)
{
	struct salvage *s = ctx;
	struct rec_info ri;
	struct lost_vm *v;
	struct lost_use *u;
	char why[256];

	if (rec_decode(rec, len, &ri) < 0) {
		s->undecodable++;
		return;
	}
	s->ops[ri.op]++;
	if (ri.op == REC_MAP_RUN) /* reported as the mappings it holds */
		s->ops[REC_MAP] += ri.count;
	switch (ri.op) {
	case REC_VM:
		v = lost_vm(s, ri.vm);
		if (!v) {
			void *nv = grow(s->vms, s->nvms, sizeof(*s->vms));

			if (!nv)
				return;
			s->vms = nv;
			v = &s->vms[s->nvms++];
			snprintf(v->name, sizeof(v->name), "%s", ri.vm);
		}
		v->owner.known = true;
		v->owner.o =
		    (struct ns_owner){.pid = ri.pid, .starttime = ri.starttime, .uid = ri.uid};
		snprintf(v->owner.cgroup, sizeof(v->owner.cgroup), "%s", ri.cgroup);
		return;
	case REC_MAP:
	case REC_MAP_RUN:
	case REC_DEV:
		if (ri.op != REC_DEV)
			check_fit(s, rec, len, file, off);
		if (ri.op == REC_DEV && ri.shared)
			return; /* shared devices carry shared hPASIDs, kept by number */
		/* A run is its mappings, each lost as its own REC_MAP would be. */
		for (uint32_t i = 0; i < (ri.op == REC_MAP_RUN ? ri.count : 1); i++) {
			u = grow(s->uses, s->nuses, sizeof(*s->uses));
			if (!u)
				return;
			s->uses = u;
			u = &s->uses[s->nuses++];
			memset(u, 0, sizeof(*u));
			snprintf(u->vm, sizeof(u->vm), "%s", ri.vm);
			u->device = ri.op == REC_DEV || ri.type == NS_TYPE_LOCAL;
			u->num = u->device ? ri.bdf : ri.hpasid + i;
			u->gpasid = ri.gpasid + i;
			snprintf(u->file, sizeof(u->file), "%s", file);
			u->off = off;
			if ((v = lost_vm(s, ri.vm)))
				u->owner = v->owner;
		}
		return;
	case REC_CURSOR:
		s->have_cursor = true;
		s->cursor = ri.cursor;
		return;
	case REC_QUOTA:
		/* An admin's runtime limit: setting it again is as right as it was. */
		if (rec_apply_quota(s->img.quota, rec, len, why, sizeof(why)) == 0)
			s->quotas++;
		return;
	default:
		return;
	}
}

/* The owner of the VM a lost record names: as the damaged part last told it before that
 * record, else as the prefix has it, else pid 1 (until reboot or an admin's vm.unregister). */
static void
owner_for(struct salvage *s, const struct lost_use *u, struct known_owner *o)
{
	const struct ns_vm *vm = ns_vm_find(s->img.ns, u->vm);

	if (u->owner.known) {
		*o = u->owner;
		return;
	}
	if (vm) {
		o->known = true;
		o->o = vm->owner;
		snprintf(o->cgroup, sizeof(o->cgroup), "%s", vm->cgroup);
		return;
	}
	o->known = false;
	o->o = (struct ns_owner){.pid = 1, .uid = 0};
	if (proc_starttime(1, &o->o.starttime) < 0)
		o->o.starttime = 0;
	snprintf(o->cgroup, sizeof(o->cgroup), "/");
}

static bool
same_owner(const struct ns_owner *a, const struct ns_owner *b)
{
	return a->pid == b->pid && a->starttime == b->starttime && a->uid == b->uid;
}

/* The salvaged VM for orig's PASIDs under owner o: salvaged.<orig>, or with a suffix when
 * that name is taken by a VM of another owner. */
static struct quarantine *
quarantine_for(struct salvage *s, const char *orig, const struct known_owner *o)
{
	struct ns *ns = s->img.ns;
	char name[NS_VM_NAME_MAX + 1], uuid[SD_ID128_UUID_STRING_MAX];
	struct ns_err err = {0};
	struct ns_vm *vm = NULL;
	sd_id128_t id;

	for (unsigned k = 1; k < 100 && !vm; k++) {
		char suffix[8] = "";
		int room;

		if (k > 1)
			snprintf(suffix, sizeof(suffix), ".%u", k);
		room = NS_VM_NAME_MAX - 9 - (int)strlen(suffix);
		snprintf(name, sizeof(name), "salvaged.%.*s%s", room, orig, suffix);
		vm = ns_vm_find(ns, name);
		if (vm && (vm->mode != NS_MODE_IDENTITY || !same_owner(&vm->owner, &o->o)))
			vm = NULL;
		else if (!vm) {
			if (sd_id128_randomize(&id) < 0)
				memset(&id, 0, sizeof(id));
			sd_id128_to_uuid_string(id, uuid);
			if (ns_vm_create(ns, name, uuid, NS_MODE_IDENTITY, &o->o, o->cgroup, -1,
			                 &vm, &err) < 0) {
				log_err("cannot create VM %s: %s", name, err.message);
				return NULL;
			}
		}
	}
	if (!vm)
		return NULL;
	for (size_t i = 0; i < s->nq; i++)
		if (s->q[i].vm == vm)
			return &s->q[i];
	if (s->nq == sizeof(s->q) / sizeof(s->q[0])) {
		log_err("more than %zu salvaged VMs", s->nq);
		return NULL;
	}
	s->q[s->nq] = (struct quarantine){.vm = vm, .orig = orig};
	return &s->q[s->nq++];
}

static const char *
owner_text(const struct ns_vm *vm, char *buf, size_t n)
{
	if (vm->owner.pid == 1)
		snprintf(buf, n, "kept until the host reboots or an admin unregisters it");
	else
		snprintf(buf, n, "owned by pid %d (uid %u), kept until that process exits",
		         (int)vm->owner.pid, (unsigned)vm->owner.uid);
	return buf;
}

/* A shared hPASID read after the damage: nothing to do when the prefix holds it, else
 * quarantined. -1 only when the namespace refuses what it should take. */
static int
keep_hpasid(struct salvage *s, const struct lost_use *u)
{
	struct ns *ns = s->img.ns;
	const struct ns_mapping *m = u32map_get(&ns->shared_maps, u->num);
	struct known_owner o;
	struct quarantine *q;
	struct ns_err err = {0};

	if (m) {
		if (strcmp(m->vm->name, u->vm) || m->gpasid != u->gpasid)
			log_warn("hPASID %u, mapped to VM %s gPASID %u after the damage (%s offset "
			         "%" PRIu64 "), is held by VM %s in the valid part: it stays there "
			         "and returns to the pool only when VM %s lets it go",
			         u->num, u->vm, u->gpasid, u->file, u->off, m->vm->name,
			         m->vm->name);
		return 0;
	}
	owner_for(s, u, &o);
	q = quarantine_for(s, u->vm, &o);
	if (!q)
		return -1;
	if (ns_insert(ns, q->vm, NS_TYPE_SHARED, 0, u->num, u->num, NULL, NULL, &err) < 0) {
		log_err("cannot keep hPASID %u in VM %s: %s", u->num, q->vm->name, err.message);
		return -1;
	}
	q->pasids++;
	return 0;
}

/* Whether name is a salvaged VM for vm's PASIDs: salvaged.<vm> or salvaged.<vm>.<n>. */
static bool
salvaged_from(const char *name, const char *vm)
{
	size_t n = strlen(vm);

	if (strncmp(name, "salvaged.", 9) || strncmp(name + 9, vm, n))
		return false;
	name += 9 + n;
	return !*name ||
	       (*name == '.' && name[1] && strspn(name + 1, "0123456789") == strlen(name + 1));
}

/* A device that the damaged part gave to a VM exclusively (or used for a local PASID). */
static int
keep_device(struct salvage *s, const struct lost_use *u)
{
	struct ns *ns = s->img.ns;
	const struct ns_device *dev = ns_device_find(ns, u->num);
	char bdf[NS_BDF_LEN + 1];
	struct known_owner o;
	struct quarantine *q;
	struct ns_err err = {0};

	ns_bdf_format(u->num, bdf);
	if (dev && dev->nvms) {
		const char *holder = dev->shared ? "shared VMs" : dev->owner->name;

		/* Held by the same VM, or already by its salvaged VM: it stays with it. */
		if (!dev->shared &&
		    (!strcmp(dev->owner->name, u->vm) || salvaged_from(dev->owner->name, u->vm)))
			return 0;
		log_warn("device %s, given to VM %s after the damage (%s offset %" PRIu64 "), is "
		         "held by %s: it stays there, and local PASIDs that VM %s may use on it "
		         "cannot be kept out of circulation",
		         bdf, u->vm, u->file, u->off, holder, u->vm);
		return 0;
	}
	owner_for(s, u, &o);
	q = quarantine_for(s, u->vm, &o);
	if (!q)
		return -1;
	if (ns_device_assign(ns, q->vm, u->num, false, &err) < 0) {
		log_err("cannot keep device %s in VM %s: %s", bdf, q->vm->name, err.message);
		return -1;
	}
	q->devices++;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* "4100-4199, 4300" for the report. */
static void
ranges_text(const struct ns *ns, const struct ns_vm *vm, char *buf, size_t n)
{
	unsigned count = (unsigned)vm->maps.count, i = 0, k = 0;
	uint32_t *v;
	size_t used = 0;

	buf[0] = '\0';
	v = count ? malloc(count * sizeof(*v)) : NULL;
	if (!v)
		return;
	for (const struct ns_mapping *m = ns_vm_next(ns, vm, 0); m && k < count;
	     m = ns_vm_next(ns, vm, m->gpasid))
		v[k++] = m->hpasid;
	count = k;
	qsort(v, count, sizeof(*v), cmp_u32);
	while (i < count && used + 32 < n) {
		unsigned j = i;

		while (j + 1 < count && v[j + 1] == v[j] + 1)
			j++;
		used += (size_t)snprintf(buf + used, n - used, "%s%u", i ? ", " : "", v[i]);
		if (j > i)
			used += (size_t)snprintf(buf + used, n - used, "-%u", v[j]);
		i = j + 1;
	}
	if (i < count)
		snprintf(buf + used, n - used, ", ...");
	free(v);
}

static void
kept_cb(void *ctx, const char *file, const char *aside)
{
	log_info("kept %s as %s for inspection", file, aside);
}

static void
report_lost(const struct salvage *s, const struct journal_salvage_info *info)
{
	log_info("read after the damage: %" PRIu64 " record(s) (%u VM registration(s), %u "
	         "mapping(s), %u device assignment(s), %u free(s) and VM removal(s), %u "
	         "other), %" PRIu64 " byte(s) in no readable record%s",
	         info->lost_records, s->ops[REC_VM], s->ops[REC_MAP], s->ops[REC_DEV],
	         s->ops[REC_UNMAP] + s->ops[REC_UNVM] + s->ops[REC_UNDEV],
	         s->ops[REC_CURSOR] + s->ops[REC_LCURSOR] + s->ops[REC_QUOTA] + s->ops[REC_OWNER] +
	             s->ops[REC_ATTACH] + s->ops[REC_DETACH] + s->ops[REC_DEVATTACH] +
	             s->ops[REC_DEVDETACH] + s->ops[REC_TXN] + s->undecodable,
	         info->unreadable_bytes,
	         info->scan_incomplete ? " (the search for readable records gave up: the "
	                                 "rest is counted as unreadable)"
	                               : "");
	log_info("dropped: none of these changes is applied; VMs registered after the damage "
	         "are gone (their VMMs must register them again), frees after it are undone "
	         "(those PASIDs stay with their VMs until the owners exit), and whatever the "
	         "unreadable bytes held is lost");
	for (size_t i = 0; i < s->nvms; i++)
		if (!ns_vm_find(s->img.ns, s->vms[i].name))
			log_info("dropped: VM %s, registered after the damage by pid %d (uid %u)",
			         s->vms[i].name, (int)s->vms[i].owner.o.pid,
			         (unsigned)s->vms[i].owner.o.uid);
}

/* Whether the salvage must stop before it changes anything: there is nothing that replay
 * refuses, or the state was written under other ranges. */
static bool
salvage_refused(const struct salvage *s, const struct journal_salvage_info *info)
{
	if (!info->damaged) {
		log_err("the files in %s are intact and every record applies, but the state breaks "
		        "a rule of the namespace: --salvage cannot repair that",
		        s->dir);
		return true;
	}
	if (s->misfit[0]) {
		log_err("refusing to salvage %s: %s: the state was written under other ranges, "
		        "and with the configuration it was written under it may not need salvaging "
		        "(pasidd -n tells); nothing was changed",
		        s->dir, s->misfit);
		return true;
	}
	return false;
}

static void
report_found(const struct salvage *s, const struct journal_salvage_info *info)
{
	const struct ns *ns = s->img.ns;

	log_info("the valid part ends at %s%s%s", info->damage, s->refused[0] ? ": " : "",
	         s->refused);
	log_info("kept the valid part: %" PRIu64 " record(s): %u VM(s) with %u shared and %u "
	         "local PASID(s)%s",
	         info->prefix_records, ns->nvms, (unsigned)ns->shared_maps.count, ns->nlocal,
	         info->torn_bytes ? ", and a torn tail dropped" : "");
	report_lost(s, info);
}

static void
report_quarantine(const struct salvage *s)
{
	char text[1024], owner[128], bdf[NS_BDF_LEN + 1];

	for (size_t i = 0; i < s->nq; i++) {
		const struct ns_vm *vm = s->q[i].vm;

		ranges_text(s->img.ns, vm, text, sizeof(text));
		log_info("quarantined in VM %s, %s: %u hPASID(s) of VM %s%s%s%s", vm->name,
		         owner_text(vm, owner, sizeof(owner)), s->q[i].pasids, s->q[i].orig,
		         s->q[i].pasids ? " (" : "", text, s->q[i].pasids ? ")" : "");
		for (unsigned k = 0; k < vm->ndevs; k++) {
			ns_bdf_format(vm->devs[k].dev->bdf, bdf);
			log_info("quarantined in VM %s: device %s of VM %s and every local PASID "
			         "on it",
			         vm->name, bdf, s->q[i].orig);
		}
	}
	if (!s->nq)
		log_info("quarantined: nothing (every PASID read after the damage is held in the "
		         "valid part too)");
}

/* What the damaged part tells that may be taken: the PASIDs and devices it shows in use kept
 * out of circulation, the shared next-fit position. -1 when the namespace refuses. */
static int
take_lost(struct salvage *s)
{
	struct ns *ns = s->img.ns;

	for (size_t i = 0; i < s->nuses; i++)
		if ((s->uses[i].device ? keep_device(s, &s->uses[i])
		                       : keep_hpasid(s, &s->uses[i])) < 0)
			return -1;
	report_quarantine(s);
	if (s->have_cursor && s->cursor < ns->shared_used.size) {
		/* Where next-fit had got to: what the unreadable part handed out lies behind. */
		ns->shared_cursor = s->cursor;
		log_info("the shared next-fit position continues from the last one read (hPASID "
		         "%u)",
		         ns->cfg.shared.first + s->cursor);
	}
	if (s->quotas)
		log_info("set again %u runtime quota limit(s) read after the damage", s->quotas);
	return 0;
}

static int
salvage_state(struct salvage *s, struct journal *j)
{
	struct journal_salvage_info info;
	struct ns *ns = s->img.ns;
	char rule[256];
	int r;

	ns->replaying = true;
	s->j = j;
	r = journal_salvage(j, keep_cb, lost_cb, s, &info);
	if (r < 0) {
		log_err("cannot salvage %s: %s", s->dir,
		        journal_error(j)[0] ? journal_error(j) : strerror(-r));
		return 1;
	}
	if (salvage_refused(s, &info))
		return 1;
	report_found(s, &info);
	if (take_lost(s) < 0)
		return 1;
	if (ns_check(ns, rule, sizeof(rule)) < 0) {
		log_err("the salvaged state breaks a rule (%s); nothing was changed", rule);
		return 1;
	}
	ns->replaying = false;
	r = journal_salvage_commit(j, image_write, &s->img, kept_cb);
	if (r < 0) {
		log_err("cannot write the salvaged state in %s: %s", s->dir,
		        journal_error(j)[0] ? journal_error(j) : strerror(-r));
		return 1;
	}
	log_info("salvaged %s: it holds %u VM(s), %u shared and %u local PASID(s); pasidd can be "
	         "started",
	         s->dir, ns->nvms, (unsigned)ns->shared_maps.count, ns->nlocal);
	return 0;
}

int
salvage_run(const char *dir, const struct ns_config *cfg, struct backend *be)
{
	struct salvage *s = NULL;
	struct state_summary sum;
	struct journal *j = NULL;
	struct quota *q = NULL;
	char why[1024];
	struct ns ns;
	bool have_ns = false;
	int r;

	/* Only what start-up refuses is salvaged; the check takes no lock and changes nothing. */
	r = state_check(dir, cfg, be, &sum, why, sizeof(why));
	if (r == 0) {
		log_info(
		    "the state in %s replays as it is (%u VMs, %u shared and %u local PASIDs): "
		    "nothing to salvage",
		    dir, sum.vms, sum.shared, sum.local);
		return 0;
	}
	if (r != -EUCLEAN) {
		log_err("%s", why);
		return 1;
	}
	log_info("start-up refuses the state in %s: salvaging it", dir);
	r = journal_open(dir, &j);
	if (r == 0)
		r = journal_set_format(j, REC_FORMAT_VERSION);
	if (r == 0) /* read as written, salvaged in REC_FORMAT_VERSION */
		r = journal_read_formats(j, REC_FORMAT_OLDEST);
	if (r < 0) {
		log_err("cannot open the state in %s: %s", dir,
		        r == -EBUSY ? "a pasidd is using it; stop it first" : strerror(-r));
		journal_close(j);
		return 1;
	}
	s = calloc(1, sizeof(*s));
	if (!s || quota_new(&q) < 0 || ns_init(&ns, cfg, be) < 0) {
		log_err("out of memory");
		r = 1;
		goto out;
	}
	have_ns = true;
	s->dir = dir;
	s->img.ns = &ns;
	s->img.quota = q;
	r = salvage_state(s, j);
out:
	if (have_ns)
		ns_destroy(&ns);
	journal_close(j);
	quota_free(q);
	if (s) {
		free(s->vms);
		free(s->uses);
	}
	free(s);
	return r;
}
