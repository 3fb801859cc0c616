package ir

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

const editBase = `errors A, B
global g = 1
global h = &leaf1
const p = &leaf1
const q = &g
func leaf1(x) { pad 8 return x + 1 }
func leaf2(x) { return x * 2 }
func mid(a) {
  let v = leaf1(a)
  leaf1(2)
  store g, v + errlen(error.A)
  return v
}
func main() {
  let r = mid(3) + call load p(5) + call load h(1)
  pad 100
  return r
}
`

func mustParse(t *testing.T, src string) *Module {
	t.Helper()
	m, err := Parse("e.lir", []byte(src))
	require.NoError(t, err)
	return m
}

func valueOf(t *testing.T, m *Module) uint64 {
	t.Helper()
	require.NoError(t, Check(m))
	v, err := Interp(m, InterpOptions{})
	require.NoError(t, err)
	return v
}

func TestEditConstructors(t *testing.T) {
	base := mustParse(t, editBase)
	require.Equal(t, uint64(4+6+2), valueOf(t, base))
	orig := string(Print(base))
	r := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		name  string
		edit  func() (*Module, Edit, error)
		str   string
		check func(t *testing.T, m *Module)
	}{
		{"grow pad", func() (*Module, Edit, error) { return GrowFunc(base, "leaf1", 5000) }, "grow leaf1 pad 5000",
			func(t *testing.T, m *Module) {
				require.Len(t, m.Func("leaf1").Body, 4) // pad 8, pad 4096, pad 904, return
			}},
		{"grow code", func() (*Module, Edit, error) { return GrowFuncCode(base, "mid", r) }, "grow mid code", nil},
		{"shrink", func() (*Module, Edit, error) { return ShrinkFunc(base, "main") }, "shrink main",
			func(t *testing.T, m *Module) { require.Len(t, m.Func("main").Body, 2) }},
		{"change body", func() (*Module, Edit, error) { return ChangeBody(base, "leaf2", r) }, "change-body leaf2",
			func(t *testing.T, m *Module) { require.False(t, hasCall(m.Func("leaf2").Body)) }},
		{"add func", func() (*Module, Edit, error) { return AddFunc(base, "fresh", "mid", r) }, "add-func fresh called from mid",
			func(t *testing.T, m *Module) {
				require.NotNil(t, m.Func("fresh"))
				require.Contains(t, References(m.Func("mid")), "fresh")
			}},
		{"delete leaf", func() (*Module, Edit, error) { return DeleteFunc(base, "leaf1") }, "delete-func leaf1",
			func(t *testing.T, m *Module) {
				require.Nil(t, m.Func("leaf1"))
				require.Equal(t, "leaf2", m.Global("h").Init.Addr)
				require.Equal(t, "leaf2", m.Global("p").Init.Addr)
			}},
		{"delete mid", func() (*Module, Edit, error) { return DeleteFunc(base, "mid") }, "delete-func mid", nil},
		{"set align", func() (*Module, Edit, error) { return SetAlign(base, "mid", 256) }, "set-align mid 256",
			func(t *testing.T, m *Module) { require.Equal(t, uint64(256), m.Func("mid").Align) }},
		{"add error", func() (*Module, Edit, error) { return AddError(base, "C", 0) }, "add-error C at 0",
			func(t *testing.T, m *Module) { require.Equal(t, []string{"C", "A", "B"}, m.Errors) }},
		{"rename error", func() (*Module, Edit, error) { return RenameError(base, "A", "Longer") }, "rename-error A Longer",
			func(t *testing.T, m *Module) { require.Equal(t, uint64(2), m.ErrorValue("B")) }},
		{"add global", func() (*Module, Edit, error) { return AddGlobal(base, "n", true, Init{Value: 5}) }, "add-global n = 5", nil},
		{"set init", func() (*Module, Edit, error) { return SetInit(base, "g", 1<<63) }, "set-init g = -9223372036854775808", nil},
		{"retarget call", func() (*Module, Edit, error) { return RetargetCall(base, "mid", "leaf1", "leaf2") }, "retarget-call in mid: leaf1 -> leaf2",
			func(t *testing.T, m *Module) { require.NotContains(t, References(m.Func("mid")), "leaf1") }},
		{"retarget pointer", func() (*Module, Edit, error) { return RetargetPointer(base, "p", "leaf2") }, "retarget-pointer p: &leaf1 -> &leaf2",
			func(t *testing.T, m *Module) { require.Equal(t, uint64(4+10+2), valueOf(t, m)) }},
		{"retarget data pointer", func() (*Module, Edit, error) { return RetargetPointer(base, "q", "h") }, "retarget-pointer q: &g -> &h", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, e, err := tc.edit()
			require.NoError(t, err)
			require.Equal(t, tc.str, e.String())
			valueOf(t, m)
			require.Equal(t, orig, string(Print(base)), "input modified")
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func TestEditConstructorErrors(t *testing.T) {
	base := mustParse(t, editBase)
	r := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		name string
		edit func() (*Module, Edit, error)
		want string
	}{
		{"grow unknown", func() (*Module, Edit, error) { return GrowFunc(base, "nope", 1) }, "grow: no function nope"},
		{"delete main", func() (*Module, Edit, error) { return DeleteFunc(base, "main") }, "delete-func: cannot delete main"},
		{"align", func() (*Module, Edit, error) { return SetAlign(base, "mid", 3) }, "set-align mid: bad alignment 3"},
		{"add func taken", func() (*Module, Edit, error) { return AddFunc(base, "g", "", r) }, `add-func: name "g" is invalid or taken`},
		{"add func leaf caller", func() (*Module, Edit, error) { return AddFunc(base, "z", "leaf2", r) }, "add-func: caller leaf2 has no calls; adding one could multiply the work"},
		{"error dup", func() (*Module, Edit, error) { return AddError(base, "A", 0) }, `add-error: name "A" is invalid or taken`},
		{"rename missing", func() (*Module, Edit, error) { return RenameError(base, "Z", "Y") }, "rename-error: no error Z"},
		{"set init pointer", func() (*Module, Edit, error) { return SetInit(base, "h", 1) }, "set-init h: holds an address; use RetargetPointer"},
		{"retarget arity", func() (*Module, Edit, error) { return RetargetCall(base, "main", "mid", "main") }, "retarget-call in main: mid and main are not functions of the same arity"},
		{"retarget kind", func() (*Module, Edit, error) { return RetargetPointer(base, "p", "g") }, "retarget-pointer p: leaf1 and g are not the same kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.edit()
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestPartition(t *testing.T) {
	src := `const hp = &helper
global other = 1
local func helper(x) { return x + 1 }
local func lonely() { return 0 }
func a() { return helper(1) }
func b() { return 2 }
func c() { return 3 }
func main() { return a() + b() + c() + call load hp(1) }
`
	m := mustParse(t, src)
	u := Partition(m, 3)
	require.Len(t, u, 8)
	require.Equal(t, 0, u["main"])
	require.Equal(t, u["helper"], u["a"])
	require.Equal(t, u["helper"], u["hp"])
	for _, n := range []string{"helper", "lonely", "a", "b", "c", "hp", "other"} {
		require.GreaterOrEqual(t, u[n], 0)
		require.Less(t, u[n], 3)
	}
	require.Equal(t, u, Partition(m, 3), "deterministic")
	for name := range Partition(m, 1) {
		require.Equal(t, 0, Partition(m, 1)[name])
	}
	// Generated programs: every local function shares its referrers' unit.
	g := Generate(GenConfig{Seed: 5, Funcs: 300})
	gu := Partition(g, 7)
	for _, f := range g.Funcs {
		for _, ref := range References(f) {
			if rf := g.Func(ref); rf != nil && rf.Local {
				require.Equal(t, gu[f.Name], gu[ref])
			}
		}
	}
	for _, gl := range g.Globals {
		if rf := g.Func(gl.Init.Addr); rf != nil && rf.Local {
			require.Equal(t, gu[gl.Name], gu[gl.Init.Addr])
		}
	}
}
