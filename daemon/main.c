/* pasidd: start-up, readiness, signals, shutdown. */
#include "backend.h"
#include "config.h"
#include "log.h"
#include "owner.h"
#include "state.h"
#include "pasidd.h"
#include "server.h"

#include <errno.h>
#include <json-c/json.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pasidd *d = arg;

	log_info("received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(d->base);
}

/* Detaches from the terminal; the parent exits only once the child reports readiness, so
 * that "pasidd && pasidctl status" works. Returns the fd to report on, or -1. */
static int
detach(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 && c == '0' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void
report_ready(int fd, bool ok)
{
	if (fd < 0)
		return;
	if (write(fd, ok ? "0" : "1", 1) < 0) {
		/* the parent is gone: nobody to tell */
	}
	close(fd);
	if (ok) {
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

static int
setup(struct pasidd *d, char *why, size_t len)
{
	int r;

	d->admin_gid = (gid_t)-1;
	if (d->cfg.admin_group[0]) {
		struct group *g = getgrnam(d->cfg.admin_group);

		if (g)
			d->admin_gid = g->gr_gid;
		else
			log_warn("admin group '%s' does not exist; only root is admin",
			         d->cfg.admin_group);
	}
	r = backend_open(d->cfg.backend, &d->be, why, len);
	if (r < 0)
		return r;
	if (why[0])
		log_warn("%s", why);
	if (d->cfg.ns.pasid_bits > d->be->pasid_bits) {
		snprintf(why, len, "configured PASID width %u exceeds the %s backend's %u bits",
		         d->cfg.ns.pasid_bits, d->be->ops->name, d->be->pasid_bits);
		return -EINVAL;
	}
	r = ns_init(&d->ns, &d->cfg.ns, d->be);
	if (r < 0) {
		snprintf(why, len, "cannot set up the namespace: %s", strerror(-r));
		return r;
	}
	d->base = event_base_new();
	if (!d->base) {
		snprintf(why, len, "cannot create the event loop");
		return -ENOMEM;
	}
	/* Before any other event exists: it sets the loop's priorities. */
	r = state_open(d, why, len);
	if (r < 0)
		return r;
	return server_open(d, &d->srv, why, len);
}

int
main(int argc, char **argv)
{
	struct pasidd d = {0};
	struct event *sigs[2] = {NULL, NULL};
	char why[512] = "";
	int r, ready_fd = -1;

	config_init(&d.cfg);
	r = config_from_args(&d.cfg, argc, argv, why, sizeof(why));
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "pasidd: %s\n", why);
		config_free(&d.cfg);
		return r < 0 ? 2 : 0;
	}
	if (d.cfg.check_only) {
		printf("configuration OK: local %u-%u, shared %u-%u, %u-bit PASIDs, socket %s\n",
		       d.cfg.ns.local.first, d.cfg.ns.local.last, d.cfg.ns.shared.first,
		       d.cfg.ns.shared.last, d.cfg.ns.pasid_bits, d.cfg.socket_path);
		config_free(&d.cfg);
		return 0;
	}
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	log_setup(d.cfg.foreground);
	if (!d.cfg.foreground && (ready_fd = detach()) < 0) {
		fprintf(stderr, "pasidd: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &d.started);
	why[0] = '\0';
	if (setup(&d, why, sizeof(why)) < 0) {
		log_err("%s", why);
		report_ready(ready_fd, false);
		r = 1;
		goto out;
	}
	sigs[0] = evsignal_new(d.base, SIGTERM, on_signal, &d);
	sigs[1] = evsignal_new(d.base, SIGINT, on_signal, &d);
	evsignal_add(sigs[0], NULL);
	evsignal_add(sigs[1], NULL);
	log_info("serving %s: backend %s, local %u-%u, shared %u-%u", server_path(d.srv),
	         d.be->ops->name, d.ns.cfg.local.first, d.ns.cfg.local.last, d.ns.cfg.shared.first,
	         d.ns.cfg.shared.last);
	if (d.cfg.foreground && isatty(STDERR_FILENO) && !getenv("LISTEN_FDS"))
		log_info("try: pasidctl --socket %s status", server_path(d.srv));
	sd_notifyf(0, "READY=1\nSTATUS=serving %s (backend %s)", server_path(d.srv),
	           d.be->ops->name);
	report_ready(ready_fd, true);
	event_base_dispatch(d.base);
	sd_notify(0, "STOPPING=1");
	r = d.exit_status;
out:
	for (int i = 0; i < 2; i++)
		if (sigs[i])
			event_free(sigs[i]);
	server_close(d.srv);
	state_close(&d);
	owner_stop(&d);
	if (d.ns.vms || d.ns.shared_used.level[0])
		ns_destroy(&d.ns);
	backend_close(d.be);
	json_object_put(d.openrpc);
	if (d.base)
		event_base_free(d.base);
	config_free(&d.cfg);
	return r;
}
