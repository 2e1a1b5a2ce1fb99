/* Values of the namespace as people and files write them, and its error convention. */
#include "ns_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
fill(struct ns_err *err, enum ns_errc code, const char *param, const char *fmt, va_list ap)
{
	err->code = code;
	err->param = param;
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	err->kernel_op = NULL;
	err->kernel_errno = 0;
	err->missing[0] = '\0';
	err->map = NULL;
	err->resv = NULL;
}

int
ns_fail(struct ns_err *err, enum ns_errc code, const char *param, const char *fmt, ...)
{
	static const int errnos[] = {
	    [NS_E_NONE] = EINVAL,      [NS_E_INVALID] = EINVAL,         [NS_E_NOMEM] = ENOMEM,
	    [NS_E_NOSPACE] = ENOSPC,   [NS_E_EXHAUSTED] = ENOSPC,       [NS_E_QUOTA] = EDQUOT,
	    [NS_E_NOT_FOUND] = ENOENT, [NS_E_CONFLICT] = EEXIST,        [NS_E_PERMISSION] = EPERM,
	    [NS_E_KERNEL] = EIO,       [NS_E_UNSUPPORTED] = EOPNOTSUPP, [NS_E_RANGE] = ERANGE,
	};
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		fill(err, code, param, fmt, ap);
		va_end(ap);
	}
	return -errnos[code];
}

int
ns_fail_kernel(struct ns_err *err, const char *param, const char *op, int errnum, const char *fmt,
               ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		fill(err, NS_E_KERNEL, param, fmt, ap);
		va_end(ap);
		err->kernel_op = op;
		err->kernel_errno = errnum;
	}
	return errnum > 0 ? -errnum : -EIO;
}

int
ns_fail_missing(struct ns_err *err, const char *param, const char *missing, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		fill(err, NS_E_UNSUPPORTED, param, fmt, ap);
		va_end(ap);
		snprintf(err->missing, sizeof(err->missing), "%s", missing);
	}
	return -EOPNOTSUPP;
}

int
ns_config_check(const struct ns_config *cfg, char *why, size_t whylen)
{
	uint32_t max;

	if (cfg->pasid_bits < 1 || cfg->pasid_bits > NS_MAX_BITS) {
		snprintf(why, whylen, "PASID width %u outside 1-%u", cfg->pasid_bits, NS_MAX_BITS);
		return -EINVAL;
	}
	max = (1U << cfg->pasid_bits) - 1;
	for (int i = 0; i < 2; i++) {
		const struct ns_range *r = i ? &cfg->shared : &cfg->local;
		const char *n = i ? "shared" : "local";

		if (r->first == 0) {
			snprintf(why, whylen, "%s range must not include PASID 0", n);
			return -EINVAL;
		}
		if (r->first > r->last) {
			snprintf(why, whylen, "%s range %u-%u is reversed", n, r->first, r->last);
			return -EINVAL;
		}
		if (r->last > max) {
			snprintf(why, whylen,
			         "%s range %u-%u exceeds the %u-bit PASID width (max %u)", n,
			         r->first, r->last, cfg->pasid_bits, max);
			return -EINVAL;
		}
	}
	if (cfg->local.first <= cfg->shared.last && cfg->shared.first <= cfg->local.last) {
		snprintf(why, whylen, "local range %u-%u overlaps shared range %u-%u",
		         cfg->local.first, cfg->local.last, cfg->shared.first, cfg->shared.last);
		return -EINVAL;
	}
	return 0;
}

bool
ns_vm_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > NS_VM_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(isalnum(c) || strchr("._:@+-", c)) || c >= 0x80)
			return false;
	}
	return true;
}

static bool
hexfield(const char *s, int n, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		*out = *out * 16 + (unsigned)(isdigit((unsigned char)s[i])
		                                  ? s[i] - '0'
		                                  : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	return true;
}

int
ns_bdf_parse(const char *s, uint32_t *bdf)
{
	unsigned dom, bus, dev, fn;

	if (strlen(s) != NS_BDF_LEN || s[4] != ':' || s[7] != ':' || s[10] != '.')
		return -EINVAL;
	if (!hexfield(s, 4, &dom) || !hexfield(s + 5, 2, &bus) || !hexfield(s + 8, 2, &dev) ||
	    !hexfield(s + 11, 1, &fn) || dev > 0x1f || fn > 7)
		return -EINVAL;
	*bdf = dom << 16 | bus << 8 | dev << 3 | fn;
	return 0;
}

void
ns_bdf_format(uint32_t bdf, char out[NS_BDF_LEN + 1])
{
	snprintf(out, NS_BDF_LEN + 1, "%04x:%02x:%02x.%x", bdf >> 16, (bdf >> 8) & 0xff,
	         (bdf >> 3) & 0x1f, bdf & 7);
}

const char *
ns_mode_name(enum ns_mode m)
{
	return m == NS_MODE_IDENTITY ? "identity" : "translated";
}

const char *
ns_type_name(enum ns_type t)
{
	return t == NS_TYPE_LOCAL ? "local" : "shared";
}
