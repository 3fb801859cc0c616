package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/linkcheck/linkcheck/oracle/bench"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools/measure"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// runBench implements `linkcheck bench link|update ...`: the reference
// linkers against ld.lld, as ratios measured in one run (see
// docs/benchmarks.md).
func runBench(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: linkcheck bench link -format F [-funcs N,N,...] [-runs N] [-process]\n" +
		"       linkcheck bench update [-format F] [-funcs N] [-runs N] [-policy trampoline|got]\n" +
		"       linkcheck bench check [-format F] [-funcs N] [-updates K] [-policy trampoline|got]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitBad
	}
	switch args[0] {
	case "link":
		return runBenchLink(args[1:], stdout, stderr)
	case "update":
		return runBenchUpdate(args[1:], stdout, stderr)
	case "check":
		return runBenchCheck(args[1:], stdout, stderr)
	case "diff":
		return runBenchDiff(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "linkcheck bench: unknown benchmark %q\n%s\n", args[0], usage)
	return exitBad
}

// parseSizes parses a comma-separated list of positive counts.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-funcs: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// lldLinker is a bench.ExternalLinker for the lld of format f that
// measures its own peak memory (through the intermediary of
// oracle/tools/measure).
func lldLinker(f obj.Format) bench.ExternalLinker { return lldLinkerPeak(f, true) }

// lldTimer is lldLinker without the peak: lld is a direct child, so that
// this process's RUSAGE_CHILDREN grows by lld's CPU time alone (bench
// check's figure), and the peak is reported as zero.
func lldTimer(f obj.Format) bench.ExternalLinker { return lldLinkerPeak(f, false) }

func lldLinkerPeak(f obj.Format, peak bool) bench.ExternalLinker {
	return func(ctx context.Context, objs []string, out string) (time.Duration, int64, error) {
		res, err := lld.Link(ctx, f, objs, out, lld.Options{MeasurePeak: peak})
		if err != nil {
			return 0, 0, err
		}
		return res.Duration, res.MaxRSSKB, nil
	}
}

// runBenchLink implements `linkcheck bench link -format F -funcs
// 1000,10000,100000 [-runs N] [-process]`: the synthetic workload of
// docs/link.md linked by the reference linker (in process, or with
// -process as `linkcheck link -linker ref`, a process measured as lld's
// is) and by lld, alternately, on the same object files; medians over the
// runs.
func runBenchLink(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("bench link", "-format F [-funcs N,N,...] [-units N] [-runs N] [-process]", stderr)
	format := formatFlag(fs)
	funcs := fs.String("funcs", "1000,10000,100000", "workload sizes (functions), comma-separated")
	units := fs.Int("units", 0, "objects per link (0: max(1, funcs/1000))")
	runs := fs.Int("runs", 5, "links per linker and size (medians are reported)")
	process := fs.Bool("process", false, "run the reference link as a process (linkcheck link -linker ref of this binary), measured as lld's: wall time with process start, its own peak")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 0 {
			fs.Usage()
			return bad(errors.New("no arguments expected"))
		}
		f, err := parseFormat(*format)
		if err != nil {
			return err
		}
		if err := target.MustLookup(f).Need(target.CanLink); err != nil {
			return bad(fmt.Errorf("-format %s: %w", f, err))
		}
		sizes, err := parseSizes(*funcs)
		if err != nil {
			return bad(err)
		}
		if *runs < 1 || *units < 0 {
			return bad(errors.New("-runs must be at least 1 and -units not negative"))
		}
		dir, err := os.MkdirTemp("", "linkcheck-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ctx, cancel := interruptible()
		defer cancel()
		cfg := bench.BenchConfig{Format: f, Funcs: sizes, Units: *units, Runs: *runs, Dir: dir, Other: lldLinker(f)}
		if *process {
			if cfg.Ref, err = refProcess(f); err != nil {
				return err
			}
		}
		results, err := bench.BenchLink(ctx, cfg)
		if err != nil {
			return failed(err)
		}
		printLinkTable(stdout, results, *runs)
		return nil
	}()
	return report(stderr, "bench link", err)
}

// refProcess returns a linker that runs `linkcheck link -format f -linker
// ref` of this binary as a process, through the intermediary of
// oracle/tools/measure as lld is run, and reports its wall time and peak.
// The binary is the one this process was started as (os.Args[0], found on
// PATH when it has no slash), so that a command named by its argv[0], as
// in the test scripts, runs as itself.
func refProcess(f obj.Format) (bench.ExternalLinker, error) {
	self := os.Args[0]
	var err error
	if !strings.Contains(self, "/") {
		if self, err = exec.LookPath(self); err != nil {
			return nil, fmt.Errorf("-process: %w", err)
		}
	}
	if self, err = filepath.Abs(self); err != nil {
		return nil, fmt.Errorf("-process: %w", err)
	}
	return func(ctx context.Context, objs []string, out string) (time.Duration, int64, error) {
		argv := append([]string{self, "link", "-format", string(f), "-linker", "ref", "-o", out}, objs...)
		res, err := measure.Run(ctx, argv, measure.Options{Peak: true})
		if err != nil {
			msg := ""
			if res != nil {
				msg = strings.TrimSpace(res.Stderr)
			}
			return 0, 0, fmt.Errorf("linkcheck link -linker ref: %w: %s", err, msg)
		}
		return res.Usage.Wall, res.Usage.MaxRSSKB, nil
	}, nil
}

// printLinkTable prints one row per size.
func printLinkTable(w io.Writer, results []bench.BenchResult, runs int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "funcs\tunits\tref time\tlld time\ttime ratio\tref peak MB\tlld peak MB\tmem ratio\t")
	method := ""
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%.2fx\t%.1f\t%.1f\t%.2fx\t\n", r.Funcs, r.Units,
			fmtDur(r.RefWall), fmtDur(r.OtherWall), r.TimeRatio, float64(r.RefPeakKB)/1024, float64(r.OtherPeakKB)/1024, r.MemRatio)
		method = r.RefPeakMethod
	}
	tw.Flush()
	fmt.Fprintf(w, "medians of %d runs each, alternating; ratios are ref/lld (below 1: ref is faster or smaller); ref peak: %s\n", runs, method)
}

// fmtDur prints a duration with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	}
}

// runBenchUpdate implements `linkcheck bench update -funcs N [-runs N]
// [-policy P]`: medians of one-function updates (in place, and with a
// move) of a generated program against a full reference link and a full
// ld.lld link of the same version, as ratios.
func runBenchUpdate(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("bench update", "[-format F] [-funcs N] [-runs N] [-policy trampoline|got]", stderr)
	format := formatFlag(fs)
	funcs := fs.Int("funcs", 100000, "functions in the generated program (ir.Generate, seed 1)")
	runs := fs.Int("runs", 20, "updates of each kind (full links: min(runs, 5))")
	policy := fs.String("policy", "trampoline", "the incremental linker's policy: trampoline or got")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 0 {
			fs.Usage()
			return bad(errors.New("no arguments expected"))
		}
		if *funcs < 2 || *runs < 1 {
			return bad(errors.New("-funcs must be at least 2 and -runs at least 1"))
		}
		f, pol, dir, err := incrBenchSetup(*format, *policy)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ctx, cancel := interruptible()
		defer cancel()
		r, err := bench.BenchUpdate(ctx, bench.UpdateBenchConfig{Format: f, Funcs: *funcs, Runs: *runs, Policy: pol, Dir: dir, Other: lldLinker(f)})
		if err != nil {
			return failed(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "update	median	vs ref full link	vs lld full link	")
		for _, row := range []struct {
			name string
			d    time.Duration
		}{{"in place", r.InPlace}, {"move", r.Move}} {
			fmt.Fprintf(tw, "%s	%s	%.0fx	%.0fx	\n", row.name, fmtDur(row.d), bench.Ratio(r.RefFull, row.d), bench.Ratio(r.OtherFull, row.d))
		}
		fmt.Fprintf(tw, "ref full link	%s	\t\t\n", fmtDur(r.RefFull))
		fmt.Fprintf(tw, "lld full link	%s	\t\t\n", fmtDur(r.OtherFull))
		tw.Flush()
		fmt.Fprintf(stdout, "funcs=%d atoms=%d units=%d policy=%s; medians of %d updates of each kind (one random function each, compiled before timing; UpdateAtoms + positioned writes) and %d full links; ratios are full/update\n",
			r.Funcs, r.Atoms, r.Units, r.Policy, *runs, min(*runs, 5))
		return nil
	}()
	return report(stderr, "bench update", err)
}

// runBenchCheck implements `linkcheck bench check -format F -funcs N
// -updates K`: the fuzz loop's throughput (checked updates per second per
// core, with the fuzz targets' tier mix) and, in the same run, the CPU time
// of an lld link of a program of the same size, on one line that scripts
// parse: `N checked updates/s, M checked updates per lld link`.
func runBenchCheck(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("bench check", "[-format F] [-funcs N] [-updates K] [-seq N] [-policy trampoline|got] [-cpuprofile FILE]", stderr)
	format := formatFlag(fs)
	funcs := fs.Int("funcs", 40, "functions in each sequence's first version")
	updates := fs.Int("updates", 4000, "checked updates to run: by default enough that the process's one-time start (the launchers, LLVM's fork servers, the first decodings, the heap's growth) weighs on the figure as little as in a fuzz worker that runs for hours")
	seq := fs.Int("seq", 20, "updates per sequence (each from a new generated program)")
	policy := fs.String("policy", "trampoline", "the incremental linker's policy: trampoline or got")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the loop (this process only, not its children) to this file")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 0 {
			fs.Usage()
			return bad(errors.New("no arguments expected"))
		}
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
		if *funcs < 1 || *updates < 1 || *seq < 1 {
			return bad(errors.New("-funcs, -updates and -seq must be at least 1"))
		}
		f, pol, dir, err := incrBenchSetup(*format, *policy)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ctx, cancel := interruptible()
		defer cancel()
		defer pipeline.LoopGC()()    // as the fuzz targets' workers run the loop
		defer pipeline.LoopProcs()() // one core's loop, as each fuzz worker
		r, err := bench.BenchCheck(ctx, bench.CheckConfig{Format: f, Funcs: *funcs, Updates: *updates, SeqLen: *seq, Policy: pol, Dir: dir, Other: lldTimer(f)})
		if err != nil {
			return failed(err)
		}
		fmt.Fprintf(stdout, "format=%s funcs=%d policy=%s: %d updates in %d sequences (%d with execution and the fresh-link diff), CPU %s (children %s), wall %s; lld link CPU %s\n",
			f, *funcs, pol, r.Updates, r.Sequences, r.Full, fmtDur(r.CPU), fmtDur(r.ChildCPU), fmtDur(r.Wall), fmtDur(r.OtherCPU))
		fmt.Fprintln(stdout, r.Line())
		return nil
	}()
	return report(stderr, "bench check", err)
}

// incrBenchSetup parses the -format (default elf) and -policy flags of the
// incremental benchmarks, checks that the format has an incremental
// linker, and makes their work directory (the caller removes it).
func incrBenchSetup(format, policy string) (obj.Format, incr.Policy, string, error) {
	pol, err := incr.ParsePolicy(policy)
	if err != nil {
		return "", "", "", bad(err)
	}
	f := obj.ELF
	if format != "" {
		if f, err = parseFormat(format); err != nil {
			return "", "", "", err
		}
	}
	if err := target.MustLookup(f).Need(target.CanIncr); err != nil {
		return "", "", "", bad(fmt.Errorf("-format %s: %w", f, err))
	}
	if f == obj.Wasm && pol == incr.ThroughGOT {
		return "", "", "", bad(fmt.Errorf("-format wasm: -policy got: wasm has no GOT (calls are by function index)"))
	}
	dir, err := os.MkdirTemp("", "linkcheck-bench-")
	if err != nil {
		return "", "", "", err
	}
	return f, pol, dir, nil
}

// startCPUProfile starts a CPU profile to path (nothing when path is "");
// the returned function stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		pf.Close()
	}, nil
}
