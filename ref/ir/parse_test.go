package ir

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unexpected char", "func main() { return 1 $ }", "p.lir:1:24: unexpected character '$'"},
		{"first token", "$", "p.lir:1:1: unexpected character '$'"},
		{"empty", "", "p.lir:1:1: missing func main"},
		{"bad byte", "func main() {\x01}", "p.lir:1:14: unexpected byte 0x01"},
		{"underscore", "func _start() {}", "p.lir:1:6: identifier _start: a leading underscore is reserved"},
		{"overflow", "global g = 18446744073709551616\nfunc main() {}", "p.lir:1:12: integer literal 18446744073709551616 overflows u64"},
		{"hex overflow", "func main() { return 0x10000000000000000 }", "p.lir:1:22: integer literal 0x10000000000000000 overflows u64"},
		{"malformed int", "func main() { return 12ab }", "p.lir:1:22: malformed integer literal 12ab"},
		{"keyword name", "func if() {}", "p.lir:1:6: expected function name, found keyword if"},
		{"missing brace", "func main() { return 1", "p.lir:1:23: expected \"}\", found end of file"},
		{"bad decl", "let x = 1", "p.lir:1:1: expected declaration (errors, global, const, func), found keyword let"},
		{"bad init", "global g = x\nfunc main() {}", "p.lir:1:12: expected initializer (integer or &name), found identifier x"},
		{"expr stmt", "func main() { 1 + 2 }", "p.lir:1:15: expression statement must be a call"},
		{"ident stmt", "func main() { x + 2 }", "p.lir:1:17: expected \"=\" or \"(\" after x, found \"+\" (only calls may be expression statements)"},
		{"bad align", "func main() align 48 {}", "p.lir:1:19: bad alignment 48: must be a power of two from 1 to 4096"},
		{"align too big", "func main() align 8192 {}", "p.lir:1:19: bad alignment 8192: must be a power of two from 1 to 4096"},
		{"align zero", "func main() align 0 {}", "p.lir:1:19: bad alignment 0: must be a power of two from 1 to 4096"},
		{"pad too big", "func main() { pad 4097 }", "p.lir:1:19: pad 4097 exceeds 4096 bytes"},
		{"errlen arity", "func main() { return errlen(1, 2) }", "p.lir:1:28: wrong number of arguments to errlen: have 2, want 1"},
		{"errbyte arity", "func main() { return errbyte(1) }", "p.lir:1:29: wrong number of arguments to errbyte: have 1, want 2"},
		{"call target", "func main() { return call load g }", "p.lir:1:34: expected \"(\" after call target, found \"}\""},
		{"nesting", "func main() { return " + strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000) + " }", "p.lir:1:"},
		// Checker errors.
		{"unknown var", "func main() { return x }", "p.lir:1:22: undefined variable x"},
		{"unknown func", "func main() { return f(1) }", "p.lir:1:22: undefined function f"},
		{"unknown global", "func main() { return load g }", "p.lir:1:22: undefined global g"},
		{"unknown addr", "func main() { let f = &g return 0 }", "p.lir:1:23: undefined: g"},
		{"unknown error", "func main() { return errlen(error.Nope) }", "p.lir:1:29: undefined error Nope"},
		{"unknown init", "global g = &h\nfunc main() {}", "p.lir:1:1: undefined: h"},
		{"assign undeclared", "func main() { x = 1 }", "p.lir:1:15: undefined variable x"},
		{"assign global", "global g = 1\nfunc main() { g = 1 }", "p.lir:2:15: cannot assign to global g (use store)"},
		{"arity", "func f(a) { return a }\nfunc main() { return f(1, 2) }", "p.lir:2:22: wrong number of arguments in call to f: have 2, want 1"},
		{"arity addr", "func f(a) { return a }\nfunc main() { return call &f() }", "p.lir:2:22: wrong number of arguments in call to f: have 0, want 1"},
		{"too many args", "func main() { return call load g(1, 2, 3, 4, 5) }\nglobal g = &main", "p.lir:1:22: too many arguments in call: have 5, at most 4"},
		{"dup func", "func f() {}\nfunc f() {}\nfunc main() {}", "p.lir:2:1: f redeclared (first declared at 1:1)"},
		{"dup global func", "global f = 1\nfunc f() {}\nfunc main() {}", "p.lir:2:1: f redeclared (first declared at 1:1)"},
		{"dup error", "errors A, B\nerrors A\nfunc main() {}", "p.lir:2:8: duplicate error A"},
		{"dup param", "func f(a, a) {}\nfunc main() {}", "p.lir:1:1: duplicate parameter a"},
		{"dup let", "func main() { let x = 1 let x = 2 }", "p.lir:1:25: variable x redeclared"},
		{"let shadows param", "func f(a) { let a = 1 }\nfunc main() {}", "p.lir:1:13: variable a redeclared"},
		{"store const", "const k = 1\nfunc main() { store k, 2 }", "p.lir:2:15: store to const k"},
		{"store func", "func main() { store main, 2 }", "p.lir:1:15: store to function main"},
		{"store undefined", "func main() { store g, 2 }", "p.lir:1:15: undefined global g"},
		{"load func", "func main() { return load main }", "p.lir:1:22: load of function main"},
		{"call global", "global g = 1\nfunc main() { return g() }", "p.lir:2:22: call of non-function g (a global: use call load g(...))"},
		{"call var", "func main() { let v = &main\nreturn v() }", "p.lir:2:8: call of non-function v (a variable: use call v(...))"},
		{"call addr of global", "global g = 1\nfunc main() { return call &g() }", "p.lir:2:22: call of non-function g (a global)"},
		{"call int", "func main() { return call 5() }", "p.lir:1:22: call of non-address"},
		{"too many params", "func f(a, b, c, d, e) {}\nfunc main() {}", "p.lir:1:1: func f has 5 parameters, more than 4"},
		{"missing main", "func f() {}", "p.lir:1:1: missing func main"},
		{"main global", "global main = 1", "p.lir:1:1: main is a global, not a function"},
		{"main params", "func main(a) {}", "p.lir:1:1: func main must have no parameters"},
		{"main local", "local func main() {}", "p.lir:1:1: func main must not be local"},
		{"scope", "func main() { if 1 { let x = 1 } return x }", "p.lir:1:41: undefined variable x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.lir", []byte(tc.src))
			require.Error(t, err)
			first := strings.SplitN(err.Error(), "\n", 2)[0]
			if strings.HasSuffix(tc.want, ":") {
				require.True(t, strings.HasPrefix(first, tc.want), "got %q", first)
				return
			}
			require.Equal(t, tc.want, first)
			var list ErrorList
			require.ErrorAs(t, err, &list)
		})
	}
}

func TestParseSeveralErrors(t *testing.T) {
	_, err := Parse("p.lir", []byte("func main() {\n return x + y\n}\nfunc main() {}\n"))
	require.EqualError(t, err, "p.lir:2:9: undefined variable x\np.lir:2:13: undefined variable y\np.lir:4:1: main redeclared (first declared at 1:1)")
}

func TestCheckBuiltModule(t *testing.T) {
	m := &Module{Funcs: []*Func{{Name: "main", Body: []Stmt{&ReturnStmt{Value: &VarRef{Name: "x"}}}}}}
	require.EqualError(t, Check(m), "func main: undefined variable x")
	m = &Module{Funcs: []*Func{{Name: "main", Align: 3}}}
	require.EqualError(t, Check(m), "func main: bad alignment 3: must be a power of two from 1 to 4096")
	m = &Module{Errors: []string{"_x"}, Funcs: []*Func{{Name: "main"}}}
	require.EqualError(t, Check(m), "errors: invalid error name \"_x\"")
	require.EqualError(t, Check(&Module{}), "missing func main")
}

func TestPrintCanonical(t *testing.T) {
	src := `# comment
func main() {
  let x = (1 + 2) * 3 - -4 + ~(5 << 1)   # precedence
  let y = 1 - (2 - 3) + (1 < 2 < 3) + (4 & 5 ^ 6 | 7)
  if x == 1 { return 1 } else if x == 2 { return 2 } else { return }
  call (load g)(x)
  return x + y
}
global g = -1
const h = &main
errors A, B
errors C
`
	src = strings.Replace(src, "call (load g)(x)", "call load h()", 1)
	m, err := Parse("c.lir", []byte(src))
	require.NoError(t, err)
	want := `errors A, B, C
global g = -1
const h = &main
func main() {
	let x = (1 + 2) * 3 - -4 + ~(5 << 1)
	let y = 1 - (2 - 3) + (1 < 2 < 3) + (4 & 5 ^ 6 | 7)
	if x == 1 {
		return 1
	} else if x == 2 {
		return 2
	} else {
		return
	}
	call load h()
	return x + y
}
`
	require.Equal(t, want, string(Print(m)))
	m2, err := Parse("c2.lir", Print(m))
	require.NoError(t, err)
	require.True(t, Equal(m, m2))
	require.Equal(t, ^uint64(0), m.Globals[0].Init.Value)
}

func TestBareReturnBeforeCall(t *testing.T) {
	m, err := Parse("r.lir", []byte("func f() { return 5 }\nfunc main() {\n f()\n return\n f()\n}"))
	require.NoError(t, err)
	body := m.Func("main").Body
	require.Len(t, body, 3)
	require.Nil(t, body[1].(*ReturnStmt).Value)
	m2, err := Parse("r2.lir", Print(m))
	require.NoError(t, err)
	require.True(t, Equal(m, m2))
}

// TestFlatChainsAndNesting: a flat chain of operators is one level of the
// source, however long (up to maxChain); nesting deeper than maxNest is
// reported once (issue 17, defect 8).
func TestFlatChainsAndNesting(t *testing.T) {
	flat := "func main() { return " + strings.Repeat("1 + ", 1000) + "1 }\n"
	m, err := Parse("flat.lir", []byte(flat))
	require.NoError(t, err)
	v, err := Interp(m, InterpOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(1001), v)

	deep := "func main() { return " + strings.Repeat("(", 1001) + "1" + strings.Repeat(")", 1001) + " }\n"
	_, err = Parse("deep.lir", []byte(deep))
	require.Error(t, err)
	require.Equal(t, 1, strings.Count(err.Error(), "nesting deeper than 1000"), err.Error())

	long := "func main() { return " + strings.Repeat("1+", maxChain+1) + "1 }\n"
	_, err = Parse("long.lir", []byte(long))
	require.ErrorContains(t, err, "more than 100000 operators in a row")
}

// TestLongNamesShortened: a huge identifier is not copied whole into the
// message (issue 17, defect 8).
func TestLongNamesShortened(t *testing.T) {
	name := "f" + strings.Repeat("x", 1<<20)
	_, err := Parse("long.lir", []byte("func main() { return "+name+"(1) }\n"))
	require.Error(t, err)
	require.Less(t, len(err.Error()), 300, "the message quotes the whole name")
	require.Contains(t, err.Error(), "(1048577 bytes)")
}
