// Package launch is the launcher between linkcheck and a native program: a
// re-execution of linkcheck's own binary (through /proc/self/exe) that puts
// the program's resource limits and containment in place before the
// program's first instruction, runs it, and kills every process it left
// behind before reporting how it ended.
//
// A launcher serves runs one after another: it sets up its containment
// once (Args), then reads requests (Request) on its stdin, one program
// each, and answers each on StatusFD (Response, ReadResponse) once every
// process of that run is gone. The end of its stdin stops a run under way
// and the launcher. It exits after a run when its own CPU time reaches
// half of the RLIMIT_CPU it set for the programs (it inherits that limit
// too), so a caller keeping launchers (exec.Runner) starts a new one then.
//
// The launcher is entered from this package's init function when argv[0] is
// Arg0, so every binary that links oracle/exec (linkcheck, and each test
// binary) can act as its own launcher; the init returns at once otherwise.
//
// What the launcher does (linux only):
//
//   - It sets the limits of Limits on itself (inherited through fork and
//     exec), so they hold from the program's first instruction: address
//     space, CPU time, stack, file size, no core dumps.
//   - It is a child subreaper (PR_SET_CHILD_SUBREAPER): every descendant
//     the program orphans, including one that called setsid to leave the
//     process group, is re-parented to the launcher, which finds them in
//     /proc/self/task/*/children, kills them and reaps them after the
//     program has exited (or on its timeout, or when asked to stop by the
//     end of its stdin or SIGTERM). It enforces the run's timeout itself.
//   - Mode Jail (when linkcheck runs as root): the launcher is started in a
//     new PID and mount namespace. As the namespace's init it kills every
//     other process of the namespace with kill(-1) at the end of each run
//     (and the kernel kills them all when the launcher dies, even by
//     SIGKILL); the program cannot see or signal processes outside it. Its
//     mounts are made private and a 64 MiB tmpfs is mounted on the
//     caller's jail directory (Args) once; for each run the executable is
//     copied into it as /prog (from the caller's memfd, ExeFD, the byte
//     count given by the request) and the program is started chroot-ed into
//     that tmpfs, with every capability dropped from its bounding,
//     inheritable and ambient sets and no_new_privs set: it cannot leave
//     the chroot, mount or raise privileges, and whatever it writes, at any
//     path, lands in the tmpfs. Once the run's processes are gone the
//     tmpfs is emptied and its root's mode, owner and times reset, then
//     checked (an empty directory, mode 0755, owned by root, still the
//     tmpfs, no user.* attribute); a tmpfs that fails the check is
//     unmounted and a fresh one mounted, so no run sees what an earlier
//     one left. (Mounting and unmounting a tmpfs and a bind mount per run
//     cost about a quarter of a run's CPU.)
//   - Mode UserJail (when linkcheck does not run as root): Jail, in a new
//     user namespace as well, in which the launcher's uid and gid are
//     mapped to 0; the kernel lets such a root mount a tmpfs, bind and
//     chroot inside its namespaces, and the program, started without
//     capabilities, is the unprivileged user outside. Where the kernel
//     refuses unprivileged user namespaces the caller falls back to Plain.
package launch
