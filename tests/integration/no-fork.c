/* no-fork PROGRAM [ARG...]: runs PROGRAM where no process can be forked, as when the system
 * is out of processes or memory for one. A seccomp filter, inherited by everything PROGRAM
 * starts, makes fork, vfork and clone without CLONE_THREAD fail with EAGAIN, and clone3 with
 * ENOSYS (so that threads are made with clone); every other system call is left alone. Raw
 * BPF, so that the tests need no libseccomp. Exits 126 if the filter cannot be installed or
 * does not take. For test_compaction: the compaction falls back to the foreground. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#else
#error "no seccomp architecture for this machine"
#endif

/* The low 32 bits of a system call argument (clone's flags that matter are there). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#else
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n) + 4)
#endif

#define FAIL(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))

int
main(int argc, char **argv)
{
	struct sock_filter code[] = {
	    /* Another ABI's numbers mean other calls: leave them alone. */
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
	    FAIL(ENOSYS),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 0, 1),
	    FAIL(EAGAIN),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 0, 1),
	    FAIL(EAGAIN),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    FAIL(EAGAIN),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: no-fork PROGRAM [ARG...]\n");
		return 126;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		fprintf(stderr, "no-fork: cannot install the filter: %s\n", strerror(errno));
		return 126;
	}
	/* Check that it takes, so that a test cannot pass on the path it did not mean. */
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0 || errno != EAGAIN) {
		fprintf(stderr, "no-fork: fork still works\n");
		return 126;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-fork: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
