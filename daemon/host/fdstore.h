/* The service manager's fd store (systemd's FDSTORE=1), which keeps pasidd's descriptors of
 * every attachment across a restart of the daemon, so that it can still detach what it
 * attached before. Each attachment's two descriptors (the VMM's iommufd and VFIO device cdev)
 * travel in the queue of a datagram socket of their own, stored under the name
 * "pasidd-a<seq>-<hPASID>-<BDF as 8 hex digits>", hPASID 0 for a device's requester ID
 * attachment (device.attach; PASID 0 is never handed out): systemd keeps each open file only once,
 * and attachments share theirs (one iommufd per VMM, one cdev per device). An entry is added when
 * the attachment is made and removed once its detach is durable.
 *
 * At start-up fdstore_open() takes what the service manager passed (LISTEN_FDS with
 * LISTEN_FDNAMES): the listening socket of socket activation, if any, and the stored
 * descriptors; fdstore_reconcile() then sets the journal's attachments against them:
 *  - an attachment of the journal whose descriptors came back gets them again, and is
 *    attached again (VFIO replaces a live attachment with itself), which confirms the kernel
 *    has it where the journal says;
 *  - an attachment of the journal without descriptors stays attached but "lost": pasidd
 *    cannot detach it until the VMM attaches it again (or its owner exits, when the kernel
 *    let go with the owner's descriptors); it is logged;
 *  - descriptors of an attachment the journal does not have (the daemon stopped after the
 *    kernel attach, before its record was durable: nobody was told it succeeded) are used
 *    to detach it, then dropped from the store at once; logged.
 * Without a service manager (no NOTIFY_SOCKET) nothing is stored, and the first attachment
 * logs that a restart loses the ability to detach. */
#ifndef PASIDD_FDSTORE_H
#define PASIDD_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdstore;
struct ns;

/* 0, or a negative errno with why (LISTEN_FDS that cannot be read, several sockets). */
int fdstore_open(struct fdstore **out, char *why, size_t len);
void fdstore_free(struct fdstore *fs);

/* The listening socket the service manager passed, or -1; the caller owns it from here. */
int fdstore_take_listen_fd(struct fdstore *fs);
/* Whether a listening Unix socket was passed, without taking anything (start-up checks). */
bool fdstore_listen_fd_passed(void);

/* After the state was replayed into ns, before anything is served: see above. Then observes
 * ns, storing the descriptors of new attachments and queueing removals. 0 or -ENOMEM. */
int fdstore_reconcile(struct fdstore *fs, struct ns *ns);
/* The state made its records durable: removes from the store what detaches left, up to the
 * last commit done. */
void fdstore_on_durable(void *fs);
/* How the store learns the state's commit numbers (state.h: state_next_gen(),
 * state_durable_gen()) without knowing the state: a removal waits for the commit that was
 * next when its detach was made. Without them every removal goes at the next
 * fdstore_on_durable(). */
void fdstore_set_commits(struct fdstore *fs, uint64_t (*next_gen)(const void *ctx),
                         uint64_t (*done_gen)(const void *ctx), const void *ctx);

#endif
