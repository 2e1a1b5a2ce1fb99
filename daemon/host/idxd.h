/* The idxd (Intel DSA/IAX) devices and work queues of the host, read from sysfs under a
 * configurable root ([Idxd] SysfsRoot=, "/sys"; a fixture tree in tests).
 *
 * Nothing is cached: every call reads the files again, because another tool (accel-config,
 * an administrator's echo) may disable or reconfigure a WQ at any time, and a request that
 * depends on a WQ must see it as it is now.
 *
 * Why not Debian 12's libaccel-config (3.5.3, the library behind accel-config): it cannot
 * read anything but the real /sys. Its paths are compiled in ("/sys/bus/%s/devices",
 * "/sys/bus/dsa/drivers/idxd", "/dev/%s/%s"), accfg_new() takes no root, and the only
 * variable it reads is ACCFG_LOG; pointing it at a fixture would need a private mount
 * namespace over /sys in every test. It also reads the whole bus once into its context, so
 * seeing a change means a new context per request, and it gives no PCI address of a
 * device. What pasidd needs is a dozen small files, read here. */
#ifndef PASIDD_IDXD_H
#define PASIDD_IDXD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDXD_NAME_LEN   16   /* "dsa12", "wq12.7" and their terminator */
#define IDXD_LABEL_LEN  1025 /* the kernel's WQ_NAME_SIZE (1024) + 1 */
#define IDXD_DRIVER_LEN 129  /* the kernel's DRIVER_NAME_SIZE (128) + 1 */
#define IDXD_WHY_LEN    256

/* One work queue wqN.M. When err is non-zero (a -errno) the WQ exists but could not be read
 * whole, why says which file and how, and only name and cdev are meaningful. */
struct idxd_wq {
	char name[IDXD_NAME_LEN];   /* "wq0.1" */
	char mode[12];              /* "dedicated" | "shared" */
	char type[8];               /* "none" | "kernel" | "user" */
	char state[12];             /* "disabled" | "enabled" | "unknown" */
	char label[IDXD_LABEL_LEN]; /* the `name` attribute, "" when unset */
	char driver[IDXD_DRIVER_LEN];
	unsigned size, priority, threshold;
	bool block_on_fault;
	int group_id;   /* -1: in no group */
	int clients;    /* openers of the char device */
	int cdev_minor; /* -1: no char device (disabled, or not of type user) */
	char cdev[40];  /* "/dev/dsa/wq0.1", "" without a char device */
	int err;
	char why[IDXD_WHY_LEN];
};

/* One device dsaN or iaxN, with its work queues in order of M. */
struct idxd_device {
	char name[IDXD_NAME_LEN]; /* "dsa0" */
	char kind[4];             /* "dsa" | "iax": also the directory of its char devices */
	unsigned id;              /* N */
	bool pasid_enabled;
	char state[12]; /* "disabled" | "enabled" | "halted" | "unknown" */
	unsigned max_wqs, max_wq_size;
	char op_cap[80]; /* as the kernel prints it */
	uint32_t bdf;    /* the PCI function (namespace.h encoding) */
	int err;         /* as in idxd_wq; its WQs are listed all the same */
	char why[IDXD_WHY_LEN];
	struct idxd_wq *wqs;
	size_t nwqs;
};

struct idxd_host {
	struct idxd_device *devs; /* in order of N */
	size_t ndevs;
};

/* Reads every idxd device and WQ under sys. 0 with out filled (a device or WQ that cannot be
 * read carries its own err; one that vanishes while being read is left out, as it is gone);
 * -ENOENT when sys has no dsa bus (no idxd driver on this host); another -errno when the
 * bus cannot be listed. why says what failed. Free out with idxd_host_free(). */
int idxd_scan(const char *sys, struct idxd_host *out, char *why, size_t len);
void idxd_host_free(struct idxd_host *h);

/* Reads one WQ named "dsa0/wq0.1" now, with its device. 0; -EINVAL for a name of another
 * form or a WQ not of that device; -ENOENT when the device or WQ does not exist; the read
 * error of a file otherwise. why says which. dev->wqs is left empty. */
int idxd_wq_read(const char *sys, const char *ref, struct idxd_device *dev, struct idxd_wq *wq,
                 char *why, size_t len);

/* Reads the sysfs attribute dir/name into buf without its trailing newline: 0, the -errno of
 * the open or read, or -EFBIG when it does not fit in len. */
int idxd_attr_read(const char *dir, const char *name, char *buf, size_t len);

/* Splits a WQ reference "dsa0/wq0.1" into its device "dsa0" and WQ "wq0.1" (both
 * IDXD_NAME_LEN), checking that it has that form ("dsaN/wqN.M" or "iaxN/wqN.M", the same N,
 * numbers as the kernel prints them). 0, or -EINVAL. */
int idxd_ref_split(const char *ref, char *dev, char *wq);

/* Whether sys has the dsa bus (the idxd driver); why says what is missing when not. */
bool idxd_present(const char *sys, char *why, size_t len);

/* Whether the WQ "dsa0/wq0.1" can take shared PASIDs handed out to VMs, read now. */
enum idxd_verdict {
	IDXD_WQ_USABLE,     /* shared, of type user, enabled, on an enabled device with PASID */
	IDXD_NO_DRIVER,     /* sys has no dsa bus: no idxd on this host */
	IDXD_WQ_MISSING,    /* no such device or WQ (or a malformed name) */
	IDXD_WQ_UNFIT,      /* it exists, and why says which condition fails */
	IDXD_WQ_UNREADABLE, /* a file could not be read: *err its -errno, why which */
};
enum idxd_verdict idxd_wq_check(const char *sys, const char *ref, int *err, char *why, size_t len);
/* The conditions of IDXD_WQ_UNFIT on a WQ read whole (ref its name): true with why when one
 * fails. */
bool idxd_wq_unfit(const struct idxd_device *dev, const struct idxd_wq *wq, const char *ref,
                   char *why, size_t len);

/* Finds "dsa0/wq0.1" in a scan, NULL when it is not there. */
const struct idxd_wq *idxd_host_find(const struct idxd_host *h, const char *ref,
                                     const struct idxd_device **dev);

#endif
