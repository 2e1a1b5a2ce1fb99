/* Namespace objects as protocol JSON (the shapes of proto/openrpc.json). */
#ifndef PASIDD_RENDER_H
#define PASIDD_RENDER_H

#include <stdbool.h>
#include <json-c/json.h>

struct ns_mapping;
struct ns_vm;

/* A mapping as a JSON object that can be looked into (and added to: an error's data). */
struct json_object *render_mapping(const struct ns_mapping *m, bool with_vm);
/* The same object as text: what it returns serializes byte for byte as render_mapping's
 * does, without its members being built and then printed (an answer's result: the hot
 * pasid.alloc and the lookups). Not meant to be looked into. NULL on ENOMEM. */
struct json_object *render_mapping_text(const struct ns_mapping *m, bool with_vm);
/* A JSON array of n mappings, written as text at once rather than built as n objects: the
 * shape of render_mapping's, ten times cheaper, for listings and bulk allocations. What it
 * returns serializes to that array; it is not meant to be looked into. NULL on ENOMEM. */
struct json_object *render_mapping_list(struct ns_mapping *const *maps, size_t n, bool with_vm);
/* A successful answer: {"jsonrpc":"2.0","id":ID,"result":RESULT} (NULL result: {}), the
 * result taken over, printed at once rather than built as an envelope and printed member by
 * member: byte for byte proto_result_new()'s as proto_serialize() prints it. Not meant to be
 * looked into. */
struct json_object *render_result(struct json_object *id, struct json_object *result);
/* The JSON text of a value the functions above made (render_mapping's aside), NULL for any
 * other value: what serializing it would give, without a printbuf. */
const char *render_text(struct json_object *o, size_t *len);
/* The text of any value: render_text()'s, else proto_serialize()'s. */
const char *render_print(struct json_object *o, size_t *len);
/* A vm.list entry, which vm.show completes with a page of its mappings. */
struct json_object *render_vm(const struct ns_vm *vm);

#endif
