/* libpasid, private: reading results, beside the calls and below the typed calls (README.md
 * draws the layers). Each helper reports what it could not read as -EPROTO, once. */
#ifndef LIBPASID_DECODE_H
#define LIBPASID_DECODE_H

#include <json-c/json.h>

#include "libpasid.h"

/* obj's member key if it has that type, else NULL. */
struct json_object *lp_member(struct json_object *obj, const char *key, enum json_type type);
/* obj's member key, an integer from 0 to UINT32_MAX. */
int lp_get_u32(struct json_object *obj, const char *key, uint32_t *out, struct pasid_error *err);

#endif
