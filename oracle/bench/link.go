// Package bench is linkcheck's benchmark harness: the reference linkers
// side by side with another linker (lld by default) on the same inputs, in
// one run, reported as ratios (these machines are noisy). Each benchmark
// takes the format from the registry (ref/target), so every format with a
// reference linker or an incremental linker is measured the same way.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// ExternalLinker links the object files objs into out with another linker
// (ld.lld, through oracle/lld) and reports its wall time and peak resident
// set size in KiB.
type ExternalLinker func(ctx context.Context, objs []string, out string) (wall time.Duration, maxRSSKB int64, err error)

// BenchConfig configures BenchLink.
type BenchConfig struct {
	// Format is the output format (its target must have a reference
	// linker and an object writer and reader).
	Format obj.Format
	// Funcs lists the workload sizes (functions per link).
	Funcs []int
	// Units is the number of objects per link; 0 means max(1, funcs/1000).
	Units int
	// Runs is the number of links per linker and size; the medians of
	// wall time and peak memory are reported. The two linkers' runs
	// alternate (ref, other, ref, ...) so that a noisy machine disturbs
	// both alike. 0 means 3.
	Runs int
	// Dir holds the objects and outputs; it must exist.
	Dir string
	// Other is the linker compared against.
	Other ExternalLinker
	// Ref, when not nil, runs the reference link as a process (linkcheck
	// link -linker ref, measured as Other is: wall time including process
	// start, its own peak); nil links in this process.
	Ref ExternalLinker
}

// BenchResult is one size's comparison: medians over the runs. Ratios are
// ref / other: below 1 means the reference linker is faster or smaller.
type BenchResult struct {
	Funcs, Units           int
	RefWall, OtherWall     time.Duration
	RefPeakKB, OtherPeakKB int64
	TimeRatio, MemRatio    float64
	// RefPeakMethod says how RefPeakKB was measured: "vmhwm" (the
	// process's peak RSS, reset before the link), "heap" (Go heap and
	// runtime memory obtained from the OS, when the reset is refused) or
	// "process" (the peak RSS of a link process, BenchConfig.Ref).
	RefPeakMethod string
}

func (r BenchResult) String() string {
	return fmt.Sprintf("funcs=%d units=%d ref=%v/%dKB other=%v/%dKB time=%.2fx mem=%.2fx (%s)",
		r.Funcs, r.Units, r.RefWall, r.RefPeakKB, r.OtherWall, r.OtherPeakKB, r.TimeRatio, r.MemRatio, r.RefPeakMethod)
}

// BenchLink runs the reference linker of cfg.Format and cfg.Other side by
// side on the same object files (SyntheticObjects written by the format's
// object writer) and reports wall time and peak memory for each size.
//
// The reference link is measured as the other linker's is, from object
// files to an output file: read, link, then write the file, as a process
// with cfg.Ref, else in this process. Its peak memory is the process's peak RSS (VmHWM),
// reset through /proc/self/clear_refs after a full GC just before the
// link, so it includes the Go runtime's baseline as ld.lld's includes its
// own; where the reset is refused it falls back to the Go runtime's memory
// obtained from the OS. The collector is set as the link process sets it
// (link.OneShotGC). The other linker's time includes process start.
func BenchLink(ctx context.Context, cfg BenchConfig) ([]BenchResult, error) {
	if cfg.Other == nil {
		return nil, errors.New("bench link: no linker to compare against")
	}
	t, err := linkTarget(cfg.Format)
	if err != nil {
		return nil, err
	}
	runs := cfg.Runs
	if runs <= 0 {
		runs = 3
	}
	var results []BenchResult
	for _, funcs := range cfg.Funcs {
		units := cfg.Units
		if units <= 0 {
			units = max(1, funcs/1000)
		}
		paths, err := writeSynthetic(t, cfg.Dir, funcs, units)
		if err != nil {
			return nil, err
		}
		r := BenchResult{Funcs: funcs, Units: units}
		out := filepath.Join(cfg.Dir, fmt.Sprintf("ref-%d.out", funcs))
		other := filepath.Join(cfg.Dir, fmt.Sprintf("other-%d.out", funcs))
		var refWall, otherWall []time.Duration
		var refPeak, otherPeak []int64
		for i := 0; i < runs; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var wall time.Duration
			var peak int64
			method := "process"
			if cfg.Ref != nil {
				wall, peak, err = cfg.Ref(ctx, paths, out)
				if err != nil {
					return nil, fmt.Errorf("bench link: funcs=%d: ref: %w", funcs, err)
				}
			} else if wall, peak, method, err = refLinkMeasured(t, paths, out); err != nil {
				return nil, err
			}
			refWall, refPeak = append(refWall, wall), append(refPeak, peak)
			r.RefPeakMethod = method
			wall, peak, err = cfg.Other(ctx, paths, other)
			if err != nil {
				return nil, fmt.Errorf("bench link: funcs=%d: %w", funcs, err)
			}
			otherWall, otherPeak = append(otherWall, wall), append(otherPeak, peak)
		}
		r.RefWall, r.OtherWall = Median(refWall), Median(otherWall)
		r.RefPeakKB, r.OtherPeakKB = Median(refPeak), Median(otherPeak)
		if r.OtherWall > 0 {
			r.TimeRatio = float64(r.RefWall) / float64(r.OtherWall)
		}
		if r.OtherPeakKB > 0 {
			r.MemRatio = float64(r.RefPeakKB) / float64(r.OtherPeakKB)
		}
		results = append(results, r)
	}
	return results, nil
}

// Median returns the median of xs (the mean of the two middle values for
// an even count), or 0 for none. xs is not modified.
func Median[T ~int64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// linkTarget returns the target of format f, which must have a reference
// linker, an object writer and a reader.
func linkTarget(f obj.Format) (*target.Target, error) {
	if f == "" {
		f = obj.ELF
	}
	t, err := target.Lookup(f)
	if err != nil {
		return nil, err
	}
	caps := []target.Capability{target.CanLink, target.CanRead, target.CanWriteObj}
	if t.SelfContained() {
		// Wasm: the workload comes from the format's own code generator
		caps = []target.Capability{target.CanLink, target.CanCompile}
	}
	for _, c := range caps {
		if err := t.Need(c); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	return t, nil
}

// writeSynthetic writes the synthetic workload as objects of t's format in
// dir.
func writeSynthetic(t *target.Target, dir string, funcs, units int) ([]string, error) {
	if t.SelfContained() {
		return writeGenerated(t, dir, ir.Generate(ir.GenConfig{Seed: 1, Funcs: funcs}), units)
	}
	objs, err := SyntheticObjects(funcs, units)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(objs))
	for i, o := range objs {
		data, err := t.WriteObject(o)
		if err != nil {
			return nil, fmt.Errorf("bench link: %s: %w", o.Name, err)
		}
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%d-%s", funcs, o.Name))
		if err := os.WriteFile(paths[i], data, 0o644); err != nil {
			return nil, fmt.Errorf("bench link: %w", err)
		}
	}
	return paths, nil
}

// refLinkMeasured links paths into out and returns the wall time and the
// peak memory in KiB, with the method used to measure it.
func refLinkMeasured(t *target.Target, paths []string, out string) (time.Duration, int64, string, error) {
	runtime.GC()
	debug.FreeOSMemory()
	method := "vmhwm"
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		method = "heap"
	}
	// the collector as the link process sets it (linkcheck link -linker ref)
	restore := link.OneShotGC(paths)
	defer restore()
	start := time.Now()
	var data []byte
	var err error
	if t.SelfContained() {
		data, _, err = t.Link(paths, link.Options{})
	} else {
		data, _, err = link.LinkFiles(paths, t.ReadObject, t.Platform, link.Options{})
	}
	if err == nil {
		err = link.WriteOutput(out, data, 0o755)
	}
	wall := time.Since(start)
	if err != nil {
		return 0, 0, "", fmt.Errorf("bench link: %w", err)
	}
	var peak int64
	if method == "vmhwm" {
		peak, err = vmHWM()
		if err != nil {
			method = "heap"
		}
	}
	if method == "heap" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = int64(ms.Sys / 1024)
	}
	runtime.KeepAlive(data)
	return wall, peak, method, nil
}

// vmHWM reads the process's peak resident set size (KiB) from
// /proc/self/status.
func vmHWM() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// writeGenerated writes the workload of a format whose objects come from
// its own code generator (Wasm): a program (ir.Generate's, seed 1, for
// bench link) compiled into units objects in dir.
func writeGenerated(t *target.Target, dir string, m *ir.Module, units int) ([]string, error) {
	funcs := len(m.Funcs)
	if err := ir.Check(m); err != nil {
		return nil, fmt.Errorf("bench link: generated program: %w", err)
	}
	names, files, err := t.Objects(m, units, target.CompileOptions{})
	if err != nil {
		return nil, fmt.Errorf("bench link: %w", err)
	}
	paths := make([]string, len(files))
	for i, data := range files {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%d-%s", funcs, names[i]))
		if err := os.WriteFile(paths[i], data, 0o644); err != nil {
			return nil, fmt.Errorf("bench link: %w", err)
		}
	}
	return paths, nil
}
