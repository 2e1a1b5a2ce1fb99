#include "render.h"
#include "backend.h"
#include "namespace.h"
#include "pasid-proto.h"

#include <json-c/printbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value whose JSON text is written already. To json-c it is a boolean whose serializer
 * prints the text: the cheapest value to make and to free (an object makes and frees a hash
 * table, an array a slot list), and a kind to which json-c never gives userdata of its own,
 * so that render_text() tells it from any other value. */
struct raw {
	size_t len;
	char text[];
};

static int
raw_serialize(struct json_object *o, struct printbuf *pb, int level, int flags)
{
	const struct raw *r = json_object_get_userdata(o);

	return printbuf_memappend(pb, r->text, (int)r->len);
}

static void
raw_free(struct json_object *o, void *userdata)
{
	free(userdata);
}

/* Room for up to max bytes of text and its NUL; NULL on ENOMEM. */
static struct raw *
raw_alloc(size_t max)
{
	return malloc(sizeof(struct raw) + max + 1);
}

/* The value of the text of r up to end, r taken over; NULL on ENOMEM. */
static struct json_object *
raw_value(struct raw *r, char *end)
{
	struct json_object *o = json_object_new_boolean(0);

	if (!o) {
		free(r);
		return NULL;
	}
	*end = '\0';
	r->len = (size_t)(end - r->text);
	json_object_set_serializer(o, raw_serialize, r, raw_free);
	return o;
}

const char *
render_text(struct json_object *o, size_t *len)
{
	const struct raw *r;

	if (!json_object_is_type(o, json_type_boolean) || !(r = json_object_get_userdata(o)))
		return NULL;
	*len = r->len;
	return r->text;
}

/* Appends s; returns the new end. */
static char *
put_str(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put_str(p, lit, sizeof(lit) - 1)

/* Appends v in decimal; returns the new end. */
static char *
put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Listings render a page of thousands at a time: written out by hand, since snprintf's format
 * parsing would be most of the cost. Names are [A-Za-z0-9._:@+-] and the rest numbers, so
 * nothing needs escaping. An entry takes at most 7+64+3 (vm), 10+10 and 9+10 (the PASIDs),
 * 9+6 (type), 12+12 (device), 8+31 (wq: [a-z0-9/.]) and 3 bytes of braces and comma: 199;
 * and 13 for "attached" with 87 an attachment. */
#define ENTRY_MAX      199
#define ATTACHED_MAX   13
#define ATTACHMENT_MAX 87

static size_t
entry_max(const struct ns_mapping *m)
{
	return ENTRY_MAX + (m->natts ? ATTACHED_MAX + m->natts * ATTACHMENT_MAX : 0);
}

static char *
put_bdf(char *p, uint32_t bdf)
{
	*p++ = '"';
	ns_bdf_format(bdf, p);
	p += NS_BDF_LEN;
	*p++ = '"';
	return p;
}

/* ,"attached":[{"device":"DDDD:BB:DD.F","pt_id":N,"dev_id":N,"lost":true},...] */
static char *
put_attached(char *p, const struct ns_mapping *m)
{
	p = PUT_LIT(p, ",\"attached\":[");
	for (unsigned i = 0; i < m->natts; i++) {
		const struct backend_attach *att = m->atts[i];

		if (i)
			*p++ = ',';
		p = PUT_LIT(p, "{\"device\":");
		p = put_bdf(p, att->bdf);
		p = PUT_LIT(p, ",\"pt_id\":");
		p = put_u64(p, att->pt_id);
		p = PUT_LIT(p, ",\"dev_id\":");
		p = put_u64(p, att->dev_id);
		/* A restart without fd store took pasidd's descriptors of it. */
		if (att->iommufd < 0 || att->devfd < 0)
			p = PUT_LIT(p, ",\"lost\":true");
		*p++ = '}';
	}
	*p++ = ']';
	return p;
}

/* One mapping as a JSON object, written at p; returns the new end. */
static char *
put_mapping(char *p, const struct ns_mapping *m, bool with_vm)
{
	const char *type = ns_type_name(m->type);

	*p++ = '{';
	if (with_vm) {
		p = PUT_LIT(p, "\"vm\":\"");
		p = put_str(p, m->vm->name, strlen(m->vm->name));
		p = PUT_LIT(p, "\",");
	}
	p = PUT_LIT(p, "\"gpasid\":");
	p = put_u64(p, m->gpasid);
	p = PUT_LIT(p, ",\"hpasid\":");
	p = put_u64(p, m->hpasid);
	p = PUT_LIT(p, ",\"type\":\"");
	p = put_str(p, type, strlen(type));
	*p++ = '"';
	if (m->dev) {
		p = PUT_LIT(p, ",\"device\":");
		p = put_bdf(p, m->dev->bdf);
	}
	if (m->wq) {
		p = PUT_LIT(p, ",\"wq\":\"");
		p = put_str(p, m->wq->ref, strlen(m->wq->ref));
		*p++ = '"';
	}
	if (m->natts)
		p = put_attached(p, m);
	*p++ = '}';
	return p;
}

/* The mapping as JSON text, malloc'd; NULL on ENOMEM. */
static char *
mapping_text(const struct ns_mapping *m, bool with_vm)
{
	char *buf = malloc(entry_max(m) + 1);

	if (buf)
		*put_mapping(buf, m, with_vm) = '\0';
	return buf;
}

struct json_object *
render_mapping(const struct ns_mapping *m, bool with_vm)
{
	char *buf = mapping_text(m, with_vm);
	struct json_object *o;

	if (!buf)
		return NULL;
	o = json_tokener_parse(buf);
	free(buf);
	return o;
}

struct json_object *
render_mapping_text(const struct ns_mapping *m, bool with_vm)
{
	struct raw *r = raw_alloc(entry_max(m));

	return r ? raw_value(r, put_mapping(r->text, m, with_vm)) : NULL;
}

const char *
render_print(struct json_object *o, size_t *len)
{
	const char *s = render_text(o, len);

	return s ? s : proto_serialize(o, len);
}

/* Appends v in decimal; returns the new end. */
static char *
put_i64(char *p, int64_t v)
{
	if (v < 0)
		*p++ = '-';
	return put_u64(p, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

/* The id as json-c prints it: most are integers, printed here without a printbuf; any other
 * (a string to escape, a number echoed from the request's text (rpc.c), one beyond int64:
 * json_object_get_int64() clamps it) by json-c. *n gets its length; NULL on ENOMEM. */
static const char *
id_text(struct json_object *id, char buf[static 21], size_t *n)
{
	int64_t v;

	if (id && json_object_is_type(id, json_type_int) && !json_object_get_userdata(id) &&
	    (v = json_object_get_int64(id)) != INT64_MAX) {
		*n = (size_t)(put_i64(buf, v) - buf);
		return buf;
	}
	return proto_serialize(id, n);
}

struct json_object *
render_result(struct json_object *id, struct json_object *result)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":", mid[] = ",\"result\":";
	char idbuf[21];
	size_t idn, rn = 2;
	const char *ids = id_text(id, idbuf, &idn), *rs = "{}"; /* a NULL id: null */
	struct json_object *o;
	struct raw *r;
	char *p;

	/* Each member prints alone as it would inside the envelope (the same serializer and
	 * flags; only pretty-printing, never used, depends on the depth). */
	if (result)
		rs = render_print(result, &rn);
	if (!ids || !rs || !(r = raw_alloc(sizeof(head) + idn + sizeof(mid) + rn)))
		goto tree;
	p = put_str(r->text, head, sizeof(head) - 1);
	p = put_str(p, ids, idn);
	p = put_str(p, mid, sizeof(mid) - 1);
	p = put_str(p, rs, rn);
	*p++ = '}';
	if (!(o = raw_value(r, p)))
		goto tree;
	json_object_put(result);
	return o;
tree:
	return proto_result_new(id, result ? result : json_object_new_object());
}

struct json_object *
render_mapping_list(struct ns_mapping *const *maps, size_t n, bool with_vm)
{
	size_t size = 2; /* [ ] */
	struct raw *r;
	char *p;

	for (size_t i = 0; i < n; i++)
		size += entry_max(maps[i]);
	if (!(r = raw_alloc(size)))
		return NULL;
	p = r->text;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p = put_mapping(p, maps[i], with_vm);
	}
	*p++ = ']';
	return raw_value(r, p);
}

/* A device's requester ID attachment (device.attach): {pt_id, dev_id, lost?}, as a PASID's. */
static struct json_object *
render_rid(const struct backend_attach *att)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "pt_id", json_object_new_int64(att->pt_id));
	json_object_object_add(o, "dev_id", json_object_new_int64(att->dev_id));
	if (att->iommufd < 0 || att->devfd < 0)
		json_object_object_add(o, "lost", json_object_new_boolean(true));
	return o;
}

struct json_object *
render_vm(const struct ns_vm *vm)
{
	struct json_object *o = json_object_new_object(), *devs = json_object_new_array();

	json_object_object_add(o, "vm", json_object_new_string(vm->name));
	json_object_object_add(o, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(o, "mode", json_object_new_string(ns_mode_name(vm->mode)));
	json_object_object_add(o, "pid", json_object_new_int64(vm->owner.pid));
	json_object_object_add(o, "cgroup", json_object_new_string(vm->cgroup));
	json_object_object_add(o, "pasids", json_object_new_int64((int64_t)vm->maps.count));
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct json_object *d = json_object_new_object();
		char bdf[NS_BDF_LEN + 1];

		ns_bdf_format(vm->devs[i].dev->bdf, bdf);
		json_object_object_add(d, "device", json_object_new_string(bdf));
		json_object_object_add(d, "shared", json_object_new_boolean(vm->devs[i].shared));
		if (vm->devs[i].dev->rid)
			json_object_object_add(d, "attached", render_rid(vm->devs[i].dev->rid));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "devices", devs);
	return o;
}
