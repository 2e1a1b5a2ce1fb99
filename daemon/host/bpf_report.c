/* The BPF programs' reports (bpf_report.h). */
#include "bpf_report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
bpf_report_gate_read(const void *data, size_t len, struct ag_report *r)
{
	if (!data || len != sizeof(*r))
		return -EINVAL;
	memcpy(r, data, sizeof(*r));
	r->comm[sizeof(r->comm) - 1] = '\0';
	return 0;
}

int
bpf_report_observer_read(const void *data, size_t len, struct ob_report *r)
{
	if (!data || len != sizeof(*r))
		return -EINVAL;
	memcpy(r, data, sizeof(*r));
	r->dev[sizeof(r->dev) - 1] = '\0';
	r->comm[sizeof(r->comm) - 1] = '\0';
	return 0;
}

static const char *
gate_cmd(uint32_t cmd)
{
	if (cmd == AG_CMD_ATTACH_PT)
		return "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
	if (cmd == AG_CMD_DETACH_PT)
		return "VFIO_DEVICE_DETACH_IOMMUFD_PT";
	return "ioctl ?";
}

/* Why the gate refused: the rule it applied. */
static const char *
gate_why(const struct ag_report *r)
{
	if (r->verdict != AG_REFUSED)
		return "";
	if (r->flags == ~0u)
		return ": only pasidd attaches devices to iommufd (strict)";
	return ": only pasidd attaches PASIDs";
}

void
bpf_report_gate_format(const struct ag_report *r, char *out, size_t len)
{
	char what[48];

	/* Strict mode decides on the number alone and never reads the flags. */
	if (r->flags == ~0u)
		snprintf(what, sizeof(what), "flags not read");
	else
		snprintf(what, sizeof(what), "flags 0x%x, %s", r->flags,
		         r->flags & AG_FLAG_PASID ? "a PASID" : "the RID");
	snprintf(out, len, "attach gate: %s %s (%s) by pid %u (tgid %u, uid %u, comm %s)%s",
	         r->verdict == AG_REFUSED ? "refused" : "audited, allowed", gate_cmd(r->cmd), what,
	         r->pid, r->tgid, r->uid, r->comm, gate_why(r));
}

static const char *
observer_call(uint32_t kind)
{
	switch (kind) {
	case OB_ATTACH:
		return "iommu_attach_device_pasid";
	case OB_REPLACE:
		return "iommu_replace_device_pasid";
	case OB_DETACH:
		return "iommu_detach_device_pasid";
	case OB_GLOBAL_ALLOC:
		return "iommu_alloc_global_pasid";
	case OB_GLOBAL_FREE:
		return "iommu_free_global_pasid";
	}
	return "?";
}

/* Appends to a line that an earlier part may have filled: never past its end. */
static void __attribute__((format(printf, 3, 4)))
append(char **why, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(*why, *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= *len)
		n = (int)*len - 1;
	*why += n;
	*len -= (size_t)n;
}

/* The kernel detached r's PASID: whatever kept it out of pasidd's circulation goes. */
static void
keep_detached(const struct ob_report *r, const struct bpf_report_table *t, char **why, size_t *len)
{
	if (t->release && t->release(t->ctx, r->dev, r->pasid) > 0)
		append(why, len, "; it is no longer kept out of pasidd's allocation");
}

/* Another process attached r's PASID: kept out of pasidd's circulation until seen detached. */
static void
keep_attached(const struct ob_report *r, const struct bpf_report_table *t, char **why, size_t *len)
{
	int k = t->take ? t->take(t->ctx, r->dev, r->pasid) : 0;

	if (k > 0)
		append(why, len, "; kept out of pasidd's allocation until it is detached");
	else if (k < 0)
		append(why, len, "; could not be kept out of pasidd's allocation: %s",
		       strerror(-k));
}

enum bpf_judgement
bpf_report_judge(const struct ob_report *r, pid_t self, const struct bpf_report_table *t, char *why,
                 size_t len)
{
	const char *dev = r->dev[0] ? r->dev : "(no device)";
	bool ours = (pid_t)r->tgid == self;
	int n;

	n = snprintf(
	    why, len, "observer: %s(%s, PASID %u) = %d by pid %u (tgid %u, uid %u, comm %s)",
	    observer_call(r->kind), dev, r->pasid, r->ret, r->pid, r->tgid, r->uid, r->comm);
	if (n < 0 || (size_t)n >= len)
		n = len ? (int)len - 1 : 0;
	why += n;
	len -= (size_t)n;
	if (r->kind == OB_GLOBAL_ALLOC || r->kind == OB_GLOBAL_FREE)
		return BPF_JUDGE_KERNEL;
	if (r->kind != OB_ATTACH && r->kind != OB_REPLACE && r->kind != OB_DETACH) {
		snprintf(why, len, ": unknown report kind %u", r->kind);
		return BPF_JUDGE_ALARM;
	}
	if (r->ret != 0)
		return BPF_JUDGE_FAILED;
	if (!ours) {
		append(&why, &len, ": not pasidd (tgid %d): a PASID %s around pasidd", (int)self,
		       r->kind == OB_DETACH ? "detached" : "attached");
		/* Whoever detaches it, the number is free on that device again. */
		if (r->kind == OB_DETACH)
			keep_detached(r, t, &why, &len);
		else
			keep_attached(r, t, &why, &len);
		return BPF_JUDGE_ALARM;
	}
	if (r->kind == OB_DETACH) {
		keep_detached(r, t, &why, &len);
		return BPF_JUDGE_OURS;
	}
	/* pasidd records an attachment in the same turn of the loop as it makes it, and drops it
	 * as it detaches, so by the time the report is read the table agrees. */
	if (!t->holds(t->ctx, r->dev, r->pasid)) {
		snprintf(why, len, ": pasidd's table does not hold PASID %u on %s", r->pasid, dev);
		return BPF_JUDGE_UNHELD;
	}
	return BPF_JUDGE_OURS;
}

int
bpf_pending_add(struct bpf_pending *p, const struct ob_report *r, const char *why)
{
	struct bpf_pending_attach *e;

	if (p->n == BPF_PENDING_MAX)
		return -ENOSPC;
	e = &p->e[p->n++];
	memcpy(e->dev, r->dev, sizeof(e->dev));
	e->dev[sizeof(e->dev) - 1] = '\0';
	e->pasid = r->pasid;
	snprintf(e->why, sizeof(e->why), "%s", why);
	return 0;
}

bool
bpf_pending_cancel(struct bpf_pending *p, const struct ob_report *r)
{
	/* The latest first: an attach undone is the last one made on that PASID. */
	for (size_t i = p->n; i-- > 0;) {
		if (p->e[i].pasid != r->pasid || strncmp(p->e[i].dev, r->dev, sizeof(r->dev)) != 0)
			continue;
		memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof(p->e[0]));
		p->n--;
		return true;
	}
	return false;
}
