/* A work queue's configuration on its own: its checks, its driver, its one-line form. The
 * writer that applies it is idxd_apply.c. */
#include "idxd_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int
bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *
idxd_wq_driver(const char *kind, const char *type)
{
	/* cdev.c idxd_user_drv "user"; dma.c idxd_dmaengine_drv "dmaengine"; an IAX kernel WQ
	 * serves the iaa_crypto driver, whose name defaults.c gives it ("crypto"). */
	if (!strcmp(type, "user"))
		return "user";
	if (!strcmp(type, "kernel"))
		return strcmp(kind, "iax") ? "dmaengine" : "crypto";
	return NULL;
}

int
idxd_wq_conf_check(const struct idxd_wq_conf *c, char *why, size_t len)
{
	char dev[IDXD_NAME_LEN], wq[IDXD_NAME_LEN];
	bool shared = !strcmp(c->mode, "shared");

	if (idxd_ref_split(c->name, dev, wq) < 0)
		return bad(why, len, "Name=%.64s is not a work queue like dsa0/wq0.1 or iax1/wq1.0",
		           c->name);
	if (!shared && strcmp(c->mode, "dedicated"))
		return bad(why, len, "Mode= must be shared or dedicated, not '%.32s'", c->mode);
	if (strcmp(c->type, "none") && !idxd_wq_driver("dsa", c->type))
		return bad(why, len, "Type= must be user, kernel or none, not '%.32s'", c->type);
	if (c->has_size && (c->size < 1 || c->size > IDXD_MAX_WQ_SIZE))
		return bad(why, len, "Size= must be 1-%u, not %u", IDXD_MAX_WQ_SIZE, c->size);
	if (c->has_priority && (c->priority < 1 || c->priority > IDXD_MAX_PRIORITY))
		return bad(why, len, "Priority= must be 1-%u, not %u", IDXD_MAX_PRIORITY,
		           c->priority);
	if (c->has_group && (c->group < -1 || c->group > IDXD_MAX_GROUP))
		return bad(why, len, "Group= must be -1-%d, not %d", IDXD_MAX_GROUP, c->group);
	if (c->has_threshold) {
		/* sysfs.c wq_threshold_store: EINVAL for a dedicated WQ, for 0 and above the
		 * size. */
		if (!shared)
			return bad(why, len, "Threshold= is for a shared WQ; %s is Mode=dedicated",
			           c->name);
		if (c->threshold < 1 || c->threshold > IDXD_MAX_WQ_SIZE)
			return bad(why, len, "Threshold= must be 1-%u, not %u", IDXD_MAX_WQ_SIZE,
			           c->threshold);
		if (c->has_size && c->threshold > c->size)
			return bad(why, len, "Threshold=%u is above Size=%u", c->threshold,
			           c->size);
	}
	/* wq_name_store: EINVAL when empty or longer than WQ_NAME_SIZE. */
	if (c->has_label && (!c->label[0] || strlen(c->label) > IDXD_LABEL_LEN - 1))
		return bad(why, len, "Label= must be 1-%d bytes", IDXD_LABEL_LEN - 1);
	return 0;
}

void
idxd_wq_conf_format(const struct idxd_wq_conf *c, char *buf, size_t len)
{
	size_t n = 0;

#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (n < len)                                                                       \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);                      \
	} while (0)
	if (!len)
		return;
	buf[0] = '\0';
	ADD("%s %s %s", c->name, c->mode, c->type);
	if (c->has_size)
		ADD(" size %u", c->size);
	if (c->has_priority)
		ADD(" priority %u", c->priority);
	if (c->has_group)
		ADD(" group %d", c->group);
	if (c->has_threshold)
		ADD(" threshold %u", c->threshold);
	if (c->has_block_on_fault)
		ADD(" block-on-fault %s", c->block_on_fault ? "yes" : "no");
	if (c->has_label)
		ADD(" label '%.64s'", c->label);
#undef ADD
}
