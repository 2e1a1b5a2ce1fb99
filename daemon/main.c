/* pasidd: start-up, readiness, signals, shutdown. */
#include "backend.h"
#include "config.h"
#include "daemon.h"
#include "reload.h"
#include "audit.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pasidd *d = arg;

	log_info("received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(d->base);
}

/* SIGHUP: the configuration reloaded, with the service manager told when it starts and ends
 * (RELOADING=1 with the time, READY=1), so that a reload through the signal is waited for. */
static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct pasidd *d = arg;
	struct timespec now;
	char why[1024];

	clock_gettime(CLOCK_MONOTONIC, &now);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	           (unsigned long long)now.tv_sec * 1000000ULL +
	               (unsigned long long)now.tv_nsec / 1000);
	if (pasidd_reload(d, why, sizeof(why)) < 0)
		log_err("reload (SIGHUP) refused: %s", why);
	else
		audit_note(d->audit, audit_entry_new(AUDIT_CONFIG_RELOAD), "%s (SIGHUP)", why);
	sd_notifyf(0, "READY=1\nSTATUS=serving %s (backend %s)", server_path(d->srv),
	           d->be->ops->name);
}

/* The parent's side of detach(): the child writes one byte, 0 once it serves or else its
 * exit status followed by its message, and closes the pipe. Returns the status to exit with,
 * the message printed on stderr. */
static int
await_child(int fd, pid_t child)
{
	char buf[1024];
	size_t got = 0;
	int status;

	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	buf[got] = '\0';
	if (got && buf[0] == 0)
		return 0;
	if (got) {
		fprintf(stderr, "pasidd: %s\n", got > 1 ? buf + 1 : "start-up failed");
		return (unsigned char)buf[0];
	}
	/* Not a word: the child died before it could say anything. */
	if (waitpid(child, &status, 0) == child && WIFSIGNALED(status)) {
		fprintf(stderr, "pasidd: the daemon was killed by %s during start-up\n",
		        strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	fprintf(stderr, "pasidd: the daemon exited during start-up without saying why\n");
	return 1;
}

/* Detaches from the terminal. The parent stays until the child serves or has failed, then
 * exits with the child's status and prints its message, so that "pasidd && pasidctl status"
 * works and no start-up failure is silent (a readiness pipe, as OpenBSD's daemons have).
 * Returns the fd to report on, or -1. */
static int
detach(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		_exit(await_child(p[0], pid));
	}
	close(p[0]);
	setsid();
	return p[1];
}

/* status 0: serving; else the exit status that follows, with its reason. */
static void
report_ready(int fd, int status, const char *why)
{
	char buf[1024];

	if (fd < 0)
		return;
	buf[0] = (char)status;
	snprintf(buf + 1, sizeof(buf) - 1, "%s", status ? why : "");
	if (write(fd, buf, 1 + strlen(buf + 1)) < 0) {
		/* the parent is gone: nobody to tell */
	}
	close(fd);
	if (status == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
}

/* One descriptor per connection and per watched owner: a host with a thousand VMs needs
 * more than the usual soft limit of 1024. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct pasidd d = {0};
	struct event *sigs[3] = {NULL, NULL, NULL};
	sigset_t hup;
	char why[512] = "";
	int r, ready_fd = -1;

	config_init(&d.cfg);
	d.argc = argc;
	d.argv = argv;
	r = config_from_args(&d.cfg, argc, argv, why, sizeof(why));
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "pasidd: %s\n", why);
		config_free(&d.cfg);
		return r < 0 ? 2 : 0;
	}
	if (d.cfg.check_only || d.cfg.salvage) {
		log_setup(1);
		r = d.cfg.check_only ? pasidd_check(&d) : pasidd_salvage(&d);
		config_free(&d.cfg);
		return r;
	}
	if (pasidd_preflight(&d, true, why, sizeof(why)) < 0) {
		fprintf(stderr, "pasidd: %s\n", why);
		config_free(&d.cfg);
		return 2;
	}
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	/* Blocked until the loop handles them: the socket accepts before the loop runs, so a
	 * client may already ask for a reload or a stop while pasidd starts. A reload asked for
	 * then is done once serving, and a stop is a clean stop (status 0) rather than a death
	 * by the signal's default action. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigaddset(&hup, SIGTERM);
	sigaddset(&hup, SIGINT);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	log_setup(d.cfg.foreground);
	log_set_level(d.cfg.log_level);
	if (!d.cfg.foreground && (ready_fd = detach()) < 0) {
		fprintf(stderr, "pasidd: cannot detach: %s\n", strerror(errno));
		config_free(&d.cfg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &d.started);
	why[0] = '\0';
	if (pasidd_open(&d, PASIDD_LIMIT_PRIVILEGES, why, sizeof(why)) < 0) {
		log_err("%s", why);
		report_ready(ready_fd, 1, why);
		r = 1;
		goto out;
	}
	sigs[0] = evsignal_new(d.base, SIGTERM, on_signal, &d);
	sigs[1] = evsignal_new(d.base, SIGINT, on_signal, &d);
	sigs[2] = evsignal_new(d.base, SIGHUP, on_hup, &d);
	evsignal_add(sigs[0], NULL);
	evsignal_add(sigs[1], NULL);
	evsignal_add(sigs[2], NULL);
	sigprocmask(SIG_UNBLOCK, &hup, NULL);
	log_info("serving %s: backend %s, local %u-%u, shared %u-%u", server_path(d.srv),
	         d.be->ops->name, d.ns.cfg.local.first, d.ns.cfg.local.last, d.ns.cfg.shared.first,
	         d.ns.cfg.shared.last);
	if (d.cfg.foreground && isatty(STDERR_FILENO) && !getenv("LISTEN_FDS"))
		log_info("try: pasidctl --socket %s status", server_path(d.srv));
	sd_notifyf(0, "READY=1\nSTATUS=serving %s (backend %s)", server_path(d.srv),
	           d.be->ops->name);
	report_ready(ready_fd, 0, NULL);
	event_base_dispatch(d.base);
	sd_notify(0, "STOPPING=1");
	r = d.exit_status;
out:
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	pasidd_close(&d);
	config_free(&d.cfg);
	return r;
}
