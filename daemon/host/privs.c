/* Capabilities through capget/capset directly: two system calls do not earn libcap. */
#include "privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Every capability the kernel headers pasidd is built with know of. */
static const char *const names[] = {
    [CAP_CHOWN] = "CAP_CHOWN",
    [CAP_DAC_OVERRIDE] = "CAP_DAC_OVERRIDE",
    [CAP_DAC_READ_SEARCH] = "CAP_DAC_READ_SEARCH",
    [CAP_FOWNER] = "CAP_FOWNER",
    [CAP_FSETID] = "CAP_FSETID",
    [CAP_KILL] = "CAP_KILL",
    [CAP_SETGID] = "CAP_SETGID",
    [CAP_SETUID] = "CAP_SETUID",
    [CAP_SETPCAP] = "CAP_SETPCAP",
    [CAP_LINUX_IMMUTABLE] = "CAP_LINUX_IMMUTABLE",
    [CAP_NET_BIND_SERVICE] = "CAP_NET_BIND_SERVICE",
    [CAP_NET_BROADCAST] = "CAP_NET_BROADCAST",
    [CAP_NET_ADMIN] = "CAP_NET_ADMIN",
    [CAP_NET_RAW] = "CAP_NET_RAW",
    [CAP_IPC_LOCK] = "CAP_IPC_LOCK",
    [CAP_IPC_OWNER] = "CAP_IPC_OWNER",
    [CAP_SYS_MODULE] = "CAP_SYS_MODULE",
    [CAP_SYS_RAWIO] = "CAP_SYS_RAWIO",
    [CAP_SYS_CHROOT] = "CAP_SYS_CHROOT",
    [CAP_SYS_PTRACE] = "CAP_SYS_PTRACE",
    [CAP_SYS_PACCT] = "CAP_SYS_PACCT",
    [CAP_SYS_ADMIN] = "CAP_SYS_ADMIN",
    [CAP_SYS_BOOT] = "CAP_SYS_BOOT",
    [CAP_SYS_NICE] = "CAP_SYS_NICE",
    [CAP_SYS_RESOURCE] = "CAP_SYS_RESOURCE",
    [CAP_SYS_TIME] = "CAP_SYS_TIME",
    [CAP_SYS_TTY_CONFIG] = "CAP_SYS_TTY_CONFIG",
    [CAP_MKNOD] = "CAP_MKNOD",
    [CAP_LEASE] = "CAP_LEASE",
    [CAP_AUDIT_WRITE] = "CAP_AUDIT_WRITE",
    [CAP_AUDIT_CONTROL] = "CAP_AUDIT_CONTROL",
    [CAP_SETFCAP] = "CAP_SETFCAP",
    [CAP_MAC_OVERRIDE] = "CAP_MAC_OVERRIDE",
    [CAP_MAC_ADMIN] = "CAP_MAC_ADMIN",
    [CAP_SYSLOG] = "CAP_SYSLOG",
    [CAP_WAKE_ALARM] = "CAP_WAKE_ALARM",
    [CAP_BLOCK_SUSPEND] = "CAP_BLOCK_SUSPEND",
    [CAP_AUDIT_READ] = "CAP_AUDIT_READ",
    [CAP_PERFMON] = "CAP_PERFMON",
    [CAP_BPF] = "CAP_BPF",
    [CAP_CHECKPOINT_RESTORE] = "CAP_CHECKPOINT_RESTORE",
};

const char *
privs_name(unsigned cap, char other[PRIVS_NAME_MAX])
{
	if (cap < sizeof(names) / sizeof(names[0]) && names[cap])
		return names[cap];
	snprintf(other, PRIVS_NAME_MAX, "cap_%u", cap);
	return other;
}

static int
get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};

	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &h, data) < 0 ? -errno : 0;
}

uint64_t
privs_effective(void)
{
	struct __user_cap_data_struct d[2];

	if (get(d) < 0)
		return 0;
	return (uint64_t)d[1].effective << 32 | d[0].effective;
}

bool
privs_have(uint64_t mask)
{
	return (privs_effective() & mask) == mask;
}

int
privs_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	uint64_t perm;
	int r;

	if ((r = get(d)) < 0)
		return r;
	perm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	/* The bounding set first, while CAP_SETPCAP (if held at all) is still ours: nothing
	 * pasidd runs later could gain back what it gave up. */
	if (perm & PRIVS_BIT(CAP_SETPCAP))
		for (unsigned c = 0; c < 64; c++)
			if (!(keep & PRIVS_BIT(c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
				return -errno;
	perm &= keep;
	for (int i = 0; i < 2; i++) {
		uint32_t p = (uint32_t)(perm >> (32 * i));

		d[i].permitted = p;
		d[i].effective = p;
		d[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	/* Nothing may come back from the ambient set across an exec either. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

void
privs_format(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (!mask) {
		snprintf(buf, len, "none");
		return;
	}
	for (unsigned c = 0; c < 64 && n < len; c++) {
		char other[PRIVS_NAME_MAX];
		int w;

		if (!(mask & PRIVS_BIT(c)))
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", privs_name(c, other));
		if (w < 0)
			return;
		n += (size_t)w;
	}
}
