#include "pasid-proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *
proto_error_reason(int code)
{
	static const char *const reasons[] = {
	    [PROTO_E_EXHAUSTED - 1000] = "exhausted",
	    [PROTO_E_QUOTA - 1000] = "quota_exceeded",
	    [PROTO_E_NOT_FOUND - 1000] = "not_found",
	    [PROTO_E_CONFLICT - 1000] = "conflict",
	    [PROTO_E_PERMISSION - 1000] = "permission_denied",
	    [PROTO_E_KERNEL - 1000] = "kernel_error",
	    [PROTO_E_UNSUPPORTED - 1000] = "unsupported",
	    [PROTO_E_OUT_OF_RANGE - 1000] = "out_of_range",
	};
	if (code <= 1000 || code > PROTO_E_OUT_OF_RANGE)
		return NULL;
	return reasons[code - 1000];
}

static int
is_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* json-c's strict mode still takes single-quoted member names; RFC 8259 does not. */
static bool
has_single_quote_outside_strings(const char *buf, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (in_str) {
			if (buf[i] == '\\')
				i++;
			else if (buf[i] == '"')
				in_str = false;
		} else if (buf[i] == '"') {
			in_str = true;
		} else if (buf[i] == '\'') {
			return true;
		}
	}
	return false;
}

int
proto_parse(const char *buf, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t used;

	*out = NULL;
	if (len > INT32_MAX || memchr(buf, '\0', len) || has_single_quote_outside_strings(buf, len))
		return -EBADMSG;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	/* A bare number at the end of input is still "continue" until the parser sees a
	 * terminator: feed one white space so that "1" alone parses. */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue)
		obj = json_tokener_parse_ex(tok, " ", 1);
	used = tok->char_offset;
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		json_tokener_free(tok);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	/* After the second feed char_offset counts only that one byte. */
	for (size_t i = used <= len ? used : len; i < len; i++) {
		if (!is_json_ws(buf[i])) {
			json_object_put(obj);
			return -EBADMSG;
		}
	}
	*out = obj;
	return 0;
}

/* Index just past the JSON value starting at i (which is valid JSON: proto_parse said so). */
static size_t
skip_value(const char *buf, size_t len, size_t i)
{
	int depth = 0;
	bool in_str = false;

	for (; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			if (!in_str && depth == 0)
				return i + 1;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
			break;
		case ',':
			if (depth == 0)
				return i;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			if (depth == 0)
				return i;
			break;
		}
	}
	return len;
}

static size_t
skip_ws(const char *buf, size_t len, size_t i)
{
	while (i < len && is_json_ws(buf[i]))
		i++;
	return i;
}

/* Raw text of member `key` of the object starting at i. */
static int
raw_member(const char *buf, size_t len, size_t i, const char *key, const char **at, size_t *n)
{
	size_t klen = strlen(key);

	i = skip_ws(buf, len, i);
	if (i >= len || buf[i] != '{')
		return -ENOENT;
	i++;
	for (;;) {
		size_t kstart, vstart;

		i = skip_ws(buf, len, i);
		if (i >= len || buf[i] != '"')
			return -ENOENT;
		kstart = i + 1;
		i = skip_value(buf, len, i);
		i = skip_ws(buf, len, i);
		if (i >= len || buf[i] != ':')
			return -ENOENT;
		vstart = skip_ws(buf, len, i + 1);
		i = skip_value(buf, len, vstart);
		if (i - 1 >= kstart && i > vstart && (vstart - kstart) > klen &&
		    !memcmp(buf + kstart, key, klen) && buf[kstart + klen] == '"') {
			*at = buf + vstart;
			*n = i - vstart;
			return 0;
		}
		i = skip_ws(buf, len, i);
		if (i >= len || buf[i] != ',')
			return -ENOENT;
		i++;
	}
}

int
proto_raw_member(const char *buf, size_t len, int index, const char *key, const char **at,
                 size_t *n)
{
	size_t i = skip_ws(buf, len, 0);

	if (index < 0)
		return raw_member(buf, len, i, key, at, n);
	if (i >= len || buf[i] != '[')
		return -ENOENT;
	i++;
	for (int k = 0;; k++) {
		i = skip_ws(buf, len, i);
		if (k == index)
			return raw_member(buf, len, i, key, at, n);
		i = skip_ws(buf, len, skip_value(buf, len, i));
		if (i >= len || buf[i] != ',')
			return -ENOENT;
		i++;
	}
}

const char *
proto_serialize(struct json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

static struct json_object *
envelope(struct json_object *id)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", id ? json_object_get(id) : NULL);
	return o;
}

struct json_object *
proto_result_new(struct json_object *id, struct json_object *result)
{
	struct json_object *o = envelope(id);

	json_object_object_add(o, "result", result);
	return o;
}

struct json_object *
proto_error_new(struct json_object *id, int code, const char *message, struct json_object *data)
{
	struct json_object *o = envelope(id);
	struct json_object *e = json_object_new_object();
	const char *reason = proto_error_reason(code);

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	if (reason) {
		if (!data)
			data = json_object_new_object();
		if (json_object_is_type(data, json_type_object) &&
		    !json_object_object_get_ex(data, "reason", NULL))
			json_object_object_add(data, "reason", json_object_new_string(reason));
	}
	if (data)
		json_object_object_add(e, "data", data);
	json_object_object_add(o, "error", e);
	return o;
}

void
proto_linebuf_init(struct proto_linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max_line;
}

void
proto_linebuf_free(struct proto_linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

char *
proto_linebuf_space(struct proto_linebuf *lb, size_t want)
{
	if (lb->start > 0) {
		memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
		lb->len -= lb->start;
		lb->start = 0;
	}
	if (lb->cap - lb->len < want) {
		size_t ncap = lb->cap ? lb->cap : 4096;
		char *nbuf;

		while (ncap - lb->len < want)
			ncap *= 2;
		nbuf = realloc(lb->buf, ncap);
		if (!nbuf)
			return NULL;
		lb->buf = nbuf;
		lb->cap = ncap;
	}
	return lb->buf + lb->len;
}

void
proto_linebuf_commit(struct proto_linebuf *lb, size_t n)
{
	lb->len += n;
}

int
proto_linebuf_next(struct proto_linebuf *lb, const char **line, size_t *len)
{
	size_t avail = lb->len - lb->start;
	const char *p = lb->buf ? lb->buf + lb->start : NULL;
	const char *nl = p ? memchr(p, '\n', avail) : NULL;

	if (!nl)
		return avail > lb->max ? -EMSGSIZE : 0;
	if ((size_t)(nl - p) > lb->max)
		return -EMSGSIZE;
	*line = p;
	*len = (size_t)(nl - p);
	lb->start += *len + 1;
	return 1;
}
