#include "fsguard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symlinks followed in one walk, as the kernel's own limit for one lookup. */
#define MAX_LINKS 40

struct walk {
	int fd;               /* the directory reached so far (O_PATH) */
	struct stat st;       /* its stat */
	char shown[PATH_MAX]; /* its path, for messages */
	const char *what;
	const char *dir;
	char *why;
	size_t len;
};

static bool
trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static const char *
owner(uid_t uid, char *buf, size_t n)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, n, "uid %u (%s)", (unsigned)uid, pw->pw_name);
	else
		snprintf(buf, n, "uid %u", (unsigned)uid);
	return buf;
}

static int refuse(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
refuse(struct walk *w, const char *fmt, ...)
{
	int n = snprintf(w->why, w->len, "refusing the %s %s: ", w->what, w->dir);
	va_list ap;

	if (n >= 0 && (size_t)n < w->len) {
		va_start(ap, fmt);
		vsnprintf(w->why + n, w->len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EPERM;
}

static int
sys_fail(struct walk *w, const char *op, const char *name)
{
	int e = errno;

	snprintf(w->why, w->len, "cannot %s %s%s%s: %s", op, w->shown,
	         strcmp(w->shown, "/") && name[0] ? "/" : "", name, strerror(e));
	return -e;
}

/* Looking up `name` in the current directory: nobody but root or us may be able to put
 * another entry under that name. */
static int
check_lookup(struct walk *w, const char *name, const struct stat *entry)
{
	char o[96];

	if (!trusted(w->st.st_uid))
		return refuse(w, "%s is owned by %s (mode %04o), who could replace what it holds",
		              w->shown, owner(w->st.st_uid, o, sizeof(o)),
		              (unsigned)(w->st.st_mode & 07777));
	if (!(w->st.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if (!(w->st.st_mode & S_ISVTX))
		return refuse(w,
		              "%s (owned by %s, mode %04o) is writable by others and has no sticky "
		              "bit, so they could replace what it holds",
		              w->shown, owner(w->st.st_uid, o, sizeof(o)),
		              (unsigned)(w->st.st_mode & 07777));
	if (!trusted(entry->st_uid))
		return refuse(w,
		              "%s%s%s is owned by %s, in %s, which others may write to (mode %04o)",
		              w->shown, strcmp(w->shown, "/") ? "/" : "", name,
		              owner(entry->st_uid, o, sizeof(o)), w->shown,
		              (unsigned)(w->st.st_mode & 07777));
	return 0;
}

static int
enter(struct walk *w, int fd, const struct stat *st, const char *shown)
{
	close(w->fd);
	w->fd = fd;
	w->st = *st;
	if (shown != w->shown)
		snprintf(w->shown, sizeof(w->shown), "%s", shown);
	return 0;
}

static int
enter_root(struct walk *w)
{
	struct stat st;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return sys_fail(w, "open", "");
	}
	return enter(w, fd, &st, "/");
}

/* Pops the next component of rest into name; false when none is left. */
static bool
next_component(char *rest, char *name, size_t n)
{
	char *p = rest;
	size_t k;

	while (*p == '/')
		p++;
	if (!*p)
		return false;
	k = strcspn(p, "/");
	if (k >= n)
		k = n - 1; /* too long for a name: the lookup fails with ENAMETOOLONG anyway */
	memcpy(name, p, k);
	name[k] = '\0';
	p += strcspn(p, "/");
	memmove(rest, p, strlen(p) + 1);
	return true;
}

static bool
only_slashes(const char *s)
{
	return s[strspn(s, "/")] == '\0';
}

/* "..": back to the directory the walk came from. */
static int
step_up(struct walk *w)
{
	char *slash = strrchr(w->shown, '/');
	char shown[PATH_MAX];
	struct stat st;
	int fd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return sys_fail(w, "open", "..");
	}
	snprintf(shown, sizeof(shown), "%.*s",
	         slash && slash != w->shown ? (int)(slash - w->shown) : 1, w->shown);
	return enter(w, fd, &st, shown);
}

/* The entry `name` of the current directory into *st, created first (a directory of mode
 * `mode`) when it is missing and flags allow it; last: no component follows it. */
static int
look_up(struct walk *w, const char *name, bool last, unsigned flags, mode_t mode, struct stat *st)
{
	int r;

	if (fstatat(w->fd, name, st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return sys_fail(w, "look up", name);
	if (!(flags & FSGUARD_MKDIR_ALL) && !(last && (flags & FSGUARD_MKDIR_LAST))) {
		snprintf(w->why, w->len, "the %s %s does not exist (%s%s%s is missing)", w->what,
		         w->dir, w->shown, strcmp(w->shown, "/") ? "/" : "", name);
		return -ENOENT;
	}
	/* Checked before anything is created in it. */
	r = check_lookup(w, name, &w->st);
	if (r < 0)
		return r;
	if (mkdirat(w->fd, name, mode) < 0 && errno != EEXIST)
		return sys_fail(w, "create", name);
	if (fstatat(w->fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return sys_fail(w, "look up", name);
	return 0;
}

/* A symlink that passed check_lookup(): its target takes its place in what is left to walk,
 * rest (of size restsz). */
static int
follow_link(struct walk *w, const char *name, char *rest, size_t restsz, int *links)
{
	char target[PATH_MAX];
	ssize_t t = readlinkat(w->fd, name, target, sizeof(target) - 1);
	size_t rl = strlen(rest);

	if (t < 0)
		return sys_fail(w, "read the link", name);
	if (++*links > MAX_LINKS || (size_t)t + 1 + rl >= restsz) {
		snprintf(w->why, w->len, "the %s %s: too many or too long symlinks", w->what,
		         w->dir);
		return -ELOOP;
	}
	memmove(rest + t + 1, rest, rl + 1);
	memcpy(rest, target, (size_t)t);
	rest[t] = '/';
	return target[0] == '/' ? enter_root(w) : 0;
}

/* Into the directory `name`, which look_up() saw as st and check_lookup() passed. */
static int
step_into(struct walk *w, const char *name, const struct stat *st)
{
	char shown[PATH_MAX];
	struct stat nst;
	int fd;

	if (!S_ISDIR(st->st_mode)) {
		snprintf(w->why, w->len, "the %s %s: %s%s%s is not a directory", w->what, w->dir,
		         w->shown, strcmp(w->shown, "/") ? "/" : "", name);
		return -ENOTDIR;
	}
	fd = openat(w->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &nst) < 0) {
		if (fd >= 0)
			close(fd);
		return sys_fail(w, "open", name);
	}
	/* Only root or we could have changed it since; refuse rather than guess. */
	if (nst.st_dev != st->st_dev || nst.st_ino != st->st_ino) {
		close(fd);
		snprintf(w->why, w->len, "the %s %s changed while it was being checked", w->what,
		         w->dir);
		return -EAGAIN;
	}
	if (snprintf(shown, sizeof(shown), "%s%s%s", w->shown, strcmp(w->shown, "/") ? "/" : "",
	             name) >= (int)sizeof(shown)) {
		close(fd);
		snprintf(w->why, w->len, "the %s %s: path too long", w->what, w->dir);
		return -ENAMETOOLONG;
	}
	return enter(w, fd, &nst, shown);
}

/* The directory reached: owned by root or us, and writable by nobody else. */
static int
check_target(struct walk *w)
{
	char us[32] = "", o[96];

	if (trusted(w->st.st_uid) && !(w->st.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if (geteuid() != 0)
		snprintf(us, sizeof(us), " or uid %u", (unsigned)geteuid());
	return refuse(w,
	              "%s is owned by %s with mode %04o; it must be owned by root%s and "
	              "writable by its owner only",
	              strcmp(w->shown, w->dir) ? w->shown : "it", owner(w->st.st_uid, o, sizeof(o)),
	              (unsigned)(w->st.st_mode & 07777), us);
}

int
fsguard_open_dir(const char *dir, const char *what, unsigned flags, mode_t mode, int *fd_out,
                 char *why, size_t len)
{
	struct walk w = {.fd = -1, .what = what, .dir = dir, .why = why, .len = len};
	char rest[2 * PATH_MAX], name[NAME_MAX + 1];
	int links = 0, r, fd;

	*fd_out = -1;
	if (dir[0] != '/' || strlen(dir) >= PATH_MAX) {
		snprintf(why, len, "the %s %s is not an absolute path", what, dir);
		return -EINVAL;
	}
	strcpy(rest, dir);
	r = enter_root(&w);
	while (r == 0 && next_component(rest, name, sizeof(name))) {
		struct stat st;

		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			r = step_up(&w);
			continue;
		}
		r = look_up(&w, name, only_slashes(rest), flags, mode, &st);
		if (r == 0)
			r = check_lookup(&w, name, &st);
		if (r == 0)
			r = S_ISLNK(st.st_mode) ? follow_link(&w, name, rest, sizeof(rest), &links)
			                        : step_into(&w, name, &st);
	}
	if (r == 0)
		r = check_target(&w);
	if (r == 0) {
		fd = openat(w.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			r = sys_fail(&w, "open", "");
		else
			*fd_out = fd;
	}
	if (w.fd >= 0)
		close(w.fd);
	return r;
}
