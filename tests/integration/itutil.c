#include "itutil.h"

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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

struct sink {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Reads what is there; closes the sink at EOF or, when draining, once nothing is left. */
static void
sink_read(struct sink *s, bool drain)
{
	char tmp[4096];

	if (drain && s->fd >= 0)
		fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	while (s->fd >= 0) {
		ssize_t n = read(s->fd, tmp, sizeof(tmp));

		if (n <= 0) {
			close(s->fd);
			s->fd = -1;
			return;
		}
		if (s->len + (size_t)n + 1 > s->cap) {
			s->cap = (s->len + (size_t)n + 1) * 2;
			s->buf = realloc(s->buf, s->cap);
		}
		memcpy(s->buf + s->len, tmp, (size_t)n);
		s->len += (size_t)n;
		s->buf[s->len] = '\0';
		if (!drain)
			return;
	}
}

static char *
sink_take(struct sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	return s->buf ? s->buf : strdup("");
}

int
itu_run(char **out, char **err, unsigned timeout_s, char *const *args)
{
	struct sink sinks[2] = {{.fd = -1}, {.fd = -1}};
	char *argv[MAX_ARGS], *wrap = NULL, *o, *e;
	const char *daemon = getenv("PASIDD") ? getenv("PASIDD") : "pasidd";
	int po[2], pe[2], status = 0, n = 0;
	struct timespec start, now;
	pid_t pid;

	if (getenv("PASIDD_WRAPPER") && *getenv("PASIDD_WRAPPER")) {
		wrap = strdup(getenv("PASIDD_WRAPPER"));
		for (char *t = strtok(wrap, " "); t && n < MAX_ARGS - 16; t = strtok(NULL, " "))
			argv[n++] = t;
	}
	argv[n++] = (char *)daemon;
	while (args && *args && n < MAX_ARGS - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("NOTIFY_SOCKET");
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[0], argv);
		_exit(127);
	}
	free(wrap);
	close(po[1]);
	close(pe[1]);
	sinks[0].fd = po[0];
	sinks[1].fd = pe[0];
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p[2];
		int idx[2], np = 0;

		for (int i = 0; i < 2; i++)
			if (sinks[i].fd >= 0) {
				idx[np] = i;
				p[np++] = (struct pollfd){.fd = sinks[i].fd, .events = POLLIN};
			}
		if (np)
			poll(p, (nfds_t)np, 50);
		else
			usleep(10000);
		for (int k = 0; k < np; k++)
			if (p[k].revents)
				sink_read(&sinks[idx[k]], false);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
	}
	/* What it wrote before it ended, without waiting for a daemon it left behind, which
	 * may hold the pipes still. */
	for (int i = 0; i < 2; i++)
		sink_read(&sinks[i], true);
	o = sink_take(&sinks[0]);
	e = sink_take(&sinks[1]);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
