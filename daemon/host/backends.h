/* The backends that implement the kernel seam (core/backend.h), and how one is chosen. */
#ifndef PASIDD_BACKENDS_H
#define PASIDD_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* name: "sim" or "auto". 0, or -errno with a one-line reason in why. */
int backend_open(const char *name, struct backend **out, char *why, size_t len);
void backend_close(struct backend *be);

/* The backends, for backend_open(). */
int backend_sim_create(struct backend **out, char *why, size_t len);

/* The sim backend's fault injection: the next `count` calls of `op` ("probe", "attach",
 * "detach") fail with -err. */
int backend_sim_inject(struct backend *be, const char *op, int err, unsigned count);
/* Whether the sim backend has `pasid` attached on `bdf`. */
bool backend_sim_attached(struct backend *be, uint32_t bdf, uint32_t pasid);

#endif
