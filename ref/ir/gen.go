package ir

import (
	"math/rand"
	"strconv"
)

// GenConfig controls the random program generator.
type GenConfig struct {
	// Seed seeds Generate's random source (GenerateRand ignores it).
	Seed int64
	// Funcs is the number of functions, main included: 1 to 100,000 and
	// more. Values below 1 mean 1.
	Funcs int
	// Errors is the number of declared errors; 0 picks one from Funcs
	// (between 1 and 300).
	Errors int
	// Globals is the number of integer globals and consts; 0 picks one
	// from Funcs.
	Globals int
	// MaxRecursion bounds the depth of the bounded recursions; 0 means 200.
	MaxRecursion int
}

// Generate returns a random valid program drawn from cfg.Seed. See
// GenerateRand.
func Generate(cfg GenConfig) *Module {
	return GenerateRand(rand.New(rand.NewSource(cfg.Seed)), cfg)
}

// GenerateRand returns a random valid program drawn from r; fuzzers drive
// it with a source seeded from their input. The program passes Check,
// terminates within DefaultFuel and DefaultMaxDepth, never computes with
// an address and never returns one from main.
//
// Shape: main and the "node" functions form a call tree (each node has one
// call site, outside any loop, in its parent); "leaf" functions call
// nothing and may be called from anywhere, also inside loops and through
// pointers held in consts and globals; "recursive" functions call
// themselves with a decreasing depth argument bounded by MaxRecursion and
// are called once from their parent. Dynamic work is therefore linear in
// the size of the program.
func GenerateRand(r *rand.Rand, cfg GenConfig) *Module {
	if cfg.Funcs < 1 {
		cfg.Funcs = 1
	}
	if cfg.MaxRecursion <= 0 {
		cfg.MaxRecursion = 200
	}
	g := &generator{r: r, cfg: cfg, m: &Module{}}
	g.build()
	return g.m
}

type role uint8

const (
	roleLeaf role = iota
	roleNode
	roleRec
	roleMain
)

type genFunc struct {
	f        *Func
	role     role
	depth    int
	children []int
}

// pools holds what a body generator may refer to.
type pools struct {
	errors     []string
	intGlobals []string                // mutable integer globals
	intConsts  []string                // integer consts
	ptrConsts  [MaxParams + 1][]string // consts holding &f, by f's arity
	ptrGlobals [MaxParams + 1][]string // globals holding &f, by f's arity
	leaves     [MaxParams + 1][]string // functions without calls, by arity
	nleaves    int
}

type generator struct {
	r     *rand.Rand
	cfg   GenConfig
	m     *Module
	p     pools
	funcs []*genFunc
}

var errorWords = []string{
	"Out", "Of", "Memory", "File", "Not", "Found", "Access", "Denied", "Broken", "Pipe",
	"Invalid", "Argument", "Would", "Block", "Timed", "Unexpected", "End", "Overflow",
	"Bad", "Address", "Permission", "Too", "Many", "Links", "Name", "Unsupported",
	"Device", "Busy", "Is", "Directory", "Read", "Only", "Quota", "Exceeded", "Symbol",
	"Relocation", "Section", "Alignment", "Truncated", "Corrupt", "Header", "Stale",
}

// errorName returns a random error name not in used.
func errorName(r *rand.Rand, used map[string]bool) string {
	for {
		n := 1 + r.Intn(4)
		s := ""
		for i := 0; i < n; i++ {
			s += errorWords[r.Intn(len(errorWords))]
		}
		if used[s] {
			s += strconv.Itoa(r.Intn(1000))
		}
		if !used[s] {
			used[s] = true
			return s
		}
	}
}

var paramNames = [...]string{"a", "b", "c", "d"}

func (g *generator) build() {
	r, n := g.r, g.cfg.Funcs
	// Errors.
	ne := g.cfg.Errors
	if ne <= 0 {
		ne = 1 + n/20
		if r.Intn(8) == 0 {
			ne += r.Intn(300)
		}
		if ne > 300 {
			ne = 300
		}
	}
	used := make(map[string]bool, ne)
	for i := 0; i < ne; i++ {
		g.m.Errors = append(g.m.Errors, errorName(r, used))
	}
	g.p.errors = g.m.Errors

	// Function shells: helpers f1..f(n-1), then main.
	g.funcs = make([]*genFunc, n)
	var nodes []int // indexes of node functions, in order
	for i := 0; i < n-1; i++ {
		gf := &genFunc{f: &Func{Name: "f" + strconv.Itoa(i+1)}}
		switch x := r.Intn(100); {
		case i == 0 || x < 50:
			gf.role = roleLeaf
		case x < 92:
			gf.role = roleNode
		default:
			gf.role = roleRec
		}
		ar := r.Intn(MaxParams + 1)
		if gf.role == roleRec && ar == 0 {
			ar = 1 + r.Intn(MaxParams)
		}
		gf.f.Params = append([]string(nil), paramNames[:ar]...)
		if gf.role == roleRec {
			gf.f.Params[0] = "n"
		}
		if gf.role != roleRec && r.Intn(7) == 0 {
			gf.f.Local = true
		}
		if r.Intn(10) == 0 {
			gf.f.Align = 1 << uint(r.Intn(7)+1) // 2..128
			if r.Intn(20) == 0 {
				gf.f.Align = 4096
			}
		}
		if gf.role == roleLeaf {
			g.p.leaves[ar] = append(g.p.leaves[ar], gf.f.Name)
			g.p.nleaves++
		}
		g.funcs[i] = gf
	}
	mainf := &genFunc{f: &Func{Name: "main"}, role: roleMain}
	g.funcs[n-1] = mainf

	// Call tree: each helper gets a parent among main and earlier nodes.
	for i := 0; i < n-1; i++ {
		parent := n - 1
		if len(nodes) > 0 {
			switch x := r.Intn(100); {
			case x < 30:
				parent = nodes[len(nodes)-1] // grow a chain
			case x < 90:
				parent = nodes[r.Intn(len(nodes))]
			}
		}
		if g.funcs[parent].depth >= 1000 {
			parent = n - 1
		}
		g.funcs[parent].children = append(g.funcs[parent].children, i)
		g.funcs[i].depth = g.funcs[parent].depth + 1
		if g.funcs[i].role == roleNode {
			nodes = append(nodes, i)
		}
	}

	// Globals.
	ng := g.cfg.Globals
	if ng <= 0 {
		ng = 2 + n/10
	}
	for i := 0; i < ng; i++ {
		gl := &Global{Init: Init{Value: g.literal()}}
		if i%3 == 2 {
			gl.Name, gl.Const = "k"+strconv.Itoa(i+1), true
			g.p.intConsts = append(g.p.intConsts, gl.Name)
		} else {
			gl.Name = "g" + strconv.Itoa(i+1)
			g.p.intGlobals = append(g.p.intGlobals, gl.Name)
		}
		g.m.Globals = append(g.m.Globals, gl)
	}
	if g.p.nleaves > 0 {
		np := 1 + n/20
		for i := 0; i < np; i++ {
			ar, leaf := g.randomLeaf()
			gl := &Global{Init: Init{Addr: leaf}}
			if i%3 == 1 {
				gl.Name = "h" + strconv.Itoa(i+1)
				g.p.ptrGlobals[ar] = append(g.p.ptrGlobals[ar], gl.Name)
			} else {
				gl.Name, gl.Const = "p"+strconv.Itoa(i+1), true
				g.p.ptrConsts[ar] = append(g.p.ptrConsts[ar], gl.Name)
			}
			g.m.Globals = append(g.m.Globals, gl)
		}
	}
	// Data pointers to data: never dereferenced, only relocated.
	if len(g.m.Globals) > 0 {
		for i := 0; i < 1+n/200; i++ {
			t := g.m.Globals[r.Intn(len(g.m.Globals))].Name
			g.m.Globals = append(g.m.Globals, &Global{Name: "q" + strconv.Itoa(i+1), Const: r.Intn(2) == 0, Init: Init{Addr: t}})
		}
	}

	// Bodies.
	for _, gf := range g.funcs {
		b := newBodyGen(g.r, &g.p, gf.f)
		switch gf.role {
		case roleLeaf:
			gf.f.Body = b.leafBody()
		case roleRec:
			gf.f.Body = b.recBody(g.cfg.MaxRecursion)
		default:
			gf.f.Body = b.nodeBody(g.funcs, gf.children, g.cfg.MaxRecursion)
		}
	}
	g.m.Funcs = make([]*Func, n)
	for i, gf := range g.funcs {
		g.m.Funcs[i] = gf.f
	}
}

func (g *generator) literal() uint64 { return randLiteral(g.r) }

func randLiteral(r *rand.Rand) uint64 {
	switch r.Intn(10) {
	case 0:
		return r.Uint64()
	case 1:
		return 1<<63 + uint64(r.Intn(5)) - 2
	case 2:
		return ^uint64(r.Intn(3))
	}
	return uint64(r.Intn(100))
}

func (g *generator) randomLeaf() (int, string) {
	return g.p.randomLeaf(g.r)
}

func (p *pools) randomLeaf(r *rand.Rand) (int, string) {
	k := r.Intn(p.nleaves)
	for ar := range p.leaves {
		if k < len(p.leaves[ar]) {
			return ar, p.leaves[ar][k]
		}
		k -= len(p.leaves[ar])
	}
	panic("ir: leaf pool inconsistent")
}

// bodyGen generates statements for one function.
type bodyGen struct {
	r    *rand.Rand
	p    *pools
	f    *Func
	used map[string]bool // every local name in f
	next int
	// ints are the integer variables in scope; assignable those of them
	// that may be reassigned (not parameters, loop counters or pointers).
	ints       []string
	assignable []string
	calls      bool // may call leaves
	inLoop     bool
	nest       int
}

func newBodyGen(r *rand.Rand, p *pools, f *Func) *bodyGen {
	b := &bodyGen{r: r, p: p, f: f, used: map[string]bool{}}
	for _, a := range f.Params {
		b.used[a] = true
		b.ints = append(b.ints, a)
	}
	return b
}

func (b *bodyGen) fresh(prefix string) string {
	for {
		b.next++
		s := prefix + strconv.Itoa(b.next)
		if !b.used[s] {
			b.used[s] = true
			return s
		}
	}
}

func (b *bodyGen) leafBody() []Stmt {
	b.calls = false
	var body []Stmt
	for k := b.r.Intn(4); k >= 0; k-- {
		body = append(body, b.filler()...)
	}
	return append(body, b.ret()...)
}

func (b *bodyGen) ret() []Stmt {
	switch b.r.Intn(12) {
	case 0:
		return nil // falls off the end: 0
	case 1:
		return []Stmt{&ReturnStmt{}}
	}
	return []Stmt{&ReturnStmt{Value: b.expr(2)}}
}

func (b *bodyGen) recBody(maxRec int) []Stmt {
	b.calls = b.p.nleaves > 0 && b.r.Intn(3) == 0
	n := b.f.Params[0]
	var base Expr = &IntLit{Value: uint64(b.r.Intn(10))}
	if len(b.ints) > 1 {
		base = &VarRef{Name: b.ints[1+b.r.Intn(len(b.ints)-1)]}
	}
	body := []Stmt{&IfStmt{
		Cond: &BinaryExpr{Op: OpEq, X: &VarRef{Name: n}, Y: &IntLit{}},
		Then: []Stmt{&ReturnStmt{Value: base}},
	}}
	// n is a depth: never reassign it.
	for k := b.r.Intn(3); k >= 0; k-- {
		body = append(body, b.filler()...)
	}
	args := []Expr{&BinaryExpr{Op: OpSub, X: &VarRef{Name: n}, Y: &IntLit{Value: 1}}}
	for i := 1; i < len(b.f.Params); i++ {
		args = append(args, b.expr(1))
	}
	var rec Expr = &CallExpr{Func: b.f.Name, Args: args}
	if b.r.Intn(2) == 0 {
		rec = &BinaryExpr{Op: randArith(b.r), X: rec, Y: b.expr(1)}
	}
	return append(body, &ReturnStmt{Value: rec})
}

// recDepth draws the depth argument of a call to a recursive function.
func recDepth(r *rand.Rand, maxRec int) uint64 {
	switch x := r.Intn(100); {
	case x < 75:
		return uint64(r.Intn(min(maxRec, 10) + 1))
	case x < 97:
		return uint64(r.Intn(min(maxRec, 50) + 1))
	}
	return uint64(r.Intn(maxRec + 1))
}

func (b *bodyGen) nodeBody(funcs []*genFunc, children []int, maxRec int) []Stmt {
	b.calls = b.p.nleaves > 0
	var body []Stmt
	order := b.r.Perm(len(children))
	for _, k := range order {
		if b.r.Intn(3) == 0 {
			body = append(body, b.filler()...)
		}
		c := funcs[children[k]]
		args := make([]Expr, len(c.f.Params))
		for i := range args {
			args[i] = b.expr(1)
		}
		if c.role == roleRec {
			var d Expr = &IntLit{Value: recDepth(b.r, maxRec)}
			if len(b.ints) > 0 && b.r.Intn(4) == 0 {
				d = &BinaryExpr{Op: OpAnd, X: &VarRef{Name: b.ints[b.r.Intn(len(b.ints))]}, Y: &IntLit{Value: 15}}
			}
			args[0] = d
		}
		call := &CallExpr{Func: c.f.Name, Args: args}
		switch x := b.r.Intn(10); {
		case x < 5:
			v := b.fresh("v")
			body = append(body, &LetStmt{Name: v, Value: call})
			b.ints = append(b.ints, v)
			b.assignable = append(b.assignable, v)
		case x < 7:
			body = append(body, &ExprStmt{X: call})
		case x < 8 && c.role == roleLeaf && !b.inLoop:
			body = append(body, b.loopAround(&ExprStmt{X: call})...)
		default:
			var els []Stmt
			if b.r.Intn(2) == 0 {
				ni, na := len(b.ints), len(b.assignable)
				els = b.filler()
				b.ints, b.assignable = b.ints[:ni], b.assignable[:na]
			}
			body = append(body, &IfStmt{Cond: b.expr(2), Then: []Stmt{&ExprStmt{X: call}}, Else: els})
		}
	}
	for k := b.r.Intn(3); k >= 0; k-- {
		body = append(body, b.filler()...)
	}
	if b.f.Name == "main" {
		return append(body, &ReturnStmt{Value: b.expr(2)})
	}
	return append(body, b.ret()...)
}

// loopAround wraps statements in a counted loop of 1 to 6 iterations.
func (b *bodyGen) loopAround(inner ...Stmt) []Stmt {
	i := b.fresh("i")
	var bound Expr = &IntLit{Value: uint64(1 + b.r.Intn(6))}
	if len(b.ints) > 0 && b.r.Intn(3) == 0 {
		bound = &BinaryExpr{Op: OpAnd, X: &VarRef{Name: b.ints[b.r.Intn(len(b.ints))]}, Y: &IntLit{Value: 7}}
	}
	body := append(inner, &AssignStmt{Name: i, Value: &BinaryExpr{Op: OpAdd, X: &VarRef{Name: i}, Y: &IntLit{Value: 1}}})
	return []Stmt{
		&LetStmt{Name: i, Value: &IntLit{}},
		&WhileStmt{Cond: &BinaryExpr{Op: OpLt, X: &VarRef{Name: i}, Y: bound}, Body: body},
	}
}

// filler returns one to two statements that change no control structure
// outside themselves: they declare fresh variables, store to integer
// globals, call leaves (when b.calls) and loop a bounded number of times.
func (b *bodyGen) filler() []Stmt {
	r := b.r
	for {
		switch r.Intn(14) {
		case 0, 1, 2:
			v := b.fresh("v")
			s := &LetStmt{Name: v, Value: b.expr(3)}
			b.ints = append(b.ints, v)
			b.assignable = append(b.assignable, v)
			return []Stmt{s}
		case 3:
			if len(b.assignable) == 0 {
				continue
			}
			return []Stmt{&AssignStmt{Name: b.assignable[r.Intn(len(b.assignable))], Value: b.expr(3)}}
		case 4, 5:
			if len(b.p.intGlobals) == 0 {
				continue
			}
			g := b.p.intGlobals[r.Intn(len(b.p.intGlobals))]
			return []Stmt{&StoreStmt{Global: g, Value: b.expr(2)}}
		case 6:
			if b.nest >= 2 {
				continue
			}
			return []Stmt{b.ifStmt()}
		case 7:
			if b.inLoop || b.nest >= 2 {
				continue
			}
			return b.loop()
		case 8:
			if !b.calls {
				continue
			}
			ar, leaf := b.p.randomLeaf(r)
			return []Stmt{&ExprStmt{X: &CallExpr{Func: leaf, Args: b.args(ar)}}}
		case 9:
			if !b.calls {
				continue
			}
			return b.indirect()
		case 10:
			// Retarget a mutable pointer to a leaf of the same arity.
			ar := r.Intn(MaxParams + 1)
			if len(b.p.ptrGlobals[ar]) == 0 || len(b.p.leaves[ar]) == 0 {
				continue
			}
			h := b.p.ptrGlobals[ar][r.Intn(len(b.p.ptrGlobals[ar]))]
			l := b.p.leaves[ar][r.Intn(len(b.p.leaves[ar]))]
			return []Stmt{&StoreStmt{Global: h, Value: &AddrOf{Name: l}}}
		case 11:
			n := uint64(1 + r.Intn(64))
			if r.Intn(30) == 0 {
				n = uint64(1 + r.Intn(MaxPad))
			}
			return []Stmt{&PadStmt{N: n}}
		default:
			v := b.fresh("v")
			s := &LetStmt{Name: v, Value: b.errExpr()}
			b.ints = append(b.ints, v)
			b.assignable = append(b.assignable, v)
			return []Stmt{s}
		}
	}
}

func (b *bodyGen) ifStmt() Stmt {
	b.nest++
	defer func() { b.nest-- }()
	s := &IfStmt{Cond: b.expr(2)}
	ni, na := len(b.ints), len(b.assignable)
	for k := b.r.Intn(2); k >= 0; k-- {
		s.Then = append(s.Then, b.filler()...)
	}
	b.ints, b.assignable = b.ints[:ni], b.assignable[:na]
	if b.r.Intn(2) == 0 {
		if b.r.Intn(3) == 0 && b.nest < 2 {
			s.Else = []Stmt{b.ifStmt()}
		} else {
			s.Else = b.filler()
		}
		b.ints, b.assignable = b.ints[:ni], b.assignable[:na]
	}
	return s
}

func (b *bodyGen) loop() []Stmt {
	b.nest++
	b.inLoop = true
	ni, na := len(b.ints), len(b.assignable)
	var inner []Stmt
	for k := b.r.Intn(2); k >= 0; k-- {
		inner = append(inner, b.filler()...)
	}
	b.ints, b.assignable = b.ints[:ni], b.assignable[:na]
	b.inLoop = false
	b.nest--
	return b.loopAround(inner...)
}

// indirect returns a call through data: a const or global holding &f, a
// variable holding one, or &f itself.
func (b *bodyGen) indirect() []Stmt {
	r := b.r
	ar, leaf := b.p.randomLeaf(r)
	var target Expr = &AddrOf{Name: leaf}
	var pre []Stmt
	switch r.Intn(4) {
	case 0, 1:
		pool := b.p.ptrConsts[ar]
		if r.Intn(2) == 0 && len(b.p.ptrGlobals[ar]) > 0 {
			pool = b.p.ptrGlobals[ar]
		}
		if len(pool) > 0 {
			target = &LoadExpr{Global: pool[r.Intn(len(pool))]}
		}
	case 2:
		fp := b.fresh("fp")
		pre = append(pre, &LetStmt{Name: fp, Value: target})
		target = &VarRef{Name: fp}
	}
	call := &CallIndirectExpr{Target: target, Args: b.args(ar)}
	if r.Intn(3) == 0 {
		return append(pre, &ExprStmt{X: call})
	}
	v := b.fresh("v")
	b.ints = append(b.ints, v)
	b.assignable = append(b.assignable, v)
	return append(pre, &LetStmt{Name: v, Value: call})
}

func (b *bodyGen) args(n int) []Expr {
	if n == 0 {
		return nil
	}
	out := make([]Expr, n)
	for i := range out {
		out[i] = b.expr(1)
	}
	return out
}

func randArith(r *rand.Rand) Op {
	return Op(1 + r.Intn(int(OpGe)))
}

// expr returns a pure integer expression of the given depth budget.
func (b *bodyGen) expr(depth int) Expr {
	r := b.r
	if depth <= 0 {
		return b.atom()
	}
	switch r.Intn(10) {
	case 0, 1, 2:
		return b.atom()
	case 3:
		op := OpNeg
		if r.Intn(2) == 0 {
			op = OpNot
		}
		return &UnaryExpr{Op: op, X: b.expr(depth - 1)}
	case 4:
		return b.errExpr()
	}
	return &BinaryExpr{Op: randArith(r), X: b.expr(depth - 1), Y: b.expr(depth - 1)}
}

func (b *bodyGen) atom() Expr {
	r := b.r
	switch r.Intn(8) {
	case 0, 1, 2:
		if len(b.ints) > 0 {
			return &VarRef{Name: b.ints[r.Intn(len(b.ints))]}
		}
	case 3:
		if len(b.p.intGlobals) > 0 {
			return &LoadExpr{Global: b.p.intGlobals[r.Intn(len(b.p.intGlobals))]}
		}
	case 4:
		if len(b.p.intConsts) > 0 {
			return &LoadExpr{Global: b.p.intConsts[r.Intn(len(b.p.intConsts))]}
		}
	case 5:
		if len(b.p.errors) > 0 {
			return &ErrorLit{Name: b.p.errors[r.Intn(len(b.p.errors))]}
		}
	}
	return &IntLit{Value: randLiteral(r)}
}

// errExpr returns errlen or errbyte of a literal or computed error.
func (b *bodyGen) errExpr() Expr {
	r := b.r
	var e Expr
	if len(b.p.errors) > 0 && r.Intn(2) == 0 {
		e = &ErrorLit{Name: b.p.errors[r.Intn(len(b.p.errors))]}
	} else {
		// A computed error value, sometimes out of range (then 0).
		e = &BinaryExpr{Op: OpRem, X: b.atom(), Y: &IntLit{Value: uint64(len(b.p.errors) + 2)}}
	}
	if r.Intn(2) == 0 {
		return &ErrLenExpr{Err: e}
	}
	var idx Expr = &IntLit{Value: uint64(r.Intn(12))}
	if r.Intn(2) == 0 {
		idx = &BinaryExpr{Op: OpAnd, X: b.atom(), Y: &IntLit{Value: 31}}
	}
	return &ErrByteExpr{Err: e, Index: idx}
}
