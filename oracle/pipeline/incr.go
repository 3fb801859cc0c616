package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/invariant"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// CompileIncr compiles m for format f as the incremental linker's policy
// wants it.
func CompileIncr(m *ir.Module, f obj.Format, policy incr.Policy, faults fault.Set) (*obj.Program, error) {
	t, err := target.Lookup(f)
	if err != nil {
		return nil, err
	}
	if err := t.Need(target.CanIncr); err != nil {
		return nil, err
	}
	return t.Compile(m, target.CompileOptions{CallsViaGOT: policy == incr.ThroughGOT, Faults: faults})
}

// UpdateResult says what `linkcheck update` did.
type UpdateResult struct {
	// Relinked is set when the output was linked from scratch; Reason says
	// why (first link, or a stale sidecar).
	Relinked bool
	Reason   string
	Stats    incr.Stats
	// Grown lists the regions whose capacity an in-place update doubled
	// (the regions after them, and the headers, moved in the file), each
	// with its new capacity.
	Grown []GrownRegion
}

// GrownRegion is a region that an update made larger.
type GrownRegion struct {
	Name string
	Cap  uint64
}

// Update links m into the incremental output of format f at path: in
// place when its sidecar describes it, else from scratch (a first link, or
// a stale or corrupt sidecar — never a broken file).
func Update(path string, f obj.Format, m *ir.Module, source string, policy incr.Policy) (*UpdateResult, error) {
	return UpdateWith(path, f, m, source, policy, 0)
}

// UpdateWith is Update with deliberate defects planted in the compile and
// in an in-place update (fault injection, tests only; a link from scratch
// has no previous layout to get wrong).
func UpdateWith(path string, f obj.Format, m *ir.Module, source string, policy incr.Policy, faults fault.Set) (*UpdateResult, error) {
	p, err := CompileIncr(m, f, policy, faults)
	if err != nil {
		return nil, err
	}
	img := target.MustLookup(f).Image
	o, err := incr.Open(path, img, incr.Options{Policy: policy, Faults: faults})
	if err == nil {
		defer o.Close()
		pt, err := o.Update(p, source)
		if err != nil {
			return nil, err
		}
		res := &UpdateResult{Stats: pt.Stats}
		for _, n := range pt.Grown {
			res.Grown = append(res.Grown, GrownRegion{n, o.State.Regions[n].Cap})
		}
		return res, nil
	}
	if !errors.Is(err, incr.ErrStale) {
		return nil, err
	}
	reason := "first link"
	if _, statErr := os.Stat(path); statErr == nil {
		reason = err.Error()
	}
	o, err = incr.Create(path, img, p, source, incr.Options{Policy: policy})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return &UpdateResult{Relinked: true, Reason: reason, Stats: o.Last}, nil
}

// IncrCheck says which checks CheckIncremental runs.
type IncrCheck struct {
	// Format is the output's format ("" means ELF).
	Format obj.Format
	Policy incr.Policy
	// Runner and Mode run the output (invariant 1); a nil Runner skips it.
	Runner *exec.Runner
	Mode   exec.Mode
	// LLVM runs llvm-readobj and llvm-objdump over the file (invariant 8),
	// through Tools when it is set.
	LLVM  bool
	Tools *toolsrv.Pool
	// Fresh compares the canonical image with a fresh reference link of
	// the same version (invariant 2), linked in Dir.
	Fresh bool
	Dir   string
}

func (c IncrCheck) format() obj.Format {
	if c.Format == "" {
		return obj.ELF
	}
	return c.Format
}

// CheckIncremental checks the incremental output at path against version
// m: every invariant of DESIGN.md that the options select. The error lists
// every violation, each naming its invariant.
func CheckIncremental(ctx context.Context, path string, m *ir.Module, c IncrCheck) error {
	data, err := input.ReadFile(path, input.MaxObject)
	if err != nil {
		return err
	}
	var problems []string
	if err := invariant.Check(data, m, invariant.Options{Format: c.format(), CallsViaGOT: c.Policy == incr.ThroughGOT}); err != nil {
		problems = append(problems, err.Error())
	}
	if c.LLVM {
		if err := invariant.CheckLLVMWith(c.Tools, path); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if c.Runner != nil {
		want, err := Expected(m)
		if err != nil {
			return fmt.Errorf("the interpreter cannot evaluate the version: %w", err)
		}
		if p := checkValue(ctx, c.Runner, c.Mode, path, want); p != "" {
			problems = append(problems, p)
		}
	}
	if c.Fresh {
		rep, err := FreshDiff(data, c.format(), m, c.Policy, c.Dir)
		if err != nil {
			return err
		}
		if !rep.Equal() {
			problems = append(problems, "invariant 2 (fresh link): the canonical image differs from a fresh link's:\n"+rep.Text())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// FreshDiff compares the canonical image of an incremental output of format
// f with that of a fresh reference link of the same version (the fresh link
// is side A). Trampolines and GOT indirections are seen through by the
// canonical image.
func FreshDiff(incrExe []byte, f obj.Format, m *ir.Module, policy incr.Policy, dir string) (*diff.Report, error) {
	t, err := target.Lookup(f)
	if err != nil {
		return nil, err
	}
	if err := t.Need(target.CanLink); err != nil {
		return nil, err
	}
	if f == obj.Wasm {
		return wasmFreshDiff(m, incrExe, freshOptions{keepDir: dir})
	}
	p, err := CompileIncr(m, f, policy, 0)
	if err != nil {
		return nil, err
	}
	return freshDiff(t, p, m, incrExe, freshOptions{keepDir: dir})
}

// WasmIncrObjects is the one-unit object of version m that an incremental
// Wasm module is compared with a link of: ref/wasmgen's, with every
// definition NO_STRIP and every data segment RETAIN (as
// `__attribute__((used, retain))`); local functions are made global (hidden)
// for it, since only global symbols are roots of liveness, and both images
// of a comparison read their bindings from these objects. The incremental linker keeps every
// atom — a datum no live code reaches in this version may be reached in
// the next — and a link of these objects keeps them too, where
// --gc-sections would drop them, and with them the table slots of the
// functions whose addresses they hold.
func WasmIncrObjects(m *ir.Module) ([]*wasm.Object, error) {
	return wasmIncrObjects(m, nil)
}

// wasmIncrObjects is WasmIncrObjects compiling with c (a compiler of the
// sequence's versions, which lowers again only the functions that changed
// since its last version) when it is not nil.
func wasmIncrObjects(m *ir.Module, c *wasmgen.Compiler) ([]*wasm.Object, error) {
	if c == nil {
		c = wasmgen.NewCompiler(wasmgen.Options{})
	}
	p, err := c.Compile(m)
	if err != nil {
		return nil, err
	}
	objs, err := p.Objects(ir.Partition(m, 1), 1, target.MustLookup(obj.Wasm).UnitName)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		for i := range o.Symbols {
			s := &o.Symbols[i]
			if s.Undefined() || s.Kind != wasm.SymFunction && s.Kind != wasm.SymData {
				continue
			}
			if s.Local() {
				// only global symbols are roots of a link's liveness;
				// in the one unit the name is the program's own
				s.Flags = s.Flags&^wasm.SymBindingLocal | wasm.SymVisibilityHidden
			}
			s.Flags |= wasm.SymNoStrip
		}
		for i := range o.Segments {
			o.Segments[i].Flags |= wasm.SegmentRetain
		}
	}
	return objs, nil
}

// wasmFreshDiff is freshDiff for Wasm: the version's one-unit object
// (WasmIncrObjects), linked by ref/wasm's linker, and both modules'
// canonical images read with that object, without the layout
// (canon.WasmOptions.NoLayout).
func wasmFreshDiff(m *ir.Module, incrExe []byte, o freshOptions) (*diff.Report, error) {
	objs, err := wasmIncrObjects(m, o.wasmc)
	if err != nil {
		return nil, err
	}
	fresh, err := wasm.Link(objs, wasm.LinkOptions{Faults: o.faults})
	if err != nil {
		return nil, fmt.Errorf("fresh link: %w", err)
	}
	if o.keepDir != "" {
		if err := os.WriteFile(filepath.Join(o.keepDir, "fresh.wasm"), fresh.Module, 0o644); err != nil {
			return nil, err
		}
	}
	a, err := canon.ReadWasmWith(fresh.Module, objs, canon.WasmOptions{NoLayout: true})
	if err != nil {
		return nil, fmt.Errorf("fresh link: %w", err)
	}
	b, err := canon.ReadWasmWith(incrExe, objs, canon.WasmOptions{NoLayout: true})
	if err != nil {
		return nil, fmt.Errorf("incremental output: %w", err)
	}
	return diff.Compare(a, b, diff.Options{NameA: "fresh", NameB: "incr", Cache: o.cache}), nil
}

// freshOptions tune freshDiff.
type freshOptions struct {
	faults  fault.Set          // planted in the fresh link (fault tests)
	cache   *canon.DecodeCache // decodings kept across a sequence's diffs
	keepDir string             // where fresh.out is written, "" for nowhere
	wasmc   *wasmgen.Compiler  // the sequence's Wasm compiler of fresh links (nil: a new one)
}

// freshDiff links the compiled version p from scratch with the reference
// linker of t and compares its canonical image with the incremental
// output's (the fresh link is side A).
func freshDiff(t *target.Target, p *obj.Program, m *ir.Module, incrExe []byte, o freshOptions) (*diff.Report, error) {
	objs, err := obj.Objects(p, ir.Partition(m, 1), 1, t.UnitName)
	if err != nil {
		return nil, err
	}
	fresh, _, err := link.Link(objs, t.Platform, link.Options{Faults: o.faults})
	if err != nil {
		return nil, fmt.Errorf("fresh link: %w", err)
	}
	if o.keepDir != "" {
		if err := os.WriteFile(filepath.Join(o.keepDir, "fresh.out"), fresh, 0o755); err != nil {
			return nil, err
		}
	}
	a, err := canon.Open(fresh, objs)
	if err != nil {
		return nil, fmt.Errorf("fresh link: %w", err)
	}
	b, err := canon.Open(incrExe, objs)
	if err != nil {
		return nil, fmt.Errorf("incremental output: %w", err)
	}
	return diff.Compare(a, b, diff.Options{NameA: "fresh", NameB: "incr", Cache: o.cache}), nil
}

// checkValue runs the executable at path and compares its value with the
// interpreter's; it returns the invariant-1 problem, or "".
func checkValue(ctx context.Context, r *exec.Runner, mode exec.Mode, path string, want uint64) string {
	if mode == "" {
		mode = exec.Auto
	}
	got, err := r.Run(ctx, path, exec.Options{Mode: mode})
	return valueProblem(got, err, want)
}

// valueProblem is the invariant-1 problem of a run's result, or "".
func valueProblem(got *exec.Result, err error, want uint64) string {
	switch {
	case err != nil:
		return fmt.Sprintf("invariant 1 (value): %v", err)
	case !got.Matches(want):
		return fmt.Sprintf("invariant 1 (value): the output computes %s, the interpreter says %d", got, want)
	}
	return ""
}
