/* Runs pasidd as under systemd with StandardError=journal, with the journal being the test's:
 * in a private mount namespace, /run/systemd gets a tmpfs with journal/socket bound to the
 * datagram socket the test listens on (IT_JOURNAL_SOCKET), where libsystemd's sd_journal_*
 * send (the path is fixed); JOURNAL_STREAM names stderr, so that pasidd logs natively there.
 * Then argv[1..] is executed in this same process. Exits 77 when the namespace cannot be
 * made (not root). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	const char *sock = getenv("IT_JOURNAL_SOCKET");
	struct stat st;
	char stream[64];
	int fd;

	if (argc < 2 || !sock) {
		fprintf(stderr,
		        "usage: IT_JOURNAL_SOCKET=PATH journal-launcher PROGRAM [ARG...]\n");
		return 127;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "journal-launcher: private mount namespace: %s\n", strerror(errno));
		return 77;
	}
	mkdir("/run/systemd", 0755);
	if (mount("tmpfs", "/run/systemd", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
	    mkdir("/run/systemd/journal", 0755) < 0 ||
	    (fd = open("/run/systemd/journal/socket", O_CREAT | O_WRONLY | O_CLOEXEC, 0666)) < 0) {
		fprintf(stderr, "journal-launcher: /run/systemd/journal: %s\n", strerror(errno));
		return 77;
	}
	close(fd);
	if (mount(sock, "/run/systemd/journal/socket", NULL, MS_BIND, NULL) < 0) {
		fprintf(stderr, "journal-launcher: binding %s: %s\n", sock, strerror(errno));
		return 77;
	}
	if (fstat(STDERR_FILENO, &st) < 0)
		return 127;
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	execvp(argv[1], argv + 1); /* the wrapper (valgrind) is found on PATH */
	fprintf(stderr, "journal-launcher: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
