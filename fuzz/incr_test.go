package fuzz

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gofuzz "github.com/google/gofuzz"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// maxIncrEdits bounds the edits of one update sequence.
const maxIncrEdits = 20

// incrEdit is one edit of an update sequence as gofuzz decodes it: Kind
// picks the edit from the target's menu, A, B and C pick its targets
// (indexes taken modulo the candidates), Size is its size (bytes grown,
// name length, number of errors) or value.
type incrEdit struct {
	Kind    uint8
	A, B, C uint8
	Size    uint16
}

// incrInput is an update sequence as gofuzz decodes it from the fuzzer's
// bytes: a generated program and up to maxIncrEdits edits of it.
type incrInput struct {
	Seed   int64
	Funcs  uint8  // 1 + Funcs%40 functions, main included
	Errors uint16 // FuzzErrorTable: 1 + Errors%300 declared errors; else the generator picks
	GOT    bool   // the got policy (targets that do not fix the policy)
	Edits  []incrEdit
}

func decodeIncr(data []byte) incrInput {
	var in incrInput
	gofuzz.NewFromGoFuzz(data).NilChance(0).NumElements(0, maxIncrEdits).Fuzz(&in)
	return in
}

// encodeIncr returns bytes that decodeIncr turns into in, so that seeds
// can be written as sequences of edits. It inverts how gofuzz draws from
// its byte source: every random word is the next 8 bytes (big-endian), the
// first 8 seed a fallback source; rand.Uint32 is a word's high half and
// rand.Int31 its top 31 bits. incrSeeds checks the round trip, so a change
// in gofuzz fails loudly instead of silently changing the seeds.
func encodeIncr(in incrInput) []byte {
	words := []uint64{0} // the fallback's seed
	u32 := func(v uint32) { words = append(words, uint64(v)<<32) }
	u64 := func(v uint64) { u32(uint32(v >> 32)); u32(uint32(v)) }
	i31 := func(v int32) { words = append(words, uint64(v)<<33) }
	u64(uint64(in.Seed))
	u64(uint64(in.Funcs))
	u64(uint64(in.Errors))
	if in.GOT { // randBool: Int31()&(1<<30) == 0
		i31(0)
	} else {
		i31(1 << 30)
	}
	words = append(words, 1<<63) // Float64() = 0.5: fill the slice
	i31(int32(len(in.Edits)))    // Intn(maxIncrEdits+1)
	for _, e := range in.Edits {
		u64(uint64(e.Kind))
		u64(uint64(e.A))
		u64(uint64(e.B))
		u64(uint64(e.C))
		u64(uint64(e.Size))
	}
	data := make([]byte, 8*len(words))
	for i, w := range words {
		binary.BigEndian.PutUint64(data[8*i:], w)
	}
	return data
}

// editKind is an edit the fuzz targets can apply.
type editKind uint8

const (
	eChangeBody      editKind = iota
	eGrow                     // pad bytes: past the slot moves the function
	eGrowCode                 // new statements
	eShrink                   // drop pads or a statement
	eAddFunc                  // a new function and a call to it
	eDeleteFunc               // a function and every reference to it
	eAlign                    // a function's alignment
	eAddError                 // one error at a position
	eAddErrors                // up to 64 errors at positions
	eUseError                 // main's result adds errlen/errbyte of a literal or numbered error
	eRenameError              // an error gets a new name
	eAddGlobal                // an integer or pointer global or const
	eSetInit                  // an integer global's initial value
	eRetargetCall             // a call of a leaf calls another leaf
	eRetargetPointer          // a pointer global points elsewhere
	eGrowLast                 // the most recently added function grows: often the last atom of .text
	eAlignMove                // a function gets a large alignment and grows past its slot: an over-aligned move
	numEditKinds
)

var editNames = [...]string{"change-body", "grow", "grow-code", "shrink", "add-func", "delete-func", "set-align",
	"add-error", "add-errors", "use-error", "rename-error", "add-global", "set-init", "retarget-call", "retarget-pointer", "grow-last", "align-move"}

func (k editKind) String() string { return editNames[k] }

// incrTarget is the shape of one incremental fuzz target.
type incrTarget struct {
	name string
	// policy is the incremental policy; "" takes it from the input.
	policy incr.Policy
	menu   []editKind
	// focus, when positive, makes function edits pick among this many
	// functions of the first version (recursive ones first), so that the
	// same functions move again and again.
	focus int
	// manyErrors declares 1 + Errors%300 errors in the first version.
	manyErrors bool
	// format is the output's format ("" is ELF).
	format obj.Format
}

var (
	targetIncrementalELF = incrTarget{name: "FuzzIncrementalELF", menu: []editKind{
		eChangeBody, eGrow, eGrowCode, eShrink, eAddFunc, eDeleteFunc, eAlign, eAddError, eAddErrors,
		eUseError, eRenameError, eAddGlobal, eSetInit, eRetargetCall, eRetargetPointer, eGrowLast, eAlignMove}}
	targetIncrementalMachO = incrTarget{name: "FuzzIncrementalMachO", format: obj.MachO, menu: targetIncrementalELF.menu}
	targetIncrementalCOFF  = incrTarget{name: "FuzzIncrementalCOFF", format: obj.COFF, menu: targetIncrementalELF.menu}
	// Wasm calls by index: one policy, and alignment means nothing to a
	// body.
	targetIncrementalWasm = incrTarget{name: "FuzzIncrementalWasm", format: obj.Wasm, policy: incr.Trampoline, menu: targetIncrementalELF.menu}
	targetErrorTable      = incrTarget{name: "FuzzErrorTable", manyErrors: true, menu: []editKind{
		eAddError, eAddErrors, eRenameError, eUseError}}
	targetTrampoline = incrTarget{name: "FuzzTrampoline", policy: incr.Trampoline, focus: 3, menu: []editKind{
		eGrow, eGrow, eShrink, eAlign, eGrowCode, eChangeBody, eAddFunc}}
	targetGOT = incrTarget{name: "FuzzGOT", policy: incr.ThroughGOT, menu: []editKind{
		eGrow, eShrink, eDeleteFunc, eRetargetPointer, eAddFunc, eAlign, eRetargetCall, eAddGlobal}}
)

func (tg incrTarget) policyOf(in incrInput) incr.Policy {
	switch {
	case tg.policy != "":
		return tg.policy
	case in.GOT:
		return incr.ThroughGOT
	}
	return incr.Trampoline
}

// genConfig is the generator configuration of the first version.
func (tg incrTarget) genConfig(in incrInput) ir.GenConfig {
	cfg := ir.GenConfig{Funcs: 1 + int(in.Funcs)%40}
	if tg.manyErrors {
		cfg.Errors = 1 + int(in.Errors)%300
	}
	return cfg
}

// filterFuel bounds the interpretation of every version: an edit after
// which the program runs longer (a changed loop bound) is not applied.
const filterFuel = 2_000_000

// incrCheckOptions say what runIncr injects and checks.
type incrCheckOptions struct {
	Runner *exec.Runner
	// Tools serves LLVM's tools to invariant 8 (nil: a process per run).
	Tools *toolsrv.Pool
	// Faults are injected into every compile and in-place update (fault
	// tests).
	Faults fault.Set
	// Tiers mix the checks (the zero value is pipeline.FuzzTiers).
	Tiers pipeline.Tiers
	// LLVMEvery runs LLVM's tools (invariant 8) after the last update of
	// one sequence in LLVMEvery (chosen by the input's seed), and always
	// on a failing one; 0 never, 1 always.
	LLVMEvery int
	// Stats, when not nil, is told the sequence's checked updates and the
	// checks they evaluated (a campaign's progress and coverage).
	Stats *StatsRecorder
}

// llvmSample is the fuzz targets' sampling of LLVM's tools: one sequence
// in 20.
const llvmSample = 20

// runIncr links the first version of in into an in-memory session,
// applies its edits one update at a time and checks the output at the
// tiers' intervals (invariants 3 to 7 after every update; the value
// against the interpreter and the canonical image against a fresh link
// every few updates and after the last), then the sidecar round trip and,
// on a sample, LLVM's tools. A failure found by a cheap tier is replayed
// with every check after every update, so that the report names the first
// bad update. Edits that do not apply to the current version are skipped.
func runIncr(ctx context.Context, tg incrTarget, in incrInput, dir string, o incrCheckOptions) error {
	_, err := runIncrLog(ctx, tg, in, dir, o)
	return err
}

// runIncrLog is runIncr that also returns what each edit did.
func runIncrLog(ctx context.Context, tg incrTarget, in incrInput, dir string, o incrCheckOptions) ([]string, error) {
	policy := tg.policyOf(in)
	m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), tg.genConfig(in))
	if _, err := ir.Interp(m, ir.InterpOptions{Fuel: filterFuel}); err != nil {
		return nil, nil // too slow to be worth linking: not a failure
	}
	mods, steps, vals, log := versions(tg, in, m)
	fail := func(i int, format string, args ...any) error {
		return fmt.Errorf("%s, policy %s, seed %d, %d functions: after update %d: %s\nedits:\n  %s\nversion checked:\n%s",
			tg.name, policy, in.Seed, tg.genConfig(in).Funcs, steps[i], fmt.Sprintf(format, args...), strings.Join(log, "\n  "), ir.Print(mods[i]))
	}
	mode, lastMode := pipeline.FuzzModes(tg.format)
	tiers := o.Tiers
	if tiers == (pipeline.Tiers{}) {
		tiers = pipeline.FuzzTiers
	}
	var tally checkTally // nil: not counted
	var updates int64
	if o.Stats != nil {
		tally = checkTally{}
		defer func() { o.Stats.Add(updates, tally) }()
	}
	i, s, err := runSession(ctx, mods, vals, pipeline.SessionOptions{Format: tg.format, Policy: policy, Runner: o.Runner, Tools: o.Tools, Mode: mode, LastMode: lastMode, Tiers: tiers, Dir: dir, Faults: o.Faults}, tally)
	if s != nil {
		updates = int64(s.Checked - 1)
	}
	if err != nil {
		if tiers != pipeline.FullTiers {
			// Replay with every check after every update, each run by the
			// most real of the target's oracles: the first bad update is
			// then the one reported.
			replayMode := mode
			if lastMode != "" {
				replayMode = lastMode
			}
			if j, _, ferr := runSession(ctx, mods[:i+1], vals, pipeline.SessionOptions{Format: tg.format, Policy: policy, Runner: o.Runner, Tools: o.Tools, Mode: replayMode, Tiers: pipeline.FullTiers, Dir: dir, Faults: o.Faults}, nil); ferr != nil {
				i, err = j, ferr
			}
		}
		if s != nil {
			// A failing sequence always gets LLVM's opinion too.
			tally.inv(8)
			if lerr := s.CheckLLVM(); lerr != nil {
				err = fmt.Errorf("%w\n%v", err, lerr)
			}
		}
		return log, fail(i, "%v", err)
	}
	last := len(mods) - 1
	if err := s.CheckSidecar(); err != nil {
		return log, fail(last, "%v", err)
	}
	if o.LLVMEvery > 0 && uint64(in.Seed)%uint64(o.LLVMEvery) == 0 {
		tally.inv(8)
		if err := s.CheckLLVM(); err != nil {
			return log, fail(last, "%v", err)
		}
	}
	return log, nil
}

// runSession runs versions mods through a checked in-memory session (the
// updates reuse vals, the interpreter's values of mods[1:]) and returns
// the index of the version whose check failed, with the error.
// When tally is not nil it counts the checks each checked link evaluated.
func runSession(ctx context.Context, mods []*ir.Module, vals []uint64, o pipeline.SessionOptions, tally checkTally) (int, *pipeline.Session, error) {
	s, err := pipeline.NewSession(ctx, mods[0], o)
	if err == nil && len(mods) == 1 {
		err = s.CheckFull(ctx) // the first link is the last version
	}
	if err != nil {
		return 0, nil, err
	}
	if tally != nil {
		tally.session(subjectsOf(s.State(), mods[0]), s.Full > 0, o.Runner != nil)
	}
	for i := 1; i < len(mods); i++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		checked, full := s.Checked, s.Full
		_, err := s.UpdateKnown(cctx, mods[i], vals[i], i == len(mods)-1)
		cancel()
		if tally != nil && s.Checked > checked {
			tally.session(subjectsOf(s.State(), mods[i]), s.Full > full, o.Runner != nil)
		}
		if err != nil {
			return i, s, err
		}
	}
	return len(mods) - 1, s, nil
}

// versions applies in's edits to m one at a time and returns the versions
// that result (the first is m), the number of the update that made each,
// the interpreter's value of each but the first (found while filtering the
// edits; vals[0] is unset) and a log of what every edit did. Edits that do not apply, or after
// which the program does not check or runs too long, are skipped.
func versions(tg incrTarget, in incrInput, m *ir.Module) (mods []*ir.Module, steps []int, vals []uint64, log []string) {
	ed := &editor{tg: tg, focus: focusFuncs(m, tg.focus)}
	edits := in.Edits
	if len(edits) > maxIncrEdits {
		edits = edits[:maxIncrEdits]
	}
	mods, steps, vals = []*ir.Module{m}, []int{0}, []uint64{0}
	for step := 1; step <= len(edits); step++ {
		e := edits[step-1]
		r := rand.New(rand.NewSource(in.Seed ^ int64(step)<<32))
		n, desc, err := ed.apply(m, e, r)
		if err != nil {
			log = append(log, fmt.Sprintf("%d: skipped (%v)", step, err))
			continue
		}
		if err := ir.Check(n); err != nil {
			log = append(log, fmt.Sprintf("%d: skipped %s (%v)", step, desc, err))
			continue
		}
		v, err := ir.Interp(n, ir.InterpOptions{Fuel: filterFuel})
		if err != nil {
			log = append(log, fmt.Sprintf("%d: skipped %s (%v)", step, desc, err))
			continue
		}
		m = n
		mods, steps, vals = append(mods, m), append(steps, step), append(vals, v)
		log = append(log, fmt.Sprintf("%d: %s", step, desc))
	}
	return mods, steps, vals, log
}

// editor applies decoded edits to versions of one sequence.
type editor struct {
	tg    incrTarget
	focus []string
	names int // fresh-name counter
}

func (ed *editor) fresh(prefix string) string {
	ed.names++
	return prefix + strconv.Itoa(ed.names)
}

// errorName returns a fresh error name of about 1 + size%48 bytes, or of
// up to 400 bytes when size is large.
func (ed *editor) errorName(size uint16, letter uint8) string {
	n := 1 + int(size)%48
	if size >= 0x8000 {
		n = 1 + int(size)%400
	}
	s := ed.fresh("E") + "_"
	for len(s) < n {
		s += string(rune('a' + letter%26))
	}
	return s
}

// pick returns xs[i % len(xs)], or "" when xs is empty.
func pick(xs []string, i int) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[i%len(xs)]
}

// generalKinds is the Kind from which an edit is drawn from the general
// menu (targetIncrementalELF's) instead of the target's own: every target
// then exercises every mechanism now and then (one edit in 16 of random
// inputs), while the seeds, whose kinds are small, keep their meaning.
const generalKinds = 240

func (ed *editor) apply(m *ir.Module, e incrEdit, r *rand.Rand) (*ir.Module, string, error) {
	kind := ed.tg.menu[int(e.Kind)%len(ed.tg.menu)]
	if e.Kind >= generalKinds {
		general := targetIncrementalELF.menu
		kind = general[(int(e.Kind-generalKinds)+int(e.C))%len(general)]
	}
	n, desc, err := ed.applyKind(kind, m, e, r)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", kind, err)
	}
	return n, desc, nil
}

func (ed *editor) applyKind(kind editKind, m *ir.Module, e incrEdit, r *rand.Rand) (*ir.Module, string, error) {
	a := analyzeCalls(m)
	fn := pick(a.funcs, int(e.A))
	if ed.focus != nil {
		var live []string
		for _, f := range ed.focus {
			if m.Func(f) != nil {
				live = append(live, f)
			}
		}
		fn = pick(live, int(e.A))
	}
	wide := int(e.A)<<8 | int(e.C)
	done := func(n *ir.Module, edit ir.Edit, err error) (*ir.Module, string, error) {
		if err != nil {
			return nil, "", err
		}
		return n, edit.String(), nil
	}
	switch kind {
	case eChangeBody:
		return done(ir.ChangeBody(m, fn, r))
	case eGrow:
		bytes := 1 + uint64(e.Size)%3000
		if e.Size >= 0xC000 {
			bytes = 8192 + uint64(e.Size)%16384 // enough to grow .text
		}
		return done(ir.GrowFunc(m, fn, bytes))
	case eGrowCode:
		return done(ir.GrowFuncCode(m, fn, r))
	case eGrowLast:
		last := ""
		for _, f := range m.Funcs {
			if f.Name != "main" {
				last = f.Name
			}
		}
		if last == "" {
			return nil, "", fmt.Errorf("no function but main")
		}
		return done(ir.GrowFunc(m, last, 1+uint64(e.Size)%64))
	case eAlignMove:
		n, _, err := ir.SetAlign(m, fn, 64<<(e.B%4))
		if err != nil {
			return nil, "", err
		}
		n, edit, err := ir.GrowFunc(n, fn, 200+uint64(e.Size)%800)
		if err != nil {
			return nil, "", err
		}
		return n, fmt.Sprintf("align-move: %s aligned to %d, %s", fn, 64<<(e.B%4), edit), nil
	case eShrink:
		return done(ir.ShrinkFunc(m, fn))
	case eAddFunc:
		return done(ir.AddFunc(m, ed.fresh("fz"), "", r))
	case eDeleteFunc:
		var cands []string
		for _, f := range a.funcs {
			if f != "main" {
				cands = append(cands, f)
			}
		}
		if ed.focus != nil && fn != "main" {
			cands = []string{fn}
		}
		if len(cands) == 0 {
			return nil, "", fmt.Errorf("no function to delete")
		}
		return done(ir.DeleteFunc(m, pick(cands, int(e.A))))
	case eAlign:
		align := uint64(0)
		if e.B%14 != 0 {
			align = 1 << ((e.B - 1) % 14 % 13)
		}
		return done(ir.SetAlign(m, fn, align))
	case eAddError:
		return done(ir.AddError(m, ed.errorName(e.Size, e.B), wide%(len(m.Errors)+1)))
	case eAddErrors:
		k := 1 + int(e.Size)%64
		n := m
		for i := 0; i < k; i++ {
			var err error
			n, _, err = ir.AddError(n, ed.errorName(e.Size+uint16(i)*37, e.B+uint8(i)), (wide+i*int(e.C|1))%(len(n.Errors)+1))
			if err != nil {
				return nil, "", err
			}
		}
		return n, fmt.Sprintf("add-errors: %d errors, now %d", k, len(n.Errors)), nil
	case eUseError:
		return useError(m, e)
	case eRenameError:
		if len(m.Errors) == 0 {
			return nil, "", fmt.Errorf("no errors")
		}
		return done(ir.RenameError(m, m.Errors[wide%len(m.Errors)], ed.errorName(e.Size, e.B)))
	case eAddGlobal:
		init := ir.Init{Value: uint64(e.Size) * 0x9e3779b97f4a7c15}
		if e.C%3 == 0 {
			if leaf := pick(a.leaves, int(e.B)); leaf != "" {
				init = ir.Init{Addr: leaf}
			}
		}
		constant := e.B%2 == 0
		prefix := "gz"
		if constant {
			prefix = "kz"
		}
		return done(ir.AddGlobal(m, ed.fresh(prefix), constant, init))
	case eSetInit:
		var ints []string
		for _, g := range m.Globals {
			if g.Init.Addr == "" {
				ints = append(ints, g.Name)
			}
		}
		if len(ints) == 0 {
			return nil, "", fmt.Errorf("no integer globals")
		}
		return done(ir.SetInit(m, pick(ints, int(e.A)), uint64(e.Size)|uint64(e.B)<<16))
	case eRetargetCall:
		caller := pick(a.leafCallers, int(e.A))
		if caller == "" {
			return nil, "", fmt.Errorf("no calls of leaves")
		}
		old := pick(a.leafCalls[caller], int(e.B))
		var targets []string
		for _, l := range a.leaves {
			if l != old && a.arity[l] == a.arity[old] {
				targets = append(targets, l)
			}
		}
		if len(targets) == 0 {
			return nil, "", fmt.Errorf("no other leaf of %s's arity", old)
		}
		return done(ir.RetargetCall(m, caller, old, pick(targets, int(e.C))))
	case eRetargetPointer:
		var ptrs []*ir.Global
		for _, g := range m.Globals {
			if g.Init.Addr != "" {
				ptrs = append(ptrs, g)
			}
		}
		if len(ptrs) == 0 {
			return nil, "", fmt.Errorf("no pointer globals")
		}
		g := ptrs[int(e.A)%len(ptrs)]
		var targets []string
		if _, isFunc := a.arity[g.Init.Addr]; !isFunc {
			for _, h := range m.Globals {
				if h.Name != g.Init.Addr {
					targets = append(targets, h.Name)
				}
			}
		} else if a.isLeaf[g.Init.Addr] {
			for _, l := range a.leaves {
				if l != g.Init.Addr && a.arity[l] == a.arity[g.Init.Addr] {
					targets = append(targets, l)
				}
			}
		}
		if len(targets) == 0 {
			return nil, "", fmt.Errorf("%s: no safe target", g.Name)
		}
		return done(ir.RetargetPointer(m, g.Name, pick(targets, int(e.B))))
	}
	return nil, "", fmt.Errorf("unknown edit kind %d", kind)
}

// useError adds errlen or errbyte of an error (by name, or by a number
// that may be out of range) to main's result.
func useError(m *ir.Module, e incrEdit) (*ir.Module, string, error) {
	n := ir.Clone(m)
	main := n.Func("main")
	if main == nil || len(main.Body) == 0 {
		return nil, "", fmt.Errorf("no main body")
	}
	ret, ok := main.Body[len(main.Body)-1].(*ir.ReturnStmt)
	if !ok {
		return nil, "", fmt.Errorf("main does not end in a return")
	}
	var errv ir.Expr
	if len(m.Errors) > 0 && e.B%4 != 3 {
		errv = &ir.ErrorLit{Name: m.Errors[(int(e.A)<<8|int(e.C))%len(m.Errors)]}
	} else {
		errv = &ir.IntLit{Value: uint64(e.C) % uint64(len(m.Errors)+2)}
	}
	var use ir.Expr = &ir.ErrLenExpr{Err: errv}
	if e.B%2 == 1 {
		use = &ir.ErrByteExpr{Err: errv, Index: &ir.IntLit{Value: uint64(e.Size) % 48}}
	}
	ret.Value = &ir.BinaryExpr{Op: ir.OpAdd, X: ret.Value, Y: use}
	return n, "use-error: main adds " + ir.ExprString(use), nil
}

// callInfo is what the edits need to know about calls.
type callInfo struct {
	funcs       []string // every function, in order
	leaves      []string // functions other than main without calls
	isLeaf      map[string]bool
	arity       map[string]int
	leafCallers []string            // functions with direct calls of leaves
	leafCalls   map[string][]string // the leaves each calls directly
}

func analyzeCalls(m *ir.Module) *callInfo {
	a := &callInfo{isLeaf: map[string]bool{}, arity: map[string]int{}, leafCalls: map[string][]string{}}
	direct := map[string][]string{}
	for _, f := range m.Funcs {
		a.funcs = append(a.funcs, f.Name)
		a.arity[f.Name] = len(f.Params)
		d, indirect := calls(f)
		direct[f.Name] = d
		if f.Name != "main" && len(d) == 0 && !indirect {
			a.isLeaf[f.Name] = true
			a.leaves = append(a.leaves, f.Name)
		}
	}
	for _, f := range m.Funcs {
		seen := map[string]bool{}
		for _, c := range direct[f.Name] {
			if a.isLeaf[c] && !seen[c] {
				seen[c] = true
				a.leafCalls[f.Name] = append(a.leafCalls[f.Name], c)
			}
		}
		if len(a.leafCalls[f.Name]) > 0 {
			a.leafCallers = append(a.leafCallers, f.Name)
		}
	}
	return a
}

var (
	callExprType     = reflect.TypeOf(&ir.CallExpr{})
	callIndirectType = reflect.TypeOf(&ir.CallIndirectExpr{})
)

// calls returns the functions f calls directly (in order, with repeats)
// and whether it makes indirect calls.
func calls(f *ir.Func) (direct []string, indirect bool) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer:
			if v.IsNil() {
				return
			}
			switch v.Type() {
			case callExprType:
				direct = append(direct, v.Interface().(*ir.CallExpr).Func)
			case callIndirectType:
				indirect = true
			}
			walk(v.Elem())
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(f.Body))
	return direct, indirect
}

// focusFuncs returns up to n functions of m, recursive ones first, then
// the others but main, then main; nil when n is 0.
func focusFuncs(m *ir.Module, n int) []string {
	if n <= 0 {
		return nil
	}
	var rec, other []string
	for _, f := range m.Funcs {
		if f.Name == "main" {
			continue
		}
		d, _ := calls(f)
		self := false
		for _, c := range d {
			self = self || c == f.Name
		}
		if self {
			rec = append(rec, f.Name)
		} else {
			other = append(other, f.Name)
		}
	}
	all := append(append(rec, other...), "main")
	if len(rec) > 0 && len(all) > n {
		// Keep room for one function that does not recurse.
		all = append(rec[:min(len(rec), n-1):min(len(rec), n-1)], all[len(rec):]...)
	}
	return all[:min(n, len(all))]
}

// seedEdit is a seed's edit, by kind rather than by menu index.
type seedEdit struct {
	kind    editKind
	a, b, c uint8
	size    uint16
}

type seedSeq struct {
	seed   int64
	funcs  uint8
	errors uint16
	got    bool
	edits  []seedEdit
}

// mechanisms mirrors corpus/updates/mechanisms: grow a function past its
// slot twice, shrink it, add a function and errors with long names until
// the error table moves, use the last, delete a function, retarget a
// pointer, over-align, add a function that reuses a freed slot, grow .text,
// rename an error.
var mechanisms = []seedEdit{
	{kind: eGrow, a: 1, size: 200},
	{kind: eGrow, a: 1, size: 900},
	{kind: eShrink, a: 1},
	{kind: eAddFunc},
	{kind: eAddErrors, a: 1, b: 3, c: 1, size: 34},
	{kind: eUseError, b: 0, a: 0, c: 3},
	{kind: eDeleteFunc, a: 2},
	{kind: eRetargetPointer},
	{kind: eAlign, a: 1, b: 13},
	{kind: eAddFunc},
	{kind: eGrow, a: 0, size: 0xC000},
	{kind: eRenameError, size: 7, b: 17},
}

// incrSeeds returns the seed inputs of a target: the mechanisms sequence
// under each policy and on programs of a few sizes, and hand-picked
// sequences for the target's own concern. Each is checked to decode back.
func incrSeeds(tb testing.TB, tg incrTarget) [][]byte {
	var seqs []seedSeq
	switch tg.name {
	case targetIncrementalELF.name, targetIncrementalMachO.name, targetIncrementalCOFF.name, targetIncrementalWasm.name:
		var cycle []seedEdit
		for i := 0; i < maxIncrEdits; i++ {
			cycle = append(cycle, seedEdit{kind: editKind(i % int(numEditKinds)), a: uint8(3 * i), b: uint8(i), c: uint8(7 * i), size: uint16(97 * i)})
		}
		seqs = []seedSeq{
			{seed: 1, funcs: 3, edits: mechanisms},
			{seed: 2, funcs: 3, got: true, edits: mechanisms},
			{seed: 3, funcs: 11, edits: mechanisms},
			{seed: 4, funcs: 39, got: true, edits: cycle},
			{seed: 5, funcs: 0},
			// main moves and leaves a trampoline for _start; new and
			// moved functions fill the holes around it.
			{seed: 1, funcs: 3, edits: []seedEdit{{kind: eGrow, a: 3, size: 300}, {kind: eAddFunc}, {kind: eAddFunc},
				{kind: eGrow, a: 0, size: 40}, {kind: eAddFunc}}},
		}
		if tg.name == targetIncrementalWasm.name {
			// An address-taken function (f1 of seed 1's 8) deleted, then
			// functions added into the freed index space: its table
			// slot must be cleared (found by a search over small
			// delete-then-add sequences with fault.StaleFreeGOTSlot).
			seqs = append(seqs, seedSeq{seed: 1, funcs: 7, edits: []seedEdit{{kind: eDeleteFunc, a: 0}, {kind: eAddFunc}, {kind: eAddFunc}}})
		}
	case targetErrorTable.name:
		seqs = []seedSeq{
			{seed: 1, funcs: 3, errors: 0, edits: []seedEdit{
				{kind: eAddErrors, size: 34, b: 3}, {kind: eUseError, a: 0, c: 3}, {kind: eRenameError, size: 300},
				{kind: eAddError, a: 0, c: 0, size: 0x8000 + 399}, {kind: eUseError, b: 3, c: 1}}},
			{seed: 2, funcs: 8, errors: 280, got: true, edits: []seedEdit{
				{kind: eAddErrors, size: 63, a: 1, c: 5}, {kind: eUseError, b: 1, size: 40}, {kind: eRenameError, a: 1, c: 2, size: 0x8000 + 350},
				{kind: eAddError, c: 255, size: 5}, {kind: eUseError, a: 1, c: 30}}},
			{seed: 3, funcs: 20, errors: 0, edits: []seedEdit{
				{kind: eRenameError}, {kind: eRenameError, size: 47}, {kind: eAddError, size: 1}, {kind: eUseError, b: 2}}},
		}
	case targetTrampoline.name:
		var pingpong []seedEdit
		for i := 0; i < 16; i++ {
			k := []editKind{eGrow, eShrink, eAlign, eGrow}[i%4]
			pingpong = append(pingpong, seedEdit{kind: k, a: uint8(i), b: uint8(1 + i%13), size: uint16(100 + 150*i)})
		}
		seqs = []seedSeq{
			{seed: 1, funcs: 3, edits: mechanisms},
			{seed: 6, funcs: 15, edits: pingpong},
		}
	case targetGOT.name:
		seqs = []seedSeq{
			{seed: 2, funcs: 3, edits: mechanisms},
			{seed: 7, funcs: 15, edits: []seedEdit{
				{kind: eGrow, a: 0, size: 500}, {kind: eDeleteFunc, a: 1}, {kind: eRetargetPointer, a: 0, b: 1},
				{kind: eAddFunc}, {kind: eGrow, a: 2, size: 2000}, {kind: eRetargetCall, a: 1, b: 0, c: 1},
				{kind: eAddGlobal, c: 0, b: 1}, {kind: eDeleteFunc, a: 3}, {kind: eGrow, a: 0, size: 0xC000}}},
		}
	}
	if tg.name == targetIncrementalWasm.name {
		// Wasm's pointers to functions are table indexes, which a move
		// does not change: a data pointer that must be re-patched points
		// at a datum that moves, a global whose value becomes 0 (from
		// .data to .bss), as each integer global of these programs does
		// in turn.
		var zero []seedEdit
		for i := 0; i < 8; i++ {
			zero = append(zero, seedEdit{kind: eSetInit, a: uint8(i)})
		}
		// Functions deleted one after another, among them ones whose
		// address is taken: their table slots are freed.
		var deletes []seedEdit
		for i := 0; i < 8; i++ {
			deletes = append(deletes, seedEdit{kind: eDeleteFunc, a: uint8(3 * i)})
		}
		seqs = append(seqs, seedSeq{seed: 8, funcs: 30, edits: zero}, seedSeq{seed: 9, funcs: 39, edits: zero},
			seedSeq{seed: 3, funcs: 11, edits: deletes})
	}
	var out [][]byte
	for _, s := range seqs {
		in := incrInput{Seed: s.seed, Funcs: s.funcs, Errors: s.errors, GOT: s.got}
		for _, e := range s.edits {
			k := -1
			for i, m := range tg.menu {
				if m == e.kind {
					k = i
					break
				}
			}
			if k < 0 {
				continue // not on this target's menu
			}
			in.Edits = append(in.Edits, incrEdit{Kind: uint8(k), A: e.a, B: e.b, C: e.c, Size: e.size})
		}
		data := encodeIncr(in)
		if got := decodeIncr(data); !reflect.DeepEqual(normalize(got), normalize(in)) {
			tb.Fatalf("%s: seed does not decode to its sequence:\nwant %+v\ngot  %+v", tg.name, in, got)
		}
		out = append(out, data)
	}
	return out
}

func normalize(in incrInput) incrInput {
	if len(in.Edits) == 0 {
		in.Edits = nil
	}
	return in
}

// FaultsEnv names the environment variable through which a campaign plants
// seeded defects in the fuzz targets (comma-separated ref/fault names), to
// prove that the targets find them (`linkcheck selftest`, campaign tests).
const FaultsEnv = "LINKCHECK_FAULTS"

// envFaults parses FaultsEnv.
func envFaults() (fault.Set, error) {
	v := os.Getenv(FaultsEnv)
	if v == "" {
		return 0, nil
	}
	var fs []fault.Fault
	for _, name := range strings.Split(v, ",") {
		f, err := fault.Parse(strings.TrimSpace(name))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", FaultsEnv, err)
		}
		fs = append(fs, f)
	}
	return fault.Of(fs...), nil
}

// fuzzIncr is the body shared by the incremental fuzz targets.
func fuzzIncr(f *testing.F, tg incrTarget) {
	if tg.format == obj.Wasm {
		tools.Require(f, "wasm-validate")
		tools.Require(f, "wasm-objdump")
	} else {
		tools.Require(f, "llvm-readobj")
		tools.Require(f, "llvm-objdump")
	}
	if tg.format == obj.MachO || tg.format == obj.COFF {
		tools.Require(f, "libunicorn")
	}
	for _, s := range incrSeeds(f, tg) {
		f.Add(s)
	}
	// One runner and one pool of LLVM's fork servers per fuzz worker
	// process.
	var (
		once   sync.Once
		runner *exec.Runner
		pool   *toolsrv.Pool
	)
	f.Cleanup(func() {
		if runner != nil {
			runner.Close()
			pool.Close()
		}
	})
	faults, err := envFaults()
	if err != nil {
		f.Fatal(err)
	}
	stats := NewStatsRecorder(tg.name)
	f.Cleanup(func() { _ = stats.Flush() })
	f.Fuzz(func(t *testing.T, data []byte) {
		once.Do(func() { runner, pool = exec.NewRunner(), toolsrv.NewPool() })
		in := decodeIncr(data)
		if err := runIncr(context.Background(), tg, in, t.TempDir(), incrCheckOptions{Runner: runner, Tools: pool, LLVMEvery: llvmSample, Faults: faults, Stats: stats}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzIncrementalELF draws a generated program (seed, 1 to 40 functions),
// a policy and up to 20 edits of every kind from the fuzzer's bytes and
// updates the incremental ELF output once per edit: after each update
// every invariant holds (3-7), the native run gives the interpreter's
// value (1) and the canonical image equals a fresh reference link's (2);
// LLVM's tools read the last version (8). Edits that do not apply are
// skipped.
func FuzzIncrementalELF(f *testing.F) { fuzzIncr(f, targetIncrementalELF) }

// FuzzIncrementalCOFF is FuzzIncrementalELF for incremental PE outputs
// (ref/coff.IncrImage): the same programs, edits and seeds, every
// invariant with the PE checks (section table, SizeOfImage, base
// relocations) after each update, the value under unicorn, the fresh-link
// diff.
func FuzzIncrementalCOFF(f *testing.F) { fuzzIncr(f, targetIncrementalCOFF) }

// FuzzIncrementalMachO is FuzzIncrementalELF for incremental Mach-O
// outputs (macho.IncrImage), run under unicorn: the same programs, edits
// and checks, with the Mach-O invariants (rebase opcodes listing exactly
// the pointers and used GOT slots, LC_DYSYMTAB, __LINKEDIT) among 3 to 7.
func FuzzIncrementalMachO(f *testing.F) { fuzzIncr(f, targetIncrementalMachO) }

// FuzzIncrementalWasm is FuzzIncrementalELF for incremental Wasm modules
// (wasm.IncrImage), run under wazero: the same programs, edits and seeds,
// the Wasm invariants (table slots, call indexes, body framing, data,
// exports, the error table) after each update, the value under wazero,
// the fresh-link diff through canon, wasm-validate on a sample.
func FuzzIncrementalWasm(f *testing.F) { fuzzIncr(f, targetIncrementalWasm) }

// FuzzErrorTable changes only the error set: errors added at any position
// (up to ~300 and more, names up to 400 bytes), renamed, and used by main
// through errlen/errbyte of literal and numbered errors, on programs that
// also use computed errors. The error table must decode to the current
// names (7) and the values must match.
func FuzzErrorTable(f *testing.F) { fuzzIncr(f, targetErrorTable) }

// FuzzTrampoline grows, shrinks, re-aligns and so moves the same three
// functions (recursive ones first) again and again under the trampoline
// policy: every trampoline must jump to its function's current place (4),
// values and the fresh-link diff must hold.
func FuzzTrampoline(f *testing.F) { fuzzIncr(f, targetTrampoline) }

// FuzzGOT moves, deletes and adds functions and retargets calls and
// pointers under the got policy: every GOT slot must hold its symbol's
// current address (3), and the other checks hold.
func FuzzGOT(f *testing.F) { fuzzIncr(f, targetGOT) }
