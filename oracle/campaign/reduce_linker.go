package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/fuzz"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// linkerTarget and wasmTarget are the full-link targets whose findings
// are reduced structurally: their inputs are a program seed, a number of
// functions and a number of objects (fuzz.LinkerInput; FuzzWasmProgram
// takes them as three arguments).
const (
	linkerTarget = "FuzzLinker"
	wasmTarget   = "FuzzWasmProgram"
)

// reducible says whether triage reduces the target's findings.
func reducible(target string) bool {
	return incrementalTargets[target] || target == linkerTarget || target == wasmTarget
}

// formatWasmInput is FuzzWasmProgram's corpus file of in.
func formatWasmInput(in fuzz.LinkerInput) []byte {
	return []byte(fmt.Sprintf("%s\nint64(%d)\nuint8(%d)\nuint8(%d)\n", corpusHeader, in.Seed, in.Funcs, in.Units))
}

// parseWasmInput reads FuzzWasmProgram's corpus file.
func parseWasmInput(data []byte) (fuzz.LinkerInput, error) {
	var in fuzz.LinkerInput
	v, err := CorpusValues(data)
	if err != nil {
		return in, err
	}
	if len(v) != 3 {
		return in, fmt.Errorf("%s input: %d values, want 3 (seed, funcs, units)", wasmTarget, len(v))
	}
	if _, err := fmt.Sscanf(strings.Join(v, " "), "int64(%d) uint8(%d) uint8(%d)", &in.Seed, &in.Funcs, &in.Units); err != nil {
		return in, fmt.Errorf("%s input %q: %w", wasmTarget, strings.Join(v, " "), err)
	}
	return in, nil
}

// encodeTuple is the replay input of a full-link target's input.
func encodeTuple(target string, in fuzz.LinkerInput) []byte {
	if target == wasmTarget {
		data, _ := json.Marshal(in)
		return data
	}
	return fuzz.EncodeLinker(in)
}

// ReduceLinker shrinks a FuzzLinker input (the fuzz input's bytes) or a
// FuzzWasmProgram input (its corpus file) by delta debugging on its
// decoded structure (fuzz.LinkerInput): fewer objects, fewer functions,
// and other program seeds with one to three functions while the program
// is bigger, keeping a candidate only when it fails with the same
// signature. Every candidate runs in the fuzz package's own code
// (TestCampaignReplay, with the campaign's linker under test and
// defects).
func ReduceLinker(ctx context.Context, r *replayer, target string, input []byte, sig Signature, budget time.Duration) (*Reduction, *Replay, error) {
	deadline := time.Now().Add(budget)
	orig := fuzz.DecodeLinker(input)
	if target == wasmTarget {
		var err error
		if orig, err = parseWasmInput(input); err != nil {
			return nil, nil, err
		}
	}
	st := &sigTest{ctx: ctx, r: r, target: target, want: sig.String(), deadline: deadline}
	test := func(in fuzz.LinkerInput) (*Replay, bool) { return st.test(encodeTuple(target, in)) }
	best := orig
	bestRep, ok := test(orig)
	if !ok {
		return nil, nil, st.notFailing()
	}
	funcs := func(in fuzz.LinkerInput) int { return int(in.Funcs) % 40 }
	units := func(in fuzz.LinkerInput) int { return int(in.Units) % 4 }
	for progress := true; progress && time.Now().Before(deadline); {
		progress = false
		// Fewer objects.
		for u := 0; u < units(best); u++ {
			cand := best
			cand.Units = uint8(u)
			if rep, ok := test(cand); ok {
				best, bestRep, progress = cand, rep, true
				break
			}
		}
		// Fewer functions.
		for f := 0; f < funcs(best); f++ {
			cand := best
			cand.Funcs = uint8(f)
			if rep, ok := test(cand); ok {
				best, bestRep, progress = cand, rep, true
				break
			}
		}
		// Smaller programs: other seeds with one to three functions.
		if funcs(best) > 2 {
		search:
			for seed := int64(1); seed <= 40; seed++ {
				for f := uint8(0); f < 3; f++ {
					cand := best
					cand.Seed, cand.Funcs = seed, f
					if rep, ok := test(cand); ok {
						best, bestRep, progress = cand, rep, true
						break search
					}
				}
			}
		}
		// Simpler bodies: another seed of the same size with a shorter
		// program.
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
	}
	o, b := orig, best
	red := &Reduction{Signature: st.want, LinkerOriginal: &o, LinkerReduced: &b, Tries: r.tries, Units: bestRep.Units, Message: bestRep.Error}
	if len(bestRep.Versions) > 0 {
		red.Funcs = countFuncs(bestRep.Versions[0])
	}
	return red, bestRep, nil
}

// LinkerScenario writes a reduced FuzzLinker sequence as a testscript: the
// program, `linkcheck diff` of the linker under test against ld.lld (no
// difference), and `linkcheck run` of its link against `linkcheck interp`.
// A cmd: linker whose program is a file (a script) is copied into the
// scenario and run from there.
func LinkerScenario(f *Finding, red *Reduction, rep *Replay) (string, error) {
	if len(rep.Versions) != 1 {
		return "", fmt.Errorf("a FuzzLinker replay has one program, not %d", len(rep.Versions))
	}
	if f.Target == wasmTarget {
		return wasmScenario(f, red, rep), nil
	}
	flag, script, err := scenarioLinker(rep.Linker)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Regression scenario of finding %s (%s), reduced by linkcheck fuzz\n", f.ID, f.Target)
	o := red.LinkerOriginal
	fmt.Fprintf(&b, "# from seed %d, %d functions, %d objects to %d functions, %d objects (%d tries).\n",
		o.Seed, 1+int(o.Funcs)%40, 1+int(o.Units)%4, red.Funcs, red.Units, red.Tries)
	fmt.Fprintf(&b, "# signature: %s\n", red.Signature)
	fmt.Fprintf(&b, "# linker: %s\n", rep.Linker)
	if f.Faults != "" {
		fmt.Fprintf(&b, "# fault: %s\n", f.Faults)
		fmt.Fprintf(&b, "# Found with the seeded defect %s planted (%s=%s reaches the linker under test): on a\n", f.Faults, FaultsEnv, f.Faults)
		fmt.Fprintf(&b, "# correct linker every check passes; with the defect, `linkcheck diff` fails.\n")
	}
	fmt.Fprintf(&b, "# The fuzz input: %s (after findings/%s/reproduce.sh puts it in place).\n", f.Reproduce, f.ID)
	fmt.Fprintf(&b, "[!tools:ld.lld,llvm-readobj,llvm-objdump] skip 'tools missing: run sudo ci/install-tools.sh'\n")
	if script != "" {
		fmt.Fprintf(&b, "chmod 755 linker.sh\n")
	}
	fmt.Fprintf(&b, "\n# The linker under test links the program's %d objects as ld.lld does (its rules applied).\n", red.Units)
	fmt.Fprintf(&b, "exec linkcheck diff -format elf -linker %s -units %d prog.lir\nstdout '^no difference'\n", flag, red.Units)
	fmt.Fprintf(&b, "\n# Its executable computes the interpreter's value.\nexec linkcheck interp prog.lir\ncp stdout want.txt\n")
	fmt.Fprintf(&b, "exec linkcheck run -format elf -linker %s -units %d prog.lir\ncmp stdout want.txt\n", flag, red.Units)
	fmt.Fprintf(&b, "\n-- prog.lir --\n%s", strings.TrimRight(rep.Versions[0], "\n")+"\n")
	if script != "" {
		fmt.Fprintf(&b, "-- linker.sh --\n%s", strings.TrimRight(script, "\n")+"\n")
	}
	return b.String(), nil
}

// wasmScenario writes a reduced FuzzWasmProgram input as a testscript:
// the program and `linkcheck run -format wasm -exec all` of its objects
// linked by wasm-ld against `linkcheck interp`.
func wasmScenario(f *Finding, red *Reduction, rep *Replay) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Regression scenario of finding %s (%s), reduced by linkcheck fuzz\n", f.ID, f.Target)
	o := red.LinkerOriginal
	fmt.Fprintf(&b, "# from seed %d, %d functions, %d objects to %d functions, %d objects (%d tries).\n",
		o.Seed, 1+int(o.Funcs)%40, 1+int(o.Units)%4, red.Funcs, red.Units, red.Tries)
	fmt.Fprintf(&b, "# signature: %s\n", red.Signature)
	fmt.Fprintf(&b, "# units: %d\n", red.Units)
	if f.Faults != "" {
		fmt.Fprintf(&b, "# fault: %s\n", f.Faults)
		fmt.Fprintf(&b, "# Found with the seeded defect %s planted in ref/wasmgen (%s=%s): on the correct\n", f.Faults, FaultsEnv, f.Faults)
		fmt.Fprintf(&b, "# code generator every engine computes the interpreter's value; with the defect, not.\n")
	}
	fmt.Fprintf(&b, "# The fuzz input: %s (after findings/%s/reproduce.sh puts it in place).\n", f.Reproduce, f.ID)
	fmt.Fprintf(&b, "[!tools:wasm-ld] skip 'tools missing: run sudo ci/install-tools.sh'\n")
	fmt.Fprintf(&b, "\n# The program's %d objects, linked by wasm-ld, compute the interpreter's value under every Wasm oracle.\n", red.Units)
	fmt.Fprintf(&b, "exec linkcheck interp prog.lir\ncp stdout want.txt\nexec linkcheck run -format wasm -exec all -units %d prog.lir\ncmp stdout want.txt\n", red.Units)
	fmt.Fprintf(&b, "\n-- prog.lir --\n%s", strings.TrimRight(rep.Versions[0], "\n")+"\n")
	return b.String()
}

// ReplayWasmScenario builds src's program into units Wasm objects with
// the defects faults (comma-separated catalogue names) planted in
// ref/wasmgen, links them with wasm-ld and runs the module under every
// Wasm oracle, as the scenario's `linkcheck run -format wasm -exec all`
// does with the correct code generator; it returns the first wrong
// value, or nil.
func ReplayWasmScenario(ctx context.Context, src string, units int, faults string) error {
	m, err := ir.Parse("prog.lir", []byte(src))
	if err != nil {
		return err
	}
	set, err := parseFaults(faults)
	if err != nil {
		return err
	}
	want, err := pipeline.Expected(m)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "linkcheck-wasm-scenario-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names, files, err := pipeline.WasmObjects(m, units, wasmgen.Options{Faults: set})
	if err != nil {
		return err
	}
	paths, err := pipeline.WriteFiles(dir, names, files)
	if err != nil {
		return err
	}
	exe := filepath.Join(dir, "a.wasm")
	if _, err := pipeline.LinkLLD(ctx, obj.Wasm, paths, exe); err != nil {
		return err
	}
	_, err = pipeline.RunWasmEngines(ctx, exe, want)
	return err
}

// parseFaults parses comma-separated catalogue names.
func parseFaults(faults string) (fault.Set, error) {
	var set fault.Set
	for _, name := range strings.Split(faults, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		f, err := fault.Parse(name)
		if err != nil {
			return 0, err
		}
		set |= fault.Of(f)
	}
	return set, nil
}

// scenarioLinker returns the -linker argument of a scenario (quoted for
// testscript) and, for a cmd: template whose program is a file, that
// file's contents: the template then runs $WORK/linker.sh.
func scenarioLinker(name string) (flag, script string, err error) {
	tmpl, ok := strings.CutPrefix(name, "cmd:")
	if !ok {
		return name, "", nil
	}
	fields := strings.Fields(tmpl)
	if len(fields) == 0 {
		return "", "", fmt.Errorf("linker %q: an empty command", name)
	}
	if strings.Contains(fields[0], "/") {
		data, err := os.ReadFile(fields[0])
		if err != nil {
			return "", "", fmt.Errorf("linker %q: %w", name, err)
		}
		// testscript expands $WORK outside the quotes.
		return "cmd:$WORK/linker.sh'" + strings.TrimPrefix(tmpl, fields[0]) + "'", string(data), nil
	}
	return "'cmd:" + tmpl + "'", "", nil
}

// checkLinkerScenario replays the reduced program through the target's
// check with the campaign's seeded defects in the linker's environment
// (FaultsEnv) and again without them, and says whether it reproduces.
// (TestRegressionsFailWithTheirDefect replays the scenario itself.)
func (c *campaign) checkLinkerScenario(ctx context.Context, rep *Replay, f *Finding) string {
	dir, err := os.MkdirTemp("", "linkcheck-check-")
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer os.RemoveAll(dir)
	replay := func(faults string) (*Replay, error) {
		r := &replayer{binary: c.binary, src: c.cfg.Src, faults: faults, linker: rep.Linker, dir: dir}
		return r.run(ctx, f.Target, rep.Input, "")
	}
	with, err := replay(f.Faults)
	if err != nil {
		return "unknown: " + err.Error()
	}
	if with.Error == "" {
		return "no: the reduced program passes " + f.Target + "'s check"
	}
	if f.Faults == "" {
		return "yes: " + ParseSignature(with.Error).Check
	}
	without, err := replay("")
	if err != nil {
		return "unknown: " + err.Error()
	}
	if without.Error != "" {
		return "no: it also fails without the seeded defect: " + firstLine(without.Error)
	}
	return fmt.Sprintf("yes: fails %s with %s, passes without", ParseSignature(with.Error).String(), f.Faults)
}

// ReplayLinkerScenario links src's program split into units objects with
// the linker named (a registry name or cmd:TEMPLATE, run in this
// process's environment) and with ld.lld, as `linkcheck diff` and
// `linkcheck run` do; it returns the first difference or wrong value, or
// nil.
func ReplayLinkerScenario(ctx context.Context, src string, units int, name string) error {
	m, err := ir.Parse("prog.lir", []byte(src))
	if err != nil {
		return err
	}
	l, err := linker.Lookup(name)
	if err != nil {
		return err
	}
	lld, err := linker.Lookup(linker.LLD)
	if err != nil {
		return err
	}
	want, err := ir.Interp(m, ir.InterpOptions{})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "linkcheck-linker-scenario-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	objs, err := pipeline.BuildDir(m, obj.ELF, units, filepath.Join(dir, "obj"))
	if err != nil {
		return err
	}
	res, err := pipeline.DiffLinkers(ctx, obj.ELF, lld, l, objs, dir, diff.Options{Ignore: l.Rules})
	if err != nil {
		return err
	}
	if !res.Report.Equal() {
		return fmt.Errorf("linkcheck diff: its image differs from ld.lld's:\n%s", res.Report.Text())
	}
	runner := exec.NewRunner()
	defer runner.Close()
	got, err := runner.Run(ctx, res.ExeB, exec.Options{Mode: exec.Native})
	if err != nil {
		return fmt.Errorf("linkcheck run: %w", err)
	}
	if !got.Matches(want) {
		return fmt.Errorf("linkcheck run: its executable computed %s, the interpreter says %d", got, want)
	}
	return nil
}
