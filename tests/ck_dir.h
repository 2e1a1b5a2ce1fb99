/* A directory's files as they were, to show that a refused operation changed nothing:
 * ck_dir_take() reads every file of a directory (names, bytes, modification times), and
 * ck_dir_assert_unchanged() fails the running Check test unless the directory still holds
 * exactly those files, byte for byte and unwritten. For state directories of a few files.
 * ck_dir_remove() removes a test's directory tree. */
#ifndef PASIDD_CK_DIR_H
#define PASIDD_CK_DIR_H

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CK_DIR_MAX 32

struct ck_dir {
	size_t n;
	char *name[CK_DIR_MAX];
	uint8_t *data[CK_DIR_MAX];
	size_t len[CK_DIR_MAX];
	struct timespec mtime[CK_DIR_MAX];
};

static inline uint8_t *
ck_dir_read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	FILE *f = fopen(path, "rb");

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	*len = (size_t)st.st_size;
	buf = malloc(*len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static inline void
ck_dir_take(struct ck_dir *im, const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	memset(im, 0, sizeof(*im));
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ck_assert_uint_lt(im->n, CK_DIR_MAX);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ck_assert_int_eq(stat(path, &st), 0);
		im->name[im->n] = strdup(de->d_name);
		im->data[im->n] = ck_dir_read_file(path, &im->len[im->n]);
		im->mtime[im->n] = st.st_mtim;
		im->n++;
	}
	closedir(d);
}

static inline void
ck_dir_free(struct ck_dir *im)
{
	for (size_t i = 0; i < im->n; i++) {
		free(im->name[i]);
		free(im->data[i]);
	}
	im->n = 0;
}

/* dir holds exactly what it held when `before` was taken. Frees before. */
static inline void
ck_dir_assert_unchanged(struct ck_dir *before, const char *dir)
{
	struct ck_dir now;

	ck_dir_take(&now, dir);
	ck_assert_uint_eq(now.n, before->n);
	for (size_t i = 0; i < before->n; i++) {
		size_t k = 0;

		while (k < now.n && strcmp(now.name[k], before->name[i]))
			k++;
		ck_assert_msg(k < now.n, "%s is gone", before->name[i]);
		ck_assert_msg(now.len[k] == before->len[i] &&
		                  !memcmp(now.data[k], before->data[i], now.len[k]),
		              "%s changed", before->name[i]);
		ck_assert_msg(now.mtime[k].tv_sec == before->mtime[i].tv_sec &&
		                  now.mtime[k].tv_nsec == before->mtime[i].tv_nsec,
		              "%s was written", before->name[i]);
	}
	ck_dir_free(&now);
	ck_dir_free(before);
}

static inline int
ck_dir_remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it, as far as it can (a test's teardown). */
static inline void
ck_dir_remove(const char *dir)
{
	nftw(dir, ck_dir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
