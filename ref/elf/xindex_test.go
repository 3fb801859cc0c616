package elf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// xindexSections is more than the 65,280 sections an ELF header can count
// without extended section numbering.
const xindexSections = 70000

// xindexObject is _start calling f0..f(n-1), each in its own section.
func xindexObject(n int) *obj.Object {
	o := &obj.Object{Name: "big.o"}
	start := &obj.Section{Name: ".text", Kind: obj.Text, Align: 1}
	o.Sections = append(o.Sections, start)
	o.Symbols = append(o.Symbols, &obj.Symbol{Name: "_start", Section: 0, Bind: obj.Global, Kind: obj.SymFunc})
	for i := range n {
		o.Sections = append(o.Sections, &obj.Section{Name: fmt.Sprintf(".text.f%d", i), Kind: obj.Text, Align: 1, Data: []byte{0xc3}, Size: 1})
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: fmt.Sprintf("f%d", i), Section: i + 1, Size: 1, Bind: obj.Global, Kind: obj.SymFunc})
		start.Data = append(start.Data, 0xe8, 0, 0, 0, 0)
		start.Relocs = append(start.Relocs, obj.Reloc{Offset: uint64(5*i + 1), Kind: obj.Branch32, Sym: i + 1, Addend: -4})
	}
	// exit(42)
	start.Data = append(start.Data, 0xb8, 60, 0, 0, 0, 0xbf, 42, 0, 0, 0, 0x0f, 0x05)
	start.Size = uint64(len(start.Data))
	return o
}

// TestExtendedSectionNumbering: the writer writes, and the reader reads,
// objects of more sections than SHN_LORESERVE (e_shnum 0, SHN_XINDEX and
// .symtab_shndx); LLVM reads the writer's object without a warning, ld.lld
// links it, and the reader reads llvm-mc's object of that many sections
// (a real index of 0xff00 or more from .symtab_shndx is not reserved).
func TestExtendedSectionNumbering(t *testing.T) {
	o := xindexObject(xindexSections)
	b, err := WriteObject(o)
	require.NoError(t, err)
	back, err := ReadObject("big.o", b)
	require.NoError(t, err)
	require.Len(t, back.Sections, len(o.Sections))
	for _, i := range []int{1, 0xff00 - 2, 0xff00 - 1, 0xff00, 0xfff1, xindexSections} {
		k := back.Lookup(fmt.Sprintf("f%d", i-1))
		require.GreaterOrEqual(t, k, 0)
		require.Equal(t, fmt.Sprintf(".text.f%d", i-1), back.Sections[back.Symbols[k].Section].Name)
	}
	again, err := WriteObject(back)
	require.NoError(t, err)
	require.Equal(t, b, again, "rewriting what was read gives the same bytes")

	dir := t.TempDir()
	path := filepath.Join(dir, "big.o")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	ro := tools.Require(t, "llvm-readobj")
	var stderr bytes.Buffer
	cmd := exec.Command(ro.Path, "--file-headers", "--symbols", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	require.Empty(t, stderr.String())
	require.NotContains(t, strings.ToLower(string(out)), "warning")

	ref, ld, _ := linkBoth(t, dir, []string{path})
	require.Equal(t, 42, runNative(t, ref).status)
	require.Equal(t, 42, runNative(t, ld).status)

	// llvm-mc's object of as many sections.
	mc := tools.Require(t, "llvm-mc")
	var src strings.Builder
	src.WriteString("\t.globl _start\n\t.text\n_start:\n")
	for i := range xindexSections {
		fmt.Fprintf(&src, "\tcall f%d\n", i)
	}
	src.WriteString("\tmovl $60, %eax\n\tmovl $42, %edi\n\tsyscall\n")
	for i := range xindexSections {
		fmt.Fprintf(&src, "\t.section .text.f%d,\"ax\",@progbits\n\t.globl f%d\nf%d:\tret\n", i, i, i)
	}
	s := filepath.Join(dir, "mc.s")
	require.NoError(t, os.WriteFile(s, []byte(src.String()), 0o644))
	mco := filepath.Join(dir, "mc.o")
	mcOut, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-unknown-linux-gnu", s, "-o", mco).CombinedOutput()
	require.NoError(t, err, "%s", mcOut)
	exe, _, err := LinkFiles([]string{mco}, link.Options{})
	require.NoError(t, err)
	refExe := filepath.Join(dir, "mc.out")
	require.NoError(t, os.WriteFile(refExe, exe, 0o755))
	require.Equal(t, 42, runNative(t, refExe).status)
}
