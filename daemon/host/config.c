/* The configuration's life: defaults, the files read (the main file and its .d drop-ins,
 * parsed line by line into key assignments, config_keys.c), the checks that need the whole
 * configuration, and the admin group. The command line is config_args.c. */
#include "config.h"
#include "config_keys.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_LOCAL_FIRST 1
#define DEFAULT_LOCAL_LAST  4095

void
config_init(struct pasidd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_path = strdup(PASIDD_DEFAULT_SOCKET);
	cfg->state_dir = strdup(PASIDD_DEFAULT_STATEDIR);
	cfg->backend = strdup("auto");
	cfg->admin_group = strdup("");
	cfg->socket_group = strdup("pasid");
	cfg->idxd_sysfs_root = strdup("/sys");
	cfg->bpf_attach_gate = BPF_GATE_ENFORCE;
	cfg->bpf_device_gate = true;
	cfg->bpf_proc_devices = strdup("/proc/devices");
	cfg->socket_mode = 0660;
	cfg->max_message = 64 * 1024;
	/* Enough for a host with a thousand VMs, each with a few connections. */
	cfg->limits = (struct pasidd_limits){
	    .max_batch = 1024,
	    .max_pending = 1024,
	    .max_connections = 4096,
	    .max_conns_per_uid = 512,
	    .max_vms_per_uid = 1024,
	    .idle_timeout_s = 30,
	    .max_event_buffer = 64 * 1024,
	};
	cfg->log_level = LOG_INFO;
	cfg->ns.pasid_bits = NS_MAX_BITS;
	cfg->ns.local.first = DEFAULT_LOCAL_FIRST;
	cfg->ns.local.last = DEFAULT_LOCAL_LAST;
}

void
config_free(struct pasidd_config *cfg)
{
	free(cfg->config_file);
	free(cfg->socket_path);
	free(cfg->state_dir);
	free(cfg->backend);
	free(cfg->admin_group);
	free(cfg->socket_group);
	free(cfg->idxd_sysfs_root);
	free(cfg->wqs);
	free(cfg->bpf_proc_devices);
	for (size_t i = 0; i < cfg->nbpf_device_allow; i++)
		free(cfg->bpf_device_allow[i]);
	free(cfg->bpf_device_allow);
	for (size_t i = 0; i < cfg->nfiles; i++)
		free(cfg->files[i]);
	free(cfg->files);
	quota_config_free(&cfg->quota);
	free(cfg->ns.reserve);
	free(cfg->reserve_where);
	memset(cfg, 0, sizeof(*cfg));
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Like systemd, only whole lines are comments: "Key=value # note" would make the note part
 * of the value, which for a path or a group name is never what was meant. */
static bool
trailing_comment(const char *val)
{
	for (const char *p = val; *p; p++)
		if (*p == '#' && (p == val || p[-1] == ' ' || p[-1] == '\t'))
			return true;
	return false;
}

int
config_load_string(struct pasidd_config *cfg, const char *name, const char *text, char *err,
                   size_t errlen)
{
	char *copy = strdup(text), *line, *save = NULL, sect[64] = "", where[200];
	char why[200];
	unsigned lineno = 0;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	/* strtok_r would merge empty lines and miscount; walk them one by one. */
	for (line = copy; line; line = save) {
		char *nl = strchr(line, '\n'), *s, *eq;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			size_t n = strlen(s);

			if (s[n - 1] != ']' || n - 2 >= sizeof(sect) || n < 3) {
				snprintf(why, sizeof(why), "malformed section header");
				goto bad;
			}
			if (config_wq_close(cfg, err, errlen) < 0)
				goto closed;
			memcpy(sect, s + 1, n - 2);
			sect[n - 2] = '\0';
			if (!config_section_known(sect)) {
				snprintf(why, sizeof(why), "unknown section [%s]", sect);
				goto bad;
			}
			snprintf(where, sizeof(where), "%s:%u", name, lineno);
			if (!strcmp(sect, "WorkQueue") && config_wq_open(cfg, where) < 0) {
				r = -ENOMEM;
				goto out;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(why, sizeof(why), "expected Key=Value");
			goto bad;
		}
		*eq = '\0';
		if (!sect[0]) {
			snprintf(why, sizeof(why), "assignment outside a section");
			goto bad;
		}
		if (strlen(trim(s)) == 0) {
			snprintf(why, sizeof(why), "empty key");
			goto bad;
		}
		if (trailing_comment(trim(eq + 1))) {
			snprintf(why, sizeof(why),
			         "the value of %s= holds a '#' comment; comments must be on a line "
			         "of their own",
			         trim(s));
			goto bad;
		}
		snprintf(where, sizeof(where), "%s:%u", name, lineno);
		cfg->cur_where = where;
		r = config_assign(cfg, sect, trim(s), trim(eq + 1), why, sizeof(why));
		cfg->cur_where = NULL;
		if (r < 0)
			goto bad;
	}
	/* A section ends with its file: a drop-in cannot add keys to a [WorkQueue] above. */
	if (config_wq_close(cfg, err, errlen) < 0)
		goto closed;
	free(copy);
	return 0;
bad:
	snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
closed:
	cfg->wq_open = false;
	r = -EINVAL;
out:
	free(copy);
	return r;
}

static int
note_file(struct pasidd_config *cfg, const char *path, const char *suffix)
{
	char **v = realloc(cfg->files, (cfg->nfiles + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	cfg->files = v;
	if (asprintf(&v[cfg->nfiles], "%s%s", path, suffix) < 0)
		return -ENOMEM;
	v[++cfg->nfiles] = NULL;
	return 0;
}

static int
load_one(struct pasidd_config *cfg, const char *path, bool must_exist, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return note_file(cfg, path, " (absent)");
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	FILE *mem = open_memstream(&text, &len);
	char buf[4096];
	size_t n;

	if (!mem || note_file(cfg, path, "") < 0) {
		if (mem)
			fclose(mem);
		free(text);
		fclose(f);
		return -ENOMEM;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	r = ferror(f) ? -EIO : 0;
	fclose(f);
	fclose(mem);
	if (r < 0)
		snprintf(err, errlen, "%s: read error", path);
	else if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		r = -EINVAL;
	} else
		r = config_load_string(cfg, path, text, err, errlen);
	free(text);
	return r;
}

static int
conf_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return n > 5 && de->d_name[0] != '.' && !strcmp(de->d_name + n - 5, ".conf");
}

int
config_load_file(struct pasidd_config *cfg, const char *path, bool must_exist, char *err,
                 size_t errlen)
{
	struct dirent **list;
	char dir[4096];
	int n, r = load_one(cfg, path, must_exist, err, errlen);

	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s.d", path);
	n = scandir(dir, &list, conf_filter, alphasort);
	if (n < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		char file[8192];

		snprintf(file, sizeof(file), "%s/%s", dir, list[i]->d_name);
		if (r == 0)
			r = load_one(cfg, file, true, err, errlen);
		free(list[i]);
	}
	free(list);
	return r;
}

int
config_finish(struct pasidd_config *cfg, char *err, size_t errlen)
{
	char why[200];
	uint32_t max = (1U << cfg->ns.pasid_bits) - 1;

	if (!cfg->local_set && cfg->ns.local.last > max)
		cfg->ns.local.last = max;
	if (!cfg->shared_set) {
		/* DESIGN.md §2: 4096 up to half the space; the upper half stays with the
		 * kernel's own allocator. Not moved with LocalRange=, so that a local range
		 * grown into it is reported as the overlap it is. */
		cfg->ns.shared.first = DEFAULT_LOCAL_LAST + 1;
		cfg->ns.shared.last =
		    cfg->ns.pasid_bits > 1 ? (1U << (cfg->ns.pasid_bits - 1)) - 1 : 0;
		if (cfg->ns.shared.first > cfg->ns.shared.last) {
			snprintf(
			    err, errlen,
			    "no room for the default shared range 4096-... with a %u-bit PASID "
			    "width; set SharedRange=",
			    cfg->ns.pasid_bits);
			return -EINVAL;
		}
	}
	if (ns_config_check(&cfg->ns, why, sizeof(why)) < 0) {
		int last = -1;

		for (int k = 0; k < 3; k++)
			if (cfg->where_seq[k] &&
			    (last < 0 || cfg->where_seq[k] > cfg->where_seq[last]))
				last = k;
		if (last >= 0 && cfg->where[last][0])
			snprintf(err, errlen, "%s: %s", cfg->where[last], why);
		else
			snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	return 0;
}

int
config_admin_gid(const struct pasidd_config *cfg, gid_t *gid, char *err, size_t errlen)
{
	struct group *g;

	*gid = (gid_t)-1;
	if (!cfg->admin_group[0])
		return 0;
	g = getgrnam(cfg->admin_group);
	if (!g) {
		snprintf(err, errlen, "%s%sAdminGroup=%s names no group", cfg->admin_group_where,
		         cfg->admin_group_where[0] ? ": " : "", cfg->admin_group);
		return -EINVAL;
	}
	*gid = g->gr_gid;
	return 0;
}
