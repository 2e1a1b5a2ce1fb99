/* The VMM stand-in of the kernel tests (tests/kernel/README.md). It does in the guest what a
 * VMM does around pasidd: opens /dev/iommu and the VFIO device cdevs, binds them, allocates
 * page tables (HWPTs) and attaches the devices' RIDs, and talks to pasidd through libpasid,
 * passing its descriptors with pasid.attach. kt_init drives it, one command per line on stdin,
 * one JSON answer per line on stdout, and decides what passes; being its own process, it can
 * be killed as a VMM dies.
 *
 *   dev BDF                 bind BDF's cdev to our iommufd, allocate a PASID-capable HWPT
 *                           and one without ALLOC_PASID, attach the RID to the first:
 *                           {"ok":true,"dev_id":..,"pt":..,"pt_nopasid":..,"max_pasid_log2":..}
 *                           (refused RID attach: the device stays open and bound, for rid)
 *   rid VM BDF              pasid_device_attach(): pasidd attaches BDF's RID to the PASID
 *                           HWPT for us (the attach gate's strict mode refuses our own)
 *   unrid VM BDF            pasid_device_detach()
 *   call METHOD PARAMS      a JSON-RPC call: {"ok":true,"result":..} or {"ok":false,"error":..}
 *   attach VM GPASID BDF PT pasid_attach() with our iommufd and BDF's cdev (answers as call)
 *   detach VM GPASID BDF    pasid_detach()
 *   reconnect               a new connection (pasidd restarted)
 *   drop                    close our iommufd and every cdev without detaching anything:
 *                           what is still attached is held by pasidd's duplicates only
 *   mock                    EBUSY on a double PASID attach, through the selftest mock
 *   vfio attach|detach BDF PASID
 *                           the VFIO PASID attach (to the PASID HWPT) or detach, done by the
 *                           stand-in itself: kt_init checks its debugfs reader with it
 *   fork pasid BDF PASID    a child of the stand-in, holding the same VFIO cdev, attaches
 *   fork rid BDF            PASID (to the PASID HWPT), or moves the RID to the HWPT without
 *                           ALLOC_PASID and back: another process with the device's
 *                           descriptor, for pasidd's attach gate; {"ok","errno","pid"}
 *   race BDF SECS MAX BASE CAP
 *                           the attach gate's known limit (a TOCTOU): up to MAX attaches in
 *                           SECS seconds and until CAP slipped (checked every 4096 tries),
 *                           attach i of PASID BASE+i to the PASID HWPT while a second
 *                           thread flips VFIO_DEVICE_ATTACH_PASID in and out of the
 *                           argument's flags; then counts, from the VT-d table, the PASIDs
 *                           the kernel attached (each PASID is tried once, so each slip is
 *                           one iommu_attach_device_pasid, never a replace):
 *                           {"ok","tried","ret0","eperm","other","slipped","slipped_not0",
 *                            "secs"}
 * Every kernel failure is answered {"ok":false,"op":..,"errno":..}. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kt_abi.h"
#include "libpasid.h"

#define MAX_DEVS 4

static struct standin {
	const char *sock;
	struct pasid_client *c;
	int iommufd;
	uint32_t ioas;
	struct dev {
		char bdf[PASID_BDF_LEN + 1];
		int fd;
		uint32_t dev_id, pt, pt_nopasid;
	} devs[MAX_DEVS];
	int ndevs;
} S = {.iommufd = -1};

static void
answer(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

static void
answer_errno(const char *op, int err)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "op", json_object_new_string(op));
	json_object_object_add(o, "errno", json_object_new_int(err));
	answer(o);
}

/* The answer to a call to pasidd: its result or its error object as it came. */
static void
answer_call(int r, struct json_object *result, const struct pasid_error *err)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
	if (r == 0) {
		json_object_object_add(o, "result", result ? result : json_object_new_null());
	} else if (r == -EREMOTEIO && pasid_error_object(S.c)) {
		json_object_object_add(o, "error", json_object_get(pasid_error_object(S.c)));
	} else {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "code", json_object_new_int(r));
		json_object_object_add(e, "message", json_object_new_string(err->message));
		json_object_object_add(o, "error", e);
	}
	answer(o);
}

static int
iommu_ioctl(unsigned long req, void *arg)
{
	return ioctl(S.iommufd, req, arg) < 0 ? -errno : 0;
}

static int
open_iommu(void)
{
	struct kt_ioas_alloc ioas = {.size = sizeof(ioas)};

	if (S.iommufd >= 0)
		return 0;
	if ((S.iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	if (iommu_ioctl(KT_IOMMU_IOAS_ALLOC, &ioas) < 0)
		return -errno;
	S.ioas = ioas.out_ioas_id;
	return 0;
}

/* The cdev of a device bound to vfio-pci: /sys/bus/pci/devices/BDF/vfio-dev/vfioN. */
static int
open_cdev(const char *bdf)
{
	char path[320];
	struct dirent *e;
	DIR *d;
	int fd = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	if (!(d = opendir(path)))
		return -errno;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", e->d_name);
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
			break;
		}
	closedir(d);
	return fd;
}

static struct dev *
find_dev(const char *bdf)
{
	for (int i = 0; i < S.ndevs; i++)
		if (!strcmp(S.devs[i].bdf, bdf))
			return &S.devs[i];
	return NULL;
}

static void
cmd_dev(const char *bdf)
{
	struct dev *d = &S.devs[S.ndevs];
	struct kt_vfio_bind bind = {.argsz = sizeof(bind)};
	struct kt_hw_info info = {.size = sizeof(info)};
	struct kt_hwpt_alloc hw = {.size = sizeof(hw)};
	struct kt_vfio_attach at = {.argsz = 12}; /* RID attach: no pasid member */
	struct json_object *o;
	bool pasid_hwpt = true;
	int r;

	if (S.ndevs == MAX_DEVS || strlen(bdf) > PASID_BDF_LEN)
		return answer_errno("dev", EINVAL);
	if ((r = open_iommu()) < 0)
		return answer_errno("open /dev/iommu", -r);
	if ((d->fd = open_cdev(bdf)) < 0)
		return answer_errno("open VFIO cdev", -d->fd);
	bind.iommufd = S.iommufd;
	if (ioctl(d->fd, KT_VFIO_BIND_IOMMUFD, &bind) < 0)
		return answer_errno("VFIO_DEVICE_BIND_IOMMUFD", errno);
	d->dev_id = bind.out_devid;
	info.dev_id = d->dev_id;
	if ((r = iommu_ioctl(KT_IOMMU_GET_HW_INFO, &info)) < 0)
		return answer_errno("IOMMU_GET_HW_INFO", -r);
	hw.flags = KT_HWPT_ALLOC_PASID;
	hw.dev_id = d->dev_id;
	hw.pt_id = S.ioas;
	/* Kernels before 6.15 know no ALLOC_PASID (EOPNOTSUPP): a plain HWPT is what a VMM
	 * gets there, and pasidd must refuse the attach before the kernel is asked. */
	if ((r = iommu_ioctl(KT_IOMMU_HWPT_ALLOC, &hw)) == -EOPNOTSUPP) {
		pasid_hwpt = false;
		hw.flags = 0;
		r = iommu_ioctl(KT_IOMMU_HWPT_ALLOC, &hw);
	}
	if (r < 0)
		return answer_errno("IOMMU_HWPT_ALLOC", -r);
	d->pt = hw.out_hwpt_id;
	hw.flags = 0;
	if ((r = iommu_ioctl(KT_IOMMU_HWPT_ALLOC, &hw)) < 0)
		return answer_errno("IOMMU_HWPT_ALLOC(flags 0)", -r);
	d->pt_nopasid = hw.out_hwpt_id;
	/* Kept open and bound whatever the RID attach does: with the gate in strict mode it is
	 * refused, and pasidd makes it for us (rid). */
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	S.ndevs++;
	at.pt_id = d->pt;
	if (ioctl(d->fd, KT_VFIO_ATTACH_PT, &at) < 0)
		return answer_errno("VFIO_DEVICE_ATTACH_IOMMUFD_PT(RID)", errno);
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "dev_id", json_object_new_int64(d->dev_id));
	json_object_object_add(o, "pt", json_object_new_int64(d->pt));
	json_object_object_add(o, "pt_nopasid", json_object_new_int64(d->pt_nopasid));
	json_object_object_add(o, "pasid_hwpt", json_object_new_boolean(pasid_hwpt));
	json_object_object_add(o, "max_pasid_log2", json_object_new_int(info.out_max_pasid_log2));
	answer(o);
}

static void
cmd_call(const char *method, const char *params_text)
{
	struct json_object *params = params_text ? json_tokener_parse(params_text) : NULL;
	struct json_object *result = NULL;
	struct pasid_error err = {0};
	int r;

	if (params_text && !params)
		return answer_errno("parse params", EINVAL);
	r = pasid_call(S.c, method, params, &result, &err);
	json_object_put(params);
	answer_call(r, result, &err);
}

/* pasid.attach with our iommufd and the device's cdev: libpasid sends them with SCM_RIGHTS
 * and pasidd keeps duplicates of its own. The answer carries the daemon's result as it came. */
static void
cmd_attach(const char *vm, const char *gpasid, const char *bdf, const char *pt)
{
	struct pasid_error err = {0};
	const struct dev *d = bdf ? find_dev(bdf) : NULL;
	int r;

	if (!vm || !gpasid || !d || !pt)
		return answer_errno("attach arguments", EINVAL);
	r = pasid_attach(S.c, vm, (uint32_t)strtoul(gpasid, NULL, 0), d->bdf,
	                 (uint32_t)strtoul(pt, NULL, 0), d->dev_id, S.iommufd, d->fd, &err);
	answer_call(r, json_object_get(pasid_last_result(S.c)), &err);
}

static void
cmd_detach(const char *vm, const char *gpasid, const char *bdf)
{
	struct pasid_error err = {0};
	int r;

	if (!vm || !gpasid || !bdf)
		return answer_errno("detach arguments", EINVAL);
	r = pasid_detach(S.c, vm, (uint32_t)strtoul(gpasid, NULL, 0), bdf, &err);
	answer_call(r, json_object_get(pasid_last_result(S.c)), &err);
}

/* device.attach: pasidd attaches the RID of BDF to its PASID HWPT with our descriptors. */
static void
cmd_rid(const char *vm, const char *bdf)
{
	struct pasid_error err = {0};
	const struct dev *d = bdf ? find_dev(bdf) : NULL;
	int r;

	if (!vm || !d)
		return answer_errno("rid arguments", EINVAL);
	r = pasid_device_attach(S.c, vm, d->bdf, d->pt, d->dev_id, S.iommufd, d->fd, &err);
	answer_call(r, json_object_get(pasid_last_result(S.c)), &err);
}

static void
cmd_unrid(const char *vm, const char *bdf)
{
	struct pasid_error err = {0};
	int r;

	if (!vm || !bdf)
		return answer_errno("unrid arguments", EINVAL);
	r = pasid_device_detach(S.c, vm, bdf, &err);
	answer_call(r, json_object_get(pasid_last_result(S.c)), &err);
}

static int
test_cmd(struct kt_test_cmd *cmd, uint32_t op, uint32_t id)
{
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	cmd->id = id;
	return iommu_ioctl(KT_IOMMU_TEST_CMD, cmd);
}

/* pasidd does not drive the selftest mock: this is a direct check of the kernel rule that a
 * PASID attached in a group refuses a second attach with EBUSY, which VFIO hides (a VFIO
 * re-attach is a replace). The RID goes on a PASID-capable domain first, as VFIO requires. */
static void
cmd_mock(void)
{
	struct kt_test_cmd cmd = {0};
	struct kt_hwpt_alloc hw = {.size = sizeof(hw), .flags = KT_HWPT_ALLOC_PASID};
	uint32_t stdev, idev, hwpt1, hwpt2;
	struct json_object *o;
	int r, second;

	if ((r = open_iommu()) < 0)
		return answer_errno("open /dev/iommu", -r);
	cmd.mock_domain_flags.dev_flags = KT_MOCK_FLAGS_DEVICE_PASID;
	if ((r = test_cmd(&cmd, KT_TEST_OP_MOCK_DOMAIN_FLAGS, S.ioas)) < 0)
		return answer_errno("IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS(DEVICE_PASID)", -r);
	stdev = cmd.mock_domain_flags.out_stdev_id;
	idev = cmd.mock_domain_flags.out_idev_id;
	hw.dev_id = idev;
	hw.pt_id = S.ioas;
	if ((r = iommu_ioctl(KT_IOMMU_HWPT_ALLOC, &hw)) < 0)
		return answer_errno("IOMMU_HWPT_ALLOC(ALLOC_PASID) on the mock", -r);
	hwpt1 = hw.out_hwpt_id;
	if ((r = iommu_ioctl(KT_IOMMU_HWPT_ALLOC, &hw)) < 0)
		return answer_errno("IOMMU_HWPT_ALLOC(ALLOC_PASID) on the mock", -r);
	hwpt2 = hw.out_hwpt_id;
	memset(&cmd, 0, sizeof(cmd));
	cmd.mock_domain_replace.pt_id = hwpt1;
	if ((r = test_cmd(&cmd, KT_TEST_OP_MOCK_DOMAIN_REPLACE, stdev)) < 0)
		return answer_errno("IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE", -r);
	memset(&cmd, 0, sizeof(cmd));
	cmd.pasid_attach.pasid = 100;
	cmd.pasid_attach.pt_id = hwpt1;
	if ((r = test_cmd(&cmd, KT_TEST_OP_PASID_ATTACH, stdev)) < 0)
		return answer_errno("IOMMU_TEST_OP_PASID_ATTACH(100)", -r);
	memset(&cmd, 0, sizeof(cmd));
	cmd.pasid_attach.pasid = 100;
	cmd.pasid_attach.pt_id = hwpt2;
	second = -test_cmd(&cmd, KT_TEST_OP_PASID_ATTACH, stdev);
	memset(&cmd, 0, sizeof(cmd));
	cmd.pasid_check.pasid = 100;
	cmd.pasid_check.hwpt_id = hwpt1;
	/* The refused attach must have left the first one in place. */
	if ((r = test_cmd(&cmd, KT_TEST_OP_PASID_CHECK_HWPT, stdev)) < 0)
		return answer_errno("IOMMU_TEST_OP_PASID_CHECK_HWPT(first)", -r);
	memset(&cmd, 0, sizeof(cmd));
	cmd.pasid_detach.pasid = 100;
	if ((r = test_cmd(&cmd, KT_TEST_OP_PASID_DETACH, stdev)) < 0)
		return answer_errno("IOMMU_TEST_OP_PASID_DETACH", -r);
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "second_errno", json_object_new_int(second));
	answer(o);
}

static void
cmd_vfio(const char *op, const char *bdf, const char *pasid)
{
	const struct dev *d = bdf ? find_dev(bdf) : NULL;
	struct kt_vfio_attach at = {.argsz = sizeof(at), .flags = KT_VFIO_PASID_FLAG};
	struct json_object *o;
	bool attach = op && !strcmp(op, "attach");

	if (!d || !pasid)
		return answer_errno("vfio arguments", EINVAL);
	at.pasid = (uint32_t)strtoul(pasid, NULL, 0);
	if (attach) {
		at.pt_id = d->pt;
		if (ioctl(d->fd, KT_VFIO_ATTACH_PT, &at) < 0)
			return answer_errno("VFIO_DEVICE_ATTACH_IOMMUFD_PT(PASID)", errno);
	} else {
		/* {argsz, flags, pasid}: the detach argument has no pt_id */
		uint32_t det[3] = {sizeof(det), KT_VFIO_PASID_FLAG, at.pasid};

		if (ioctl(d->fd, KT_VFIO_DETACH_PT, det) < 0)
			return answer_errno("VFIO_DEVICE_DETACH_IOMMUFD_PT(PASID)", errno);
	}
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	answer(o);
}

/* The child's part of cmd_fork: 0 or the errno of the first refused ioctl. */
static int
fork_attach(const struct dev *d, bool pasid_attach, uint32_t pasid)
{
	struct kt_vfio_attach at = {.argsz = sizeof(at), .flags = KT_VFIO_PASID_FLAG};

	if (pasid_attach) {
		at.pt_id = d->pt;
		at.pasid = pasid;
		return ioctl(d->fd, KT_VFIO_ATTACH_PT, &at) < 0 ? errno : 0;
	}
	/* A RID attach has no pasid member; the PASID HWPT is where the RID must end up. */
	at.argsz = 12;
	at.flags = 0;
	at.pt_id = d->pt_nopasid;
	if (ioctl(d->fd, KT_VFIO_ATTACH_PT, &at) < 0)
		return errno;
	at.pt_id = d->pt;
	return ioctl(d->fd, KT_VFIO_ATTACH_PT, &at) < 0 ? errno : 0;
}

static void
cmd_fork(const char *what, const char *bdf, const char *pasid)
{
	const struct dev *d = bdf ? find_dev(bdf) : NULL;
	bool pasid_attach = what && !strcmp(what, "pasid");
	struct json_object *o;
	pid_t pid;
	int st = 0;

	if (!d || !what || (pasid_attach && !pasid))
		return answer_errno("fork arguments", EINVAL);
	pid = fork();
	if (pid < 0)
		return answer_errno("fork", errno);
	if (pid == 0) /* _exit: the parent's stdio buffers are not the child's to flush */
		_exit(fork_attach(d, pasid_attach,
		                  pasid_attach ? (uint32_t)strtoul(pasid, NULL, 0) : 0));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	o = json_object_new_object();
	json_object_object_add(o, "ok",
	                       json_object_new_boolean(WIFEXITED(st) && WEXITSTATUS(st) == 0));
	json_object_object_add(o, "errno",
	                       json_object_new_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1));
	json_object_object_add(o, "pid", json_object_new_int(pid));
	answer(o);
}

/* ---- the race: the gate reads flags, VFIO copies the argument again ---- */

static struct kt_vfio_attach race_arg;
static int race_stop;

static void *
race_flipper(void *unused)
{
	(void)unused;
	while (!__atomic_load_n(&race_stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(&race_arg.flags, KT_VFIO_PASID_FLAG, __ATOMIC_RELAXED);
		__atomic_store_n(&race_arg.flags, 0, __ATOMIC_RELAXED);
	}
	return NULL;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The PASIDs in [base, base + n) the VT-d table lists present for d ("BB:DD.F<TAB>root<TAB>
 * context<TAB>PASID<TAB>entry" per present entry), and how many of them were tried by an
 * attach that did not return 0 (ok[i] == 0); -errno if unreadable. */
static long
vtd_count(const struct dev *d, unsigned long base, unsigned long n, const unsigned char *ok,
          unsigned long *not0)
{
	FILE *f = fopen("/sys/kernel/debug/iommu/intel/dmar_translation_struct", "re");
	char line[512];
	long count = 0;

	*not0 = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *dev = strtok_r(line, "\t", &save), *p;
		unsigned long pasid;

		strtok_r(NULL, "\t", &save);
		strtok_r(NULL, "\t", &save);
		p = strtok_r(NULL, "\t", &save);
		if (!dev || !p || strcmp(dev, d->bdf + 5))
			continue;
		pasid = strtoul(p, NULL, 10);
		if (pasid < base || pasid >= base + n)
			continue;
		count++;
		*not0 += !ok[pasid - base];
	}
	fclose(f);
	return count;
}

static void
cmd_race(const char *bdf, const char *secs_text, const char *max_text, const char *base_text,
         const char *cap_text)
{
	const struct dev *d = bdf ? find_dev(bdf) : NULL;
	double secs, t0, end;
	unsigned long max, base, tried = 0, ret0 = 0, eperm = 0, other = 0, slipped = 0,
	                         slipped_not0 = 0;
	unsigned char *ok;
	struct json_object *o;
	long cap, n;
	pthread_t th;
	int r;

	if (!d || !secs_text || !max_text || !base_text || !cap_text)
		return answer_errno("race arguments", EINVAL);
	secs = strtod(secs_text, NULL);
	max = strtoul(max_text, NULL, 0);
	base = strtoul(base_text, NULL, 0);
	cap = strtol(cap_text, NULL, 0);
	if (!(ok = calloc(max ? max : 1, 1)))
		return answer_errno("race: calloc", ENOMEM);
	race_arg = (struct kt_vfio_attach){.argsz = sizeof(race_arg), .pt_id = d->pt};
	race_stop = 0;
	if ((r = pthread_create(&th, NULL, race_flipper, NULL)) != 0) {
		free(ok);
		return answer_errno("race: pthread_create", r);
	}
	t0 = mono_s();
	end = t0 + secs;
	/* Every 4096 tries, the table: at most CAP slips, as the stand-in's exit has to detach
	 * them and a few thousand take minutes under TCG. */
	for (; tried < max && (tried & 63 || mono_s() < end); tried++) {
		if (tried && !(tried & 4095) && vtd_count(d, base, tried, ok, &slipped_not0) >= cap)
			break;
		__atomic_store_n(&race_arg.pasid, (uint32_t)(base + tried), __ATOMIC_RELAXED);
		if (ioctl(d->fd, KT_VFIO_ATTACH_PT, &race_arg) == 0) {
			ok[tried] = 1;
			ret0++;
		} else if (errno == EPERM) {
			eperm++;
		} else {
			other++;
		}
	}
	secs = mono_s() - t0;
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	/* The kernel's word on what slipped: the device's present PASID entries. */
	n = vtd_count(d, base, tried, ok, &slipped_not0);
	if (n < 0) {
		free(ok);
		return answer_errno("race: dmar_translation_struct", (int)-n);
	}
	slipped = (unsigned long)n;
	free(ok);
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "tried", json_object_new_int64((int64_t)tried));
	json_object_object_add(o, "ret0", json_object_new_int64((int64_t)ret0));
	json_object_object_add(o, "eperm", json_object_new_int64((int64_t)eperm));
	json_object_object_add(o, "other", json_object_new_int64((int64_t)other));
	json_object_object_add(o, "slipped", json_object_new_int64((int64_t)slipped));
	json_object_object_add(o, "slipped_not0", json_object_new_int64((int64_t)slipped_not0));
	json_object_object_add(o, "secs", json_object_new_double(secs));
	answer(o);
}

static void
cmd_drop(void)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < S.ndevs; i++)
		close(S.devs[i].fd);
	S.ndevs = 0;
	close(S.iommufd);
	S.iommufd = -1;
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	answer(o);
}

static void
cmd_reconnect(void)
{
	struct pasid_error err = {0};
	int r;

	pasid_close(S.c);
	S.c = NULL;
	r = pasid_connect(S.sock, &S.c, &err);
	if (r < 0)
		return answer_errno("pasid_connect", -r);
	pasid_set_timeout(S.c, 20000);
	answer_call(0, NULL, &err);
}

int
main(int argc, char **argv)
{
	struct pasid_error err = {0};
	char line[8192];
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: vmm_standin SOCKET  (commands on stdin)\n");
		return 2;
	}
	S.sock = argv[1];
	if ((r = pasid_connect(S.sock, &S.c, &err)) < 0) {
		fprintf(stderr, "vmm_standin: cannot connect to %s: %s\n", S.sock, err.message);
		return 1;
	}
	pasid_set_timeout(S.c, 20000);
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL, *cmd = strtok_r(line, " \n", &save);
		char *a1 = strtok_r(NULL, " \n", &save);

		if (!cmd)
			continue;
		if (!strcmp(cmd, "dev") && a1) {
			cmd_dev(a1);
		} else if (!strcmp(cmd, "call") && a1) {
			cmd_call(a1, strtok_r(NULL, "\n", &save));
		} else if (!strcmp(cmd, "attach")) {
			char *a2 = strtok_r(NULL, " \n", &save), *a3 = strtok_r(NULL, " \n", &save);

			cmd_attach(a1, a2, a3, strtok_r(NULL, " \n", &save));
		} else if (!strcmp(cmd, "detach")) {
			char *a2 = strtok_r(NULL, " \n", &save);

			cmd_detach(a1, a2, strtok_r(NULL, " \n", &save));
		} else if (!strcmp(cmd, "rid")) {
			cmd_rid(a1, strtok_r(NULL, " \n", &save));
		} else if (!strcmp(cmd, "unrid")) {
			cmd_unrid(a1, strtok_r(NULL, " \n", &save));
		} else if (!strcmp(cmd, "reconnect")) {
			cmd_reconnect();
		} else if (!strcmp(cmd, "vfio")) {
			char *a2 = strtok_r(NULL, " \n", &save);

			cmd_vfio(a1, a2, strtok_r(NULL, " \n", &save));
		} else if (!strcmp(cmd, "fork")) {
			char *a2 = strtok_r(NULL, " \n", &save);

			cmd_fork(a1, a2, strtok_r(NULL, " \n", &save));
		} else if (!strcmp(cmd, "race")) {
			char *a2 = strtok_r(NULL, " \n", &save), *a3 = strtok_r(NULL, " \n", &save);

			char *a4 = strtok_r(NULL, " \n", &save);

			cmd_race(a1, a2, a3, a4, strtok_r(NULL, " \n", &save));
		} else if (!strcmp(cmd, "drop")) {
			cmd_drop();
		} else if (!strcmp(cmd, "mock")) {
			cmd_mock();
		} else {
			answer_errno(cmd, EINVAL);
		}
	}
	pasid_close(S.c);
	return 0;
}
