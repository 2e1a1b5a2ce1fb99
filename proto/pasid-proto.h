/* pasidd control protocol v1: error codes, framing and JSON-RPC envelopes shared by the
 * daemon and libpasid. */
#ifndef PASID_PROTO_H
#define PASID_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define PROTO_DEFAULT_MAX_LINE (64 * 1024)
#define PROTO_MAX_COUNT        4096
/* Paged listings: pasid.list and vm.show mappings, vm.list VMs (default and maximum limit). */
#define PROTO_PAGE_DEFAULT    1024
#define PROTO_PAGE_MAX        4096
#define PROTO_VM_PAGE_DEFAULT 256
#define PROTO_VM_PAGE_MAX     1024

/* JSON-RPC 2.0 standard errors. */
#define PROTO_E_PARSE          (-32700)
#define PROTO_E_INVALID_REQ    (-32600)
#define PROTO_E_NO_METHOD      (-32601)
#define PROTO_E_INVALID_PARAMS (-32602)
#define PROTO_E_INTERNAL       (-32603)

/* Application errors (DESIGN.md §4). */
#define PROTO_E_EXHAUSTED    1001
#define PROTO_E_QUOTA        1002
#define PROTO_E_NOT_FOUND    1003
#define PROTO_E_CONFLICT     1004
#define PROTO_E_PERMISSION   1005
#define PROTO_E_KERNEL       1006
#define PROTO_E_UNSUPPORTED  1007
#define PROTO_E_OUT_OF_RANGE 1008

/* The `data.reason` string of an application error code, or NULL for other codes. */
const char *proto_error_reason(int code);

/* Parses one framed message strictly (RFC 8259, valid UTF-8, nothing but white space after
 * the value). Returns 0 and a new reference in *out, -EBADMSG, -ENOTUNIQ when an object
 * repeats a member name, or -EILSEQ when a member name contains U+0000 (which json-c, and
 * every C consumer, would cut short). */
int proto_parse(const char *buf, size_t len, struct json_object **out);
/* The same with the caller's tokener (reset here): a server parsing message after message
 * keeps one rather than allocating one each time. */
struct json_tokener;
int proto_parse_with(struct json_tokener *tok, const char *buf, size_t len,
                     struct json_object **out);

/* The raw text of member `key` of the top-level object (index < 0) or of the index-th
 * object of a top-level array, in a message proto_parse() accepted. Member names are
 * compared as written. 0, or -ENOENT. */
int proto_raw_member(const char *buf, size_t len, int index, const char *key, const char **at,
                     size_t *n);

/* Serializes compactly, without escaping '/', for one line on the wire (no LF added). The
 * string belongs to obj. */
const char *proto_serialize(struct json_object *obj, size_t *len);

/* Response envelopes. `id` is borrowed and referenced (NULL means JSON null); `result` and
 * `data` are taken over. */
struct json_object *proto_result_new(struct json_object *id, struct json_object *result);
struct json_object *proto_error_new(struct json_object *id, int code, const char *message,
                                    struct json_object *data);

/* A growing receive buffer that yields LF-terminated lines. */
struct proto_linebuf {
	char *buf;
	size_t len;   /* bytes held */
	size_t cap;   /* bytes allocated */
	size_t start; /* first byte not yet returned as a line */
	size_t max;   /* longest line accepted, LF excluded */
};

void proto_linebuf_init(struct proto_linebuf *lb, size_t max_line);
void proto_linebuf_free(struct proto_linebuf *lb);
/* Room for at least `want` more bytes: returns where to write them, or NULL on ENOMEM. */
char *proto_linebuf_space(struct proto_linebuf *lb, size_t want);
void proto_linebuf_commit(struct proto_linebuf *lb, size_t n);
/* Next complete line (without its LF, not NUL-terminated): 1 and the line, 0 if none is
 * complete yet, -EMSGSIZE if the line in progress is longer than max. */
int proto_linebuf_next(struct proto_linebuf *lb, const char **line, size_t *len);

/* The OpenRPC document served by rpc.discover (proto/openrpc.json). */
extern const char proto_openrpc_json[];

#endif
