// Package ir holds linkcheck's program language (.lir): the syntax tree,
// parser, printer, checker, interpreter, random generator and the edit
// operations that turn one version of a program into the next.
//
// The language is specified in docs/ir.md. Every value is a u64 with
// wrapping arithmetic, or an address (of a function or a global), which may
// be stored, loaded, passed, returned and called but never computed with.
package ir

// Pos is a position in a source file: 1-based line and column (in bytes).
// The zero Pos means "no position" (nodes built by the generator or edits).
type Pos struct {
	Line, Col int
}

// Module is one program: its error set, its globals and its functions.
// Names of globals and functions share one namespace. The order of Globals
// and Funcs is the declaration order and is significant for printing and for
// splitting into units; the error values are the 1-based indexes into Errors.
type Module struct {
	Errors  []string
	Globals []*Global
	Funcs   []*Func
}

// Global is an 8-byte datum: mutable (`global`) or read-only (`const`).
type Global struct {
	Pos   Pos
	Name  string
	Const bool
	Init  Init
}

// Init is a global's initializer: an integer, or the address of a function
// or global when Addr is non-empty.
type Init struct {
	Value uint64
	Addr  string
}

// Func is a function. Params are at most 4 names; Align is 0 for the
// default alignment or a power of two; Local functions are not visible
// outside their unit.
type Func struct {
	Pos    Pos
	Name   string
	Local  bool
	Params []string
	Align  uint64
	Body   []Stmt
}

// Stmt is a statement.
type Stmt interface {
	stmtNode()
	// Position returns where the statement starts.
	Position() Pos
}

// Expr is an expression.
type Expr interface {
	exprNode()
	// Position returns where the expression starts.
	Position() Pos
}

// LetStmt declares a local variable: `let Name = Value`.
type LetStmt struct {
	Pos   Pos
	Name  string
	Value Expr
}

// AssignStmt assigns to a local or parameter: `Name = Value`.
type AssignStmt struct {
	Pos   Pos
	Name  string
	Value Expr
}

// StoreStmt writes a mutable global: `store Global, Value`.
type StoreStmt struct {
	Pos    Pos
	Global string
	Value  Expr
}

// IfStmt is `if Cond { Then } else { Else }`; Else is nil when absent.
// `else if` is an Else holding a single IfStmt.
type IfStmt struct {
	Pos  Pos
	Cond Expr
	Then []Stmt
	Else []Stmt
}

// WhileStmt is `while Cond { Body }`.
type WhileStmt struct {
	Pos  Pos
	Cond Expr
	Body []Stmt
}

// ReturnStmt is `return Value`; Value is nil for a bare `return` (value 0).
type ReturnStmt struct {
	Pos   Pos
	Value Expr
}

// PadStmt is `pad N`: N bytes of filler code with no effect on the value.
type PadStmt struct {
	Pos Pos
	N   uint64
}

// ExprStmt evaluates a call for its effects: `f(x)` or `call E(x)`.
type ExprStmt struct {
	Pos Pos
	X   Expr
}

// IntLit is an integer literal (decimal or 0x hex), already wrapped to u64.
type IntLit struct {
	Pos   Pos
	Value uint64
}

// VarRef reads a local variable or parameter.
type VarRef struct {
	Pos  Pos
	Name string
}

// LoadExpr reads a global or const: `load Global`.
type LoadExpr struct {
	Pos    Pos
	Global string
}

// AddrOf is the address of a function or global: `&Name`.
type AddrOf struct {
	Pos  Pos
	Name string
}

// ErrorLit is `error.Name`, whose value is the 1-based index of Name in
// Module.Errors.
type ErrorLit struct {
	Pos  Pos
	Name string
}

// Op is a unary or binary operator.
type Op uint8

// Operators. Binary precedence, tightest first: * / %, + -, << >>, &, ^, |,
// comparisons. Neg and Not are unary and bind tighter than every binary op.
const (
	OpMul Op = iota + 1
	OpDiv
	OpRem
	OpAdd
	OpSub
	OpShl
	OpShr
	OpAnd
	OpXor
	OpOr
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpNeg // unary -
	OpNot // unary ~
)

// UnaryExpr is `-X` or `~X`.
type UnaryExpr struct {
	Pos Pos
	Op  Op
	X   Expr
}

// BinaryExpr is `X Op Y`.
type BinaryExpr struct {
	Pos  Pos
	Op   Op
	X, Y Expr
}

// CallExpr is a direct call `Func(Args)`.
type CallExpr struct {
	Pos  Pos
	Func string
	Args []Expr
}

// CallIndirectExpr is `call Target(Args)`: a call of the address that Target
// evaluates to. Target is a primary: VarRef, LoadExpr, AddrOf or a
// parenthesized expression.
type CallIndirectExpr struct {
	Pos    Pos
	Target Expr
	Args   []Expr
}

// ErrLenExpr is `errlen(Err)`: the byte length of the name of error Err, or
// 0 when Err is not a declared error value.
type ErrLenExpr struct {
	Pos Pos
	Err Expr
}

// ErrByteExpr is `errbyte(Err, Index)`: byte Index of the name of error Err,
// or 0 when Err is not a declared error or Index is out of range.
type ErrByteExpr struct {
	Pos   Pos
	Err   Expr
	Index Expr
}

func (*LetStmt) stmtNode()    {}
func (*AssignStmt) stmtNode() {}
func (*StoreStmt) stmtNode()  {}
func (*IfStmt) stmtNode()     {}
func (*WhileStmt) stmtNode()  {}
func (*ReturnStmt) stmtNode() {}
func (*PadStmt) stmtNode()    {}
func (*ExprStmt) stmtNode()   {}

// Position implements Stmt.
func (s *LetStmt) Position() Pos { return s.Pos }

// Position implements Stmt.
func (s *AssignStmt) Position() Pos { return s.Pos }

// Position implements Stmt.
func (s *StoreStmt) Position() Pos { return s.Pos }

// Position implements Stmt.
func (s *IfStmt) Position() Pos { return s.Pos }

// Position implements Stmt.
func (s *WhileStmt) Position() Pos { return s.Pos }

// Position implements Stmt.
func (s *ReturnStmt) Position() Pos { return s.Pos }

// Position implements Stmt.
func (s *PadStmt) Position() Pos { return s.Pos }

// Position implements Stmt.
func (s *ExprStmt) Position() Pos { return s.Pos }

func (*IntLit) exprNode()           {}
func (*VarRef) exprNode()           {}
func (*LoadExpr) exprNode()         {}
func (*AddrOf) exprNode()           {}
func (*ErrorLit) exprNode()         {}
func (*UnaryExpr) exprNode()        {}
func (*BinaryExpr) exprNode()       {}
func (*CallExpr) exprNode()         {}
func (*CallIndirectExpr) exprNode() {}
func (*ErrLenExpr) exprNode()       {}
func (*ErrByteExpr) exprNode()      {}

// Position implements Expr.
func (e *IntLit) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *VarRef) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *LoadExpr) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *AddrOf) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *ErrorLit) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *UnaryExpr) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *BinaryExpr) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *CallExpr) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *CallIndirectExpr) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *ErrLenExpr) Position() Pos { return e.Pos }

// Position implements Expr.
func (e *ErrByteExpr) Position() Pos { return e.Pos }

// Func returns the function named name, or nil.
func (m *Module) Func(name string) *Func {
	for _, f := range m.Funcs {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Global returns the global or const named name, or nil.
func (m *Module) Global(name string) *Global {
	for _, g := range m.Globals {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// ErrorValue returns the value (1-based index) of the named error, or 0.
func (m *Module) ErrorValue(name string) uint64 {
	for i, e := range m.Errors {
		if e == name {
			return uint64(i + 1)
		}
	}
	return 0
}
