package fuzz

import (
	"path/filepath"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
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
			// Call frame information: .eh_frame and .eh_frame_hdr.
			ehPaths, _ := canontest.Assemble(f, dir, "../corpus/asm/elf/eh_frame/main.s", "../corpus/asm/elf/eh_frame/other.s")
			exe, _ = canontest.Link(f, ehPaths, filepath.Join(dir, "eh"), "--eh-frame-hdr")
			f.Add(exe, false)
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"), false)
	f.Fuzz(func(t *testing.T, exe []byte, withObjs bool) {
		canonReadsSafely(t, "canon.ReadELF", exe, withObjs, objs, canon.ReadELF)
	})
}

// FuzzCanonMachO is FuzzCanonELF for the Mach-O loader: seeds are the
// reference Mach-O linker's executables of corpus programs (no external
// tool needed), read with and without their input objects.
func FuzzCanonMachO(f *testing.F) { fuzzCanonOf(f, obj.MachO) }

// FuzzCanonPE is FuzzCanonELF for the PE loader, seeded with the reference
// PE linker's images of corpus programs.
func FuzzCanonPE(f *testing.F) { fuzzCanonOf(f, obj.COFF) }

// fuzzCanonOf fuzzes canon.Read on executables of format, seeded with
// reference links of two corpus programs in two units.
func fuzzCanonOf(f *testing.F, format obj.Format) {
	tg := target.MustLookup(format)
	var objs []*obj.Object
	for _, name := range []string{"data_pointers", "indirect_calls"} {
		m, err := pipeline.Load(filepath.Join("../corpus/programs", name+".lir"))
		if err != nil {
			f.Fatal(err)
		}
		in, err := tg.ReadBack(m, 2, target.CompileOptions{})
		if err != nil {
			f.Fatal(err)
		}
		exe, _, err := link.Link(in, tg.Platform, link.Options{})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := canon.Read(exe, in); err != nil {
			f.Fatalf("seed %s: canon cannot read the reference link: %v", name, err)
		}
		objs = in // the last program's objects, for withObjs
		f.Add(exe, true)
		f.Add(exe, false)
	}
	f.Fuzz(func(t *testing.T, exe []byte, withObjs bool) {
		canonReadsSafely(t, "canon.Read("+string(format)+")", exe, withObjs, objs, canon.Read)
	})
}

// canonReadsSafely reads exe with read (with objs when withObjs): an image
// or an error, allocation bounded by the input's size, and an image it
// returns renders and compares equal to itself.
func canonReadsSafely(t *testing.T, what string, exe []byte, withObjs bool, objs []*obj.Object, read func([]byte, []*obj.Object) (*canon.Image, error)) {
	var in []*obj.Object
	if withObjs {
		in = objs
	}
	im, err := boundedReadConst(t, what, len(exe), objPerByte, canonConst, func() (*canon.Image, error) { return read(exe, in) })
	if err != nil {
		return
	}
	_ = im.Text()
	if rep := diff.Compare(im, im, diff.Options{}); !rep.Equal() {
		t.Fatalf("image differs from itself:\n%s", rep.Text())
	}
}
