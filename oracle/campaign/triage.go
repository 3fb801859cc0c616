package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/fuzz"
	"github.com/linkcheck/linkcheck/ref/ir"
)

// The replay protocol of fuzz/campaign_test.go's TestCampaignReplay.
const (
	replayTargetEnv = "LINKCHECK_REPLAY_TARGET"
	replayInputEnv  = "LINKCHECK_REPLAY_INPUT"
	replayOutEnv    = "LINKCHECK_REPLAY_OUT"
)

// Replay is the result of running one input of an incremental target:
// the program versions of its sequence and the failure, if any.
type Replay struct {
	Target   string   `json:"target"`
	Input    []byte   `json:"input"`
	Policy   string   `json:"policy"`
	Funcs    int      `json:"funcs"`
	Versions []string `json:"versions"`
	Steps    []int    `json:"steps"`
	Log      []string `json:"log"`
	Error    string   `json:"error,omitempty"`
	// Units and Linker are FuzzLinker's: the objects the program is split
	// into and the linker under test.
	Units  int    `json:"units,omitempty"`
	Linker string `json:"linker,omitempty"`
}

// Reduction is what triage did with a finding.
type Reduction struct {
	// Signature is the one that was kept while reducing.
	Signature string `json:"signature"`
	// Original and Reduced are the decoded inputs of an incremental
	// target; LinkerOriginal and LinkerReduced FuzzLinker's, with Units
	// the reduced program's objects.
	Original       fuzz.IncrInput    `json:"original"`
	Reduced        fuzz.IncrInput    `json:"reduced"`
	LinkerOriginal *fuzz.LinkerInput `json:"linker_original,omitempty"`
	LinkerReduced  *fuzz.LinkerInput `json:"linker_reduced,omitempty"`
	Units          int               `json:"units,omitempty"`
	// Funcs is the number of functions of the last version, Updates the
	// number of updates of the scenario.
	Funcs   int `json:"funcs"`
	Updates int `json:"updates"`
	// Tries is the number of candidates run.
	Tries int `json:"tries"`
	// Scenario is the regression scenario's path, relative to OUT.
	Scenario string `json:"scenario,omitempty"`
	// Reproduces says whether the scenario, replayed through the
	// file-based `linkcheck update` path, fails with the same check (with
	// the campaign's faults) and passes without them.
	Reproduces string `json:"reproduces,omitempty"`
	// Message is the reduced input's failure.
	Message string `json:"message"`
}

// replayer runs inputs through the campaign's test binary, with the
// campaign's seeded defects and linker under test.
type replayer struct {
	binary, src, faults, linker string
	dir                         string
	tries                       int
}

func (r *replayer) run(ctx context.Context, target string, input []byte, seed string) (*Replay, error) {
	r.tries++
	in := seed
	if seed == "" {
		in = filepath.Join(r.dir, fmt.Sprintf("in-%d", r.tries))
		if err := os.WriteFile(in, input, 0o644); err != nil {
			return nil, err
		}
		defer os.Remove(in)
	}
	outPath := filepath.Join(r.dir, fmt.Sprintf("out-%d.json", r.tries))
	defer os.Remove(outPath)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, r.binary, "-test.run=^TestCampaignReplay$", "-test.count=1")
	cmd.Dir = filepath.Join(r.src, "fuzz")
	cmd.Env = append(os.Environ(), replayTargetEnv+"="+target, replayInputEnv+"="+in, replayOutEnv+"="+outPath)
	// Always set: the campaign's own environment may plant defects that
	// this replay must not have.
	cmd.Env = append(cmd.Env, FaultsEnv+"="+r.faults)
	if r.linker != "" {
		cmd.Env = append(cmd.Env, LinkerEnv+"="+r.linker)
	}
	out, err := cmd.CombinedOutput()
	data, rerr := os.ReadFile(outPath)
	if rerr != nil {
		return nil, fmt.Errorf("replaying %s input: %v\n%s", target, err, lastLines(string(out), 10))
	}
	var rep Replay
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("replaying %s input: %w", target, err)
	}
	return &rep, nil
}

// seedInput returns the corpus file of a seed entry (seed#N) of a target
// triage reduces, which Go does not write anywhere.
func (c *campaign) seedInput(target, seed string) ([]byte, error) {
	if !reducible(target) {
		return nil, fmt.Errorf("%s: the bytes of seed entries are known only for the incremental targets and FuzzLinker", target)
	}
	dir, err := os.MkdirTemp("", "linkcheck-seed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &replayer{binary: c.binary, src: c.cfg.Src, faults: "", linker: c.st.Linker, dir: dir}
	rep, err := r.run(context.Background(), target, nil, seed)
	if err != nil {
		return nil, err
	}
	if target == wasmTarget {
		var in fuzz.LinkerInput
		if err := json.Unmarshal(rep.Input, &in); err != nil {
			return nil, err
		}
		return formatWasmInput(in), nil
	}
	return FormatCorpusFile(rep.Input), nil
}

// triage signs every finding, groups them by signature and reduces one
// finding per signature of an incremental target or FuzzLinker into a
// regression scenario in OUT/regressions.
func (c *campaign) triage(ctx context.Context) error {
	findings, err := c.store.all()
	if err != nil {
		return err
	}
	groups := map[string][]*Finding{}
	for _, f := range findings {
		if f.Signature == nil {
			s := ParseSignature(f.Message)
			f.Signature = &s
			if err := c.store.update(f); err != nil {
				return err
			}
		}
		key := f.Target + " " + f.Signature.String()
		groups[key] = append(groups[key], f)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dir, err := os.MkdirTemp("", "linkcheck-triage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, k := range keys {
		g := groups[k]
		if ctx.Err() != nil {
			return ctx.Err()
		}
		done := false
		for _, f := range g {
			done = done || f.Reduced != nil
		}
		if done || !reducible(g[0].Target) || !g[0].HasInput {
			continue
		}
		f := g[0]
		c.emit(Event{Event: "triage", Target: f.Target, Finding: f.ID, Message: "reducing " + f.Signature.String()})
		var input []byte
		if f.Target == wasmTarget {
			input, err = os.ReadFile(filepath.Join(c.store.path(f.ID), "input"))
		} else {
			input, err = c.store.input(f.ID)
		}
		if err != nil {
			c.emit(Event{Event: "error", Target: f.Target, Finding: f.ID, Message: "triage: " + err.Error()})
			continue
		}
		r := &replayer{binary: c.binary, src: c.cfg.Src, faults: f.Faults, linker: f.Linker, dir: dir}
		budget := c.cfg.ReduceBudget
		if budget == 0 {
			budget = 3 * time.Minute
		}
		reduce := Reduce
		if f.Target == linkerTarget || f.Target == wasmTarget {
			reduce = ReduceLinker
		}
		red, rep, err := reduce(ctx, r, f.Target, input, *f.Signature, budget)
		if err != nil {
			c.emit(Event{Event: "error", Target: f.Target, Finding: f.ID, Message: "triage: " + err.Error()})
			continue
		}
		name := scenarioName(f, red)
		rel := filepath.Join("regressions", name+".txtar")
		if err := os.MkdirAll(filepath.Join(c.cfg.Out, "regressions"), 0o755); err != nil {
			return err
		}
		var text string
		if f.Target == linkerTarget || f.Target == wasmTarget {
			text, err = LinkerScenario(f, red, rep)
			if err != nil {
				c.emit(Event{Event: "error", Target: f.Target, Finding: f.ID, Message: "triage: " + err.Error()})
				continue
			}
			red.Reproduces = c.checkLinkerScenario(ctx, rep, f)
		} else {
			text = Scenario(f, red, rep)
			red.Reproduces = c.checkScenario(ctx, rep, f)
		}
		if err := writeFileAtomic(filepath.Join(c.cfg.Out, rel), []byte(text), 0o644); err != nil {
			return err
		}
		red.Scenario = rel
		for _, g := range g {
			g.Reduced = red
			if err := c.store.update(g); err != nil {
				return err
			}
		}
		size := fmt.Sprintf("%d functions, %d updates", red.Funcs, red.Updates)
		if red.LinkerReduced != nil {
			size = fmt.Sprintf("%d functions, %d objects", red.Funcs, red.Units)
		}
		c.emit(Event{Event: "triage", Target: f.Target, Finding: f.ID,
			Message: fmt.Sprintf("%s: %s, %d tries: %s (%s)", f.Signature, size, red.Tries, rel, red.Reproduces)})
	}
	return nil
}

// checkScenario replays the reduced versions through the file-based
// incremental path and says whether they reproduce.
func (c *campaign) checkScenario(ctx context.Context, rep *Replay, f *Finding) string {
	with := ReplayScenario(ctx, rep.Versions, rep.Policy, f.Faults)
	if with == nil {
		return "no: the versions pass through linkcheck update"
	}
	if s := ParseSignature("after update 1: " + with.Error()); s.Check != f.Signature.Check {
		return fmt.Sprintf("partly: through linkcheck update it fails %s, not %s", s.Check, f.Signature.Check)
	}
	if f.Faults == "" {
		return "yes: fails " + f.Signature.Check
	}
	if without := ReplayScenario(ctx, rep.Versions, rep.Policy, ""); without != nil {
		return "no: it also fails without the seeded defect: " + firstLine(without.Error())
	}
	return fmt.Sprintf("yes: fails %s with %s, passes without", f.Signature.Check, f.Faults)
}

// scenarioName names a regression scenario after the target, the check
// and the mechanism, e.g. trampoline_inv4_set-align.
func scenarioName(f *Finding, red *Reduction) string {
	s := f.Signature
	name := strings.TrimPrefix(strings.ToLower(f.Target), "fuzz")
	if m := invariantRe.FindStringSubmatch(s.Check); m != nil {
		name += "_inv" + m[1]
	} else if len(s.Keys) > 0 {
		name += "_" + strings.ReplaceAll(strings.Join(s.Keys, "+"), ".", "-")
	} else {
		name += "_fail"
	}
	if s.Mechanism != "" {
		name += "_" + strings.ReplaceAll(s.Mechanism, " ", "-")
	}
	if f.Faults != "" {
		name += "_" + strings.ReplaceAll(f.Faults, ",", "+")
	}
	return name
}

// Scenario writes the reduced sequence as a testscript: every version as a
// .lir file, `linkcheck update` and `linkcheck check` after each, and the
// value of the last version by `linkcheck run` against `linkcheck interp`.
func Scenario(f *Finding, red *Reduction, rep *Replay) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Regression scenario of finding %s (%s), reduced by linkcheck fuzz\n", f.ID, f.Target)
	fmt.Fprintf(&b, "# from %d edits to %d updates of %d functions (%d tries).\n", len(red.Original.Edits), red.Updates, red.Funcs, red.Tries)
	fmt.Fprintf(&b, "# signature: %s\n", red.Signature)
	if f.Faults != "" {
		fmt.Fprintf(&b, "# fault: %s\n", f.Faults)
		fmt.Fprintf(&b, "# Found with the seeded defect %s planted (%s=%s): on the correct linker every\n", f.Faults, FaultsEnv, f.Faults)
		fmt.Fprintf(&b, "# check passes; with the defect, `linkcheck check` fails %s.\n", strings.SplitN(red.Signature, " | ", 2)[0])
	}
	fmt.Fprintf(&b, "# The fuzz input: %s (after findings/%s/reproduce.sh puts it in place).\n", f.Reproduce, f.ID)
	fmt.Fprintf(&b, "[!tools:ld.lld,llvm-readobj,llvm-objdump] skip 'tools missing: run sudo ci/install-tools.sh'\n\n")
	last := len(rep.Versions)
	for i := 1; i <= last; i++ {
		if i > 1 {
			fmt.Fprintf(&b, "\n# update %d: %s\n", i-1, editOf(rep, i-1))
		}
		fmt.Fprintf(&b, "exec linkcheck update -format elf -policy %s -o out v%d.lir\n", rep.Policy, i)
		fmt.Fprintf(&b, "exec linkcheck check out\nstdout 'all invariants hold'\n")
	}
	fmt.Fprintf(&b, "\n# The last version computes the interpreter's value.\nexec linkcheck run out\ncp stdout got.txt\nexec linkcheck interp v%d.lir\ncmp stdout got.txt\n", last)
	for i, v := range rep.Versions {
		fmt.Fprintf(&b, "\n-- v%d.lir --\n%s", i+1, strings.TrimRight(v, "\n")+"\n")
	}
	return b.String()
}

// editOf returns the log line of the edit that made version i (0-based).
func editOf(rep *Replay, i int) string {
	if i >= len(rep.Steps) {
		return ""
	}
	prefix := fmt.Sprintf("%d: ", rep.Steps[i])
	for _, l := range rep.Log {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimPrefix(l, prefix)
		}
	}
	return ""
}

// countFuncs is the number of functions of a version's source.
func countFuncs(src string) int {
	m, err := ir.Parse("v.lir", []byte(src))
	if err != nil {
		return 0
	}
	return len(m.Funcs)
}
