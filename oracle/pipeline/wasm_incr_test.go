package pipeline

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// wasmFaultVersions are the versions each seeded defect of incremental
// Wasm needs to show.
var wasmFaultVersions = map[string][]string{
	// f's table cell after f moves (it outgrows its slot).
	"moves": {
		"func f(x) { return x + 1 }\nconst fp = &f\nfunc main() { return call (load fp)(10) + f(1) }\n",
		"func f(x) {\n  pad 300\n  return x + 2\n}\nconst fp = &f\nfunc main() { return call (load fp)(10) + f(1) }\n",
	},
	// last, the last body of the Code section, grows past its slot.
	"last grows": {
		"func main() { return last(1) }\nfunc last(x) { return x + 1 }\n",
		"func main() { return last(1) }\nfunc last(x) {\n  pad 100\n  return x + 3\n}\n",
	},
	// k changes from const to global: a delete and an add, elsewhere in
	// memory; pk points at it (main stores the pointer, not its value: an
	// address is the layout's, not the program's).
	"datum moves": {
		"const k = 5\nconst pk = &k\nglobal out = 0\nfunc main() {\n  store out, load pk\n  return load k\n}\n",
		"global k = 7\nconst pk = &k\nglobal out = 0\nfunc main() {\n  store out, load pk\n  return load k\n}\n",
	},
	// g, whose address is taken, is deleted; h, which takes g's free
	// slot (and so g's index), is added.
	"deleted, then added": {
		"func f(x) { return x + 1 }\nfunc g(x) { return x * 3 }\nconst fp = &f\nconst gp = &g\nfunc main() { return call (load fp)(10) + call (load gp)(5) }\n",
		"func f(x) { return x + 1 }\nconst fp = &f\nfunc main() { return call (load fp)(10) }\n",
		"func f(x) { return x + 1 }\nfunc h(x) { return x - 3 }\nconst fp = &f\nfunc main() { return call (load fp)(10) + h(4) }\n",
	},
	"errors": {
		"errors A, BB\nfunc main() { return errlen(2) }\n",
		"errors A, BB, CCC\nfunc main() { return errlen(2) + errlen(3) }\n",
	},
}

// linkWasmFaulty links the versions incrementally with the defects
// planted, each version through `linkcheck update`'s path, and returns the
// output and the last version.
func linkWasmFaulty(t *testing.T, versions []string, fs fault.Set) (string, *ir.Module) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.wasm")
	var m *ir.Module
	for i, src := range versions {
		var err error
		m, err = ir.Parse("v.lir", []byte(src))
		require.NoError(t, err)
		require.NoError(t, ir.Check(m))
		res, err := UpdateWith(out, obj.Wasm, m, src, incr.Trampoline, fs)
		require.NoError(t, err, "v%d", i+1)
		require.Equal(t, i == 0, res.Relinked, "v%d: %s", i+1, res.Reason)
	}
	return out, m
}

// TestWasmIncrementalFaults plants each seeded defect of incremental Wasm
// alone and asserts that `linkcheck check`'s checks report it by the
// invariant that judges it; the same versions without the defect hold
// every invariant.
func TestWasmIncrementalFaults(t *testing.T) {
	tools.Require(t, "wasm-validate")
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	check := func(t *testing.T, out string, m *ir.Module) error {
		return CheckIncremental(ctx, out, m, IncrCheck{Format: obj.Wasm, Runner: runner, Mode: oexec.Wazero, LLVM: true, Fresh: true, Dir: t.TempDir()})
	}
	for name, vs := range wasmFaultVersions {
		t.Run("clean/"+name, func(t *testing.T) {
			out, m := linkWasmFaulty(t, vs, 0)
			require.NoError(t, check(t, out, m))
		})
	}
	for _, tc := range []struct {
		fault    fault.Fault
		versions string
		want     []string // each reported
	}{
		// A stale table slot after a function moves: the cell still
		// names the free body the function left.
		{fault.SkipGOTRewrite, "moves", []string{"invariant 3 (", "invariant 1 ("}},
		// A stale table slot after a function is added: the freed slot
		// of a deleted function is not cleared, and the function added
		// in its place (its index) appears in the table.
		{fault.StaleFreeGOTSlot, "deleted, then added", []string{"invariant 3 (", "invariant 2 ("}},
		// A body grown over its neighbour (the free body past the last
		// one): its end is overwritten by the free body's framing.
		{fault.LastAtomOverflow, "last grows", []string{"invariant 8 (", "invariant 5 ("}},
		// The error slice length off by one.
		{fault.WasmErrLenOffByOne, "errors", []string{"invariant 7 (", "invariant 1 ("}},
		// A data pointer not re-patched after its datum moved.
		{fault.SkipPointerRepatch, "datum moves", []string{"invariant 6 (", "invariant 2 ("}},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			out, m := linkWasmFaulty(t, wasmFaultVersions[tc.versions], fault.Of(tc.fault))
			err := check(t, out, m)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			t.Logf("%v", err)
		})
	}
}

// TestWasmIncrementalLongSequenceAgainstWasmLD is issue 16's proof for
// incremental Wasm: a 1,000-function program goes through 50 random
// edits, each linked incrementally, and after every update every
// invariant holds: the value under wazero (1), the canonical image equal
// to a fresh reference link's (2), invariants 3 to 7 and wasm-validate
// (8). At the end the module's canonical image equals wasm-ld's link of
// the same version (WasmIncrObjects; coverage above 99%), the sidecar still describes the
// file, and the module runs to the interpreter's value under both wazero
// engines. 50 edits with LINKCHECK_LONG=1 (about 6 minutes here), 20 in
// make test, and 200 functions and 10 edits with -short.
func TestWasmIncrementalLongSequenceAgainstWasmLD(t *testing.T) {
	tools.Require(t, "wasm-ld")
	tools.Require(t, "wasm-validate")
	funcs, edits := sequenceSize(10)
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.wasm")
	m := ir.Generate(ir.GenConfig{Seed: 16, Funcs: funcs})
	r := rand.New(rand.NewSource(16))
	var st incr.Stats
	for step := 0; step <= edits; step++ {
		var e ir.Edit
		if step > 0 {
			m, e = ir.RandomEdit(m, r)
		}
		res, err := Update(out, obj.Wasm, m, "", incr.Trampoline)
		require.NoError(t, err, "step %d (%s)", step, e)
		require.Equal(t, step == 0, res.Relinked, "step %d: %s", step, res.Reason)
		st.Moved += res.Stats.Moved
		st.Added += res.Stats.Added
		st.Deleted += res.Stats.Deleted
		st.InPlace += res.Stats.InPlace
		st.Repatched += res.Stats.Repatched
		require.NoError(t, CheckIncremental(ctx, out, m, IncrCheck{Format: obj.Wasm, Runner: runner, Mode: oexec.Wazero, LLVM: true, Fresh: true, Dir: dir}),
			"step %d (%s)", step, e)
	}
	t.Logf("%d updates on %d functions: %s", edits, funcs, st)
	require.Positive(t, st.Moved, "the sequence should move a body")

	// The final version: wasm-ld links the same one-unit object.
	objs, err := WasmIncrObjects(m)
	require.NoError(t, err)
	b, err := wasm.WriteObject(objs[0])
	require.NoError(t, err)
	objPath := filepath.Join(dir, "u0.o")
	require.NoError(t, os.WriteFile(objPath, b, 0o644))
	lldOut := filepath.Join(dir, "wasm-ld.wasm")
	_, err = LinkLLD(ctx, obj.Wasm, []string{objPath}, lldOut)
	require.NoError(t, err)
	lldData, err := os.ReadFile(lldOut)
	require.NoError(t, err)
	incrData, err := os.ReadFile(out)
	require.NoError(t, err)
	lldImg, err := canon.ReadWasmWith(lldData, objs, canon.WasmOptions{NoLayout: true})
	require.NoError(t, err)
	incrImg, err := canon.ReadWasmWith(incrData, objs, canon.WasmOptions{NoLayout: true})
	require.NoError(t, err)
	rep := diff.Compare(lldImg, incrImg, diff.Options{NameA: "wasm-ld", NameB: "incr"})
	require.True(t, rep.Equal(), "%s", rep.Text())
	require.Greater(t, rep.Coverage.Ratio(), 0.99, "%s", rep.Text())
	require.Empty(t, incrImg.Notes)
	t.Logf("incremental module against wasm-ld: coverage %.1f%%", 100*rep.Coverage.Ratio())
	_, err = incr.LoadState(out, wasm.IncrImage{})
	require.NoError(t, err)
	want, err := Expected(m)
	require.NoError(t, err)
	_, err = RunWasmEngines(ctx, out, want)
	require.NoError(t, err)
}
