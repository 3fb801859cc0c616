package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/linkcheck/linkcheck/oracle/bench"
	"github.com/linkcheck/linkcheck/ref/target"
)

// runBenchDiff implements `linkcheck bench diff -format F -funcs N
// [-units N] [-runs N]`: `linkcheck diff` of a generated program (compile,
// both links, both canonical images, the comparison) timed and its peak
// memory measured against an lld link of the same objects, as ratios, on
// a last line that scripts parse: `time ratio X, memory ratio Y`.
func runBenchDiff(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("bench diff", "-format F [-funcs N] [-units N] [-runs N] [-cpuprofile FILE]", stderr)
	format := formatFlag(fs)
	funcs := fs.Int("funcs", 100000, "functions in the generated program (ir.Generate, seed 1)")
	units := fs.Int("units", 4, "objects the program is compiled into")
	runs := fs.Int("runs", 3, "diffs and lld links (alternating; medians are reported)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the runs (this process only, not its children) to this file")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 0 {
			fs.Usage()
			return bad(errors.New("no arguments expected"))
		}
		if *funcs < 1 || *units < 1 || *runs < 1 {
			return bad(errors.New("-funcs, -units and -runs must be at least 1"))
		}
		f, err := parseFormat(*format)
		if err != nil {
			return err
		}
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
		t := target.MustLookup(f)
		for _, c := range []target.Capability{target.CanCompile, target.CanLink, target.CanRead} {
			if err := t.Need(c); err != nil {
				return bad(fmt.Errorf("-format %s: %w", f, err))
			}
		}
		dir, err := os.MkdirTemp("", "linkcheck-bench-diff-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ctx, cancel := interruptible()
		defer cancel()
		r, err := bench.BenchDiff(ctx, bench.DiffConfig{Format: f, Funcs: *funcs, Units: *units, Runs: *runs, Dir: dir, Other: lldLinker(f)})
		if err != nil {
			return failed(err)
		}
		verdict := "equal"
		if !r.Equal {
			verdict = fmt.Sprintf("%d differences", r.Differences)
		}
		p := r.Phases
		fmt.Fprintf(stdout, "format=%s funcs=%d units=%d insns=%d (%s); medians of %d runs\n", f, r.Funcs, r.Units, r.Insns, verdict, *runs)
		mb := func(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }
		fmt.Fprintf(stdout, "diff %s, peak %.1f MB (%s)\n", fmtDur(r.Wall), float64(r.PeakKB)/1024, r.PeakMethod)
		fmt.Fprintf(stdout, "  compile %s (%s), ref link %s (%s), wait for objects %s (%s), wait for lld %s (%s), open %s (%s), compare %s (%s); side by side with ref link: lld link %s, read objects %s\n",
			fmtDur(p.Compile), mb(p.CompilePeak), fmtDur(p.RefLink), mb(p.RefLinkPeak), fmtDur(p.WaitRead), mb(p.WaitReadPeak),
			fmtDur(p.WaitLLD), mb(p.WaitLLDPeak), fmtDur(p.Open), mb(p.OpenPeak), fmtDur(p.Compare), mb(p.ComparePeak), fmtDur(p.LLDLink), fmtDur(p.ReadObjects))
		fmt.Fprintf(stdout, "lld link %s, peak %.1f MB\n", fmtDur(r.OtherWall), float64(r.OtherPeakKB)/1024)
		fmt.Fprintln(stdout, r.Line())
		return nil
	}()
	return report(stderr, "bench diff", err)
}
