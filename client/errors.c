/* libpasid: the error model. struct pasid_error carries a daemon's JSON-RPC error or a local
 * -errno; these helpers fill it for every other layer and call nothing of theirs. */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pasid-proto.h"

void
lp_clear_error(struct pasid_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

void
lp_copy_error(struct pasid_error *dst, const struct pasid_error *src)
{
	if (dst)
		*dst = *src;
}

int
lp_fail(struct pasid_error *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return rc;
	memset(err, 0, sizeof(*err));
	err->code = rc;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

int
lp_nomem(struct pasid_error *err)
{
	return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
}

int
lp_bad_reply(struct pasid_error *err, const char *what)
{
	return lp_fail(err, -EPROTO, "malformed reply from pasidd: %s", what);
}

const char *
pasid_error_reason(int code)
{
	return proto_error_reason(code);
}
