package fuzz

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/ir"
)

// GoldKnownEnv, when "fail", makes FuzzIncrementalGold fail on gold's
// known findings too (docs/findings.md); by default they are logged and
// only a new kind of failure or wrong output fails the target.
const GoldKnownEnv = "LINKCHECK_GOLD_KNOWN"

// targetIncrementalGold edits sequences as FuzzIncrementalELF does; gold
// links every version of the sequence.
var targetIncrementalGold = incrTarget{name: "FuzzIncrementalGold", menu: targetIncrementalELF.menu}

// FuzzIncrementalGold drives `ld.gold --incremental` over generated update
// sequences (the same edits as FuzzIncrementalELF, 1 to 3 objects): after
// every version gold links, the output must run to the interpreter's
// value, equal a fresh ld.lld link as canonical images (gold's rules) and
// be read by LLVM's tools without a warning. A gold failure or a wrong
// output is a finding, reported with the version sequence.
func FuzzIncrementalGold(f *testing.F) {
	tools.Require(f, "ld.gold")
	tools.Require(f, "ld.lld")
	for _, s := range incrSeedInputs() {
		f.Add(encodeIncr(s))
	}
	runner, pool := exec.NewRunner(), toolsrv.NewPool()
	f.Cleanup(func() {
		runner.Close()
		pool.Close()
	})
	failKnown := os.Getenv(GoldKnownEnv) == "fail"
	stats := NewStatsRecorder("FuzzIncrementalGold")
	f.Cleanup(func() { _ = stats.Flush() })
	f.Fuzz(func(t *testing.T, data []byte) {
		in := decodeIncr(data)
		var tally checkTally
		if stats != nil {
			tally = checkTally{}
		}
		known, updates, err := runGold(context.Background(), in, runner, pool, t.TempDir(), failKnown, tally)
		stats.Add(updates, tally)
		for _, k := range known {
			t.Logf("known gold finding: %s", k)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
}

// incrSeedInputs are the seeds of FuzzIncrementalGold: small sequences
// that move functions, add errors and change data.
func incrSeedInputs() []incrInput {
	return []incrInput{
		{Seed: 1, Funcs: 5, Edits: []incrEdit{{Kind: uint8(eChangeBody)}, {Kind: uint8(eGrow), Size: 300}}},
		{Seed: 2, Funcs: 9, Edits: []incrEdit{{Kind: uint8(eAddFunc)}, {Kind: uint8(eAddError)}, {Kind: uint8(eRetargetPointer)}}},
		{Seed: 34, Funcs: 7, Edits: []incrEdit{{Kind: uint8(eAlign), Size: 16}, {Kind: uint8(eGrowCode), A: 2}, {Kind: uint8(eChangeBody), A: 4}}},
	}
}

// runGold links the versions of in's sequence with gold, one update at a
// time, checking each successful link. It returns the known findings it
// met, the number of updates checked, and an error for anything else (or
// for known ones with failKnown). When tally is not nil it counts the
// checks of every checked link.
func runGold(ctx context.Context, in incrInput, r *exec.Runner, pool *toolsrv.Pool, dir string, failKnown bool, tally checkTally) ([]string, int64, error) {
	m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), targetIncrementalGold.genConfig(in))
	if _, err := ir.Interp(m, ir.InterpOptions{Fuel: filterFuel}); err != nil {
		return nil, 0, nil // too slow to be worth linking: not a failure
	}
	var updates int64
	mods, _, _, log := versions(targetIncrementalGold, in, m)
	units := 1 + int(in.Seed&0x7fffffff)%3
	out := filepath.Join(dir, "out")
	var known []string
	fail := func(i int, err error) error {
		return fmt.Errorf("FuzzIncrementalGold, seed %d, %d functions, %d units: version %d of %d: %v\nedits:\n  %s",
			in.Seed, targetIncrementalGold.genConfig(in).Funcs, units, i+1, len(mods), err, strings.Join(log, "\n  "))
	}
	for i, v := range mods {
		_, err := pipeline.GoldUpdate(ctx, out, v, string(ir.Print(v)), units)
		var gf *pipeline.GoldFailure
		if err != nil && !errors.As(err, &gf) {
			return known, updates, fail(i, err) // the harness, not gold
		}
		if err == nil {
			_, err = pipeline.GoldCheck(ctx, out, r, pool, exec.Native, dir)
			if i > 0 {
				updates++
			}
			tally.inv(1)
			tally.inv(2)
			tally.inv(8)
			tally.image(moduleSubjects(v))
		}
		if err == nil {
			continue
		}
		k := pipeline.GoldKnownFinding(err)
		if k == "" || failKnown {
			return known, updates, fail(i, err)
		}
		known = append(known, fmt.Sprintf("%s at version %d", k, i+1))
	}
	return known, updates, nil
}
