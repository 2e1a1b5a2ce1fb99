/* Owner processes described for people (procinfo.h). */
#include "procinfo.h"
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <systemd/sd-login.h>
#include <unistd.h>

/* Whether the process the pidfd refers to still runs: its pid cannot have been reused. */
static bool
pin_alive(int pin)
{
	return pin < 0 || syscall(SYS_pidfd_send_signal, pin, 0, NULL, 0) == 0;
}

static int
read_cmdline(pid_t pid, char *out, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, out, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	/* Arguments end in NUL; the last one's is not shown. */
	while (n > 0 && out[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (out[i] == '\0' || out[i] == '\n')
			out[i] = ' ';
	out[n] = '\0';
	if ((size_t)n == len - 1 && len > 4)
		memcpy(out + len - 4, "...", 4);
	return 0;
}

int
procinfo_describe(pid_t pid, int pin, char *cmdline, size_t len, char *unit, size_t ulen)
{
	char *u = NULL;
	int r;

	cmdline[0] = unit[0] = '\0';
	if (!pin_alive(pin))
		return -ESRCH;
	if ((r = read_cmdline(pid, cmdline, len)) < 0)
		return r;
	if (sd_pid_get_unit(pid, &u) >= 0) {
		snprintf(unit, ulen, "%s", u);
		free(u);
	}
	/* Read while it ran: the pid named it throughout. */
	if (!pin_alive(pin)) {
		cmdline[0] = unit[0] = '\0';
		return -ESRCH;
	}
	return 0;
}

int
procinfo_cgroup(pid_t pid, int pin, char *out, size_t len)
{
	int r = proc_cgroup(pid, out, len);

	/* Read first, confirmed after: a pid reused in between fails the pidfd. */
	if (!pin_alive(pin))
		return -ESRCH;
	return r;
}
