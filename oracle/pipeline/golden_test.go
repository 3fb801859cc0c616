package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden.txt from the current code")

// goldenFile holds the SHA-256 of every output TestGoldenOutputs makes.
const goldenFile = "testdata/golden.txt"

// TestGoldenOutputs pins the bytes the reference implementation writes:
// the relocatable objects of every format, the full ELF link, and every
// step of incremental update sequences under both policies, for the corpus
// programs and generated ones. The hashes were recorded before the core
// was reshaped for four formats (issue 10), so a restructuring that changes
// one output byte fails here; a deliberate output change regenerates the
// file with -update-golden and says why in its commit.
func TestGoldenOutputs(t *testing.T) {
	got := map[string]string{}
	sum := func(key string, data []byte) {
		h := sha256.Sum256(data)
		got[key] = hex.EncodeToString(h[:])
	}
	var progs []struct {
		name string
		m    *ir.Module
	}
	paths, err := filepath.Glob("../../corpus/programs/*.lir")
	require.NoError(t, err)
	for _, p := range paths {
		m, err := Load(p)
		require.NoError(t, err)
		progs = append(progs, struct {
			name string
			m    *ir.Module
		}{strings.TrimSuffix(filepath.Base(p), ".lir"), m})
	}
	for seed := 1; seed <= 12; seed++ {
		progs = append(progs, struct {
			name string
			m    *ir.Module
		}{fmt.Sprintf("gen%d", seed), ir.Generate(ir.GenConfig{Seed: int64(seed), Funcs: 3 + 7*seed})})
	}
	for _, p := range progs {
		for _, units := range []int{1, 3} {
			for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF} {
				names, files, err := Objects(p.m, f, units)
				require.NoError(t, err, "%s %s", p.name, f)
				for i := range names {
					sum(fmt.Sprintf("obj/%s/%s/u%d/%s", f, p.name, units, names[i]), files[i])
				}
			}
			cp, err := codegen.Compile(p.m, obj.ELF)
			require.NoError(t, err)
			objs, err := obj.Objects(cp, ir.Partition(p.m, units), units, func(u int) string { return UnitName(obj.ELF, u) })
			require.NoError(t, err)
			exe, _, err := elf.Link(objs, link.Options{})
			require.NoError(t, err, p.name)
			sum(fmt.Sprintf("link/elf/%s/u%d", p.name, units), exe)
		}
	}

	// Incremental sequences: the corpus mechanisms and two generated ones.
	seqs := map[string][]*ir.Module{}
	var mech []*ir.Module
	vs, err := filepath.Glob("../../corpus/updates/mechanisms/v*.lir")
	require.NoError(t, err)
	sort.Strings(vs)
	for _, p := range vs {
		m, err := Load(p)
		require.NoError(t, err)
		mech = append(mech, m)
	}
	seqs["mechanisms"] = mech
	seqs["seq7"] = ir.Sequence(7, 30, 12)
	seqs["seq8"] = ir.Sequence(8, 60, 16)
	for name, mods := range seqs {
		for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
			out := filepath.Join(t.TempDir(), "out")
			for k, m := range mods {
				_, err := Update(out, obj.ELF, m, string(ir.Print(m)), policy)
				require.NoError(t, err, "%s %s v%d", name, policy, k+1)
				data, err := os.ReadFile(out)
				require.NoError(t, err)
				sum(fmt.Sprintf("incr/elf/%s/%s/v%d", name, policy, k+1), data)
			}
		}
	}

	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, got[k])
	}
	if *updateGolden {
		require.NoError(t, os.WriteFile(goldenFile, []byte(b.String()), 0o644))
		return
	}
	data, err := os.ReadFile(goldenFile)
	require.NoError(t, err)
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		want[k] = v
	}
	// Programs added to the corpus after the file was recorded make new
	// keys: they are not compared (regenerate to pin them).
	var diffs []string
	for _, k := range keys {
		if w, ok := want[k]; ok && w != got[k] {
			diffs = append(diffs, k)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			diffs = append(diffs, k+" (no longer made)")
		}
	}
	sort.Strings(diffs)
	require.Empty(t, diffs, "outputs differ from %s", goldenFile)
}
