package canon_test

import (
	"bytes"
	"debug/elf"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/oracle/tools"
)

// TestFramesSurviveCorruption reads ld.lld's --eh-frame-hdr link of
// corpus/asm/elf/eh_frame: seven FDEs, one per function, and a right
// search table; then every byte of .eh_frame and .eh_frame_hdr is
// overwritten in turn with 0x00, 0x80 and 0xff, and each file must read
// to an image (which renders) or an error, never a panic. A corrupted
// search table is reported, not silently accepted.
func TestFramesSurviveCorruption(t *testing.T) {
	tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	paths, objs := canontest.Assemble(t, dir, "../../corpus/asm/elf/eh_frame/main.s", "../../corpus/asm/elf/eh_frame/other.s")
	exe, _ := canontest.Link(t, paths, filepath.Join(dir, "out"), "--eh-frame-hdr")
	im, err := canon.ReadELF(exe, objs)
	require.NoError(t, err)
	require.NotNil(t, im.Frames)
	require.Len(t, im.Frames.FDEs, 7)
	require.Empty(t, im.Frames.Err)
	require.NotNil(t, im.Frames.Hdr)
	require.Empty(t, im.Frames.Hdr.Err)
	require.Equal(t, 7, im.Frames.Hdr.Count)
	ef, err := elf.NewFile(bytes.NewReader(exe))
	require.NoError(t, err)
	hdr := ef.Section(".eh_frame_hdr")
	require.NotNil(t, hdr)
	caught := 0
	for _, name := range []string{".eh_frame", ".eh_frame_hdr"} {
		sec := ef.Section(name)
		require.NotNil(t, sec)
		for off := sec.Offset; off < sec.Offset+sec.Size; off++ {
			for _, v := range []byte{0x00, 0x80, 0xff} {
				if exe[off] == v {
					continue
				}
				bad := append([]byte(nil), exe...)
				bad[off] = v
				got, err := canon.ReadELF(bad, objs)
				if err != nil {
					continue
				}
				_ = got.Text()
				if name == ".eh_frame_hdr" && off >= hdr.Offset+12 && got.Frames != nil && got.Frames.Hdr != nil && got.Frames.Hdr.Err != "" {
					caught++
				}
			}
		}
	}
	// Every table byte changed to another value breaks an entry.
	require.Equal(t, 3*8*7, caught+skipped(exe, hdr))
}

// skipped counts the table bytes that already hold one of the values
// tried (those trials are skipped).
func skipped(exe []byte, hdr *elf.Section) int {
	n := 0
	for off := hdr.Offset + 12; off < hdr.Offset+hdr.Size; off++ {
		switch exe[off] {
		case 0x00, 0x80, 0xff:
			n++
		}
	}
	return n
}
