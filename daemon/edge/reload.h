/* Reloading the configuration (config.reload, SIGHUP): quotas, limits, the admin group, the
 * socket's mode and group, the idxd settings, the [WorkQueue] sections and the [Namespace]
 * Reserve= lines take effect (a reservation over a live mapping or a runtime one is refused); a
 * change of what only a restart can change (the socket's path, the state directory, the
 * backend, the PASID width and ranges, MaxMessageSize=, the [Bpf] settings) is refused naming
 * the setting, as is
 * a configuration that does not parse, and then nothing changes. */
#ifndef PASIDD_RELOAD_H
#define PASIDD_RELOAD_H

#include <stddef.h>

struct pasidd;

/* 0 with what was done in why, or a negative errno with why it was refused. */
int pasidd_reload(struct pasidd *d, char *why, size_t len);

#endif
