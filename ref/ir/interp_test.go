package ir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, src string, opts InterpOptions) (uint64, error) {
	t.Helper()
	m, err := Parse("t.lir", []byte(src))
	require.NoError(t, err)
	return Interp(m, opts)
}

func TestInterpSemantics(t *testing.T) {
	errs := "errors OutOfMemory, X\n"
	for _, tc := range []struct {
		expr string
		want uint64
	}{
		{"18446744073709551615 + 2", 1},
		{"0 - 1", ^uint64(0)},
		{"-1", ^uint64(0)},
		{"~0", ^uint64(0)},
		{"0x8000000000000000 * 2", 0},
		{"7 / 2", 3},
		{"7 % 2", 1},
		{"7 / 0", 0},
		{"7 % 0", 0},
		{"-1 / 2", 1<<63 - 1},
		{"1 << 64", 1},
		{"1 << 65", 2},
		{"256 >> 72", 1},
		{"-1 >> 63", 1},
		{"-1 < 1", 0},
		{"1 < -1", 1},
		{"-1 > 0", 1},
		{"3 <= 3", 1},
		{"3 >= 4", 0},
		{"3 == 3", 1},
		{"3 != 3", 0},
		{"1 + 2 * 3", 7},
		{"1 << 2 + 1", 8},
		{"6 & 3 ^ 1", 3},
		{"1 | 2 ^ 3", 1},
		{"1 | 2 == 3", 1},
		{"2 - 3 - 4", ^uint64(4)},
		{"-2 * 3", ^uint64(5)},
		{"errlen(error.OutOfMemory)", 11},
		{"errlen(error.X)", 1},
		{"errlen(0)", 0},
		{"errlen(3)", 0},
		{"errlen(-1)", 0},
		{"errbyte(error.OutOfMemory, 0)", 'O'},
		{"errbyte(1, 10)", 'y'},
		{"errbyte(1, 11)", 0},
		{"errbyte(1, -1)", 0},
		{"errbyte(2, 0)", 'X'},
		{"errbyte(0, 0)", 0},
		{"errbyte(7, 0)", 0},
		{"error.X", 2},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			v, err := run(t, errs+"func main() { return "+tc.expr+" }", InterpOptions{})
			require.NoError(t, err)
			require.Equal(t, tc.want, v)
		})
	}
}

func TestInterpPrograms(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      uint64
	}{
		{"no return", "func main() { let x = 1 }", 0},
		{"bare return", "func main() { return }", 0},
		{"globals", "global g = 5\nfunc f() { store g, load g * 2 }\nfunc main() { f() f() return load g }", 20},
		{"neg init", "const k = -3\nfunc main() { return load k + 4 }", 1},
		{"address through data", "global p = &f\nconst q = &p\nfunc f(a) { return a + 1 }\nfunc main() { let x = load q store p, x return call load p(1) }", 0},
		{"address in var", "func f(a, b) { return a - b }\nfunc main() { let h = &f return call h(5, 3) }", 2},
		{"return address", "func f() { return &f }\nfunc g() { return 9 }\nfunc main() { let x = f() return call (&g)() }", 9},
		{"while", "func main() { let i = 0 let s = 0 while i < 10 { s = s + i i = i + 1 } return s }", 45},
		{"recursion", "func fact(n) { if n == 0 { return 1 } return n * fact(n - 1) }\nfunc main() { return fact(10) }", 3628800},
		{"scoping", "func main() { let s = 0 if 1 { let x = 5 s = x } if 1 { let x = 6 s = s + x } return s }", 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := run(t, tc.src, InterpOptions{})
			if tc.name == "address through data" {
				// store p, &p: then call load p calls a global's address.
				var re *RuntimeError
				require.ErrorAs(t, err, &re)
				require.Equal(t, CallNonFunction, re.Kind)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, v)
		})
	}
}

func TestInterpRuntimeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		kind      RuntimeErrorKind
		msg       string
	}{
		{"fuel", "func main() { while 1 { } }", OutOfFuel, "1:21: in func main: out of fuel"},
		{"stack", "func f(n) { return f(n + 1) }\nfunc main() { return f(0) }", StackOverflow, "1:20: in func f: stack overflow: call depth exceeds 100"},
		{"add addr", "func main() { return &main + 1 }", AddressArithmetic, "1:22: in func main: address arithmetic: operand of + is the address of func main"},
		{"compare addr", "func main() { return &main == &main }", AddressArithmetic, "1:22: in func main: address arithmetic: operand of == is the address of func main"},
		{"shift addr", "global g = 1\nfunc main() { return 1 << &g }", AddressArithmetic, "2:22: in func main: address arithmetic: operand of << is the address of global g"},
		{"neg addr", "func main() { return -&main }", AddressArithmetic, "1:22: in func main: address arithmetic: operand of - is the address of func main"},
		{"cond addr", "func main() { if &main { return 1 } return 0 }", AddressArithmetic, "1:18: in func main: address arithmetic: condition is the address of func main"},
		{"while addr", "global p = &main\nfunc main() { while load p { } }", AddressArithmetic, "2:21: in func main: address arithmetic: condition is the address of func main"},
		{"errlen addr", "func main() { return errlen(&main) }", AddressArithmetic, "1:22: in func main: address arithmetic: argument of errlen is the address of func main"},
		{"errbyte addr", "func main() { return errbyte(1, &main) }", AddressArithmetic, "1:22: in func main: address arithmetic: index of errbyte is the address of func main"},
		{"call int", "global p = 5\nfunc main() { return call load p() }", CallNonAddress, "2:22: in func main: call of non-address: call of integer 5"},
		{"call global", "global p = &p\nfunc main() { return call load p() }", CallNonFunction, "2:22: in func main: call of non-function: call of the address of global p"},
		{"arity", "global p = &f\nfunc f(a) { return a }\nfunc main() { return call load p(1, 2) }", ArityMismatch, "3:22: in func main: arity mismatch: call of f with 2 arguments, want 1"},
		{"address result", "func main() { return &main }", AddressResult, "1:1: in func main: address result: main returned the address of func main"},
		{"address result via load", "global p = &p\nfunc main() { return load p }", AddressResult, "2:1: in func main: address result: main returned the address of global p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, tc.src, InterpOptions{Fuel: 10000, MaxDepth: 100})
			var re *RuntimeError
			require.True(t, errors.As(err, &re), "got %v", err)
			require.Equal(t, tc.kind, re.Kind)
			require.Equal(t, tc.msg, err.Error())
		})
	}
}

func TestInterpLimits(t *testing.T) {
	// main is frame 1, f(9998) … f(0) are frames 2 … 10000.
	src := "func f(n) { if n == 0 { return 0 } return 1 + f(n - 1) }\nfunc main() { return f(9998) }"
	v, err := run(t, src, InterpOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(9998), v)
	_, err = run(t, strings.Replace(src, "9998", "9999", 1), InterpOptions{})
	var re *RuntimeError
	require.ErrorAs(t, err, &re)
	require.Equal(t, StackOverflow, re.Kind)
	// The fuel budget is exact: find the step count, then one less fails.
	m, err := Parse("t.lir", []byte("func main() { let i = 0 while i < 3 { i = i + 1 } return i }"))
	require.NoError(t, err)
	steps := int64(1)
	for ; ; steps++ {
		if _, err := Interp(m, InterpOptions{Fuel: steps}); err == nil {
			break
		}
	}
	_, err = Interp(m, InterpOptions{Fuel: steps - 1})
	require.ErrorAs(t, err, &re)
	require.Equal(t, OutOfFuel, re.Kind)
}

func TestInterpStaticError(t *testing.T) {
	m := &Module{Funcs: []*Func{{Name: "main", Body: []Stmt{&ReturnStmt{Value: &CallExpr{Func: "nope"}}}}}}
	_, err := Interp(m, InterpOptions{})
	require.EqualError(t, err, "func main: undefined function nope")
}

var expectRE = regexp.MustCompile(`(?m)^#\s*expect:\s*(\d+)\s*$`)

// TestCorpusPrograms checks every corpus/programs/*.lir against the
// value in its "# expect: N" comment, and its print/parse round trip.
func TestCorpusPrograms(t *testing.T) {
	files, err := filepath.Glob("../../corpus/programs/*.lir")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 12)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			require.NoError(t, err)
			mt := expectRE.FindSubmatch(src)
			require.NotNil(t, mt, "no # expect: N comment")
			want, err := strconv.ParseUint(string(mt[1]), 10, 64)
			require.NoError(t, err)
			m, err := Parse(file, src)
			require.NoError(t, err)
			got, err := Interp(m, InterpOptions{})
			require.NoError(t, err)
			require.Equal(t, want, got, fmt.Sprintf("%s: value", file))
			m2, err := Parse(file, Print(m))
			require.NoError(t, err)
			require.True(t, Equal(m, m2))
		})
	}
}
