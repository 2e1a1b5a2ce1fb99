#include "pasid-proto.h"

#include <ctype.h>
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

/*
 * json-c's strict mode is lenient where RFC 8259 is not (single-quoted names, NaN and
 * Infinity, "1.", raw control characters in strings, overlong or surrogate UTF-8), so the
 * text is checked against the grammar first and json-c only builds the tree.
 */
struct scan {
	const unsigned char *p, *end;
	int depth;
	bool nul_in_name; /* a member name holds \u0000: C strings would cut it short */
};

#define SCAN_MAX_DEPTH 64

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static bool
scan_lit(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n))
		return false;
	s->p += n;
	return true;
}

static bool
scan_digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool
scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!scan_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return false;
	}
	return true;
}

/* One UTF-8 sequence of 2-4 bytes, well-formed per RFC 3629 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static bool
scan_utf8(struct scan *s)
{
	const unsigned char *p = s->p;
	unsigned n, cp;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 1, cp = *p & 0x1f;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 2, cp = *p & 0x0f;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 3, cp = *p & 0x07;
	else
		return false;
	if ((size_t)(s->end - p) <= n)
		return false;
	for (unsigned i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
		return false;
	s->p += n + 1;
	return true;
}

static bool
scan_string(struct scan *s, bool name)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++s->p >= s->end)
				return false;
			if (*s->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (s->p + i >= s->end || !isxdigit(s->p[i]))
						return false;
				if (name && !memcmp(s->p + 1, "0000", 4))
					s->nul_in_name = true;
				s->p += 5;
			} else if (strchr("\"\\/bfnrt", *s->p) && *s->p) {
				s->p++;
			} else {
				return false;
			}
		} else if (c < 0x80) {
			s->p++;
		} else if (!scan_utf8(s)) {
			return false;
		}
	}
	return false;
}

static bool scan_value(struct scan *s);

static bool
scan_container(struct scan *s, bool object)
{
	char close = object ? '}' : ']';

	if (++s->depth > SCAN_MAX_DEPTH)
		return false;
	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (object) {
			if (s->p >= s->end || *s->p != '"' || !scan_string(s, true))
				return false;
			scan_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return false;
			s->p++;
		}
		if (!scan_value(s))
			return false;
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			scan_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			s->depth--;
			return true;
		}
		return false;
	}
}

static bool
scan_value(struct scan *s)
{
	bool ok;

	scan_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
		ok = scan_container(s, true);
		break;
	case '[':
		ok = scan_container(s, false);
		break;
	case '"':
		ok = scan_string(s, false);
		break;
	case 't':
		ok = scan_lit(s, "true");
		break;
	case 'f':
		ok = scan_lit(s, "false");
		break;
	case 'n':
		ok = scan_lit(s, "null");
		break;
	default:
		ok = scan_number(s);
	}
	scan_ws(s);
	return ok;
}

/* 0, -EBADMSG, or -EILSEQ for valid JSON with U+0000 in a member name. */
static int
check_json(const char *buf, size_t len)
{
	struct scan s = {.p = (const unsigned char *)buf, .end = (const unsigned char *)buf + len};

	if (!scan_value(&s) || s.p != s.end)
		return -EBADMSG;
	return s.nul_in_name ? -EILSEQ : 0;
}

struct counts {
	uint32_t *v;
	size_t n, cap, at;
};

static int
counts_push(struct counts *c, uint32_t v)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 32;
		uint32_t *nv = realloc(c->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = v;
	return 0;
}

/* The index of the '"' that closes the string opening at i, len if none does. */
static size_t
string_end(const char *buf, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (buf[i] == '\\')
			i++;
		else if (buf[i] == '"')
			return i;
	}
	return len;
}

/* Members of every object in the order the objects open, as written. Every member has
 * exactly one ':' at its own object's level. */
static int
raw_member_counts(const char *buf, size_t len, struct counts *c)
{
	size_t stack[64]; /* index in c of each open object, SIZE_MAX for arrays */
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (ch == '"') {
			i = string_end(buf, len, i);
		} else if (ch == '{' || ch == '[') {
			if (depth == (int)(sizeof(stack) / sizeof(stack[0])))
				return -EBADMSG;
			stack[depth++] = ch == '{' ? c->n : SIZE_MAX;
			if (ch == '{' && counts_push(c, 0) < 0)
				return -ENOMEM;
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (ch == ':' && depth > 0 && stack[depth - 1] != SIZE_MAX) {
			c->v[stack[depth - 1]]++;
		}
	}
	return 0;
}

/* Compares the parsed tree, object by object in the same order, with the raw counts: json-c
 * keeps the last of repeated names, so any object that lost members had duplicates. */
static bool
same_counts(struct json_object *o, struct counts *c)
{
	if (json_object_is_type(o, json_type_object)) {
		if (c->at >= c->n || c->v[c->at++] != (uint32_t)json_object_object_length(o))
			return false;
		json_object_object_foreach(o, key, val)
		{
			(void)key;
			if (!same_counts(val, c))
				return false;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!same_counts(json_object_array_get_idx(o, i), c))
				return false;
	}
	return true;
}

/* RFC 8259 leaves repeated member names to the receiver; a request that says two things
 * for one name is refused rather than half-read. Names are compared decoded. */
static int
check_unique_members(const char *buf, size_t len, struct json_object *obj)
{
	struct counts c = {0};
	int r;

	if (!memchr(buf, '{', len))
		return 0;
	r = raw_member_counts(buf, len, &c);
	if (r == 0 && !same_counts(obj, &c))
		r = -ENOTUNIQ;
	free(c.v);
	return r;
}

int
proto_parse(const char *buf, size_t len, struct json_object **out)
{
	struct json_tokener *tok = json_tokener_new();
	int r;

	*out = NULL;
	if (!tok)
		return -ENOMEM;
	r = proto_parse_with(tok, buf, len, out);
	json_tokener_free(tok);
	return r;
}

int
proto_parse_with(struct json_tokener *tok, const char *buf, size_t len, struct json_object **out)
{
	struct json_object *obj;
	size_t used;
	int r;

	*out = NULL;
	if (len > INT32_MAX)
		return -EBADMSG;
	r = check_json(buf, len);
	if (r < 0)
		return r;
	json_tokener_reset(tok);
	/* Not JSON_TOKENER_VALIDATE_UTF8: check_json has refused every byte that is not
	 * well-formed UTF-8 (RFC 3629, stricter than json-c's check), and json-c's check of
	 * each character again cost a fifth of the parse. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	used = tok->char_offset;
	/* A bare number at the end of input is still "continue" until the parser sees a
	 * terminator: feed one white space so that "1" alone parses (all input is used). */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, " ", 1);
		used = len;
	}
	/* A JSON null is a NULL object: success is what the tokener says. */
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		json_tokener_reset(tok);
		return -EBADMSG;
	}
	json_tokener_reset(tok);
	for (size_t i = used; i < len; i++) {
		if (!is_json_ws(buf[i])) {
			json_object_put(obj);
			return -EBADMSG;
		}
	}
	r = check_unique_members(buf, len, obj);
	if (r < 0) {
		json_object_put(obj);
		return r;
	}
	*out = obj;
	return 0;
}

/* Index just past the JSON value starting at i (which is valid JSON: proto_parse said so). */
static size_t
skip_value(const char *buf, size_t len, size_t i)
{
	int depth = 0;

	for (; i < len; i++) {
		char c = buf[i];

		switch (c) {
		case '"':
			i = string_end(buf, len, i);
			if (depth == 0)
				return i < len ? i + 1 : len;
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
