package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/invariant"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// Tiers choose which checks a Session runs after which update: the cheap
// ones always, the dear ones every Every-th update and after the last, as
// the fuzz targets and `linkcheck bench check` run them (docs/incremental.md,
// "Tiered checks").
type Tiers struct {
	// Every runs execution (invariant 1) and the fresh-link diff
	// (invariant 2) after every Every-th update and after the last; 1
	// means after every update and the first link, 0 never (invariants 3
	// to 7 still run after every update). With Every > 1 the first link
	// gets invariants 3 to 7 only: a defect it leaves is still there at
	// the Every-th update unless an update repaired it, and the replay of
	// a failing sequence with FullTiers names the first link when it was
	// the bad one. A sequence without updates calls CheckFull.
	Every int
}

// FullTiers runs every check after every update.
var FullTiers = Tiers{Every: 1}

// FuzzTiers is the fuzz targets' mix: invariants 3 to 7 after every update,
// execution and the fresh-link diff after every 4th and after the last.
var FuzzTiers = Tiers{Every: 4}

// FuzzModes are the execution oracles of the fuzz targets and `linkcheck
// bench check` for format f: mode on the intermediate full checks, last
// (when set) on a sequence's last update (SessionOptions.Mode and
// LastMode). ELF runs natively; Mach-O and PE under unicorn (on the
// engines an exec.Runner keeps between runs); Wasm under wazero's
// interpreter (about 1 ms a run, against 18 ms for its compiler, most of
// it compiling) and its compiler on the last. ELF under unicorn was
// measured and is not cheaper: a run of an updated output costs about 2
// ms of translation and emulation, a native run about 1 ms.
func FuzzModes(f obj.Format) (mode, last exec.Mode) {
	switch f {
	case obj.MachO, obj.COFF:
		return exec.Unicorn, ""
	case obj.Wasm:
		return exec.WazeroInterp, exec.Wazero
	}
	return exec.Native, ""
}

// Session is an incremental output held in memory and checked after every
// update: the in-process loop of the fuzz targets and benchmarks. Each
// version is compiled once and shared by the update, the invariant check
// and the fresh link; its value is interpreted once, when a check runs it.
// Nothing is synced to disk; the executable is written to a file only to
// run it natively.
type Session struct {
	SessionOptions

	t *target.Target
	// compile and compileClean compile successive versions, relowering
	// only what changed; compileClean is nil unless a fault changes the
	// code generator's output, which the checkers must not share.
	compileLinked, compileClean func(*ir.Module) (*obj.Program, error)
	// wasmc compiles the versions of a Wasm sequence for its fresh links.
	wasmc *wasmgen.Compiler
	// interp interprets the versions, keeping their unchanged functions.
	interp ir.Interpreter

	out  *incr.Output
	step int
	// cur is the version the output holds (CheckFull).
	cur *version
	// Checked counts the updates checked, and Full the full checks (with
	// execution and the fresh-link diff) among them.
	Checked, Full int
}

// SessionOptions configure a Session.
type SessionOptions struct {
	Format obj.Format
	Policy incr.Policy
	// Runner runs the output (invariant 1); nil skips execution.
	Runner *exec.Runner
	// Tools runs LLVM's tools for CheckLLVM (invariant 8) through its
	// fork servers; nil starts each tool as a process of its own.
	Tools *toolsrv.Pool
	Mode  exec.Mode
	// LastMode, when set, runs the output of the sequence's last update
	// (Update with last set) instead of Mode (see FuzzModes).
	LastMode exec.Mode
	Tiers    Tiers
	// Dir holds, when Keep is set, fresh.out, the fresh link of the last
	// full check, and the files of the checks that write some when there
	// is no Runner (with a Runner, the executable of a native run and the
	// sidecar round trip's files go to its scratch directory and are
	// removed after the check); LLVM's tools read the output from Dir.
	Dir  string
	Keep bool
	// Faults are planted in every compile and in the updates after the
	// first link (fault-injection tests).
	Faults fault.Set
}

// version is one compiled version of a session.
type version struct {
	m *ir.Module
	// prog is what the linker links; clean is what the checker checks
	// against (the same program unless a fault changes the compile).
	prog, clean *obj.Program
	// value is the interpreter's value of m when the caller gave it.
	value *uint64
}

// compile compiles m once for the linker, and again cleanly for the
// checkers only when a fault changes the code generator's output.
func (s *Session) compile(m *ir.Module) (*version, error) {
	if s.compileLinked == nil {
		opts := target.CompileOptions{CallsViaGOT: s.Policy == incr.ThroughGOT, Faults: s.Faults}
		s.compileLinked = s.t.NewCompiler(opts)
		if s.Faults.Has(fault.SeedErrTab) || s.Faults.Has(fault.WasmErrLenOffByOne) || s.Faults.Has(fault.WasmWrongCallSymbol) ||
			s.Faults.Has(fault.WasmTableIndexOffByOne) || s.Faults.Has(fault.WasmUnpaddedLEB) {
			opts.Faults = 0
			s.compileClean = s.t.NewCompiler(opts)
		}
	}
	p, err := s.compileLinked(m)
	if err != nil {
		return nil, err
	}
	v := &version{m: m, prog: p, clean: p}
	if s.compileClean != nil {
		if v.clean, err = s.compileClean(m); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// NewSession links the first version m from scratch into an output in
// memory and checks it: with invariants 3 to 7, and with every check when
// the tiers run them after every update (Tiers.Every == 1).
func NewSession(ctx context.Context, m *ir.Module, o SessionOptions) (*Session, error) {
	if o.Format == "" {
		o.Format = obj.ELF
	}
	if o.Policy == "" {
		o.Policy = incr.Trampoline
	}
	t, err := target.Lookup(o.Format)
	if err != nil {
		return nil, err
	}
	if err := firstErr(t.Need(target.CanIncr), t.Need(target.CanLink)); err != nil {
		return nil, err
	}
	s := &Session{SessionOptions: o, t: t}
	v, err := s.compile(m)
	if err != nil {
		return nil, err
	}
	s.out, err = incr.NewMemOutput(t.Image, v.prog, "", incr.Options{Policy: o.Policy, Faults: o.Faults})
	if err != nil {
		return nil, err
	}
	s.Checked++
	return s, s.check(ctx, v, o.Tiers.Every == 1, s.modeOf(false))
}

// CheckFull runs every check (but LLVM's tools and the sidecar round trip)
// on the output as it is, running it in LastMode when that is set: for a
// sequence whose first link is also its last version. It counts in Full,
// not again in Checked.
func (s *Session) CheckFull(ctx context.Context) error {
	return s.check(ctx, s.cur, true, s.modeOf(true))
}

// modeOf is the run mode of a check, of the sequence's last version when
// last is set.
func (s *Session) modeOf(last bool) exec.Mode {
	if last && s.LastMode != "" {
		return s.LastMode
	}
	return s.Mode
}

// Update brings the output to version m in place and checks it: the
// invariants after every update, execution and the fresh-link diff at the
// tiers' interval or when last is set (the sequence's last update).
func (s *Session) Update(ctx context.Context, m *ir.Module, last bool) (*incr.Patch, error) {
	return s.update(ctx, m, nil, last)
}

// UpdateKnown is Update of a version whose value the caller has from the
// interpreter already (the fuzz targets interpret every version as they
// filter their edits): a check that runs the output compares with value
// instead of interpreting m again.
func (s *Session) UpdateKnown(ctx context.Context, m *ir.Module, value uint64, last bool) (*incr.Patch, error) {
	return s.update(ctx, m, &value, last)
}

func (s *Session) update(ctx context.Context, m *ir.Module, value *uint64, last bool) (*incr.Patch, error) {
	v, err := s.compile(m)
	if err != nil {
		return nil, err
	}
	v.value = value
	pt, err := s.out.Update(v.prog, "")
	if err != nil {
		return nil, err
	}
	s.step++
	s.Checked++
	full := last || (s.Tiers.Every > 0 && s.step%s.Tiers.Every == 0)
	return pt, s.check(ctx, v, full, s.modeOf(last))
}

// Bytes returns the output's current contents.
func (s *Session) Bytes() []byte { return s.out.Bytes() }

// State returns the incremental state.
func (s *Session) State() *incr.State { return s.out.State }

// check runs invariants 3 to 7 and, when full, execution (in mode) and
// the fresh-link diff. The error lists every violation, each naming its
// invariant.
func (s *Session) check(ctx context.Context, v *version, full bool, mode exec.Mode) error {
	s.cur = v
	exe := s.out.Bytes()
	var problems []string
	if err := invariant.CheckProgram(exe, v.clean, v.m, invariant.Options{Format: s.Format, CallsViaGOT: s.Policy == incr.ThroughGOT}); err != nil {
		problems = append(problems, err.Error())
	}
	if full {
		s.Full++
		if s.Runner != nil {
			if p := s.run(ctx, exe, v, mode); p != "" {
				problems = append(problems, p)
			}
		}
		rep, err := s.freshDiff(exe, v)
		if err != nil {
			if len(problems) > 0 {
				// What the invariants found comes first: a file canon
				// cannot read has usually broken one of them.
				return fmt.Errorf("%s\n%w", strings.Join(problems, "\n"), err)
			}
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

// run executes the output and compares its value with the interpreter's.
func (s *Session) run(ctx context.Context, exe []byte, v *version, mode exec.Mode) string {
	// Only the updates that run the output need the interpreter's value.
	var value uint64
	if v.value != nil {
		value = *v.value
	} else {
		var err error
		if value, err = s.interp.Interp(v.m, ir.InterpOptions{}); err != nil {
			return fmt.Sprintf("the interpreter cannot evaluate the version: %v", err)
		}
	}
	if mode == "" {
		mode = exec.Auto
	}
	got, err := s.Runner.RunBytes(ctx, "session."+s.t.ExeName, exe, exec.Options{Mode: mode})
	return valueProblem(got, err, value)
}

// freshCaches lend the fresh-link diffs their decode caches, one diff at
// a time. What a cache holds are hints, which never change a result
// (canon.DecodeCache), so the sequences of a process share them: a
// sequence's check finds there the functions of its previous check (the
// sequences of a fuzz worker or a benchmark run one after the other),
// and a new sequence does not decode its first check into buffers of its
// own. A cache keeps at most 1<<17 instructions (about 40 MB).
var freshCaches = sync.Pool{New: func() any { return canon.NewDecodeCache(1 << 17) }}

// freshDiff compares the output's canonical image with a fresh reference
// link of the same compiled version.
func (s *Session) freshDiff(exe []byte, v *version) (*diff.Report, error) {
	cache := freshCaches.Get().(*canon.DecodeCache)
	defer freshCaches.Put(cache)
	o := freshOptions{faults: s.Faults, cache: cache}
	if s.Keep {
		o.keepDir = s.Dir
	}
	if s.Format == obj.Wasm {
		if s.wasmc == nil {
			s.wasmc = wasmgen.NewCompiler(wasmgen.Options{})
		}
		o.wasmc = s.wasmc
		return wasmFreshDiff(v.m, exe, o)
	}
	return freshDiff(s.t, v.clean, v.m, exe, o)
}

// CheckLLVM runs LLVM's tools over the output (invariant 8), written to
// Dir.
func (s *Session) CheckLLVM() error {
	path := filepath.Join(s.Dir, "llvm."+s.t.ExeName)
	if err := os.WriteFile(path, s.out.Bytes(), 0o755); err != nil {
		return err
	}
	return invariant.CheckLLVMWith(s.Tools, path)
}

// CheckSidecar saves the output and its sidecar to Dir (to a directory of
// the runner's scratch directory, removed after, when there is a runner),
// opens them again
// as `linkcheck update` would, and checks that the reloaded state and file
// are the session's: the sidecar round trip, once per sequence.
func (s *Session) CheckSidecar() error {
	dir := s.Dir
	if s.Runner != nil {
		// The round trip's files are removed after it: in the runner's
		// scratch directory, on a RAM file system where there is one,
		// the fsync of the sidecar is not a disk's.
		d, err := s.Runner.ScratchDir()
		if err != nil {
			return err
		}
		if dir, err = os.MkdirTemp(d, "sidecar-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	path := filepath.Join(dir, "sidecar."+s.t.ExeName)
	// a is the session's state as the sidecar holds it (incr.EncodeState,
	// json.Marshal's bytes).
	a, err := s.out.SaveAsState(path)
	if err != nil {
		return fmt.Errorf("sidecar: save: %w", err)
	}
	o, err := incr.Open(path, s.t.Image, incr.Options{Policy: s.Policy})
	if err != nil {
		return fmt.Errorf("sidecar: the saved output does not reopen: %w", err)
	}
	defer o.Close()
	if b := incr.EncodeState(o.State); string(a) != string(b) {
		return errors.New("sidecar: the reloaded state differs from the session's")
	}
	same, err := sameContents(path, s.out.Bytes())
	if err != nil {
		return err
	}
	if !same {
		return errors.New("sidecar: the saved output differs from the session's")
	}
	return nil
}

// sameContents reports whether the file at path holds exactly want,
// reading it a piece at a time.
func sameContents(path string, want []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := io.ReadFull(f, buf)
		if n > len(want) || string(buf[:n]) != string(want[:n]) {
			return false, nil
		}
		want = want[n:]
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return len(want) == 0, nil
		default:
			return false, err
		}
	}
}
