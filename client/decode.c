/* libpasid: the decoders. Results of the v1 methods, as the daemon sends them, read into the
 * plain structures of libpasid.h, and those structures freed. Nothing here talks to the
 * daemon: the typed calls (typed.c) and callers of the non-blocking path both use these. */
#include "decode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* Decodes o into the structure at item; on failure it leaves nothing in item to free. */
typedef int (*decode_fn)(struct json_object *o, void *item, struct pasid_error *err);
/* Releases what a decode_fn allocated in the structure at item; NULL when it allocates
 * nothing. */
typedef void (*clear_fn)(void *item);

const char *
pasid_type_name(enum pasid_type type)
{
	switch (type) {
	case PASID_TYPE_SHARED:
		return "shared";
	case PASID_TYPE_LOCAL:
		return "local";
	default:
		return NULL;
	}
}

const char *
pasid_mode_name(enum pasid_mode mode)
{
	switch (mode) {
	case PASID_MODE_TRANSLATED:
		return "translated";
	case PASID_MODE_IDENTITY:
		return "identity";
	default:
		return NULL;
	}
}

struct json_object *
lp_member(struct json_object *obj, const char *key, enum json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static int
get_u64(struct json_object *obj, const char *key, uint64_t max, uint64_t *out,
        struct pasid_error *err)
{
	struct json_object *v = lp_member(obj, key, json_type_int);
	int64_t n;

	if (!v)
		return lp_bad_reply(err, key);
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return lp_bad_reply(err, key);
	*out = (uint64_t)n;
	return 0;
}

int
lp_get_u32(struct json_object *obj, const char *key, uint32_t *out, struct pasid_error *err)
{
	uint64_t n = 0;
	int rc = get_u64(obj, key, UINT32_MAX, &n, err);

	if (rc == 0)
		*out = (uint32_t)n;
	return rc;
}

static int
get_str(struct json_object *obj, const char *key, bool required, char *buf, size_t size,
        struct pasid_error *err)
{
	struct json_object *v = lp_member(obj, key, json_type_string);

	if (!v) {
		if (required || json_object_object_get_ex(obj, key, NULL))
			return lp_bad_reply(err, key);
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)json_object_get_string_len(v) >= size)
		return lp_bad_reply(err, key);
	memcpy(buf, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	return 0;
}

/* A string member copied to the heap ("" when it is absent and not required). */
static int
get_strdup(struct json_object *obj, const char *key, bool required, char **out,
           struct pasid_error *err)
{
	struct json_object *v = lp_member(obj, key, json_type_string);

	if (!v && (required || json_object_object_get_ex(obj, key, NULL)))
		return lp_bad_reply(err, key);
	*out = strdup(v ? json_object_get_string(v) : "");
	return *out ? 0 : lp_nomem(err);
}

/* A string member that must be name(i) for one i from first to last: that i. */
static int
get_choice(struct json_object *obj, const char *key, const char *(*name)(int), int first, int last,
           int *out, struct pasid_error *err)
{
	char s[16];

	if (get_str(obj, key, true, s, sizeof(s), err) < 0)
		return -EPROTO;
	for (int i = first; i <= last; i++) {
		if (strcmp(s, name(i)) == 0) {
			*out = i;
			return 0;
		}
	}
	return lp_bad_reply(err, key);
}

static const char *
type_name(int type)
{
	return pasid_type_name((enum pasid_type)type);
}

static const char *
mode_name(int mode)
{
	return pasid_mode_name((enum pasid_mode)mode);
}

/* Decodes one structure of size into a new allocation, stored in *out. */
static int
decode_new(struct json_object *o, size_t size, decode_fn decode, void **out,
           struct pasid_error *err)
{
	void *item = calloc(1, size);
	int rc;

	*out = NULL;
	if (!item)
		return lp_nomem(err);
	rc = decode(o, item, err);
	if (rc < 0) {
		free(item);
		return rc;
	}
	*out = item;
	lp_clear_error(err);
	return 0;
}

static void
free_list(void *items, size_t n, size_t size, clear_fn clear)
{
	if (!items)
		return;
	for (size_t i = 0; clear && i < n; i++)
		clear((char *)items + i * size);
	free(items);
}

/* Decodes each element of the array v, or v itself when it is not an array, into a new array
 * of structures of size, stored in *items and *n. */
static int
decode_list(struct json_object *v, size_t size, decode_fn decode, clear_fn clear, void **items,
            size_t *n, struct pasid_error *err)
{
	bool one = !json_object_is_type(v, json_type_array);
	size_t len = one ? 1 : json_object_array_length(v);
	char *a = calloc(len ? len : 1, size);

	*items = NULL;
	*n = 0;
	if (!a)
		return lp_nomem(err);
	for (size_t i = 0; i < len; i++) {
		int rc = decode(one ? v : json_object_array_get_idx(v, i), a + i * size, err);

		if (rc < 0) {
			free_list(a, i, size, clear);
			return rc;
		}
	}
	*items = a;
	*n = len;
	lp_clear_error(err);
	return 0;
}

/* A listing: an array, or an object whose member key ("mappings", "vms") is one, as a paged
 * listing's result is. */
static int
decode_listing(struct json_object *result, const char *key, const char *what, size_t size,
               decode_fn decode, clear_fn clear, void **items, size_t *n, struct pasid_error *err)
{
	struct json_object *arr = result;

	*items = NULL;
	*n = 0;
	if (json_object_is_type(result, json_type_object))
		arr = lp_member(result, key, json_type_array);
	if (arr && json_object_is_type(arr, json_type_array))
		return decode_list(arr, size, decode, clear, items, n, err);
	return lp_bad_reply(err, what);
}

/* Mappings. */

int
pasid_parse_mapping(struct json_object *result, struct pasid_mapping *out, struct pasid_error *err)
{
	int type = 0;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(result, json_type_object))
		return lp_bad_reply(err, "mapping is not an object");
	if (lp_get_u32(result, "gpasid", &out->gpasid, err) < 0 ||
	    lp_get_u32(result, "hpasid", &out->hpasid, err) < 0 ||
	    get_choice(result, "type", type_name, PASID_TYPE_SHARED, PASID_TYPE_LOCAL, &type, err) <
	        0 ||
	    get_str(result, "device", false, out->device, sizeof(out->device), err) < 0 ||
	    get_str(result, "vm", false, out->vm, sizeof(out->vm), err) < 0)
		return -EPROTO;
	out->type = (enum pasid_type)type;
	lp_clear_error(err);
	return 0;
}

static int
mapping_into(struct json_object *o, void *m, struct pasid_error *err)
{
	return pasid_parse_mapping(o, m, err);
}

int
pasid_parse_mappings(struct json_object *result, struct pasid_mapping **maps, size_t *n,
                     struct pasid_error *err)
{
	void *items;
	int rc = decode_listing(result, "mappings", "expected a list of mappings", sizeof(**maps),
	                        mapping_into, NULL, &items, n, err);

	*maps = items;
	return rc;
}

void
pasid_mappings_free(struct pasid_mapping *maps)
{
	free(maps);
}

/* Attachments: the "attached" member of a mapping, in structures of their own, since struct
 * pasid_mapping has no room for them that would not change its size. */

static int
attachment_into(struct json_object *o, void *item, struct pasid_error *err)
{
	struct pasid_attachment *a = item;
	struct json_object *lost;

	memset(a, 0, sizeof(*a));
	if (!json_object_is_type(o, json_type_object))
		return lp_bad_reply(err, "attachment is not an object");
	if (get_str(o, "device", true, a->device, sizeof(a->device), err) < 0 ||
	    lp_get_u32(o, "pt_id", &a->pt_id, err) < 0 ||
	    lp_get_u32(o, "dev_id", &a->dev_id, err) < 0)
		return -EPROTO;
	if (json_object_object_get_ex(o, "lost", &lost)) {
		if (!json_object_is_type(lost, json_type_boolean))
			return lp_bad_reply(err, "lost");
		a->lost = json_object_get_boolean(lost);
	}
	return 0;
}

int
pasid_parse_attachments(struct json_object *mapping, struct pasid_attachment **atts, size_t *n,
                        struct pasid_error *err)
{
	struct json_object *v;
	void *items = NULL;
	int rc = 0;

	*atts = NULL;
	*n = 0;
	if (!json_object_is_type(mapping, json_type_object))
		return lp_bad_reply(err, "mapping is not an object");
	/* Absent: attached nowhere. */
	if (!json_object_object_get_ex(mapping, "attached", &v)) {
		lp_clear_error(err);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return lp_bad_reply(err, "attached");
	rc = decode_list(v, sizeof(**atts), attachment_into, NULL, &items, n, err);
	*atts = items;
	return rc;
}

void
pasid_attachments_free(struct pasid_attachment *atts)
{
	free(atts);
}

/* Devices and VMs. */

int
pasid_parse_device(struct json_object *result, struct pasid_device *out, struct pasid_error *err)
{
	struct json_object *shared;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(result, json_type_object))
		return lp_bad_reply(err, "device is not an object");
	if (get_str(result, "device", true, out->device, sizeof(out->device), err) < 0)
		return -EPROTO;
	shared = lp_member(result, "shared", json_type_boolean);
	if (!shared)
		return lp_bad_reply(err, "shared");
	out->shared = json_object_get_boolean(shared);
	lp_clear_error(err);
	return 0;
}

static int
device_into(struct json_object *o, void *d, struct pasid_error *err)
{
	return pasid_parse_device(o, d, err);
}

static void
vm_clear(void *item)
{
	struct pasid_vm *vm = item;

	free(vm->cgroup);
	free(vm->devices);
	free(vm->mappings);
	memset(vm, 0, sizeof(*vm));
}

/* The optional array member key of o, decoded into *items and *n when present. */
static int
optional_list(struct json_object *o, const char *key, size_t size, decode_fn decode, void **items,
              size_t *n, struct pasid_error *err)
{
	struct json_object *v = lp_member(o, key, json_type_array);

	if (v)
		return decode_list(v, size, decode, NULL, items, n, err);
	if (json_object_object_get_ex(o, key, NULL))
		return lp_bad_reply(err, key);
	return 0;
}

static int
vm_into(struct json_object *o, void *item, struct pasid_error *err)
{
	struct pasid_vm *vm = item;
	void *devices = NULL, *mappings = NULL;
	uint64_t pid = 0, pasids = 0;
	int mode = 0, rc;

	memset(vm, 0, sizeof(*vm));
	if (!json_object_is_type(o, json_type_object))
		return lp_bad_reply(err, "VM is not an object");
	if (get_str(o, "vm", true, vm->vm, sizeof(vm->vm), err) < 0 ||
	    get_str(o, "uuid", true, vm->uuid, sizeof(vm->uuid), err) < 0 ||
	    get_choice(o, "mode", mode_name, PASID_MODE_TRANSLATED, PASID_MODE_IDENTITY, &mode,
	               err) < 0 ||
	    get_u64(o, "pid", INT32_MAX, &pid, err) < 0)
		return -EPROTO;
	vm->pid = (pid_t)pid;
	vm->mode = (enum pasid_mode)mode;
	rc = get_strdup(o, "cgroup", false, &vm->cgroup, err);
	if (rc == 0)
		rc = optional_list(o, "devices", sizeof(*vm->devices), device_into, &devices,
		                   &vm->n_devices, err);
	vm->devices = devices;
	if (rc == 0)
		rc = optional_list(o, "mappings", sizeof(*vm->mappings), mapping_into, &mappings,
		                   &vm->n_mappings, err);
	vm->mappings = mappings;
	/* vm.register says nothing of the count: it is that of the mappings, none. */
	vm->pasids = (uint32_t)vm->n_mappings;
	if (rc == 0 && json_object_object_get_ex(o, "pasids", NULL)) {
		rc = get_u64(o, "pasids", UINT32_MAX, &pasids, err);
		vm->pasids = (uint32_t)pasids;
	}
	if (rc < 0)
		vm_clear(vm);
	return rc;
}

int
pasid_parse_vm(struct json_object *result, struct pasid_vm **out, struct pasid_error *err)
{
	void *vm;
	int rc = decode_new(result, sizeof(**out), vm_into, &vm, err);

	*out = vm;
	return rc;
}

int
pasid_parse_vms(struct json_object *result, struct pasid_vm **vms, size_t *n,
                struct pasid_error *err)
{
	void *items;
	int rc = decode_listing(result, "vms", "expected a list of VMs", sizeof(**vms), vm_into,
	                        vm_clear, &items, n, err);

	*vms = items;
	return rc;
}

void
pasid_vm_free(struct pasid_vm *vm)
{
	free_list(vm, 1, sizeof(*vm), vm_clear);
}

void
pasid_vm_list_free(struct pasid_vm *vms, size_t n)
{
	free_list(vms, n, sizeof(*vms), vm_clear);
}

/* The daemon's status. */

static int
get_range(struct json_object *ranges, const char *key, struct pasid_range *r,
          struct pasid_error *err)
{
	struct json_object *a = lp_member(ranges, key, json_type_array);
	struct json_object *lo, *hi;

	if (!a || json_object_array_length(a) != 2)
		return lp_bad_reply(err, key);
	lo = json_object_array_get_idx(a, 0);
	hi = json_object_array_get_idx(a, 1);
	if (!json_object_is_type(lo, json_type_int) || !json_object_is_type(hi, json_type_int) ||
	    json_object_get_int64(lo) < 0 || json_object_get_int64(lo) > UINT32_MAX ||
	    json_object_get_int64(hi) < 0 || json_object_get_int64(hi) > UINT32_MAX)
		return lp_bad_reply(err, key);
	r->first = (uint32_t)json_object_get_int64(lo);
	r->last = (uint32_t)json_object_get_int64(hi);
	return 0;
}

static void
status_clear(void *item)
{
	struct pasid_status *st = item;

	for (size_t i = 0; i < st->n_caps; i++)
		free(st->caps[i]);
	free(st->caps);
	memset(st, 0, sizeof(*st));
}

/* The backend's capabilities, a NULL-terminated array of strings. */
static int
get_caps(struct json_object *backend, struct pasid_status *st, struct pasid_error *err)
{
	struct json_object *caps = lp_member(backend, "caps", json_type_array);

	if (!caps)
		return lp_bad_reply(err, "caps");
	st->caps = calloc(json_object_array_length(caps) + 1, sizeof(char *));
	if (!st->caps)
		return lp_nomem(err);
	for (size_t i = 0; i < json_object_array_length(caps); i++) {
		struct json_object *cap = json_object_array_get_idx(caps, i);

		if (!json_object_is_type(cap, json_type_string))
			return lp_bad_reply(err, "caps");
		st->caps[i] = strdup(json_object_get_string(cap));
		if (!st->caps[i])
			return lp_nomem(err);
		st->n_caps++;
	}
	return 0;
}

static int
status_into(struct json_object *o, void *item, struct pasid_error *err)
{
	struct pasid_status *st = item;
	struct json_object *backend, *ranges, *used, *fr;
	uint64_t bits = 0;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return lp_bad_reply(err, "status is not an object");
	backend = lp_member(o, "backend", json_type_object);
	ranges = lp_member(o, "ranges", json_type_object);
	used = lp_member(o, "used", json_type_object);
	fr = lp_member(o, "free", json_type_object);
	if (!backend || !ranges || !used || !fr)
		return lp_bad_reply(err, !backend  ? "backend"
		                         : !ranges ? "ranges"
		                         : !used   ? "used"
		                                   : "free");
	if (get_str(o, "version", true, st->version, sizeof(st->version), err) < 0 ||
	    get_u64(o, "uptime_s", UINT64_MAX, &st->uptime_s, err) < 0 ||
	    get_str(backend, "name", true, st->backend, sizeof(st->backend), err) < 0 ||
	    get_u64(backend, "pasid_bits", 32, &bits, err) < 0 ||
	    get_range(ranges, "local", &st->local, err) < 0 ||
	    get_range(ranges, "shared", &st->shared, err) < 0 ||
	    get_u64(used, "local", UINT64_MAX, &st->used_local, err) < 0 ||
	    get_u64(used, "shared", UINT64_MAX, &st->used_shared, err) < 0 ||
	    get_u64(fr, "shared", UINT64_MAX, &st->free_shared, err) < 0 ||
	    get_u64(o, "vms", UINT64_MAX, &st->vms, err) < 0 ||
	    get_u64(o, "connections", UINT64_MAX, &st->connections, err) < 0)
		return -EPROTO;
	st->pasid_bits = (unsigned)bits;
	rc = get_caps(backend, st, err);
	if (rc < 0)
		status_clear(st);
	return rc;
}

int
pasid_parse_status(struct json_object *result, struct pasid_status **out, struct pasid_error *err)
{
	void *st;
	int rc = decode_new(result, sizeof(**out), status_into, &st, err);

	*out = st;
	return rc;
}

void
pasid_status_free(struct pasid_status *st)
{
	free_list(st, 1, sizeof(*st), status_clear);
}

/* Quotas. */

static void
quota_clear(void *item)
{
	struct pasid_quota *q = item;

	free(q->cgroup);
	q->cgroup = NULL;
}

static int
quota_into(struct json_object *o, void *item, struct pasid_error *err)
{
	struct pasid_quota *q = item;
	struct json_object *max;

	memset(q, 0, sizeof(*q));
	if (!json_object_is_type(o, json_type_object))
		return lp_bad_reply(err, "quota is not an object");
	if (!json_object_object_get_ex(o, "max", &max))
		return lp_bad_reply(err, "max");
	if (json_object_is_type(max, json_type_string) &&
	    strcmp(json_object_get_string(max), "max") == 0)
		q->max = PASID_QUOTA_NO_LIMIT;
	else if (get_u64(o, "max", INT64_MAX, &q->max, err) < 0)
		return -EPROTO;
	if (get_u64(o, "current", UINT64_MAX, &q->current, err) < 0)
		return -EPROTO;
	if (json_object_object_get_ex(o, "denied", NULL) &&
	    get_u64(o, "denied", UINT64_MAX, &q->denied, err) < 0)
		return -EPROTO;
	return get_strdup(o, "cgroup", true, &q->cgroup, err);
}

int
pasid_parse_quotas(struct json_object *result, struct pasid_quota **quotas, size_t *n,
                   struct pasid_error *err)
{
	void *items = NULL;
	int rc;

	*n = 0;
	if (!json_object_is_type(result, json_type_object) &&
	    !json_object_is_type(result, json_type_array))
		rc = lp_bad_reply(err, "expected a list of quotas");
	else
		rc = decode_list(result, sizeof(**quotas), quota_into, quota_clear, &items, n, err);
	*quotas = items;
	return rc;
}

void
pasid_quotas_free(struct pasid_quota *quotas, size_t n)
{
	free_list(quotas, n, sizeof(*quotas), quota_clear);
}

/* Work queues. */

const char *
pasid_wq_mode_name(enum pasid_wq_mode mode)
{
	switch (mode) {
	case PASID_WQ_MODE_SHARED:
		return "shared";
	case PASID_WQ_MODE_DEDICATED:
		return "dedicated";
	default:
		return NULL;
	}
}

const char *
pasid_wq_type_name(enum pasid_wq_type type)
{
	switch (type) {
	case PASID_WQ_TYPE_NONE:
		return "none";
	case PASID_WQ_TYPE_USER:
		return "user";
	case PASID_WQ_TYPE_KERNEL:
		return "kernel";
	default:
		return NULL;
	}
}

const char *
pasid_wq_state_name(enum pasid_wq_state state)
{
	switch (state) {
	case PASID_WQ_STATE_UNKNOWN:
		return "unknown";
	case PASID_WQ_STATE_ENABLED:
		return "enabled";
	case PASID_WQ_STATE_DISABLED:
		return "disabled";
	case PASID_WQ_STATE_MISSING:
		return "missing";
	default:
		return NULL;
	}
}

static const char *
wq_mode_name(int mode)
{
	return pasid_wq_mode_name((enum pasid_wq_mode)mode);
}

static const char *
wq_type_name(int type)
{
	return pasid_wq_type_name((enum pasid_wq_type)type);
}

static const char *
wq_state_name(int state)
{
	return pasid_wq_state_name((enum pasid_wq_state)state);
}

/* An entry that is not all there (an unreadable or missing WQ) may leave out any member but a
 * few; one that is there must be of its type all the same: a string where a number belongs is
 * a malformed answer, never a 0. */
static bool
absent_ok(struct json_object *o, const char *key, bool required)
{
	return !required && !json_object_object_get_ex(o, key, NULL);
}

static int
wq_u32(struct json_object *o, const char *key, bool required, uint32_t *out,
       struct pasid_error *err)
{
	return absent_ok(o, key, required) ? 0 : lp_get_u32(o, key, out, err);
}

static int
wq_bool(struct json_object *o, const char *key, bool required, bool *out, struct pasid_error *err)
{
	struct json_object *v;

	if (absent_ok(o, key, required))
		return 0;
	v = lp_member(o, key, json_type_boolean);
	if (!v)
		return lp_bad_reply(err, key);
	*out = json_object_get_boolean(v);
	return 0;
}

static int
wq_choice(struct json_object *o, const char *key, bool required, const char *(*name)(int),
          int first, int last, int *out, struct pasid_error *err)
{
	return absent_ok(o, key, required) ? 0 : get_choice(o, key, name, first, last, out, err);
}

/* group_id: -1 for none, else a group's number. */
static int
wq_group(struct json_object *o, bool required, int32_t *out, struct pasid_error *err)
{
	struct json_object *v;
	int64_t g;

	if (absent_ok(o, "group_id", required))
		return 0;
	v = lp_member(o, "group_id", json_type_int);
	if (!v)
		return lp_bad_reply(err, "group_id");
	g = json_object_get_int64(v);
	if (g < -1 || g > INT32_MAX)
		return lp_bad_reply(err, "group_id");
	*out = (int32_t)g;
	return 0;
}

/* char_device: a path, or null for a WQ without one. */
static int
wq_char_device(struct json_object *o, bool required, struct pasid_wq *wq, struct pasid_error *err)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, "char_device", &v) && !v)
		return 0;
	return get_str(o, "char_device", required, wq->char_device, sizeof(wq->char_device), err);
}

static int
wq_vm_into(struct json_object *o, void *item, struct pasid_error *err)
{
	struct pasid_wq_vm *v = item;

	memset(v, 0, sizeof(*v));
	if (!json_object_is_type(o, json_type_object))
		return lp_bad_reply(err, "vms entry is not an object");
	if (get_str(o, "vm", true, v->vm, sizeof(v->vm), err) < 0 ||
	    lp_get_u32(o, "pasids", &v->pasids, err) < 0)
		return -EPROTO;
	return 0;
}

static void
wq_clear(void *item)
{
	struct pasid_wq *wq = item;

	free(wq->label);
	free(wq->vms);
	free(wq->error);
	memset(wq, 0, sizeof(*wq));
}

/* The members that describe the WQ as the kernel has it: all required of one that was read,
 * any of them left out by an unreadable or missing one. */
static int
wq_sysfs_into(struct json_object *o, bool all, struct pasid_wq *wq, struct pasid_error *err)
{
	int mode = 0, type = 0;

	if (get_str(o, "device", all, wq->device, sizeof(wq->device), err) < 0 ||
	    get_str(o, "kind", all, wq->kind, sizeof(wq->kind), err) < 0 ||
	    get_str(o, "bdf", all, wq->bdf, sizeof(wq->bdf), err) < 0 ||
	    wq_choice(o, "mode", all, wq_mode_name, PASID_WQ_MODE_SHARED, PASID_WQ_MODE_DEDICATED,
	              &mode, err) < 0 ||
	    wq_choice(o, "type", all, wq_type_name, PASID_WQ_TYPE_NONE, PASID_WQ_TYPE_KERNEL, &type,
	              err) < 0 ||
	    wq_u32(o, "size", all, &wq->size, err) < 0 ||
	    wq_u32(o, "priority", all, &wq->priority, err) < 0 ||
	    wq_u32(o, "threshold", all, &wq->threshold, err) < 0 ||
	    wq_group(o, all, &wq->group_id, err) < 0 ||
	    wq_bool(o, "block_on_fault", all, &wq->block_on_fault, err) < 0 ||
	    get_str(o, "driver_name", all, wq->driver_name, sizeof(wq->driver_name), err) < 0 ||
	    wq_u32(o, "clients", all, &wq->clients, err) < 0 ||
	    wq_char_device(o, all, wq, err) < 0 ||
	    wq_bool(o, "pasid_enabled", all, &wq->pasid_enabled, err) < 0 ||
	    get_str(o, "device_state", all, wq->device_state, sizeof(wq->device_state), err) < 0)
		return -EPROTO;
	wq->mode = (enum pasid_wq_mode)mode;
	wq->type = (enum pasid_wq_type)type;
	return 0;
}

static int
wq_into(struct json_object *o, void *item, struct pasid_error *err)
{
	struct pasid_wq *wq = item;
	void *vms = NULL;
	bool unreadable, all;
	int state = 0, rc;

	memset(wq, 0, sizeof(*wq));
	wq->group_id = -1;
	if (!json_object_is_type(o, json_type_object))
		return lp_bad_reply(err, "WQ is not an object");
	unreadable = json_object_object_get_ex(o, "error", NULL);
	if (get_str(o, "wq", true, wq->wq, sizeof(wq->wq), err) < 0 ||
	    wq_choice(o, "state", !unreadable, wq_state_name, PASID_WQ_STATE_UNKNOWN,
	              PASID_WQ_STATE_MISSING, &state, err) < 0 ||
	    wq_u32(o, "pasids", !unreadable, &wq->pasids, err) < 0)
		return -EPROTO;
	wq->state = (enum pasid_wq_state)state;
	all = !unreadable && wq->state != PASID_WQ_STATE_MISSING;
	if (wq_sysfs_into(o, all, wq, err) < 0) {
		wq_clear(wq);
		return -EPROTO;
	}
	if (unreadable) {
		rc = get_strdup(o, "error", true, &wq->error, err);
		if (rc < 0) {
			wq_clear(wq);
			return rc;
		}
	}
	rc = get_strdup(o, "label", all, &wq->label, err);
	if (rc == 0)
		rc = optional_list(o, "vms", sizeof(*wq->vms), wq_vm_into, &vms, &wq->n_vms, err);
	wq->vms = vms;
	if (rc < 0)
		wq_clear(wq);
	return rc;
}

int
pasid_parse_wqs(struct json_object *result, struct pasid_wq **wqs, size_t *n,
                struct pasid_error *err)
{
	void *items = NULL;
	int rc;

	*n = 0;
	if (!json_object_is_type(result, json_type_object) &&
	    !json_object_is_type(result, json_type_array))
		rc = lp_bad_reply(err, "expected a list of WQs");
	else
		rc = decode_list(result, sizeof(**wqs), wq_into, wq_clear, &items, n, err);
	*wqs = items;
	return rc;
}

void
pasid_wqs_free(struct pasid_wq *wqs, size_t n)
{
	free_list(wqs, n, sizeof(*wqs), wq_clear);
}

int
pasid_parse_mapping_wq(struct json_object *mapping, char *wq, size_t len, struct pasid_error *err)
{
	struct json_object *v;

	if (len)
		wq[0] = '\0';
	if (!json_object_is_type(mapping, json_type_object))
		return lp_bad_reply(err, "mapping is not an object");
	/* Absent: allocated against no WQ. */
	if (!json_object_object_get_ex(mapping, "wq", &v)) {
		lp_clear_error(err);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return lp_bad_reply(err, "wq");
	if ((size_t)json_object_get_string_len(v) >= len)
		return lp_fail(err, -ERANGE, "WQ name '%s' does not fit in %zu bytes",
		               json_object_get_string(v), len);
	memcpy(wq, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	lp_clear_error(err);
	return 0;
}

/* Reservations. */

static void
reservation_clear(void *item)
{
	struct pasid_reservation *r = item;

	free(r->why);
	r->why = NULL;
}

static int
reservation_into(struct json_object *o, void *item, struct pasid_error *err)
{
	struct pasid_reservation *r = item;
	struct json_object *by, *src;
	uint64_t v = 0;

	memset(r, 0, sizeof(*r));
	r->expires_s = -1;
	if (!json_object_is_type(o, json_type_object))
		return lp_bad_reply(err, "reservation is not an object");
	if (lp_get_u32(o, "first", &r->first, err) < 0 ||
	    lp_get_u32(o, "last", &r->last, err) < 0 || lp_get_u32(o, "used", &r->used, err) < 0 ||
	    get_str(o, "name", true, r->name, sizeof(r->name), err) < 0)
		return -EPROTO;
	if (!(src = lp_member(o, "source", json_type_string)))
		return lp_bad_reply(err, "source");
	r->config = !strcmp(json_object_get_string(src), "config");
	if (json_object_object_get_ex(o, "expires", NULL)) {
		if (get_u64(o, "expires", INT64_MAX, &v, err) < 0)
			return -EPROTO;
		r->expires_s = (int64_t)v;
	}
	if ((by = lp_member(o, "by", json_type_object))) {
		if (lp_get_u32(by, "uid", &r->by_uid, err) < 0 ||
		    get_u64(by, "pid", INT32_MAX, &v, err) < 0)
			return -EPROTO;
		r->by_pid = (int32_t)v;
		r->has_by = true;
	}
	return get_strdup(o, "why", false, &r->why, err);
}

int
pasid_parse_reservations(struct json_object *result, struct pasid_reservation **out, size_t *n,
                         struct pasid_error *err)
{
	void *items = NULL;
	int rc;

	*n = 0;
	if (!json_object_is_type(result, json_type_object) &&
	    !json_object_is_type(result, json_type_array))
		rc = lp_bad_reply(err, "expected a list of reservations");
	else
		rc = decode_list(result, sizeof(**out), reservation_into, reservation_clear, &items,
		                 n, err);
	*out = items;
	return rc;
}

void
pasid_reservations_free(struct pasid_reservation *r, size_t n)
{
	free_list(r, n, sizeof(*r), reservation_clear);
}
