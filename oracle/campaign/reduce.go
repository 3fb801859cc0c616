package campaign

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/linkcheck/linkcheck/fuzz"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// sigTest replays encoded inputs of one target until a deadline and says
// whether each still fails with the signature want; lastErr keeps the last
// replay's error or signature for the message when the original does not.
type sigTest struct {
	ctx      context.Context
	r        *replayer
	target   string
	want     string
	deadline time.Time
	lastErr  string
}

// test replays input: its replay, and whether it fails with want.
func (s *sigTest) test(input []byte) (*Replay, bool) {
	if time.Now().After(s.deadline) || s.ctx.Err() != nil {
		return nil, false
	}
	rep, err := s.r.run(s.ctx, s.target, input, "")
	if err != nil {
		s.lastErr = err.Error()
		return nil, false
	}
	if rep.Error == "" {
		return rep, false
	}
	got := ParseSignature(rep.Error).String()
	s.lastErr = got
	return rep, got == s.want
}

// notFailing is the error for an original input that does not fail with
// want when replayed.
func (s *sigTest) notFailing() error {
	return fmt.Errorf("the finding does not fail with %q when replayed (%s)", s.want, s.lastErr)
}

// Reduce shrinks an incremental target's failing input by delta debugging
// on its decoded structure (fuzz.DecodeIncr), beyond what Go's byte
// minimizer can do: fewer edits (ddmin over the edit list), fewer
// functions, another program seed when its versions are shorter (simpler
// bodies), smaller sizes and simpler edit operands, keeping a candidate
// only when it still fails with the same signature. Every candidate is run
// by the fuzz package's own code (fuzz/campaign_test.go's
// TestCampaignReplay in the campaign's test binary). It stops at budget
// and returns the smallest input found with its replay.
func Reduce(ctx context.Context, r *replayer, target string, input []byte, sig Signature, budget time.Duration) (*Reduction, *Replay, error) {
	deadline := time.Now().Add(budget)
	st := &sigTest{ctx: ctx, r: r, target: target, want: sig.String(), deadline: deadline}
	orig := fuzz.DecodeIncr(input)
	test := func(in fuzz.IncrInput) (*Replay, bool) { return st.test(fuzz.EncodeIncr(in)) }
	best := orig
	bestRep, ok := test(orig)
	if !ok {
		return nil, nil, st.notFailing()
	}
	accept := func(in fuzz.IncrInput) bool {
		rep, ok := test(in)
		if ok {
			best, bestRep = in, rep
		}
		return ok
	}
	for progress := true; progress && time.Now().Before(deadline); {
		progress = false
		// Fewer edits: ddmin, removing chunks of the edit list.
		if len(best.Edits) > 0 {
			cand := best
			cand.Edits = nil
			if accept(cand) {
				progress = true
			}
		}
		n := 2
		for len(best.Edits) >= 2 && time.Now().Before(deadline) {
			chunk := (len(best.Edits) + n - 1) / n
			removed := false
			for i := 0; i < len(best.Edits); i += chunk {
				cand := best
				cand.Edits = append(append([]fuzz.IncrEdit(nil), best.Edits[:i]...), best.Edits[min(i+chunk, len(best.Edits)):]...)
				if accept(cand) {
					removed, progress = true, true
					n = max(n-1, 2)
					break
				}
			}
			if !removed {
				if n >= len(best.Edits) {
					break
				}
				n = min(2*n, len(best.Edits))
			}
		}
		if len(best.Edits) == 1 {
			cand := best
			cand.Edits = nil
			if accept(cand) {
				progress = true
			}
		}
		// Fewer functions.
		cur := int(best.Funcs) % 40
		for f := 0; f < cur && f < 8; f++ {
			cand := best
			cand.Funcs = uint8(f)
			if accept(cand) {
				progress = true
				break
			}
		}
		// Simpler bodies: another program of the same shape whose versions
		// are shorter.
		for s := int64(1); s <= 4; s++ {
			if s == best.Seed {
				continue
			}
			cand := best
			cand.Seed = s
			if rep, ok := test(cand); ok && sourceLen(rep) < sourceLen(bestRep) {
				best, bestRep, progress = cand, rep, true
			}
		}
		// Smaller programs: other seeds with one to three functions, when
		// the sequence is still bigger than three functions or updates.
		if sz := size(bestRep); sz[0] > 3 || sz[1] > 3 {
		search:
			for seed := int64(1); seed <= 12; seed++ {
				for f := uint8(0); f < 3; f++ {
					if seed == best.Seed && f == best.Funcs {
						continue
					}
					cand := best
					cand.Seed, cand.Funcs = seed, f
					if rep, ok := test(cand); ok && less(size(rep), size(bestRep)) {
						best, bestRep, progress = cand, rep, true
						break search
					}
				}
			}
		}
		// Fewer errors (FuzzErrorTable).
		for best.Errors > 0 {
			cand := best
			cand.Errors = best.Errors / 2
			if !accept(cand) {
				break
			}
			progress = true
		}
		// Smaller sizes and simpler operands.
		for i := range best.Edits {
			if best.Edits[i].Size != 0 {
				for _, v := range []uint16{0, best.Edits[i].Size / 2} {
					if v == best.Edits[i].Size {
						continue
					}
					cand := withEdit(best, i, func(e *fuzz.IncrEdit) { e.Size = v })
					if accept(cand) {
						progress = true
						break
					}
				}
			}
			for _, field := range []func(*fuzz.IncrEdit) *uint8{
				func(e *fuzz.IncrEdit) *uint8 { return &e.A },
				func(e *fuzz.IncrEdit) *uint8 { return &e.B },
				func(e *fuzz.IncrEdit) *uint8 { return &e.C },
			} {
				if *field(&best.Edits[i]) != 0 {
					if accept(withEdit(best, i, func(e *fuzz.IncrEdit) { *field(e) = 0 })) {
						progress = true
					}
				}
			}
		}
	}
	red := &Reduction{Signature: st.want, Original: orig, Reduced: best, Tries: r.tries, Updates: len(bestRep.Versions) - 1, Message: bestRep.Error}
	if len(bestRep.Versions) > 0 {
		red.Funcs = countFuncs(bestRep.Versions[len(bestRep.Versions)-1])
	}
	if firstBad := failingVersion(bestRep); firstBad > 0 && firstBad < len(bestRep.Versions) {
		// The versions after the failing update are not needed.
		bestRep.Versions = bestRep.Versions[:firstBad+1]
		bestRep.Steps = bestRep.Steps[:firstBad+1]
		red.Updates = firstBad
		red.Funcs = countFuncs(bestRep.Versions[firstBad])
	}
	return red, bestRep, nil
}

// failingVersion is the index of the version whose update failed, from
// the "after update K" of the replay's message (K is an edit number; the
// versions list the edits that applied), or -1.
func failingVersion(rep *Replay) int {
	m := afterUpdate.FindStringSubmatch(rep.Error)
	if m == nil {
		return -1
	}
	for i, s := range rep.Steps {
		if fmt.Sprint(s) == m[1] {
			return i
		}
	}
	return -1
}

func withEdit(in fuzz.IncrInput, i int, f func(*fuzz.IncrEdit)) fuzz.IncrInput {
	out := in
	out.Edits = append([]fuzz.IncrEdit(nil), in.Edits...)
	f(&out.Edits[i])
	return out
}

func sourceLen(rep *Replay) int {
	n := 0
	for _, v := range rep.Versions {
		n += len(v)
	}
	return n
}

// ReplayScenario links versions one after the other through the
// file-based incremental path of `linkcheck update` (with the seeded
// defects faults, comma-separated, planted) and checks the output after
// each as `linkcheck check` does; it returns the first failure, naming
// the update, or nil.
func ReplayScenario(ctx context.Context, versions []string, policy, faults string) error {
	set, err := parseFaults(faults)
	if err != nil {
		return err
	}
	pol, err := incr.ParsePolicy(policy)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "linkcheck-scenario-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	runner := exec.NewRunner()
	defer runner.Close()
	out := filepath.Join(dir, "out")
	for i, src := range versions {
		m, err := ir.Parse(fmt.Sprintf("v%d.lir", i+1), []byte(src))
		if err != nil {
			return fmt.Errorf("v%d.lir: %w", i+1, err)
		}
		if _, err := pipeline.UpdateWith(out, obj.ELF, m, src, pol, set); err != nil {
			return fmt.Errorf("after update %d: linkcheck update v%d.lir: %w", i, i+1, err)
		}
		if err := pipeline.CheckIncremental(ctx, out, m, pipeline.IncrCheck{Format: obj.ELF, Policy: pol, Runner: runner, Mode: exec.Native, LLVM: true, Fresh: true, Dir: dir}); err != nil {
			return fmt.Errorf("after update %d: linkcheck check (v%d.lir): %w", i, i+1, err)
		}
	}
	return nil
}

// size is a replay's functions (of the last version) and updates.
func size(rep *Replay) [2]int {
	if len(rep.Versions) == 0 {
		return [2]int{}
	}
	return [2]int{countFuncs(rep.Versions[len(rep.Versions)-1]), len(rep.Versions) - 1}
}

func less(a, b [2]int) bool { return a[0]+a[1] < b[0]+b[1] || a[0]+a[1] == b[0]+b[1] && a[0] < b[0] }
