/* pasidd's capabilities: which it holds, and giving up for good those that the backend and
 * the BPF programs it runs do not need, once start-up is over (the systemd unit grants the
 * union of what every configuration needs; pasidd(8), PRIVILEGES, says what each is for). */
#ifndef PASIDD_PRIVS_H
#define PASIDD_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRIVS_BIT(cap) (UINT64_C(1) << (cap))

/* The effective capabilities of this process; 0 where they cannot be read. */
uint64_t privs_effective(void);
/* Whether it has every capability of mask. */
bool privs_have(uint64_t mask);
/* Keeps only the capabilities of keep (effective and permitted; the inheritable set and,
 * where CAP_SETPCAP allows, the bounding set lose every other). 0 or a negative errno. */
int privs_limit(uint64_t keep);
/* The names ("CAP_BPF") of the capabilities of mask, comma-separated, into buf; "none" for 0. */
void privs_format(uint64_t mask, char *buf, size_t len);
/* The name of capability number cap ("CAP_BPF"), or "cap_40" written into other for one
 * pasidd does not know by name (a newer kernel's). */
#define PRIVS_NAME_MAX 16
const char *privs_name(unsigned cap, char other[PRIVS_NAME_MAX]);

#endif
