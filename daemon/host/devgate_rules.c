/* The pure rules of the device gate (devgate_rules.h). */
#include "devgate_rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

int
devgate_char_major(const char *text, const char *name)
{
	bool chr = false;
	size_t nl = strlen(name);

	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n'), *p = line;
		size_t n = end ? (size_t)(end - line) : strlen(line);
		unsigned long major;
		char *after;

		/* Section headers start at the margin; entries are indented numbers. */
		if (n && line[0] != ' ' && (line[0] < '0' || line[0] > '9'))
			chr = !strncmp(line, "Character devices:", n < 18 ? n : 18) && n >= 18;
		else if (chr) {
			while (*p == ' ')
				p++;
			major = strtoul(p, &after, 10);
			if (after != p && *after == ' ' && major <= 4095) {
				while (*after == ' ')
					after++;
				if ((size_t)(line + n - after) == nl && !strncmp(after, name, nl))
					return (int)major;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

/* A decimal number up to max, the whole of [s, s+n). */
static bool
number(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!n || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

int
devgate_allow_parse(const char *s, struct devgate_dev *dev, char *why, size_t len)
{
	const char *colon = strchr(s, ':');

	if (s[0] == '/')
		return 0;
	/* The kernel's dev_t: 12 bits of major, 20 of minor. */
	if (colon && number(s, (size_t)(colon - s), 4095, &dev->major) &&
	    number(colon + 1, strlen(colon + 1), (1u << 20) - 1, &dev->minor))
		return 1;
	snprintf(why, len,
	         "DeviceAllow= takes MAJOR:MINOR of a character device or the absolute path of "
	         "its node, not '%.64s'",
	         s);
	return -EINVAL;
}

int
devgate_allow_resolve(const char *s, struct devgate_dev *dev, char *why, size_t len)
{
	struct stat st;
	int r = devgate_allow_parse(s, dev, why, len);

	if (r != 0)
		return r < 0 ? r : 0;
	if (stat(s, &st) < 0) {
		r = -errno;
		snprintf(why, len, "DeviceAllow=%.200s: %s", s, strerror(errno));
		return r;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(why, len, "DeviceAllow=%.200s is not a character device", s);
		return -ENOTTY;
	}
	dev->major = major(st.st_rdev);
	dev->minor = minor(st.st_rdev);
	return 0;
}

/* Whether cgroup a is b or an ancestor of b. */
static bool
covers(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (!strcmp(a, "/"))
		return true;
	return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '/');
}

bool
devgate_cgroup_gated(const char *vm, const char *self, unsigned sharers, char *why, size_t len)
{
	if (!vm || !vm[0]) {
		snprintf(why, len, "its owner's cgroup is not known");
		return false;
	}
	if (!strcmp(vm, "/")) {
		snprintf(why, len, "its owner is in the root cgroup");
		return false;
	}
	if (self && self[0] && covers(vm, self)) {
		snprintf(why, len, "its owner's cgroup %.160s is pasidd's own%s", vm,
		         strcmp(vm, self) ? " or above it" : "");
		return false;
	}
	if (sharers > 1) {
		snprintf(why, len, "its owner's cgroup %.160s holds %u VMs", vm, sharers);
		return false;
	}
	why[0] = '\0';
	return true;
}
