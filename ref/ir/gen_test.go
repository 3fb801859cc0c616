package ir

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerateRoundTripAndRuns(t *testing.T) {
	for _, tc := range []struct {
		seed  int64
		funcs int
	}{
		{1, 1}, {2, 2}, {3, 5}, {4, 20}, {5, 100}, {6, 500}, {7, 2000},
	} {
		m := Generate(GenConfig{Seed: tc.seed, Funcs: tc.funcs})
		require.NoError(t, Check(m), "seed %d", tc.seed)
		require.Len(t, m.Funcs, tc.funcs)
		src := Print(m)
		m2, err := Parse("gen.lir", src)
		require.NoError(t, err)
		require.True(t, Equal(m, m2), "seed %d: print/parse round trip", tc.seed)
		require.Equal(t, string(src), string(Print(m2)))
		v1, err := Interp(m, InterpOptions{})
		require.NoError(t, err, "seed %d", tc.seed)
		v2, err := Interp(m2, InterpOptions{})
		require.NoError(t, err)
		require.Equal(t, v1, v2)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a := Print(Generate(GenConfig{Seed: 42, Funcs: 300}))
	b := Print(Generate(GenConfig{Seed: 42, Funcs: 300}))
	require.Equal(t, string(a), string(b))
	c := Print(Generate(GenConfig{Seed: 43, Funcs: 300}))
	require.NotEqual(t, string(a), string(c))
}

// TestGenerateCoversConstructs checks that a medium program uses every
// construct the generator promises.
func TestGenerateCoversConstructs(t *testing.T) {
	m := Generate(GenConfig{Seed: 3, Funcs: 400})
	seen := map[string]bool{}
	for _, g := range m.Globals {
		if g.Init.Addr != "" {
			seen["ptrinit"] = true
		}
		if g.Const {
			seen["const"] = true
		}
	}
	for _, f := range m.Funcs {
		if f.Local {
			seen["local"] = true
		}
		if f.Align != 0 {
			seen["align"] = true
		}
		visitStmts(f.Body, func(s Stmt) {
			switch s := s.(type) {
			case *StoreStmt:
				seen["store"] = true
			case *WhileStmt:
				seen["while"] = true
			case *PadStmt:
				seen["pad"] = true
			case *IfStmt:
				seen["if"] = true
				if len(s.Else) > 0 {
					seen["else"] = true
				}
			}
		}, func(e Expr) {
			switch e := e.(type) {
			case *CallExpr:
				if e.Func == f.Name {
					seen["recursion"] = true
				}
				seen["call"] = true
			case *CallIndirectExpr:
				switch e.Target.(type) {
				case *LoadExpr:
					seen["call-load"] = true
				case *VarRef:
					seen["call-var"] = true
				case *AddrOf:
					seen["call-addr"] = true
				}
			case *ErrLenExpr:
				if _, lit := e.Err.(*ErrorLit); lit {
					seen["errlen-lit"] = true
				} else {
					seen["errlen-computed"] = true
				}
			case *ErrByteExpr:
				if _, lit := e.Err.(*ErrorLit); lit {
					seen["errbyte-lit"] = true
				} else {
					seen["errbyte-computed"] = true
				}
			}
		})
	}
	for _, k := range []string{"ptrinit", "const", "local", "align", "store", "while", "pad", "if", "else",
		"recursion", "call", "call-load", "call-var", "call-addr", "errlen-lit", "errlen-computed",
		"errbyte-lit", "errbyte-computed"} {
		require.True(t, seen[k], "construct %s not generated", k)
	}
	// Cross-unit references: some call crosses units.
	units := Partition(m, 4)
	cross := 0
	for _, f := range m.Funcs {
		for _, r := range References(f) {
			if units[r] != units[f.Name] {
				cross++
			}
		}
	}
	require.Greater(t, cross, 100)
}

func TestGenerateRand(t *testing.T) {
	for i := int64(0); i < 30; i++ {
		r := rand.New(rand.NewSource(i))
		m := GenerateRand(r, GenConfig{Funcs: 1 + int(i)*3, Errors: int(i%5) * 60})
		require.NoError(t, Check(m))
		_, err := Interp(m, InterpOptions{})
		require.NoError(t, err)
	}
}

func TestGenerateLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large program")
	}
	m := Generate(GenConfig{Seed: 1, Funcs: 100_000})
	require.Len(t, m.Funcs, 100_000)
	_, err := Interp(m, InterpOptions{})
	require.NoError(t, err)
}

// TestEditSequences applies long random edit sequences and checks that
// every version is valid, round-trips and terminates, and that edits never
// modify their input.
func TestEditSequences(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		funcs := []int{1, 3, 30, 200, 60, 10}[seed-1]
		m := Generate(GenConfig{Seed: seed, Funcs: funcs})
		r := rand.New(rand.NewSource(seed))
		kinds := map[EditKind]int{}
		for i := 0; i < 150; i++ {
			before := Print(m)
			n, e := RandomEdit(m, r)
			require.Equal(t, string(before), string(Print(m)), "edit %s modified its input", e)
			kinds[e.Kind]++
			require.NoError(t, Check(n), "seed %d step %d: %s", seed, i, e)
			src := Print(n)
			n2, err := Parse("v.lir", src)
			require.NoError(t, err, "seed %d step %d: %s", seed, i, e)
			require.True(t, Equal(n, n2))
			_, err = Interp(n, InterpOptions{})
			require.NoError(t, err, "seed %d step %d: %s\n%s", seed, i, e, src)
			require.NotEmpty(t, e.String())
			m = n
		}
		if funcs >= 30 {
			require.GreaterOrEqual(t, len(kinds), 10, "seed %d: kinds %v", seed, kinds)
		}
	}
}

func TestSequenceTxtar(t *testing.T) {
	mods, edits := SequenceEdits(9, 40, 6)
	require.Len(t, mods, 6)
	require.Len(t, edits, 5)
	require.True(t, Equal(mods[0], Sequence(9, 40, 6)[0]))
	data := SequenceTxtar("seq\n", mods, edits)
	back, err := ParseTxtar(data)
	require.NoError(t, err)
	require.Len(t, back, 6)
	for i := range mods {
		require.True(t, Equal(mods[i], back[i]), "version %d", i+1)
	}
}
