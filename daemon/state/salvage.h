/* pasidd --salvage: a state directory that start-up refuses as damaged made servable again,
 * keeping what can be kept and keeping the PASIDs that the damaged part shows in use out of
 * circulation until their owners are gone. */
#ifndef PASIDD_SALVAGE_H
#define PASIDD_SALVAGE_H

struct backend;
struct ns_config;

/* Salvages the state directory dir (checked before: fsguard) for the namespace configuration
 * cfg and backend be, the daemon not running, reporting on stderr what it kept, dropped and
 * quarantined. Returns the exit status: 0 when the directory was salvaged or had nothing to
 * salvage, 1 when it was refused or failed (having changed nothing, unless the message says
 * otherwise). */
int salvage_run(const char *dir, const struct ns_config *cfg, struct backend *be);

#endif
