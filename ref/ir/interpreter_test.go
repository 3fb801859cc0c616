package ir

import (
	"fmt"
	"maps"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInterpreterEqualsInterp: over random edit sequences, an Interpreter
// (keeping the compiled functions of the last version) gives every
// version the value or error Interp gives it.
func TestInterpreterEqualsInterp(t *testing.T) {
	for _, funcs := range []int{1, 5, 40, 120} {
		for seed := int64(1); seed <= 15; seed++ {
			m := Generate(GenConfig{Seed: seed, Funcs: funcs})
			r := rand.New(rand.NewSource(seed))
			var in Interpreter
			var ed Editor
			for i := range 40 {
				want, werr := Interp(m, InterpOptions{})
				got, gerr := in.Interp(m, InterpOptions{})
				require.Equal(t, fmt.Sprint(werr), fmt.Sprint(gerr), "funcs %d seed %d version %d", funcs, seed, i+1)
				require.Equal(t, want, got, "funcs %d seed %d version %d", funcs, seed, i+1)
				m, _ = ed.RandomEditShared(m, r)
			}
		}
	}
}

// TestInterpreterEnvironment: a function kept unchanged is compiled again
// when what it looks up changes — a callee's arity, a global's constness,
// an error's existence — so the second version's value or error is
// Interp's, where the kept code without its lookups checked gives another;
// it is kept when only the declaration order of what it names changes (the
// interpreter numbers each name once, and an error's value is looked up
// by its number as it runs), and its value is then Interp's too.
func TestInterpreterEnvironment(t *testing.T) {
	const base = `errors A, B
global g = 1
const k = 2
func leaf(x) { return x + 1 }
func other(x) { return x * 3 }
func user() {
  store g, 5
  return leaf(2) + load g + load k + error.B + call &other(1)
}
func main() { return user() }
`
	for _, tc := range []struct {
		name string
		edit func(m *Module) *Module
		kept bool // user's compiled code is still right
	}{
		{"callee arity", func(m *Module) *Module {
			n := shallow(m)
			n.Funcs[0] = &Func{Name: "leaf", Params: []string{"x", "y"}, Body: []Stmt{&ReturnStmt{Value: &VarRef{Name: "x"}}}}
			return n
		}, false},
		{"callee index", func(m *Module) *Module {
			n := shallow(m)
			n.Funcs[0], n.Funcs[1] = n.Funcs[1], n.Funcs[0]
			return n
		}, true},
		{"global const", func(m *Module) *Module {
			n := shallow(m)
			n.Globals[0] = &Global{Name: "g", Const: true, Init: Init{Value: 1}}
			return n
		}, false},
		{"global index", func(m *Module) *Module {
			n := shallow(m)
			n.Globals = append([]*Global{{Name: "h", Init: Init{Value: 40}}}, n.Globals...)
			return n
		}, true},
		{"error value", func(m *Module) *Module {
			n, _, err := AddError(m, "Z", 0)
			require.NoError(t, err)
			return n
		}, true},
		{"error gone", func(m *Module) *Module {
			n := shallow(m)
			n.Errors = []string{"A", "C"}
			return n
		}, false},
		{"address target arity", func(m *Module) *Module {
			n := shallow(m)
			n.Funcs[1] = &Func{Name: "other", Params: []string{"x", "y"}, Body: []Stmt{&ReturnStmt{Value: &VarRef{Name: "y"}}}}
			return n
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse("base.lir", []byte(base))
			require.NoError(t, err)
			var in Interpreter
			v1, err := in.Interp(m, InterpOptions{})
			require.NoError(t, err)
			require.Equal(t, uint64(3+5+2+2+3), v1)
			// An interpreter that kept the functions without their
			// lookups would reuse user's stale code: the case would
			// catch a dependency left out.
			stale := Interpreter{kept: map[*Func]keptFunc{}, ids: &idTable{funcs: maps.Clone(in.ids.funcs), globals: maps.Clone(in.ids.globals), errors: maps.Clone(in.ids.errors)}}
			for f, k := range in.kept {
				stale.kept[f] = keptFunc{cf: k.cf}
			}
			user := m.Func("user")
			before := in.kept[user].cf
			n := tc.edit(m)
			require.Same(t, user, n.Func("user"))
			want, werr := Interp(n, InterpOptions{})
			sv, serr := stale.Interp(n, InterpOptions{})
			if !tc.kept {
				require.False(t, fmt.Sprint(werr) == fmt.Sprint(serr) && want == sv, "stale code gives the same result")
			}
			got, gerr := in.Interp(n, InterpOptions{})
			if tc.kept {
				require.Same(t, before, in.kept[user].cf, "user is compiled again")
			}
			require.Equal(t, fmt.Sprint(werr), fmt.Sprint(gerr))
			require.Equal(t, want, got)
		})
	}
}
