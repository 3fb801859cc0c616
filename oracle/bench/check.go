package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"syscall"
	"time"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// CheckConfig configures BenchCheck.
type CheckConfig struct {
	Format obj.Format
	// Funcs is the size of each sequence's first version (ir.Generate).
	Funcs int
	// Updates is how many checked updates to run, in sequences of SeqLen
	// random edits (ir.RandomEdit) from programs of successive seeds.
	Updates, SeqLen int
	Policy          incr.Policy
	// Tiers mix the checks; the zero value is the fuzz targets'
	// (pipeline.FuzzTiers), with the sidecar round trip after every
	// sequence and LLVM's tools after one sequence in LLVMEvery.
	Tiers     pipeline.Tiers
	LLVMEvery int
	Dir       string
	// Mode runs the outputs, and LastMode (when set) each sequence's last
	// one; the zero Mode is the fuzz targets' choice (pipeline.FuzzModes).
	Mode, LastMode exec.Mode
	// Other links the first version's objects for the comparison (lld);
	// nil skips it.
	Other ExternalLinker
}

// CheckResult is the throughput of the checked update loop.
type CheckResult struct {
	Updates, Full, Sequences int
	// CPU is the user and system time of this process and its children
	// (native runs, LLVM's tools) over the loop; Wall its elapsed time.
	CPU, Wall time.Duration
	// ChildCPU is the part of CPU spent in child processes.
	ChildCPU time.Duration
	// PerSecond is checked updates per second of CPU (per core).
	PerSecond float64
	// OtherCPU is the CPU time of one link by Other of a program of the
	// same size, and PerLink the checked updates that take as much CPU.
	OtherCPU time.Duration
	PerLink  float64
}

// Line is the result as scripts parse it.
func (r *CheckResult) Line() string {
	return fmt.Sprintf("%.0f checked updates/s, %.1f checked updates per lld link", r.PerSecond, r.PerLink)
}

func cpuNow() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + kids.Utime.Nano() + kids.Stime.Nano())
}

// BenchCheck measures the fuzz loop: checked incremental updates per second
// per core, with the tier mix the fuzz targets use, and side by side in the
// same run the CPU time of an lld link of a program of the same size.
func BenchCheck(ctx context.Context, cfg CheckConfig) (*CheckResult, error) {
	if cfg.Funcs < 1 || cfg.Updates < 1 {
		return nil, errors.New("bench check: need at least 1 function and 1 update")
	}
	if cfg.SeqLen <= 0 {
		cfg.SeqLen = 20
	}
	if cfg.Tiers == (pipeline.Tiers{}) {
		cfg.Tiers = pipeline.FuzzTiers
	}
	if cfg.LLVMEvery <= 0 {
		cfg.LLVMEvery = 20
	}
	if cfg.Mode == "" {
		cfg.Mode, cfg.LastMode = pipeline.FuzzModes(formatOr(cfg.Format))
	}
	runner := exec.NewRunner()
	defer runner.Close()
	pool := toolsrv.NewPool()
	defer pool.Close()
	res := &CheckResult{}
	start, cpu0, kids0 := time.Now(), cpuNow(), childCPU()
	for seed := int64(1); res.Updates < cfg.Updates; seed++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := rand.New(rand.NewSource(seed))
		m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: cfg.Funcs})
		s, err := pipeline.NewSession(ctx, m, pipeline.SessionOptions{Format: cfg.Format, Policy: cfg.Policy, Runner: runner, Tools: pool, Mode: cfg.Mode, LastMode: cfg.LastMode, Tiers: cfg.Tiers, Dir: cfg.Dir})
		if err != nil {
			return nil, fmt.Errorf("bench check: seed %d: %w", seed, err)
		}
		n := min(cfg.SeqLen, cfg.Updates-res.Updates)
		var ed ir.Editor // RandomEditShared's edits, each unchanged function analyzed once
		for i := 0; i < n; i++ {
			m, _ = ed.RandomEditShared(m, r)
			if _, err := s.Update(ctx, m, i == n-1); err != nil {
				return nil, fmt.Errorf("bench check: seed %d, update %d: %w", seed, i+1, err)
			}
		}
		if err := s.CheckSidecar(); err != nil {
			return nil, fmt.Errorf("bench check: seed %d: %w", seed, err)
		}
		if seed%int64(cfg.LLVMEvery) == 0 {
			if err := s.CheckLLVM(); err != nil {
				return nil, fmt.Errorf("bench check: seed %d: %w", seed, err)
			}
		}
		res.Updates += n
		res.Full += s.Full
		res.Sequences++
	}
	// The runner's launchers are children that live until it is closed:
	// their CPU time, and that of the programs they ran, counts once they
	// are reaped.
	runner.Close()
	pool.Close() // the same for LLVM's fork servers
	res.CPU, res.Wall, res.ChildCPU = cpuNow()-cpu0, time.Since(start), childCPU()-kids0
	if res.CPU > 0 {
		res.PerSecond = float64(res.Updates) / res.CPU.Seconds()
	}
	if cfg.Other != nil {
		m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: cfg.Funcs})
		objs, err := pipeline.BuildDir(m, formatOr(cfg.Format), 1, filepath.Join(cfg.Dir, "objs"))
		if err != nil {
			return nil, err
		}
		var cpus []time.Duration
		for range 5 {
			before := childCPU()
			if _, _, err := cfg.Other(ctx, objs, filepath.Join(cfg.Dir, "other.out")); err != nil {
				return nil, fmt.Errorf("bench check: %w", err)
			}
			cpus = append(cpus, childCPU()-before)
		}
		res.OtherCPU = Median(cpus)
		if res.PerSecond > 0 {
			res.PerLink = res.PerSecond * res.OtherCPU.Seconds()
		}
	}
	return res, nil
}

func childCPU() time.Duration {
	var kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	return time.Duration(kids.Utime.Nano() + kids.Stime.Nano())
}

func formatOr(f obj.Format) obj.Format {
	if f == "" {
		return obj.ELF
	}
	return f
}
