/*
 * The fork server of package toolsrv, preloaded (LD_PRELOAD) into a tool
 * such as llvm-objdump.
 *
 * It wraps the program's main through __libc_start_main. When the
 * environment names a socket (LINKCHECK_TOOLSRV_FD), the wrapper does not
 * run the tool: the dynamic loader has relocated every library and every
 * static constructor has run, and from that state it serves requests on
 * the socket, one at a time. A request is one datagram: the arguments
 * after argv[0], each ended by a NUL byte, and two file descriptors
 * (SCM_RIGHTS) for the run's standard output and standard error. For each
 * the server forks; the child makes those descriptors its 1 and 2 and
 * calls the tool's real main with the arguments, as a process started
 * with them would, and exits with its value. The server waits for the
 * child and answers with two 32-bit words: 0 and the wait status, or an
 * errno and 0 when it could not run the request. It exits when the
 * socket reaches end of file.
 *
 * Without the variable the wrapper calls main unchanged, so programs the
 * tool would start are not affected; the server removes the variable and
 * LD_PRELOAD from its environment before it serves, so the runs see the
 * environment a plain start would give them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef int (*main_fn)(int, char **, char **);

static main_fn real_main;

enum { max_request = 1 << 16, max_args = 1024 };

static void answer(int sock, int32_t err, int32_t status) {
	int32_t out[2] = {err, status};
	if (send(sock, out, sizeof out, MSG_NOSIGNAL) != sizeof out)
		_exit(0);
}

static int serve(int sock, char *argv0) {
	static char buf[max_request + 1];
	static char *args[max_args + 2];
	static const char hello[] = "linkcheck-toolsrv 1";
	if (send(sock, hello, sizeof hello - 1, MSG_NOSIGNAL) != sizeof hello - 1)
		_exit(0);
	for (;;) {
		struct iovec iov = {buf, max_request};
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(2 * sizeof(int))];
		} cbuf;
		struct msghdr msg;
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.b;
		msg.msg_controllen = sizeof cbuf.b;
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			_exit(0);
		int fds[2] = {-1, -1}, nfds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (int i = 0; i < k; i++) {
					int fd;
					memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
					if (nfds < 2)
						fds[nfds++] = fd;
					else
						close(fd);
				}
			}
		}
		int na = 0;
		args[na++] = argv0;
		int bad = nfds != 2 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (n > 0 && buf[n - 1] != 0);
		for (char *p = buf; !bad && p < buf + n; p += strlen(p) + 1) {
			if (na > max_args)
				bad = 1;
			else
				args[na++] = p;
		}
		args[na] = 0;
		if (bad) {
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			answer(sock, EINVAL, 0);
			continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(sock);
			if (dup2(fds[0], 1) < 0 || dup2(fds[1], 2) < 0)
				_exit(127);
			if (fds[0] > 2)
				close(fds[0]);
			if (fds[1] > 2)
				close(fds[1]);
			exit(real_main(na, args, environ));
		}
		int err = pid < 0 ? errno : 0;
		close(fds[0]);
		close(fds[1]);
		if (err) {
			answer(sock, err, 0);
			continue;
		}
		int status = 0;
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				answer(sock, errno, 0);
				goto next;
			}
		}
		answer(sock, 0, status);
	next:;
	}
}

static int wrapped_main(int argc, char **argv, char **envp) {
	const char *fd = getenv("LINKCHECK_TOOLSRV_FD");
	if (fd == NULL)
		return real_main(argc, argv, envp);
	int sock = atoi(fd);
	unsetenv("LINKCHECK_TOOLSRV_FD");
	unsetenv("LD_PRELOAD");
	return serve(sock, argv[0]);
}

typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end) {
	start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
	real_main = main;
	return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}
