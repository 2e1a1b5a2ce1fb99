/* The device gate (pasidd(8), BPF): a cgroup device program on the cgroup of each VM's owner
 * that lets it open its own VFIO, iommufd and idxd character devices and refuses it the
 * others. It follows the namespace as an observer: programs come with a VM (or with its first
 * start-up after a restart), their maps follow the devices and work queues of the VM, and go
 * with it. Links, not plain attachments: should pasidd die, the kernel detaches them, and the
 * next pasidd gates the replayed VMs afresh. Every few seconds it also catches up with what
 * no event of the namespace tells: devices bound to vfio-pci after they were assigned, owners
 * moved to another cgroup (the program follows the owner, not the cgroup it registered from).
 *
 * Optional in every way: a host, cgroup or VM that cannot be gated is said once (the log,
 * daemon.status.bpf.device_gate) and serves as without the gate; nothing here fails a request
 * or the start-up. Without PASIDD_HAVE_BPF both calls do nothing and the status says so. */
#ifndef PASIDD_BPF_DEVGATE_H
#define PASIDD_BPF_DEVGATE_H

#include "bpfprog.h"
#include "config.h"
#include "namespace.h"

struct bpf_devgate;
struct event_base;

#ifdef PASIDD_HAVE_BPF
/* Starts the gate on every VM of ns (after the replay) and from then on follows ns; st is the
 * status it keeps up to date, and must live as long as the gate. *out is NULL when it does
 * not run (DeviceGate=no, the kernel cannot load it, out of memory): st says why. */
void bpf_devgate_open(struct event_base *base, struct ns *ns, const struct pasidd_config *cfg,
                      struct bpfprog_state *st, struct bpf_devgate **out);
/* Detaches every program and stops following ns; NULL is fine. */
void bpf_devgate_free(struct bpf_devgate *g);
#else
static inline void
bpf_devgate_open(struct event_base *base, struct ns *ns, const struct pasidd_config *cfg,
                 struct bpfprog_state *st, struct bpf_devgate **out)
{
	*out = NULL;
}
static inline void
bpf_devgate_free(struct bpf_devgate *g)
{
}
#endif

#endif
