/* Runs pasidd as systemd would with an fd store: the test that plays the service manager
 * names its notification socket in IT_NOTIFY_SOCKET (the harness clears NOTIFY_SOCKET for
 * every daemon it starts) and the descriptors it kept in IT_STORE_FDS, "fd=name fd=name ...".
 * They are moved to 3, 4, ... and announced with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID,
 * then argv[1..] is executed in this same process, as the service manager's exec would. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FDS 64

int
main(int argc, char **argv)
{
	const char *notify = getenv("IT_NOTIFY_SOCKET"), *spec = getenv("IT_STORE_FDS");
	int src[MAX_FDS], tmp[MAX_FDS], n = 0;
	char names[MAX_FDS * 64] = "", num[16];

	if (argc < 2) {
		fprintf(stderr, "usage: fdstore-launcher PROGRAM [ARG...]\n");
		return 127;
	}
	if (notify)
		setenv("NOTIFY_SOCKET", notify, 1);
	for (const char *p = spec ? spec : ""; *p && n < MAX_FDS;) {
		char name[64];
		int fd, used;

		if (sscanf(p, " %d=%63[^ ]%n", &fd, name, &used) != 2)
			break;
		src[n++] = fd;
		if (names[0])
			strcat(names, ":");
		strcat(names, name);
		p += used;
	}
	/* Out of the way first, so that moving one to 3+i never overwrites another. */
	for (int i = 0; i < n; i++)
		if ((tmp[i] = fcntl(src[i], F_DUPFD, 3 + MAX_FDS)) < 0) {
			fprintf(stderr, "fdstore-launcher: descriptor %d: %s\n", src[i],
			        strerror(errno));
			return 127;
		}
	for (int i = 0; i < n; i++) {
		close(src[i]);
		if (dup2(tmp[i], 3 + i) < 0)
			return 127;
		close(tmp[i]);
	}
	if (n) {
		snprintf(num, sizeof(num), "%d", n);
		setenv("LISTEN_FDS", num, 1);
		setenv("LISTEN_FDNAMES", names, 1);
		snprintf(num, sizeof(num), "%d", (int)getpid());
		setenv("LISTEN_PID", num, 1);
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "fdstore-launcher: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
