package ir

// maxNest bounds the nesting of blocks and expressions, so that no input
// can exhaust the stack of the parser, the checker or the interpreter.
const maxNest = 1000

// maxChain bounds the operators of one flat chain (a + b + c ...), which
// nests only on the left and so is not counted by maxNest.
const maxChain = 100000

// Parse parses and checks a .lir program. filename is used in error
// messages only. On failure the error is an ErrorList whose first line is
// the first error, each formatted as file:line:col: message.
func Parse(filename string, src []byte) (*Module, error) {
	p := &parser{lx: lexer{src: src, line: 1, col: 1, file: filename}, file: filename}
	m := p.parseModule()
	if p.err != nil {
		return nil, ErrorList{p.err}
	}
	if errs := check(m, filename, p.errPos); len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// bail is panicked with to abandon parsing after the first syntax error.
type bail struct{}

type parser struct {
	lx   lexer
	file string
	tok  token
	prev token
	err  *Error
	nest int
	// errPos holds the position of each declared error name.
	errPos []Pos
}

func (p *parser) advance() {
	p.prev = p.tok
	p.tok = p.lx.next()
	if p.lx.err != nil && p.err == nil {
		p.err = p.lx.err
		panic(bail{})
	}
}

func (p *parser) failAt(pos Pos, format string, args ...any) {
	if p.err == nil {
		p.err = &Error{File: p.file, Pos: pos, Msg: msgf(format, args...)}
	}
	panic(bail{})
}

func (p *parser) is(text string) bool {
	return (p.tok.kind == tPunct || p.tok.kind == tKeyword) && p.tok.text == text
}

func (p *parser) expect(text string) Pos {
	if !p.is(text) {
		p.failAt(p.tok.pos, "expected %q, found %s", text, p.tok)
	}
	pos := p.tok.pos
	p.advance()
	return pos
}

func (p *parser) ident(what string) (string, Pos) {
	if p.tok.kind != tIdent {
		p.failAt(p.tok.pos, "expected %s name, found %s", what, p.tok)
	}
	t := p.tok
	p.advance()
	return t.text, t.pos
}

func (p *parser) intLit(what string) (uint64, Pos) {
	if p.tok.kind != tInt {
		p.failAt(p.tok.pos, "expected %s, found %s", what, p.tok)
	}
	t := p.tok
	p.advance()
	return t.val, t.pos
}

func (p *parser) enter(pos Pos) {
	p.nest++
	if p.nest > maxNest {
		p.failAt(pos, "nesting deeper than %d", maxNest)
	}
}

func (p *parser) parseModule() (m *Module) {
	m = &Module{}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bail); !ok {
				panic(r)
			}
		}
	}()
	p.advance()
	for p.tok.kind != tEOF {
		switch {
		case p.is("errors"):
			p.advance()
			for {
				name, pos := p.ident("error")
				m.Errors = append(m.Errors, name)
				p.errPos = append(p.errPos, pos)
				if !p.is(",") {
					break
				}
				p.advance()
			}
		case p.is("global"), p.is("const"):
			g := &Global{Pos: p.tok.pos, Const: p.is("const")}
			p.advance()
			g.Name, _ = p.ident("global")
			p.expect("=")
			g.Init = p.parseInit()
			m.Globals = append(m.Globals, g)
		case p.is("local"), p.is("func"):
			m.Funcs = append(m.Funcs, p.parseFunc())
		default:
			p.failAt(p.tok.pos, "expected declaration (errors, global, const, func), found %s", p.tok)
		}
	}
	return m
}

func (p *parser) parseInit() Init {
	switch {
	case p.is("&"):
		p.advance()
		name, _ := p.ident("function or global")
		return Init{Addr: name}
	case p.is("-"):
		p.advance()
		v, _ := p.intLit("integer")
		return Init{Value: -v}
	case p.tok.kind == tInt:
		v, _ := p.intLit("integer")
		return Init{Value: v}
	}
	p.failAt(p.tok.pos, "expected initializer (integer or &name), found %s", p.tok)
	return Init{}
}

func (p *parser) parseFunc() *Func {
	f := &Func{Pos: p.tok.pos}
	if p.is("local") {
		f.Local = true
		p.advance()
	}
	p.expect("func")
	f.Name, _ = p.ident("function")
	p.expect("(")
	if !p.is(")") {
		for {
			name, _ := p.ident("parameter")
			f.Params = append(f.Params, name)
			if !p.is(",") {
				break
			}
			p.advance()
		}
	}
	p.expect(")")
	if p.is("align") {
		p.advance()
		a, pos := p.intLit("alignment")
		if a < 1 || a > 4096 || a&(a-1) != 0 {
			p.failAt(pos, "bad alignment %d: must be a power of two from 1 to 4096", a)
		}
		f.Align = a
	}
	f.Body = p.parseBlock()
	return f
}

func (p *parser) parseBlock() []Stmt {
	p.enter(p.tok.pos)
	p.expect("{")
	var body []Stmt
	for !p.is("}") {
		if p.tok.kind == tEOF {
			p.failAt(p.tok.pos, "expected \"}\", found %s", p.tok)
		}
		body = append(body, p.parseStmt())
	}
	p.advance()
	p.nest--
	return body
}

// startsExpr reports whether t can begin an expression.
func startsExpr(t token) bool {
	switch t.kind {
	case tInt, tIdent:
		return true
	case tPunct:
		return t.text == "(" || t.text == "-" || t.text == "~" || t.text == "&"
	case tKeyword:
		switch t.text {
		case "load", "call", "errlen", "errbyte", "error":
			return true
		}
	}
	return false
}

func (p *parser) parseStmt() Stmt {
	pos := p.tok.pos
	switch {
	case p.is("let"):
		p.advance()
		name, _ := p.ident("variable")
		p.expect("=")
		return &LetStmt{Pos: pos, Name: name, Value: p.parseExpr()}
	case p.is("store"):
		p.advance()
		name, _ := p.ident("global")
		p.expect(",")
		return &StoreStmt{Pos: pos, Global: name, Value: p.parseExpr()}
	case p.is("if"):
		return p.parseIf()
	case p.is("while"):
		p.advance()
		cond := p.parseExpr()
		return &WhileStmt{Pos: pos, Cond: cond, Body: p.parseBlock()}
	case p.is("return"):
		p.advance()
		s := &ReturnStmt{Pos: pos}
		// The value must start on the line of the return keyword, so that a
		// bare return followed by a call statement stays a bare return.
		if p.tok.pos.Line == pos.Line && startsExpr(p.tok) {
			s.Value = p.parseExpr()
		}
		return s
	case p.is("pad"):
		p.advance()
		n, npos := p.intLit("pad size")
		if n > 4096 {
			p.failAt(npos, "pad %d exceeds 4096 bytes", n)
		}
		return &PadStmt{Pos: pos, N: n}
	case p.is("call"):
		return &ExprStmt{Pos: pos, X: p.parseExpr()}
	case p.tok.kind == tIdent:
		name := p.tok.text
		p.advance()
		switch {
		case p.is("="):
			p.advance()
			return &AssignStmt{Pos: pos, Name: name, Value: p.parseExpr()}
		case p.is("("):
			return &ExprStmt{Pos: pos, X: p.parseCallArgs(pos, name)}
		}
		p.failAt(p.tok.pos, "expected \"=\" or \"(\" after %s, found %s (only calls may be expression statements)", name, p.tok)
	case startsExpr(p.tok):
		p.failAt(pos, "expression statement must be a call")
	}
	p.failAt(pos, "expected statement, found %s", p.tok)
	return nil
}

func (p *parser) parseIf() Stmt {
	pos := p.expect("if")
	p.enter(pos)
	s := &IfStmt{Pos: pos, Cond: p.parseExpr()}
	s.Then = p.parseBlock()
	if p.is("else") {
		p.advance()
		if p.is("if") {
			s.Else = []Stmt{p.parseIf()}
		} else {
			s.Else = p.parseBlock()
		}
	}
	p.nest--
	return s
}

// precedence of binary operators; higher binds tighter.
func binaryOp(t token) (Op, int) {
	if t.kind != tPunct {
		return 0, 0
	}
	switch t.text {
	case "*":
		return OpMul, 7
	case "/":
		return OpDiv, 7
	case "%":
		return OpRem, 7
	case "+":
		return OpAdd, 6
	case "-":
		return OpSub, 6
	case "<<":
		return OpShl, 5
	case ">>":
		return OpShr, 5
	case "&":
		return OpAnd, 4
	case "^":
		return OpXor, 3
	case "|":
		return OpOr, 2
	case "==":
		return OpEq, 1
	case "!=":
		return OpNe, 1
	case "<":
		return OpLt, 1
	case "<=":
		return OpLe, 1
	case ">":
		return OpGt, 1
	case ">=":
		return OpGe, 1
	}
	return 0, 0
}

func (p *parser) parseExpr() Expr { return p.parseBinary(1) }

func (p *parser) parseBinary(minPrec int) Expr {
	x := p.parseUnary()
	for n := 0; ; n++ {
		op, prec := binaryOp(p.tok)
		if prec < minPrec || prec == 0 {
			return x
		}
		if n == maxChain {
			// Every pass walks a chain recursively: bound its length.
			p.failAt(p.tok.pos, "more than %d operators in a row", maxChain)
		}
		p.advance()
		p.enter(x.Position())
		y := p.parseBinary(prec + 1)
		p.nest--
		x = &BinaryExpr{Pos: x.Position(), Op: op, X: x, Y: y}
	}
}

func (p *parser) parseUnary() Expr {
	pos := p.tok.pos
	if p.is("-") || p.is("~") {
		op := OpNeg
		if p.is("~") {
			op = OpNot
		}
		p.advance()
		p.enter(pos)
		x := p.parseUnary()
		p.nest--
		return &UnaryExpr{Pos: pos, Op: op, X: x}
	}
	return p.parsePrimary(false)
}

// parsePrimary parses a primary expression. In a call target (target is
// true) an identifier is a variable even when followed by "(".
func (p *parser) parsePrimary(target bool) Expr {
	pos := p.tok.pos
	switch p.tok.kind {
	case tInt:
		v := p.tok.val
		p.advance()
		return &IntLit{Pos: pos, Value: v}
	case tIdent:
		name := p.tok.text
		p.advance()
		if !target && p.is("(") {
			return p.parseCallArgs(pos, name)
		}
		return &VarRef{Pos: pos, Name: name}
	}
	switch {
	case p.is("("):
		p.advance()
		p.enter(pos)
		x := p.parseExpr()
		p.nest--
		p.expect(")")
		return x
	case p.is("load"):
		p.advance()
		name, _ := p.ident("global")
		return &LoadExpr{Pos: pos, Global: name}
	case p.is("&"):
		p.advance()
		name, _ := p.ident("function or global")
		return &AddrOf{Pos: pos, Name: name}
	case p.is("error"):
		p.advance()
		p.expect(".")
		name, _ := p.ident("error")
		return &ErrorLit{Pos: pos, Name: name}
	case p.is("call"):
		if target {
			break
		}
		p.advance()
		p.enter(pos)
		tgt := p.parsePrimary(true)
		p.nest--
		if !p.is("(") {
			p.failAt(p.tok.pos, "expected \"(\" after call target, found %s", p.tok)
		}
		args, _ := p.parseArgs()
		return &CallIndirectExpr{Pos: pos, Target: tgt, Args: args}
	case p.is("errlen"), p.is("errbyte"):
		kw := p.tok.text
		p.advance()
		args, apos := p.parseArgs()
		want := 1
		if kw == "errbyte" {
			want = 2
		}
		if len(args) != want {
			p.failAt(apos, "wrong number of arguments to %s: have %d, want %d", kw, len(args), want)
		}
		if kw == "errlen" {
			return &ErrLenExpr{Pos: pos, Err: args[0]}
		}
		return &ErrByteExpr{Pos: pos, Err: args[0], Index: args[1]}
	}
	p.failAt(pos, "expected expression, found %s", p.tok)
	return nil
}

func (p *parser) parseCallArgs(pos Pos, name string) Expr {
	args, _ := p.parseArgs()
	return &CallExpr{Pos: pos, Func: name, Args: args}
}

// parseArgs parses "(" [expr {"," expr}] ")" and returns the position of
// the opening parenthesis.
func (p *parser) parseArgs() ([]Expr, Pos) {
	pos := p.expect("(")
	p.enter(pos)
	var args []Expr
	if !p.is(")") {
		for {
			args = append(args, p.parseExpr())
			if !p.is(",") {
				break
			}
			p.advance()
		}
	}
	p.expect(")")
	p.nest--
	return args, pos
}
