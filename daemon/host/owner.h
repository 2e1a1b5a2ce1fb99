/* VM owner liveness: each VM's owner process is watched through a pidfd in the event loop
 * (polled once a second where no pidfd can be had), and an exited owner's VM is reclaimed:
 * its PASIDs detached and returned, the VM removed. The watches follow the namespace as one
 * of its observers: a VM created or handed over is watched (adopting the pidfd it was named
 * with, vm->pin), a VM destroyed is not any more. */
#ifndef PASIDD_OWNER_H
#define PASIDD_OWNER_H

#include <stdint.h>

struct event_base;
struct ns;
struct owners;

int owners_new(struct event_base *base, struct ns *ns, struct owners **out);
/* Stops every watch; NULL is fine. */
void owners_free(struct owners *o);
/* At start-up, before serving: reclaims the VMs whose owner exited while the daemon was down
 * (or whose pid now belongs to another process), watches the rest, and from then on follows
 * the namespace. Returns how many VMs were reclaimed, or a negative errno. */
int owners_start(struct owners *o);
/* VMs removed because their owner exited, and the PASIDs they returned (daemon.metrics). */
void owners_get_reclaims(const struct owners *o, uint64_t *vms, uint64_t *pasids);

#endif
