// Package pipeline strings linkcheck's pieces together into the end-to-end
// path every check is built on: a .lir program is checked and interpreted
// (the expected value), compiled by the reference code generator into
// relocatable objects of a format, linked (by lld or the reference linker),
// and run by an execution oracle whose value must equal the interpreter's.
//
// The command line and the end-to-end tests use it, so that both exercise
// exactly the same path.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// Load reads and checks a .lir file.
func Load(path string) (*ir.Module, error) {
	src, err := input.ReadFile(path, input.MaxProgram)
	if err != nil {
		return nil, err
	}
	return ir.Parse(path, src)
}

// Expected is the interpreter's value for m: what every executable built
// from m must compute.
func Expected(m *ir.Module) (uint64, error) {
	return ir.Interp(m, ir.InterpOptions{})
}

// ObjectExt is the file name extension of relocatable objects of a format.
func ObjectExt(f obj.Format) string { return target.MustLookup(f).ObjectExt }

// ExeName is a conventional executable name for a format.
func ExeName(f obj.Format) string { return target.MustLookup(f).ExeName }

// UnitName is the file name of unit u's object.
func UnitName(f obj.Format, u int) string { return target.MustLookup(f).UnitName(u) }

// MaxUnits bounds -units: more objects than that only measure the file
// system.
const MaxUnits = 10000

// Objects compiles m into units objects of format f, serialized, in unit
// order, with their file names.
func Objects(m *ir.Module, f obj.Format, units int) (names []string, files [][]byte, err error) {
	return ObjectsWith(m, f, units, target.CompileOptions{})
}

// ObjectsWith is Objects with compile options (the got policy's calls,
// fault injection).
func ObjectsWith(m *ir.Module, f obj.Format, units int, opts target.CompileOptions) (names []string, files [][]byte, err error) {
	if units > MaxUnits {
		return nil, nil, fmt.Errorf("-units %d: at most %d", units, MaxUnits)
	}
	t, err := target.Lookup(f)
	if err != nil {
		return nil, nil, err
	}
	if err := t.Need(target.CanCompile); err != nil {
		return nil, nil, err
	}
	return t.Objects(m, units, opts)
}

// ErrOutputPath is wrapped when an output would replace something that is
// not a regular file (a directory given as -o): bad usage, nothing written.
var ErrOutputPath = errors.New("is not a regular file: give the path of a file to write")

// WriteFiles writes files into dir all or nothing: each goes to a temporary
// file first and the set is renamed into place only when every write
// succeeded. It returns the final paths.
func WriteFiles(dir string, names []string, files [][]byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, n := range names {
		if fi, err := os.Lstat(filepath.Join(dir, n)); err == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, n), ErrOutputPath)
		}
	}
	var tmps []string
	cleanup := func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	for i, data := range files {
		f, err := os.CreateTemp(dir, ".tmp-"+names[i]+"-*")
		if err != nil {
			cleanup()
			return nil, err
		}
		tmps = append(tmps, f.Name())
		_, werr := f.Write(data)
		cerr := f.Close()
		if werr != nil || cerr != nil {
			cleanup()
			return nil, fmt.Errorf("writing %s: %v", names[i], firstErr(werr, cerr))
		}
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
		if err := os.Rename(tmps[i], paths[i]); err != nil {
			cleanup()
			return nil, err
		}
	}
	return paths, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// BuildDir compiles m into objects written in dir and returns their paths.
func BuildDir(m *ir.Module, f obj.Format, units int, dir string) ([]string, error) {
	names, files, err := Objects(m, f, units)
	if err != nil {
		return nil, err
	}
	return WriteFiles(dir, names, files)
}

// BuildDirWith is BuildDir with compile options (the got policy's calls,
// an object-level Rewrite such as Disguise's).
func BuildDirWith(m *ir.Module, f obj.Format, units int, dir string, opts target.CompileOptions) ([]string, error) {
	names, files, err := ObjectsWith(m, f, units, opts)
	if err != nil {
		return nil, err
	}
	return WriteFiles(dir, names, files)
}

// Disguise returns a target.CompileOptions Rewrite of the objects that
// keeps the program's meaning but gives the linkers what the .lir language
// cannot express, seeded: obj.ShadowLocals (in every object with a
// candidate, a local function renamed to a global of another unit), then
// obj.AbsoluteData (in every object with an integer global, one of them
// given its value by an absolute symbol of the next unit). What it did is
// appended to *log when log is not nil, for failure messages. The
// full-link comparisons against lld use it; the incremental linker, which
// keys atoms by name, does not.
func Disguise(seed int64, log *[]string) func([]*obj.Object) {
	return func(objs []*obj.Object) {
		done := obj.ShadowLocals(objs, seed)
		done = append(done, obj.AbsoluteData(objs, seed)...)
		if log != nil {
			*log = append(*log, done...)
		}
	}
}

// LinkLLD links objects with the lld of format f into out. The executable is
// written to a temporary name and renamed into place only on success.
func LinkLLD(ctx context.Context, f obj.Format, objs []string, out string) (*lld.Result, error) {
	tmp := filepath.Join(filepath.Dir(out), ".tmp-"+filepath.Base(out))
	res, err := lld.Link(ctx, f, objs, tmp, lld.Options{})
	if err != nil {
		os.Remove(tmp)
		return res, err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return res, err
	}
	return res, nil
}

// Mismatch is a wrong value from an execution oracle.
type Mismatch struct {
	Oracle   exec.Mode
	Path     string
	Expected uint64
	Got      *exec.Result
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("%s: %s computed %s, the interpreter says %#x (%d)", m.Path, m.Oracle, m.Got, m.Expected, m.Expected)
}

// RunAll runs the executable at path under every oracle that applies to
// format f and compares each value with expected. It returns one result per
// oracle, and an error listing every oracle that crashed or disagreed.
func RunAll(ctx context.Context, r *exec.Runner, f obj.Format, path string, expected uint64) ([]*exec.Result, error) {
	var results []*exec.Result
	var errs []string
	for _, mode := range exec.Oracles(f) {
		res, err := r.Run(ctx, path, exec.Options{Mode: mode})
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", mode, err))
			continue
		}
		results = append(results, res)
		if !res.Matches(expected) {
			errs = append(errs, (&Mismatch{Oracle: mode, Path: path, Expected: expected, Got: res}).Error())
		}
	}
	if len(errs) > 0 {
		return results, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return results, nil
}
