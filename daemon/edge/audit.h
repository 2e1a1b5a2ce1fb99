/* The audit trail: every change of pasidd's state told once, as one entry with fields, to the
 * journal (log_entry: PASIDD_VM=, PASIDD_GPASID=, ..., MESSAGE_ID= per kind) and to the event
 * stream's subscribers (events.h), in the same order and with the same sequence number.
 *
 * Where entries come from. The namespace's changes are heard as its observer (ns_observe): a
 * transaction's events are gathered (its check() says how many come) and, once the last is
 * applied, folded into entries: all the mappings of one pasid.alloc are one entry with their
 * count and the gPASID/hPASID ranges ("1-8,12"), and a vm.unregister (or the reclaim of an
 * exited owner's VM) is one entry that carries the PASIDs it freed and the devices it
 * released. Who asked comes from the request being executed (audit_request(), set by the
 * dispatcher in rpc.c around a method): a change made by no request is an owner's exit
 * (PASIDD_CAUSE=owner-exit). Changes that are not the namespace's (config.reload,
 * wq.configure, the start-up summary) are told with audit_note().
 *
 * When. An entry waits until the journal has made the change durable (the state's on-durable
 * list): what the journal and the subscribers are told has happened survives a crash. A
 * transaction that was refused is never heard of, so a refused request leaves no entry.
 *
 * Adding a kind (range.reserve, vm.import, ...): one line in AUDIT_KIND_LIST below (its name
 * as events.subscribe and PASIDD_KIND= spell it, its MESSAGE_ID=, made with `systemd-id128
 * new` and written down in audit_ids.h, and its priority), a case in
 * audit.c's fold() when it comes from a namespace event (or an audit_note() where it happens),
 * and, if an administrator should be able to look it up, an entry in systemd/pasidd.catalog.
 * The list of kinds in proto/openrpc.json (EventKind) follows the table. */
#ifndef PASIDD_AUDIT_H
#define PASIDD_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include <syslog.h>

#include "audit_ids.h"
#include "namespace.h"

struct pasidd;
struct peer;
struct audit;

/* Every kind: its enum name, its name as PASIDD_KIND= and events spell it, its MESSAGE_ID=
 * (audit_ids.h) and its priority. One line per kind; the enum, the names and audit.c's table
 * are made from it. */
#define AUDIT_KIND_LIST(X)                                                                         \
	X(VM_REGISTER, "vm.register", AUDIT_ID_VM_REGISTER, LOG_INFO)                              \
	X(VM_OWNER, "vm.owner", AUDIT_ID_VM_OWNER, LOG_NOTICE)                                     \
	X(VM_UNREGISTER, "vm.unregister", AUDIT_ID_VM_UNREGISTER, LOG_INFO)                        \
	X(VM_RECLAIM, "vm.reclaim", AUDIT_ID_VM_RECLAIM, LOG_NOTICE)                               \
	X(DEVICE_ASSIGN, "device.assign", AUDIT_ID_DEVICE_ASSIGN, LOG_INFO)                        \
	X(DEVICE_RELEASE, "device.release", AUDIT_ID_DEVICE_RELEASE, LOG_INFO)                     \
	X(PASID_ALLOC, "pasid.alloc", AUDIT_ID_PASID_ALLOC, LOG_INFO)                              \
	X(PASID_FREE, "pasid.free", AUDIT_ID_PASID_FREE, LOG_INFO)                                 \
	X(PASID_ATTACH, "pasid.attach", AUDIT_ID_PASID_ATTACH, LOG_INFO)                           \
	X(PASID_DETACH, "pasid.detach", AUDIT_ID_PASID_DETACH, LOG_INFO)                           \
	X(QUOTA_SET, "quota.set", AUDIT_ID_QUOTA_SET, LOG_NOTICE)                                  \
	X(CONFIG_RELOAD, "config.reload", AUDIT_ID_CONFIG_RELOAD, LOG_NOTICE)                      \
	X(DAEMON_START, "daemon.start", AUDIT_ID_DAEMON_START, LOG_NOTICE)                         \
	X(WQ_CONFIGURE, "wq.configure", AUDIT_ID_WQ_CONFIGURE, LOG_NOTICE)                         \
	X(DEVICE_ATTACH, "device.attach", AUDIT_ID_DEVICE_ATTACH, LOG_INFO)                        \
	X(DEVICE_DETACH, "device.detach", AUDIT_ID_DEVICE_DETACH, LOG_INFO)                        \
	X(VM_IMPORT, "vm.import", AUDIT_ID_VM_IMPORT, LOG_NOTICE)                                  \
	X(RANGE_RESERVE, "range.reserve", AUDIT_ID_RANGE_RESERVE, LOG_NOTICE)                      \
	X(RANGE_UNRESERVE, "range.unreserve", AUDIT_ID_RANGE_UNRESERVE, LOG_NOTICE)

/* vm.owner: handed to another owner process; vm.reclaim: removed as its owner exited;
 * daemon.start: what start-up recovered. */
enum audit_kind {
#define AUDIT_ENUM_(e, name, id, prio) AUDIT_##e,
	AUDIT_KIND_LIST(AUDIT_ENUM_)
#undef AUDIT_ENUM_
	    AUDIT_KINDS
};

/* The kinds' names, in the order of the enum and ended by NULL (events.subscribe's choices). */
extern const char *const audit_kind_names[];

#define AUDIT_MAX_FIELDS 20

struct audit_field {
	const char *name; /* lower case, as events spell it: "vm", "peer_pid" */
	char *value;
	bool number; /* an event gives it as a JSON integer */
};

struct audit_entry {
	enum audit_kind kind;
	/* The VM it is about, and the uid it belongs to: events go to that uid and admins. */
	bool has_vm;
	char vm[NS_VM_NAME_MAX + 1];
	uid_t vm_uid;
	struct audit_field f[AUDIT_MAX_FIELDS];
	unsigned nf;
	/* Where the values live while they fit (a value beyond it is malloc'd): an entry's
	 * fields cost no allocation of their own. */
	char arena[512];
	size_t arena_used;
	char *message;
	uint64_t seq;         /* daemon-wide, from 1, given when the entry is told */
	uint64_t gen;         /* the commit it waits for (state.h), 0: none */
	struct timespec time; /* CLOCK_REALTIME, likewise */
	TAILQ_ENTRY(audit_entry) link;
};

/* Observes d->ns and d->state's commits; d->audit. 0 or -ENOMEM. */
int audit_open(struct pasidd *d);
void audit_close(struct audit *a);

/* The request being executed: who the changes heard from now on are for (peer NULL: none,
 * and the request is over). */
void audit_request(struct audit *a, const struct peer *p, const char *method);

/* An entry of a change made outside the namespace, told (with the peer of the request being
 * executed, if any) once what is already waiting has been: fields are added to it with
 * audit_add(), then audit_note() takes it over. NULL when out of memory (audit_add and
 * audit_note take NULL and do nothing). */
struct audit_entry *audit_entry_new(enum audit_kind kind);
void audit_add(struct audit_entry *e, const char *name, bool number, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void audit_note(struct audit *a, struct audit_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The last sequence number given (daemon.metrics). */
uint64_t audit_seq(const struct audit *a);

#endif
