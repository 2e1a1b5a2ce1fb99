/* The audit trail (audit.h): a transaction's namespace events folded into entries, held until
 * durable, then told to the journal and the event stream. */
#include "audit.h"
#include "backend.h"
#include "events.h"
#include "log.h"
#include "pasidd.h"
#include "peer.h"
#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each kind's MESSAGE_ID= and priority, from AUDIT_KIND_LIST. */
static const struct {
	const char *name, *id;
	int prio;
} kinds[AUDIT_KINDS] = {
#define AUDIT_ROW_(e, n, i, p) [AUDIT_##e] = {n, i, p},
    AUDIT_KIND_LIST(AUDIT_ROW_)
#undef AUDIT_ROW_
};

const char *const audit_kind_names[AUDIT_KINDS + 1] = {
#define AUDIT_NAME_(e, n, i, p) n,
    AUDIT_KIND_LIST(AUDIT_NAME_)
#undef AUDIT_NAME_
        NULL,
};

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

/* One entry being gathered from a transaction's events: the changes of one kind to one VM. */
struct build {
	enum audit_kind kind;
	const struct ns_vm *vmp; /* identity only: readable while the transaction is heard */
	bool has_vm, dead;
	char vm[NS_VM_NAME_MAX + 1], uuid[NS_UUID_LEN + 1];
	uid_t vm_uid;
	pid_t owner_pid;
	struct u32vec g, h, devs;
	unsigned count, detached;
	int type; /* enum ns_type, -1 none yet, 2 both */
	bool shared;
	char wq[NS_WQ_REF_MAX + 1];
	char *cgroup;
	uint64_t max;
	struct ns_resv resv; /* RANGE_RESERVE, RANGE_UNRESERVE: a copy */
};

TAILQ_HEAD(entry_list, audit_entry);

struct audit {
	struct pasidd *d;
	/* The request being executed (audit_request). */
	bool has_peer;
	pid_t peer_pid;
	uid_t peer_uid;
	const char *method;
	/* The transaction being heard: its events still to come, and what they made so far. */
	size_t expect;
	struct build *b;
	size_t nb, capb;
	struct entry_list pending; /* made, waiting to be durable */
	uint64_t seq;
};

/* ---- entries ---- */

struct audit_entry *
audit_entry_new(enum audit_kind kind)
{
	/* Zeroed but for the arena, which needs no clearing: the bulk of an entry. */
	struct audit_entry *e = malloc(sizeof(*e));

	if (e) {
		memset(e, 0, offsetof(struct audit_entry, arena));
		memset(&e->arena_used, 0, sizeof(*e) - offsetof(struct audit_entry, arena_used));
		e->kind = kind;
	}
	return e;
}

static bool
in_arena(const struct audit_entry *e, const char *v)
{
	return v >= e->arena && v < e->arena + sizeof(e->arena);
}

static void
entry_free(struct audit_entry *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < e->nf; i++)
		if (!in_arena(e, e->f[i].value))
			free(e->f[i].value);
	free(e->message);
	free(e);
}

/* Room for n bytes and a NUL in the entry's arena, or NULL. */
static char *
arena_take(struct audit_entry *e, size_t n)
{
	char *v;

	if (n >= sizeof(e->arena) - e->arena_used)
		return NULL;
	v = e->arena + e->arena_used;
	e->arena_used += n + 1;
	return v;
}

/* v in decimal, ending at end (which gets the NUL); returns where it starts. */
static char *
decimal(char *end, unsigned long long v)
{
	*end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	return end;
}

/* Copies s into out[size], cut to fit. */
static void
copy_str(char *out, size_t size, const char *s)
{
	size_t n = strnlen(s, size - 1);

	memcpy(out, s, n);
	out[n] = '\0';
}

/* The value of a field: "%s", "%u" and "%d", nearly every field, without vsnprintf (an
 * audited alloc/free makes a dozen). */
static char *
value_of(struct audit_entry *e, const char *fmt, va_list ap)
{
	char num[16], *v;
	const char *s = NULL;
	size_t n;
	va_list again;
	int k;

	if (!strcmp(fmt, "%s")) {
		s = va_arg(ap, const char *);
	} else if (!strcmp(fmt, "%u") || !strcmp(fmt, "%d")) {
		long long x = fmt[1] == 'u' ? (long long)va_arg(ap, unsigned) : va_arg(ap, int);
		char *p = decimal(num + sizeof(num) - 1,
		                  x < 0 ? -(unsigned long long)x : (unsigned long long)x);

		if (x < 0)
			*--p = '-';
		s = p;
	}
	if (s) {
		n = strlen(s);
		if ((v = arena_take(e, n)))
			memcpy(v, s, n + 1);
		else
			v = strdup(s);
		return v;
	}
	va_copy(again, ap);
	k = vsnprintf(e->arena + e->arena_used, sizeof(e->arena) - e->arena_used, fmt, ap);
	if (k >= 0 && (v = arena_take(e, (size_t)k))) {
		va_end(again);
		return v;
	}
	if (k < 0 || vasprintf(&v, fmt, again) < 0)
		v = NULL;
	va_end(again);
	return v;
}

static void
vadd(struct audit_entry *e, const char *name, bool number, const char *fmt, va_list ap)
{
	char *v;

	if (!e || e->nf == AUDIT_MAX_FIELDS || !(v = value_of(e, fmt, ap)))
		return;
	e->f[e->nf++] = (struct audit_field){.name = name, .value = v, .number = number};
}

void
audit_add(struct audit_entry *e, const char *name, bool number, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(e, name, number, fmt, ap);
	va_end(ap);
}

/* Who asked, or why without anyone asking. */
static void
add_peer(struct audit *a, struct audit_entry *e, const char *cause)
{
	if (a->has_peer) {
		audit_add(e, "peer_pid", true, "%d", (int)a->peer_pid);
		audit_add(e, "peer_uid", true, "%u", (unsigned)a->peer_uid);
		if (a->method)
			audit_add(e, "method", false, "%s", a->method);
	} else if (cause) {
		audit_add(e, "cause", false, "%s", cause);
	}
}

/* " by pid P uid U" for the message: out holds at least 40 bytes. */
static void
by_whom(const struct audit *a, char *out, size_t len)
{
	char pid[24], uid[24];

	if (!a->has_peer || len < 40) {
		out[0] = '\0';
		return;
	}
	out = stpcpy(out, " by pid ");
	if (a->peer_pid < 0)
		*out++ = '-';
	out = stpcpy(out, decimal(pid + sizeof(pid) - 1, a->peer_pid < 0
	                                                     ? -(unsigned long long)a->peer_pid
	                                                     : (unsigned long long)a->peer_pid));
	out = stpcpy(out, " uid ");
	stpcpy(out, decimal(uid + sizeof(uid) - 1, a->peer_uid));
}

/* "N TYPE PASID(s) allocated to VM V WHO: gPASID G, hPASID H" (freed by), the message of
 * every alloc and free, put together without asprintf. malloc'd; NULL on ENOMEM. */
static char *
pasid_message(const struct build *b, const char *type, const char *who, const char *g,
              const char *h)
{
	const char *verb =
	    b->kind == AUDIT_PASID_ALLOC ? " PASID(s) allocated to VM " : " PASID(s) freed by VM ";
	const char *parts[] = {type, verb, b->vm, who, ": gPASID ", g, ", hPASID ", h};
	char count[16], *n = decimal(count + sizeof(count) - 1, b->count), *m, *p;
	size_t len = strlen(n) + 2;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		len += strlen(parts[i]);
	if (!(m = p = malloc(len)))
		return NULL;
	p = stpcpy(p, n);
	*p++ = ' ';
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		p = stpcpy(p, parts[i]);
	return m;
}

/* ---- telling ---- */

static void
tell(struct audit *a, struct audit_entry *e)
{
	struct log_field lf[AUDIT_MAX_FIELDS + 2];
	char names[AUDIT_MAX_FIELDS][40], seq[24];
	size_t n = 0;

	e->seq = ++a->seq;
	clock_gettime(CLOCK_REALTIME, &e->time);
	lf[n++] = (struct log_field){"PASIDD_KIND", kinds[e->kind].name};
	lf[n++] = (struct log_field){"PASIDD_SEQ", decimal(seq + sizeof(seq) - 1, e->seq)};
	for (unsigned i = 0; i < e->nf; i++) {
		size_t k = 7;

		memcpy(names[i], "PASIDD_", k);
		for (const char *p = e->f[i].name; *p && k + 1 < sizeof(names[i]); p++)
			names[i][k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		names[i][k] = '\0';
		lf[n++] = (struct log_field){names[i], e->f[i].value};
	}
	log_entry(kinds[e->kind].prio, kinds[e->kind].id, lf, n,
	          e->message ? e->message : kinds[e->kind].name);
	events_publish(a->d->events, e);
}

/* The commit an entry made now waits for: the next one inside a transaction or while records
 * wait, else none (state.h). */
static uint64_t
hold_gen(const struct audit *a)
{
	return ns_txn_dirty(&a->d->ns) ? state_next_gen(a->d->state) : state_hold_gen(a->d->state);
}

/* Tells what waits, in order, up to the first entry whose commit is not done; nothing from
 * inside a transaction. */
static void
flush(struct audit *a, bool durable)
{
	uint64_t done = state_durable_gen(a->d->state);
	struct audit_entry *e;

	if (!durable && ns_txn_dirty(&a->d->ns))
		return;
	/* A commit's entries (a pass's worth of requests) leave on stderr in one write. */
	log_hold();
	while ((e = TAILQ_FIRST(&a->pending)) && e->gen <= done) {
		TAILQ_REMOVE(&a->pending, e, link);
		tell(a, e);
		entry_free(e);
	}
	log_release();
}

static void
on_durable(void *ctx)
{
	flush(ctx, true);
}

void
audit_note(struct audit *a, struct audit_entry *e, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	if (!e)
		return;
	if (!a) {
		entry_free(e);
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	e->message = m;
	add_peer(a, e, NULL);
	e->gen = hold_gen(a);
	TAILQ_INSERT_TAIL(&a->pending, e, link);
	flush(a, false);
}

/* ---- gathering a transaction ---- */

static int
vec_add(struct u32vec *v, uint32_t x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		uint32_t *p = realloc(v->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

/* Adds x unless v holds it already (the devices of an entry). */
static int
vec_add_once(struct u32vec *v, uint32_t x)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i] == x)
			return 0;
	return vec_add(v, x);
}

static int
cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* Sorted ascending. A count allocation or a VM's teardown hands its numbers over in order
 * already: checked first, since sorting 16,384 of them was a sixth of the daemon's time in
 * such a stream. */
static void
u32vec_sort(struct u32vec *v)
{
	for (size_t i = 1; i < v->n; i++)
		if (v->v[i] < v->v[i - 1]) {
			qsort(v->v, v->n, sizeof(*v->v), cmp_u32);
			return;
		}
}

/* "1-8,12,20-21": the numbers sorted, runs as ranges. malloc'd; NULL on ENOMEM. */
static char *
ranges(struct u32vec *v)
{
	size_t cap = 64, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = '\0';
	u32vec_sort(v);
	for (size_t i = 0; i < v->n;) {
		size_t j = i;
		char part[32], *at = part, a[12], b[12], *da, *db;
		int k;

		while (j + 1 < v->n && v->v[j + 1] <= v->v[j] + 1)
			j++;
		/* ",first-last" or ",n", written out: an entry of every alloc/free has two. */
		da = decimal(a + sizeof(a) - 1, v->v[i]);
		db = decimal(b + sizeof(b) - 1, v->v[j]);
		if (len)
			*at++ = ',';
		at = stpcpy(at, da);
		if (v->v[j] != v->v[i]) {
			*at++ = '-';
			at = stpcpy(at, db);
		}
		k = (int)(at - part);
		if (len + (size_t)k + 1 > cap) {
			char *p = realloc(s, cap = (len + (size_t)k + 1) * 2);

			if (!p) {
				free(s);
				return NULL;
			}
			s = p;
		}
		memcpy(s + len, part, (size_t)k + 1);
		len += (size_t)k;
		i = j + 1;
	}
	return s;
}

/* "0000:00:01.0,0000:00:02.0": the devices sorted. */
static char *
bdfs(struct u32vec *v)
{
	char *s = malloc(v->n * (NS_BDF_LEN + 1) + 1);
	size_t len = 0;

	if (!s)
		return NULL;
	s[0] = '\0';
	u32vec_sort(v);
	for (size_t i = 0; i < v->n; i++) {
		char b[NS_BDF_LEN + 1];

		ns_bdf_format(v->v[i], b);
		len += (size_t)sprintf(s + len, "%s%s", i ? "," : "", b);
	}
	return s;
}

static void
build_free(struct build *b)
{
	free(b->g.v);
	free(b->h.v);
	free(b->devs.v);
	free(b->cgroup);
	memset(b, 0, sizeof(*b));
}

static void
group_reset(struct audit *a)
{
	for (size_t i = 0; i < a->nb; i++)
		build_free(&a->b[i]);
	a->nb = 0;
	a->expect = 0;
}

/* The entry being gathered for this kind of change to vm (NULL: none), made if new. */
static struct build *
build_for(struct audit *a, enum audit_kind kind, const struct ns_vm *vm)
{
	struct build *b;

	for (size_t i = 0; i < a->nb; i++)
		if (a->b[i].kind == kind && a->b[i].vmp == vm)
			return &a->b[i];
	if (a->nb == a->capb) {
		size_t cap = a->capb ? a->capb * 2 : 8;
		struct build *p = realloc(a->b, cap * sizeof(*p));

		if (!p)
			return NULL;
		a->b = p;
		a->capb = cap;
	}
	b = &a->b[a->nb++];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->vmp = vm;
	b->type = -1;
	if (vm) {
		b->has_vm = true;
		copy_str(b->vm, sizeof(b->vm), vm->name);
		copy_str(b->uuid, sizeof(b->uuid), vm->uuid);
		b->vm_uid = vm->owner.uid;
		b->owner_pid = vm->owner.pid;
	}
	return b;
}

static void
add_map(struct build *b, const struct ns_mapping *m)
{
	vec_add(&b->g, m->gpasid);
	vec_add(&b->h, m->hpasid);
	b->count++;
	b->type = b->type < 0 || b->type == (int)m->type ? (int)m->type : 2;
	if (m->dev)
		vec_add_once(&b->devs, m->dev->bdf);
	if (m->wq)
		snprintf(b->wq, sizeof(b->wq), "%s", m->wq->ref);
}

/* One event of the transaction, into the entry it belongs to. */
static void
fold(struct audit *a, const struct ns_event *ev)
{
	struct build *b = NULL;

	switch (ev->kind) {
	case NS_EV_VM_CREATED:
		/* An import's VM comes with its devices and mappings: one entry (merge_import). */
		b = build_for(a,
		              a->method && !strcmp(a->method, "vm.import") ? AUDIT_VM_IMPORT
		                                                           : AUDIT_VM_REGISTER,
		              ev->vm);
		break;
	case NS_EV_VM_OWNER:
		b = build_for(a, AUDIT_VM_OWNER, ev->vm);
		break;
	case NS_EV_VM_DESTROYED:
		/* Its devices go with it, without events of their own. */
		b = build_for(a, a->has_peer ? AUDIT_VM_UNREGISTER : AUDIT_VM_RECLAIM, ev->vm);
		for (unsigned i = 0; b && i < ev->vm->ndevs; i++)
			vec_add_once(&b->devs, ev->vm->devs[i].dev->bdf);
		break;
	case NS_EV_DEV_ASSIGNED:
	case NS_EV_DEV_RELEASED:
		b = build_for(
		    a, ev->kind == NS_EV_DEV_ASSIGNED ? AUDIT_DEVICE_ASSIGN : AUDIT_DEVICE_RELEASE,
		    ev->vm);
		if (b) {
			vec_add_once(&b->devs, ev->bdf);
			b->shared = ev->shared;
		}
		break;
	case NS_EV_MAP_ADDED:
	case NS_EV_MAP_REMOVED:
		b = build_for(a, ev->kind == NS_EV_MAP_ADDED ? AUDIT_PASID_ALLOC : AUDIT_PASID_FREE,
		              ev->map->vm);
		if (b)
			add_map(b, ev->map);
		break;
	case NS_EV_MAP_ATTACHED:
	case NS_EV_MAP_DETACHED:
		b = build_for(
		    a, ev->kind == NS_EV_MAP_ATTACHED ? AUDIT_PASID_ATTACH : AUDIT_PASID_DETACH,
		    ev->map->vm);
		if (b) {
			vec_add(&b->g, ev->map->gpasid);
			vec_add(&b->h, ev->map->hpasid);
			b->count++;
			vec_add_once(&b->devs, ev->att->bdf);
		}
		break;
	case NS_EV_DEV_ATTACHED:
	case NS_EV_DEV_DETACHED:
		/* A replace is a detach and an attach in one transaction: two entries. */
		b = build_for(
		    a, ev->kind == NS_EV_DEV_ATTACHED ? AUDIT_DEVICE_ATTACH : AUDIT_DEVICE_DETACH,
		    ev->vm);
		if (b)
			vec_add_once(&b->devs, ev->bdf);
		break;
	case NS_EV_RESERVED:
	case NS_EV_UNRESERVED:
		/* The configuration's come and go with it: its config.reload entry says so. */
		if (ev->resv->config)
			break;
		if ((b = build_for(a,
		                   ev->kind == NS_EV_RESERVED ? AUDIT_RANGE_RESERVE
		                                              : AUDIT_RANGE_UNRESERVE,
		                   NULL)))
			b->resv = *ev->resv;
		break;
	case NS_EV_QUOTA_SET:
		if ((b = build_for(a, AUDIT_QUOTA_SET, NULL))) {
			free(b->cgroup);
			b->cgroup = strdup(ev->cgroup);
			b->max = ev->max;
		}
		break;
	case NS_EV_CURSOR:
	case NS_EV_LCURSOR:
		break; /* where the next allocation looks: no change anyone asked for */
	}
}

/* Folds entry o's PASIDs, or its devices, into r. */
static void
take_pasids(struct build *r, const struct build *o)
{
	for (size_t k = 0; k < o->g.n; k++) {
		vec_add(&r->g, o->g.v[k]);
		vec_add(&r->h, o->h.v[k]);
	}
	r->count += o->count;
}

static void
take_devices(struct build *r, const struct build *o)
{
	for (size_t k = 0; k < o->devs.n; k++)
		vec_add_once(&r->devs, o->devs.v[k]);
}

/* A VM's import is one entry: the PASIDs and devices it came with. */
static void
merge_import(struct audit *a, struct build *r)
{
	for (size_t i = 0; i < a->nb; i++) {
		struct build *o = &a->b[i];

		if (o == r || o->dead || o->vmp != r->vmp)
			continue;
		if (o->kind == AUDIT_PASID_ALLOC) {
			take_pasids(r, o);
			r->type = r->type < 0 || r->type == o->type ? o->type : 2;
		} else if (o->kind != AUDIT_DEVICE_ASSIGN) {
			continue;
		}
		take_devices(r, o);
		o->dead = true;
	}
}

/* A VM's removal is one entry: the PASIDs it freed, its attachments and devices with it. */
static void
merge_removal(struct audit *a, struct build *r)
{
	for (size_t i = 0; i < a->nb; i++) {
		struct build *o = &a->b[i];

		if (o == r || o->dead || o->vmp != r->vmp)
			continue;
		if (o->kind == AUDIT_PASID_FREE)
			take_pasids(r, o);
		else if (o->kind == AUDIT_PASID_DETACH)
			r->detached += o->count;
		else if (o->kind != AUDIT_DEVICE_RELEASE)
			continue;
		take_devices(r, o);
		o->dead = true;
	}
}

static const char *
type_name(int t)
{
	return t == 2 ? "shared,local" : ns_type_name((enum ns_type)t);
}

static void
add_list(struct audit_entry *e, const char *name, char *s)
{
	if (s && s[0])
		audit_add(e, name, false, "%s", s);
	free(s);
}

/* The entry of one gathered change, with its message. */
static struct audit_entry *
make_entry(struct audit *a, struct build *b)
{
	struct audit_entry *e = audit_entry_new(b->kind);
	char who[64], *g, *h, *dv, *m = NULL;
	int r = 0;

	if (!e)
		return NULL;
	by_whom(a, who, sizeof(who));
	e->has_vm = b->has_vm;
	copy_str(e->vm, sizeof(e->vm), b->vm);
	e->vm_uid = b->vm_uid;
	if (b->has_vm) {
		audit_add(e, "vm", false, "%s", b->vm);
		audit_add(e, "uuid", false, "%s", b->uuid);
	}
	g = ranges(&b->g);
	h = ranges(&b->h);
	dv = bdfs(&b->devs);
	switch (b->kind) {
	case AUDIT_VM_REGISTER:
		r = asprintf(&m, "VM %s registered for owner pid %d%s", b->vm, (int)b->owner_pid,
		             who);
		break;
	case AUDIT_VM_OWNER:
		r = asprintf(&m, "VM %s handed over to owner pid %d%s", b->vm, (int)b->owner_pid,
		             who);
		break;
	case AUDIT_VM_UNREGISTER:
	case AUDIT_VM_RECLAIM:
		r = asprintf(&m, "VM %s %s%s: %u PASID(s) freed%s%s, %zu device(s) released", b->vm,
		             b->kind == AUDIT_VM_RECLAIM ? "reclaimed, its owner having exited"
		                                         : "unregistered",
		             who, b->count, b->count ? ", hPASID " : "", b->count ? h : "",
		             b->devs.n);
		break;
	case AUDIT_DEVICE_ASSIGN:
		r = asprintf(&m, "device %s assigned to VM %s (%s)%s", dv, b->vm,
		             b->shared ? "shared" : "exclusive", who);
		break;
	case AUDIT_DEVICE_RELEASE:
		r = asprintf(&m, "device %s released from VM %s%s", dv, b->vm, who);
		break;
	case AUDIT_PASID_ALLOC:
	case AUDIT_PASID_FREE:
		r = g && h && (m = pasid_message(b, type_name(b->type), who, g, h)) ? 0 : -1;
		break;
	case AUDIT_PASID_ATTACH:
	case AUDIT_PASID_DETACH:
		r = asprintf(&m, "%u PASID(s) of VM %s %s device %s%s: gPASID %s, hPASID %s",
		             b->count, b->vm,
		             b->kind == AUDIT_PASID_ATTACH ? "attached to" : "detached from", dv,
		             who, g, h);
		break;
	case AUDIT_DEVICE_ATTACH:
	case AUDIT_DEVICE_DETACH:
		r = asprintf(
		    &m, "requester ID of device %s of VM %s %s%s", dv, b->vm,
		    b->kind == AUDIT_DEVICE_ATTACH ? "attached to a page table" : "detached", who);
		break;
	case AUDIT_VM_IMPORT:
		r = asprintf(&m,
		             "VM %s imported for owner pid %d%s: %u PASID(s)%s%s, %zu device(s)",
		             b->vm, (int)b->owner_pid, who, b->count, b->count ? ", gPASID " : "",
		             b->count ? g : "", b->devs.n);
		break;
	case AUDIT_RANGE_RESERVE:
		r = asprintf(&m, "hPASIDs %u-%u reserved as '%s'%s%s%s%s", b->resv.first,
		             b->resv.last, b->resv.name, b->resv.why[0] ? " (" : "", b->resv.why,
		             b->resv.why[0] ? ")" : "", who);
		break;
	case AUDIT_RANGE_UNRESERVE:
		r = asprintf(&m, "reservation '%s' of hPASIDs %u-%u %s%s", b->resv.name,
		             b->resv.first, b->resv.last, a->has_peer ? "removed" : "expired", who);
		break;
	case AUDIT_QUOTA_SET:
		if (b->max == UINT64_MAX)
			r = asprintf(&m, "PASID quota of cgroup %s removed%s", b->cgroup, who);
		else
			r = asprintf(&m, "PASID quota of cgroup %s set to %llu%s", b->cgroup,
			             (unsigned long long)b->max, who);
		break;
	default:
		r = asprintf(&m, "%s%s", kinds[b->kind].name, who);
		break;
	}
	e->message = r < 0 ? NULL : m;
	add_list(e, "gpasid", g);
	add_list(e, "hpasid", h);
	add_list(e, "device", dv);
	if (b->count || b->kind == AUDIT_VM_UNREGISTER || b->kind == AUDIT_VM_RECLAIM ||
	    b->kind == AUDIT_VM_IMPORT)
		audit_add(e, "count", true, "%u", b->count);
	if (b->detached)
		audit_add(e, "detached", true, "%u", b->detached);
	if (b->type >= 0)
		audit_add(e, "type", false, "%s", type_name(b->type));
	if (b->wq[0])
		audit_add(e, "wq", false, "%s", b->wq);
	if (b->kind == AUDIT_DEVICE_ASSIGN)
		audit_add(e, "shared", false, "%s", b->shared ? "true" : "false");
	if (b->kind == AUDIT_VM_REGISTER || b->kind == AUDIT_VM_OWNER ||
	    b->kind == AUDIT_VM_RECLAIM || b->kind == AUDIT_VM_IMPORT)
		audit_add(e, "owner_pid", true, "%d", (int)b->owner_pid);
	if (b->kind == AUDIT_QUOTA_SET) {
		audit_add(e, "cgroup", false, "%s", b->cgroup ? b->cgroup : "");
		if (b->max == UINT64_MAX)
			audit_add(e, "max", false, "max");
		else
			audit_add(e, "max", true, "%llu", (unsigned long long)b->max);
	}
	if (b->kind == AUDIT_RANGE_RESERVE || b->kind == AUDIT_RANGE_UNRESERVE) {
		audit_add(e, "reservation", false, "%s", b->resv.name);
		audit_add(e, "first", true, "%u", b->resv.first);
		audit_add(e, "last", true, "%u", b->resv.last);
		if (b->resv.why[0])
			audit_add(e, "why", false, "%s", b->resv.why);
	}
	add_peer(a, e,
	         b->kind == AUDIT_VM_RECLAIM        ? "owner-exit"
	         : b->kind == AUDIT_RANGE_UNRESERVE ? "expired"
	                                            : NULL);
	return e;
}

/* The transaction has been heard whole: its entries wait for the commit. */
static void
group_done(struct audit *a)
{
	for (size_t i = 0; i < a->nb; i++)
		if (!a->b[i].dead &&
		    (a->b[i].kind == AUDIT_VM_UNREGISTER || a->b[i].kind == AUDIT_VM_RECLAIM))
			merge_removal(a, &a->b[i]);
		else if (!a->b[i].dead && a->b[i].kind == AUDIT_VM_IMPORT)
			merge_import(a, &a->b[i]);
	for (size_t i = 0; i < a->nb; i++) {
		struct audit_entry *e;

		if (a->b[i].dead || !(e = make_entry(a, &a->b[i])))
			continue;
		e->gen = hold_gen(a);
		TAILQ_INSERT_TAIL(&a->pending, e, link);
	}
	group_reset(a);
	flush(a, false);
}

/* Called once per transaction before its events are applied (and not at all when it is
 * refused before this observer is asked; an observer after this one may still refuse it, and
 * then no event comes: the next check starts afresh). */
static int
check(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err)
{
	struct audit *a = ctx;

	(void)evs;
	(void)err;
	group_reset(a);
	a->expect = n;
	return 0;
}

static void
apply(void *ctx, const struct ns_event *ev)
{
	struct audit *a = ctx;

	fold(a, ev);
	if (a->expect && --a->expect == 0)
		group_done(a);
}

/* ---- life ---- */

int
audit_open(struct pasidd *d)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->d = d;
	TAILQ_INIT(&a->pending);
	if (ns_observe(&d->ns, &(struct ns_observer){.check = check, .apply = apply, .ctx = a}) <
	        0 ||
	    (d->state && state_on_durable(d->state, on_durable, a) < 0)) {
		ns_unobserve(&d->ns, a);
		free(a);
		return -ENOMEM;
	}
	d->audit = a;
	return 0;
}

void
audit_close(struct audit *a)
{
	struct audit_entry *e;

	if (!a)
		return;
	ns_unobserve(&a->d->ns, a);
	state_off_durable(a->d->state, on_durable, a);
	/* What was never made durable is never told. */
	while ((e = TAILQ_FIRST(&a->pending))) {
		TAILQ_REMOVE(&a->pending, e, link);
		entry_free(e);
	}
	group_reset(a);
	free(a->b);
	free(a);
}

void
audit_request(struct audit *a, const struct peer *p, const char *method)
{
	if (!a)
		return;
	a->has_peer = p != NULL;
	a->peer_pid = p ? p->pid : 0;
	a->peer_uid = p ? p->uid : 0;
	a->method = p ? method : NULL;
}

uint64_t
audit_seq(const struct audit *a)
{
	return a ? a->seq : 0;
}
