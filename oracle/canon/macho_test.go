package canon

import (
	"bytes"
	"context"
	"debug/macho"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	reflink "github.com/linkcheck/linkcheck/ref/link"
	refmacho "github.com/linkcheck/linkcheck/ref/macho"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// machoExe is a linked executable of a corpus/asm/macho case.
type machoExe struct{ name, path string }

// machoExes links each case of corpus/asm/macho with ld64.lld and with the
// reference linker and returns the executables.
func machoExes(t testing.TB) []machoExe {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "ld64.lld")
	dirs, err := filepath.Glob("../../corpus/asm/macho/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	var exes []machoExe
	for _, d := range dirs {
		srcs, _ := filepath.Glob(filepath.Join(d, "*.s"))
		if len(srcs) == 0 {
			continue
		}
		work := t.TempDir()
		var objs []string
		for _, s := range srcs {
			o := filepath.Join(work, strings.TrimSuffix(filepath.Base(s), ".s")+".o")
			out, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-apple-macos11", "-o", o, s).CombinedOutput()
			require.NoError(t, err, "%s", out)
			objs = append(objs, o)
		}
		l := filepath.Join(work, "lld.out")
		_, err := lld.Link(context.Background(), obj.MachO, objs, l, lld.Options{})
		require.NoError(t, err)
		ref, _, err := refmacho.LinkFiles(objs, reflink.Options{})
		require.NoError(t, err)
		r := filepath.Join(work, "ref.out")
		require.NoError(t, os.WriteFile(r, ref, 0o755))
		exes = append(exes, machoExe{filepath.Base(d) + "/lld", l}, machoExe{filepath.Base(d) + "/ref", r})
	}
	require.NotEmpty(t, exes)
	return exes
}

// TestLoadMachO checks the Mach-O loader against LLVM's readers on
// ld64.lld's and the reference linker's outputs of corpus/asm/macho: the
// pointer sites are llvm-objdump's rebase table, the symbols llvm-nm's
// defined symbols (names without the underscore, addresses, locals as
// local), the sections llvm-objdump's, and the entry point the LC_MAIN
// offset from __TEXT.
func TestLoadMachO(t *testing.T) {
	objdump := tools.Require(t, "llvm-objdump")
	nm := tools.Require(t, "llvm-nm")
	for _, x := range machoExes(t) {
		exe := x.path
		t.Run(x.name, func(t *testing.T) {
			data, err := os.ReadFile(exe)
			require.NoError(t, err)
			f, err := loadMachO(data)
			require.NoError(t, err)
			require.Equal(t, "macho", f.format)
			require.Equal(t, PointersFromRebase, f.ownSource)
			require.Empty(t, f.siteNotes)

			out, err := exec.Command(objdump.Path, "--macho", "--rebase", "--bind", "--private-headers", exe).CombinedOutput()
			require.NoError(t, err, "%s", out)
			var rebases []uint64
			entryOff := uint64(0)
			lines := strings.Split(string(out), "\n")
			for i, line := range lines {
				fs := strings.Fields(line)
				if len(fs) == 4 && fs[3] == "pointer" {
					v, err := strconv.ParseUint(strings.TrimPrefix(fs[2], "0x"), 16, 64)
					require.NoError(t, err)
					rebases = append(rebases, v)
				}
				if len(fs) == 2 && fs[0] == "entryoff" && i > 0 {
					entryOff, err = strconv.ParseUint(fs[1], 10, 64)
					require.NoError(t, err)
				}
			}
			var sites []uint64
			for _, s := range f.ownSites {
				require.Equal(t, obj.Abs64, s.kind)
				sites = append(sites, s.addr)
			}
			require.Equal(t, rebases, sites, "rebase table")
			require.Equal(t, uint64(refmacho.ExeImageBase)+entryOff, f.entry)

			out, err = exec.Command(nm.Path, "-p", "-m", "--defined-only", exe).CombinedOutput()
			require.NoError(t, err, "%s", out)
			type nmSym struct {
				addr  uint64
				local bool
				sec   string
			}
			// Symbols in empty sections are not in the model (as for ELF):
			// the sections' sizes say which are empty.
			mf, err := macho.NewFile(bytes.NewReader(data))
			require.NoError(t, err)
			empty := map[string]bool{}
			for _, sh := range mf.Sections {
				empty[sh.Seg+","+sh.Name] = sh.Size == 0
			}
			want := map[string]nmSym{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				fs := strings.Fields(line)
				v, err := strconv.ParseUint(fs[0], 16, 64)
				require.NoError(t, err, line)
				name := strings.TrimPrefix(fs[len(fs)-1], "_")
				sec := strings.Trim(fs[1], "()")
				if empty[sec] {
					continue
				}
				want[name] = nmSym{v, strings.Contains(line, "non-external"), sec}
			}
			got := map[string]nmSym{}
			for _, s := range f.symbols {
				sec := ""
				if s.sec != nil {
					sec = s.sec.name
				}
				got[s.name] = nmSym{s.value, s.bind == BindLocal, sec}
			}
			require.Equal(t, want, got, "symbols")
			require.True(t, machoReserved("_mh_execute_header"))

			secs := map[string]bool{}
			for _, s := range f.sections {
				secs[s.name] = true
				if s.name == "__TEXT,__text" {
					require.Equal(t, "AX", s.flags)
				}
				if s.name == "__DATA_CONST,__got" {
					require.True(t, s.got)
					require.Equal(t, "A", s.flags, "SG_READ_ONLY: read-only after fixups")
				}
				if s.name == "__TEXT,__cstring" {
					require.True(t, s.strings)
				}
				if s.name == "__DATA,__bss" {
					require.True(t, s.nobits)
					require.Nil(t, s.data)
				}
			}
			require.True(t, secs["__TEXT,__text"])
		})
	}
}

// TestReadMachOMalformed feeds truncated and corrupted copies of real
// Mach-O executables to Read: no panic, and an error is ErrMalformed.
func TestReadMachOMalformed(t *testing.T) {
	exes := machoExes(t)
	rng := rand.New(rand.NewSource(13))
	for _, x := range exes[:4] {
		data, err := os.ReadFile(x.path)
		require.NoError(t, err)
		_, err = Read(data, nil)
		require.NoError(t, err)
		try := func(b []byte) {
			if _, err := Read(b, nil); err != nil {
				require.True(t, errors.Is(err, ErrMalformed), "%v", err)
			}
		}
		for _, n := range []int{0, 4, 31, 32, 100, 600, 1200, len(data) / 2, len(data) - 1} {
			if n <= len(data) {
				try(data[:n])
			}
		}
		for i := 0; i < 300; i++ {
			b := append([]byte(nil), data...)
			for k := 0; k < 1+rng.Intn(4); k++ {
				// Mostly the header and load commands, where offsets live.
				at := rng.Intn(min(len(b), 1500))
				if rng.Intn(4) == 0 {
					at = rng.Intn(len(b))
				}
				b[at] = byte(rng.Intn(256))
			}
			try(b)
		}
	}
}

// FuzzLoadMachO feeds mutations of both linkers' Mach-O outputs of
// corpus/asm/macho to Read: no panic, and every error wraps ErrMalformed
// or ErrUnsupported.
func FuzzLoadMachO(f *testing.F) {
	for _, x := range machoExes(f) {
		data, err := os.ReadFile(x.path)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := Read(data, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrMalformed nor ErrUnsupported: %v", err)
			}
			return
		}
		if im.Format == "macho" {
			require.NotEmpty(t, im.PointerSource)
		}
	})
}
