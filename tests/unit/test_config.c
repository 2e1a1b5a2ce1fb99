/* Config parsing: the INI format, drop-ins, command-line precedence, validation. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include <syslog.h>

static struct pasidd_config cfg;
static char err[512];

static void
setup(void)
{
	config_init(&cfg);
	err[0] = '\0';
}

static void
teardown(void)
{
	config_free(&cfg);
}

static int
load(const char *text)
{
	int r = config_load_string(&cfg, "t.conf", text, err, sizeof(err));

	return r < 0 ? r : config_finish(&cfg, err, sizeof(err));
}

START_TEST(defaults)
{
	ck_assert_int_eq(load(""), 0);
	ck_assert_uint_eq(cfg.ns.pasid_bits, 20);
	ck_assert_uint_eq(cfg.ns.local.first, 1);
	ck_assert_uint_eq(cfg.ns.local.last, 4095);
	ck_assert_uint_eq(cfg.ns.shared.first, 4096);
	ck_assert_uint_eq(cfg.ns.shared.last, 524287);
	ck_assert_uint_eq(cfg.max_message, 65536);
	ck_assert_str_eq(cfg.backend, "auto");
	ck_assert_uint_eq(cfg.socket_mode, 0660);
	ck_assert_str_eq(cfg.idxd_sysfs_root, "/sys");
}
END_TEST

START_TEST(full_file)
{
	ck_assert_int_eq(load("# comment\n; other comment\n\n[Daemon]\n  Socket = /tmp/x.sock \n"
	                      "StateDirectory=/tmp/st\nBackend=sim\nSocketMode=0600\n"
	                      "MaxMessageSize=2048\nAdminGroup=wheel\n[Namespace]\nPasidBits=16\n"
	                      "LocalRange=1-255\nSharedRange=256-40000\n"),
	                 0);
	ck_assert_str_eq(cfg.socket_path, "/tmp/x.sock");
	ck_assert_str_eq(cfg.state_dir, "/tmp/st");
	ck_assert_str_eq(cfg.backend, "sim");
	ck_assert_str_eq(cfg.admin_group, "wheel");
	ck_assert_uint_eq(cfg.socket_mode, 0600);
	ck_assert_uint_eq(cfg.max_message, 2048);
	ck_assert_uint_eq(cfg.ns.shared.last, 40000);
}
END_TEST

START_TEST(derived_shared_range)
{
	ck_assert_int_eq(load("[Namespace]\nPasidBits=16\n"), 0);
	ck_assert_uint_eq(cfg.ns.shared.first, 4096);
	ck_assert_uint_eq(cfg.ns.shared.last, 32767);
}
END_TEST

static void
bad(const char *text, const char *needle)
{
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_msg(load(text) < 0, "accepted: %s", text);
	ck_assert_msg(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
}

START_TEST(errors_name_the_problem)
{
	bad("[Daemon]\nNope=1\n", "t.conf:2: unknown key Nope=");
	bad("[Nope]\nA=1\n", "t.conf:1: unknown section [Nope]");
	bad("[Daemon]\n[Limits]\nMaxBatch=0\n", "t.conf:3: MaxBatch=");
	bad("[Namespace]\nLocalRange=1-100\nSharedRange=50-200\n", "t.conf:3: local range");
	bad("Socket=/x\n", "t.conf:1: assignment outside a section");
	bad("[Daemon]\nSocket\n", "t.conf:2: expected Key=Value");
	bad("[Daemon\n", "t.conf:1: malformed section header");
	bad("[Daemon]\nSocket=relative\n", "absolute path");
	bad("[Daemon]\nBackend=iommu\n", "Backend=");
	bad("[Daemon]\nSocketMode=999\n", "SocketMode=");
	bad("[Daemon]\nMaxMessageSize=10\n", "MaxMessageSize=");
	bad("[Namespace]\nPasidBits=21\n", "PasidBits=");
	bad("[Namespace]\nPasidBits=-1\n", "PasidBits=");
	bad("[Namespace]\nLocalRange=5\n", "LocalRange=");
	bad("[Namespace]\nLocalRange=1-5000\n", "overlaps");
	bad("[Namespace]\nSharedRange=9000-5000\n", "reversed");
	bad("[Namespace]\nLocalRange=0-10\n", "PASID 0");
	bad("[Namespace]\nSharedRange=4096-2000000\n", "width");
	bad("[Namespace]\nPasidBits=12\n", "no room");
}
END_TEST

START_TEST(files_dropins_and_args)
{
	char dir[] = "/tmp/pasidd-cfg.XXXXXX", path[128], dpath[160], cmd[200];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pasidd.conf", dir);
	f = fopen(path, "w");
	fputs("[Daemon]\nSocket=/tmp/a.sock\nBackend=sim\n", f);
	fclose(f);
	snprintf(dpath, sizeof(dpath), "%s.d", path);
	mkdir(dpath, 0755);
	snprintf(dpath, sizeof(dpath), "%s.d/20-b.conf", path);
	f = fopen(dpath, "w");
	fputs("[Daemon]\nSocket=/tmp/b.sock\n", f);
	fclose(f);
	snprintf(dpath, sizeof(dpath), "%s.d/10-a.conf", path);
	f = fopen(dpath, "w");
	fputs("[Daemon]\nSocket=/tmp/c.sock\nStateDirectory=/tmp/st\n", f);
	fclose(f);
	snprintf(dpath, sizeof(dpath), "%s.d/ignored.txt", path);
	f = fopen(dpath, "w");
	fputs("garbage\n", f);
	fclose(f);

	char *argv1[] = {"pasidd", "-c", path, NULL};
	ck_assert_int_eq(config_from_args(&cfg, 3, argv1, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.socket_path, "/tmp/b.sock"); /* the last drop-in wins */
	ck_assert_str_eq(cfg.state_dir, "/tmp/st");
	/* The files read, in order, for pasidd -n. */
	ck_assert_uint_eq(cfg.nfiles, 3);
	ck_assert_str_eq(cfg.files[0], path);
	snprintf(dpath, sizeof(dpath), "%s.d/10-a.conf", path);
	ck_assert_str_eq(cfg.files[1], dpath);
	snprintf(dpath, sizeof(dpath), "%s.d/20-b.conf", path);
	ck_assert_str_eq(cfg.files[2], dpath);
	ck_assert_ptr_null(cfg.files[3]);
	config_free(&cfg);
	config_init(&cfg);
	char *argv2[] = {"pasidd",       "--config", path,           "--socket", "/tmp/d.sock",
	                 "--pasid-bits", "18",       "--foreground", NULL};
	ck_assert_int_eq(config_from_args(&cfg, 8, argv2, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.socket_path, "/tmp/d.sock"); /* options win over files */
	ck_assert_uint_eq(cfg.ns.shared.last, (1u << 17) - 1);
	ck_assert(cfg.foreground);
	config_free(&cfg);
	config_init(&cfg);
	char *argv3[] = {"pasidd", "--config", "/nonexistent/x.conf", NULL};
	ck_assert_int_lt(config_from_args(&cfg, 3, argv3, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.conf"));
	config_free(&cfg);
	config_init(&cfg);
	char *argv4[] = {"pasidd", "--config", path, "--bogus", NULL};
	ck_assert_int_lt(config_from_args(&cfg, 4, argv4, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "--bogus"));
	config_free(&cfg);
	config_init(&cfg);
	char *argv5[] = {"pasidd", "--config", path, "--shared-range", "100-50", NULL};
	ck_assert_int_lt(config_from_args(&cfg, 5, argv5, err, sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* LogLevel= and --log-level (the option wins), MaxEventBuffer= within its bounds. */
START_TEST(log_level_and_event_buffer)
{
	char dir[] = "/tmp/pasidd-cfg.XXXXXX", path[128], cmd[200];
	FILE *f;

	ck_assert_int_eq(load(""), 0);
	ck_assert_int_eq(cfg.log_level, LOG_INFO);
	ck_assert_uint_eq(cfg.limits.max_event_buffer, 65536);
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(load("[Daemon]\nLogLevel=debug\n[Limits]\nMaxEventBuffer=4096\n"), 0);
	ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
	ck_assert_uint_eq(cfg.limits.max_event_buffer, 4096);
	bad("[Daemon]\nLogLevel=loud\n", "t.conf:2: LogLevel= must be err, warning, notice, info");
	bad("[Daemon]\nLogLevel=\n", "LogLevel=");
	bad("[Limits]\nMaxEventBuffer=4095\n", "MaxEventBuffer= must be 4096-131072");
	bad("[Limits]\nMaxEventBuffer=131073\n", "MaxEventBuffer=");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pasidd.conf", dir);
	f = fopen(path, "w");
	fputs("[Daemon]\nLogLevel=err\n", f);
	fclose(f);
	config_free(&cfg);
	config_init(&cfg);
	char *argv1[] = {"pasidd", "-c", path, "--log-level", "notice", NULL};
	ck_assert_int_eq(config_from_args(&cfg, 5, argv1, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.log_level, LOG_NOTICE);
	config_free(&cfg);
	config_init(&cfg);
	char *argv2[] = {"pasidd", "-c", path, "--log-level", "chatty", NULL};
	ck_assert_int_lt(config_from_args(&cfg, 5, argv2, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "command line: LogLevel= must be"), "%s", err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* "Key=value # note" is not a comment but part of the value: refused, saying why. */
START_TEST(trailing_comment_refused)
{
	bad("[Daemon]\nSocket=/run/x.sock # the socket\n",
	    "t.conf:2: the value of Socket= holds a '#' comment; comments must be on a line of "
	    "their own");
	bad("[Daemon]\n\nAdminGroup=  # nobody\n", "t.conf:3: the value of AdminGroup=");
	bad("[Quota]\nMax=/a 5\t# five\n", "t.conf:2: the value of Max=");
	bad("[Namespace]\nLocalRange=1-255 #small\n", "t.conf:2: the value of LocalRange=");
	/* Inside a word a '#' is just a character. */
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(load("[Daemon]\nSocket=/run/a#b.sock\n"), 0);
	ck_assert_str_eq(cfg.socket_path, "/run/a#b.sock");
}
END_TEST

START_TEST(admin_group_must_exist)
{
	gid_t gid = 0;

	ck_assert_int_eq(config_admin_gid(&cfg, &gid, err, sizeof(err)), 0);
	ck_assert_uint_eq(gid, (gid_t)-1); /* none: only root is admin */
	ck_assert_int_eq(load("[Daemon]\n\nAdminGroup=no-such-group-pasidd\n"), 0);
	ck_assert_int_eq(config_admin_gid(&cfg, &gid, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "t.conf:3: AdminGroup=no-such-group-pasidd names no group");
	ck_assert_int_eq(load("[Daemon]\nAdminGroup=root\n"), 0);
	ck_assert_int_eq(config_admin_gid(&cfg, &gid, err, sizeof(err)), 0);
	ck_assert_uint_eq(gid, 0);
}
END_TEST

START_TEST(absent_default_file_listed)
{
	ck_assert_int_eq(
	    config_load_file(&cfg, "/nonexistent/pasidd.conf", false, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nfiles, 1);
	ck_assert_str_eq(cfg.files[0], "/nonexistent/pasidd.conf (absent)");
}
END_TEST

static uint64_t
quota_max(const char *cgroup)
{
	for (size_t i = 0; i < cfg.quota.nlimits; i++)
		if (!strcmp(cfg.quota.limits[i].cgroup, cgroup))
			return cfg.quota.limits[i].max;
	return 0xdead;
}

START_TEST(quota_section)
{
	ck_assert_int_eq(load(""), 0);
	ck_assert_uint_eq(cfg.quota.nlimits, 0);
	ck_assert(!cfg.quota.has_vm_max);
	ck_assert_int_eq(load("[Quota]\nMax=/machine.slice 4096\nMax = /a b//c/  7\n"
	                      "Max=/x\t0\nMax=/ 100000\nDefaultVMMax=512\n"
	                      "Max=/machine.slice/ 64\nMax=/gone 5\nMax=/gone max\n"),
	                 0);
	ck_assert_uint_eq(cfg.quota.nlimits, 5);
	/* Canonical paths; a later line for the same cgroup wins, "max" cancels. */
	ck_assert_uint_eq(quota_max("/machine.slice"), 64);
	ck_assert_uint_eq(quota_max("/a b/c"), 7);
	ck_assert_uint_eq(quota_max("/x"), 0);
	ck_assert_uint_eq(quota_max("/"), 100000);
	ck_assert_uint_eq(quota_max("/gone"), QUOTA_NO_LIMIT);
	ck_assert(cfg.quota.has_vm_max);
	ck_assert_uint_eq(cfg.quota.vm_max, 512);
	ck_assert_int_eq(load("[Quota]\nDefaultVMMax=max\n"), 0);
	ck_assert(!cfg.quota.has_vm_max);
}
END_TEST

START_TEST(quota_errors)
{
	bad("[Quota]\nMax=machine.slice 5\n", "t.conf:2: Max=: 'machine.slice' is not an absolute");
	bad("[Quota]\nMax=/a/../b 5\n", "t.conf:2: Max=: '/a/../b' is not an absolute");
	bad("[Quota]\nMax=/a\n", "t.conf:2: Max= must be CGROUP MAX");
	bad("[Quota]\n\nMax=/a -1\n", "t.conf:3: Max=: the limit must be a number or max");
	bad("[Quota]\nMax=/a lots\n", "the limit must be a number or max, not 'lots'");
	bad("[Quota]\nMax=/a 99999999999999999999\n", "the limit must be");
	bad("[Quota]\nDefaultVMMax=-3\n", "t.conf:2: DefaultVMMax= must be a number or max");
	bad("[Quota]\nDefaultVMMax=\n", "DefaultVMMax=");
	bad("[Quota]\nMaximum=/a 1\n", "t.conf:2: unknown key Maximum= in [Quota]");
}
END_TEST

START_TEST(idxd_section)
{
	ck_assert_int_eq(load("[Idxd]\nSysfsRoot=/tmp/fixture/sys\n"), 0);
	ck_assert_str_eq(cfg.idxd_sysfs_root, "/tmp/fixture/sys");
	bad("[Idxd]\nSysfsRoot=sys\n", "t.conf:2: SysfsRoot= needs an absolute path, not 'sys'");
	bad("[Idxd]\nSysfsRoot=\n", "t.conf:2: SysfsRoot= needs an absolute path");
	bad("[Idxd]\nRoot=/sys\n", "t.conf:2: unknown key Root= in [Idxd]");
}
END_TEST

START_TEST(require_wq)
{
	ck_assert_int_eq(load(""), 0);
	ck_assert(!cfg.idxd_require_wq);
	ck_assert_int_eq(load("[Idxd]\nRequireWQ=yes\n"), 0);
	ck_assert(cfg.idxd_require_wq);
	ck_assert_int_eq(load("[Idxd]\nRequireWQ=no\n"), 0);
	ck_assert(!cfg.idxd_require_wq);
	bad("[Idxd]\nRequireWQ=1\n", "t.conf:2: RequireWQ= must be yes or no, not '1'");
}
END_TEST

START_TEST(workqueue_sections)
{
	const struct idxd_wq_conf *c;
	char line[256];

	ck_assert_int_eq(load(""), 0);
	ck_assert_uint_eq(cfg.nwqs, 0);
	ck_assert_int_eq(load("[WorkQueue]\nName=dsa0/wq0.1\nMode=shared\nType=user\nSize=32\n"
	                      "Priority=10\nGroup=0\nThreshold=16\nBlockOnFault=yes\n"
	                      "Label=vms of tenant a\n\n[Idxd]\nRequireWQ=yes\n"
	                      "[WorkQueue]\nType=kernel\nName=iax1/wq1.0\nMode=dedicated\n"
	                      "Group=-1\n"),
	                 0);
	ck_assert_uint_eq(cfg.nwqs, 2);
	c = &cfg.wqs[0];
	ck_assert_str_eq(c->name, "dsa0/wq0.1");
	ck_assert_str_eq(c->mode, "shared");
	ck_assert_str_eq(c->type, "user");
	ck_assert(c->has_size && c->size == 32);
	ck_assert(c->has_priority && c->priority == 10);
	ck_assert(c->has_group && c->group == 0);
	ck_assert(c->has_threshold && c->threshold == 16);
	ck_assert(c->has_block_on_fault && c->block_on_fault);
	ck_assert(c->has_label);
	ck_assert_str_eq(c->label, "vms of tenant a");
	ck_assert_str_eq(c->where, "t.conf:2");
	c = &cfg.wqs[1];
	ck_assert_str_eq(c->name, "iax1/wq1.0");
	ck_assert_str_eq(c->mode, "dedicated");
	ck_assert_str_eq(c->type, "kernel");
	ck_assert(!c->has_size && !c->has_priority && !c->has_threshold && !c->has_label &&
	          !c->has_block_on_fault);
	ck_assert(c->has_group && c->group == -1);
	ck_assert_str_eq(c->where, "t.conf:16");
	idxd_wq_conf_format(&cfg.wqs[0], line, sizeof(line));
	ck_assert_str_eq(line, "dsa0/wq0.1 shared user size 32 priority 10 group 0 threshold 16 "
	                       "block-on-fault yes label 'vms of tenant a'");
	idxd_wq_conf_format(&cfg.wqs[1], line, sizeof(line));
	ck_assert_str_eq(line, "iax1/wq1.0 dedicated kernel group -1");
	/* The bounds themselves are accepted. */
	ck_assert_int_eq(load("[WorkQueue]\nName=dsa12/wq12.7\nMode=shared\nType=none\n"
	                      "Size=65535\nThreshold=65535\nPriority=1\nGroup=255\n"
	                      "BlockOnFault=no\n[WorkQueue]\nName=dsa0/wq0.0\nMode=dedicated\n"
	                      "Type=user\nSize=1\nPriority=15\n"),
	                 0);
}
END_TEST

START_TEST(workqueue_errors)
{
	static const char head[] = "[WorkQueue]\nName=dsa0/wq0.1\nMode=shared\nType=user\n";
	char text[4096];

	bad("[WorkQueue]\nMode=shared\nType=user\n", "t.conf:1: [WorkQueue] needs Name=");
	bad("[WorkQueue]\nName=dsa0/wq0.1\nType=user\n[Idxd]\n",
	    "t.conf:1: [WorkQueue] for dsa0/wq0.1 needs Mode=");
	bad("[Daemon]\n[WorkQueue]\nName=dsa0/wq0.1\nMode=shared\n",
	    "t.conf:2: [WorkQueue] for dsa0/wq0.1 needs Type=");
	bad("[WorkQueue]\n", "t.conf:1: [WorkQueue] needs Name=");
	bad("[WorkQueue]\nName=dsa0/wq1.0\n",
	    "t.conf:2: Name= must be a work queue like dsa0/wq0.1 or iax1/wq1.0, not 'dsa0/wq1.0'");
	bad("[WorkQueue]\nName=wq0.1\n", "t.conf:2: Name= must be a work queue");
	bad("[WorkQueue]\nName=dsa00/wq0.1\n", "t.conf:2: Name= must be a work queue");
	bad("[WorkQueue]\nName=idxd0/wq0.1\n", "t.conf:2: Name= must be a work queue");
	bad("[WorkQueue]\nName=dsa0/wq0.1\nName=dsa0/wq0.2\n",
	    "t.conf:3: Name= is already given in this [WorkQueue] section, at t.conf:2");
	snprintf(text, sizeof(text), "%s\n# again\n%s", head, head);
	bad(text, "t.conf:8: Name=dsa0/wq0.1: that work queue is already configured at t.conf:2");
	bad("[WorkQueue]\nMode=dedicate\n", "t.conf:2: Mode= must be shared or dedicated, not "
	                                    "'dedicate'");
	bad("[WorkQueue]\nType=User\n", "t.conf:2: Type= must be user, kernel or none, not 'User'");
	snprintf(text, sizeof(text), "%sSize=0\n", head);
	bad(text, "t.conf:5: Size= must be 1-65535, not '0'");
	snprintf(text, sizeof(text), "%sSize=65536\n", head);
	bad(text, "t.conf:5: Size= must be 1-65535");
	snprintf(text, sizeof(text), "%sPriority=16\n", head);
	bad(text, "t.conf:5: Priority= must be 1-15, not '16'");
	snprintf(text, sizeof(text), "%sPriority=0\n", head);
	bad(text, "t.conf:5: Priority= must be 1-15");
	snprintf(text, sizeof(text), "%sGroup=-2\n", head);
	bad(text, "t.conf:5: Group= must be -1-255, not '-2'");
	snprintf(text, sizeof(text), "%sGroup=256\n", head);
	bad(text, "t.conf:5: Group= must be -1-255");
	snprintf(text, sizeof(text), "%sThreshold=0\n", head);
	bad(text, "t.conf:5: Threshold= must be 1-65535");
	snprintf(text, sizeof(text), "%sBlockOnFault=true\n", head);
	bad(text, "t.conf:5: BlockOnFault= must be yes or no, not 'true'");
	snprintf(text, sizeof(text), "%sLabel=\n", head);
	bad(text, "t.conf:5: Label= must be 1-1024 bytes");
	snprintf(text, sizeof(text), "%sLabel=%01025d\n", head, 0);
	bad(text, "t.conf:5: Label= must be 1-1024 bytes");
	snprintf(text, sizeof(text), "%sColour=blue\n", head);
	bad(text, "t.conf:5: unknown key Colour= in [WorkQueue]");
	/* Keys that must agree: named at the Threshold= line, whichever came first. */
	bad("[WorkQueue]\nName=dsa0/wq0.1\nThreshold=8\nType=user\nMode=dedicated\n",
	    "t.conf:3: Threshold= is for a shared WQ; dsa0/wq0.1 is Mode=dedicated");
	snprintf(text, sizeof(text), "%sThreshold=40\nSize=32\n", head);
	bad(text, "t.conf:5: Threshold=40 is above Size=32");
	/* A label as long as the kernel takes is fine. */
	config_free(&cfg);
	config_init(&cfg);
	snprintf(text, sizeof(text), "%sLabel=%01024d\n", head, 0);
	ck_assert_int_eq(load(text), 0);
	ck_assert_uint_eq(strlen(cfg.wqs[0].label), 1024);
}
END_TEST

/* Each section is one WQ and ends with its file: a drop-in's [WorkQueue] is another WQ,
 * and the same WQ in two files is refused. */
START_TEST(workqueue_dropins)
{
	char dir[] = "/tmp/pasidd-wq.XXXXXX", path[128], dpath[160], cmd[200];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pasidd.conf", dir);
	f = fopen(path, "w");
	fputs("[WorkQueue]\nName=dsa0/wq0.0\nMode=dedicated\nType=user\n", f);
	fclose(f);
	snprintf(dpath, sizeof(dpath), "%s.d", path);
	mkdir(dpath, 0755);
	snprintf(dpath, sizeof(dpath), "%s.d/10-wq.conf", path);
	f = fopen(dpath, "w");
	fputs("[WorkQueue]\nName=dsa0/wq0.1\nMode=shared\nType=user\nThreshold=4\n", f);
	fclose(f);
	ck_assert_int_eq(config_load_file(&cfg, path, true, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nwqs, 2);
	ck_assert_str_eq(cfg.wqs[1].name, "dsa0/wq0.1");
	config_free(&cfg);
	config_init(&cfg);
	f = fopen(dpath, "w");
	fputs("Size=3\n", f);
	fclose(f);
	ck_assert_int_lt(config_load_file(&cfg, path, true, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "10-wq.conf:1: assignment outside a section"));
	config_free(&cfg);
	config_init(&cfg);
	f = fopen(dpath, "w");
	fputs("[WorkQueue]\nName=dsa0/wq0.0\nMode=shared\nType=user\n", f);
	fclose(f);
	ck_assert_int_lt(config_load_file(&cfg, path, true, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "10-wq.conf:2: Name=dsa0/wq0.0: that work queue is "
	                                  "already configured at "));
	ck_assert_ptr_nonnull(strstr(err, "pasidd.conf:2"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_file);
	tcase_add_test(tc, derived_shared_range);
	tcase_add_test(tc, errors_name_the_problem);
	tcase_add_test(tc, files_dropins_and_args);
	tcase_add_test(tc, quota_section);
	tcase_add_test(tc, quota_errors);
	tcase_add_test(tc, trailing_comment_refused);
	tcase_add_test(tc, admin_group_must_exist);
	tcase_add_test(tc, absent_default_file_listed);
	tcase_add_test(tc, idxd_section);
	tcase_add_test(tc, require_wq);
	tcase_add_test(tc, workqueue_sections);
	tcase_add_test(tc, workqueue_errors);
	tcase_add_test(tc, workqueue_dropins);
	tcase_add_test(tc, log_level_and_event_buffer);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
