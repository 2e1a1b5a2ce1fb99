/* VM owner liveness: a pidfd per VM in the event loop; an exited owner's VM is reclaimed. */
#ifndef PASIDD_OWNER_H
#define PASIDD_OWNER_H

struct pasidd;
struct ns_vm;

/* Starts watching vm's owner, through pidfd when it is one (taken over: a pidfd of the owner
 * made before anything was read about it), else through a pidfd made now. If the owner is
 * already gone (or its pid now belongs to another process), the VM is reclaimed at once;
 * returns 1 then, else 0. */
int owner_watch(struct pasidd *d, struct ns_vm *vm, int pidfd);
/* Stops watching (the VM is going away). */
void owner_unwatch(struct ns_vm *vm);
/* At start-up: reclaims the VMs whose owner died while the daemon was down and watches
 * the rest. Returns how many were reclaimed. */
unsigned owner_reconcile(struct pasidd *d);

/* Stops every watch (the daemon is exiting). */
void owner_stop(struct pasidd *d);

#endif
