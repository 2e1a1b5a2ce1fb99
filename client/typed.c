/* libpasid: typed calls for the v1 methods and the decoders of their results. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Decoding. Each helper reports the member it could not read, once, as -EPROTO. */

static int
bad(struct pasid_error *err, const char *what)
{
	return lp_fail(err, -EPROTO, "malformed reply from pasidd: %s", what);
}

static struct json_object *
member(struct json_object *obj, const char *key, enum json_type type)
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
	struct json_object *v = member(obj, key, json_type_int);
	int64_t n;

	if (!v)
		return bad(err, key);
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return bad(err, key);
	*out = (uint64_t)n;
	return 0;
}

static int
get_u32(struct json_object *obj, const char *key, uint32_t *out, struct pasid_error *err)
{
	uint64_t n;
	int rc = get_u64(obj, key, UINT32_MAX, &n, err);

	if (rc == 0)
		*out = (uint32_t)n;
	return rc;
}

static int
get_str(struct json_object *obj, const char *key, bool required, char *buf, size_t size,
        struct pasid_error *err)
{
	struct json_object *v = member(obj, key, json_type_string);

	if (!v) {
		if (required || json_object_object_get_ex(obj, key, NULL))
			return bad(err, key);
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)json_object_get_string_len(v) >= size)
		return bad(err, key);
	memcpy(buf, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	return 0;
}

static int
get_type(struct json_object *obj, enum pasid_type *out, struct pasid_error *err)
{
	char s[16];

	if (get_str(obj, "type", true, s, sizeof(s), err) < 0)
		return -EPROTO;
	if (strcmp(s, "shared") == 0)
		*out = PASID_TYPE_SHARED;
	else if (strcmp(s, "local") == 0)
		*out = PASID_TYPE_LOCAL;
	else
		return bad(err, "type");
	return 0;
}

int
pasid_parse_mapping(struct json_object *result, struct pasid_mapping *out, struct pasid_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(result, json_type_object))
		return bad(err, "mapping is not an object");
	if (get_u32(result, "gpasid", &out->gpasid, err) < 0 ||
	    get_u32(result, "hpasid", &out->hpasid, err) < 0 ||
	    get_type(result, &out->type, err) < 0 ||
	    get_str(result, "device", false, out->device, sizeof(out->device), err) < 0 ||
	    get_str(result, "vm", false, out->vm, sizeof(out->vm), err) < 0)
		return -EPROTO;
	lp_clear_error(err);
	return 0;
}

static int
parse_mapping_array(struct json_object *arr, struct pasid_mapping **maps, size_t *n,
                    struct pasid_error *err)
{
	size_t len = json_object_array_length(arr);
	struct pasid_mapping *m = calloc(len ? len : 1, sizeof(*m));

	if (!m)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	for (size_t i = 0; i < len; i++) {
		if (pasid_parse_mapping(json_object_array_get_idx(arr, i), &m[i], err) < 0) {
			free(m);
			return -EPROTO;
		}
	}
	*maps = m;
	*n = len;
	return 0;
}

int
pasid_parse_mappings(struct json_object *result, struct pasid_mapping **maps, size_t *n,
                     struct pasid_error *err)
{
	struct json_object *arr = result;
	int rc;

	*maps = NULL;
	*n = 0;
	if (json_object_is_type(result, json_type_object))
		arr = member(result, "mappings", json_type_array);
	if (!arr || !json_object_is_type(arr, json_type_array))
		return bad(err, "expected a list of mappings");
	rc = parse_mapping_array(arr, maps, n, err);
	if (rc < 0)
		return rc;
	lp_clear_error(err);
	return 0;
}

int
pasid_parse_device(struct json_object *result, struct pasid_device *out, struct pasid_error *err)
{
	struct json_object *shared;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(result, json_type_object))
		return bad(err, "device is not an object");
	if (get_str(result, "device", true, out->device, sizeof(out->device), err) < 0)
		return -EPROTO;
	shared = member(result, "shared", json_type_boolean);
	if (!shared)
		return bad(err, "shared");
	out->shared = json_object_get_boolean(shared);
	lp_clear_error(err);
	return 0;
}

void
pasid_mappings_free(struct pasid_mapping *maps)
{
	free(maps);
}

static void
vm_clear(struct pasid_vm *vm)
{
	free(vm->cgroup);
	free(vm->devices);
	free(vm->mappings);
	memset(vm, 0, sizeof(*vm));
}

/* Fills a caller-provided pasid_vm; on failure it holds nothing to free. */
static int
parse_vm_into(struct json_object *o, struct pasid_vm *vm, struct pasid_error *err)
{
	struct json_object *v;
	char mode[16];
	uint64_t pid = 0, pasids;
	int rc = -EPROTO;

	memset(vm, 0, sizeof(*vm));
	if (!json_object_is_type(o, json_type_object))
		return bad(err, "VM is not an object");
	if (get_str(o, "vm", true, vm->vm, sizeof(vm->vm), err) < 0 ||
	    get_str(o, "uuid", true, vm->uuid, sizeof(vm->uuid), err) < 0 ||
	    get_str(o, "mode", true, mode, sizeof(mode), err) < 0 ||
	    get_u64(o, "pid", INT32_MAX, &pid, err) < 0)
		return -EPROTO;
	vm->pid = (pid_t)pid;
	if (strcmp(mode, "translated") == 0)
		vm->mode = PASID_MODE_TRANSLATED;
	else if (strcmp(mode, "identity") == 0)
		vm->mode = PASID_MODE_IDENTITY;
	else
		return bad(err, "mode");
	v = member(o, "cgroup", json_type_string);
	if (!v && json_object_object_get_ex(o, "cgroup", NULL))
		return bad(err, "cgroup");
	vm->cgroup = strdup(v ? json_object_get_string(v) : "");
	if (!vm->cgroup)
		goto nomem;
	if ((v = member(o, "devices", json_type_array))) {
		vm->n_devices = json_object_array_length(v);
		vm->devices = calloc(vm->n_devices ? vm->n_devices : 1, sizeof(*vm->devices));
		if (!vm->devices)
			goto nomem;
		for (size_t i = 0; i < vm->n_devices; i++) {
			if (pasid_parse_device(json_object_array_get_idx(v, i), &vm->devices[i],
			                       err) < 0)
				goto fail;
		}
	} else if (json_object_object_get_ex(o, "devices", NULL)) {
		bad(err, "devices");
		goto fail;
	}
	if ((v = member(o, "mappings", json_type_array))) {
		rc = parse_mapping_array(v, &vm->mappings, &vm->n_mappings, err);
		if (rc < 0)
			goto fail;
		rc = -EPROTO;
	} else if (json_object_object_get_ex(o, "mappings", NULL)) {
		bad(err, "mappings");
		goto fail;
	}
	if (json_object_object_get_ex(o, "pasids", NULL)) {
		if (get_u64(o, "pasids", UINT32_MAX, &pasids, err) < 0)
			goto fail;
		vm->pasids = (uint32_t)pasids;
	} else {
		vm->pasids = (uint32_t)vm->n_mappings;
	}
	return 0;
nomem:
	rc = lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
fail:
	vm_clear(vm);
	return rc;
}

int
pasid_parse_vm(struct json_object *result, struct pasid_vm **out, struct pasid_error *err)
{
	struct pasid_vm *vm = calloc(1, sizeof(*vm));
	int rc;

	*out = NULL;
	if (!vm)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	rc = parse_vm_into(result, vm, err);
	if (rc < 0) {
		free(vm);
		return rc;
	}
	*out = vm;
	lp_clear_error(err);
	return 0;
}

int
pasid_parse_vms(struct json_object *result, struct pasid_vm **vms, size_t *n,
                struct pasid_error *err)
{
	struct pasid_vm *v;
	size_t len;

	*vms = NULL;
	*n = 0;
	if (json_object_is_type(result, json_type_object))
		result = member(result, "vms", json_type_array);
	if (!result || !json_object_is_type(result, json_type_array))
		return bad(err, "expected a list of VMs");
	len = json_object_array_length(result);
	v = calloc(len ? len : 1, sizeof(*v));
	if (!v)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	for (size_t i = 0; i < len; i++) {
		int rc = parse_vm_into(json_object_array_get_idx(result, i), &v[i], err);

		if (rc < 0) {
			pasid_vm_list_free(v, i);
			return rc;
		}
	}
	*vms = v;
	*n = len;
	lp_clear_error(err);
	return 0;
}

void
pasid_vm_free(struct pasid_vm *vm)
{
	if (!vm)
		return;
	vm_clear(vm);
	free(vm);
}

void
pasid_vm_list_free(struct pasid_vm *vms, size_t n)
{
	if (!vms)
		return;
	for (size_t i = 0; i < n; i++)
		vm_clear(&vms[i]);
	free(vms);
}

static int
get_range(struct json_object *ranges, const char *key, struct pasid_range *r,
          struct pasid_error *err)
{
	struct json_object *a = member(ranges, key, json_type_array);
	struct json_object *lo, *hi;

	if (!a || json_object_array_length(a) != 2)
		return bad(err, key);
	lo = json_object_array_get_idx(a, 0);
	hi = json_object_array_get_idx(a, 1);
	if (!json_object_is_type(lo, json_type_int) || !json_object_is_type(hi, json_type_int) ||
	    json_object_get_int64(lo) < 0 || json_object_get_int64(lo) > UINT32_MAX ||
	    json_object_get_int64(hi) < 0 || json_object_get_int64(hi) > UINT32_MAX)
		return bad(err, key);
	r->first = (uint32_t)json_object_get_int64(lo);
	r->last = (uint32_t)json_object_get_int64(hi);
	return 0;
}

static int
parse_status_into(struct json_object *o, struct pasid_status *st, struct pasid_error *err)
{
	struct json_object *backend, *caps, *ranges, *used, *fr;
	uint64_t bits;

	if (!json_object_is_type(o, json_type_object))
		return bad(err, "status is not an object");
	backend = member(o, "backend", json_type_object);
	ranges = member(o, "ranges", json_type_object);
	used = member(o, "used", json_type_object);
	fr = member(o, "free", json_type_object);
	if (!backend || !ranges || !used || !fr)
		return bad(err, !backend  ? "backend"
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
	caps = member(backend, "caps", json_type_array);
	if (!caps)
		return bad(err, "caps");
	st->caps = calloc(json_object_array_length(caps) + 1, sizeof(char *));
	if (!st->caps)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	for (size_t i = 0; i < json_object_array_length(caps); i++) {
		struct json_object *cap = json_object_array_get_idx(caps, i);

		if (!json_object_is_type(cap, json_type_string))
			return bad(err, "caps");
		st->caps[i] = strdup(json_object_get_string(cap));
		if (!st->caps[i])
			return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
		st->n_caps++;
	}
	return 0;
}

int
pasid_parse_status(struct json_object *result, struct pasid_status **out, struct pasid_error *err)
{
	struct pasid_status *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (!st)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	rc = parse_status_into(result, st, err);
	if (rc < 0) {
		pasid_status_free(st);
		return rc;
	}
	*out = st;
	lp_clear_error(err);
	return 0;
}

void
pasid_status_free(struct pasid_status *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_caps; i++)
		free(st->caps[i]);
	free(st->caps);
	free(st);
}

/* Calls. Parameters are built here and put after the call. */

/* For methods with parameters: a NULL params is a failed allocation. */
static int
call(struct pasid_client *c, const char *method, struct json_object *params,
     struct json_object **result, struct pasid_error *err)
{
	int rc;

	if (!params) {
		lp_forget_error(c);
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	}
	rc = pasid_call(c, method, params, result, err);
	json_object_put(params);
	return rc;
}

static struct json_object *
params_new(void)
{
	return json_object_new_object();
}

static void
add_str(struct json_object *p, const char *key, const char *val)
{
	if (p && val)
		json_object_object_add(p, key, json_object_new_string(val));
}

static void
add_int(struct json_object *p, const char *key, int64_t val)
{
	if (p)
		json_object_object_add(p, key, json_object_new_int64(val));
}

static struct json_object *
vm_params(const char *vm)
{
	struct json_object *p = params_new();

	add_str(p, "vm", vm);
	return p;
}

int
pasid_call_pages(struct pasid_client *c, const char *method, struct json_object *params,
                 const char *member_name, struct json_object **result, struct pasid_error *err)
{
	struct json_object *first = NULL, *all = NULL, *page, *next, *copy = NULL;
	int rc;

	*result = NULL;
	/* The caller's params stay as they were: the walk adds "after" to a copy. */
	if (params && json_object_deep_copy(params, &copy, NULL) < 0)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	params = copy;
	for (;;) {
		rc = pasid_call(c, method, params, &page, err);
		if (rc < 0)
			break;
		next = member(page, "next", json_type_string);
		if (!first) {
			first = page;
			all = member(first, member_name, json_type_array);
			if (!all) {
				rc = bad(err, member_name);
				break;
			}
		} else {
			struct json_object *more = member(page, member_name, json_type_array);

			if (!more) {
				json_object_put(page);
				rc = bad(err, member_name);
				break;
			}
			for (size_t i = 0; i < json_object_array_length(more); i++)
				json_object_array_add(
				    all, json_object_get(json_object_array_get_idx(more, i)));
		}
		if (!next) {
			if (page != first)
				json_object_put(page);
			json_object_object_del(first, "next");
			*result = first;
			json_object_put(params);
			return 0;
		}
		if (!params && !(params = params_new())) {
			rc = lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
			if (page != first)
				json_object_put(page);
			break;
		}
		json_object_object_add(params, "after", json_object_get(next));
		if (page != first)
			json_object_put(page);
	}
	json_object_put(first);
	json_object_put(params);
	return rc;
}

int
pasid_daemon_status(struct pasid_client *c, struct pasid_status **out, struct pasid_error *err)
{
	struct json_object *res;
	int rc;

	*out = NULL;
	rc = pasid_call(c, "daemon.status", NULL, &res, err);
	if (rc == 0) {
		rc = pasid_parse_status(res, out, err);
		json_object_put(res);
	}
	return rc;
}

int
pasid_vm_register(struct pasid_client *c, const char *vm, const char *uuid, enum pasid_mode mode,
                  pid_t pid, struct pasid_vm **out, struct pasid_error *err)
{
	struct json_object *p = vm_params(vm), *res;
	int rc;

	if (out)
		*out = NULL;
	add_str(p, "uuid", uuid);
	add_str(p, "mode", pasid_mode_name(mode));
	if (pid > 0)
		add_int(p, "pid", pid);
	rc = call(c, "vm.register", p, &res, err);
	if (rc == 0) {
		if (out)
			rc = pasid_parse_vm(res, out, err);
		json_object_put(res);
	}
	return rc;
}

int
pasid_vm_unregister(struct pasid_client *c, const char *vm, uint32_t *freed,
                    struct pasid_error *err)
{
	struct json_object *res;
	uint32_t n;
	int rc;

	rc = call(c, "vm.unregister", vm_params(vm), &res, err);
	if (rc == 0) {
		rc = get_u32(res, "freed", &n, err);
		if (rc == 0 && freed)
			*freed = n;
		json_object_put(res);
	}
	return rc;
}

int
pasid_vm_list(struct pasid_client *c, struct pasid_vm **vms, size_t *n, struct pasid_error *err)
{
	struct json_object *res;
	int rc;

	*vms = NULL;
	*n = 0;
	rc = pasid_call_pages(c, "vm.list", NULL, "vms", &res, err);
	if (rc == 0) {
		rc = pasid_parse_vms(res, vms, n, err);
		json_object_put(res);
	}
	return rc;
}

int
pasid_vm_show(struct pasid_client *c, const char *vm, struct pasid_vm **out,
              struct pasid_error *err)
{
	struct json_object *p = vm_params(vm), *res;
	int rc;

	*out = NULL;
	rc = p ? pasid_call_pages(c, "vm.show", p, "mappings", &res, err)
	       : lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	json_object_put(p);
	if (rc == 0) {
		rc = pasid_parse_vm(res, out, err);
		json_object_put(res);
	}
	return rc;
}

int
pasid_device_assign(struct pasid_client *c, const char *vm, const char *device, bool shared,
                    struct pasid_device *out, struct pasid_error *err)
{
	struct json_object *p = vm_params(vm), *res;
	int rc;

	add_str(p, "device", device);
	if (p)
		json_object_object_add(p, "shared", json_object_new_boolean(shared));
	rc = call(c, "device.assign", p, &res, err);
	if (rc == 0) {
		struct pasid_device d;

		rc = pasid_parse_device(res, &d, err);
		if (rc == 0 && out)
			*out = d;
		json_object_put(res);
	}
	return rc;
}

int
pasid_device_release(struct pasid_client *c, const char *vm, const char *device,
                     struct pasid_error *err)
{
	struct json_object *p = vm_params(vm);

	add_str(p, "device", device);
	return call(c, "device.release", p, NULL, err);
}

static struct json_object *
alloc_params(const char *vm, enum pasid_type type, const char *device, uint32_t gpasid)
{
	struct json_object *p = vm_params(vm);

	add_str(p, "type", pasid_type_name(type));
	add_str(p, "device", device);
	if (gpasid != PASID_ANY)
		add_int(p, "gpasid", gpasid);
	return p;
}

int
pasid_alloc(struct pasid_client *c, const char *vm, enum pasid_type type, const char *device,
            uint32_t gpasid, struct pasid_mapping *out, struct pasid_error *err)
{
	struct json_object *res;
	struct pasid_mapping m;
	int rc;

	rc = call(c, "pasid.alloc", alloc_params(vm, type, device, gpasid), &res, err);
	if (rc == 0) {
		rc = pasid_parse_mapping(res, &m, err);
		if (rc == 0 && out)
			*out = m;
		json_object_put(res);
	}
	return rc;
}

int
pasid_alloc_count(struct pasid_client *c, const char *vm, enum pasid_type type, const char *device,
                  uint32_t gpasid, uint32_t count, struct pasid_mapping **maps, size_t *n,
                  struct pasid_error *err)
{
	struct json_object *p = alloc_params(vm, type, device, gpasid), *res;
	int rc;

	*maps = NULL;
	*n = 0;
	add_int(p, "count", count);
	rc = call(c, "pasid.alloc", p, &res, err);
	if (rc == 0) {
		if (json_object_is_type(res, json_type_object))
			rc = pasid_parse_mappings(res, maps, n, err);
		else
			rc = bad(err, "expected {\"mappings\": [...]}");
		json_object_put(res);
	}
	return rc;
}

int
pasid_free(struct pasid_client *c, const char *vm, uint32_t gpasid, struct pasid_error *err)
{
	struct json_object *p = vm_params(vm);

	add_int(p, "gpasid", gpasid);
	return call(c, "pasid.free", p, NULL, err);
}

static int
lookup(struct pasid_client *c, struct json_object *p, struct pasid_mapping *out,
       struct pasid_error *err)
{
	struct json_object *res;
	struct pasid_mapping m;
	int rc;

	rc = call(c, "pasid.lookup", p, &res, err);
	if (rc == 0) {
		rc = pasid_parse_mapping(res, &m, err);
		if (rc == 0 && out)
			*out = m;
		json_object_put(res);
	}
	return rc;
}

int
pasid_lookup(struct pasid_client *c, const char *vm, uint32_t gpasid, struct pasid_mapping *out,
             struct pasid_error *err)
{
	struct json_object *p = vm_params(vm);

	add_int(p, "gpasid", gpasid);
	return lookup(c, p, out, err);
}

int
pasid_lookup_hpasid(struct pasid_client *c, uint32_t hpasid, const char *device,
                    struct pasid_mapping *out, struct pasid_error *err)
{
	struct json_object *p = params_new();

	add_int(p, "hpasid", hpasid);
	add_str(p, "device", device);
	return lookup(c, p, out, err);
}

int
pasid_list(struct pasid_client *c, const char *vm, enum pasid_type type,
           struct pasid_mapping **maps, size_t *n, struct pasid_error *err)
{
	struct json_object *p = vm_params(vm), *res;
	int rc;

	*maps = NULL;
	*n = 0;
	add_str(p, "type", pasid_type_name(type));
	rc = p ? pasid_call_pages(c, "pasid.list", p, "mappings", &res, err)
	       : lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	json_object_put(p);
	if (rc == 0) {
		rc = pasid_parse_mappings(res, maps, n, err);
		json_object_put(res);
	}
	return rc;
}

int
pasid_rpc_discover(struct pasid_client *c, struct json_object **doc, struct pasid_error *err)
{
	struct json_object *res;
	int rc;

	*doc = NULL;
	rc = pasid_call(c, "rpc.discover", NULL, &res, err);
	if (rc == 0) {
		if (json_object_is_type(res, json_type_object)) {
			*doc = res;
			return 0;
		}
		json_object_put(res);
		rc = bad(err, "OpenRPC document is not an object");
	}
	return rc;
}

/* Quotas. */

static int
parse_quota_into(struct json_object *o, struct pasid_quota *q, struct pasid_error *err)
{
	struct json_object *max;

	memset(q, 0, sizeof(*q));
	if (!json_object_is_type(o, json_type_object))
		return bad(err, "quota is not an object");
	if (!json_object_object_get_ex(o, "max", &max))
		return bad(err, "max");
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
	if (!member(o, "cgroup", json_type_string))
		return bad(err, "cgroup");
	q->cgroup = strdup(json_object_get_string(member(o, "cgroup", json_type_string)));
	if (!q->cgroup)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	return 0;
}

int
pasid_parse_quotas(struct json_object *result, struct pasid_quota **quotas, size_t *n,
                   struct pasid_error *err)
{
	bool one = json_object_is_type(result, json_type_object);
	size_t len;
	struct pasid_quota *q;

	*quotas = NULL;
	*n = 0;
	if (!one && !json_object_is_type(result, json_type_array))
		return bad(err, "expected a list of quotas");
	len = one ? 1 : json_object_array_length(result);
	q = calloc(len ? len : 1, sizeof(*q));
	if (!q)
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	for (size_t i = 0; i < len; i++) {
		int rc = parse_quota_into(one ? result : json_object_array_get_idx(result, i),
		                          &q[i], err);

		if (rc < 0) {
			pasid_quotas_free(q, i);
			return rc;
		}
	}
	*quotas = q;
	*n = len;
	lp_clear_error(err);
	return 0;
}

void
pasid_quotas_free(struct pasid_quota *quotas, size_t n)
{
	if (!quotas)
		return;
	for (size_t i = 0; i < n; i++)
		free(quotas[i].cgroup);
	free(quotas);
}

int
pasid_quota_get(struct pasid_client *c, const char *cgroup, struct pasid_quota **quotas, size_t *n,
                struct pasid_error *err)
{
	struct json_object *p = params_new(), *res;
	int rc;

	*quotas = NULL;
	*n = 0;
	add_str(p, "cgroup", cgroup);
	rc = call(c, "quota.get", p, &res, err);
	if (rc == 0) {
		if (json_object_is_type(res, json_type_array))
			rc = pasid_parse_quotas(res, quotas, n, err);
		else
			rc = bad(err, "expected a list of quotas");
		json_object_put(res);
	}
	return rc;
}

int
pasid_quota_set(struct pasid_client *c, const char *cgroup, uint64_t max, struct pasid_quota **out,
                struct pasid_error *err)
{
	struct json_object *p, *res;
	size_t n;
	int rc;

	if (out)
		*out = NULL;
	if (max != PASID_QUOTA_NO_LIMIT && max > INT64_MAX) {
		lp_forget_error(c);
		return lp_fail(err, -EINVAL, "a quota is at most %lld or no limit",
		               (long long)INT64_MAX);
	}
	p = params_new();
	add_str(p, "cgroup", cgroup);
	if (p)
		json_object_object_add(p, "max",
		                       max == PASID_QUOTA_NO_LIMIT
		                           ? json_object_new_string("max")
		                           : json_object_new_int64((int64_t)max));
	rc = call(c, "quota.set", p, &res, err);
	if (rc == 0) {
		struct pasid_quota *q;

		if (json_object_is_type(res, json_type_object))
			rc = pasid_parse_quotas(res, &q, &n, err);
		else
			rc = bad(err, "expected a quota object");
		if (rc == 0 && out)
			*out = q;
		else if (rc == 0)
			pasid_quotas_free(q, n);
		json_object_put(res);
	}
	return rc;
}
