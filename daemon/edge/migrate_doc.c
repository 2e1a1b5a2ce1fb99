/* Reading and writing the migration document (migrate_doc.h). Reading checks everything it can
 * know without this host's tables; ns_import_check() does the rest. */
#include "migrate_doc.h"
#include "pasid-proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-id128.h>

static int __attribute__((format(printf, 4, 5)))
fault(struct migrate_err *e, int code, const char *param, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	snprintf(e->param, sizeof(e->param), "%s", param);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return code == PROTO_E_INTERNAL ? -ENOMEM : -EINVAL;
}

#define bad(e, param, ...) fault(e, PROTO_E_INVALID_PARAMS, param, __VA_ARGS__)

/* Refuses a member of o that is not in names (NULL-terminated); at names the object. */
static int
only(struct json_object *o, const char *at, const char *const *names, struct migrate_err *e)
{
	char param[96];

	json_object_object_foreach(o, key, val)
	{
		const char *const *n = names;

		(void)val;
		while (*n && strcmp(*n, key))
			n++;
		if (!*n) {
			snprintf(param, sizeof(param), "%s.%.40s", at, key);
			return bad(e, param, "unknown member '%.40s' in %s", key, at);
		}
	}
	return 0;
}

/* A member that must be there, of type t. */
static struct json_object *
need(struct json_object *o, const char *at, const char *name, enum json_type t, const char *what,
     struct migrate_err *e)
{
	struct json_object *v = NULL;
	char param[96];

	snprintf(param, sizeof(param), "%s.%s", at, name);
	if (!json_object_object_get_ex(o, name, &v) || !v) {
		bad(e, param, "missing member '%s' in %s", name, at);
		return NULL;
	}
	if (!json_object_is_type(v, t)) {
		bad(e, param, "'%s' must be %s", param, what);
		return NULL;
	}
	return v;
}

/* A string member without NUL inside, or NULL with e. */
static const char *
need_str(struct json_object *o, const char *at, const char *name, struct migrate_err *e)
{
	struct json_object *v = need(o, at, name, json_type_string, "a string", e);
	const char *s = v ? json_object_get_string(v) : NULL;

	if (s && strlen(s) != (size_t)json_object_get_string_len(v)) {
		char param[96];

		snprintf(param, sizeof(param), "%s.%s", at, name);
		bad(e, param, "'%s' contains a NUL character", param);
		return NULL;
	}
	return s;
}

/* An integer member in [lo, hi]: 0 with *out, or -EINVAL with e. */
static int
need_int(struct json_object *o, const char *at, const char *name, int64_t lo, int64_t hi,
         int64_t *out, struct migrate_err *e)
{
	struct json_object *v = need(o, at, name, json_type_int, "an integer", e);
	char param[96];
	int64_t n;

	if (!v)
		return -EINVAL;
	n = json_object_get_int64(v);
	snprintf(param, sizeof(param), "%s.%s", at, name);
	if (n < lo || n > hi || json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return bad(e, param, "'%s' must be an integer from %lld to %lld", param,
		           (long long)lo, (long long)hi);
	*out = n;
	return 0;
}

/* ---- device and work queue maps of the request ---- */

struct dev_src {
	uint32_t src;
	unsigned index;
};

static int
cmp_src(const void *a, const void *b)
{
	uint32_t x = ((const struct dev_src *)a)->src, y = ((const struct dev_src *)b)->src;

	return x < y ? -1 : x > y;
}

/* Checks a {SRC: DST} map of the request: keys and values of the kind, and no two values
 * alike. */
static int
check_map(struct json_object *map, const char *name, bool bdf, struct migrate_err *e)
{
	char param[96];
	uint32_t b;

	if (!map)
		return 0;
	json_object_object_foreach(map, key, val)
	{
		const char *v =
		    json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;

		snprintf(param, sizeof(param), "%s.%.40s", name, key);
		if (bdf ? ns_bdf_parse(key, &b) < 0 : !ns_wq_ref_valid(key))
			return bad(e, name, "'%s' keys must be %s: '%.40s' is not", name,
			           bdf ? "PCI addresses DDDD:BB:DD.F"
			               : "work queues like dsa0/wq0.1",
			           key);
		if (!v || (bdf ? ns_bdf_parse(v, &b) < 0 : !ns_wq_ref_valid(v)) ||
		    strlen(v) != (size_t)json_object_get_string_len(val))
			return bad(e, param, "'%s' must be %s", param,
			           bdf ? "a PCI address DDDD:BB:DD.F"
			               : "a work queue like dsa0/wq0.1");
		json_object_object_foreach(map, k2, v2)
		{
			if (!strcmp(k2, key))
				break;
			if (json_object_is_type(v2, json_type_string) &&
			    !strcmp(json_object_get_string(v2), v))
				return bad(e, param, "'%s' and '%s.%.40s' both map to %s", param,
				           name, k2, v);
		}
	}
	return 0;
}

/* The destination of a source name through a map of the request (src itself when the map
 * does not name it). */
static const char *
mapped(struct json_object *map, const char *src)
{
	struct json_object *v;

	return map && json_object_object_get_ex(map, src, &v) ? json_object_get_string(v) : src;
}

/* Every key of a map must name something of the document, so that a typo is not silently
 * an identity mapping. */
static int
map_used(struct json_object *map, const char *name, bool (*used)(void *ctx, const char *key),
         void *ctx, struct migrate_err *e)
{
	char param[96];

	if (!map)
		return 0;
	json_object_object_foreach(map, key, val)
	{
		(void)val;
		if (!used(ctx, key)) {
			snprintf(param, sizeof(param), "%s.%.40s", name, key);
			return bad(e, param, "the document has no %s %.40s",
			           strcmp(name, "devices") ? "work queue" : "device", key);
		}
	}
	return 0;
}

/* ---- the document ---- */

struct reading {
	struct migrate_doc *d;
	struct json_object *devmap, *wqmap;
	struct dev_src *by_src; /* the document's devices by source BDF */
	struct json_object *jmaps;
};

static int
read_devices(struct reading *rd, struct json_object *arr, struct migrate_err *e)
{
	struct ns_import *im = &rd->d->im;
	size_t n = json_object_array_length(arr);
	char at[64];

	if (n > NS_IMPORT_MAX_DEVICES)
		return bad(e, "document.devices", "at most %u devices", NS_IMPORT_MAX_DEVICES);
	if (n && (!(im->devs = calloc(n, sizeof(*im->devs))) ||
	          !(rd->by_src = calloc(n, sizeof(*rd->by_src)))))
		return fault(e, PROTO_E_INTERNAL, "", "out of memory");
	for (size_t i = 0; i < n; i++) {
		static const char *const names[] = {"device", "shared", NULL};
		struct json_object *o = json_object_array_get_idx(arr, i), *sh;
		const char *bdf;
		uint32_t src, dst;

		snprintf(at, sizeof(at), "document.devices[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(e, at, "'%s' must be an object", at);
		if (only(o, at, names, e) < 0 || !(bdf = need_str(o, at, "device", e)) ||
		    !(sh = need(o, at, "shared", json_type_boolean, "true or false", e)))
			return -EINVAL;
		if (ns_bdf_parse(bdf, &src) < 0)
			return bad(e, strcat(at, ".device"),
			           "'%s' must be a PCI address DDDD:BB:DD.F", at);
		ns_bdf_parse(mapped(rd->devmap, bdf), &dst);
		im->devs[i] =
		    (struct ns_import_dev){.bdf = dst, .shared = json_object_get_boolean(sh)};
		rd->by_src[i] = (struct dev_src){src, (unsigned)i};
	}
	im->ndevs = (unsigned)n;
	if (n)
		qsort(rd->by_src, n, sizeof(*rd->by_src), cmp_src);
	for (size_t i = 1; i < n; i++)
		if (rd->by_src[i].src == rd->by_src[i - 1].src) {
			unsigned later = rd->by_src[i].index > rd->by_src[i - 1].index
			                     ? rd->by_src[i].index
			                     : rd->by_src[i - 1].index;

			snprintf(at, sizeof(at), "document.devices[%u].device", later);
			return bad(e, at, "device %s appears twice in the document",
			           json_object_get_string(json_object_object_get(
			               json_object_array_get_idx(arr, later), "device")));
		}
	return 0;
}

static bool
device_used(void *ctx, const char *key)
{
	struct reading *rd = ctx;
	struct dev_src k;

	return ns_bdf_parse(key, &k.src) == 0 && rd->d->im.ndevs &&
	       bsearch(&k, rd->by_src, rd->d->im.ndevs, sizeof(k), cmp_src);
}

static bool
wq_used(void *ctx, const char *key)
{
	struct reading *rd = ctx;
	size_t n = json_object_array_length(rd->jmaps);

	for (size_t i = 0; i < n; i++) {
		struct json_object *wq;

		if (json_object_object_get_ex(json_object_array_get_idx(rd->jmaps, i), "wq", &wq) &&
		    !strcmp(json_object_get_string(wq), key))
			return true;
	}
	return false;
}

/* One mapping, the i-th of the document. */
static int
read_mapping(struct reading *rd, size_t i, struct migrate_err *e)
{
	static const char *const names[] = {"gpasid", "type", "device", "wq", "hpasid", NULL};
	struct ns_import *im = &rd->d->im;
	struct json_object *o = json_object_array_get_idx(rd->jmaps, i), *v;
	struct ns_import_map *m = &im->maps[i];
	const char *type, *s;
	char at[64], param[96];
	int64_t g, h;

	snprintf(at, sizeof(at), "document.mappings[%zu]", i);
	if (!json_object_is_type(o, json_type_object))
		return bad(e, at, "'%s' must be an object", at);
	if (only(o, at, names, e) < 0 ||
	    need_int(o, at, "gpasid", 1, (1 << im->pasid_bits) - 1, &g, e) < 0 ||
	    !(type = need_str(o, at, "type", e)))
		return -EINVAL;
	m->gpasid = (uint32_t)g;
	snprintf(param, sizeof(param), "%s.type", at);
	if (!strcmp(type, "local"))
		m->type = NS_TYPE_LOCAL;
	else if (!strcmp(type, "shared"))
		m->type = NS_TYPE_SHARED;
	else
		return bad(e, param, "'%s' must be shared or local", param);
	if (json_object_object_get_ex(o, "hpasid", &v)) {
		snprintf(param, sizeof(param), "%s.hpasid", at);
		if (im->mode != NS_MODE_IDENTITY)
			return bad(e, param,
			           "a translated VM's hPASIDs belong to its source host: the "
			           "document carries none");
		if (need_int(o, at, "hpasid", 1, (1 << im->pasid_bits) - 1, &h, e) < 0)
			return -EINVAL;
		if (h != g)
			return bad(e, param,
			           "an identity VM's hPASID is its gPASID (%lld, not %lld)",
			           (long long)g, (long long)h);
	}
	if (json_object_object_get_ex(o, "wq", &v)) {
		snprintf(param, sizeof(param), "%s.wq", at);
		if (m->type == NS_TYPE_LOCAL)
			return bad(e, param, "'wq' applies to shared mappings only");
		if (!(s = need_str(o, at, "wq", e)))
			return -EINVAL;
		if (!ns_wq_ref_valid(s))
			return bad(e, param, "'%s' must name a work queue like dsa0/wq0.1", param);
		m->wq = mapped(rd->wqmap, s);
	}
	snprintf(param, sizeof(param), "%s.device", at);
	if (m->type == NS_TYPE_SHARED) {
		if (json_object_object_get_ex(o, "device", &v))
			return bad(e, param, "'device' applies to local mappings only");
		return 0;
	}
	if (!(s = need_str(o, at, "device", e)))
		return -EINVAL;
	struct dev_src k, *found;

	if (ns_bdf_parse(s, &k.src) < 0)
		return bad(e, param, "'%s' must be a PCI address DDDD:BB:DD.F", param);
	found = im->ndevs ? bsearch(&k, rd->by_src, im->ndevs, sizeof(k), cmp_src) : NULL;
	if (!found)
		return bad(e, param,
		           "device %s of a local mapping is not among the document's devices", s);
	if (im->devs[found->index].shared)
		return bad(e, param, "device %s is shared: local mappings need an exclusive device",
		           s);
	m->bdf = im->devs[found->index].bdf;
	return 0;
}

/* A mapping's gPASID and its place in the document, sorted by the first. */
struct by_g {
	uint32_t g;
	unsigned index;
};

static int
cmp_g(const void *a, const void *b)
{
	const struct by_g *x = a, *y = b;

	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts the mappings by gPASID and refuses one given twice, naming its later place. */
static int
sort_mappings(struct reading *rd, struct migrate_err *e)
{
	struct ns_import *im = &rd->d->im;
	struct ns_import_map *sorted;
	struct by_g *order;
	char param[96];

	if (!im->nmaps)
		return 0;
	order = malloc(im->nmaps * sizeof(*order));
	sorted = malloc(im->nmaps * sizeof(*sorted));
	if (!order || !sorted) {
		free(order);
		free(sorted);
		return fault(e, PROTO_E_INTERNAL, "", "out of memory");
	}
	for (size_t i = 0; i < im->nmaps; i++)
		order[i] = (struct by_g){im->maps[i].gpasid, (unsigned)i};
	qsort(order, im->nmaps, sizeof(*order), cmp_g);
	for (size_t i = 0; i < im->nmaps; i++) {
		sorted[i] = im->maps[order[i].index];
		if (i && order[i].g == order[i - 1].g) {
			snprintf(param, sizeof(param), "document.mappings[%u].gpasid",
			         order[i].index);
			bad(e, param, "gPASID %u appears twice (mappings[%u] and [%u])", order[i].g,
			    order[i - 1].index, order[i].index);
			free(order);
			free(sorted);
			return -EINVAL;
		}
	}
	free(order);
	free(im->maps);
	im->maps = sorted;
	return 0;
}

static int
read_head(struct reading *rd, struct json_object *doc, struct migrate_err *e)
{
	static const char *const names[] = {"format",     "version", "vm",       "uuid", "mode",
	                                    "pasid_bits", "devices", "mappings", NULL};
	struct ns_import *im = &rd->d->im;
	const char *s;
	int64_t n;
	struct json_object *v;
	sd_id128_t id;

	if (!(s = need_str(doc, "document", "format", e)))
		return -EINVAL;
	if (strcmp(s, MIGRATE_FORMAT))
		return bad(e, "document.format", "'document.format' must be \"%s\"",
		           MIGRATE_FORMAT);
	/* The version before the other members: a later version may have other ones. */
	if (!(v = need(doc, "document", "version", json_type_int, "an integer", e)))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n > MIGRATE_VERSION || json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return fault(e, PROTO_E_UNSUPPORTED, "document.version",
		             "pasidd-vm document version %llu; this pasidd reads %d",
		             (unsigned long long)json_object_get_uint64(v), MIGRATE_VERSION);
	if (n < 1)
		return bad(e, "document.version", "'document.version' must be %d", MIGRATE_VERSION);
	if (only(doc, "document", names, e) < 0 || !(s = need_str(doc, "document", "vm", e)))
		return -EINVAL;
	if (!ns_vm_name_valid(s))
		return bad(
		    e, "document.vm",
		    "'document.vm' must be 1-64 characters [A-Za-z0-9._:@+-] starting with a "
		    "letter or digit");
	snprintf(rd->d->name, sizeof(rd->d->name), "%s", s);
	im->name = rd->d->name;
	if (!(s = need_str(doc, "document", "uuid", e)))
		return -EINVAL;
	if (strlen(s) != NS_UUID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' ||
	    s[23] != '-' || sd_id128_from_string(s, &id) < 0)
		return bad(e, "document.uuid",
		           "'document.uuid' must look like 01234567-89ab-cdef-0123-456789abcdef");
	sd_id128_to_uuid_string(id, im->uuid);
	if (!(s = need_str(doc, "document", "mode", e)))
		return -EINVAL;
	if (!strcmp(s, "translated"))
		im->mode = NS_MODE_TRANSLATED;
	else if (!strcmp(s, "identity"))
		im->mode = NS_MODE_IDENTITY;
	else
		return bad(e, "document.mode", "'document.mode' must be translated or identity");
	if (need_int(doc, "document", "pasid_bits", 1, NS_MAX_BITS, &n, e) < 0)
		return -EINVAL;
	im->pasid_bits = (unsigned)n;
	return 0;
}

int
migrate_doc_read(struct json_object *doc, struct json_object *devices, struct json_object *wqs,
                 struct migrate_doc *out, struct migrate_err *e)
{
	struct reading rd = {.d = out, .devmap = devices, .wqmap = wqs};
	struct json_object *jdevs;
	struct ns_import *im = &out->im;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(doc, json_type_object))
		return bad(e, "document", "'document' must be an object");
	if ((r = read_head(&rd, doc, e)) < 0)
		goto out;
	r = -EINVAL;
	if (!(jdevs = need(doc, "document", "devices", json_type_array, "an array", e)) ||
	    !(rd.jmaps = need(doc, "document", "mappings", json_type_array, "an array", e)) ||
	    (r = check_map(devices, "devices", true, e)) < 0 ||
	    (r = check_map(wqs, "wqs", false, e)) < 0)
		goto out;
	/* Refused before anything is allocated per mapping. */
	n = json_object_array_length(rd.jmaps);
	if (n > NS_IMPORT_MAX_MAPPINGS) {
		r = bad(e, "document.mappings", "at most %u mappings (a VM cannot hold more)",
		        NS_IMPORT_MAX_MAPPINGS);
		goto out;
	}
	if ((r = read_devices(&rd, jdevs, e)) < 0 ||
	    (r = map_used(devices, "devices", device_used, &rd, e)) < 0 ||
	    (r = map_used(wqs, "wqs", wq_used, &rd, e)) < 0)
		goto out;
	/* Two source devices mapped onto one that the document also names unmapped. */
	for (unsigned i = 0; i < im->ndevs; i++)
		for (unsigned k = i + 1; k < im->ndevs; k++)
			if (im->devs[i].bdf == im->devs[k].bdf) {
				char param[64];

				snprintf(param, sizeof(param), "document.devices[%u].device", k);
				r = bad(e, param,
				        "two devices of the document become one on this host (see "
				        "'devices')");
				goto out;
			}
	if (n && !(im->maps = calloc(n, sizeof(*im->maps)))) {
		r = fault(e, PROTO_E_INTERNAL, "", "out of memory");
		goto out;
	}
	im->nmaps = n;
	for (size_t i = 0; i < n && r == 0; i++)
		r = read_mapping(&rd, i, e);
	if (r == 0)
		r = sort_mappings(&rd, e);
out:
	free(rd.by_src);
	if (r < 0)
		migrate_doc_free(out);
	return r;
}

void
migrate_doc_free(struct migrate_doc *d)
{
	free(d->im.devs);
	free(d->im.maps);
	d->im.devs = NULL;
	d->im.maps = NULL;
	d->im.ndevs = 0;
	d->im.nmaps = 0;
}

/* ---- export ---- */

static int
cmp_vm_dev(const void *a, const void *b)
{
	uint32_t x = ((const struct ns_vm_dev *)a)->dev->bdf,
	         y = ((const struct ns_vm_dev *)b)->dev->bdf;

	return x < y ? -1 : x > y;
}

struct json_object *
migrate_doc_export(const struct ns *ns, const struct ns_vm *vm)
{
	struct json_object *o = json_object_new_object(), *devs = json_object_new_array(),
	                   *maps = json_object_new_array();
	struct ns_vm_dev *sorted = vm->ndevs ? malloc(vm->ndevs * sizeof(*sorted)) : NULL;
	char bdf[NS_BDF_LEN + 1];

	if (!o || !devs || !maps || (vm->ndevs && !sorted)) {
		json_object_put(o);
		json_object_put(devs);
		json_object_put(maps);
		free(sorted);
		return NULL;
	}
	json_object_object_add(o, "format", json_object_new_string(MIGRATE_FORMAT));
	json_object_object_add(o, "version", json_object_new_int(MIGRATE_VERSION));
	json_object_object_add(o, "vm", json_object_new_string(vm->name));
	json_object_object_add(o, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(o, "mode", json_object_new_string(ns_mode_name(vm->mode)));
	json_object_object_add(o, "pasid_bits", json_object_new_int((int)ns->cfg.pasid_bits));
	if (vm->ndevs) {
		memcpy(sorted, vm->devs, vm->ndevs * sizeof(*sorted));
		qsort(sorted, vm->ndevs, sizeof(*sorted), cmp_vm_dev);
	}
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct json_object *d = json_object_new_object();

		ns_bdf_format(sorted[i].dev->bdf, bdf);
		json_object_object_add(d, "device", json_object_new_string(bdf));
		json_object_object_add(d, "shared", json_object_new_boolean(sorted[i].shared));
		json_object_array_add(devs, d);
	}
	free(sorted);
	json_object_object_add(o, "devices", devs);
	for (const struct ns_mapping *m = ns_vm_next(ns, vm, 0); m;
	     m = ns_vm_next(ns, vm, m->gpasid)) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "gpasid", json_object_new_int64(m->gpasid));
		json_object_object_add(j, "type", json_object_new_string(ns_type_name(m->type)));
		if (m->dev) {
			ns_bdf_format(m->dev->bdf, bdf);
			json_object_object_add(j, "device", json_object_new_string(bdf));
		}
		if (m->wq)
			json_object_object_add(j, "wq", json_object_new_string(m->wq->ref));
		if (vm->mode == NS_MODE_IDENTITY)
			json_object_object_add(j, "hpasid", json_object_new_int64(m->hpasid));
		json_object_array_add(maps, j);
	}
	json_object_object_add(o, "mappings", maps);
	return o;
}
