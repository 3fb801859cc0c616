// Package selftest runs linkcheck's seeded-defect catalogue (ref/fault)
// against its own fuzz targets: each defect is planted alone, through the
// LINKCHECK_FAULTS environment variable the incremental targets and the
// full-link target (FuzzRefLinker) read, and the targets run — their seed corpus first, then fuzzing — until one of
// them reports it or the defect's time is up. The result says, per defect,
// whether it was caught, how long it took and which check caught it: the
// harness's own measure of how sharp its judges are.
package selftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/oracle/campaign"
	"github.com/linkcheck/linkcheck/ref/fault"
)

// FaultsEnv is the environment variable through which the fuzz targets
// receive the defect to plant (fuzz.FaultsEnv).
const FaultsEnv = "LINKCHECK_FAULTS"

// Targets are the incremental fuzz targets, in the order a defect is tried
// on them: the general one first, then the specialists.
var Targets = []string{"FuzzIncrementalELF", "FuzzTrampoline", "FuzzGOT", "FuzzErrorTable"}

// LinkTargets are the full-link fuzz targets, on which the defects of
// scope "link" are tried: the reference linker against ld.lld on programs
// of several units with shadowed locals and calls through the GOT.
var LinkTargets = []string{"FuzzRefLinker"}

// TargetsOf returns the fuzz targets a defect is tried on.
func TargetsOf(f fault.Fault) []string {
	if f.Scope() == "link" {
		return LinkTargets
	}
	return Targets
}

// Config configures Run.
type Config struct {
	// Root is the module's source tree (holding go.mod and fuzz/).
	Root string
	// Defects are the defects to try; nil means every defect of the
	// catalogue whose scope is "elf" or "link" (the ones the incremental
	// ELF targets and the full-link target exercise; the other formats'
	// defects are proven by their own tests).
	Defects []fault.Fault
	// PerDefect bounds the time spent on one defect (seed runs and fuzzing
	// together); the fuzzing time is shared between the targets.
	PerDefect time.Duration
	// Progress, when not nil, is told each result as it comes.
	Progress func(Result)
	// ViaCampaign runs each defect through a fuzz campaign (`linkcheck
	// fuzz` of the Targets with the defect planted, stopping at the first
	// finding) with Jobs cores, instead of `go test` runs one target at a
	// time: the campaign's parallelism, time sharing and finding capture.
	ViaCampaign bool
	// Jobs is the campaign's cores (ViaCampaign; 0 means 2).
	Jobs int
}

// Result is what happened to one defect.
type Result struct {
	Fault  fault.Fault
	Caught bool
	// Target is the fuzz target that reported it, Phase "seeds" or "fuzz".
	Target, Phase string
	// Elapsed is the time until the report (or the time spent, when
	// missed).
	Elapsed time.Duration
	// Check names the check that reported it ("invariant 4 (trampoline)",
	// a diff key, ...), Message the first line of the report.
	Check, Message string
}

// FindRoot returns the module's source tree: dir or the first of its
// parents that holds linkcheck's go.mod.
func FindRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module github.com/linkcheck/linkcheck\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no linkcheck source tree (go.mod of github.com/linkcheck/linkcheck) at or above %s: selftest runs the fuzz targets from the source", dir)
		}
	}
}

// Run tries every defect of cfg and returns one result per defect, in
// catalogue order.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Root == "" {
		return nil, errors.New("selftest: no source tree")
	}
	if cfg.PerDefect <= 0 {
		cfg.PerDefect = 60 * time.Second
	}
	defects := cfg.Defects
	if defects == nil {
		for _, f := range fault.All() {
			if f.Scope() == "elf" || f.Scope() == "link" {
				defects = append(defects, f)
			}
		}
	}
	cache, err := os.MkdirTemp("", "linkcheck-selftest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cache)
	var results []Result
	for _, f := range defects {
		try := try
		if cfg.ViaCampaign {
			try = tryCampaign
		}
		r, err := try(ctx, cfg, cache, f)
		if err != nil {
			return results, err
		}
		if cfg.Progress != nil {
			cfg.Progress(r)
		}
		results = append(results, r)
	}
	return results, nil
}

// try runs the targets with one defect planted until one reports it.
func try(ctx context.Context, cfg Config, cache string, f fault.Fault) (Result, error) {
	start := time.Now()
	res := Result{Fault: f}
	deadline := start.Add(cfg.PerDefect)
	// The seed corpora of all targets in one run: most defects fall here.
	targets := TargetsOf(f)
	out, failed, err := goTest(ctx, cfg.Root, f, time.Until(deadline), "-run", "^("+strings.Join(targets, "|")+")$")
	if err != nil {
		return res, err
	}
	if failed {
		res.Caught, res.Phase, res.Target = true, "seeds", failedTarget(out)
		res.Check, res.Message = classify(out)
		res.Elapsed = time.Since(start)
		return res, nil
	}
	for i, target := range targets {
		left := time.Until(deadline)
		share := left / time.Duration(len(targets)-i)
		if share < 2*time.Second {
			break
		}
		dir := filepath.Join(cache, f.String(), target)
		out, failed, err := goTest(ctx, cfg.Root, f, share+30*time.Second, "-run", "^$", "-fuzz", "^"+target+"$",
			"-fuzztime", share.Round(time.Second).String(), "-fuzzminimizetime", "1x", "-parallel", "1",
			"-test.fuzzcachedir", dir)
		if err != nil {
			return res, err
		}
		if failed {
			res.Caught, res.Phase, res.Target = true, "fuzz", target
			res.Check, res.Message = classify(out)
			break
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// tryCampaign runs a campaign of the Targets with f planted, in
// work/DEFECT, until its first finding or the end of its time
// (cfg.PerDefect of fuzzing, shared by the targets as a campaign shares
// it); the test binary built for the first defect is reused by the next.
// The result's Elapsed is the time from the start of the fuzzing to the
// first finding (the seed corpora run first, then fuzzing: a seed that
// fails is phase "seeds"), Check the check its message names first.
func tryCampaign(ctx context.Context, cfg Config, work string, f fault.Fault) (Result, error) {
	start := time.Now()
	res := Result{Fault: f}
	out := filepath.Join(work, f.String())
	if err := reuseBinary(filepath.Join(work, "bin"), filepath.Join(out, "bin")); err != nil {
		return res, err
	}
	jobs := cfg.Jobs
	if jobs <= 0 {
		jobs = 2
	}
	// The time to catch counts from the start of the fuzzing (the first
	// campaign builds the test binary before).
	var fuzzStart time.Time
	_, err := campaign.Run(ctx, campaign.Config{Src: cfg.Root, Out: out, Targets: strings.Join(TargetsOf(f), ","), Time: cfg.PerDefect,
		Jobs: jobs, Faults: f.String(), StopAtFirst: true, Emit: func(e campaign.Event) {
			if e.Event == "start" {
				fuzzStart = e.Time
			}
		}})
	if err != nil {
		return res, fmt.Errorf("selftest: the campaign of %s: %w", f, err)
	}
	if err := keepBinary(filepath.Join(out, "bin"), filepath.Join(work, "bin")); err != nil {
		return res, err
	}
	rep, err := campaign.BuildReport(out)
	if err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	var first *campaign.Finding
	for _, fd := range rep.Findings {
		if first == nil || fd.Found.Before(first.Found) {
			first = fd
		}
	}
	if first == nil {
		return res, nil
	}
	res.Caught, res.Target, res.Phase = true, first.Target, "fuzz"
	if first.Seed {
		res.Phase = "seeds"
	}
	if !fuzzStart.IsZero() {
		start = fuzzStart
	}
	res.Elapsed = first.Found.Sub(start)
	res.Check, res.Message = classify(first.Message)
	return res, nil
}

// reuseBinary links the campaign test binary kept in from (and its source
// stamp) into the campaign directory to, so that the campaign does not
// build it again; nothing is done when there is none yet.
func reuseBinary(from, to string) error {
	if _, err := os.Stat(filepath.Join(from, "fuzz.test")); err != nil {
		return nil
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, n := range []string{"fuzz.test", "fuzz.test.source"} {
		if err := os.Link(filepath.Join(from, n), filepath.Join(to, n)); err != nil {
			return fmt.Errorf("selftest: reusing the campaign binary: %w", err)
		}
	}
	return nil
}

// keepBinary keeps the first campaign's binary for the next ones.
func keepBinary(from, to string) error {
	if _, err := os.Stat(filepath.Join(to, "fuzz.test")); err == nil {
		return nil
	}
	return reuseBinary(from, to)
}

// goTest runs `go test ./fuzz ARGS` in root with fault f planted and
// reports whether a test failed. A build failure or a run that cannot
// start is an error, not a catch.
func goTest(ctx context.Context, root string, f fault.Fault, timeout time.Duration, args ...string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, max(timeout, 5*time.Second)+time.Minute)
	defer cancel()
	// -test.fuzzcachedir is a test binary flag: it goes after -args.
	var goArgs, testArgs []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-test.fuzzcachedir" {
			testArgs = append(testArgs, args[i]+"="+args[i+1])
			i++
			continue
		}
		goArgs = append(goArgs, args[i])
	}
	cmdArgs := append([]string{"test", "-count=1", "./fuzz"}, goArgs...)
	if len(testArgs) > 0 {
		cmdArgs = append(append(cmdArgs, "-args"), testArgs...)
	}
	cmd := exec.CommandContext(ctx, "go", cmdArgs...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), FaultsEnv+"="+f.String())
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	out := buf.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, false, nil
	case errors.As(err, &exit) && strings.Contains(out, "--- FAIL"):
		return out, true, nil
	case errors.As(err, &exit) && strings.Contains(out, "Failing input written to"):
		return out, true, nil
	}
	return out, false, fmt.Errorf("selftest: go %s (fault %s): %v\n%s", strings.Join(cmdArgs, " "), f, err, tail(out, 20))
}

var (
	invariantRE = regexp.MustCompile(`invariant \d \([a-zA-Z0-9 ]+\)`)
	diffKeyRE   = regexp.MustCompile(`\b(symbol|text|data|errtab|section|entry)\.[a-z_.]+\b`)
	failRE      = regexp.MustCompile(`--- FAIL: (Fuzz[A-Za-z]+)`)
)

// classify names the check a failure report came from.
func classify(out string) (check, message string) {
	for _, line := range strings.Split(out, "\n") {
		if m := invariantRE.FindString(line); m != "" {
			return m, strings.TrimSpace(line)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if m := diffKeyRE.FindString(line); m != "" {
			return "diff " + m, strings.TrimSpace(line)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "image.loaded") {
			return "loaded bytes (image.loaded)", strings.TrimSpace(line)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "sidecar") {
			return "sidecar round trip", strings.TrimSpace(line)
		}
	}
	return "other", strings.TrimSpace(firstLine(out))
}

func failedTarget(out string) string {
	if m := failRE.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "===") {
			return l
		}
	}
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Summary is the catalogue's score.
type Summary struct {
	Caught, Total     int
	Median, Max       time.Duration
	Checks            map[string]int
	Missed            []fault.Fault
	KeepValuesCaught  int
	KeepValuesDefects int
}

// Summarize scores results.
func Summarize(results []Result) Summary {
	s := Summary{Total: len(results), Checks: map[string]int{}}
	var times []time.Duration
	for _, r := range results {
		if r.Fault.KeepsValues() {
			s.KeepValuesDefects++
		}
		if !r.Caught {
			s.Missed = append(s.Missed, r.Fault)
			continue
		}
		s.Caught++
		if r.Fault.KeepsValues() {
			s.KeepValuesCaught++
		}
		s.Checks[r.Check]++
		times = append(times, r.Elapsed)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	if n := len(times); n > 0 {
		s.Median, s.Max = times[n/2], times[n-1]
	}
	return s
}

// Write prints results as a table and the summary.
func Write(w io.Writer, results []Result) {
	for _, r := range results {
		status := "MISSED"
		if r.Caught {
			status = "caught"
		}
		fmt.Fprintf(w, "%-24s %-6s %8s  %-20s %-6s %s\n", r.Fault, status, r.Elapsed.Round(100*time.Millisecond), r.Target, r.Phase, r.Check)
	}
	s := Summarize(results)
	fmt.Fprintf(w, "%d/%d caught (%d/%d of the defects that keep every value right); time to catch: median %s, max %s\n",
		s.Caught, s.Total, s.KeepValuesCaught, s.KeepValuesDefects, s.Median.Round(100*time.Millisecond), s.Max.Round(100*time.Millisecond))
}
