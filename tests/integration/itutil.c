#include "itutil.h"

#include "harness.h"
#include "libpasid.h"
#include <check.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
itu_run(char **out, char **err, unsigned timeout_s, char *const *args)
{
	char *discard = NULL;
	int st = it_exec(out, err ? err : &discard, timeout_s, true, args);

	free(discard);
	return st;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
itu_dir_digest(const char *dir)
{
	char *lines[256], *buf = NULL;
	size_t n = 0, len = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	FILE *f;

	if (!d)
		return strdup("(no directory)");
	while ((de = readdir(d)) && n < 256) {
		char path[4096];
		struct stat st;
		uint64_t h = 14695981039346656037ull;
		int fd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		fd = S_ISREG(st.st_mode) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0) {
			unsigned char b[8192];
			ssize_t r;

			while ((r = read(fd, b, sizeof(b))) > 0)
				for (ssize_t i = 0; i < r; i++)
					h = (h ^ b[i]) * 1099511628211ull;
			close(fd);
		}
		if (asprintf(&lines[n], "%s %o %lld %016llx", de->d_name, (unsigned)st.st_mode,
		             (long long)st.st_size, (unsigned long long)h) >= 0)
			n++;
	}
	closedir(d);
	qsort(lines, n, sizeof(*lines), cmp_str);
	f = open_memstream(&buf, &len);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s\n", lines[i]);
		free(lines[i]);
	}
	fclose(f);
	return buf;
}

long
itu_frame_offset(const char *path, unsigned i)
{
	FILE *f = fopen(path, "rb");
	long off = 24;

	if (!f)
		return -1;
	for (;;) {
		unsigned char h[4];

		if (fseek(f, off, SEEK_SET) < 0 || fread(h, 1, 4, f) != 4) {
			off = -1;
			break;
		}
		if (i-- == 0)
			break;
		off += 8 + (long)((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
		                  (uint32_t)h[3] << 24);
	}
	fclose(f);
	return off;
}

int
itu_flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	unsigned char c;
	int r = -1;

	if (fd < 0)
		return -1;
	if (pread(fd, &c, 1, off) == 1) {
		c ^= 0x5a;
		r = pwrite(fd, &c, 1, off) == 1 ? 0 : -1;
	}
	close(fd);
	return r;
}

pid_t
itu_idle_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return pid;
}

void
itu_end_child(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

pid_t
itu_find_daemon(const char *sock)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = -1;

	while (d && (de = readdir(d)) && found < 0) {
		char path[300], cmd[4096];
		size_t n;
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		cmd[n] = '\0';
		/* NUL-separated arguments, the first of which may be valgrind's: one that is
		 * exactly sock, and one that names pasidd. */
		for (size_t i = 0, named = 0, ours = 0; i < n; i += strlen(cmd + i) + 1) {
			named |= strstr(cmd + i, "pasidd") != NULL;
			ours |= !strcmp(cmd + i, sock);
			if (named && ours) {
				found = (pid_t)atoi(de->d_name);
				break;
			}
		}
	}
	if (d)
		closedir(d);
	return found;
}

int
itu_has_all(const char *s, ...)
{
	const char *needle;
	va_list ap;
	int ok = s != NULL;

	va_start(ap, s);
	while ((needle = va_arg(ap, const char *)))
		if (ok && !strstr(s, needle))
			ok = 0;
	va_end(ap);
	return ok;
}

int
itu_send_fds(int sock, const void *data, size_t len, const int *fds, unsigned n)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (n == 0 || n > 4)
		return -1;
	memset(&cbuf, 0, sizeof(cbuf));
	mh.msg_control = cbuf.b;
	mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

int
itu_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

void
itu_assert_fd_count(pid_t pid, int want)
{
	int n = itu_fd_count(pid);

	for (int i = 0; i < 200 && n != want; i++) {
		usleep(5000);
		n = itu_fd_count(pid);
	}
	if (n != want) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)pid);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot list the descriptors\n");
	}
	ck_assert_msg(n == want, "pasidd holds %d descriptors, expected %d", n, want);
}

int
itu_pump_responses(struct pasid_client *c, const int64_t *ids, int *rc, int n)
{
	struct pasid_error err;
	int got = 0;

	for (int i = 0; i < 1000 && got < n; i++) {
		struct pollfd p = {.fd = pasid_fd(c), .events = POLLIN};
		int64_t which;

		if (pasid_want_write(c)) {
			int r = pasid_flush(c, &err);

			ck_assert_msg(r == 0 || r == -EAGAIN, "flush: %s", err.message);
			if (pasid_want_write(c))
				p.events |= POLLOUT;
		}
		poll(&p, 1, 10);
		ck_assert_int_ge(pasid_receive(c, &err), 0);
		for (;;) {
			int r = pasid_response_next(c, &which, NULL, &err);

			if (r == -EAGAIN)
				break;
			for (int k = 0; k < n; k++)
				if (which == ids[k])
					rc[k] = r == -EREMOTEIO ? err.code : r;
			got++;
		}
	}
	return got;
}
