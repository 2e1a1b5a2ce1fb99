/* Files in the state directory, as the journal reads and writes them. Every name is looked
 * up relative to the directory's descriptor and never through a symlink (O_NOFOLLOW). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
jio_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	uint8_t *p;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(*buf, ncap);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = ncap;
	return 0;
}

int
jio_write_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Removing a file that is already gone counts as success: recovery and rollback may run
 * after a crash that had removed it. */
int
jio_unlink(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Records are checked in full before a snapshot is used and the journal must be read to its
 * end anyway, so one buffer is the simplest; read() rather than mmap() so that an I/O error
 * is an error code, not a SIGBUS. */
int
jio_read(int dirfd, const char *name, int flags, int *fd_out, uint8_t **data, size_t *size)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EUCLEAN;
		goto fail;
	}
	if ((uint64_t)st.st_size > SIZE_MAX - 1) {
		rc = -EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*data = buf;
	*size = got;
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

void
jio_read_failure(struct journal *j, const char *name, int rc)
{
	if (rc == -EUCLEAN)
		snprintf(j->err, sizeof(j->err), "%s is not a regular file", name);
	else
		snprintf(j->err, sizeof(j->err), "cannot read %s: %s", name, strerror(-rc));
}

int
jio_list(int dirfd, struct jio_list *l)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	/* A fresh open rather than dup(): a dup would share (and move) dirfd's read position. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		struct jf_file f;

		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = -errno;
			break;
		}
		if (!jf_parse_name(de->d_name, &f))
			continue;
		if (l->n == l->cap) {
			size_t ncap = l->cap ? 2 * l->cap : 8;
			struct jf_file *nv = realloc(l->v, ncap * sizeof(*nv));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			l->v = nv;
			l->cap = ncap;
		}
		l->v[l->n++] = f;
	}
	closedir(d);
	return rc;
}

bool
jio_has(const struct jio_list *l, enum jf_kind kind, uint64_t gen)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == kind && !l->v[i].tmp && l->v[i].gen == gen)
			return true;
	return false;
}

int
jio_create_journal_tmp(int dirfd, uint64_t gen, uint32_t format, int *fd_out)
{
	char name[JF_NAME_LEN];
	uint8_t hdr[JF_HDR_SIZE];
	int fd, rc;

	jf_name(name, JF_JOURNAL, gen, true);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	jf_put_header(hdr, JF_JOURNAL, gen, format);
	rc = jio_write_all(fd, hdr, sizeof(hdr), 0);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		jio_unlink(dirfd, name);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int
jio_create_journal(int dirfd, uint64_t gen, uint32_t format, int *fd_out)
{
	char tmp[JF_NAME_LEN], name[JF_NAME_LEN];
	int fd, rc;

	rc = jio_create_journal_tmp(dirfd, gen, format, &fd);
	if (rc < 0)
		return rc;
	jf_name(tmp, JF_JOURNAL, gen, true);
	jf_name(name, JF_JOURNAL, gen, false);
	if (renameat(dirfd, tmp, dirfd, name) < 0 || fsync(dirfd) < 0) {
		rc = -errno;
		close(fd);
		jio_unlink(dirfd, tmp);
		return rc;
	}
	*fd_out = fd;
	return 0;
}
