package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// LinkRef links object files with the reference linker of format f into
// out (atomically).
func LinkRef(f obj.Format, objs []string, out string) (*link.Layout, error) {
	t, err := target.Lookup(f)
	if err != nil {
		return nil, err
	}
	if err := t.Need(target.CanLink); err != nil {
		return nil, err
	}
	if !t.SelfContained() {
		if err := t.Need(target.CanRead); err != nil {
			return nil, err
		}
	}
	image, layout, err := t.Link(objs, link.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := WriteFiles(filepath.Dir(out), []string{filepath.Base(out)}, [][]byte{image}); err != nil {
		return nil, err
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return nil, err
	}
	return layout, nil
}

// DiffResult is a comparison of the reference link against lld.
type DiffResult struct {
	Report  *diff.Report
	LLDExe  string // the executables compared, in the work directory
	RefExe  string
	Objects []*obj.Object
}

// DiffLLD links the object files with ld.lld and with the reference linker
// in dir, reads both executables into canonical images (pointers located by
// the input objects' relocations) and compares them, lld as side A. It is
// DiffLinkers for those two linkers.
func DiffLLD(ctx context.Context, f obj.Format, objPaths []string, dir string, opts diff.Options) (*DiffResult, error) {
	a, err := linker.Lookup(linker.LLD)
	if err != nil {
		return nil, err
	}
	b, err := linker.Lookup(linker.Ref)
	if err != nil {
		return nil, err
	}
	res, err := DiffLinkers(ctx, f, a, b, objPaths, dir, opts)
	if err != nil {
		return nil, err
	}
	return &DiffResult{Report: res.Report, LLDExe: res.ExeA, RefExe: res.ExeB, Objects: res.Objects}, nil
}

func readImage(path string, objs []*obj.Object) (*canon.Image, error) {
	data, err := input.ReadFile(path, input.MaxObject)
	if err != nil {
		return nil, err
	}
	im, err := canon.Open(data, objs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// readWasmImage reads the linked Wasm module at path into a canonical
// image, its relocated fields located by the input objects.
func readWasmImage(path string, objs []*wasm.Object) (*canon.Image, error) {
	data, err := input.ReadFile(path, input.MaxObject)
	if err != nil {
		return nil, err
	}
	im, err := canon.ReadWasm(data, objs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}
