package ir

import (
	"fmt"
)

// Default interpreter limits.
const (
	DefaultFuel     = 50_000_000
	DefaultMaxDepth = 10_000
)

// InterpOptions bounds an interpretation. Zero fields take the defaults.
type InterpOptions struct {
	// Fuel is the number of steps the program may take: one per statement
	// executed and one per expression node evaluated (so one per call and
	// one per loop test). Default DefaultFuel.
	Fuel int64
	// MaxDepth is the largest call depth, main being depth 1. Default
	// DefaultMaxDepth.
	MaxDepth int
}

// RuntimeErrorKind classifies a RuntimeError.
type RuntimeErrorKind uint8

// Kinds of run-time error.
const (
	// OutOfFuel: the program did not finish within InterpOptions.Fuel steps.
	OutOfFuel RuntimeErrorKind = iota + 1
	// StackOverflow: the call depth exceeded InterpOptions.MaxDepth.
	StackOverflow
	// AddressArithmetic: an address was used as an operand of an operator,
	// as a condition, or as an argument of errlen or errbyte.
	AddressArithmetic
	// CallNonAddress: call of a value that is an integer.
	CallNonAddress
	// CallNonFunction: call of the address of a global.
	CallNonFunction
	// ArityMismatch: call through an address with the wrong number of
	// arguments.
	ArityMismatch
	// AddressResult: main returned an address, whose value depends on the
	// layout.
	AddressResult
)

var kindNames = [...]string{
	OutOfFuel:         "out of fuel",
	StackOverflow:     "stack overflow",
	AddressArithmetic: "address arithmetic",
	CallNonAddress:    "call of non-address",
	CallNonFunction:   "call of non-function",
	ArityMismatch:     "arity mismatch",
	AddressResult:     "address result",
}

func (k RuntimeErrorKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("RuntimeErrorKind(%d)", k)
}

// RuntimeError is an error found while interpreting: the program has no
// well-defined value.
type RuntimeError struct {
	Kind RuntimeErrorKind
	Pos  Pos    // where in the source; zero for built modules
	Func string // the function executing
	Msg  string // detail
}

func (e *RuntimeError) Error() string {
	s := ""
	if e.Pos.Line > 0 {
		s = fmt.Sprintf("%d:%d: ", e.Pos.Line, e.Pos.Col)
	}
	s += "in func " + e.Func + ": " + e.Kind.String()
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Interp runs m's main and returns its value. The module is checked first;
// a static error is returned as from Check, a dynamic one as *RuntimeError.
func Interp(m *Module, opts InterpOptions) (uint64, error) {
	if m == nil {
		return 0, ErrorList{{Msg: "nil module"}}
	}
	c := &checker{m: m}
	c.resolve(nil)
	if len(c.errs) > 0 {
		c.errs.sort()
		return 0, c.errs
	}
	return c.prog.run(opts)
}

// Interpreter interprets successive versions of one program as Interp
// does, keeping each function's compiled form between versions: a
// function that is the same declaration as in the last version checked
// without errors, and whose lookups of other functions, globals and
// errors (index, arity, constness, value) give the same results, is not
// checked and compiled again. Its results are Interp's
// (TestInterpreterEqualsInterp); the versions it is given must never be
// changed in place (as for codegen.Compiler). The zero Interpreter is
// ready to use.
type Interpreter struct {
	kept map[*Func]keptFunc
	ids  *idTable
}

// Interp is the package's Interp, taking the functions i kept.
func (i *Interpreter) Interp(m *Module, opts InterpOptions) (uint64, error) {
	if m == nil {
		return 0, ErrorList{{Msg: "nil module"}}
	}
	if i.ids == nil || len(i.ids.funcs) > 2*len(m.Funcs)+64 || len(i.ids.globals) > 2*len(m.Globals)+64 || len(i.ids.errors) > 2*len(m.Errors)+64 {
		// Numbers for this version's names alone (the kept functions
		// call the old ones).
		i.kept, i.ids = nil, &idTable{funcs: make(map[string]int32, len(m.Funcs)), globals: make(map[string]int32, len(m.Globals)), errors: make(map[string]int32, len(m.Errors))}
	}
	c := &checker{m: m, kept: i.kept, ids: i.ids}
	if c.kept == nil {
		c.kept = map[*Func]keptFunc{}
	}
	c.resolve(nil)
	if len(c.errs) > 0 {
		c.errs.sort()
		return 0, c.errs
	}
	next := make(map[*Func]keptFunc, len(m.Funcs))
	for k, f := range m.Funcs {
		next[f] = keptFunc{cf: c.cfs[k], deps: c.fdeps[k]}
	}
	i.kept = next
	return c.prog.run(opts)
}

type interp struct {
	p        *program
	globals  []value
	fuel     int64
	depth    int
	maxDepth int
	fn       *cfunc // executing function, for errors
}

type runtimePanic struct{ err *RuntimeError }

func (in *interp) fail(kind RuntimeErrorKind, pos Pos, format string, args ...any) {
	panic(runtimePanic{&RuntimeError{Kind: kind, Pos: pos, Func: in.fn.name, Msg: msgf(format, args...)}})
}

func (p *program) run(opts InterpOptions) (result uint64, err error) {
	in := &interp{p: p, fuel: opts.Fuel, maxDepth: opts.MaxDepth}
	if in.fuel <= 0 {
		in.fuel = DefaultFuel
	}
	if in.maxDepth <= 0 {
		in.maxDepth = DefaultMaxDepth
	}
	in.globals = append([]value(nil), p.globals...)
	in.fn = p.funcs[p.main]
	defer func() {
		if r := recover(); r != nil {
			rp, ok := r.(runtimePanic)
			if !ok {
				panic(r)
			}
			result, err = 0, rp.err
		}
	}()
	v := in.call(p.main, nil, p.funcs[p.main].pos)
	if v.isAddr() {
		in.fail(AddressResult, p.funcs[p.main].pos, "main returned the address of %s", p.addrName(v))
	}
	return v.n, nil
}

func (p *program) addrName(v value) string {
	if v.a > 0 {
		return "func " + p.funcs[v.a-1].name
	}
	return "global " + p.gnames[-v.a-1]
}

func (in *interp) step(pos Pos) {
	in.fuel--
	if in.fuel < 0 {
		in.fail(OutOfFuel, pos, "")
	}
}

func (in *interp) call(fi int, args []value, pos Pos) value {
	in.depth++
	if in.depth > in.maxDepth {
		in.fail(StackOverflow, pos, "call depth exceeds %d", in.maxDepth)
	}
	f := in.p.funcs[fi]
	caller := in.fn
	in.fn = f
	var small [8]value
	var frame []value
	if f.nslots <= len(small) {
		frame = small[:f.nslots]
	} else {
		frame = make([]value, f.nslots)
	}
	copy(frame, args)
	v, _ := in.block(f.body, frame)
	in.fn = caller
	in.depth--
	return v
}

// block executes statements; done reports that a return was executed.
func (in *interp) block(body []*cstmt, frame []value) (value, bool) {
	for _, s := range body {
		in.step(s.pos)
		switch s.op {
		case sSet:
			frame[s.slot] = in.eval(s.x, frame)
		case sStore:
			in.globals[s.idx] = in.eval(s.x, frame)
		case sIf:
			var v value
			var done bool
			if in.cond(s.x, frame) {
				v, done = in.block(s.then, frame)
			} else {
				v, done = in.block(s.els, frame)
			}
			if done {
				return v, true
			}
		case sWhile:
			for in.cond(s.x, frame) {
				if v, done := in.block(s.then, frame); done {
					return v, true
				}
			}
		case sReturn:
			if s.x == nil {
				return value{}, true
			}
			return in.eval(s.x, frame), true
		case sPad:
		case sExpr:
			in.eval(s.x, frame)
		}
	}
	return value{}, false
}

func (in *interp) cond(x *cexpr, frame []value) bool {
	v := in.eval(x, frame)
	if v.isAddr() {
		in.fail(AddressArithmetic, x.pos, "condition is the address of %s", in.p.addrName(v))
	}
	return v.n != 0
}

func (in *interp) intOperand(v value, pos Pos, what string) uint64 {
	if v.isAddr() {
		in.fail(AddressArithmetic, pos, "%s is the address of %s", what, in.p.addrName(v))
	}
	return v.n
}

func (in *interp) eval(e *cexpr, frame []value) value {
	in.step(e.pos)
	switch e.op {
	case eLit, eAddr:
		return e.lit
	case eErr:
		return value{n: in.p.errValues[e.idx]}
	case eVar:
		return frame[e.slot]
	case eLoad:
		return in.globals[e.idx]
	case eUnary:
		x := in.intOperand(in.eval(e.x, frame), e.pos, "operand of "+e.bop.String())
		if e.bop == OpNeg {
			return value{n: -x}
		}
		return value{n: ^x}
	case eBinary:
		xv := in.eval(e.x, frame)
		yv := in.eval(e.y, frame)
		if xv.isAddr() || yv.isAddr() {
			bad := xv
			if !bad.isAddr() {
				bad = yv
			}
			in.fail(AddressArithmetic, e.pos, "operand of %s is the address of %s", e.bop, in.p.addrName(bad))
		}
		return value{n: binop(e.bop, xv.n, yv.n)}
	case eCall:
		return in.callArgs(int(e.idx), e.args, frame, e.pos)
	case eCallInd:
		t := in.eval(e.x, frame)
		switch {
		case !t.isAddr():
			in.fail(CallNonAddress, e.pos, "call of integer %d", t.n)
		case t.a < 0:
			in.fail(CallNonFunction, e.pos, "call of the address of %s", in.p.addrName(t))
		}
		fi := int(t.a - 1)
		if want := in.p.funcs[fi].nparams; want != len(e.args) {
			in.fail(ArityMismatch, e.pos, "call of %s with %d arguments, want %d", in.p.funcs[fi].name, len(e.args), want)
		}
		return in.callArgs(fi, e.args, frame, e.pos)
	case eErrLen:
		ev := in.intOperand(in.eval(e.x, frame), e.pos, "argument of errlen")
		if ev == 0 || ev > uint64(len(in.p.errors)) {
			return value{}
		}
		return value{n: uint64(len(in.p.errors[ev-1]))}
	case eErrByte:
		ev := in.intOperand(in.eval(e.x, frame), e.pos, "argument of errbyte")
		iv := in.intOperand(in.eval(e.y, frame), e.pos, "index of errbyte")
		if ev == 0 || ev > uint64(len(in.p.errors)) {
			return value{}
		}
		name := in.p.errors[ev-1]
		if iv >= uint64(len(name)) {
			return value{}
		}
		return value{n: uint64(name[iv])}
	}
	panic("ir: bad compiled expression")
}

func (in *interp) callArgs(fi int, args []*cexpr, frame []value, pos Pos) value {
	var buf [MaxParams]value
	vals := buf[:len(args)]
	for i, a := range args {
		vals[i] = in.eval(a, frame)
	}
	return in.call(fi, vals, pos)
}

// binop applies a binary operator to two integers with the language's
// semantics: wrapping arithmetic, x/0 == x%0 == 0, shift counts mod 64,
// unsigned comparisons yielding 0 or 1.
func binop(op Op, x, y uint64) uint64 {
	switch op {
	case OpMul:
		return x * y
	case OpDiv:
		if y == 0 {
			return 0
		}
		return x / y
	case OpRem:
		if y == 0 {
			return 0
		}
		return x % y
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpShl:
		return x << (y & 63)
	case OpShr:
		return x >> (y & 63)
	case OpAnd:
		return x & y
	case OpXor:
		return x ^ y
	case OpOr:
		return x | y
	case OpEq:
		return b2u(x == y)
	case OpNe:
		return b2u(x != y)
	case OpLt:
		return b2u(x < y)
	case OpLe:
		return b2u(x <= y)
	case OpGt:
		return b2u(x > y)
	case OpGe:
		return b2u(x >= y)
	}
	return 0
}

// Eval applies a binary operator to two integers with the language's
// semantics; code generators may use it to fold constants.
func Eval(op Op, x, y uint64) uint64 { return binop(op, x, y) }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
