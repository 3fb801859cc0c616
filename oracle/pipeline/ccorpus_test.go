package pipeline

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// cFlagSets are the clang flag sets corpus/c is compiled under: what
// compilers emit changes with each (absolute or relative jump tables,
// GOTPCRELX loads under Debian's default PIE, one section per function).
var cFlagSets = []string{
	"-O0",
	"-O1 -fno-pic",
	"-O2",
	"-O2 -fPIC",
	"-Os -ffunction-sections -fdata-sections",
}

// compileCorpusC compiles the .c files of dir with flags into work and
// returns the objects in file-name order.
func compileCorpusC(t *testing.T, dir, flags, work string) []string {
	t.Helper()
	cc := tools.Require(t, "clang")
	srcs, err := filepath.Glob(filepath.Join(dir, "*.c"))
	require.NoError(t, err)
	require.NotEmpty(t, srcs, dir)
	sort.Strings(srcs)
	var objs []string
	for _, src := range srcs {
		o := filepath.Join(work, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		args := append([]string{"--target=x86_64-unknown-linux-gnu", "-ffreestanding", "-fno-stack-protector",
			"-fasynchronous-unwind-tables"}, strings.Fields(flags)...)
		args = append(args, "-c", src, "-o", o)
		out, err := exec.Command(cc.Path, args...).CombinedOutput()
		require.NoError(t, err, "clang %s: %s", strings.Join(args, " "), out)
		objs = append(objs, o)
	}
	return objs
}

// TestCCorpusDiff links clang's objects of corpus/c under every flag set
// with both linkers: no difference, full coverage, nothing the canonical
// reader could not name, and the same exit status from both executables.
func TestCCorpusDiff(t *testing.T) {
	tools.Require(t, "ld.lld")
	dirs, err := filepath.Glob("../../corpus/c/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	programs := 0
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		programs++
		for _, flags := range cFlagSets {
			t.Run(filepath.Base(d)+"/"+strings.ReplaceAll(flags, " ", "_"), func(t *testing.T) {
				work := t.TempDir()
				objs := compileCorpusC(t, d, flags, work)
				res, err := DiffLLD(context.Background(), obj.ELF, objs, work, diff.Options{})
				require.NoError(t, err)
				require.True(t, res.Report.Equal(), "%s", res.Report.Text())
				require.Equal(t, 1.0, res.Report.Coverage.Ratio(), "%s", res.Report.Text())
				for _, exe := range []string{res.LLDExe, res.RefExe} {
					im, err := readImage(exe, res.Objects)
					require.NoError(t, err)
					require.Empty(t, im.Notes, "%s: everything is named", filepath.Base(exe))
				}
				refOut, refErr := exec.Command(res.RefExe).Output()
				lldOut, lldErr := exec.Command(res.LLDExe).Output()
				require.GreaterOrEqual(t, exitCode(lldErr), 0, "lld's executable ran: %v", lldErr)
				require.Equal(t, exitCode(lldErr), exitCode(refErr))
				require.Equal(t, lldOut, refOut)
			})
		}
	}
	require.GreaterOrEqual(t, programs, 4)
}

// TestDiffCatchesBrokenAnonymousData breaks what has no symbol in the
// reference output of corpus/c/switch — a jump table entry, a relative
// lookup table's string, a code reference to the jump table — and checks
// that the diff reports each.
func TestDiffCatchesBrokenAnonymousData(t *testing.T) {
	tools.Require(t, "ld.lld")
	// setup links corpus/c/switch compiled with flags, checks that the
	// links are equal, and returns the reference output to break and a
	// function giving the address and file offset of an input section.
	setup := func(t *testing.T, flags string) (*brokenRef, func(name string) (uint64, uint64)) {
		work := t.TempDir()
		objs := compileCorpusC(t, "../../corpus/c/switch", flags, work)
		res, err := DiffLLD(context.Background(), obj.ELF, objs, work, diff.Options{})
		require.NoError(t, err)
		require.True(t, res.Report.Equal(), "before breaking: %s", res.Report.Text())
		layout, err := LinkRef(obj.ELF, objs, res.RefExe)
		require.NoError(t, err)
		data, err := os.ReadFile(res.RefExe)
		require.NoError(t, err)
		b := &brokenRef{t: t, res: res, layout: layout, data: data}
		place := func(name string) (uint64, uint64) {
			for si, sec := range layout.Objects[0].Sections {
				if sec != nil && sec.Name == name {
					addr := layout.Placements[0][si].Addr
					return addr, uint64(b.off(addr))
				}
			}
			t.Fatalf("no input section %s", name)
			return 0, 0
		}
		return b, place
	}

	t.Run("jump table entry swapped", func(t *testing.T) {
		// -O1 -fno-pic: .rodata holds classify's jump table, absolute
		// 8-byte entries, first. Swap the first two.
		b, place := setup(t, "-O1 -fno-pic")
		data := b.data
		_, off := place(".rodata")
		e0 := binary.LittleEndian.Uint64(data[off:])
		e1 := binary.LittleEndian.Uint64(data[off+8:])
		require.NotEqual(t, e0, e1)
		binary.LittleEndian.PutUint64(data[off:], e1)
		binary.LittleEndian.PutUint64(data[off+8:], e0)
		rep := b.compare()
		require.False(t, rep.Equal())
		missing := rep.Find("symbol.missing")
		require.Len(t, missing, 1, "%s", rep.Text())
		require.Equal(t, "main.o:(.rodata)", missing[0].Symbol, "the table no longer matches its input")
		require.NotEmpty(t, rep.Find("text.operand"), "the jump through the table differs: %s", rep.Text())
	})
	t.Run("lookup table string retargeted", func(t *testing.T) {
		// -O2 (PIE code): name's relative lookup table follows the
		// 9-entry jump table; entry k is .L.str.k - table. Point the
		// second entry at the string the first one reaches.
		b, place := setup(t, "-O2")
		data := b.data
		_, off := place(".rodata")
		tab := off + 9*4
		first := int32(binary.LittleEndian.Uint32(data[tab:]))
		binary.LittleEndian.PutUint32(data[tab+4:], uint32(first))
		rep := b.compare()
		ds := rep.Find("symbol.missing")
		require.Len(t, ds, 1, "%s", rep.Text())
		require.Equal(t, "main.o:(.rodata)", ds[0].Symbol)
	})
	t.Run("code reference to the table off by 8", func(t *testing.T) {
		// -O1 -fno-pic: `jmp [8*rcx + table]` carries the table's
		// address in a disp32 (R_X86_64_32S); add 8 to it.
		b, place := setup(t, "-O1 -fno-pic")
		data := b.data
		addr, _ := place(".rodata")
		var le [4]byte
		binary.LittleEndian.PutUint32(le[:], uint32(addr))
		_, textOff := place(".text")
		i := strings.Index(string(data[textOff:]), string(le[:]))
		require.GreaterOrEqual(t, i, 0, "the table's address is in the code")
		binary.LittleEndian.PutUint32(data[int(textOff)+i:], uint32(addr+8))
		rep := b.compare()
		ds := rep.Find("text.operand")
		require.Len(t, ds, 1, "%s", rep.Text())
		require.Contains(t, ds[0].A, "&main.o:(.rodata)]")
		require.Contains(t, ds[0].B, "&main.o:(.rodata)+0x8]")
	})
}
