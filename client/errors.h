/* libpasid, private: the error model's helpers, at the bottom of the library (README.md draws the
 * layers). */
#ifndef LIBPASID_ERRORS_H
#define LIBPASID_ERRORS_H

#include "libpasid.h"

/* Fills err (if not NULL) with a local failure: code = rc (a -errno) and a message. Returns
 * rc. */
int lp_fail(struct pasid_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* lp_fail() for a failed allocation. */
int lp_nomem(struct pasid_error *err);
/* lp_fail() for an answer of the wrong shape, which is the daemon's fault: -EPROTO with
 * "malformed reply from pasidd: <what>". */
int lp_bad_reply(struct pasid_error *err, const char *what);
void lp_clear_error(struct pasid_error *err);
void lp_copy_error(struct pasid_error *dst, const struct pasid_error *src);

#endif
