package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestCArchiveTLS: corpus/c/tls's main.c, compiled by clang-16 -O2 (PIE
// code: initial-exec TLS, REX_GOTPCRELX loads), against a static archive
// (ar rcs) of its other files compiled -O2 -fPIC (general- and
// local-dynamic TLS) — thread-local variables, a constructor in
// .init_array, a COMDAT inline function and a COMDAT constant — links
// with the reference linker, runs like ld.lld's output (exit status 42),
// and diffs clean against it with no ignore rule, in process and through
// DiffLLD.
func TestCArchiveTLS(t *testing.T) {
	cc := tools.Require(t, "clang")
	tools.Require(t, "ld.lld")
	ar := llvmAr(t, cc.Path)
	dir := t.TempDir()
	src := "../../corpus/c/tls"
	compile := func(name, flags string) string {
		o := filepath.Join(dir, strings.TrimSuffix(name, ".c")+".o")
		args := append([]string{"--target=x86_64-unknown-linux-gnu", "-ffreestanding", "-fno-stack-protector",
			"-fasynchronous-unwind-tables"}, strings.Fields(flags)...)
		args = append(args, "-c", filepath.Join(src, name), "-o", o)
		out, err := exec.Command(cc.Path, args...).CombinedOutput()
		require.NoError(t, err, "clang %s: %s", strings.Join(args, " "), out)
		return o
	}
	main := compile("main.c", "-O2")
	lib := filepath.Join(dir, "libtls.a")
	out, err := exec.Command(ar, "rcs", lib, compile("counter.c", "-O2 -fPIC"), compile("tlsinit.c", "-O2 -fPIC"),
		compile("unused.c", "-O2 -fPIC")).CombinedOutput()
	require.NoError(t, err, "%s", out)

	objs, err := elf.ReadInputs([]string{main, lib})
	require.NoError(t, err)
	require.Len(t, objs, 3, "main.o, counter.o and tlsinit.o; unused.o stays in the archive")
	image, _, err := elf.Link(objs, link.Options{})
	require.NoError(t, err)
	refExe := filepath.Join(dir, "ref.out")
	require.NoError(t, os.WriteFile(refExe, image, 0o755))
	lldExe := filepath.Join(dir, "lld.out")
	_, err = lld.Link(context.Background(), obj.ELF, []string{main, lib}, lldExe, lld.Options{})
	require.NoError(t, err)

	status := func(exe string) int {
		err := exec.Command(exe).Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	}
	require.Equal(t, 42, status(lldExe), "lld's output")
	require.Equal(t, 42, status(refExe), "ref's output")

	ia, err := readImage(lldExe, objs)
	require.NoError(t, err)
	ib, err := readImage(refExe, objs)
	require.NoError(t, err)
	rep := diff.Compare(ia, ib, diff.Options{NameA: "lld", NameB: "ref"})
	require.True(t, rep.Equal(), "%s", rep.Text())
	require.Greater(t, rep.Coverage.Ratio(), 0.9, "%s", rep.Text())
	t.Logf("%s", rep.Text())

	res, err := DiffLLD(context.Background(), obj.ELF, []string{main, lib}, t.TempDir(), diff.Options{})
	require.NoError(t, err)
	require.True(t, res.Report.Equal(), "%s", res.Report.Text())
}

// TestTLSFaultCaught: TP offsets computed from the TLS block's unaligned
// end (fault.LinkTPOffUnaligned) are differences the canonical images
// name by variable (tpoff(x)), and the program's result changes.
func TestTLSFaultCaught(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "ld.lld")
	work := t.TempDir()
	objPaths, _ := assembleELFDir(t, mc.Path, "../../corpus/asm/elf/tls", work)
	objs, err := elf.ReadInputs(objPaths)
	require.NoError(t, err)
	lldExe := filepath.Join(work, "lld.out")
	_, err = lld.Link(context.Background(), obj.ELF, objPaths, lldExe, lld.Options{})
	require.NoError(t, err)
	ia, err := readImage(lldExe, objs)
	require.NoError(t, err)
	for _, tc := range []struct {
		faults fault.Set
		equal  bool
	}{{0, true}, {fault.Of(fault.LinkTPOffUnaligned), false}} {
		image, _, err := elf.Link(objs, link.Options{Faults: tc.faults})
		require.NoError(t, err)
		refExe := filepath.Join(work, "ref.out")
		require.NoError(t, os.WriteFile(refExe, image, 0o755))
		ib, err := readImage(refExe, objs)
		require.NoError(t, err)
		rep := diff.Compare(ia, ib, diff.Options{NameA: "lld", NameB: "ref"})
		require.Equal(t, tc.equal, rep.Equal(), "%s", rep.Text())
		if !tc.equal {
			require.Contains(t, rep.Text(), "tpoff(a")
			t.Logf("%s", rep.Text())
		}
	}
}

// llvmAr returns the llvm-ar of the LLVM installation clang (at cc) comes
// from.
func llvmAr(t *testing.T, cc string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(cc)
	require.NoError(t, err)
	ar := filepath.Join(filepath.Dir(real), "llvm-ar")
	require.FileExists(t, ar)
	return ar
}
