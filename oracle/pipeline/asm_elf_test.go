package pipeline

import (
	"bytes"
	"context"
	goelf "debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestAsmELFCorpusDiff links each feature directory of corpus/asm/elf
// (issue 18) with the reference linker and ld.lld: no difference, with no
// ignore rule, and where the case is a program (its first line does not
// say "not a program") the reference output runs like lld's. The err_*
// cases are refused by the reference linker (ref/elf's tests check the
// messages).
func TestAsmELFCorpusDiff(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "ld.lld")
	dirs, err := filepath.Glob("../../corpus/asm/elf/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	linked := 0
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() || strings.HasPrefix(filepath.Base(d), "err_") {
			continue
		}
		linked++
		t.Run(filepath.Base(d), func(t *testing.T) {
			work := t.TempDir()
			objs, program := assembleELFDir(t, mc.Path, d, work)
			res, err := DiffLLD(context.Background(), obj.ELF, objs, work, diff.Options{})
			require.NoError(t, err)
			require.True(t, res.Report.Equal(), "%s", res.Report.Text())
			if !program {
				return
			}
			require.Greater(t, res.Report.Coverage.Ratio(), 0.9, "%s", res.Report.Text())
			refOut, refErr := exec.Command(res.RefExe).Output()
			lldOut, lldErr := exec.Command(res.LLDExe).Output()
			require.Equal(t, exitCode(lldErr), exitCode(refErr))
			require.Equal(t, lldOut, refOut)
		})
	}
	require.Greater(t, linked, 2)
}

// assembleELFDir assembles the .s files of a corpus/asm/elf directory
// into work, in file-name order, and says whether the case is a program
// (main.s's first line does not say "not a program").
func assembleELFDir(t *testing.T, mc, dir, work string) ([]string, bool) {
	t.Helper()
	srcs, err := filepath.Glob(filepath.Join(dir, "*.s"))
	require.NoError(t, err)
	require.NotEmpty(t, srcs)
	sort.Strings(srcs)
	var objs []string
	program := true
	for _, s := range srcs {
		if src, err := os.ReadFile(s); err == nil && filepath.Base(s) == "main.s" {
			first, _, _ := bytes.Cut(src, []byte("\n"))
			program = !bytes.Contains(first, []byte("not a program"))
		}
		o := filepath.Join(work, strings.TrimSuffix(filepath.Base(s), ".s")+".o")
		out, err := exec.Command(mc, "-filetype=obj", "-triple=x86_64-unknown-linux-gnu", "-o", o, s).CombinedOutput()
		require.NoError(t, err, "%s", out)
		objs = append(objs, o)
	}
	return objs, program
}

// archiveLib is a static library of C++ code built with clang-16 -O2: a
// constructor in .init_array, an inline function in a COMDAT group that
// the program instantiates too, and a member nothing needs.
var archiveLib = map[string]string{
	"main.cc": `
extern "C" long lib_value(void);
extern "C" long ctor_ran;
inline long twice(long x) { return 2 * x; }
extern "C" long cmain(void) { return twice(lib_value()) + ctor_ran; }
extern "C" __attribute__((naked, noreturn)) void _start(void) {
	__asm__("lea __init_array_start(%rip), %rbx\n"
		"1: lea __init_array_end(%rip), %rax\n cmp %rax, %rbx\n jae 2f\n call *(%rbx)\n add $8, %rbx\n jmp 1b\n"
		"2: call cmain\n push %rax\n"
		"mov $1, %eax\n mov $1, %edi\n mov %rsp, %rsi\n mov $8, %edx\n syscall\n"
		"mov $60, %eax\n xor %edi, %edi\n syscall\n ud2");
}
`,
	"value.cc":  "inline long twice(long x) { return 2 * x; }\nextern \"C\" long lib_value(void) { return twice(10); }\n",
	"ctor.cc":   "extern \"C\" { long ctor_ran; }\n__attribute__((constructor)) static void init(void) { __asm__ volatile(\"\" ::: \"memory\"); ctor_ran = 2; }\n",
	"unused.cc": "extern \"C\" long unused_function(void) { return 7; }\n",
}

// TestStaticArchiveDiff: a program against a static archive (llvm-ar rcs)
// with an init array and a COMDAT inline function links with the
// reference linker (members extracted as ld.lld does), runs like ld.lld's
// output and diffs clean against it with no ignore rule.
func TestStaticArchiveDiff(t *testing.T) {
	cc := tools.Require(t, "clang")
	tools.Require(t, "ld.lld")
	ar := llvmAr(t, cc.Path)
	dir := t.TempDir()
	compile := func(name string) string {
		src := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(src, []byte(archiveLib[name]), 0o644))
		o := strings.TrimSuffix(src, ".cc") + ".o"
		out, err := exec.Command(cc.Path, "--target=x86_64-unknown-linux-gnu", "-x", "c++", "-O2", "-fno-pic", "-fno-exceptions",
			"-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-ffreestanding", "-fno-stack-protector", "-c", src, "-o", o).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return o
	}
	main := compile("main.cc")
	lib := filepath.Join(dir, "libx.a")
	out, err := exec.Command(ar, "rcs", lib, compile("value.cc"), compile("ctor.cc"), compile("unused.cc")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	objs, err := elf.ReadInputs([]string{main, lib})
	require.NoError(t, err)
	image, _, err := elf.Link(objs, link.Options{})
	require.NoError(t, err)
	refExe := filepath.Join(dir, "ref.out")
	require.NoError(t, os.WriteFile(refExe, image, 0o755))
	lldExe := filepath.Join(dir, "lld.out")
	_, err = lld.Link(context.Background(), obj.ELF, []string{main, lib}, lldExe, lld.Options{})
	require.NoError(t, err)
	ia, err := readImage(lldExe, objs)
	require.NoError(t, err)
	ib, err := readImage(refExe, objs)
	require.NoError(t, err)
	rep := diff.Compare(ia, ib, diff.Options{NameA: "lld", NameB: "ref"})
	require.True(t, rep.Equal(), "%s", rep.Text())
	require.Greater(t, rep.Coverage.Ratio(), 0.9, "%s", rep.Text())
	refOut, refErr := exec.Command(refExe).Output()
	lldOut, lldErr := exec.Command(lldExe).Output()
	require.NoError(t, refErr)
	require.NoError(t, lldErr)
	require.Equal(t, lldOut, refOut)
	require.Equal(t, []byte{42, 0, 0, 0, 0, 0, 0, 0}, refOut)
	t.Logf("%s", rep.Text())

	// The same comparison through DiffLLD, linkcheck diff's path: the
	// reference linker extracts the archive's members as ld.lld does.
	res, err := DiffLLD(context.Background(), obj.ELF, []string{main, lib}, t.TempDir(), diff.Options{})
	require.NoError(t, err)
	require.True(t, res.Report.Equal(), "%s", res.Report.Text())
	require.Len(t, res.Objects, len(objs))

	// The init array is compared as a list of pointers: pointing its
	// entry at cmain instead of the constructor is a difference.
	ef, err := goelf.NewFile(bytes.NewReader(image))
	require.NoError(t, err)
	ia0 := ef.Section(".init_array")
	require.NotNil(t, ia0)
	require.Equal(t, goelf.SHT_INIT_ARRAY, ia0.Type)
	syms, err := ef.Symbols()
	require.NoError(t, err)
	var cmain uint64
	for _, sy := range syms {
		if sy.Name == "cmain" {
			cmain = sy.Value
		}
	}
	require.NotZero(t, cmain)
	broken := append([]byte(nil), image...)
	binary.LittleEndian.PutUint64(broken[ia0.Offset:], cmain)
	require.NoError(t, os.WriteFile(refExe, broken, 0o755))
	ib, err = readImage(refExe, objs)
	require.NoError(t, err)
	rep = diff.Compare(ia, ib, diff.Options{NameA: "lld", NameB: "ref"})
	require.False(t, rep.Equal(), "a retargeted init-array entry must be a difference")
	t.Logf("%s", rep.Text())
}
