package coff

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	lcexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
)

// importCases are programs that call DLLs through import libraries made
// by llvm-dlltool: through __imp_ slots, through thunks, and with a data
// pointer to a thunk; exit is the status ExitProcess gets.
var importCases = []struct {
	name string
	defs map[string]string // library → .def contents
	asm  string
	exit int
}{
	{
		name: "exitprocess",
		defs: map[string]string{"kernel32.lib": "LIBRARY kernel32.dll\nEXPORTS\nExitProcess\n"},
		asm: `	.intel_syntax noprefix
	.text
	.globl _start
_start:
	sub rsp, 40
	mov ecx, 42
	call qword ptr [rip + __imp_ExitProcess]
	ud2
`,
		exit: 42,
	},
	{
		name: "two-dlls",
		defs: map[string]string{
			"k.lib": "LIBRARY kernel32.dll\nEXPORTS\nExitProcess\nGetTickCount\nSleep\nGetCurrentProcessId\nlstrlenA\n",
			"u.lib": "LIBRARY user32.dll\nEXPORTS\nMessageBoxA\nGetSystemMetrics\n",
		},
		asm: `	.intel_syntax noprefix
	.text
	.globl _start
_start:
	sub rsp, 40
	lea rcx, [rip + msg]
	call lstrlenA
	mov ebx, eax
	call qword ptr [rip + __imp_GetCurrentProcessId]
	lea ecx, [rbx + 37]
	call ExitProcess
	ud2
	.section .rdata,"dr"
msg:	.asciz "hell"
	.data
	.p2align 3
fp:	.quad GetSystemMetrics
`,
		exit: 41,
	},
}

// TestLinkImports links each case with LinkFiles and with lld-link
// (/timestamp:0 /debug:symtab): the images are byte-identical, llvm-readobj
// lists the same imports, and wine runs the reference image to the exit
// status.
func TestLinkImports(t *testing.T) {
	dlltool := tools.Require(t, "llvm-dlltool")
	mc := tools.Require(t, "llvm-mc")
	lld := tools.Require(t, "lld-link")
	readobj := tools.Require(t, "llvm-readobj")
	runner := lcexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	_, wineErr := tools.Find("wine64")
	for _, tt := range importCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := writeFile(t, dir, "main.s", []byte(tt.asm))
			o := filepath.Join(dir, "main.obj")
			run(t, dir, mc.Path, "-triple", "x86_64-pc-windows-msvc", "-filetype=obj", src, "-o", o)
			inputs := []string{o}
			for _, lib := range []string{"k.lib", "kernel32.lib", "u.lib"} {
				def, ok := tt.defs[lib]
				if !ok {
					continue
				}
				d := writeFile(t, dir, lib+".def", []byte(def))
				run(t, dir, dlltool.Path, "-m", "i386:x86-64", "-d", d, "-l", filepath.Join(dir, lib))
				inputs = append(inputs, filepath.Join(dir, lib))
			}
			lldExe := filepath.Join(dir, "lld.exe")
			run(t, dir, lld.Path, append([]string{"/entry:_start", "/subsystem:console", "/nodefaultlib", "/debug:symtab", "/timestamp:0", "/out:" + lldExe}, inputs...)...)
			image, _, err := LinkFiles(inputs, link.Options{})
			require.NoError(t, err)
			refExe := writeFile(t, dir, "ref.exe", image)
			dump := func(p string) string {
				out, _ := run(t, dir, readobj.Path, "--file-headers", "--sections", "--coff-imports", "--coff-basereloc", "--symbols", p)
				return strings.Replace(out, p, "EXE", 1)
			}
			require.Equal(t, dump(lldExe), dump(refExe))
			want, err := os.ReadFile(lldExe)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, image), "headers agree, bytes differ")
			if wineErr != nil {
				t.Skipf("wine: %v", wineErr)
			}
			res, err := runner.Run(context.Background(), refExe, lcexec.Options{Mode: lcexec.Wine})
			require.NoError(t, err)
			require.Equal(t, uint64(tt.exit), res.Value)
			// The unicorn loader binds no DLLs and says so.
			_, err = runner.Run(context.Background(), refExe, lcexec.Options{Mode: lcexec.Unicorn})
			require.ErrorIs(t, err, lcexec.ErrImports)
		})
	}
}

// TestReadArchive reads llvm-dlltool's import library: the short import
// members with their names, hints and types, the descriptor objects
// counted; every truncation is refused as malformed, never a panic.
func TestReadArchive(t *testing.T) {
	dlltool := tools.Require(t, "llvm-dlltool")
	dir := t.TempDir()
	d := writeFile(t, dir, "k.def", []byte("LIBRARY kernel32.dll\nEXPORTS\nExitProcess\nSleep @7 NONAME\nGetTickCount\n"))
	lib := filepath.Join(dir, "k.lib")
	out, err := exec.Command(dlltool.Path, "-m", "i386:x86-64", "-d", d, "-l", lib).CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(lib)
	require.NoError(t, err)
	a, err := ReadArchive("k.lib", data)
	require.NoError(t, err)
	require.Equal(t, 3, a.Objects, "import descriptor, null descriptor, null thunk")
	byName := map[string]Import{}
	for _, im := range a.Imports {
		require.Equal(t, "kernel32.dll", im.DLL)
		require.Equal(t, uint8(ImportCode), im.Type)
		byName[im.Symbol] = im
	}
	require.Len(t, byName, 3)
	require.Equal(t, uint8(ImportName), byName["ExitProcess"].NameType)
	require.Equal(t, "ExitProcess", byName["ExitProcess"].ExportName())
	require.Equal(t, uint8(ImportOrdinal), byName["Sleep"].NameType)
	require.Equal(t, uint16(7), byName["Sleep"].Hint)
	require.Equal(t, "", byName["Sleep"].ExportName())

	for n := 0; n < len(data); n++ {
		if _, err := ReadArchive("k.lib", data[:n]); err != nil {
			require.True(t, errors.Is(err, ErrMalformed), "%v", err)
		}
	}
	for i := range data {
		b := bytes.Clone(data)
		b[i] ^= 0xff
		if _, err := ReadArchive("k.lib", b); err != nil {
			require.True(t, errors.Is(err, ErrMalformed), "%v", err)
		}
	}
}

// TestExportName covers the name types' rules.
func TestExportName(t *testing.T) {
	tests := []struct {
		im   Import
		want string
	}{
		{Import{Symbol: "f", NameType: ImportName}, "f"},
		{Import{Symbol: "_f@8", NameType: ImportNoPrefix}, "f@8"},
		{Import{Symbol: "_f@8", NameType: ImportUndecorate}, "f"},
		{Import{Symbol: "f", NameType: ImportOrdinal, Hint: 3}, ""},
		{Import{Symbol: "f", NameType: ImportNameExportAs, ExportAs: "g"}, "g"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.im.ExportName(), "%+v", tt.im)
	}
}
