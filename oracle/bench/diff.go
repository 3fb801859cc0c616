package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// Measure runs fn in this process and returns its wall time and the
// process's peak resident set size in KiB while it ran (VmHWM, reset
// through /proc/self/clear_refs after a full GC just before fn, so the Go
// runtime's baseline and what is live before fn count, as a linker's own
// baseline counts in its rusage), with the method used: "vmhwm", or
// "heap" (the Go runtime's memory obtained from the OS) where the reset
// is refused.
func Measure(fn func() error) (wall time.Duration, peakKB int64, method string, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	method = "vmhwm"
	if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) != nil {
		method = "heap"
	}
	start := time.Now()
	err = fn()
	wall = time.Since(start)
	if err != nil {
		return wall, 0, method, err
	}
	if method == "vmhwm" {
		if peakKB, err = vmHWM(); err != nil {
			method = "heap"
		}
	}
	if method == "heap" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakKB = int64(ms.Sys / 1024)
	}
	return wall, peakKB, method, nil
}

// quiesce returns the memory this process no longer uses to the system
// and resets its peak RSS to the current RSS, so that a child started
// now reports its own peak (the rusage of a child started by a Go process
// includes the parent's peak RSS at the moment of exec: the child shares
// the parent's memory map until exec, and Linux carries that map's peak
// into the child's maxrss).
func quiesce() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// DiffConfig configures BenchDiff.
type DiffConfig struct {
	// Format is the format of the objects and executables; its target
	// must compile, link and read objects.
	Format obj.Format
	// Funcs is the size of the generated program (ir.Generate, seed 1)
	// and Units the number of objects it is compiled into (0 means 4).
	Funcs, Units int
	// Runs is the number of diffs and of other links; medians are
	// reported, the two alternating. 0 means 3.
	Runs int
	// Dir holds the objects and executables; it must exist.
	Dir string
	// Other is the linker the diff is measured against (ld.lld); the diff
	// links with it too (pipeline.LinkLLD).
	Other ExternalLinker
}

// DiffPhases are the parts of one diff as pipeline.DiffLinkersTimed runs
// them, with the process's peak RSS in each (KiB; 0 where it cannot be
// measured). Compile, RefLink, WaitRead, WaitLLD, Open and Compare follow
// one another and add up to the diff's wall time. Side by side with
// RefLink run ld.lld (LLDLink, its own wall time) and the reading of the
// input objects (ReadObjects): WaitRead is what of the reading outlasts
// RefLink, WaitLLD what of ld.lld outlasts both.
type DiffPhases struct {
	Compile, RefLink, WaitRead, WaitLLD, Open, Compare                         time.Duration
	CompilePeak, RefLinkPeak, WaitReadPeak, WaitLLDPeak, OpenPeak, ComparePeak int64
	LLDLink, ReadObjects                                                       time.Duration
}

// DiffBenchResult is BenchDiff's answer: medians over the runs. Ratios
// are diff / other link.
type DiffBenchResult struct {
	Funcs, Units int
	// Insns is the number of instructions compared.
	Insns int
	// Equal and Differences are the diff's verdict (the last run's).
	Equal       bool
	Differences int
	// Wall and PeakKB are the diff's; PeakMethod says how PeakKB was
	// measured (see Measure). Phases are medians of each phase.
	Wall       time.Duration
	PeakKB     int64
	PeakMethod string
	Phases     DiffPhases
	// OtherWall and OtherPeakKB are the other linker's alone, on the
	// objects of the same program.
	OtherWall   time.Duration
	OtherPeakKB int64
	TimeRatio   float64
	MemRatio    float64
}

// Line is the result's last line, which scripts parse:
// `time ratio X, memory ratio Y`.
func (r *DiffBenchResult) Line() string {
	return fmt.Sprintf("time ratio %.2f, memory ratio %.2f", r.TimeRatio, r.MemRatio)
}

// BenchDiff measures `linkcheck diff -format F -units N PROG.lir` on a
// generated program of cfg.Funcs functions, in this process, against
// cfg.Other's link of the same objects: the diff is compiling the
// program into objects, then pipeline.DiffLinkersTimed as `linkcheck
// diff` calls it (ld.lld as side A, the reference linker as side B, their
// rules): reading the objects and both links side by side, opening both
// executables as canonical images (canon.Open) and comparing them
// (diff.Compare, which decodes function by function). Generating the
// program is outside the clock (the CLI parses it from a file instead).
// The diff's peak memory is this process's (see Measure); ld.lld's child
// process is measured on its own as the other linker.
func BenchDiff(ctx context.Context, cfg DiffConfig) (*DiffBenchResult, error) {
	t, err := target.Lookup(cfg.Format)
	if err != nil {
		return nil, err
	}
	for _, c := range []target.Capability{target.CanCompile, target.CanLink, target.CanRead} {
		if err := t.Need(c); err != nil {
			return nil, fmt.Errorf("bench diff: %w", err)
		}
	}
	lldL, err := linker.Lookup(linker.LLD)
	if err != nil {
		return nil, fmt.Errorf("bench diff: %w", err)
	}
	refL, err := linker.Lookup(linker.Ref)
	if err != nil {
		return nil, fmt.Errorf("bench diff: %w", err)
	}
	if cfg.Units <= 0 {
		cfg.Units = 4
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	res := &DiffBenchResult{Funcs: cfg.Funcs, Units: cfg.Units}
	var walls, otherWalls []time.Duration
	var peaks, otherPeaks []int64
	var phases [8][]time.Duration
	var phasePeaks [6][]int64
	for run := 0; run < cfg.Runs; run++ {
		dir := filepath.Join(cfg.Dir, fmt.Sprintf("run%d", run))
		var ph DiffPhases
		var objPaths []string
		var rep *diff.Report
		m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: cfg.Funcs}) // outside the clock, and dropped before the other link
		wall, peak, method, err := Measure(func() error {
			var err error
			objPaths, rep, err = diffOnce(ctx, t, lldL, refL, &m, cfg.Units, dir, &ph)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("bench diff: %w", err)
		}
		// The other linker runs from this process made small again: Go
		// starts children with CLONE_VM, and exec carries the parent's
		// peak RSS into the child's rusage, so a child of a large process
		// reports at least the parent's peak (see quiesce).
		m = nil
		quiesce()
		ow, opeak, err := cfg.Other(ctx, objPaths, filepath.Join(dir, "other."+pipeline.ExeName(cfg.Format)))
		if err != nil {
			return nil, fmt.Errorf("bench diff: other linker: %w", err)
		}
		// The diff's peak is the highest of its phases' (each phase
		// resets the mark for the next).
		peak = max(peak, ph.CompilePeak, ph.RefLinkPeak, ph.WaitReadPeak, ph.WaitLLDPeak, ph.OpenPeak, ph.ComparePeak)
		walls, peaks = append(walls, wall), append(peaks, peak)
		otherWalls, otherPeaks = append(otherWalls, ow), append(otherPeaks, opeak)
		for i, d := range []time.Duration{ph.Compile, ph.RefLink, ph.WaitRead, ph.WaitLLD, ph.Open, ph.Compare, ph.LLDLink, ph.ReadObjects} {
			phases[i] = append(phases[i], d)
		}
		for i, kb := range []int64{ph.CompilePeak, ph.RefLinkPeak, ph.WaitReadPeak, ph.WaitLLDPeak, ph.OpenPeak, ph.ComparePeak} {
			phasePeaks[i] = append(phasePeaks[i], kb)
		}
		res.PeakMethod = method
		res.Equal, res.Differences, res.Insns = rep.Equal(), len(rep.Differences), rep.Coverage.Insns
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	res.Wall, res.PeakKB = Median(walls), Median(peaks)
	res.OtherWall, res.OtherPeakKB = Median(otherWalls), Median(otherPeaks)
	res.Phases = DiffPhases{Median(phases[0]), Median(phases[1]), Median(phases[2]), Median(phases[3]), Median(phases[4]), Median(phases[5]),
		Median(phasePeaks[0]), Median(phasePeaks[1]), Median(phasePeaks[2]), Median(phasePeaks[3]), Median(phasePeaks[4]), Median(phasePeaks[5]),
		Median(phases[6]), Median(phases[7])}
	if res.OtherWall > 0 {
		res.TimeRatio = float64(res.Wall) / float64(res.OtherWall)
	}
	if res.OtherPeakKB > 0 {
		res.MemRatio = float64(res.PeakKB) / float64(res.OtherPeakKB)
	}
	return res, nil
}

// diffOnce is one diff as `linkcheck diff -format F -units N PROG.lir`
// runs it (cmd/linkcheck: objectsFor, then linkerDiff's
// pipeline.DiffLinkers with the linkers' rules), timed by phase.
func diffOnce(ctx context.Context, t *target.Target, lldL, refL *linker.Linker, m **ir.Module, units int, dir string, ph *DiffPhases) ([]string, *diff.Report, error) {
	f := t.Format
	start := time.Now()
	lap := func(d *time.Duration, peak *int64) {
		now := time.Now()
		*d, start = now.Sub(start), now
		if kb, err := vmHWM(); err == nil && os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil {
			*peak = kb
		}
	}
	// As in linkcheck diff, nothing keeps the program but the compile,
	// which lets it go once the code is generated.
	prog := *m
	*m = nil
	objPaths, err := pipeline.BuildDir(prog, f, units, filepath.Join(dir, "obj"))
	if err != nil {
		return nil, nil, fmt.Errorf("compile: %w", err)
	}
	lap(&ph.Compile, &ph.CompilePeak)
	opts := diff.Options{Ignore: pipeline.Rules(lldL, refL), NameA: lldL.Name, NameB: refL.Name}
	res, err := pipeline.DiffLinkersTimed(ctx, f, lldL, refL, objPaths, dir, opts, linker.Options{}, func(p pipeline.DiffPhase) {
		switch p {
		case pipeline.PhaseLinkB:
			lap(&ph.RefLink, &ph.RefLinkPeak)
		case pipeline.PhaseRead:
			lap(&ph.WaitRead, &ph.WaitReadPeak)
		case pipeline.PhaseWaitA:
			lap(&ph.WaitLLD, &ph.WaitLLDPeak)
		case pipeline.PhaseOpen:
			lap(&ph.Open, &ph.OpenPeak)
		case pipeline.PhaseCompare:
			lap(&ph.Compare, &ph.ComparePeak)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if res.ResA != nil {
		ph.LLDLink = res.ResA.Duration
	}
	ph.ReadObjects = res.ReadDuration
	return objPaths, res.Report, nil
}
