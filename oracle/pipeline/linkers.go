package pipeline

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// LinkersResult is a comparison of two linkers' outputs of the same
// objects.
type LinkersResult struct {
	Report *diff.Report
	// A and B are the linkers, A the reference side (symbol.missing means
	// in A's output, not in B's).
	A, B *linker.Linker
	// ExeA and ExeB are the executables compared, in the work directory.
	ExeA, ExeB string
	// ResA and ResB are the links (command line, stderr, time).
	ResA, ResB *linker.Result
	// Objects are the input objects, read (canon locates pointers by
	// their relocations).
	Objects []*obj.Object
}

// LinkerError is a link by one side of a comparison that failed: the
// linker is named and the error holds its stderr and command line.
type LinkerError struct {
	Linker string
	Result *linker.Result
	Err    error
}

func (e *LinkerError) Error() string { return e.Err.Error() }
func (e *LinkerError) Unwrap() error { return e.Err }

// DiffLinkers links the object files with linkers a and b in dir, reads
// both executables into canonical images (pointers located by the input
// objects' relocations) and compares them, a as side A. opts is used as
// given: add the linkers' own rules with Rules. Empty NameA and NameB
// become the linkers' names. A link that fails is a *LinkerError.
func DiffLinkers(ctx context.Context, f obj.Format, a, b *linker.Linker, objPaths []string, dir string, opts diff.Options) (*LinkersResult, error) {
	t, err := target.Lookup(f)
	if err != nil {
		return nil, err
	}
	if err := t.Need(target.CanRead); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	for _, l := range []*linker.Linker{a, b} {
		if err := l.Supports(f); err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
	}
	objs, err := link.ReadObjectFiles(objPaths, t.ReadObject)
	if err != nil {
		return nil, err
	}
	nameA, nameB := exeStem(a), exeStem(b)
	if nameA == nameB {
		nameA, nameB = nameA+"-a", nameB+"-b"
	}
	res := &LinkersResult{A: a, B: b, Objects: objs,
		ExeA: filepath.Join(dir, nameA+"."+t.ExeName), ExeB: filepath.Join(dir, nameB+"."+t.ExeName)}
	if res.ResA, err = a.Link(ctx, f, objPaths, res.ExeA, linker.Options{}); err != nil {
		return nil, &LinkerError{Linker: a.Name, Result: res.ResA, Err: err}
	}
	if res.ResB, err = b.Link(ctx, f, objPaths, res.ExeB, linker.Options{}); err != nil {
		return nil, &LinkerError{Linker: b.Name, Result: res.ResB, Err: err}
	}
	ia, err := readImage(res.ExeA, objs)
	if err != nil {
		return nil, err
	}
	ib, err := readImage(res.ExeB, objs)
	if err != nil {
		return nil, err
	}
	if opts.NameA == "" {
		opts.NameA = a.Name
	}
	if opts.NameB == "" {
		opts.NameB = b.Name
	}
	res.Report = diff.Compare(ia, ib, opts)
	return res, nil
}

// Rules returns the diff rules that apply when the linkers are compared:
// the union of their own rules, then extra, without repeats, in order.
func Rules(a, b *linker.Linker, extra ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{a.Rules, b.Rules, extra} {
		for _, r := range list {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// exeStem is a file-name-safe stem for a linker's output.
func exeStem(l *linker.Linker) string {
	if l.IsCommand() {
		return "cmd"
	}
	return l.Name
}
