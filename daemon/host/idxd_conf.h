/* Declarative work-queue setup: the state a WQ should be in ([WorkQueue] sections of
 * pasidd.conf, or a request), and the writer that brings it there through sysfs, as
 * `accel-config load-config` followed by `accel-config enable-wq` would.
 *
 * The rules are the kernel's (drivers/dma/idxd/sysfs.c, device.c, cdev.c, compat.c of Linux
 * 7.3), quoted in idxd_conf.c where they decide something. Two of them shape the interface:
 * disabling a WQ clears most of its configuration (idxd_wq_disable_cleanup: mode, threshold,
 * priority, block_on_fault, name; the driver's remove sets type to none), so a WQ that must
 * change is rewritten whole; and a WQ's size can change only while its DEVICE is disabled,
 * and disabling a device clears the configuration of all its WQs, groups and engines
 * (idxd_device_clear_state), which the writer then restores as it read it. */
#ifndef PASIDD_IDXD_CONF_H
#define PASIDD_IDXD_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "idxd.h"

#define IDXD_REF_LEN      (2 * IDXD_NAME_LEN) /* "dsa12/wq12.7" and its terminator */
#define IDXD_WHERE_LEN    160
#define IDXD_WRITTEN_LEN  768
#define IDXD_MAX_PRIORITY 15    /* the kernel's IDXD_MAX_PRIORITY */
#define IDXD_MAX_WQ_SIZE  65535 /* WQCAP total_wq_size is 16 bits */
#define IDXD_MAX_GROUP    255   /* GRPCAP num_groups is 8 bits */

/* One WQ as it should be. Mode and type are always given; every other attribute only when
 * its has_ flag is set, and one not given keeps the value the WQ has now (but a label not
 * given is dropped when the type changes, as the kernel drops it). */
struct idxd_wq_conf {
	char name[IDXD_REF_LEN]; /* "dsa0/wq0.1" */
	char mode[12];           /* "dedicated" | "shared" */
	char type[8];            /* "user" | "kernel" | "none": none is configured, not enabled */
	unsigned size;           /* 1..IDXD_MAX_WQ_SIZE, and the device's limit */
	unsigned priority;       /* 1..IDXD_MAX_PRIORITY */
	unsigned threshold;      /* shared only, 1..size */
	int group;               /* -1 (none)..IDXD_MAX_GROUP, and below the device's count */
	bool block_on_fault;
	char label[IDXD_LABEL_LEN]; /* the kernel's `name` attribute, 1-1024 bytes */
	bool has_size, has_priority, has_threshold, has_group, has_block_on_fault, has_label;
	char where[IDXD_WHERE_LEN]; /* "file:line" of its Name=, "" when not from a file */
};

/* What idxd_wq_apply() did. */
struct idxd_apply {
	bool changed;       /* something was written */
	bool dev_cycled;    /* the device was disabled and enabled again, to change the size */
	char attribute[32]; /* the file whose write failed ("threshold", "bind"), "" if none */
	/* The files written, in order, comma-separated: "wq0.1/mode,wq0.1/size,...,
	 * drivers/idxd/bind". sysfs has no transaction: after a failure these stay written. */
	char written[IDXD_WRITTEN_LEN];
	struct idxd_device dev; /* as read back after the writes, wqs left empty */
	struct idxd_wq wq;
};

/* Checks a configuration on its own (forms, ranges, threshold with a shared mode only and
 * not above the size). 0, or -EINVAL with the problem in why, naming the key. */
int idxd_wq_conf_check(const struct idxd_wq_conf *conf, char *why, size_t len);

/* The driver a WQ of this type binds to on a device of this kind ("dsa", "iax"): "user",
 * "dmaengine" (dsa) or "crypto" (iax, the iaa_crypto driver); NULL for type none. */
const char *idxd_wq_driver(const char *kind, const char *type);

/* One line describing conf for people (pasidd -n, logs): "dsa0/wq0.1 shared user size 32
 * ...", the keys not given left out. */
void idxd_wq_conf_format(const struct idxd_wq_conf *conf, char *buf, size_t len);

/* Brings WQ conf->name under the sysfs root sys to conf and enables it (type user or kernel;
 * type none is configured and left disabled).
 * - Already so: nothing is written, out->changed is false.
 * - -EINVAL: conf is not valid for this device (size above its limit or above what its other
 *   WQs leave, group it lacks, threshold above the size, a shared WQ without threshold or an
 *   enabled one without label or group); nothing written.
 * - -EPERM: the device is not configurable (configurable=0); nothing written.
 * - -ENOENT: no such device or WQ; nothing written. The read error of a device or WQ
 *   attribute that cannot be read, with why naming it; nothing written.
 * - -EBUSY: in_use (the caller has mappings on this WQ) and it would change, or the size
 *   must change on an enabled device that has other WQs enabled (why names them); nothing
 *   written.
 * - otherwise the -errno of the first write that failed, with out->attribute and why naming
 *   it ("writing threshold=32 to dsa0/wq0.1: Invalid argument; written before it and still
 *   in effect: ..."); what out->written lists stays written. -EIO with nothing written for
 *   an enabled WQ bound to no driver.
 * A WQ enabled by the writes reads back as the kernel left it: its bind is synchronous.
 * why is also filled on success when something was written (what was done, in a line). */
int idxd_wq_apply(const char *sys, const struct idxd_wq_conf *conf, bool in_use,
                  struct idxd_apply *out, char *why, size_t len);

#endif
