//go:build linux && amd64

package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/exec/launch"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Bits of testdata/hostile.c's value.
const (
	hostileMmapRefused = 1 << 0
	hostileASLimited   = 1 << 1
	hostileSetsid      = 1 << 2
	hostileChroot      = 1 << 3
	hostileWrote       = 1 << 4
)

// buildHostile compiles testdata/hostile.c (buildC) with escape as the
// absolute path it writes; the executable is named uniquely, so that its
// processes can be found.
func buildHostile(t *testing.T, escape string) string {
	t.Helper()
	return buildC(t, "hostile", fmt.Sprintf("-DESCAPE=%q", escape))
}

// processesNamed lists the live processes whose argv[0] is name.
func processesNamed(t *testing.T, name string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var found []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if arg0, _, _ := bytes.Cut(b, []byte{0}); string(arg0) == name {
			found = append(found, e.Name())
		}
	}
	return found
}

// TestContainment runs a program that forks 50 children (one of which
// calls setsid and forks again), maps 10 GiB as its first syscall after
// reading its address-space limit, tries to escape a chroot and writes a
// file at an absolute path outside its run, then exits leaving every child
// asleep. It checks that the program really did fork and leave its
// process group, and that none of it survives or lands: no process of it
// is left when Run returns, the mapping was refused because the limit was
// in place from its first instruction, and (in launch.Jail, the mode of a
// root run, and launch.UserJail, the mode of any other user) the file does
// not exist and no chroot was possible. Run's containment is the jail for
// every user here: a run that is not root and cannot have a user namespace
// fails the test (it would fall back to launch.Plain) unless
// LINKCHECK_NO_USERNS=1 says this kernel refuses them.
func TestContainment(t *testing.T) {
	runJailed := os.Getenv("LINKCHECK_NO_USERNS") != "1" || os.Geteuid() == 0
	t.Logf("uid %d: Run's containment is the jail: %v", os.Geteuid(), runJailed)
	modes := []struct {
		name string
		run  func(ctx context.Context, exe string) (*exec.Result, error)
		jail bool
	}{
		{"Run", func(ctx context.Context, exe string) (*exec.Result, error) {
			return runner.Run(ctx, exe, exec.Options{Mode: exec.Native})
		}, runJailed},
		{"plain", func(ctx context.Context, exe string) (*exec.Result, error) {
			return exec.RunContained(ctx, exe, exec.Options{}, launch.Plain)
		}, false},
	}
	if runJailed {
		modes = append(modes, struct {
			name string
			run  func(ctx context.Context, exe string) (*exec.Result, error)
			jail bool
		}{"userjail", func(ctx context.Context, exe string) (*exec.Result, error) {
			return exec.RunContained(ctx, exe, exec.Options{}, launch.UserJail)
		}, true})
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			escape := filepath.Join(t.TempDir(), "escaped")
			exe := buildHostile(t, escape)
			name := filepath.Base(exe)
			t.Cleanup(func() { // survivors, if the test failed
				for _, pid := range processesNamed(t, name) {
					var p int
					if _, err := fmt.Sscan(pid, &p); err == nil {
						_ = syscall.Kill(p, syscall.SIGKILL)
					}
				}
			})
			res, err := m.run(context.Background(), exe)
			require.NoError(t, err)
			v := res.Value
			t.Logf("value %#x: %d children, setsid %v, AS limited %v, mmap refused %v, chroot %v, wrote %v",
				v, v>>8&0xff, v&hostileSetsid != 0, v&hostileASLimited != 0, v&hostileMmapRefused != 0,
				v&hostileChroot != 0, v&hostileWrote != 0)
			// What the program did.
			require.Equal(t, uint64(50), v>>8&0xff, "children forked")
			require.NotZero(t, v&hostileSetsid, "a child left the process group")
			// None of it survives.
			require.Empty(t, processesNamed(t, name), "processes of the program left after Run")
			require.NotZero(t, v&hostileASLimited, "RLIMIT_AS not set at the program's first instruction")
			require.NotZero(t, v&hostileMmapRefused, "a 10 GiB mapping was granted")
			if !m.jail {
				return
			}
			// Nothing lands.
			require.Zero(t, v&hostileChroot, "the jailed program could chroot")
			require.Zero(t, v&hostileWrote, "the jailed program wrote %s", escape)
			require.NoFileExists(t, escape)
		})
	}
}

// buildC compiles the freestanding testdata program name.c (no libc; its
// system calls in testdata/sys.h) with the given -D options and links it
// with ld.lld, into an executable named uniquely for this test process.
func buildC(t *testing.T, name string, defines ...string) string {
	t.Helper()
	clang := tools.Require(t, "clang")
	tools.Require(t, "ld.lld")
	dir := t.TempDir()
	o := filepath.Join(dir, name+".o")
	args := append([]string{"--target=x86_64-linux-gnu", "-c", "-O1", "-ffreestanding",
		"-fno-stack-protector", "-fno-pic", "-fno-builtin"}, defines...)
	out, err := osexec.Command(clang.Path, append(args, filepath.Join("testdata", name+".c"), "-o", o)...).CombinedOutput()
	require.NoError(t, err, "clang: %s", out)
	exe := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.exe", name, os.Getpid(), filepath.Base(dir)))
	_, err = lld.Link(context.Background(), obj.ELF, []string{o}, exe, lld.Options{})
	require.NoError(t, err)
	return exe
}

// Bits of testdata/leftover.c's value.
const (
	leftoverSaw     = 0x1f // /left, /d/f, the root's mode, an entry, an xattr
	leftoverCreated = 1 << 8
	leftoverChmod   = 1 << 10
)

// TestJailStartsEmpty runs testdata/leftover.c three times on one kept
// launcher per jailed mode: each run creates a file, a directory with a
// file, a symlink, changes the root's mode and sets an extended attribute
// on it, and the next run, in the same launcher's reused tmpfs, must see
// none of it.
func TestJailStartsEmpty(t *testing.T) {
	if os.Geteuid() != 0 && os.Getenv("LINKCHECK_NO_USERNS") == "1" {
		t.Skip("no jail for this user (LINKCHECK_NO_USERNS=1)")
	}
	exe := buildC(t, "leftover")
	mode := launch.UserJail
	if os.Geteuid() == 0 {
		mode = launch.Jail
	}
	for _, mode := range []string{mode, launch.UserJail} {
		t.Run(mode, func(t *testing.T) {
			l := exec.NewLaunchers()
			defer exec.CloseLaunchers(l)
			for i := range 3 {
				res, err := exec.RunOn(context.Background(), l, exe, mode)
				require.NoError(t, err)
				v := res.Value
				t.Logf("run %d: value %#x", i, v)
				require.NotZero(t, v&leftoverCreated, "run %d could not write in its jail", i)
				require.NotZero(t, v&leftoverChmod, "run %d could not chmod its root", i)
				require.Zero(t, v&leftoverSaw, "run %d saw what an earlier run left (bits %#x)", i, v&leftoverSaw)
			}
			require.Equal(t, 1, exec.LaunchersStarted(l), "the runs did not share one launcher")
		})
	}
}

// TestJailExecutableIsEach runs, on one kept launcher per jailed mode, a
// long executable (testdata/leftover.c's with 64 KiB of zeros appended)
// and then the short one: the launcher's memfd, which keeps the long
// one's bytes past the short one's end, must give each run exactly its
// executable (leftover.c reports the size of its /prog), and the second
// run must see nothing the first left.
func TestJailExecutableIsEach(t *testing.T) {
	if os.Geteuid() != 0 && os.Getenv("LINKCHECK_NO_USERNS") == "1" {
		t.Skip("no jail for this user (LINKCHECK_NO_USERNS=1)")
	}
	exe := buildC(t, "leftover")
	short, err := os.ReadFile(exe)
	require.NoError(t, err)
	long := filepath.Join(t.TempDir(), "long-"+filepath.Base(exe))
	require.NoError(t, os.WriteFile(long, append(short[:len(short):len(short)], make([]byte, 64<<10)...), 0o755))
	modes := []string{launch.UserJail}
	if os.Geteuid() == 0 {
		modes = append(modes, launch.Jail)
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := exec.NewLaunchers()
			defer exec.CloseLaunchers(l)
			for i, run := range []struct {
				path string
				size int
			}{{long, len(short) + 64<<10}, {exe, len(short)}, {long, len(short) + 64<<10}, {exe, len(short)}} {
				res, err := exec.RunOn(context.Background(), l, run.path, mode)
				require.NoError(t, err)
				v := res.Value
				require.Equal(t, uint64(run.size), v>>32, "run %d: /prog is not its executable", i)
				require.NotZero(t, v&leftoverCreated, "run %d could not write in its jail", i)
				require.Zero(t, v&leftoverSaw, "run %d saw what an earlier run left (bits %#x)", i, v&leftoverSaw)
			}
			require.Equal(t, 1, exec.LaunchersStarted(l), "the runs did not share one launcher")
		})
	}
}

// TestContainmentNotRoot runs TestContainment again as the user nobody
// when the tests run as root (as CI does), so that the containment of a
// run that is not root — launch.UserJail, a user namespace — is checked
// too: a copy of this test binary, in a directory nobody can read, is
// started with nobody's uid and gid.
func TestContainmentNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: TestContainment itself runs as this user")
	}
	if testing.Short() {
		t.Skip("short")
	}
	const nobody = 65534
	self, err := os.Executable()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "linkcheck-nobody-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	bin := filepath.Join(dir, "exec.test")
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	src, err := filepath.Abs("testdata")
	require.NoError(t, err)
	// The test reads testdata/hostile.c and sys.h relative to its working
	// directory.
	work := filepath.Join(dir, "work")
	require.NoError(t, os.MkdirAll(filepath.Join(work, "testdata"), 0o777))
	for _, f := range []string{"hostile.c", "sys.h"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, "testdata", f), b, 0o644))
	}
	require.NoError(t, os.Chmod(filepath.Join(work, "testdata"), 0o755))
	require.NoError(t, os.Chmod(work, 0o777))

	cmd := osexec.Command(bin, "-test.run", "^TestContainment$", "-test.v", "-test.count=1")
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "TMPDIR=" + work}
	for _, k := range []string{"LINKCHECK_REQUIRE_TOOLS", "LINKCHECK_NO_USERNS"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	require.NoError(t, err, "TestContainment as nobody failed")
	require.Contains(t, string(out), "--- PASS: TestContainment/Run")
}

// BenchmarkNativeRunPlain is BenchmarkNativeRun under launch.Plain, the
// containment of a run that is not root (no namespaces, no chroot).
func BenchmarkNativeRunPlain(b *testing.B) {
	exe := build(b, "elf", "elf_value")
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := exec.RunContained(ctx, exe, exec.Options{}, launch.Plain)
		require.NoError(b, err)
		require.Equal(b, uint64(want), res.Value)
	}
}
