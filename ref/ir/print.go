package ir

import (
	"bytes"
	"strconv"
)

var opText = [...]string{
	OpMul: "*", OpDiv: "/", OpRem: "%", OpAdd: "+", OpSub: "-",
	OpShl: "<<", OpShr: ">>", OpAnd: "&", OpXor: "^", OpOr: "|",
	OpEq: "==", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
	OpNeg: "-", OpNot: "~",
}

// String returns the operator's source text.
func (op Op) String() string {
	if int(op) < len(opText) && opText[op] != "" {
		return opText[op]
	}
	return "Op(" + strconv.Itoa(int(op)) + ")"
}

// Precedence returns the binding strength of a binary operator, from 7
// (* / %) down to 1 (comparisons); 0 for anything else.
func (op Op) Precedence() int {
	switch op {
	case OpMul, OpDiv, OpRem:
		return 7
	case OpAdd, OpSub:
		return 6
	case OpShl, OpShr:
		return 5
	case OpAnd:
		return 4
	case OpXor:
		return 3
	case OpOr:
		return 2
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		return 1
	}
	return 0
}

// errorsPerLine is how many error names Print puts on one errors line.
const errorsPerLine = 16

// Print returns the canonical text of m: the errors (16 names per line),
// then the globals, then the functions, each in declaration order, with
// tab indentation and the fewest parentheses. It is deterministic, and
// Parse(Print(m)) is Equal to m for every module that passes Check.
func Print(m *Module) []byte {
	p := &printer{}
	p.module(m)
	return p.buf.Bytes()
}

// FuncString returns the canonical text of one function.
func FuncString(f *Func) string {
	p := &printer{}
	p.fn(f)
	return p.buf.String()
}

// ExprString returns the canonical text of an expression.
func ExprString(e Expr) string {
	p := &printer{}
	p.expr(e, 0)
	return p.buf.String()
}

type printer struct {
	buf    bytes.Buffer
	indent int
}

func (p *printer) module(m *Module) {
	for i := 0; i < len(m.Errors); i += errorsPerLine {
		p.buf.WriteString("errors ")
		for j := i; j < len(m.Errors) && j < i+errorsPerLine; j++ {
			if j > i {
				p.buf.WriteString(", ")
			}
			p.buf.WriteString(m.Errors[j])
		}
		p.buf.WriteByte('\n')
	}
	for _, g := range m.Globals {
		if g.Const {
			p.buf.WriteString("const ")
		} else {
			p.buf.WriteString("global ")
		}
		p.buf.WriteString(g.Name)
		p.buf.WriteString(" = ")
		p.buf.WriteString(InitString(g.Init))
		p.buf.WriteByte('\n')
	}
	for _, f := range m.Funcs {
		p.fn(f)
	}
}

// InitString returns the source text of an initializer. Values of 2^63 and
// above are written as a negative number.
func InitString(in Init) string {
	if in.Addr != "" {
		return "&" + in.Addr
	}
	if in.Value >= 1<<63 {
		return "-" + strconv.FormatUint(-in.Value, 10)
	}
	return strconv.FormatUint(in.Value, 10)
}

func (p *printer) fn(f *Func) {
	if f.Local {
		p.buf.WriteString("local ")
	}
	p.buf.WriteString("func ")
	p.buf.WriteString(f.Name)
	p.buf.WriteByte('(')
	for i, a := range f.Params {
		if i > 0 {
			p.buf.WriteString(", ")
		}
		p.buf.WriteString(a)
	}
	p.buf.WriteString(")")
	if f.Align != 0 {
		p.buf.WriteString(" align ")
		p.buf.WriteString(strconv.FormatUint(f.Align, 10))
	}
	p.buf.WriteString(" ")
	p.block(f.Body)
	p.buf.WriteByte('\n')
}

func (p *printer) block(body []Stmt) {
	p.buf.WriteString("{\n")
	p.indent++
	for _, s := range body {
		p.stmt(s)
	}
	p.indent--
	p.tabs()
	p.buf.WriteString("}")
}

func (p *printer) tabs() {
	for i := 0; i < p.indent; i++ {
		p.buf.WriteByte('\t')
	}
}

func (p *printer) stmt(s Stmt) {
	p.tabs()
	switch s := s.(type) {
	case *LetStmt:
		p.buf.WriteString("let ")
		p.buf.WriteString(s.Name)
		p.buf.WriteString(" = ")
		p.expr(s.Value, 0)
	case *AssignStmt:
		p.buf.WriteString(s.Name)
		p.buf.WriteString(" = ")
		p.expr(s.Value, 0)
	case *StoreStmt:
		p.buf.WriteString("store ")
		p.buf.WriteString(s.Global)
		p.buf.WriteString(", ")
		p.expr(s.Value, 0)
	case *IfStmt:
		p.ifStmt(s)
	case *WhileStmt:
		p.buf.WriteString("while ")
		p.expr(s.Cond, 0)
		p.buf.WriteString(" ")
		p.block(s.Body)
	case *ReturnStmt:
		p.buf.WriteString("return")
		if s.Value != nil {
			p.buf.WriteString(" ")
			p.expr(s.Value, 0)
		}
	case *PadStmt:
		p.buf.WriteString("pad ")
		p.buf.WriteString(strconv.FormatUint(s.N, 10))
	case *ExprStmt:
		p.expr(s.X, 0)
	}
	p.buf.WriteByte('\n')
}

func (p *printer) ifStmt(s *IfStmt) {
	p.buf.WriteString("if ")
	p.expr(s.Cond, 0)
	p.buf.WriteString(" ")
	p.block(s.Then)
	if len(s.Else) == 0 {
		return
	}
	p.buf.WriteString(" else ")
	if len(s.Else) == 1 {
		if elif, ok := s.Else[0].(*IfStmt); ok {
			p.ifStmt(elif)
			return
		}
	}
	p.block(s.Else)
}

// expr prints e; prec is the precedence the context requires: e is
// parenthesized when it binds more loosely. Unary operands use prec 8.
func (p *printer) expr(e Expr, prec int) {
	switch e := e.(type) {
	case *IntLit:
		p.buf.WriteString(strconv.FormatUint(e.Value, 10))
	case *VarRef:
		p.buf.WriteString(e.Name)
	case *LoadExpr:
		p.buf.WriteString("load ")
		p.buf.WriteString(e.Global)
	case *AddrOf:
		p.buf.WriteString("&")
		p.buf.WriteString(e.Name)
	case *ErrorLit:
		p.buf.WriteString("error.")
		p.buf.WriteString(e.Name)
	case *UnaryExpr:
		p.buf.WriteString(e.Op.String())
		p.expr(e.X, 8)
	case *BinaryExpr:
		bp := e.Op.Precedence()
		if bp < prec {
			p.buf.WriteByte('(')
		}
		p.expr(e.X, bp)
		p.buf.WriteByte(' ')
		p.buf.WriteString(e.Op.String())
		p.buf.WriteByte(' ')
		p.expr(e.Y, bp+1)
		if bp < prec {
			p.buf.WriteByte(')')
		}
	case *CallExpr:
		p.buf.WriteString(e.Func)
		p.args(e.Args)
	case *CallIndirectExpr:
		p.buf.WriteString("call ")
		switch e.Target.(type) {
		case *VarRef, *LoadExpr, *AddrOf, *IntLit, *ErrorLit:
			p.expr(e.Target, 0)
		default:
			p.buf.WriteByte('(')
			p.expr(e.Target, 0)
			p.buf.WriteByte(')')
		}
		p.args(e.Args)
	case *ErrLenExpr:
		p.buf.WriteString("errlen(")
		p.expr(e.Err, 0)
		p.buf.WriteByte(')')
	case *ErrByteExpr:
		p.buf.WriteString("errbyte(")
		p.expr(e.Err, 0)
		p.buf.WriteString(", ")
		p.expr(e.Index, 0)
		p.buf.WriteByte(')')
	default:
		p.buf.WriteString("<nil>")
	}
}

func (p *printer) args(args []Expr) {
	p.buf.WriteByte('(')
	for i, a := range args {
		if i > 0 {
			p.buf.WriteString(", ")
		}
		p.expr(a, 0)
	}
	p.buf.WriteByte(')')
}
