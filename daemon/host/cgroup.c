#include "cgroup.h"
#include "log.h"
#include "quota.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

/* Copies a mountinfo field, undoing the kernel's octal escapes of blanks and backslashes
 * (\040, \011, \012, \134). -ENAMETOOLONG when it does not fit. */
static int
unescape(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Splits one mountinfo line into its blank-separated fields. */
static unsigned
fields(const char *line, size_t n, const char **f, size_t *flen, unsigned max)
{
	unsigned k = 0;
	size_t i = 0;

	while (i < n && k < max) {
		while (i < n && line[i] == ' ')
			i++;
		if (i >= n)
			break;
		f[k] = line + i;
		while (i < n && line[i] != ' ')
			i++;
		flen[k] = (size_t)(line + i - f[k]);
		k++;
	}
	return k;
}

int
cgroup_parse_mountinfo(const char *text, char *mnt, size_t mntlen, char *root, size_t rootlen)
{
	const char *line = text;

	while (line && *line) {
		const char *nl = strchr(line, '\n'), *f[64];
		size_t n = nl ? (size_t)(nl - line) : strlen(line), flen[64];
		unsigned k = fields(line, n, f, flen, 64), sep;

		/* id parent maj:min root mountpoint options [optional...] - fstype source super */
		for (sep = 6; sep < k; sep++)
			if (flen[sep] == 1 && f[sep][0] == '-')
				break;
		if (k >= 5 && sep + 1 < k && flen[sep + 1] == 7 &&
		    !memcmp(f[sep + 1], "cgroup2", 7)) {
			if (unescape(f[4], flen[4], mnt, mntlen) == 0 &&
			    unescape(f[3], flen[3], root, rootlen) == 0)
				return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int
cgroup_find_mount(char *mnt, size_t mntlen, char *root, size_t rootlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = -ENOENT;

	if (!f)
		return -errno;
	/* One line at a time: mountinfo can be long on hosts with many containers. */
	while (r < 0 && (n = getline(&text, &cap, f)) > 0)
		r = cgroup_parse_mountinfo(text, mnt, mntlen, root, rootlen);
	free(text);
	fclose(f);
	return r;
}

int
cgroup_dir(const char *mnt, const char *root, const char *cgroup, char *out, size_t len)
{
	size_t rl = strcmp(root, "/") ? strlen(root) : 0;
	int n;

	if (rl && (strncmp(cgroup, root, rl) || (cgroup[rl] && cgroup[rl] != '/')))
		return -ENOENT;
	cgroup += rl;
	n = snprintf(out, len, "%s%s", mnt, strcmp(cgroup, "/") ? cgroup : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int
cgroup_read_max(const char *mnt, const char *root, const char *cgroup, uint64_t *max)
{
	char dir[CGROUP_PATH_MAX + 512], val[64];
	ssize_t n;
	int r = cgroup_dir(mnt, root, cgroup, dir, sizeof(dir));

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	n = getxattr(dir, CGROUP_XATTR, val, sizeof(val));
	if (n < 0) {
		if (errno == ENODATA || errno == ENOENT || errno == ENOTDIR)
			return 0;
		return errno == ERANGE ? -EINVAL : -errno;
	}
	return cgroup_parse_max(val, (size_t)n, max);
}

/* The xattr reader quotas are fed with: the mount, and whether a failure has been said. */
struct xattr_reader {
	char *mnt, *root;
	bool warned;
};

static int
read_limit(void *ctx, const char *cgroup, uint64_t *max)
{
	struct xattr_reader *x = ctx;
	int r = cgroup_read_max(x->mnt, x->root, cgroup, max);

	if (r == -EINVAL) {
		log_warn("cgroup %s: %s is neither a number nor max; ignored", cgroup,
		         CGROUP_XATTR);
	} else if (r < 0 && !x->warned) {
		log_warn("cannot read %s of cgroup %s: %s; such limits are ignored", CGROUP_XATTR,
		         cgroup, strerror(-r));
		x->warned = true;
	}
	return r;
}

static void
free_reader(void *ctx)
{
	struct xattr_reader *x = ctx;

	free(x->mnt);
	free(x->root);
	free(x);
}

int
cgroup_feed_quota(struct quota *q, const char *mnt, const char *root)
{
	struct xattr_reader *x = calloc(1, sizeof(*x));

	if (!x || !(x->mnt = strdup(mnt)) || !(x->root = strdup(root ? root : "/"))) {
		if (x)
			free_reader(x);
		return -ENOMEM;
	}
	quota_set_reader(q,
	                 &(struct quota_reader){.read = read_limit, .free = free_reader, .ctx = x});
	return 0;
}
