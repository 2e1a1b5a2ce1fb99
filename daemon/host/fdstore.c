/* The service manager's fd store for attachments (fdstore.h). */
#include "fdstore.h"
#include "backend.h"
#include "log.h"
#include "namespace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define NAME_MAX_LEN 48

/* A descriptor the service manager gave back, by the name it was stored under. */
struct stored {
	uint32_t seq, hpasid, bdf;
	char kind; /* 'i': the iommufd, 'd': the device cdev */
	int fd;    /* -1 once adopted or closed */
	char name[NAME_MAX_LEN];
};

struct fdstore {
	bool enabled; /* a service manager listens (NOTIFY_SOCKET) */
	bool warned;  /* that a restart loses attachments without it */
	int listen_fd;
	struct stored *got;
	size_t ngot;
	uint32_t next_seq;
	char (*removals)[NAME_MAX_LEN]; /* names to drop once the state is durable */
	size_t nremovals, removals_cap;
	struct ns *ns;
};

static void
name_of(char out[NAME_MAX_LEN], uint32_t seq, uint32_t hpasid, uint32_t bdf, char kind)
{
	snprintf(out, NAME_MAX_LEN, "pasidd-a%" PRIu32 "-%" PRIu32 "-%08" PRIx32 "-%c", seq, hpasid,
	         bdf, kind);
}

static bool
parse_name(const char *name, struct stored *s)
{
	int end = 0;

	if (sscanf(name, "pasidd-a%" SCNu32 "-%" SCNu32 "-%8" SCNx32 "-%c%n", &s->seq, &s->hpasid,
	           &s->bdf, &s->kind, &end) != 4 ||
	    name[end] || (s->kind != 'i' && s->kind != 'd') || !s->seq)
		return false;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return true;
}

bool
fdstore_listen_fd_passed(void)
{
	int n = sd_listen_fds(0);

	for (int i = 0; i < n; i++)
		if (sd_is_socket_unix(SD_LISTEN_FDS_START + i, SOCK_STREAM, 1, NULL, 0) > 0)
			return true;
	return false;
}

/* One descriptor the service manager passed: the socket, an attachment's, or a stranger. */
static int
take_one(struct fdstore *fs, int fd, const char *name, char *why, size_t len)
{
	struct stored s = {.fd = fd};

	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
		if (fs->listen_fd >= 0) {
			snprintf(why, len,
			         "the service manager passed several listening sockets; "
			         "pasidd serves exactly one");
			close(fd);
			return -EINVAL;
		}
		fs->listen_fd = fd;
		return 0;
	}
	if (!name || !parse_name(name, &s)) {
		log_warn("the service manager passed descriptor %d named \"%s\", which is not "
		         "pasidd's: closed",
		         fd, name ? name : "");
		close(fd);
		return 0;
	}
	fs->got[fs->ngot++] = s;
	if (s.seq >= fs->next_seq)
		fs->next_seq = s.seq + 1;
	return 0;
}

int
fdstore_open(struct fdstore **out, char *why, size_t len)
{
	struct fdstore *fs = calloc(1, sizeof(*fs));
	char **names = NULL;
	int n, r = 0;

	if (!fs)
		return -ENOMEM;
	fs->listen_fd = -1;
	fs->next_seq = 1;
	fs->enabled = getenv("NOTIFY_SOCKET") != NULL;
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		snprintf(why, len, "cannot read the descriptors the service manager passed: %s",
		         strerror(-n));
		free(fs);
		return n;
	}
	fs->got = calloc(n ? (size_t)n : 1, sizeof(*fs->got));
	if (!fs->got)
		r = -ENOMEM;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (r == 0)
			r = take_one(fs, fd, names ? names[i] : NULL, why, len);
		else
			close(fd);
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(why, len, "out of memory");
		fdstore_free(fs);
		return r;
	}
	*out = fs;
	return 0;
}

void
fdstore_free(struct fdstore *fs)
{
	if (!fs)
		return;
	if (fs->ns)
		ns_unobserve(fs->ns, fs);
	/* Removals not yet durable stay in the store: the next start reconciles them. */
	for (size_t i = 0; i < fs->ngot; i++)
		if (fs->got[i].fd >= 0)
			close(fs->got[i].fd);
	if (fs->listen_fd >= 0)
		close(fs->listen_fd);
	free(fs->got);
	free(fs->removals);
	free(fs);
}

int
fdstore_take_listen_fd(struct fdstore *fs)
{
	int fd = fs->listen_fd;

	fs->listen_fd = -1;
	return fd;
}

static void
remove_later(struct fdstore *fs, const char *name)
{
	if (!fs->enabled)
		return;
	if (fs->nremovals == fs->removals_cap) {
		size_t cap = fs->removals_cap ? fs->removals_cap * 2 : 16;
		void *p = realloc(fs->removals, cap * sizeof(*fs->removals));

		if (!p) {
			/* Left in the store: the next start finds it unknown to the journal,
			 * detaches (the kernel says it is not attached) and drops it. */
			log_warn("out of memory: %s stays in the fd store until the next start",
			         name);
			return;
		}
		fs->removals = p;
		fs->removals_cap = cap;
	}
	snprintf(fs->removals[fs->nremovals++], NAME_MAX_LEN, "%s", name);
}

void
fdstore_on_durable(void *ctx)
{
	struct fdstore *fs = ctx;

	for (size_t i = 0; i < fs->nremovals; i++) {
		int r = sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", fs->removals[i]);

		if (r < 0)
			log_warn("cannot drop %s from the fd store: %s", fs->removals[i],
			         strerror(-r));
	}
	fs->nremovals = 0;
}

static void
store_one(struct fdstore *fs, int fd, const char *name)
{
	int r = sd_pid_notify_with_fds(0, 0, name, &fd, 1);

	if (r < 0)
		log_warn("cannot keep a descriptor in the fd store (%s): %s; a restart of pasidd "
		         "will not be able to detach that attachment",
		         name + strlen("FDSTORE=1\nFDNAME="), strerror(-r));
}

/* The observer: new attachments' descriptors go to the store at once (should the daemon stop
 * before their record is durable, the next start detaches them); a detach's leave it once
 * the detach is durable (fdstore_on_durable). */
static void
apply(void *ctx, const struct ns_event *ev)
{
	struct fdstore *fs = ctx;
	/* The tag is the host's bookkeeping on the attachment, not state of the namespace. */
	struct backend_attach *att = (struct backend_attach *)ev->att;
	char name[NAME_MAX_LEN], msg[NAME_MAX_LEN + 24];

	if (ev->kind != NS_EV_MAP_ATTACHED && ev->kind != NS_EV_MAP_DETACHED)
		return;
	if (!fs->enabled) {
		if (ev->kind == NS_EV_MAP_ATTACHED && !fs->warned)
			log_warn(
			    "no service manager fd store (NOTIFY_SOCKET is not set): a restart "
			    "of pasidd will lose its descriptors of attachments, and with them "
			    "the ability to detach them");
		fs->warned = true;
		return;
	}
	if (ev->kind == NS_EV_MAP_DETACHED) {
		if (!att->tag)
			return;
		name_of(name, att->tag, ev->map->hpasid, att->bdf, 'i');
		remove_later(fs, name);
		name_of(name, att->tag, ev->map->hpasid, att->bdf, 'd');
		remove_later(fs, name);
		return;
	}
	att->tag = fs->next_seq++;
	name_of(name, att->tag, ev->map->hpasid, att->bdf, 'i');
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	store_one(fs, att->iommufd, msg);
	name_of(name, att->tag, ev->map->hpasid, att->bdf, 'd');
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	store_one(fs, att->devfd, msg);
}

/* The newest stored descriptor of kind for (hpasid, bdf), or NULL. */
static struct stored *
find(struct fdstore *fs, uint32_t hpasid, uint32_t bdf, char kind)
{
	struct stored *best = NULL;

	for (size_t i = 0; i < fs->ngot; i++) {
		struct stored *s = &fs->got[i];

		if (s->fd >= 0 && s->hpasid == hpasid && s->bdf == bdf && s->kind == kind &&
		    (!best || s->seq > best->seq))
			best = s;
	}
	return best;
}

/* A journal attachment gets its descriptors back and is attached again where it was. */
static void
adopt(struct fdstore *fs, struct ns *ns, struct ns_mapping *m, struct backend_attach *att)
{
	struct stored *i = find(fs, m->hpasid, att->bdf, 'i'),
	              *d = find(fs, m->hpasid, att->bdf, 'd');
	char bdf[NS_BDF_LEN + 1];
	struct ns_err err;

	ns_bdf_format(att->bdf, bdf);
	if (!i || !d || i->seq != d->seq) {
		log_warn("PASID %u of VM %s on %s: attached before the restart, but its "
		         "descriptors did not come back%s; pasidd cannot detach it until the VMM "
		         "attaches it again, and the kernel detaches it when the VMM closes the "
		         "device",
		         m->hpasid, m->vm->name, bdf,
		         fs->enabled ? "" : " (no service manager fd store)");
		return;
	}
	ns_attachment_adopt(att, i->fd, d->fd);
	att->tag = i->seq;
	i->fd = d->fd = -1;
	if (ns->be->ops->attach(ns->be, m->hpasid, att, &err) < 0)
		log_warn("PASID %u of VM %s on %s: attaching it again after the restart failed "
		         "(%s); kept as the journal has it",
		         m->hpasid, m->vm->name, bdf, err.message);
}

/* Stored descriptors no attachment of the journal took: an attach whose record never became
 * durable (no one was told it succeeded) is detached; a duplicate or a half is dropped. */
static void
drop_strays(struct fdstore *fs, struct ns *ns)
{
	for (size_t k = 0; k < fs->ngot; k++) {
		struct stored *s = &fs->got[k], *d;
		struct ns_mapping *m = ns_lookup_hpasid(ns, s->hpasid, s->bdf);
		char bdf[NS_BDF_LEN + 1];
		struct ns_err err;

		if (s->fd < 0 || s->kind != 'i')
			continue;
		d = find(fs, s->hpasid, s->bdf, 'd');
		ns_bdf_format(s->bdf, bdf);
		if (d && d->seq == s->seq && !(m && ns_attachment(m, s->bdf))) {
			struct backend_attach a = {.bdf = s->bdf, .iommufd = s->fd, .devfd = d->fd};
			int r = ns->be->ops->detach(ns->be, s->hpasid, &a, &err);

			log_warn("PASID %u on %s was attached but not recorded before the restart: "
			         "%s",
			         s->hpasid, bdf, r == 0 ? "detached" : err.message);
		}
	}
	for (size_t k = 0; k < fs->ngot; k++) {
		if (fs->got[k].fd < 0)
			continue;
		close(fs->got[k].fd);
		fs->got[k].fd = -1;
		remove_later(fs, fs->got[k].name);
	}
}

int
fdstore_reconcile(struct fdstore *fs, struct ns *ns)
{
	unsigned adopted = 0, attachments = 0;

	for (unsigned v = 0; v < ns->nvms; v++) {
		size_t it = 0;
		void *p;

		while (u32map_next(&ns->vms[v]->maps, &it, NULL, &p)) {
			struct ns_mapping *m = p;

			for (unsigned a = 0; a < m->natts; a++) {
				attachments++;
				adopt(fs, ns, m, m->atts[a]);
				adopted += m->atts[a]->iommufd >= 0;
			}
		}
	}
	drop_strays(fs, ns);
	/* The strays were never in the journal: nothing to wait for before they leave. */
	fdstore_on_durable(fs);
	if (attachments)
		log_info("%u attachment(s) in the state, %u with their descriptors back from the "
		         "fd store",
		         attachments, adopted);
	fs->ns = ns;
	return ns_observe(ns, &(struct ns_observer){.apply = apply, .ctx = fs});
}
