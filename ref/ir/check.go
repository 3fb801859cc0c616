package ir

import (
	"fmt"
	"strconv"
)

// MaxParams is the largest number of parameters a function may have.
const MaxParams = 4

// MaxAlign is the largest function alignment, MaxPad the largest pad.
const (
	MaxAlign = 4096
	MaxPad   = 4096
)

// Check reports whether a module built in memory (by the generator, an edit
// or by hand) obeys every static rule of the language; Parse applies the
// same rules. The error, if any, is an ErrorList.
func Check(m *Module) error {
	if m == nil {
		return ErrorList{{Msg: "nil module"}}
	}
	return check(m, "", nil).Err()
}

func check(m *Module, file string, errPos []Pos) ErrorList {
	c := &checker{m: m, file: file}
	c.resolve(errPos)
	errs := c.errs
	errs.sort()
	if len(errs) > maxErrors {
		errs = errs[:maxErrors]
	}
	return errs
}

// value is a run-time value: an integer when a is 0, otherwise the address
// of function a-1 (a > 0) or of global -a-1 (a < 0).
type value struct {
	n uint64
	a int32
}

func (v value) isAddr() bool { return v.a != 0 }

// program is a checked module compiled for the interpreter: every name is
// resolved to an index and every local to a frame slot.
type program struct {
	funcs   []*cfunc
	globals []value // initial values
	gconst  []bool
	gnames  []string
	errors  []string
	// errValues are the errors' values by number (eErr's idx).
	errValues []uint64
	main      int
}

type cfunc struct {
	name    string
	pos     Pos
	nparams int
	nslots  int
	body    []*cstmt
}

type exprOp uint8

const (
	eLit exprOp = iota
	eVar
	eLoad
	eAddr
	eUnary
	eBinary
	eCall
	eCallInd
	eErrLen
	eErrByte
	eErr // the value of error number idx
)

type cexpr struct {
	op   exprOp
	bop  Op
	slot int32
	idx  int32
	lit  value
	x, y *cexpr
	args []*cexpr
	pos  Pos
}

type stmtOp uint8

const (
	sSet stmtOp = iota // let or assignment
	sStore
	sIf
	sWhile
	sReturn
	sPad
	sExpr
)

type cstmt struct {
	op   stmtOp
	slot int32
	idx  int32
	x    *cexpr
	then []*cstmt
	els  []*cstmt
	pos  Pos
}

type scopeVar struct {
	name string
	slot int32
}

type checker struct {
	m    *Module
	file string
	errs ErrorList

	funcs   map[string]int
	globals map[string]int
	errIdx  map[string]int

	prog *program

	// per function: the context of an error is ctx+ctxName (joined only
	// for an error)
	ctx, ctxName string
	vars         []scopeVar
	// visible maps each variable in scope to its slot (vars in a map, so
	// that a block of 100,000 lets is checked in linear time).
	visible map[string]int32
	nslots  int32
	nest    int
	// nestReported is set once "nesting deeper than" is reported: one
	// report, not one per enclosing construct.
	nestReported bool

	// The compiled program's nodes and lists are cut from chunks, not
	// allocated one by one (they all live as long as the program).
	exprSlab []cexpr
	stmtSlab []cstmt
	exprPtrs []*cexpr
	stmtPtrs []*cstmt

	// kept are the functions an Interpreter compiled in an earlier
	// module without errors; while recording, deps collects the lookups
	// of the function being compiled, and fdeps each function's.
	kept      map[*Func]keptFunc
	recording bool
	deps      []dep
	fdeps     [][]dep
	// cfs are the compiled functions by declaration.
	cfs []*cfunc

	// fids and gids number the functions and globals by declaration for
	// the compiled program (nfids, ngids of each); their declaration
	// indexes, unless ids (an Interpreter's) numbers each name once for
	// all the versions it checks, so that a function kept from an earlier
	// version calls the same numbers.
	ids          *idTable
	fids, gids   []int32
	nfids, ngids int
	// eids numbers the errors (eErr's idx).
	eids map[string]int32
}

// idTable numbers names, each once: functions, globals and errors each
// from 0.
type idTable struct {
	funcs, globals, errors map[string]int32
}

// number sets fids and gids: by declaration, or, with ids, the number of
// each name (a new one for a name not seen before; a redeclared name's
// later declarations get numbers of their own, used by nothing).
func (c *checker) number() {
	m := c.m
	c.fids, c.gids = make([]int32, len(m.Funcs)), make([]int32, len(m.Globals))
	if c.ids == nil {
		for i := range c.fids {
			c.fids[i] = int32(i)
		}
		for i := range c.gids {
			c.gids[i] = int32(i)
		}
		c.nfids, c.ngids = len(m.Funcs), len(m.Globals)
		return
	}
	next := func(t map[string]int32, name string, declared bool) int32 {
		if id, ok := t[name]; ok && declared {
			return id
		}
		id := int32(len(t))
		if declared {
			t[name] = id
		} else {
			t["\x00"+strconv.Itoa(int(id))] = id // a number of its own
		}
		return id
	}
	for i, f := range m.Funcs {
		declared := f != nil && c.funcs[f.Name] == i
		name := ""
		if f != nil {
			name = f.Name
		}
		c.fids[i] = next(c.ids.funcs, name, declared)
	}
	for i, g := range m.Globals {
		declared := g != nil && c.globals[g.Name] == i
		name := ""
		if g != nil {
			name = g.Name
		}
		c.gids[i] = next(c.ids.globals, name, declared)
	}
	c.nfids, c.ngids = len(c.ids.funcs), len(c.ids.globals)
}

// gid is the number of the global declared at index i, when ok (0
// otherwise: the lookup failed and the program has an error).
func (c *checker) gid(i int, ok bool) int32 {
	if !ok {
		return 0
	}
	return c.gids[i]
}

// keptFunc is a function compiled for an earlier module, and the lookups
// its compilation made.
type keptFunc struct {
	cf   *cfunc
	deps []dep
}

// nodeCount counts what the checker compiles a body into: expressions,
// statements, call arguments and block statements.
type nodeCount struct{ nexpr, nstmt, args, list int }

func (n *nodeCount) stmt(s Stmt) {
	n.nstmt++
	switch s := s.(type) {
	case *IfStmt:
		n.list += len(s.Then) + len(s.Else)
	case *WhileStmt:
		n.list += len(s.Body)
	}
}

func (n *nodeCount) expr(e Expr) {
	n.nexpr++
	switch x := e.(type) {
	case *CallExpr:
		n.args += len(x.Args)
	case *CallIndirectExpr:
		n.args += len(x.Args)
	}
}

// body counts a function's body.
func (n *nodeCount) body(ss []Stmt) {
	n.list += len(ss)
	walkStmts(n, ss)
}

// slabChunk is the most nodes a chunk of the checker's slabs holds; the
// first chunks are smaller, so that a small program allocates little.
const slabChunk = 1024

func chunkSize(prev int) int { return min(max(2*prev, 64), slabChunk) }

// newExpr returns a compiled expression holding x, cut from the slab.
func (c *checker) newExpr(x cexpr) *cexpr { return cutNode(&c.exprSlab, x) }

// newStmt returns a compiled statement holding x, cut from the slab.
func (c *checker) newStmt(x cstmt) *cstmt { return cutNode(&c.stmtSlab, x) }

// exprList returns an empty list of capacity n cut from the slab (a long
// one is allocated alone).
func (c *checker) exprList(n int) []*cexpr { return cutList(&c.exprPtrs, n) }

// stmtList is exprList for statements.
func (c *checker) stmtList(n int) []*cstmt { return cutList(&c.stmtPtrs, n) }

// cutNode appends x to *slab, a chunk with room for it (a new chunk when
// it is full), and returns the element.
func cutNode[T any](slab *[]T, x T) *T {
	if len(*slab) == cap(*slab) {
		*slab = make([]T, 0, chunkSize(cap(*slab)))
	}
	*slab = append(*slab, x)
	return &(*slab)[len(*slab)-1]
}

// cutList returns an empty list of capacity n cut from *slab (a list
// longer than a quarter chunk is allocated alone).
func cutList[T any](slab *[]T, n int) []T {
	if n > slabChunk/4 {
		return make([]T, 0, n)
	}
	if cap(*slab)-len(*slab) < n {
		*slab = make([]T, 0, max(chunkSize(cap(*slab)), n))
	}
	l := len(*slab)
	*slab = (*slab)[:l+n]
	return (*slab)[l : l : l+n]
}

func (c *checker) errorf(pos Pos, format string, args ...any) {
	if len(c.errs) >= 4*maxErrors {
		return
	}
	c.errs = append(c.errs, &Error{File: c.file, Pos: pos, Context: c.ctx + c.ctxName, Msg: msgf(format, args...)})
}

func posString(p Pos) string {
	if p.Line == 0 {
		return ""
	}
	return fmt.Sprintf(" (first declared at %d:%d)", p.Line, p.Col)
}

func (c *checker) resolve(errPos []Pos) {
	m := c.m
	c.prog = &program{main: -1}
	c.funcs = make(map[string]int, len(m.Funcs))
	c.globals = make(map[string]int, len(m.Globals))
	c.errIdx = make(map[string]int, len(m.Errors))

	c.ctx, c.ctxName = "errors", ""
	for i, e := range m.Errors {
		var pos Pos
		if i < len(errPos) {
			pos = errPos[i]
		}
		if !ValidIdent(e) {
			c.errorf(pos, "invalid error name %q", e)
			continue
		}
		if _, dup := c.errIdx[e]; dup {
			c.errorf(pos, "duplicate error %s", e)
			continue
		}
		c.errIdx[e] = i + 1
	}
	c.prog.errors = m.Errors
	c.numberErrors()

	// Globals and functions share one name space.
	declPos := make(map[string]Pos, len(m.Funcs)+len(m.Globals))
	declare := func(what, name string, pos Pos) bool {
		if !ValidIdent(name) {
			c.errorf(pos, "invalid %s name %q", what, name)
		}
		if p, dup := declPos[name]; dup {
			c.errorf(pos, "%s redeclared%s", name, posString(p))
			return false
		}
		declPos[name] = pos
		return true
	}
	for i, g := range m.Globals {
		if g == nil {
			c.ctx, c.ctxName = "globals", ""
			c.errorf(Pos{}, "nil global")
			continue
		}
		c.ctx, c.ctxName = "global ", g.Name
		if declare("global", g.Name, g.Pos) {
			c.globals[g.Name] = i
		}
	}
	for i, f := range m.Funcs {
		if f == nil {
			c.ctx, c.ctxName = "funcs", ""
			c.errorf(Pos{}, "nil function")
			continue
		}
		c.ctx, c.ctxName = "func ", f.Name
		if declare("function", f.Name, f.Pos) {
			c.funcs[f.Name] = i
		}
	}

	c.number()
	c.prog.globals = make([]value, c.ngids)
	c.prog.gconst = make([]bool, c.ngids)
	c.prog.gnames = make([]string, c.ngids)
	for i, g := range m.Globals {
		if g == nil {
			continue
		}
		c.ctx, c.ctxName = "global ", g.Name
		gi := c.gids[i]
		c.prog.gconst[gi] = g.Const
		c.prog.gnames[gi] = g.Name
		if g.Init.Addr == "" {
			c.prog.globals[gi] = value{n: g.Init.Value}
			continue
		}
		if g.Init.Value != 0 {
			c.errorf(g.Pos, "initializer of %s has both a value and an address", g.Name)
		}
		v, ok := c.addrOf(g.Init.Addr)
		if !ok {
			c.errorf(g.Pos, "undefined: %s", g.Init.Addr)
		}
		c.prog.globals[gi] = v
	}

	// The functions kept from an earlier module whose lookups give the
	// same results here are that module's compiled functions.
	c.prog.funcs = make([]*cfunc, c.nfids)
	cfs := make([]*cfunc, len(m.Funcs)) // by declaration
	if c.kept != nil {
		c.fdeps = make([][]dep, len(m.Funcs))
		for i, f := range m.Funcs {
			if k, ok := c.kept[f]; ok && f != nil && c.holds(k.deps) {
				cfs[i], c.fdeps[i] = k.cf, k.deps
			}
		}
	}
	// The compiled nodes in four allocations of the sizes they take.
	var n nodeCount
	for i, f := range m.Funcs {
		if f != nil && cfs[i] == nil {
			n.body(f.Body)
		}
	}
	c.exprSlab = make([]cexpr, 0, n.nexpr)
	c.stmtSlab = make([]cstmt, 0, n.nstmt)
	c.exprPtrs = make([]*cexpr, 0, n.args)
	c.stmtPtrs = make([]*cstmt, 0, n.list)
	for i, f := range m.Funcs {
		if f == nil {
			continue
		}
		if cfs[i] == nil {
			if c.fdeps != nil {
				c.recording, c.deps = true, nil
			}
			cfs[i] = c.function(f)
			if c.fdeps != nil {
				c.fdeps[i], c.recording = c.deps, false
			}
		}
		c.prog.funcs[c.fids[i]] = cfs[i]
	}
	c.cfs = cfs

	c.ctx, c.ctxName = "", ""
	mi, ok := c.funcs["main"]
	switch {
	case !ok:
		pos := Pos{}
		if c.file != "" {
			pos = Pos{1, 1}
		}
		if _, isGlobal := c.globals["main"]; isGlobal {
			c.errorf(pos, "main is a global, not a function")
		} else {
			c.errorf(pos, "missing func main")
		}
	default:
		f := m.Funcs[mi]
		c.ctx, c.ctxName = "func main", ""
		if len(f.Params) != 0 {
			c.errorf(f.Pos, "func main must have no parameters")
		}
		if f.Local {
			c.errorf(f.Pos, "func main must not be local")
		}
		c.prog.main = int(c.fids[mi])
	}
}

// addrOf returns the address value of a function or global.
func (c *checker) addrOf(name string) (value, bool) {
	if i, ok := c.funcAt(name); ok {
		return value{a: c.fids[i] + 1}, true
	}
	if i, ok := c.globalAt(name); ok {
		return value{a: -c.gids[i] - 1}, true
	}
	return value{}, false
}

// A dep is one lookup a function's compilation made in the module's
// name spaces, and its result: the function compiles to the same nodes
// in any module where its lookups give the same results.
type dep struct {
	kind depKind
	name string
	// idx is the function's or global's number (-1: none) or whether
	// the error exists (1) or not (0); aux a function's arity or whether a
	// global is const.
	idx, aux int
}

type depKind uint8

const (
	depFunc depKind = iota
	depGlobal
	depError
)

// funcAt looks name up among the functions (recording the lookup while a
// function is compiled for an Interpreter).
func (c *checker) funcAt(name string) (int, bool) {
	i, ok := c.funcs[name]
	if c.recording {
		d := dep{kind: depFunc, name: name, idx: -1}
		if ok {
			d.idx, d.aux = int(c.fids[i]), len(c.m.Funcs[i].Params)
		}
		c.deps = append(c.deps, d)
	}
	return i, ok
}

// globalAt looks name up among the globals.
func (c *checker) globalAt(name string) (int, bool) {
	i, ok := c.globals[name]
	if c.recording {
		d := dep{kind: depGlobal, name: name, idx: -1}
		if ok {
			d.idx = int(c.gids[i])
			if c.m.Globals[i].Const {
				d.aux = 1
			}
		}
		c.deps = append(c.deps, d)
	}
	return i, ok
}

// errAt looks name up among the errors and returns its number (its
// value is the program's errValues[number], so that a function kept by an
// Interpreter stays right when the error's value changes).
func (c *checker) errAt(name string) (int32, bool) {
	_, ok := c.errIdx[name]
	if c.recording {
		d := dep{kind: depError, name: name}
		if ok {
			d.idx = 1
		}
		c.deps = append(c.deps, d)
	}
	if !ok {
		return 0, false
	}
	return c.eids[name], true
}

// numberErrors numbers the errors (eids): by value, or with ids each name
// once for all versions; and fills the program's errValues.
func (c *checker) numberErrors() {
	c.eids = make(map[string]int32, len(c.errIdx))
	if c.ids == nil {
		c.prog.errValues = make([]uint64, len(c.m.Errors))
		for name, v := range c.errIdx {
			c.eids[name] = int32(v - 1)
			c.prog.errValues[v-1] = uint64(v)
		}
		return
	}
	for _, name := range c.m.Errors {
		if _, ok := c.errIdx[name]; !ok {
			continue
		}
		id, ok := c.ids.errors[name]
		if !ok {
			id = int32(len(c.ids.errors))
			c.ids.errors[name] = id
		}
		c.eids[name] = id
	}
	c.prog.errValues = make([]uint64, len(c.ids.errors))
	for name, id := range c.eids {
		c.prog.errValues[id] = uint64(c.errIdx[name])
	}
}

// holds reports whether every lookup of deps gives the same result in
// c's module.
func (c *checker) holds(deps []dep) bool {
	for _, d := range deps {
		switch d.kind {
		case depFunc:
			i, ok := c.funcs[d.name]
			if !ok {
				if d.idx != -1 {
					return false
				}
			} else if int(c.fids[i]) != d.idx || len(c.m.Funcs[i].Params) != d.aux {
				return false
			}
		case depGlobal:
			i, ok := c.globals[d.name]
			if !ok {
				if d.idx != -1 {
					return false
				}
			} else if int(c.gids[i]) != d.idx || c.m.Globals[i].Const != (d.aux == 1) {
				return false
			}
		case depError:
			if _, ok := c.errIdx[d.name]; ok != (d.idx == 1) {
				return false
			}
		}
	}
	return true
}

func (c *checker) lookup(name string) (int32, bool) {
	slot, ok := c.visible[name]
	return slot, ok
}

// push brings a variable into scope (a redeclaration keeps the first).
func (c *checker) push(name string, slot int32) {
	c.vars = append(c.vars, scopeVar{name, slot})
	if _, ok := c.visible[name]; !ok {
		c.visible[name] = slot
	}
}

// popTo takes the variables declared since mark out of scope.
func (c *checker) popTo(mark int) {
	for _, v := range c.vars[mark:] {
		if c.visible[v.name] == v.slot {
			delete(c.visible, v.name)
		}
	}
	c.vars = c.vars[:mark]
}

func (c *checker) declare(pos Pos, name string) int32 {
	if !ValidIdent(name) {
		c.errorf(pos, "invalid variable name %q", name)
	}
	if _, dup := c.lookup(name); dup {
		c.errorf(pos, "variable %s redeclared", name)
	}
	slot := c.nslots
	c.nslots++
	c.push(name, slot)
	return slot
}

func (c *checker) function(f *Func) *cfunc {
	c.ctx, c.ctxName = "func ", f.Name
	c.vars = c.vars[:0]
	if c.visible == nil {
		c.visible = map[string]int32{}
	}
	clear(c.visible)
	c.nslots = 0
	c.nest = 0
	if len(f.Params) > MaxParams {
		c.errorf(f.Pos, "func %s has %d parameters, more than %d", f.Name, len(f.Params), MaxParams)
	}
	if f.Align != 0 && (f.Align > MaxAlign || f.Align&(f.Align-1) != 0) {
		c.errorf(f.Pos, "bad alignment %d: must be a power of two from 1 to %d", f.Align, MaxAlign)
	}
	for _, p := range f.Params {
		if _, dup := c.lookup(p); dup {
			c.errorf(f.Pos, "duplicate parameter %s", p)
		}
		if !ValidIdent(p) {
			c.errorf(f.Pos, "invalid parameter name %q", p)
		}
		c.push(p, c.nslots)
		c.nslots++
	}
	cf := &cfunc{name: f.Name, pos: f.Pos, nparams: len(f.Params)}
	cf.body = c.block(f.Body)
	cf.nslots = int(c.nslots)
	return cf
}

func (c *checker) block(body []Stmt) []*cstmt {
	mark := len(c.vars)
	c.nest++
	out := c.stmtList(len(body))
	if c.nest > maxNest {
		if !c.nestReported {
			c.nestReported = true
			c.errorf(Pos{}, "nesting deeper than %d", maxNest)
		}
		c.nest--
		return out
	}
	for _, s := range body {
		if cs := c.stmt(s); cs != nil {
			out = append(out, cs)
		}
	}
	c.popTo(mark)
	c.nest--
	return out
}

func (c *checker) stmt(s Stmt) *cstmt {
	switch s := s.(type) {
	case *LetStmt:
		x := c.expr(s.Value)
		return c.newStmt(cstmt{op: sSet, slot: c.declare(s.Pos, s.Name), x: x, pos: s.Pos})
	case *AssignStmt:
		x := c.expr(s.Value)
		slot, ok := c.lookup(s.Name)
		if !ok {
			if _, g := c.globalAt(s.Name); g {
				c.errorf(s.Pos, "cannot assign to global %s (use store)", s.Name)
			} else {
				c.errorf(s.Pos, "undefined variable %s", s.Name)
			}
		}
		return c.newStmt(cstmt{op: sSet, slot: slot, x: x, pos: s.Pos})
	case *StoreStmt:
		x := c.expr(s.Value)
		gi, ok := c.globalAt(s.Global)
		switch {
		case ok && c.m.Globals[gi].Const:
			c.errorf(s.Pos, "store to const %s", s.Global)
		case !ok:
			if _, f := c.funcAt(s.Global); f {
				c.errorf(s.Pos, "store to function %s", s.Global)
			} else {
				c.errorf(s.Pos, "undefined global %s", s.Global)
			}
		}
		return c.newStmt(cstmt{op: sStore, idx: c.gid(gi, ok), x: x, pos: s.Pos})
	case *IfStmt:
		cs := c.newStmt(cstmt{op: sIf, x: c.expr(s.Cond), pos: s.Pos})
		cs.then = c.block(s.Then)
		cs.els = c.block(s.Else)
		return cs
	case *WhileStmt:
		cs := c.newStmt(cstmt{op: sWhile, x: c.expr(s.Cond), pos: s.Pos})
		cs.then = c.block(s.Body)
		return cs
	case *ReturnStmt:
		cs := c.newStmt(cstmt{op: sReturn, pos: s.Pos})
		if s.Value != nil {
			cs.x = c.expr(s.Value)
		}
		return cs
	case *PadStmt:
		if s.N > MaxPad {
			c.errorf(s.Pos, "pad %d exceeds %d bytes", s.N, MaxPad)
		}
		return c.newStmt(cstmt{op: sPad, pos: s.Pos})
	case *ExprStmt:
		switch s.X.(type) {
		case *CallExpr, *CallIndirectExpr:
		default:
			c.errorf(s.Pos, "expression statement must be a call")
		}
		return c.newStmt(cstmt{op: sExpr, x: c.expr(s.X), pos: s.Pos})
	case nil:
		c.errorf(Pos{}, "nil statement")
	default:
		c.errorf(s.Position(), "unknown statement %T", s)
	}
	return nil
}

func (c *checker) exprs(args []Expr) []*cexpr {
	out := c.exprList(len(args))
	for _, a := range args {
		out = append(out, c.expr(a))
	}
	return out
}

func (c *checker) expr(e Expr) *cexpr {
	c.nest++
	x := c.expr1(e)
	c.nest--
	return x
}

func (c *checker) expr1(e Expr) *cexpr {
	if c.nest > maxNest {
		if e != nil && !c.nestReported {
			c.nestReported = true
			c.errorf(e.Position(), "nesting deeper than %d", maxNest)
		}
		return c.newExpr(cexpr{op: eLit})
	}
	switch e := e.(type) {
	case *IntLit:
		return c.newExpr(cexpr{op: eLit, lit: value{n: e.Value}, pos: e.Pos})
	case *VarRef:
		slot, ok := c.lookup(e.Name)
		if !ok {
			c.errorf(e.Pos, "undefined variable %s", e.Name)
		}
		return c.newExpr(cexpr{op: eVar, slot: slot, pos: e.Pos})
	case *LoadExpr:
		gi, ok := c.globalAt(e.Global)
		if !ok {
			if _, f := c.funcAt(e.Global); f {
				c.errorf(e.Pos, "load of function %s", e.Global)
			} else {
				c.errorf(e.Pos, "undefined global %s", e.Global)
			}
		}
		return c.newExpr(cexpr{op: eLoad, idx: c.gid(gi, ok), pos: e.Pos})
	case *AddrOf:
		v, ok := c.addrOf(e.Name)
		if !ok {
			c.errorf(e.Pos, "undefined: %s", e.Name)
		}
		return c.newExpr(cexpr{op: eAddr, lit: v, pos: e.Pos})
	case *ErrorLit:
		id, ok := c.errAt(e.Name)
		if !ok {
			c.errorf(e.Pos, "undefined error %s", e.Name)
			return c.newExpr(cexpr{op: eLit, pos: e.Pos})
		}
		return c.newExpr(cexpr{op: eErr, idx: id, pos: e.Pos})
	case *UnaryExpr:
		if e.Op != OpNeg && e.Op != OpNot {
			c.errorf(e.Pos, "invalid unary operator %d", e.Op)
		}
		return c.newExpr(cexpr{op: eUnary, bop: e.Op, x: c.expr(e.X), pos: e.Pos})
	case *BinaryExpr:
		if e.Op < OpMul || e.Op > OpGe {
			c.errorf(e.Pos, "invalid binary operator %d", e.Op)
		}
		// The left operand of a chain (a + b + c parses as (a + b) + c)
		// is the same level of the source: only the right one nests.
		c.nest--
		x := c.expr(e.X)
		c.nest++
		return c.newExpr(cexpr{op: eBinary, bop: e.Op, x: x, y: c.expr(e.Y), pos: e.Pos})
	case *CallExpr:
		args := c.exprs(e.Args)
		fi, ok := c.funcAt(e.Func)
		switch {
		case !ok:
			if _, v := c.lookup(e.Func); v {
				c.errorf(e.Pos, "call of non-function %s (a variable: use call %s(...))", e.Func, e.Func)
			} else if _, g := c.globalAt(e.Func); g {
				c.errorf(e.Pos, "call of non-function %s (a global: use call load %s(...))", e.Func, e.Func)
			} else {
				c.errorf(e.Pos, "undefined function %s", e.Func)
			}
		case len(c.m.Funcs[fi].Params) != len(args):
			c.errorf(e.Pos, "wrong number of arguments in call to %s: have %d, want %d", e.Func, len(args), len(c.m.Funcs[fi].Params))
		}
		var id int32
		if ok {
			id = c.fids[fi]
		}
		return c.newExpr(cexpr{op: eCall, idx: id, args: args, pos: e.Pos})
	case *CallIndirectExpr:
		if len(e.Args) > MaxParams {
			c.errorf(e.Pos, "too many arguments in call: have %d, at most %d", len(e.Args), MaxParams)
		}
		switch t := e.Target.(type) {
		case *AddrOf:
			if fi, ok := c.funcAt(t.Name); ok && len(c.m.Funcs[fi].Params) != len(e.Args) {
				c.errorf(e.Pos, "wrong number of arguments in call to %s: have %d, want %d", t.Name, len(e.Args), len(c.m.Funcs[fi].Params))
			} else if _, g := c.globalAt(t.Name); g {
				c.errorf(e.Pos, "call of non-function %s (a global)", t.Name)
			}
		case *IntLit, *ErrorLit:
			c.errorf(e.Pos, "call of non-address")
		}
		return c.newExpr(cexpr{op: eCallInd, x: c.expr(e.Target), args: c.exprs(e.Args), pos: e.Pos})
	case *ErrLenExpr:
		return c.newExpr(cexpr{op: eErrLen, x: c.expr(e.Err), pos: e.Pos})
	case *ErrByteExpr:
		return c.newExpr(cexpr{op: eErrByte, x: c.expr(e.Err), y: c.expr(e.Index), pos: e.Pos})
	case nil:
		c.errorf(Pos{}, "missing expression")
	default:
		c.errorf(e.Position(), "unknown expression %T", e)
	}
	return c.newExpr(cexpr{op: eLit})
}
