package pipeline

import (
	"bytes"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// x86Formats are the formats the x86_64 code generator targets, with the
// lld each needs.
var x86Formats = []struct {
	format obj.Format
	linker string
}{
	{obj.ELF, "ld.lld"},
	{obj.MachO, "ld64.lld"},
	{obj.COFF, "lld-link"},
}

type program struct {
	name string
	m    *ir.Module
	wine bool // also run the COFF build under wine
}

// corpusPrograms loads corpus/programs/*.lir.
func corpusPrograms(t *testing.T) []program {
	paths, err := filepath.Glob("../../corpus/programs/*.lir")
	require.NoError(t, err)
	sort.Strings(paths)
	var out []program
	for _, p := range paths {
		m, err := Load(p)
		require.NoError(t, err)
		out = append(out, program{name: filepath.Base(p), m: m, wine: true})
	}
	return out
}

// generatedPrograms returns n generated programs of a few functions each;
// the first wineSample also run under wine.
func generatedPrograms(n, wineSample int) []program {
	var out []program
	for seed := 1; seed <= n; seed++ {
		m := ir.Generate(ir.GenConfig{Seed: int64(seed), Funcs: 2 + seed%14})
		out = append(out, program{name: fmt.Sprintf("gen%03d", seed), m: m, wine: seed <= wineSample})
	}
	return out
}

func requireTools(t *testing.T) {
	for _, f := range x86Formats {
		tools.Require(t, f.linker)
	}
	tools.Require(t, "libunicorn")
	tools.Require(t, "wine64")
}

// TestEndToEnd is issue 5's proof: for every corpus program and 200
// generated ones, split into 1 and 3 units, the reference code generator's
// objects are linked by lld for ELF, Mach-O and COFF, and every execution
// oracle that applies (ELF: native and unicorn; Mach-O: unicorn; COFF:
// unicorn, plus wine for the corpus and 20 generated programs) computes the
// interpreter's value.
func TestEndToEnd(t *testing.T) {
	requireTools(t)
	n := 200
	if testing.Short() {
		n = 20
	}
	progs := append(corpusPrograms(t), generatedPrograms(n, 20)...)
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	for _, p := range progs {
		want, err := Expected(p.m)
		require.NoError(t, err, p.name)
		for _, units := range []int{1, 3} {
			for _, f := range x86Formats {
				name := fmt.Sprintf("%s/units=%d/%s", p.name, units, f.format)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					objs, err := BuildDir(p.m, f.format, units, dir)
					require.NoError(t, err)
					exe := filepath.Join(dir, ExeName(f.format))
					res, err := LinkLLD(ctx, f.format, objs, exe)
					require.NoError(t, err)
					require.Empty(t, res.Stderr, "lld warnings for %s", res.Reproducer())
					modes := []exec.Mode{exec.Unicorn}
					switch {
					case f.format == obj.ELF:
						modes = append(modes, exec.Native)
					case f.format == obj.COFF && p.wine && units == 1:
						modes = append(modes, exec.Wine)
					}
					for _, mode := range modes {
						got, err := runner.Run(ctx, exe, exec.Options{Mode: mode})
						require.NoError(t, err, "%s under %s", name, mode)
						require.True(t, got.Matches(want), "%s under %s: got %s, interpreter says %#x", name, mode, got, want)
					}
				})
			}
		}
	}
}

// entryOffset returns the file offset of the executable's entry point.
func entryOffset(t *testing.T, format obj.Format, data []byte) int {
	r := bytes.NewReader(data)
	switch format {
	case obj.ELF:
		f, err := elf.NewFile(r)
		require.NoError(t, err)
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && f.Entry >= p.Vaddr && f.Entry < p.Vaddr+p.Filesz {
				return int(p.Off + f.Entry - p.Vaddr)
			}
		}
	case obj.MachO:
		f, err := macho.NewFile(r)
		require.NoError(t, err)
		for _, l := range f.Loads {
			raw := l.Raw()
			if len(raw) >= 16 && f.ByteOrder.Uint32(raw) == 0x80000028 { // LC_MAIN
				return int(f.ByteOrder.Uint64(raw[8:]))
			}
		}
	case obj.COFF:
		f, err := pe.NewFile(r)
		require.NoError(t, err)
		oh := f.OptionalHeader.(*pe.OptionalHeader64)
		for _, s := range f.Sections {
			if oh.AddressOfEntryPoint >= s.VirtualAddress && oh.AddressOfEntryPoint < s.VirtualAddress+s.VirtualSize {
				return int(s.Offset + oh.AddressOfEntryPoint - s.VirtualAddress)
			}
		}
	}
	t.Fatalf("%s: entry point not found", format)
	return 0
}

// TestOraclesCatchCorruptCall corrupts one byte of the entry stub's call
// displacement in each linked executable: every oracle that runs it must
// report a crash or a wrong value, with a clear message and no hang.
func TestOraclesCatchCorruptCall(t *testing.T) {
	requireTools(t)
	m, err := ir.Parse("p.lir", []byte(`
func f(x) {
  let y = x * 3
  return y + 1
}
func main() { return f(13) + 1000 }
`))
	require.NoError(t, err)
	want, err := Expected(m)
	require.NoError(t, err)
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	for _, f := range x86Formats {
		t.Run(string(f.format), func(t *testing.T) {
			dir := t.TempDir()
			objs, err := BuildDir(m, f.format, 1, dir)
			require.NoError(t, err)
			exe := filepath.Join(dir, ExeName(f.format))
			_, err = LinkLLD(ctx, f.format, objs, exe)
			require.NoError(t, err)
			data, err := os.ReadFile(exe)
			require.NoError(t, err)
			off := entryOffset(t, f.format, data)
			call := bytes.IndexByte(data[off:off+8], 0xe8)
			require.GreaterOrEqual(t, call, 0, "entry stub has no call rel32")
			data[off+call+1]++ // call main+1: skips `push rbp`
			require.NoError(t, os.WriteFile(exe, data, 0o755))
			for _, mode := range exec.Oracles(f.format) {
				got, err := runner.Run(ctx, exe, exec.Options{Mode: mode})
				if err != nil {
					require.NotEmpty(t, err.Error())
					t.Logf("%s: %v", mode, err)
					continue
				}
				require.False(t, got.Matches(want), "%s did not notice the corrupt call: %s", mode, got)
				t.Logf("%s: wrong value %s", mode, got)
			}
		})
	}
}

// TestObjectsReadByLLVM checks that LLVM's tools read the reference code
// generator's objects of every corpus program, in every format and split
// into 3 units, without a warning or an error.
func TestObjectsReadByLLVM(t *testing.T) {
	readobj := tools.Require(t, "llvm-readobj")
	objdump := tools.Require(t, "llvm-objdump")
	for _, p := range corpusPrograms(t) {
		for _, f := range x86Formats {
			t.Run(p.name+"/"+string(f.format), func(t *testing.T) {
				t.Parallel()
				paths, err := BuildDir(p.m, f.format, 3, t.TempDir())
				require.NoError(t, err)
				for _, cmd := range [][]string{
					append([]string{readobj.Path, "--all"}, paths...),
					append([]string{objdump.Path, "-d", "-r", "-t"}, paths...),
				} {
					c := osexec.Command(cmd[0], cmd[1:]...)
					var stderr bytes.Buffer
					c.Stderr = &stderr
					out, err := c.Output()
					require.NoError(t, err, "%s: %s", cmd[0], stderr.String())
					require.Empty(t, stderr.String(), "%s", cmd[0])
					require.NotContains(t, strings.ToLower(string(out)), "warning:")
				}
			})
		}
	}
}
