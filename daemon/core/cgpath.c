/* The canonical forms of cgroup v2 paths and limits: pure text, no file system. */
#include "cgpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cgroup_normalize(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const char *p = in;

	if (in[0] != '/' || len < 2)
		return -EINVAL;
	out[o++] = '/';
	while (*p) {
		const char *start, *end;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != '/')
			p++;
		end = p;
		n = (size_t)(end - start);
		if ((n == 1 && start[0] == '.') || (n == 2 && start[0] == '.' && start[1] == '.'))
			return -EINVAL;
		for (const char *c = start; c < end; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return -EINVAL;
		if (o + (o > 1) + n + 1 > len)
			return -EINVAL;
		if (o > 1)
			out[o++] = '/';
		memcpy(out + o, start, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

bool
cgroup_parent(char *path)
{
	char *slash = strrchr(path, '/');

	if (!slash || (slash == path && !path[1]))
		return false;
	if (slash == path)
		slash[1] = '\0';
	else
		*slash = '\0';
	return true;
}

int
cgroup_parse_max(const char *s, size_t len, uint64_t *max)
{
	const char *end = s + len;
	uint64_t v = 0;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end - s == 3 && !memcmp(s, "max", 3))
		return 0;
	if (s == end || end - s > 19)
		return -EINVAL;
	for (const char *c = s; c < end; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	/* 19 digits fit in 64 bits; the protocol's integers stop at INT64_MAX. */
	if (v > (uint64_t)INT64_MAX)
		return -EINVAL;
	*max = v;
	return 1;
}
