package elf

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// archiveProgram is a static C++ program (freestanding, no libc) and a
// library of three members: a constructor in .init_array, an inline
// function in a COMDAT group that main.cc also instantiates, and a member
// nothing refers to (not extracted).
var archiveProgram = map[string]string{
	"main.cc": `
extern "C" long lib_value(void);
extern "C" long ctor_ran;
inline long twice(long x) { return 2 * x; }
extern "C" long cmain(void) { return twice(lib_value()) + ctor_ran; }
typedef void (*fn)(void);
extern "C" fn __init_array_start[], __init_array_end[];
extern "C" __attribute__((naked, noreturn)) void _start(void) {
	__asm__("lea __init_array_start(%rip), %rbx\n"
		"1: lea __init_array_end(%rip), %rax\n cmp %rax, %rbx\n jae 2f\n call *(%rbx)\n add $8, %rbx\n jmp 1b\n"
		"2: call cmain\n push %rax\n"
		"mov $1, %eax\n mov $1, %edi\n mov %rsp, %rsi\n mov $8, %edx\n syscall\n"
		"mov $60, %eax\n xor %edi, %edi\n syscall\n ud2");
}
`,
	"value.cc": `
inline long twice(long x) { return 2 * x; }
extern "C" long lib_value(void) { return twice(10); }
`,
	"ctor.cc": `
extern "C" { long ctor_ran; }
__attribute__((constructor)) static void init(void) { __asm__ volatile("" ::: "memory"); ctor_ran = 2; } // not folded by GlobalOpt
`,
	"unused.cc": `
extern "C" long unused_function(void) { return 7; }
`,
}

// TestStaticArchive: clang-16 -O2 objects, the library made with
// `llvm-ar rcs`, linked by ReadInputs/LinkFiles and by ld.lld: the same
// members extracted, the same layout, the same output (2*2*10 + 2 = 42).
func TestStaticArchive(t *testing.T) {
	cc := tools.Require(t, "clang")
	tools.Require(t, "ld.lld")
	real, err := filepath.EvalSymlinks(cc.Path)
	require.NoError(t, err)
	ar := filepath.Join(filepath.Dir(real), "llvm-ar")
	require.FileExists(t, ar, "llvm-ar next to clang")
	dir := t.TempDir()
	compile := func(name string) string {
		src := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(src, []byte(archiveProgram[name]), 0o644))
		o := src[:len(src)-3] + ".o"
		out, err := exec.Command(cc.Path, "--target=x86_64-unknown-linux-gnu", "-x", "c++", "-O2", "-fno-pic", "-fno-exceptions",
			"-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-ffreestanding", "-fno-stack-protector", "-c", src, "-o", o).CombinedOutput()
		require.NoError(t, err, "clang %s: %s", name, out)
		return o
	}
	main := compile("main.cc")
	lib := filepath.Join(dir, "libx.a")
	args := []string{"rcs", lib}
	for _, n := range []string{"value.cc", "ctor.cc", "unused.cc"} {
		args = append(args, compile(n))
	}
	out, err := exec.Command(ar, args...).CombinedOutput()
	require.NoError(t, err, "llvm-ar: %s", out)

	// ld.lld extracts value.o for lib_value and ctor.o for ctor_ran.
	objs, err := ReadInputs([]string{main, lib})
	require.NoError(t, err)
	var names []string
	for _, o := range objs {
		names = append(names, filepath.Base(o.Name))
	}
	require.Equal(t, []string{"main.o", "libx.a(value.o)", "libx.a(ctor.o)"}, names)

	exe, _, err := Link(objs, link.Options{})
	require.NoError(t, err)
	ref := filepath.Join(dir, "ref.out")
	require.NoError(t, os.WriteFile(ref, exe, 0o755))
	ld := filepath.Join(dir, "lld.out")
	_, err = lld.Link(context.Background(), obj.ELF, []string{main, lib}, ld, lld.Options{})
	require.NoError(t, err)
	checkLLVMReads(t, ref)
	want := binary.LittleEndian.AppendUint64(nil, 42)
	r := runNative(t, ref)
	require.Equal(t, 0, r.status)
	require.Equal(t, want, r.stdout)
	require.Equal(t, want, runNative(t, ld).stdout)
	compareWithLLD(t, ref, ld, true)

	_, _, err = LinkFiles([]string{main, lib}, link.Options{})
	require.NoError(t, err)
}

// TestReadArchiveNames: GNU long names and BSD names.
func TestReadArchiveNames(t *testing.T) {
	hdr := func(name string, size int) string {
		pad := func(s string, n int) string {
			for len(s) < n {
				s += " "
			}
			return s
		}
		return pad(name, 16) + pad("0", 12) + pad("0", 6) + pad("0", 6) + pad("644", 8) + pad(strconv.Itoa(size), 10) + "`\n"
	}
	long := "a_very_long_member_name.o/\n"
	gnu := archiveMagic + hdr("//", len(long)) + long + "\n" + hdr("/0", 2) + "xy" + hdr("s.o/", 1) + "z\n"
	ms, err := ReadArchive("g.a", []byte(gnu))
	require.NoError(t, err)
	require.Equal(t, []ArchiveMember{{"a_very_long_member_name.o", []byte("xy")}, {"s.o", []byte("z")}}, ms)
	bsd := archiveMagic + hdr("#1/12", 12+3) + "bsd_member.o" + "abc" + "\n"
	ms, err = ReadArchive("b.a", []byte(bsd))
	require.NoError(t, err)
	require.Equal(t, []ArchiveMember{{"bsd_member.o", []byte("abc")}}, ms)
	_, err = ReadArchive("t.a", []byte(archiveMagic+hdr("x.o/", 100)+"short"))
	require.ErrorIs(t, err, ErrMalformed)
}
