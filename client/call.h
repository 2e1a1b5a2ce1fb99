/* libpasid, private: the calls layer, above the connection and below the typed calls
 * (README.md draws the layers). */
#ifndef LIBPASID_CALL_H
#define LIBPASID_CALL_H

#include "libpasid.h"

/* Forgets the outcome of the previous call (pasid_error_object(), pasid_last_result()): a
 * call that fails before it is sent must not show an older one. */
void lp_forget_outcome(struct pasid_client *c);

#endif
