package fuzz

import (
	"path/filepath"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// FuzzCanonELF feeds arbitrary bytes to the canonical reader of
// executables, which reads untrusted files: it must return an image or an
// error, never panic or run unbounded, and an image it returns must render
// and compare equal to itself. Seeds are real ld.lld links (relaxed, with
// a GOT, with --emit-relocs) of the canon test programs when the tools are
// installed.
func FuzzCanonELF(f *testing.F) {
	var objs []*obj.Object
	if _, err := tools.Find("llvm-mc"); err == nil {
		if _, err := tools.Find("ld.lld"); err == nil {
			dir := f.TempDir()
			var paths []string
			paths, objs = canontest.Assemble(f, dir, "../oracle/canon/testdata/a.s", "../oracle/canon/testdata/b.s")
			for i, extra := range [][]string{nil, {"--no-relax"}, {"--emit-relocs"}} {
				exe, _ := canontest.Link(f, paths, filepath.Join(dir, "out"+string(rune('0'+i))), extra...)
				f.Add(exe, true)
				f.Add(exe, false)
			}
			// Thread-local storage (PT_TLS, STT_TLS symbols, tpoff operands).
			tlsPaths, _ := canontest.Assemble(f, dir, "../corpus/asm/elf/tls/main.s", "../corpus/asm/elf/tls/tls.s")
			exe, _ := canontest.Link(f, tlsPaths, filepath.Join(dir, "tls"))
			f.Add(exe, false)
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"), false)
	f.Fuzz(func(t *testing.T, exe []byte, withObjs bool) {
		var in []*obj.Object
		if withObjs {
			in = objs
		}
		im, err := boundedReadConst(t, "canon.ReadELF", len(exe), objPerByte, canonConst, func() (*canon.Image, error) { return canon.ReadELF(exe, in) })
		if err != nil {
			return
		}
		_ = im.Text()
		if rep := diff.Compare(im, im, diff.Options{}); !rep.Equal() {
			t.Fatalf("image differs from itself:\n%s", rep.Text())
		}
	})
}
