package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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

// TestEHFrameFaultsCaught: corpus/asm/elf/eh_frame linked by ld.lld and
// by the reference linker, with and without .eh_frame_hdr, compares
// equal as canonical images (FDEs per function, the search table checked
// against them); an FDE whose initial location is one byte off
// (fault.LinkFDEPCBias) is a frame.fde difference naming the function on
// both sides, and a search table left unsorted
// (fault.LinkEHFrameHdrUnsorted) a frame.hdr difference. Both faults keep
// every value the program computes.
func TestEHFrameFaultsCaught(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "ld.lld")
	work := t.TempDir()
	objPaths, _ := assembleELFDir(t, mc.Path, "../../corpus/asm/elf/eh_frame", work)
	objs, err := elf.ReadInputs(objPaths)
	require.NoError(t, err)
	for _, hdr := range []bool{false, true} {
		var extra []string
		if hdr {
			extra = []string{"--eh-frame-hdr"}
		}
		lldExe := filepath.Join(work, "lld.out")
		_, err = lld.Link(context.Background(), obj.ELF, objPaths, lldExe, lld.Options{Extra: extra})
		require.NoError(t, err)
		ia, err := readImage(lldExe, objs)
		require.NoError(t, err)
		require.NotNil(t, ia.Frames)
		require.Len(t, ia.Frames.FDEs, 7, "_start, twenty, one inl, with_personality, personality, other, helper")
		require.Equal(t, hdr, ia.Frames.Hdr != nil)
		if hdr {
			require.Empty(t, ia.Frames.Hdr.Err)
			require.Equal(t, 7, ia.Frames.Hdr.Count)
		}
		for _, tc := range []struct {
			faults      fault.Set
			key, sym, a string
		}{
			{faults: 0},
			{faults: fault.Of(fault.LinkFDEPCBias), key: diff.KeyFrameFDE, sym: "twenty", a: "fde range 0xb"},
			{faults: fault.Of(fault.LinkEHFrameHdrUnsorted), key: diff.KeyFrameHdr, sym: ".eh_frame_hdr", a: ".eh_frame_hdr of 7 entries, right"},
		} {
			if tc.faults.Has(fault.LinkEHFrameHdrUnsorted) && !hdr {
				continue
			}
			t.Run(tc.faults.String(), func(t *testing.T) {
				image, _, err := elf.Link(objs, link.Options{Faults: tc.faults, EHFrameHdr: hdr})
				require.NoError(t, err)
				refExe := filepath.Join(work, "ref.out")
				require.NoError(t, os.WriteFile(refExe, image, 0o755))
				ib, err := readImage(refExe, objs)
				require.NoError(t, err)
				rep := diff.Compare(ia, ib, diff.Options{NameA: "lld", NameB: "ref"})
				if tc.key == "" {
					require.True(t, rep.Equal(), "%s", rep.Text())
					require.Equal(t, 42, runStatus(t, refExe))
					return
				}
				require.False(t, rep.Equal())
				found := false
				for _, d := range rep.Find(tc.key) {
					if d.Symbol == tc.sym {
						require.Contains(t, d.A, tc.a)
						found = true
					}
				}
				require.True(t, found, "%s", rep.Text())
				require.Equal(t, 42, runStatus(t, refExe), "the fault keeps every value")
				t.Logf("%s", rep.Text())
			})
		}
	}
}

// runStatus runs a native executable and returns its exit status.
func runStatus(t *testing.T, exe string) int {
	t.Helper()
	err := exec.Command(exe).Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}
