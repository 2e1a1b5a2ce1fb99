/* Directories a root daemon may put files in: ones that nobody but root or the daemon's own
 * user can change, so that no unprivileged user can swap a file or a symlink in under a name
 * the daemon is about to use (DESIGN.md §7). */
#ifndef PASIDD_FSGUARD_H
#define PASIDD_FSGUARD_H

#include <stddef.h>
#include <sys/types.h>

/* Create a missing last component / every missing component, with the given mode. */
#define FSGUARD_MKDIR_LAST 1u
#define FSGUARD_MKDIR_ALL  2u

/* Walks the absolute path `dir` from / one component at a time, never following a symlink
 * it has not checked, and opens the directory it names (O_RDONLY | O_DIRECTORY) into *fd.
 * Every directory looked up in must be owned by root or by us and, if others may write to
 * it, have the sticky bit, with the entry looked up owned by root or by us (as /tmp/x in
 * /tmp); the directory itself must be owned by root or by us and writable by nobody else.
 * Symlinks on the way are followed only when they passed the same check as their
 * directory's other entries. `what` names the directory in messages ("state directory").
 * Returns 0; -EPERM when a directory breaks a rule (why names it, its owner and its mode),
 * -ENOENT when one is missing and may not be created, or another negative errno, always with
 * the reason in why. */
int fsguard_open_dir(const char *dir, const char *what, unsigned flags, mode_t mode, int *fd,
                     char *why, size_t len);

#endif
