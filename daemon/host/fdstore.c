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

/* An attachment's descriptors as the service manager gave them back: its stash, a datagram
 * socket whose queue holds them (see stash()), by the name it was stored under. */
struct stored {
	uint32_t seq, hpasid, bdf;
	int fd;      /* the stash; -1 once closed */
	int iommufd; /* read from the stash; -1 once adopted or closed */
	int devfd;
	char name[NAME_MAX_LEN];
};

struct fdstore {
	bool enabled; /* a service manager listens (NOTIFY_SOCKET) */
	bool warned;  /* that a restart loses attachments without it */
	int listen_fd;
	struct stored *got;
	size_t ngot;
	uint32_t next_seq;
	/* Names to drop once the state is durable: each with the number of the commit that
	 * takes its detach (fdstore_set_commits()), 0 without one. */
	struct removal {
		char name[NAME_MAX_LEN];
		uint64_t gen;
	} * removals;
	size_t nremovals, removals_cap;
	uint64_t (*next_gen)(const void *ctx); /* the commit that takes changes made now */
	uint64_t (*done_gen)(const void *ctx); /* the last commit done */
	const void *gen_ctx;
	struct ns *ns;
};

static void
name_of(char out[NAME_MAX_LEN], uint32_t seq, uint32_t hpasid, uint32_t bdf)
{
	snprintf(out, NAME_MAX_LEN, "pasidd-a%" PRIu32 "-%" PRIu32 "-%08" PRIx32, seq, hpasid, bdf);
}

static bool
parse_name(const char *name, struct stored *s)
{
	int end = 0;

	if (sscanf(name, "pasidd-a%" SCNu32 "-%" SCNu32 "-%8" SCNx32 "%n", &s->seq, &s->hpasid,
	           &s->bdf, &end) != 3 ||
	    name[end] || !s->seq)
		return false;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return true;
}

/* systemd keeps each open file once: a descriptor that refers to a file it stores already is
 * dropped, whatever its name. Two attachments share their iommufd (one VMM) or device cdev
 * (two PASIDs of a device), so their descriptors cannot be stored as they are. Each
 * attachment's pair goes instead into the queue of a datagram socket of its own (in flight,
 * they stay open for as long as the socket does), and that socket is what is stored. */
static int
stash(int iommufd, int devfd)
{
	int sp[2], fds[2] = {iommufd, devfd};
	union {
		char b[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} cbuf;
	char byte = 'a';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf.b,
	                    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(sp[1], &mh, MSG_NOSIGNAL) != 1) {
		int e = errno;

		close(sp[0]);
		close(sp[1]);
		return -e;
	}
	close(sp[1]);
	return sp[0];
}

/* The pair in a stash, leaving it there (MSG_PEEK installs copies), so that the stash still
 * holds it for the start after the next. 0 or a negative errno. */
static int
unstash(int fd, int *iommufd, int *devfd)
{
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf.b,
	                    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	int fds[2];
	ssize_t got_bytes = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (got_bytes < 0)
		return -errno;
	if (got_bytes != 1)
		return -EBADMSG;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	if (cm->cmsg_len != CMSG_LEN(sizeof(fds)) || (mh.msg_flags & MSG_CTRUNC)) {
		/* Whatever came is not ours to keep. */
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *got = (int *)CMSG_DATA(cm);

		for (size_t i = 0; i < n && i < 2; i++)
			close(got[i]);
		return -EBADMSG;
	}
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	*iommufd = fds[0];
	*devfd = fds[1];
	return 0;
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
	int r;

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
	if ((r = unstash(fd, &s.iommufd, &s.devfd)) < 0) {
		/* Kept by the service manager until reconcile drops it: nothing to detach. */
		log_warn("the fd store's %s does not hold an attachment's descriptors (%s): "
		         "dropped",
		         name, strerror(-r));
		s.iommufd = s.devfd = -1;
	}
	fs->got[fs->ngot++] = s;
	if (s.seq >= fs->next_seq)
		fs->next_seq = s.seq + 1;
	return 0;
}

/* Closes what is left of a stored attachment in this process. */
static void
drop(struct stored *s)
{
	int *fds[] = {&s->fd, &s->iommufd, &s->devfd};

	for (size_t i = 0; i < 3; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
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
		drop(&fs->got[i]);
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
	fs->removals[fs->nremovals].gen = fs->next_gen ? fs->next_gen(fs->gen_ctx) : 0;
	snprintf(fs->removals[fs->nremovals++].name, NAME_MAX_LEN, "%s", name);
}

void
fdstore_set_commits(struct fdstore *fs, uint64_t (*next_gen)(const void *ctx),
                    uint64_t (*done_gen)(const void *ctx), const void *ctx)
{
	fs->next_gen = next_gen;
	fs->done_gen = done_gen;
	fs->gen_ctx = ctx;
}

void
fdstore_on_durable(void *ctx)
{
	struct fdstore *fs = ctx;
	uint64_t done = fs->done_gen ? fs->done_gen(fs->gen_ctx) : UINT64_MAX;
	size_t i = 0;

	/* In the order queued, which is the order of the commits: a detach made while an
	 * earlier commit was in flight waits for its own. */
	for (; i < fs->nremovals && fs->removals[i].gen <= done; i++) {
		int r = sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", fs->removals[i].name);

		if (r < 0)
			log_warn("cannot drop %s from the fd store: %s", fs->removals[i].name,
			         strerror(-r));
	}
	if (i == 0)
		return; /* nothing done (maybe nothing queued: removals may be NULL) */
	memmove(fs->removals, fs->removals + i, (fs->nremovals - i) * sizeof(*fs->removals));
	fs->nremovals -= i;
}

static void
store(struct fdstore *fs, const struct backend_attach *att, const char *name)
{
	char msg[NAME_MAX_LEN + 24];
	int fd = stash(att->iommufd, att->devfd), r = fd;

	if (fd >= 0) {
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
		r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
		close(fd);
	}
	if (r < 0)
		log_warn("cannot keep an attachment's descriptors in the fd store (%s): %s; a "
		         "restart of pasidd will not be able to detach it",
		         name, strerror(-r));
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
	char name[NAME_MAX_LEN];
	uint32_t pasid = 0; /* a requester ID attachment's */

	switch (ev->kind) {
	case NS_EV_MAP_ATTACHED:
	case NS_EV_MAP_DETACHED:
		pasid = ev->map->hpasid;
		break;
	case NS_EV_DEV_ATTACHED:
	case NS_EV_DEV_DETACHED:
		break;
	default:
		return;
	}
	if (!fs->enabled) {
		if ((ev->kind == NS_EV_MAP_ATTACHED || ev->kind == NS_EV_DEV_ATTACHED) &&
		    !fs->warned)
			log_warn(
			    "no service manager fd store (NOTIFY_SOCKET is not set): a restart "
			    "of pasidd will lose its descriptors of attachments, and with them "
			    "the ability to detach them");
		fs->warned = true;
		return;
	}
	if (ev->kind == NS_EV_MAP_DETACHED || ev->kind == NS_EV_DEV_DETACHED) {
		if (att->tag) {
			name_of(name, att->tag, pasid, att->bdf);
			remove_later(fs, name);
		}
		return;
	}
	att->tag = fs->next_seq++;
	name_of(name, att->tag, pasid, att->bdf);
	store(fs, att, name);
}

/* The newest stored pair for (hpasid, bdf), or NULL. */
static struct stored *
find(struct fdstore *fs, uint32_t hpasid, uint32_t bdf)
{
	struct stored *best = NULL;

	for (size_t i = 0; i < fs->ngot; i++) {
		struct stored *s = &fs->got[i];

		if (s->iommufd >= 0 && s->hpasid == hpasid && s->bdf == bdf &&
		    (!best || s->seq > best->seq))
			best = s;
	}
	return best;
}

/* A journal attachment (of PASID `pasid`, 0 for the device's requester ID) gets its
 * descriptors back and is attached again where it was. */
static void
adopt(struct fdstore *fs, struct ns *ns, const struct ns_vm *vm, uint32_t pasid,
      struct backend_attach *att)
{
	struct stored *s = find(fs, pasid, att->bdf);
	char bdf[NS_BDF_LEN + 1], what[32] = "the requester ID";
	struct ns_err err;
	int r;

	ns_bdf_format(att->bdf, bdf);
	if (pasid)
		snprintf(what, sizeof(what), "PASID %u", pasid);
	if (!s) {
		log_warn("%s of VM %s on %s: attached before the restart, but its descriptors "
		         "did not come back%s; pasidd cannot detach it until the VMM attaches it "
		         "again, and the kernel detaches it when the VMM closes the device",
		         what, vm->name, bdf, fs->enabled ? "" : " (no service manager fd store)");
		return;
	}
	ns_attachment_adopt(att, s->iommufd, s->devfd);
	att->tag = s->seq;
	s->iommufd = s->devfd = -1;
	/* The stash stays in the store under its name, for the attachment's detach. */
	close(s->fd);
	s->fd = -1;
	if (pasid)
		r = ns->be->ops->attach(ns->be, pasid, att, &err);
	else if (ns->be->ops->rid_attach)
		r = ns->be->ops->rid_attach(ns->be, att, &err);
	else
		r = ns_fail(&err, NS_E_UNSUPPORTED, NULL, "the backend has no requester ID attach");
	if (r < 0)
		log_warn("%s of VM %s on %s: attaching it again after the restart failed (%s); "
		         "kept as the journal has it",
		         what, vm->name, bdf, err.message);
}

/* Stored pairs no attachment of the journal took: an attach whose record never became
 * durable (no one was told it succeeded) is detached; an older duplicate or an unreadable
 * stash is dropped. */
static void
drop_strays(struct fdstore *fs, struct ns *ns)
{
	for (size_t k = 0; k < fs->ngot; k++) {
		struct stored *s = &fs->got[k];
		struct ns_mapping *m = ns_lookup_hpasid(ns, s->hpasid, s->bdf);
		char bdf[NS_BDF_LEN + 1];
		struct ns_err err;

		if (s->fd < 0)
			continue;
		ns_bdf_format(s->bdf, bdf);
		if (s->iommufd >= 0 && s->hpasid == 0) {
			/* A requester ID attachment's: its device has none in the journal (or a
			 * newer one, which adopted its own pair). */
			struct ns_device *dev = ns_device_find(ns, s->bdf);
			struct backend_attach a = {
			    .bdf = s->bdf, .iommufd = s->iommufd, .devfd = s->devfd};
			int r = 0;

			if (!(dev && dev->rid) && ns->be->ops->rid_detach)
				r = ns->be->ops->rid_detach(ns->be, &a, &err);
			if (!(dev && dev->rid))
				log_warn(
				    "the requester ID of %s was attached but not recorded before "
				    "the restart: %s",
				    bdf, r == 0 ? "detached" : err.message);
		} else if (s->iommufd >= 0 && !(m && ns_attachment(m, s->bdf))) {
			struct backend_attach a = {
			    .bdf = s->bdf, .iommufd = s->iommufd, .devfd = s->devfd};
			int r = ns->be->ops->detach(ns->be, s->hpasid, &a, &err);

			log_warn("PASID %u on %s was attached but not recorded before the restart: "
			         "%s",
			         s->hpasid, bdf, r == 0 ? "detached" : err.message);
		}
		drop(s);
		remove_later(fs, s->name);
	}
}

int
fdstore_reconcile(struct fdstore *fs, struct ns *ns)
{
	unsigned adopted = 0, attachments = 0;

	for (unsigned v = 0; v < ns->nvms; v++) {
		size_t it = 0;
		void *p;

		/* Requester IDs first: the kernel attaches a PASID only on a device whose RID
		 * is attached. */
		for (unsigned d = 0; d < ns->vms[v]->ndevs; d++) {
			struct ns_device *dev = ns->vms[v]->devs[d].dev;

			if (!dev->rid)
				continue;
			attachments++;
			adopt(fs, ns, ns->vms[v], 0, dev->rid);
			adopted += dev->rid->iommufd >= 0;
		}
		/* Only while some mapping is attached (the namespace counts them, and start-up's
		 * ns_check() held the count against the mappings): a million mappings without
		 * attachments are not walked for none. */
		while (ns_attached(ns) && u32map_next(&ns->vms[v]->maps, &it, NULL, &p)) {
			struct ns_mapping *m = p;

			for (unsigned a = 0; a < m->natts; a++) {
				attachments++;
				adopt(fs, ns, m->vm, m->hpasid, m->atts[a]);
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
