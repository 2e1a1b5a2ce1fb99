/* Real cgroups for integration tests (itcgroup.h). */
#include "itcgroup.h"
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

bool
itcg_open(struct itcg *g, const char *prefix, char *why, size_t len)
{
	char line[4096], root[1024] = "", path[2048];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	memset(g, 0, sizeof(*g));
	while (f && fgets(line, sizeof(line), f)) {
		char m[1024], r[1024], *dash = strstr(line, " - cgroup2 ");

		if (dash && sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) == 2) {
			snprintf(g->mnt, sizeof(g->mnt), "%s", m);
			snprintf(root, sizeof(root), "%s", r);
			break;
		}
	}
	if (f)
		fclose(f);
	if (!g->mnt[0] || strcmp(root, "/")) {
		snprintf(why, len, "no cgroup2 mount of the whole hierarchy");
		return false;
	}
	/* mkdtemp's name, made as a cgroup. */
	snprintf(path, sizeof(path), "%s/%s.XXXXXX", g->mnt, prefix);
	if (!mkdtemp(path)) {
		snprintf(why, len, "cannot make a cgroup under %s: %s", g->mnt, strerror(errno));
		return false;
	}
	snprintf(g->top, sizeof(g->top), "%s", path + strlen(g->mnt));
	return true;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char procs[2048];
	FILE *f;
	int pid;

	(void)st;
	(void)ftw;
	if (flag != FTW_DP)
		return 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	if ((f = fopen(procs, "re"))) {
		while (fscanf(f, "%d", &pid) == 1)
			kill(pid, SIGKILL);
		fclose(f);
	}
	/* A killed process leaves its cgroup a moment after the signal. */
	for (int i = 0; i < 50 && rmdir(path) < 0 && errno == EBUSY; i++)
		usleep(20000);
	return 0;
}

void
itcg_remove(struct itcg *g)
{
	char path[2048];

	if (!g->top[0])
		return;
	itcg_dir(g, g->top, path, sizeof(path));
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	g->top[0] = '\0';
}

const char *
itcg_path(const struct itcg *g, const char *rel)
{
	char *s;

	ck_assert_int_ge(asprintf(&s, "%s/%s", g->top, rel), 0);
	return it_keep_str(s);
}

void
itcg_dir(const struct itcg *g, const char *cgroup, char *out, size_t len)
{
	snprintf(out, len, "%s%s", g->mnt, cgroup);
}

void
itcg_mk(const struct itcg *g, const char *cgroup)
{
	char path[2048], *p;

	itcg_dir(g, cgroup, path, sizeof(path));
	for (p = path + strlen(g->mnt) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
		              strerror(errno));
		*p = '/';
	}
	ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
	              strerror(errno));
}

void
itcg_move(const struct itcg *g, pid_t pid, const char *cgroup)
{
	char path[2048];
	FILE *f;

	itcg_dir(g, cgroup, path, sizeof(path));
	strncat(path, "/cgroup.procs", sizeof(path) - strlen(path) - 1);
	f = fopen(path, "we");
	ck_assert_msg(f, "open %s: %s", path, strerror(errno));
	fprintf(f, "%d\n", (int)pid);
	ck_assert_msg(fclose(f) == 0, "moving %d to %s: %s", (int)pid, cgroup, strerror(errno));
}

pid_t
itcg_owner_in(struct itcg *g, const char *cgroup)
{
	pid_t parent = getpid(), pid;

	itcg_mk(g, cgroup);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;)
			pause();
	}
	ck_assert_uint_lt(g->nowners, sizeof(g->owners) / sizeof(g->owners[0]));
	g->owners[g->nowners++] = pid;
	itcg_move(g, pid, cgroup);
	return pid;
}

void
itcg_owner_kill(struct itcg *g, pid_t pid)
{
	for (unsigned i = 0; i < g->nowners; i++) {
		if (g->owners[i] == pid) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			g->owners[i] = g->owners[--g->nowners];
			return;
		}
	}
}

void
itcg_owners_kill(struct itcg *g)
{
	while (g->nowners) {
		kill(g->owners[--g->nowners], SIGKILL);
		waitpid(g->owners[g->nowners], NULL, 0);
	}
}
