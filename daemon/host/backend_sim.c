/* In-memory model of the kernel side: per-device PASID attach tables with the kernel's
 * rules (PASID 0 and PASIDs beyond the width refused, no double attach), plus fault
 * injection so tests can drive every kernel_error path. */
#include "backends.h"
#include "u32map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIM_PROBE, SIM_ATTACH, SIM_DETACH, SIM_NOPS };

struct sim {
	struct backend be;
	struct u32map devs; /* bdf -> struct u32map * of attached pasids */
	int fail_err[SIM_NOPS];
	unsigned fail_count[SIM_NOPS];
};

static const char *const sim_caps[] = {"attach", "fault_injection", NULL};

static int
injected(struct sim *s, int op, const char *what, char *why, size_t len)
{
	if (!s->fail_count[op])
		return 0;
	s->fail_count[op]--;
	snprintf(why, len, "sim: injected %s failure: %s", what, strerror(s->fail_err[op]));
	return -s->fail_err[op];
}

static int
sim_probe(struct backend *be, uint32_t bdf, bool shared, char *why, size_t len)
{
	return injected(be->priv, SIM_PROBE, "probe", why, len);
}

static int
sim_attach(struct backend *be, uint32_t bdf, uint32_t pasid, const struct backend_attach *a,
           char *why, size_t len)
{
	struct sim *s = be->priv;
	struct u32map *tbl;
	int r = injected(s, SIM_ATTACH, "attach", why, len);

	if (r < 0)
		return r;
	if (pasid == 0 || pasid >= 1U << be->pasid_bits) {
		snprintf(why, len, "sim: PASID %u outside the device's width", pasid);
		return -EINVAL;
	}
	tbl = u32map_get(&s->devs, bdf);
	if (!tbl) {
		tbl = calloc(1, sizeof(*tbl));
		if (!tbl || u32map_put(&s->devs, bdf, tbl) < 0) {
			free(tbl);
			return -ENOMEM;
		}
	}
	if (u32map_get(tbl, pasid)) {
		snprintf(why, len, "sim: PASID %u already attached on the device", pasid);
		return -EBUSY;
	}
	return u32map_put(tbl, pasid, (void *)1);
}

static int
sim_detach(struct backend *be, uint32_t bdf, uint32_t pasid, char *why, size_t len)
{
	struct sim *s = be->priv;
	struct u32map *tbl = u32map_get(&s->devs, bdf);
	int r = injected(s, SIM_DETACH, "detach", why, len);

	if (r < 0)
		return r;
	if (!tbl || !u32map_del(tbl, pasid)) {
		snprintf(why, len, "sim: PASID %u is not attached on the device", pasid);
		return -ENOENT;
	}
	return 0;
}

static void
sim_destroy(struct backend *be)
{
	struct sim *s = be->priv;
	size_t it = 0;
	void *tbl;

	while (u32map_next(&s->devs, &it, NULL, &tbl)) {
		u32map_free(tbl);
		free(tbl);
	}
	u32map_free(&s->devs);
	free(s);
}

static const struct backend_ops sim_ops = {
    .name = "sim",
    .device_probe = sim_probe,
    .attach = sim_attach,
    .detach = sim_detach,
    .destroy = sim_destroy,
};

int
backend_sim_create(struct backend **out, char *why, size_t len)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	u32map_init(&s->devs);
	s->be.ops = &sim_ops;
	s->be.pasid_bits = 20;
	s->be.caps = sim_caps;
	s->be.priv = s;
	*out = &s->be;
	return 0;
}

int
backend_sim_inject(struct backend *be, const char *op, int err, unsigned count)
{
	static const char *const names[SIM_NOPS] = {"probe", "attach", "detach"};
	struct sim *s;

	if (be->ops != &sim_ops)
		return -EOPNOTSUPP;
	s = be->priv;
	for (int i = 0; i < SIM_NOPS; i++) {
		if (!strcmp(op, names[i])) {
			s->fail_err[i] = err;
			s->fail_count[i] = count;
			return 0;
		}
	}
	return -EINVAL;
}

bool
backend_sim_attached(struct backend *be, uint32_t bdf, uint32_t pasid)
{
	struct u32map *tbl;

	if (be->ops != &sim_ops)
		return false;
	tbl = u32map_get(&((struct sim *)be->priv)->devs, bdf);
	return tbl && u32map_get(tbl, pasid);
}
