/* Reading by-name params as the method table describes them (methods.h). Every refusal is
 * -32602 naming the parameter; every function returns 0 or a negative errno with the call's
 * error set. */
#ifndef PASIDD_PARAMS_H
#define PASIDD_PARAMS_H

#include <stdbool.h>
#include <json-c/json.h>

struct rpc_call;
struct rpc_param;
struct rpc_args;

/* The value of a member, NULL when absent: a JSON null stands for "not given", as an absent
 * member does. */
struct json_object *params_member(struct json_object *params, const char *name);
/* Sets the fields of a parameter list to what stands for "absent". */
void params_init(const struct rpc_param *list, struct rpc_args *a);
/* Refuses the first member that is not in the list. */
int params_only(struct rpc_call *c, const struct rpc_param *list, struct json_object *params);
/* Reads one parameter into its field. */
int params_read(struct rpc_call *c, const struct rpc_param *p, struct json_object *params,
                struct rpc_args *a);

#endif
