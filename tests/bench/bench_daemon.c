/*
 * Daemon benchmarks, each beside a baseline measured in the same run:
 *   round trips   raw Unix-socket echo  vs  pasidd daemon.status
 *   alloc+free    pasidd with the state on tmpfs and on disk  vs  the namespace in-process
 *                 without any I/O (what durability and the socket cost)
 *   pipelined     64 requests per write (group commit shares one fdatasync)
 *   with a WQ     the same alloc+free on tmpfs, each alloc naming an idxd work queue of a
 *                 fixture tree: what reading the WQ from sysfs at each request costs
 * (Start-up at full scale is bench_startup's.)
 * Usage: bench_daemon [N [DISK_DIR]]: N round trips (default 20,000), 10 N pairs 64 per write
 * on tmpfs, N/10 and 3.2 N on disk. Prints figures; never fails on timing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends.h"
#include "bench_common.h"
#include "harness.h"
#include "idxd_fixture.h"
#include "namespace.h"

/* Exactly one line back per line in, like the daemon, but no work. */
static pid_t
echo_server(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0) {
		perror("echo bind");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		int c = accept(lfd, NULL, NULL);
		char buf[65536];
		ssize_t n;

		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, (size_t)n) != n)
				break;
		_exit(0);
	}
	close(lfd);
	return pid;
}

/* Bulk line reader: it_recvline reads byte by byte, which would measure the client. */
static int
read_lines(int fd, int want)
{
	char buf[65536];
	int got = 0;

	while (got < want) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			return -1;
		for (ssize_t i = 0; i < n; i++)
			got += buf[i] == '\n';
	}
	return 0;
}

static double
roundtrips(int fd, const char *line, int n)
{
	char req[256];
	size_t len = (size_t)snprintf(req, sizeof(req), "%s\n", line);
	double t0 = bench_now();

	for (int i = 0; i < n; i++) {
		if (it_send(fd, req, len) < 0 || read_lines(fd, 1) < 0) {
			fprintf(stderr, "no answer\n");
			exit(1);
		}
	}
	return n / (bench_now() - t0);
}

/* A fixture tree under dir/sys with the shared WQ dsa0/wq0.1, and a configuration naming it
 * in conf. */
static void
wq_fixture(struct it_daemon *d, char *conf, size_t len)
{
	static const struct idxd_fx_wq wq = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 0, 1};
	char sys[300], text[400];

	snprintf(sys, sizeof(sys), "%s/sys", d->dir);
	snprintf(text, sizeof(text), "[Idxd]\nSysfsRoot=%s\n", sys);
	if (idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL) < 0 ||
	    idxd_fx_wq(sys, "dsa0", &wq) < 0 || it_write_file(d, "wq.conf", text, conf, len) < 0) {
		fprintf(stderr, "cannot build the idxd fixture in %s\n", sys);
		exit(1);
	}
}

static double
alloc_free_rate(const char *statedir, int n, int batch, bool with_wq)
{
	struct it_daemon d;
	double rate;
	int fd;
	char *req = NULL, conf[300];
	size_t len = 0;

	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "%s", statedir);
	snprintf(d.sock, sizeof(d.sock), "%s/b.sock", statedir);
	snprintf(d.state, sizeof(d.state), "%s/state", statedir);
	snprintf(d.log, sizeof(d.log), "%s/log", statedir);
	if (with_wq)
		wq_fixture(&d, conf, sizeof(conf));
	if (with_wq ? it_restart(&d, "--config", conf, NULL) < 0 : it_restart(&d, NULL) < 0) {
		fprintf(stderr, "cannot start pasidd in %s\n", statedir);
		exit(1);
	}
	fd = it_connect(&d);
	free(it_roundtrip(fd, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"vm.register\","
	                      "\"params\":{\"vm\":\"bench\"}}"));
	FILE *f = open_memstream(&req, &len);
	for (int i = 0; i < batch; i++)
		fprintf(
		    f,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\",\"params\":{\"vm\":"
		    "\"bench\",\"type\":\"shared\",\"gpasid\":%d%s}}\n"
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.free\",\"params\":{\"vm\":"
		    "\"bench\",\"gpasid\":%d}}\n",
		    i, i + 1, with_wq ? ",\"wq\":\"dsa0/wq0.1\"" : "", i, i + 1);
	fclose(f);
	double t0 = bench_now();
	for (int done = 0; done < n; done += batch) {
		if (it_send(fd, req, len) < 0 || read_lines(fd, 2 * batch) < 0) {
			fprintf(stderr, "connection lost\n");
			exit(1);
		}
	}
	rate = n / (bench_now() - t0);
	close(fd);
	it_stop(&d);
	free(req);
	return rate;
}

static double
inprocess_rate(int n)
{
	struct ns ns;
	struct backend *be;
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	struct ns_owner o = {.pid = 1, .starttime = 1};
	struct ns_vm *vm;
	struct ns_err err;
	struct ns_mapping *m;
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 1};
	char why[160];
	double t0;

	backend_open("sim", &be, why, sizeof(why));
	ns_init(&ns, &cfg, be);
	ns_vm_create(&ns, "bench", "00000000-0000-4000-8000-000000000000", NS_MODE_TRANSLATED, &o,
	             "/", -1, &vm, &err);
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		ns_alloc(&ns, vm, &req, &m, &err);
		ns_free(&ns, vm, m->gpasid, &err);
	}
	double rate = n / (bench_now() - t0);
	ns_destroy(&ns);
	backend_close(be);
	return rate;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 && atoi(argv[1]) >= 640 ? atoi(argv[1]) : 20000;
	const char *disk = argc > 2 && *argv[2] ? argv[2] : "/var/tmp";
	char echo_path[] = "/tmp/pasidd-bench-echo.sock", tmpfs[64], diskdir[128];
	struct it_daemon d;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getenv("PASIDD"))
		setenv("PASIDD", PASIDD_BIN, 0);
	printf("round trips (one request in flight), %d each:\n", n);
	pid_t echo = echo_server(echo_path);
	struct it_daemon e = {0};
	snprintf(e.sock, sizeof(e.sock), "%s", echo_path);
	usleep(50000);
	fd = it_connect(&e);
	printf("  %-44s %10.0f /s\n", "baseline: raw Unix-socket echo",
	       roundtrips(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}", n));
	close(fd);
	waitpid(echo, NULL, 0);
	unlink(echo_path);
	if (it_start(&d, NULL) < 0)
		return 1;
	fd = it_connect(&d);
	printf("  %-44s %10.0f /s\n", "pasidd daemon.status",
	       roundtrips(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}", n));
	close(fd);
	it_cleanup(&d);

	printf("alloc+free pairs (each durable before its answer):\n");
	printf("  %-44s %10.0f /s\n", "baseline: namespace in-process, no I/O",
	       inprocess_rate(1000000));
	snprintf(tmpfs, sizeof(tmpfs), "/dev/shm/pasidd-bench.XXXXXX");
	snprintf(diskdir, sizeof(diskdir), "%s/pasidd-bench.XXXXXX", disk);
	if (!mkdtemp(tmpfs) || !mkdtemp(diskdir)) {
		perror("mkdtemp");
		return 1;
	}
	printf("  %-44s %10.0f /s\n", "pasidd, state on tmpfs, 1 pair per write",
	       alloc_free_rate(tmpfs, n, 1, false));
	printf("  %-44s %10.0f /s\n", "pasidd, state on tmpfs, 64 pairs per write",
	       alloc_free_rate(tmpfs, 10 * n, 64, false));
	printf("  %-44s %10.0f /s\n", "pasidd, state on tmpfs, 64 pairs, wq checked",
	       alloc_free_rate(tmpfs, 10 * n, 64, true));
	printf("  %-44s %10.0f /s\n", "pasidd, state on disk, 1 pair per write",
	       alloc_free_rate(diskdir, n / 10, 1, false));
	printf("  %-44s %10.0f /s\n", "pasidd, state on disk, 64 pairs per write",
	       alloc_free_rate(diskdir, n / 10 * 32, 64, false));
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", tmpfs, diskdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return 0;
}
