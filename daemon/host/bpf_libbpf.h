/* libbpf's messages into pasidd's log. Only with PASIDD_HAVE_BPF. */
#ifndef PASIDD_BPF_LIBBPF_H
#define PASIDD_BPF_LIBBPF_H

/* Sends libbpf's messages to log_debug (a verifier log is long; the failing step and errno
 * go into daemon.status and a warning anyway). Idempotent. */
void bpf_libbpf_setup(void);

#endif
