package ir

// Equal reports whether a and b are the same program, ignoring source
// positions. A nil and an empty list (of statements, arguments, …) are
// equal.
func Equal(a, b *Module) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Errors) != len(b.Errors) || len(a.Globals) != len(b.Globals) || len(a.Funcs) != len(b.Funcs) {
		return false
	}
	for i := range a.Errors {
		if a.Errors[i] != b.Errors[i] {
			return false
		}
	}
	for i, g := range a.Globals {
		h := b.Globals[i]
		if (g == nil) != (h == nil) {
			return false
		}
		if g != nil && (g.Name != h.Name || g.Const != h.Const || g.Init != h.Init) {
			return false
		}
	}
	for i, f := range a.Funcs {
		if !FuncEqual(f, b.Funcs[i]) {
			return false
		}
	}
	return true
}

// FuncEqual reports whether two functions are the same, ignoring positions.
func FuncEqual(f, g *Func) bool {
	if f == nil || g == nil {
		return f == g
	}
	if f.Name != g.Name || f.Local != g.Local || f.Align != g.Align || len(f.Params) != len(g.Params) {
		return false
	}
	for i := range f.Params {
		if f.Params[i] != g.Params[i] {
			return false
		}
	}
	return stmtsEqual(f.Body, g.Body)
}

func stmtsEqual(a, b []Stmt) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !StmtEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// StmtEqual reports whether two statements are the same, ignoring positions.
func StmtEqual(a, b Stmt) bool {
	switch a := a.(type) {
	case *LetStmt:
		b, ok := b.(*LetStmt)
		return ok && a.Name == b.Name && ExprEqual(a.Value, b.Value)
	case *AssignStmt:
		b, ok := b.(*AssignStmt)
		return ok && a.Name == b.Name && ExprEqual(a.Value, b.Value)
	case *StoreStmt:
		b, ok := b.(*StoreStmt)
		return ok && a.Global == b.Global && ExprEqual(a.Value, b.Value)
	case *IfStmt:
		b, ok := b.(*IfStmt)
		return ok && ExprEqual(a.Cond, b.Cond) && stmtsEqual(a.Then, b.Then) && stmtsEqual(a.Else, b.Else)
	case *WhileStmt:
		b, ok := b.(*WhileStmt)
		return ok && ExprEqual(a.Cond, b.Cond) && stmtsEqual(a.Body, b.Body)
	case *ReturnStmt:
		b, ok := b.(*ReturnStmt)
		return ok && ExprEqual(a.Value, b.Value)
	case *PadStmt:
		b, ok := b.(*PadStmt)
		return ok && a.N == b.N
	case *ExprStmt:
		b, ok := b.(*ExprStmt)
		return ok && ExprEqual(a.X, b.X)
	case nil:
		return b == nil
	}
	return false
}

func exprsEqual(a, b []Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !ExprEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// ExprEqual reports whether two expressions are the same, ignoring
// positions. Two nil expressions are equal.
func ExprEqual(a, b Expr) bool {
	switch a := a.(type) {
	case *IntLit:
		b, ok := b.(*IntLit)
		return ok && a.Value == b.Value
	case *VarRef:
		b, ok := b.(*VarRef)
		return ok && a.Name == b.Name
	case *LoadExpr:
		b, ok := b.(*LoadExpr)
		return ok && a.Global == b.Global
	case *AddrOf:
		b, ok := b.(*AddrOf)
		return ok && a.Name == b.Name
	case *ErrorLit:
		b, ok := b.(*ErrorLit)
		return ok && a.Name == b.Name
	case *UnaryExpr:
		b, ok := b.(*UnaryExpr)
		return ok && a.Op == b.Op && ExprEqual(a.X, b.X)
	case *BinaryExpr:
		b, ok := b.(*BinaryExpr)
		return ok && a.Op == b.Op && ExprEqual(a.X, b.X) && ExprEqual(a.Y, b.Y)
	case *CallExpr:
		b, ok := b.(*CallExpr)
		return ok && a.Func == b.Func && exprsEqual(a.Args, b.Args)
	case *CallIndirectExpr:
		b, ok := b.(*CallIndirectExpr)
		return ok && ExprEqual(a.Target, b.Target) && exprsEqual(a.Args, b.Args)
	case *ErrLenExpr:
		b, ok := b.(*ErrLenExpr)
		return ok && ExprEqual(a.Err, b.Err)
	case *ErrByteExpr:
		b, ok := b.(*ErrByteExpr)
		return ok && ExprEqual(a.Err, b.Err) && ExprEqual(a.Index, b.Index)
	case nil:
		return b == nil
	}
	return false
}

// Clone returns a deep copy of m that shares no mutable memory with it.
func Clone(m *Module) *Module {
	if m == nil {
		return nil
	}
	n := &Module{
		Errors:  append([]string(nil), m.Errors...),
		Globals: make([]*Global, len(m.Globals)),
		Funcs:   make([]*Func, len(m.Funcs)),
	}
	for i, g := range m.Globals {
		if g != nil {
			c := *g
			n.Globals[i] = &c
		}
	}
	for i, f := range m.Funcs {
		n.Funcs[i] = CloneFunc(f)
	}
	return n
}

// CloneFunc returns a deep copy of f.
func CloneFunc(f *Func) *Func {
	if f == nil {
		return nil
	}
	c := *f
	c.Params = append([]string(nil), f.Params...)
	c.Body = CloneStmts(f.Body)
	return &c
}

// CloneStmts returns a deep copy of a statement list.
func CloneStmts(ss []Stmt) []Stmt {
	if ss == nil {
		return nil
	}
	out := make([]Stmt, len(ss))
	for i, s := range ss {
		out[i] = CloneStmt(s)
	}
	return out
}

// CloneStmt returns a deep copy of a statement.
func CloneStmt(s Stmt) Stmt {
	switch s := s.(type) {
	case *LetStmt:
		c := *s
		c.Value = CloneExpr(s.Value)
		return &c
	case *AssignStmt:
		c := *s
		c.Value = CloneExpr(s.Value)
		return &c
	case *StoreStmt:
		c := *s
		c.Value = CloneExpr(s.Value)
		return &c
	case *IfStmt:
		c := *s
		c.Cond = CloneExpr(s.Cond)
		c.Then = CloneStmts(s.Then)
		c.Else = CloneStmts(s.Else)
		return &c
	case *WhileStmt:
		c := *s
		c.Cond = CloneExpr(s.Cond)
		c.Body = CloneStmts(s.Body)
		return &c
	case *ReturnStmt:
		c := *s
		c.Value = CloneExpr(s.Value)
		return &c
	case *PadStmt:
		c := *s
		return &c
	case *ExprStmt:
		c := *s
		c.X = CloneExpr(s.X)
		return &c
	}
	return s
}

func cloneExprs(es []Expr) []Expr {
	if es == nil {
		return nil
	}
	out := make([]Expr, len(es))
	for i, e := range es {
		out[i] = CloneExpr(e)
	}
	return out
}

// CloneExpr returns a deep copy of an expression.
func CloneExpr(e Expr) Expr {
	switch e := e.(type) {
	case *IntLit:
		c := *e
		return &c
	case *VarRef:
		c := *e
		return &c
	case *LoadExpr:
		c := *e
		return &c
	case *AddrOf:
		c := *e
		return &c
	case *ErrorLit:
		c := *e
		return &c
	case *UnaryExpr:
		c := *e
		c.X = CloneExpr(e.X)
		return &c
	case *BinaryExpr:
		c := *e
		c.X = CloneExpr(e.X)
		c.Y = CloneExpr(e.Y)
		return &c
	case *CallExpr:
		c := *e
		c.Args = cloneExprs(e.Args)
		return &c
	case *CallIndirectExpr:
		c := *e
		c.Target = CloneExpr(e.Target)
		c.Args = cloneExprs(e.Args)
		return &c
	case *ErrLenExpr:
		c := *e
		c.Err = CloneExpr(e.Err)
		return &c
	case *ErrByteExpr:
		c := *e
		c.Err = CloneExpr(e.Err)
		c.Index = CloneExpr(e.Index)
		return &c
	}
	return e
}
