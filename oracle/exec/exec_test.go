package exec_test

import (
	"bytes"
	"context"
	"debug/elf"
	"debug/pe"
	"encoding/binary"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// runner is shared by every test of the package so that wine creates its
// prefix once per test binary.
var runner *exec.Runner

func TestMain(m *testing.M) {
	runner = exec.NewRunner()
	code := m.Run()
	if err := runner.Close(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

const want = 0x1122334455667788

var triples = map[string]string{
	"elf":   "x86_64-linux-gnu",
	"macho": "x86_64-apple-macos11",
	"coff":  "x86_64-pc-windows-msvc",
	"wasm":  "wasm32-unknown-unknown",
}

// source returns the assembly file of test program name. The value
// programs (FORMAT_value) are the ones oracle/lld's tests link; they live
// once, in oracle/lld/testdata/FORMAT.s.
func source(name string) string {
	if format, ok := strings.CutSuffix(name, "_value"); ok {
		return filepath.Join("..", "lld", "testdata", format+".s")
	}
	return filepath.Join("testdata", name+".s")
}

// build assembles the test program name (see source) for format and links
// it with lld.
func build(t testing.TB, format, name string) string {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	linker, err := lld.Tool(obj.Format(format))
	require.NoError(t, err)
	tools.Require(t, linker)
	dir := t.TempDir()
	o := filepath.Join(dir, name+".o")
	out, err := osexec.Command(mc.Path, "-triple", triples[format], "-filetype=obj",
		source(name), "-o", o).CombinedOutput()
	require.NoError(t, err, "llvm-mc: %s", out)
	exe := filepath.Join(dir, name+".exe")
	_, err = lld.Link(context.Background(), obj.Format(format), []string{o}, exe, lld.Options{})
	require.NoError(t, err)
	return exe
}

// requireOracle skips (or fails, with LINKCHECK_REQUIRE_TOOLS=1) when the
// oracle's tool is missing.
func requireOracle(t *testing.T, m exec.Mode) {
	t.Helper()
	switch m {
	case exec.Unicorn:
		tools.Require(t, "libunicorn")
	case exec.Wine:
		tools.Require(t, "wine64")
	}
}

// forEachOracle runs fn for every oracle that applies to format.
func forEachOracle(t *testing.T, format string, fn func(t *testing.T, m exec.Mode)) {
	oracles := exec.Oracles(obj.Format(format))
	require.NotEmpty(t, oracles)
	for _, m := range oracles {
		t.Run(string(m), func(t *testing.T) {
			requireOracle(t, m)
			fn(t, m)
		})
	}
}

func TestValue(t *testing.T) {
	for _, format := range []string{"elf", "macho", "coff", "wasm"} {
		t.Run(format, func(t *testing.T) {
			exe := build(t, format, format+"_value")
			forEachOracle(t, format, func(t *testing.T, m exec.Mode) {
				res, err := runner.Run(context.Background(), exe, exec.Options{Mode: m})
				require.NoError(t, err)
				require.Equal(t, m, res.Oracle)
				require.True(t, res.Matches(want), "got %s", res)
				if m == exec.Wine {
					require.Equal(t, 32, res.Bits)
					require.Equal(t, uint64(want&0xffffffff), res.Value)
					require.False(t, res.Matches(want+1))
				} else {
					require.Equal(t, 64, res.Bits)
					require.Equal(t, uint64(want), res.Value)
				}
				t.Logf("%s/%s: %s in %v", format, m, res, res.Duration)
			})
		})
	}
}

func TestAutoPicksMostRealOracle(t *testing.T) {
	tools.Require(t, "libunicorn")
	tools.Require(t, "wine64")
	cases := map[string]exec.Mode{"elf": exec.Native, "macho": exec.Unicorn, "coff": exec.Wine, "wasm": exec.Wazero}
	for format, mode := range cases {
		t.Run(format, func(t *testing.T) {
			name := format + "_value"
			if format == "coff" {
				name = "coff_small"
			}
			exe := build(t, format, name)
			res, err := runner.Run(context.Background(), exe, exec.Options{})
			require.NoError(t, err)
			require.Equal(t, mode, res.Oracle)
		})
	}
}

func TestSmallPEValueUnderEveryOracle(t *testing.T) {
	exe := build(t, "coff", "coff_small")
	forEachOracle(t, "coff", func(t *testing.T, m exec.Mode) {
		res, err := runner.Run(context.Background(), exe, exec.Options{Mode: m})
		require.NoError(t, err)
		require.Equal(t, uint64(42), res.Value)
	})
}

// corrupt flips bit 16 of the displacement of the call that follows the
// marker `mov r11d, 0x5a5a5a5a` in the test programs: the call now goes
// 64 KiB away from compute.
func corrupt(t *testing.T, exe string) string {
	t.Helper()
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	marker := []byte{0x41, 0xbb, 0x5a, 0x5a, 0x5a, 0x5a, 0xe8}
	i := bytes.Index(data, marker)
	require.GreaterOrEqual(t, i, 0, "marker not found")
	require.Equal(t, -1, bytes.Index(data[i+1:], marker), "marker found twice")
	data[i+len(marker)+2] ^= 1
	bad := exe + ".bad"
	require.NoError(t, os.WriteFile(bad, data, 0o755))
	return bad
}

func TestCorruptCallIsCaught(t *testing.T) {
	wantMsg := map[exec.Mode]string{
		exec.Native:  "SIGSEGV",
		exec.Unicorn: "fetch from unmapped memory",
		exec.Wine:    "crashed: Unhandled page fault",
	}
	for _, format := range []string{"elf", "macho", "coff"} {
		t.Run(format, func(t *testing.T) {
			bad := corrupt(t, build(t, format, format+"_value"))
			forEachOracle(t, format, func(t *testing.T, m exec.Mode) {
				res, err := runner.Run(context.Background(), bad, exec.Options{Mode: m, Timeout: 20 * time.Second})
				if err == nil {
					require.False(t, res.Matches(want), "corrupted program still computes the value")
					return
				}
				require.ErrorContains(t, err, wantMsg[m])
				t.Logf("%s/%s: %v", format, m, err)
			})
		})
	}
}

func TestEndlessLoopIsStopped(t *testing.T) {
	for _, format := range []string{"elf", "macho", "coff", "wasm"} {
		t.Run(format, func(t *testing.T) {
			exe := build(t, format, format+"_loop")
			forEachOracle(t, format, func(t *testing.T, m exec.Mode) {
				opts := exec.Options{Mode: m, Timeout: time.Second, MaxInsns: 1_000_000}
				_, err := runner.Run(context.Background(), exe, opts)
				require.Error(t, err)
				if m == exec.Unicorn {
					require.ErrorContains(t, err, "did not finish in 1000000 instructions")
				} else {
					require.ErrorContains(t, err, "did not finish within 1s")
				}
				t.Logf("%s/%s: %v", format, m, err)
			})
		})
	}
}

func TestUnicornTimeout(t *testing.T) {
	tools.Require(t, "libunicorn")
	exe := build(t, "elf", "elf_loop")
	_, err := runner.Run(context.Background(), exe, exec.Options{Mode: exec.Unicorn, Timeout: 200 * time.Millisecond, MaxInsns: 1 << 62})
	require.ErrorContains(t, err, "did not finish within 200ms")
}

func TestCancel(t *testing.T) {
	exe := build(t, "elf", "elf_loop")
	forEachOracle(t, "elf", func(t *testing.T, m exec.Mode) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		_, err := runner.Run(ctx, exe, exec.Options{Mode: m, Timeout: time.Minute, MaxInsns: 1 << 62})
		require.ErrorContains(t, err, "cancel")
	})
}

func TestDeepRecursion(t *testing.T) {
	exe := build(t, "elf", "elf_deep")
	forEachOracle(t, "elf", func(t *testing.T, m exec.Mode) {
		res, err := runner.Run(context.Background(), exe, exec.Options{Mode: m})
		require.NoError(t, err)
		require.Equal(t, uint64(200000), res.Value)
	})
}

func TestProtocolViolations(t *testing.T) {
	tests := []struct {
		format, name, msg string
	}{
		{"elf", "elf_badexit", "exit status 3 (want 0)"},
		{"elf", "elf_short", "wrote 4 bytes to stdout, want exactly 8"},
		{"macho", "macho_returns", "entry point returned (rax=0x2a) instead of calling exit"},
		{"wasm", "wasm_trap", "_start trapped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exe := build(t, tc.format, tc.name)
			forEachOracle(t, tc.format, func(t *testing.T, m exec.Mode) {
				_, err := runner.Run(context.Background(), exe, exec.Options{Mode: m})
				require.ErrorContains(t, err, tc.msg)
			})
		})
	}
}

func TestModeErrors(t *testing.T) {
	exe := build(t, "macho", "macho_value")
	_, err := runner.Run(context.Background(), exe, exec.Options{Mode: exec.Native})
	require.ErrorContains(t, err, "oracle native cannot run a macho executable")
	_, err = runner.Run(context.Background(), exe, exec.Options{Mode: "qemu"})
	require.ErrorContains(t, err, `unknown oracle "qemu"`)
	_, err = runner.Run(context.Background(), filepath.Join(t.TempDir(), "missing"), exec.Options{})
	require.ErrorContains(t, err, "no such file")
}

// TestLoadImageAgreesWithStdlib checks the loaders' entry points and
// segments against debug/elf and debug/pe.
func TestLoadImageAgreesWithStdlib(t *testing.T) {
	t.Run("elf", func(t *testing.T) {
		exe := build(t, "elf", "elf_value")
		data, err := os.ReadFile(exe)
		require.NoError(t, err)
		img, err := exec.LoadImage(data)
		require.NoError(t, err)
		f, err := elf.NewFile(bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, f.Entry, img.Entry)
		var loads int
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD {
				loads++
			}
		}
		require.Equal(t, loads, len(img.Segments))
		require.Equal(t, exec.ProtoLinux, img.Protocol)
	})
	t.Run("coff", func(t *testing.T) {
		exe := build(t, "coff", "coff_value")
		data, err := os.ReadFile(exe)
		require.NoError(t, err)
		img, err := exec.LoadImage(data)
		require.NoError(t, err)
		f, err := pe.NewFile(bytes.NewReader(data))
		require.NoError(t, err)
		oh := f.OptionalHeader.(*pe.OptionalHeader64)
		require.Equal(t, oh.ImageBase+uint64(oh.AddressOfEntryPoint), img.Entry)
		require.Len(t, img.Segments, len(f.Sections)+1) // + headers
		require.True(t, img.EntryIsCall)
	})
	t.Run("macho", func(t *testing.T) {
		exe := build(t, "macho", "macho_value")
		data, err := os.ReadFile(exe)
		require.NoError(t, err)
		img, err := exec.LoadImage(data)
		require.NoError(t, err)
		nm := tools.Require(t, "llvm-nm")
		out, err := osexec.Command(nm.Path, exe).Output()
		require.NoError(t, err)
		var start string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[2] == "__start" {
				start = f[0]
			}
		}
		require.NotEmpty(t, start)
		require.Equal(t, start, strings.TrimPrefix(hex16(img.Entry), "0x"))
		for _, s := range img.Segments {
			require.NotEqual(t, "__PAGEZERO", s.Name)
		}
	})
}

func hex16(v uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

func TestMatches(t *testing.T) {
	r := &exec.Result{Value: 0x55667788, Bits: 32}
	require.True(t, r.Matches(0x1122334455667788))
	require.False(t, r.Matches(0x1122334455667789))
	r = &exec.Result{Value: 0x1122334455667788, Bits: 64}
	require.True(t, r.Matches(0x1122334455667788))
	require.False(t, r.Matches(0x55667788))
}

func TestRegions(t *testing.T) {
	img := &exec.Image{Segments: []exec.Segment{
		{Name: "a", Addr: 0x1000, MemSize: 0x1800, Prot: exec.ProtRead | exec.ProtExec},
		{Name: "b", Addr: 0x2800, MemSize: 0x100, Prot: exec.ProtRead | exec.ProtWrite},
		{Name: "c", Addr: 0x5000, MemSize: 0x10, Prot: exec.ProtRead},
	}}
	require.Equal(t, []exec.Region{
		{Addr: 0x1000, Size: 0x1000, Prot: exec.ProtRead | exec.ProtExec},
		{Addr: 0x2000, Size: 0x1000, Prot: exec.ProtRead | exec.ProtWrite | exec.ProtExec},
		{Addr: 0x5000, Size: 0x1000, Prot: exec.ProtRead},
	}, img.Regions())
}

func TestPEWithImports(t *testing.T) {
	dlltool := tools.Require(t, "llvm-dlltool")
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "lld-link")
	dir := t.TempDir()
	lib := filepath.Join(dir, "kernel32.lib")
	out, err := osexec.Command(dlltool.Path, "-m", "i386:x86-64", "-d", filepath.Join("testdata", "kernel32.def"), "-l", lib).CombinedOutput()
	require.NoError(t, err, "llvm-dlltool: %s", out)
	o := filepath.Join(dir, "imp.obj")
	out, err = osexec.Command(mc.Path, "-triple", triples["coff"], "-filetype=obj", filepath.Join("testdata", "coff_import.s"), "-o", o).CombinedOutput()
	require.NoError(t, err, "llvm-mc: %s", out)
	exe := filepath.Join(dir, "imp.exe")
	_, err = lld.Link(context.Background(), obj.COFF, []string{o, lib}, exe, lld.Options{})
	require.NoError(t, err)

	forEachOracle(t, "coff", func(t *testing.T, m exec.Mode) {
		res, err := runner.Run(context.Background(), exe, exec.Options{Mode: m})
		if m == exec.Unicorn {
			require.ErrorIs(t, err, exec.ErrImports)
			require.ErrorContains(t, err, "run it under wine")
			return
		}
		require.NoError(t, err)
		require.Equal(t, uint64(42), res.Value)
	})
}

// TestWineRefusesNonProgram: bytes that are not a PE image are an error
// naming the cause, not cmd's ERRORLEVEL 9009 taken for the exit code.
func TestWineRefusesNonProgram(t *testing.T) {
	requireOracle(t, exec.Wine)
	data, err := os.ReadFile(build(t, "coff", "coff_small"))
	require.NoError(t, err)
	// Keep the DOS header and "PE\0\0" (the format is still detected as
	// PE) but break the optional header's magic (0x20b for PE32+).
	pe := int(binary.LittleEndian.Uint32(data[0x3c:]))
	require.Equal(t, uint16(0x20b), binary.LittleEndian.Uint16(data[pe+24:]))
	data[pe+24], data[pe+25] = 0x5a, 0x5a
	bad := filepath.Join(t.TempDir(), "bad.exe")
	require.NoError(t, os.WriteFile(bad, data, 0o755))
	_, err = runner.Run(context.Background(), bad, exec.Options{Mode: exec.Wine, Timeout: time.Minute})
	require.ErrorContains(t, err, "not a program wine can load")
}

// TestRunBytes: an executable run from memory gives what the same file
// gives, under every oracle of its format; the file a native or wine run
// needs is written to the scratch directory and removed, and a file of
// the same name in the working directory is not what runs.
func TestRunBytes(t *testing.T) {
	for _, format := range []string{"elf", "macho", "coff", "wasm"} {
		t.Run(format, func(t *testing.T) {
			exe := build(t, format, format+"_value")
			data, err := os.ReadFile(exe)
			require.NoError(t, err)
			forEachOracle(t, format, func(t *testing.T, m exec.Mode) {
				// A decoy under the name the bytes are given: the
				// bytes run, not it.
				t.Chdir(t.TempDir())
				require.NoError(t, os.WriteFile("decoy.exe", []byte("not an executable"), 0o755))
				res, err := runner.RunBytes(context.Background(), "decoy.exe", data, exec.Options{Mode: m})
				require.NoError(t, err)
				require.Equal(t, m, res.Oracle)
				require.True(t, res.Matches(want), "got %s", res)
				dir, err := runner.ScratchDir()
				require.NoError(t, err)
				left, err := filepath.Glob(filepath.Join(dir, "run-*"))
				require.NoError(t, err)
				require.Empty(t, left, "the scratch file is removed after the run")
			})
		})
	}
	_, err := runner.RunBytes(context.Background(), "junk", []byte("junk"), exec.Options{})
	require.Error(t, err)
}
