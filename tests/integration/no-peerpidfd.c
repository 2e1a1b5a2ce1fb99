/* no-peerpidfd PROGRAM [ARG...]: runs PROGRAM as on a kernel without SO_PEERPIDFD (before
 * 6.5). A seccomp filter, inherited by everything PROGRAM starts, makes
 * getsockopt(SOL_SOCKET, SO_PEERPIDFD) fail with ENOPROTOOPT, which is what such a kernel
 * answers; every other system call is left alone. Raw BPF, so that the tests need no
 * libseccomp. Exits 126 if the filter cannot be installed or does not take. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SO_PEERPIDFD_ABI 77

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "no seccomp architecture for this machine"
#endif

/* The low 32 bits of a system call argument (level and optname are ints). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#else
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n) + 4)
#endif

int
main(int argc, char **argv)
{
	struct sock_filter code[] = {
	    /* Another ABI's numbers mean other calls: leave them alone. */
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getsockopt, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_PEERPIDFD_ABI, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOPROTOOPT & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	int sv[2], pidfd;
	socklen_t len = sizeof(pidfd);

	if (argc < 2) {
		fprintf(stderr, "usage: no-peerpidfd PROGRAM [ARG...]\n");
		return 126;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		fprintf(stderr, "no-peerpidfd: cannot install the filter: %s\n", strerror(errno));
		return 126;
	}
	/* Check that it takes, so that a test cannot pass on the path it did not mean. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD_ABI, &pidfd, &len) == 0 ||
	    errno != ENOPROTOOPT) {
		fprintf(stderr, "no-peerpidfd: SO_PEERPIDFD still answers\n");
		return 126;
	}
	close(sv[0]);
	close(sv[1]);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-peerpidfd: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
