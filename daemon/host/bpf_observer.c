/* The observer's loader and reconciliation (bpf_observer.h). */
#include "bpf_observer.h"

#ifdef PASIDD_HAVE_BPF

#include "bpf_libbpf.h"
#include "bpf_probe.h"
#include "bpf_why.h"
#include "log.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observer.skel.h"

struct bpf_observer {
	struct observer *skel;
	struct ring_buffer *rb;
	struct event *ev;
	struct bpfprog_state *st;
	struct bpf_report_table table; /* a copy of the caller's */
	pid_t self;
	struct bpf_pending pending; /* of the read under way */
};

static void
raise_alarm(struct bpf_observer *o, const char *why)
{
	o->st->alarms++;
	log_warn("ALARM %s", why);
}

/* A full ring dropped reports: what the kernel did in them is unknown, so each new loss is
 * an alarm (the table may no longer agree with the kernel). Read after every batch of
 * reports: a drop happens only while reports wait, so a batch follows it. */
static void
note_lost(struct bpf_observer *o)
{
	uint64_t now = __atomic_load_n(&o->skel->bss->lost, __ATOMIC_RELAXED);
	char why[256];

	if (now == o->st->lost)
		return;
	snprintf(why, sizeof(why),
	         "observer: its ring buffer was full and %llu report(s) were lost (%llu since "
	         "start): a PASID attached or detached around pasidd may have gone unseen",
	         (unsigned long long)(now - o->st->lost), (unsigned long long)now);
	o->st->lost = now;
	raise_alarm(o, why);
}

static int
on_report(void *ctx, void *data, size_t len)
{
	struct bpf_observer *o = ctx;
	struct ob_report r;
	char line[BPF_REPORT_LINE_LEN + 128];

	o->st->reports++;
	if (bpf_report_observer_read(data, len, &r) < 0) {
		log_warn("observer: a report of %zu bytes, not %zu: program and pasidd differ", len,
		         sizeof(r));
		return 0;
	}
	switch (bpf_report_judge(&r, o->self, &o->table, line, sizeof(line))) {
	case BPF_JUDGE_ALARM:
		raise_alarm(o, line);
		break;
	case BPF_JUDGE_UNHELD:
		if (bpf_pending_add(&o->pending, &r, line) < 0)
			raise_alarm(o, line);
		break;
	case BPF_JUDGE_KERNEL:
		log_info("%s (the kernel's own PASID)", line);
		break;
	case BPF_JUDGE_OURS:
		if (r.kind == OB_DETACH && bpf_pending_cancel(&o->pending, &r))
			log_info("%s; it undid an attach of pasidd's that its table never kept",
			         line);
		else
			log_info("%s", line);
		break;
	case BPF_JUDGE_FAILED:
		log_info("%s", line);
		break;
	}
	return 0;
}

static void
on_readable(evutil_socket_t fd, short what, void *ctx)
{
	struct bpf_observer *o = ctx;

	(void)fd;
	(void)what;
	o->pending.n = 0;
	ring_buffer__consume(o->rb);
	/* Not undone within the read: pasidd's attach outlived its table's record. */
	for (size_t i = 0; i < o->pending.n; i++)
		raise_alarm(o, o->pending.e[i].why);
	o->pending.n = 0;
	note_lost(o);
}

/* Each traced function, its program, and whether the observer is worth running without it. */
struct target {
	const char *func;
	struct bpf_program *prog;
	bool needed;
};

/* Leaves out the programs whose function this kernel does not have (its BTF says), so that
 * the others load: the global PASID allocator is optional, and a kernel may lack
 * iommu_replace_device_pasid. -ENOENT when not one of the needed ones is there. */
static int
select_targets(struct observer *skel, char *missing, size_t len)
{
	struct target t[] = {
	    {"iommu_attach_device_pasid", skel->progs.ob_attach, true},
	    {"iommu_replace_device_pasid", skel->progs.ob_replace, false},
	    {"iommu_detach_device_pasid", skel->progs.ob_detach, true},
	    {"iommu_alloc_global_pasid", skel->progs.ob_global_alloc, false},
	    {"iommu_free_global_pasid", skel->progs.ob_global_free, false},
	};
	struct btf *btf = btf__load_vmlinux_btf();
	size_t n = 0;
	int found = 0;

	missing[0] = '\0';
	if (!btf)
		return -errno;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (btf__find_by_name_kind(btf, t[i].func, BTF_KIND_FUNC) >= 0) {
			found += t[i].needed;
			continue;
		}
		bpf_program__set_autoload(t[i].prog, false);
		if (n < len)
			n += (size_t)snprintf(missing + n, len - n, "%s%s", n ? ", " : "",
			                      t[i].func);
	}
	btf__free(btf);
	return found ? 0 : -ENOENT;
}

struct bpf_observer *
bpf_observer_open(struct event_base *base, struct bpfprog_state *st,
                  const struct bpf_report_table *t)
{
	struct bpf_observer *o;
	struct bpf_program *prog;
	char missing[160], step[96];
	int r;

	if ((r = bpf_probe_type_refused(BPF_PROBE_FEXIT)) < 0) {
		bpf_why_failed(st, BPF_WHY_TRACING, "loading the fexit programs (BPF_PROG_LOAD)",
		               r);
		log_warn("observer not running: %s", st->why);
		return NULL;
	}
	bpf_libbpf_setup();
	o = calloc(1, sizeof(*o));
	if (!o) {
		bpf_why_failed(st, BPF_WHY_TRACING, "allocating the observer", ENOMEM);
		return NULL;
	}
	o->st = st;
	o->table = *t;
	o->self = getpid();
	o->skel = observer__open();
	if (!o->skel) {
		bpf_why_failed(st, BPF_WHY_TRACING, "opening observer.bpf.o", errno);
		goto fail;
	}
	if ((r = select_targets(o->skel, missing, sizeof(missing))) < 0) {
		if (r == -ENOENT)
			bpfprog_unavailable(st, "the kernel has no iommu_attach_device_pasid nor "
			                        "iommu_detach_device_pasid in its BTF");
		else
			bpfprog_unavailable(
			    st,
			    "reading the kernel's BTF (/sys/kernel/btf/vmlinux): %s "
			    "(fexit needs a kernel with CONFIG_DEBUG_INFO_BTF)",
			    strerror(-r));
		goto fail;
	}
	if ((r = observer__load(o->skel)) < 0) {
		bpf_why_failed(st, BPF_WHY_TRACING, "loading the fexit programs (BPF_PROG_LOAD)",
		               r);
		goto fail;
	}
	/* One by one, so that the failing one is named. */
	bpf_object__for_each_program(prog, o->skel->obj)
	{
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			r = errno;
			snprintf(step, sizeof(step), "attaching %s",
			         bpf_program__section_name(prog));
			bpf_why_failed(st, BPF_WHY_TRACING, step, r);
			goto fail;
		}
		/* The skeleton's links, so that destroying it detaches them. */
		if (prog == o->skel->progs.ob_attach)
			o->skel->links.ob_attach = link;
		else if (prog == o->skel->progs.ob_replace)
			o->skel->links.ob_replace = link;
		else if (prog == o->skel->progs.ob_detach)
			o->skel->links.ob_detach = link;
		else if (prog == o->skel->progs.ob_global_alloc)
			o->skel->links.ob_global_alloc = link;
		else
			o->skel->links.ob_global_free = link;
	}
	o->rb = ring_buffer__new(bpf_map__fd(o->skel->maps.reports), on_report, o, NULL);
	if (!o->rb) {
		bpf_why_failed(st, BPF_WHY_TRACING, "reading the observer's ring buffer", errno);
		goto fail;
	}
	o->ev = event_new(base, ring_buffer__epoll_fd(o->rb), EV_READ | EV_PERSIST, on_readable, o);
	if (!o->ev || event_add(o->ev, NULL) < 0) {
		bpf_why_failed(st, BPF_WHY_TRACING, "watching the observer's ring buffer", ENOMEM);
		goto fail;
	}
	st->active = true;
	if (missing[0])
		snprintf(st->why, sizeof(st->why),
		         "fexit on the kernel's PASID attach/detach, reconciled with the table; "
		         "not in this kernel: %s",
		         missing);
	else
		snprintf(st->why, sizeof(st->why),
		         "fexit on the kernel's PASID attach/detach, reconciled with the table");
	log_info("observer active: %s", st->why);
	return o;
fail:
	log_warn("observer not running: %s", st->why);
	bpf_observer_close(o);
	return NULL;
}

void
bpf_observer_close(struct bpf_observer *o)
{
	if (!o)
		return;
	if (o->ev)
		event_free(o->ev);
	ring_buffer__free(o->rb);
	observer__destroy(o->skel);
	free(o);
}

#else /* !PASIDD_HAVE_BPF: bpfprog_init said why already */

struct bpf_observer *
bpf_observer_open(struct event_base *base, struct bpfprog_state *st,
                  const struct bpf_report_table *t)
{
	(void)base;
	(void)st;
	(void)t;
	return NULL;
}

void
bpf_observer_close(struct bpf_observer *o)
{
	(void)o;
}

#endif
