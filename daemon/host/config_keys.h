/* Between the configuration's files: assigning keys (config_keys.c), for the file reader
 * (config.c) and the command line (config_args.c). Not for other modules: they read a
 * finished struct pasidd_config (config.h). */
#ifndef PASIDD_CONFIG_KEYS_H
#define PASIDD_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

struct pasidd_config;

/* One Section/Key=Value assignment, where cfg->cur_where says it was given. Returns 0, or
 * -EINVAL (unknown section or key, bad value) or -ENOMEM with the problem in why. */
int config_assign(struct pasidd_config *cfg, const char *sect, const char *key, const char *val,
                  char *why, size_t len);
/* Whether [name] is a section of the file. */
bool config_section_known(const char *name);
/* *dst = a copy of v (the old value freed): 0 or -ENOMEM. */
int config_set_str(char **dst, const char *v);
/* A [WorkQueue] header opens a new WQ record; its end checks the record's required keys and
 * the keys that must agree (err says which). */
int config_wq_open(struct pasidd_config *cfg, const char *where);
int config_wq_close(struct pasidd_config *cfg, char *err, size_t errlen);

#endif
