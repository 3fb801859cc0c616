// Package canontest builds small executables for the tests of oracle/canon
// and oracle/diff: it assembles x86_64 assembly with llvm-mc, reads the
// objects with the reference ELF object reader, links them with ld.lld,
// patches linked files at symbol addresses to break them on purpose, and
// builds the generated program the benchmarks read and compare.
package canontest

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	refelf "github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Assemble assembles each source file into dir with llvm-mc (ELF x86_64)
// and reads the object back. It returns the object paths and objects in
// the order of srcs.
func Assemble(t testing.TB, dir string, srcs ...string) ([]string, []*obj.Object) {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	var paths []string
	var objs []*obj.Object
	for _, src := range srcs {
		out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".s")+".o")
		cmd := exec.Command(mc.Path, "-triple", "x86_64-linux-gnu", "-filetype=obj", "-o", out, src)
		msg, err := cmd.CombinedOutput()
		require.NoError(t, err, "llvm-mc %s: %s", src, msg)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		o, err := refelf.ReadObject(out, data)
		require.NoError(t, err)
		paths = append(paths, out)
		objs = append(objs, o)
	}
	return paths, objs
}

// Link links objects with ld.lld into out (extra options before the
// objects) and returns the executable's bytes and the reproducer command.
func Link(t testing.TB, objs []string, out string, extra ...string) ([]byte, string) {
	t.Helper()
	tools.Require(t, "ld.lld")
	res, err := lld.Link(context.Background(), obj.ELF, objs, out, lld.Options{Extra: extra})
	require.NoError(t, err)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	return data, res.Reproducer()
}

// Addr returns the address of the named symbol in exe.
func Addr(t testing.TB, exe []byte, name string) uint64 {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(exe))
	require.NoError(t, err)
	syms, err := f.Symbols()
	require.NoError(t, err)
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	require.Failf(t, "no symbol", "%s", name)
	return 0
}

// Offset returns the file offset of address addr in exe.
func Offset(t testing.TB, exe []byte, addr uint64) int {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(exe))
	require.NoError(t, err)
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr < s.Addr+s.Size {
			return int(s.Offset + addr - s.Addr)
		}
	}
	require.Failf(t, "no section", "address %#x", addr)
	return 0
}

// Patch returns a copy of exe with b written at address addr.
func Patch(t testing.TB, exe []byte, addr uint64, b []byte) []byte {
	t.Helper()
	out := append([]byte(nil), exe...)
	off := Offset(t, exe, addr)
	copy(out[off:], b)
	return out
}

// RenameSymbol returns a copy of exe in which the symbol-table string of
// old is overwritten with repl (at most as long as old, NUL-padded).
func RenameSymbol(t testing.TB, exe []byte, old, repl string) []byte {
	t.Helper()
	require.LessOrEqual(t, len(repl), len(old))
	f, err := elf.NewFile(bytes.NewReader(exe))
	require.NoError(t, err)
	strtab := f.Section(".strtab")
	require.NotNil(t, strtab)
	data, err := strtab.Data()
	require.NoError(t, err)
	i := bytes.Index(data, append(append([]byte{0}, old...), 0))
	require.GreaterOrEqual(t, i, 0, "%s not in .strtab", old)
	out := append([]byte(nil), exe...)
	at := int(strtab.Offset) + i + 1
	copy(out[at:at+len(old)], make([]byte, len(old)))
	copy(out[at:], repl)
	return out
}
