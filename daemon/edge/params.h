/* Typed access to by-name params; every failure is -32602 naming the parameter. */
#ifndef PASIDD_PARAMS_H
#define PASIDD_PARAMS_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "namespace.h"

struct rpc_call;
struct ns_vm;

/* Refuses any member not in `names` (NULL-terminated). */
int params_only(struct rpc_call *c, struct json_object *params, const char *const *names);
/* *out = NULL when absent and not required. */
int param_str(struct rpc_call *c, struct json_object *params, const char *name, bool required,
              const char **out);
/* An integer in [min, max]; *out = -1 when absent and not required. */
int param_int(struct rpc_call *c, struct json_object *params, const char *name, bool required,
              int64_t min, int64_t max, int64_t *out);
/* *out untouched when absent. */
int param_bool(struct rpc_call *c, struct json_object *params, const char *name, bool *out);
/* One of `choices` (NULL-terminated): *out = its index, untouched when absent. */
int param_enum(struct rpc_call *c, struct json_object *params, const char *name, bool required,
               const char *const *choices, int *out);
int param_bdf(struct rpc_call *c, struct json_object *params, const char *name, bool required,
              uint32_t *out);
/* A UUID in its 36-character form (upper case taken), written lower case: 1, 0 when absent. */
int param_uuid(struct rpc_call *c, struct json_object *params, const char *name,
               char out[NS_UUID_LEN + 1]);
/* "vm": a valid name of an existing VM the peer may act on (1003 / 1005 otherwise). */
int param_vm(struct rpc_call *c, struct json_object *params, struct ns_vm **out);
/* Whether the peer may act on vm. */
bool peer_may_use(const struct rpc_call *c, const struct ns_vm *vm);

#endif
