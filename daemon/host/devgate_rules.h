/* The pure rules of the device gate (bpf_devgate.h): which character majors it manages, read
 * from the text of /proc/devices; the DeviceAllow= entries; and which VMs are gated at all.
 * No I/O but the stat() of a DeviceAllow= path, so that tests feed them what they like. */
#ifndef PASIDD_DEVGATE_RULES_H
#define PASIDD_DEVGATE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A character device number. */
struct devgate_dev {
	uint32_t major, minor;
};

/* The major of the character region `name` in the text of /proc/devices (its "Character
 * devices:" section only; block majors share numbers with unrelated char ones): >= 0, or
 * -ENOENT when no driver registered it. */
int devgate_char_major(const char *text, const char *name);

/* A DeviceAllow= value: "MAJOR:MINOR" (decimal) fills *dev and returns 1; an absolute path
 * returns 0, to be resolved by devgate_allow_resolve() when the gate starts (the node may
 * appear after the configuration is read); anything else is -EINVAL with why. */
int devgate_allow_parse(const char *s, struct devgate_dev *dev, char *why, size_t len);
/* A DeviceAllow= value as a device number, stat()ing a path: 0, or -errno with why (-ENOTTY
 * for a path that is not a character device). */
int devgate_allow_resolve(const char *s, struct devgate_dev *dev, char *why, size_t len);

/* Whether a VM whose owner lives in cgroup `vm` gets a gate of its own, given pasidd's own
 * cgroup `self` and how many VMs live in `vm` (itself included). A program on the root would
 * gate the whole host, one on pasidd's cgroup or above it pasidd itself, and one on a cgroup
 * that several VMs share would have to allow all their devices to each: none of these is
 * gated, and why says which (for daemon.status and the log). Paths are canonical. */
bool devgate_cgroup_gated(const char *vm, const char *self, unsigned sharers, char *why,
                          size_t len);

#endif
