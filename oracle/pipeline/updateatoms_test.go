package pipeline

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/invariant"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// changeSet is what differs between two compiled versions: the atoms of
// next that are new or differ from prev's (in program order) and the names
// of prev's atoms that next lacks.
func changeSet(prev, next *obj.Program) (changed []*obj.Atom, deleted []string) {
	old := map[string]*obj.Atom{}
	for _, a := range prev.Atoms {
		old[a.Name] = a
	}
	seen := map[string]bool{}
	for _, a := range next.Atoms {
		seen[a.Name] = true
		if o, ok := old[a.Name]; !ok || !reflect.DeepEqual(o, a) {
			changed = append(changed, a)
		}
	}
	for _, a := range prev.Atoms {
		if !seen[a.Name] {
			deleted = append(deleted, a.Name)
		}
	}
	return changed, deleted
}

// TestUpdateAtomsEquivalent proves the in-process fast path equivalent to
// the full update: random edits (mostly single-function GrowFunc,
// ShrinkFunc and ChangeBody; sometimes any ir.RandomEdit, which adds and
// deletes functions, globals and errors) go through Update on one copy
// and through UpdateAtoms on the other, with the changed function compiled
// alone by codegen.CompileFunc as a compiler server would. After every
// step both output files must be byte for byte the same, the states the
// same (as the sidecar saves them), and the invariant checker must pass.
func TestUpdateAtomsEquivalent(t *testing.T) {
	steps := 60
	if testing.Short() {
		steps = 20
	}
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		for seed := int64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", policy, seed), func(t *testing.T) {
				r := rand.New(rand.NewSource(seed))
				m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 30})
				prog, err := CompileIncr(m, obj.ELF, policy, 0)
				require.NoError(t, err)
				dir := t.TempDir()
				full, err := incr.Create(filepath.Join(dir, "full"), elf.IncrImage{}, prog, "", incr.Options{Policy: policy})
				require.NoError(t, err)
				defer full.Close()
				fast, err := incr.Create(filepath.Join(dir, "fast"), elf.IncrImage{}, prog, "", incr.Options{Policy: policy})
				require.NoError(t, err)
				defer fast.Close()
				var moves, inPlace int
				for step := 0; step < steps; step++ {
					next, edit, single := randomFuncEdit(t, m, r)
					nprog, err := CompileIncr(next, obj.ELF, policy, 0)
					require.NoError(t, err)
					changed, deleted := changeSet(prog, nprog)
					if single {
						// A compiler server compiles the one function.
						env := codegen.NewEnv(next)
						env.CallsViaGOT = policy == incr.ThroughGOT
						a, err := codegen.CompileFunc(next.Func(edit.Func), env)
						require.NoError(t, err)
						require.Equal(t, nprog.Atom(edit.Func), a, "CompileFunc differs from Compile")
						require.LessOrEqual(t, len(changed), 1, "%s changed more than its function", edit)
						if len(changed) == 1 {
							changed = []*obj.Atom{a}
						}
					}
					ptFull, errFull := full.Update(nprog, "")
					ptFast, errFast := fast.UpdateAtoms(changed, deleted)
					if errFull != nil || errFast != nil {
						require.Equal(t, errFull != nil, errFast != nil, "step %d %s: full %v, fast %v", step, edit, errFull, errFast)
						t.Skipf("step %d %s: both refused: %v", step, edit, errFull)
					}
					moves += ptFast.Stats.Moved
					inPlace += ptFast.Stats.InPlace
					require.Equal(t, ptFull.Stats.Moved, ptFast.Stats.Moved, "step %d %s", step, edit)
					a, err := os.ReadFile(full.Path)
					require.NoError(t, err)
					b, err := os.ReadFile(fast.Path)
					require.NoError(t, err)
					require.True(t, equalBytes(t, a, b), "step %d %s (%d changed, %d deleted): outputs differ", step, edit, len(changed), len(deleted))
					sa, err := json.Marshal(full.State)
					require.NoError(t, err)
					sb, err := json.Marshal(fast.State)
					require.NoError(t, err)
					require.JSONEq(t, string(sa), string(sb), "step %d %s: states differ", step, edit)
					require.NoError(t, invariant.Check(b, next, invariant.Options{CallsViaGOT: policy == incr.ThroughGOT}), "step %d %s", step, edit)
					m, prog = next, nprog
				}
				t.Logf("%d steps: %d in place, %d moves", steps, inPlace, moves)
			})
		}
	}
}

// equalBytes reports whether a and b are equal, logging the first
// difference.
func equalBytes(t *testing.T, a, b []byte) bool {
	if len(a) != len(b) {
		t.Logf("sizes differ: %d and %d", len(a), len(b))
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			t.Logf("first difference at offset %#x: %#x and %#x", i, a[i], b[i])
			return false
		}
	}
	return true
}

// randomFuncEdit applies a random edit to m: three times in four a
// single-function edit (grow, shrink, change body) of a random function,
// else any ir.RandomEdit. single reports a single-function edit.
func randomFuncEdit(t *testing.T, m *ir.Module, r *rand.Rand) (*ir.Module, ir.Edit, bool) {
	t.Helper()
	for {
		if r.Intn(4) == 0 {
			n, e := ir.RandomEdit(m, r)
			return n, e, false
		}
		f := m.Funcs[r.Intn(len(m.Funcs))]
		var n *ir.Module
		var e ir.Edit
		var err error
		switch r.Intn(3) {
		case 0:
			n, e, err = ir.GrowFunc(m, f.Name, uint64(1+r.Intn(300)))
		case 1:
			n, e, err = ir.ShrinkFunc(m, f.Name)
		default:
			n, e, err = ir.ChangeBody(m, f.Name, r)
		}
		if err == nil {
			return n, e, true
		}
	}
}
