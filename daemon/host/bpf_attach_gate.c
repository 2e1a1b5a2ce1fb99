/* The attach gate's loader (bpf_attach_gate.h). */
#include "bpf_attach_gate.h"

#ifdef PASIDD_HAVE_BPF

#include "bpf_libbpf.h"
#include "bpf_probe.h"
#include "bpf_report.h"
#include "bpf_why.h"
#include "iommufd_abi.h"
#include "log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

#include "attach_gate.skel.h"

/* The program spells the uAPI out itself (it has no uAPI headers); both must agree. */
_Static_assert(AG_CMD_ATTACH_PT == ABI_VFIO_DEVICE_ATTACH_IOMMUFD_PT, "attach ioctl number");
_Static_assert(AG_CMD_DETACH_PT == ABI_VFIO_DEVICE_DETACH_IOMMUFD_PT, "detach ioctl number");
_Static_assert(AG_FLAG_PASID == ABI_VFIO_DEVICE_ATTACH_PASID, "attach PASID flag");
_Static_assert(AG_FLAG_PASID == ABI_VFIO_DEVICE_DETACH_PASID, "detach PASID flag");

struct bpf_attach_gate {
	struct attach_gate *skel;
	struct ring_buffer *rb;
	struct event *ev;
	struct bpfprog_state *st;
};

static int
on_report(void *ctx, void *data, size_t len)
{
	struct bpf_attach_gate *g = ctx;
	struct ag_report r;
	char line[BPF_REPORT_LINE_LEN];

	g->st->reports++;
	if (bpf_report_gate_read(data, len, &r) < 0) {
		log_warn("attach gate: a report of %zu bytes, not %zu: program and pasidd differ",
		         len, sizeof(r));
		return 0;
	}
	/* Audited or refused, another process reached for a PASID: always worth a warning. */
	g->st->alarms++;
	bpf_report_gate_format(&r, line, sizeof(line));
	log_warn("%s", line);
	return 0;
}

static void
on_readable(evutil_socket_t fd, short what, void *ctx)
{
	struct bpf_attach_gate *g = ctx;

	uint64_t lost;

	(void)fd;
	(void)what;
	ring_buffer__consume(g->rb);
	/* The decisions stand (a full ring drops the report, never the verdict); only their
	 * reports are gone, so a warning, not an alarm. */
	lost = __atomic_load_n(&g->skel->bss->lost, __ATOMIC_RELAXED);
	if (lost != g->st->lost) {
		log_warn("attach gate: its ring buffer was full and %llu report(s) of refused or "
		         "audited ioctls were lost (%llu since start); the refusals stood",
		         (unsigned long long)(lost - g->st->lost), (unsigned long long)lost);
		g->st->lost = lost;
	}
}

static uint32_t
skel_mode(enum bpf_gate mode)
{
	switch (mode) {
	case BPF_GATE_AUDIT:
		return AG_MODE_AUDIT;
	case BPF_GATE_ENFORCE:
		return AG_MODE_ENFORCE;
	case BPF_GATE_STRICT:
		return AG_MODE_STRICT;
	case BPF_GATE_OFF:
		break;
	}
	return 0;
}

static const char *
mode_words(enum bpf_gate mode)
{
	switch (mode) {
	case BPF_GATE_AUDIT:
		return "audit: other processes' PASID attach/detach on VFIO devices is reported, "
		       "not refused";
	case BPF_GATE_ENFORCE:
		return "enforce: other processes' PASID attach/detach on VFIO devices is refused "
		       "(flags read from user memory: a racing thread can get past; the observer "
		       "reports it)";
	case BPF_GATE_STRICT:
		return "strict: every VFIO attach/detach to iommufd by another process is refused, "
		       "RID ones included (pasidd makes the VMM's: device.attach)";
	case BPF_GATE_OFF:
		break;
	}
	return "?";
}

struct bpf_attach_gate *
bpf_attach_gate_open(struct event_base *base, enum bpf_gate mode, struct bpfprog_state *st)
{
	struct bpf_attach_gate *g;
	uint32_t key = 0, val = skel_mode(mode), one = 1, self = (uint32_t)getpid();
	bool compat;
	int r;

	if (mode == BPF_GATE_OFF) {
		bpfprog_unavailable(st, "off in the configuration ([Bpf] AttachGate=off)");
		return NULL;
	}
	if ((r = bpf_probe_type_refused(BPF_PROBE_LSM)) < 0) {
		bpf_why_failed(st, BPF_WHY_LSM, "loading lsm.s/file_ioctl (BPF_PROG_LOAD)", r);
		log_warn("attach gate not running: %s", st->why);
		return NULL;
	}
	bpf_libbpf_setup();
	g = calloc(1, sizeof(*g));
	if (!g) {
		bpf_why_failed(st, BPF_WHY_LSM, "allocating the attach gate", ENOMEM);
		return NULL;
	}
	g->st = st;
	g->skel = attach_gate__open();
	if (!g->skel) {
		bpf_why_failed(st, BPF_WHY_LSM, "opening attach_gate.bpf.o", errno);
		goto fail;
	}
	/* 32-bit callers have a hook of their own since Linux 6.8; an older kernel cannot load
	 * that program, and has no other way to gate them. (libbpf adds the "bpf_lsm_" of the
	 * kernel's BTF name for an LSM program itself.) */
	compat = libbpf_find_vmlinux_btf_id("file_ioctl_compat", BPF_LSM_MAC) > 0;
	if (!compat)
		bpf_program__set_autoload(g->skel->progs.ag_file_ioctl_compat, false);
	if ((r = attach_gate__load(g->skel)) < 0) {
		bpf_why_failed(st, BPF_WHY_LSM, "loading lsm.s/file_ioctl (BPF_PROG_LOAD)", r);
		goto fail;
	}
	/* Allowed and in its mode before it is attached: never a moment refusing pasidd. */
	if (bpf_map__update_elem(g->skel->maps.allowed, &self, sizeof(self), &one, sizeof(one),
	                         BPF_ANY) < 0 ||
	    bpf_map__update_elem(g->skel->maps.config, &key, sizeof(key), &val, sizeof(val),
	                         BPF_ANY) < 0) {
		bpf_why_failed(st, BPF_WHY_LSM, "filling the attach gate's maps", errno);
		goto fail;
	}
	g->skel->links.ag_file_ioctl = bpf_program__attach(g->skel->progs.ag_file_ioctl);
	if (!g->skel->links.ag_file_ioctl) {
		bpf_why_failed(st, BPF_WHY_LSM, "attaching lsm.s/file_ioctl", errno);
		goto fail;
	}
	if (compat) {
		g->skel->links.ag_file_ioctl_compat =
		    bpf_program__attach(g->skel->progs.ag_file_ioctl_compat);
		if (!g->skel->links.ag_file_ioctl_compat) {
			bpf_why_failed(st, BPF_WHY_LSM, "attaching lsm.s/file_ioctl_compat", errno);
			goto fail;
		}
	}
	g->rb = ring_buffer__new(bpf_map__fd(g->skel->maps.reports), on_report, g, NULL);
	if (!g->rb) {
		bpf_why_failed(st, BPF_WHY_LSM, "reading the attach gate's ring buffer", errno);
		goto fail;
	}
	g->ev = event_new(base, ring_buffer__epoll_fd(g->rb), EV_READ | EV_PERSIST, on_readable, g);
	if (!g->ev || event_add(g->ev, NULL) < 0) {
		bpf_why_failed(st, BPF_WHY_LSM, "watching the attach gate's ring buffer", ENOMEM);
		goto fail;
	}
	st->active = true;
	snprintf(st->why, sizeof(st->why), "%s; %s", mode_words(mode),
	         compat ? "32-bit callers too (file_ioctl_compat)"
	                : "32-bit callers not gated (this kernel has no file_ioctl_compat hook)");
	log_info("attach gate active, %s", st->why);
	return g;
fail:
	log_warn("attach gate not running: %s", st->why);
	bpf_attach_gate_close(g);
	return NULL;
}

void
bpf_attach_gate_close(struct bpf_attach_gate *g)
{
	if (!g)
		return;
	if (g->ev)
		event_free(g->ev);
	ring_buffer__free(g->rb);
	attach_gate__destroy(g->skel);
	free(g);
}

#else /* !PASIDD_HAVE_BPF: bpfprog_init said why already */

struct bpf_attach_gate *
bpf_attach_gate_open(struct event_base *base, enum bpf_gate mode, struct bpfprog_state *st)
{
	(void)base;
	(void)mode;
	(void)st;
	return NULL;
}

void
bpf_attach_gate_close(struct bpf_attach_gate *g)
{
	(void)g;
}

#endif
