package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// UpdateBenchConfig configures BenchUpdate.
type UpdateBenchConfig struct {
	// Format is the output format (its target must have an incremental
	// linker and a reference linker); "" means ELF.
	Format obj.Format
	// Funcs is the size of the generated program (ir.Generate, seed 1).
	Funcs int
	// Runs is the number of one-function updates of each kind (in place,
	// move); 0 means 20. The full links run min(Runs, 5) times.
	Runs int
	// Policy is the incremental linker's policy (default trampoline).
	Policy incr.Policy
	// Dir holds the output, the objects and the full links; it must exist.
	Dir string
	// Other is the external linker of the full link (lld); nil skips it.
	Other ExternalLinker
}

// UpdateBenchResult holds medians. Ratios are full link / update: how many
// times faster the update is.
type UpdateBenchResult struct {
	Funcs, Units, Atoms int
	Policy              incr.Policy
	// InPlace and Move are one-function updates through
	// incr.Output.UpdateAtoms (state and positioned writes), the function
	// compiled alone by codegen.CompileFunc before the clock starts.
	InPlace, Move time.Duration
	// RefFull is a full reference link (Link of the version's objects, in
	// memory, then the file written); OtherFull the external linker's
	// (process start included), on the same objects written as files.
	RefFull, OtherFull time.Duration
	// Setup is the time to generate, compile and first link the program.
	Setup time.Duration
}

// Ratio returns full / update, or 0 when either is unknown.
func Ratio(full, update time.Duration) float64 {
	if full <= 0 || update <= 0 {
		return 0
	}
	return float64(full) / float64(update)
}

// BenchUpdate measures one-function updates of a generated program of
// cfg.Funcs functions against full links of the same version. Each update
// edits a different random function: in place, ir.GrowFunc by one byte of
// padding (which fits the slot's spare third); a move, ir.GrowFunc past
// the function's slot. The edit and the compilation of the function happen
// before the clock starts: what is timed is incr.Output.UpdateAtoms, as a
// compiler server that keeps the session in memory would call it.
func BenchUpdate(ctx context.Context, cfg UpdateBenchConfig) (*UpdateBenchResult, error) {
	if cfg.Funcs < 2 {
		return nil, errors.New("bench update: need at least 2 functions")
	}
	runs := cfg.Runs
	if runs <= 0 {
		runs = 20
	}
	policy := cfg.Policy
	if policy == "" {
		policy = incr.Trampoline
	}
	t, err := linkTarget(cfg.Format)
	if err != nil {
		return nil, err
	}
	if err := t.Need(target.CanIncr); err != nil {
		return nil, fmt.Errorf("bench update: %w", err)
	}
	start := time.Now()
	m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: cfg.Funcs})
	opts := target.CompileOptions{CallsViaGOT: policy == incr.ThroughGOT}
	prog, err := t.Compile(m, opts)
	if err != nil {
		return nil, fmt.Errorf("bench update: %w", err)
	}
	out, err := incr.Create(filepath.Join(cfg.Dir, "incr.out"), t.Image, prog, "", incr.Options{Policy: policy})
	if err != nil {
		return nil, fmt.Errorf("bench update: %w", err)
	}
	defer out.Close()
	res := &UpdateBenchResult{Funcs: cfg.Funcs, Policy: policy, Atoms: len(prog.Atoms), Setup: time.Since(start)}
	r := rand.New(rand.NewSource(1))
	var inPlace, moves []time.Duration
	for len(inPlace) < runs || len(moves) < runs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := m.Funcs[r.Intn(len(m.Funcs))]
		cur := out.State.Atoms[f.Name]
		wantMove := len(inPlace) >= runs || (len(moves) < runs && r.Intn(2) == 0)
		grow := uint64(1)
		if wantMove {
			grow = cur.Slot - cur.Size + 16
		}
		next, _, err := ir.GrowFunc(m, f.Name, grow)
		if err != nil {
			return nil, fmt.Errorf("bench update: %w", err)
		}
		a, err := t.CompileFunc(next, f.Name, opts)
		if err != nil {
			return nil, fmt.Errorf("bench update: %w", err)
		}
		t0 := time.Now()
		pt, err := out.UpdateAtoms([]*obj.Atom{a}, nil)
		d := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("bench update: %s: %w", f.Name, err)
		}
		m = next
		switch {
		case pt.Stats.Moved == 1 && len(moves) < runs:
			moves = append(moves, d)
		case pt.Stats.InPlace == 1 && len(inPlace) < runs:
			inPlace = append(inPlace, d)
		}
	}
	res.InPlace, res.Move = Median(inPlace), Median(moves)

	// Full links of the final version, from its objects.
	units := max(1, cfg.Funcs/1000)
	res.Units = units
	refLink, paths, err := fullLink(t, m, units, cfg.Dir, cfg.Other != nil)
	if err != nil {
		return nil, err
	}
	fullRuns := min(runs, 5)
	var refFull []time.Duration
	refOut := filepath.Join(cfg.Dir, "ref-full.out")
	for range fullRuns {
		t0 := time.Now()
		data, err := refLink()
		if err == nil {
			err = os.WriteFile(refOut, data, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("bench update: full link: %w", err)
		}
		refFull = append(refFull, time.Since(t0))
	}
	res.RefFull = Median(refFull)
	if cfg.Other != nil {
		var other []time.Duration
		for range fullRuns {
			wall, _, err := cfg.Other(ctx, paths, filepath.Join(cfg.Dir, "other-full.out"))
			if err != nil {
				return nil, fmt.Errorf("bench update: full link: %w", err)
			}
			other = append(other, wall)
		}
		res.OtherFull = Median(other)
	}
	return res, nil
}

// fullLink returns the reference full link of version m in units objects
// (timed by the caller) and, when files is set, the objects written as
// files in dir for the external linker. A format whose linker reads its
// own objects (Wasm) links the files; the others link the objects in
// memory.
func fullLink(t *target.Target, m *ir.Module, units int, dir string, files bool) (func() ([]byte, error), []string, error) {
	if t.SelfContained() {
		paths, err := writeGenerated(t, dir, m, units)
		if err != nil {
			return nil, nil, fmt.Errorf("bench update: %w", err)
		}
		return func() ([]byte, error) {
			data, _, err := t.Link(paths, link.Options{})
			return data, err
		}, paths, nil
	}
	final, err := t.Compile(m, target.CompileOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("bench update: %w", err)
	}
	objs, err := obj.Objects(final, ir.Partition(m, units), units, t.UnitName)
	if err != nil {
		return nil, nil, fmt.Errorf("bench update: %w", err)
	}
	var paths []string
	if files {
		for _, o := range objs {
			data, err := t.WriteObject(o)
			if err != nil {
				return nil, nil, fmt.Errorf("bench update: %s: %w", o.Name, err)
			}
			p := filepath.Join(dir, o.Name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return nil, nil, fmt.Errorf("bench update: %w", err)
			}
			paths = append(paths, p)
		}
	}
	return func() ([]byte, error) {
		data, _, err := link.Link(objs, t.Platform, link.Options{})
		return data, err
	}, paths, nil
}
