package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/invariant"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasm"
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
	// ReadDuration is how long reading Objects took (side by side with
	// the links).
	ReadDuration time.Duration
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
	return DiffLinkersWith(ctx, f, a, b, objPaths, dir, opts, linker.Options{})
}

// DiffLinkersWith is DiffLinkers with the options of both links (faults
// planted in the reference linker, for `linkcheck selftest`).
func DiffLinkersWith(ctx context.Context, f obj.Format, a, b *linker.Linker, objPaths []string, dir string, opts diff.Options, lo linker.Options) (*LinkersResult, error) {
	return DiffLinkersTimed(ctx, f, a, b, objPaths, dir, opts, lo, nil)
}

// DiffPhase names a step of DiffLinkersTimed on its calling goroutine.
type DiffPhase string

// The steps of DiffLinkersTimed, in order. Link A (on a goroutine of its
// own) and the reading of the input objects (on another) start with
// PhaseLinkB: PhaseRead is the time the reading outlasts B's link, and
// PhaseWaitA the time A's link outlasts both.
const (
	PhaseLinkB   DiffPhase = "link B"
	PhaseRead    DiffPhase = "read objects"
	PhaseWaitA   DiffPhase = "wait for A"
	PhaseOpen    DiffPhase = "open"
	PhaseCompare DiffPhase = "compare"
)

// DiffLinkersTimed is DiffLinkersWith calling lap, when not nil, at the end
// of each DiffPhase (for `linkcheck bench diff`). The links and the
// reading of the input objects run side by side: A (a child process,
// ld.lld for `linkcheck diff`) and the reading each on a goroutine of
// their own, B on this one (each linker reads the object files itself).
// Then both outputs are read into canonical images, A's first, one after
// the other (opening them side by side would add one's transient memory
// to the other's: the diff's peak), and compared. The result and the
// errors are those of the steps one after the other: a failed read of
// the inputs first, then A's link, B's link, A's image, B's image.
func DiffLinkersTimed(ctx context.Context, f obj.Format, a, b *linker.Linker, objPaths []string, dir string, opts diff.Options, lo linker.Options, lap func(DiffPhase)) (*LinkersResult, error) {
	if lap == nil {
		lap = func(DiffPhase) {}
	}
	t, err := target.Lookup(f)
	if err != nil {
		return nil, err
	}
	if !t.SelfContained() {
		if err := t.Need(target.CanRead); err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
	}
	for _, l := range []*linker.Linker{a, b} {
		if err := l.Supports(f); err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
	}
	nameA, nameB := exeStem(a), exeStem(b)
	if nameA == nameB {
		nameA, nameB = nameA+"-a", nameB+"-b"
	}
	res := &LinkersResult{A: a, B: b,
		ExeA: filepath.Join(dir, nameA+"."+t.ExeName), ExeB: filepath.Join(dir, nameB+"."+t.ExeName)}

	// The input objects, read once for both images.
	var objs []*obj.Object
	var wasmObjs []*wasm.Object
	var readErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		start := time.Now()
		if f == obj.Wasm {
			wasmObjs, readErr = target.ReadWasmObjects(objPaths)
		} else {
			objs, readErr = t.ReadInputs(objPaths)
		}
		res.ReadDuration = time.Since(start)
	}()
	var linkErrA error
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		res.ResA, linkErrA = a.Link(ctx, f, objPaths, res.ExeA, lo)
	}()
	var linkErrB error
	res.ResB, linkErrB = b.Link(ctx, f, objPaths, res.ExeB, lo)
	lap(PhaseLinkB)
	<-read
	res.Objects = objs
	lap(PhaseRead)
	<-doneA
	lap(PhaseWaitA)
	switch {
	case readErr != nil:
		return nil, readErr
	case linkErrA != nil:
		return nil, &LinkerError{Linker: a.Name, Result: res.ResA, Err: linkErrA}
	case linkErrB != nil:
		return nil, &LinkerError{Linker: b.Name, Result: res.ResB, Err: linkErrB}
	}
	readImage := func(path string) (*canon.Image, error) {
		if f == obj.Wasm {
			return readWasmImage(path, wasmObjs)
		}
		return readImage(path, objs)
	}
	ia, err := readImage(res.ExeA)
	if err != nil {
		return nil, err
	}
	ib, err := readImage(res.ExeB)
	if err != nil {
		return nil, err
	}
	lap(PhaseOpen)
	if opts.NameA == "" {
		opts.NameA = a.Name
	}
	if opts.NameB == "" {
		opts.NameB = b.Name
	}
	res.Report = diff.Compare(ia, ib, opts)
	lap(PhaseCompare)
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

// GoldSidecarSuffix names the state that `linkcheck update -linker gold`
// keeps beside its output; the objects gold links, replaced in place by
// every update, are in OUT+GoldObjectsSuffix.
const (
	GoldSidecarSuffix = ".lcgold"
	GoldObjectsSuffix = ".lcgold.d"
)

// GoldState is what an output updated by gold's incremental mode carries
// beside it: enough to re-check the current version and to replay the
// sequence that led to it.
type GoldState struct {
	Linker  string     `json:"linker"` // "gold"
	Version string     `json:"version"`
	Format  obj.Format `json:"format"`
	Units   int        `json:"units"`
	// Objects are the object files gold links, in order (in the objects
	// directory); Command is gold's argv, the same for every update.
	Objects []string `json:"objects"`
	Command []string `json:"command"`
	// Source is the current version's program; Sources every version's,
	// in order (the sequence a finding is reported with).
	Source  string     `json:"source"`
	Sources []string   `json:"sources"`
	History []GoldStep `json:"history"`
}

// GoldStep is what gold did with one version.
type GoldStep struct {
	Version int    `json:"version"` // 1 for the first
	Outcome string `json:"outcome"` // linker.IncrFull, IncrInPlace, IncrFailed
	Reason  string `json:"reason,omitempty"`
}

// GoldFailure is a gold link that failed: a finding, reported with the
// version sequence that triggers it.
type GoldFailure struct {
	Step    GoldStep
	Sources []string
	// Files hold the versions' programs, v1.lir..., in the objects
	// directory.
	Files   []string
	Out     string
	Units   int
	Command string
	Stderr  string
}

func (e *GoldFailure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gold failed on version %d of %d: %s\ncommand: %s\n", e.Step.Version, len(e.Sources), e.Step.Reason, e.Command)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		fmt.Fprintf(&b, "stderr:\n%s\n", s)
	}
	if len(e.Files) == len(e.Sources) && len(e.Files) > 0 {
		fmt.Fprintf(&b, "version sequence: %s\nreplay into a new output: for v in %s; do linkcheck update -linker gold -format elf -units %d -o replay.out $v; done",
			strings.Join(e.Files, " "), strings.Join(e.Files, " "), e.Units)
		return b.String()
	}
	fmt.Fprintln(&b, "version sequence (each linked in turn with the same command line):")
	for i, src := range e.Sources {
		fmt.Fprintf(&b, "-- v%d.lir --\n%s", i+1, strings.TrimRight(src, "\n")+"\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// LoadGoldState reads the sidecar of out; os.ErrNotExist when it has none.
func LoadGoldState(out string) (*GoldState, error) {
	data, err := os.ReadFile(out + GoldSidecarSuffix)
	if err != nil {
		return nil, err
	}
	var st GoldState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s%s: %w", out, GoldSidecarSuffix, err)
	}
	if st.Linker != linker.Gold || st.Units < 1 || len(st.Objects) != st.Units || len(st.Command) == 0 {
		return nil, fmt.Errorf("%s%s: not a gold state (linker %q, %d units, %d objects)", out, GoldSidecarSuffix, st.Linker, st.Units, len(st.Objects))
	}
	return &st, nil
}

func (st *GoldState) save(out string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	_, err = WriteFiles(filepath.Dir(out), []string{filepath.Base(out) + GoldSidecarSuffix}, [][]byte{append(data, '\n')})
	return err
}

// GoldUpdate links version m (source is its text) of the program at out
// with gold's incremental mode: its objects are compiled into the objects
// directory beside out, each file rewritten in place only when its bytes
// changed, and `ld.gold --incremental` runs with the same command line as
// every earlier version's. units is used by the first version only (later
// ones keep the first's). The step says what gold did; a gold failure is
// a *GoldFailure (the sidecar still records it, so the next version
// continues the sequence).
func GoldUpdate(ctx context.Context, out string, m *ir.Module, source string, units int) (*GoldStep, error) {
	st, err := LoadGoldState(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if units < 1 {
			units = 1
		}
		g, err := linker.Lookup(linker.Gold)
		if err != nil {
			return nil, err
		}
		st = &GoldState{Linker: linker.Gold, Format: obj.ELF, Units: units}
		if st.Version, err = g.Version(obj.ELF); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	dir := out + GoldObjectsSuffix
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	names, files, err := Objects(m, obj.ELF, st.Units)
	if err != nil {
		return nil, err
	}
	var paths []string
	for i, n := range names {
		p, err := filepath.Abs(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, files[i]) {
			continue
		}
		// In place: the same file, as a build system rewrites an object.
		if err := os.WriteFile(p, files[i], 0o644); err != nil {
			return nil, err
		}
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	existed := len(st.History) > 0
	l, err := linker.GoldIncremental(ctx, paths, absOut, 0)
	if err != nil {
		return nil, err
	}
	st.Objects = paths
	st.Command = l.Result.Cmd
	st.Source = source
	st.Sources = append(st.Sources, source)
	step := GoldStep{Version: len(st.Sources), Outcome: l.Outcome, Reason: l.Reason}
	if l.Outcome == linker.IncrFull && l.Reason == "no output to update" {
		step.Reason = "first link"
		if existed {
			step.Reason = "no output to update (the previous link failed)"
		}
	}
	st.History = append(st.History, step)
	if err := st.save(out); err != nil {
		return nil, err
	}
	if l.Outcome == linker.IncrFailed {
		gf := &GoldFailure{Step: step, Sources: st.Sources, Out: out, Units: st.Units, Command: l.Result.Reproducer(), Stderr: l.Result.Stderr}
		for i, src := range st.Sources {
			p := filepath.Join(dir, fmt.Sprintf("v%d.lir", i+1))
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				return &step, err
			}
			gf.Files = append(gf.Files, p)
		}
		return &step, gf
	}
	return &step, nil
}

// GoldCheck applies to a gold-updated output the invariants that need no
// linker state: (1) it runs to the interpreter's value of the current
// version, (2) its canonical image equals that of a fresh ld.lld link of
// the same objects, with gold's rules, and (8) llvm-readobj and
// llvm-objdump read it without a warning (through tools, or as processes
// when it is nil). dir is a work directory.
func GoldCheck(ctx context.Context, out string, r *exec.Runner, tools *toolsrv.Pool, mode exec.Mode, dir string) (*GoldState, error) {
	st, err := LoadGoldState(out)
	if err != nil {
		return nil, err
	}
	m, err := ir.Parse(out+GoldSidecarSuffix+":source", []byte(st.Source))
	if err != nil {
		return st, fmt.Errorf("the sidecar's source does not parse: %w", err)
	}
	if _, err := os.Stat(out); err != nil {
		return st, fmt.Errorf("%s: the output is missing (gold's last link: %s %s)", out, st.last().Outcome, st.last().Reason)
	}
	var errs []string
	want, err := Expected(m)
	if err != nil {
		return st, err
	}
	if mode == "" {
		mode = exec.Native
	}
	if res, err := r.Run(ctx, out, exec.Options{Mode: mode}); err != nil {
		errs = append(errs, fmt.Sprintf("(1) value: %s: %v", mode, err))
	} else if !res.Matches(want) {
		errs = append(errs, fmt.Sprintf("(1) value: %s computed %s, the interpreter says %d", mode, res, want))
	}
	objs, err := link.ReadObjectFiles(st.Objects, target.MustLookup(obj.ELF).ReadObject)
	if err != nil {
		return st, err
	}
	lldL, err := linker.Lookup(linker.LLD)
	if err != nil {
		return st, err
	}
	gold, err := linker.Lookup(linker.Gold)
	if err != nil {
		return st, err
	}
	fresh := filepath.Join(dir, "fresh-lld.out")
	if _, err := lldL.Link(ctx, obj.ELF, st.Objects, fresh, linker.Options{}); err != nil {
		return st, err
	}
	a, err := readImage(fresh, objs)
	if err != nil {
		return st, err
	}
	b, err := readImage(out, objs)
	if err != nil {
		errs = append(errs, fmt.Sprintf("(2) canonical image: %v", err))
	} else if rep := diff.Compare(a, b, diff.Options{Ignore: gold.Rules, NameA: "lld (fresh)", NameB: "gold (incremental)"}); !rep.Equal() {
		errs = append(errs, "(2) canonical image differs from a fresh link:\n"+rep.Text())
	}
	if err := invariant.CheckLLVMWith(tools, out); err != nil {
		errs = append(errs, fmt.Sprintf("(8) LLVM's tools: %v", err))
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("%s (version %d, gold's last link %s): %s", out, len(st.Sources), st.last().Outcome, strings.Join(errs, "\n"))
	}
	return st, nil
}

func (st *GoldState) last() GoldStep {
	if len(st.History) == 0 {
		return GoldStep{}
	}
	return st.History[len(st.History)-1]
}

// Known gold findings (docs/findings.md), as GoldKnownFinding names them.
const (
	// FindingGoldInternalError: an update stops with "internal error in
	// set_section_addresses" and deletes the output.
	FindingGoldInternalError = "gold-internal-error"
	// FindingGoldPatchSpace: an update stops with "out of patch space"
	// (in .text, .rodata, or the GOT) and deletes the output.
	FindingGoldPatchSpace = "gold-patch-space"
	// FindingGoldStaleGOT: an in-place update moves a function or the
	// error table but leaves its GOT slot holding the old address; only
	// loads through GOT slots differ from a fresh link (and the program
	// may crash or compute another value).
	FindingGoldStaleGOT = "gold-stale-got"
)

// GoldKnownFinding names the known gold finding err is — a *GoldFailure
// from GoldUpdate or a GoldCheck error — or returns "" for anything else
// (a new finding).
func GoldKnownFinding(err error) string {
	var gf *GoldFailure
	if errors.As(err, &gf) {
		switch r := gf.Step.Reason; {
		case strings.Contains(r, "internal error in set_section_addresses"):
			return FindingGoldInternalError
		case strings.Contains(r, "fatal error: out of patch space"):
			return FindingGoldPatchSpace
		}
		return ""
	}
	// A stale slot may also crash the program or change its value (1):
	// the image difference (2) explains it; LLVM's tools must still be
	// content (8).
	text := err.Error()
	if !strings.Contains(text, "(2) canonical image differs from a fresh link") || strings.Contains(text, "(8) LLVM") {
		return ""
	}
	n := 0
	for _, line := range strings.Split(text, "\n") {
		for _, k := range diff.Keys() {
			if strings.HasPrefix(line, k+" ") {
				if k != diff.KeyTextOperand {
					return ""
				}
				n++
			}
		}
		if strings.HasPrefix(line, "    gold (incremental): ") && !strings.HasSuffix(line, "; via got") {
			return ""
		}
	}
	if n == 0 {
		return ""
	}
	return FindingGoldStaleGOT
}
