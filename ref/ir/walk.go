package ir

// rewriteStmts applies fn to every expression in ss, bottom-up, replacing
// each by fn's result; it mutates ss in place (callers work on clones).
func rewriteStmts(ss []Stmt, fn func(Expr) Expr) {
	for _, s := range ss {
		switch s := s.(type) {
		case *LetStmt:
			s.Value = rewriteExpr(s.Value, fn)
		case *AssignStmt:
			s.Value = rewriteExpr(s.Value, fn)
		case *StoreStmt:
			s.Value = rewriteExpr(s.Value, fn)
		case *IfStmt:
			s.Cond = rewriteExpr(s.Cond, fn)
			rewriteStmts(s.Then, fn)
			rewriteStmts(s.Else, fn)
		case *WhileStmt:
			s.Cond = rewriteExpr(s.Cond, fn)
			rewriteStmts(s.Body, fn)
		case *ReturnStmt:
			if s.Value != nil {
				s.Value = rewriteExpr(s.Value, fn)
			}
		case *ExprStmt:
			s.X = rewriteExpr(s.X, fn)
		}
	}
}

func rewriteExpr(e Expr, fn func(Expr) Expr) Expr {
	switch x := e.(type) {
	case *UnaryExpr:
		x.X = rewriteExpr(x.X, fn)
	case *BinaryExpr:
		x.X = rewriteExpr(x.X, fn)
		x.Y = rewriteExpr(x.Y, fn)
	case *CallExpr:
		for i := range x.Args {
			x.Args[i] = rewriteExpr(x.Args[i], fn)
		}
	case *CallIndirectExpr:
		x.Target = rewriteExpr(x.Target, fn)
		for i := range x.Args {
			x.Args[i] = rewriteExpr(x.Args[i], fn)
		}
	case *ErrLenExpr:
		x.Err = rewriteExpr(x.Err, fn)
	case *ErrByteExpr:
		x.Err = rewriteExpr(x.Err, fn)
		x.Index = rewriteExpr(x.Index, fn)
	}
	return fn(e)
}

// visitStmts calls fn for every statement in ss, outer first, and
// visitExprs for every expression; either callback may be nil.
func visitStmts(ss []Stmt, sf func(Stmt), ef func(Expr)) {
	for _, s := range ss {
		if sf != nil {
			sf(s)
		}
		switch s := s.(type) {
		case *LetStmt:
			visitExpr(s.Value, ef)
		case *AssignStmt:
			visitExpr(s.Value, ef)
		case *StoreStmt:
			visitExpr(s.Value, ef)
		case *IfStmt:
			visitExpr(s.Cond, ef)
			visitStmts(s.Then, sf, ef)
			visitStmts(s.Else, sf, ef)
		case *WhileStmt:
			visitExpr(s.Cond, ef)
			visitStmts(s.Body, sf, ef)
		case *ReturnStmt:
			visitExpr(s.Value, ef)
		case *ExprStmt:
			visitExpr(s.X, ef)
		}
	}
}

func visitExpr(e Expr, fn func(Expr)) {
	if e == nil || fn == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *UnaryExpr:
		visitExpr(x.X, fn)
	case *BinaryExpr:
		visitExpr(x.X, fn)
		visitExpr(x.Y, fn)
	case *CallExpr:
		for _, a := range x.Args {
			visitExpr(a, fn)
		}
	case *CallIndirectExpr:
		visitExpr(x.Target, fn)
		for _, a := range x.Args {
			visitExpr(a, fn)
		}
	case *ErrLenExpr:
		visitExpr(x.Err, fn)
	case *ErrByteExpr:
		visitExpr(x.Err, fn)
		visitExpr(x.Index, fn)
	}
}

// hasCall reports whether ss contains a call (direct or indirect). It
// stops at the first.
func hasCall(ss []Stmt) bool {
	for _, s := range ss {
		var found bool
		switch s := s.(type) {
		case *LetStmt:
			found = exprHasCall(s.Value)
		case *AssignStmt:
			found = exprHasCall(s.Value)
		case *StoreStmt:
			found = exprHasCall(s.Value)
		case *IfStmt:
			found = exprHasCall(s.Cond) || hasCall(s.Then) || hasCall(s.Else)
		case *WhileStmt:
			found = exprHasCall(s.Cond) || hasCall(s.Body)
		case *ReturnStmt:
			found = exprHasCall(s.Value)
		case *ExprStmt:
			found = exprHasCall(s.X)
		}
		if found {
			return true
		}
	}
	return false
}

// exprHasCall reports whether e contains a call; it stops at the first.
func exprHasCall(e Expr) bool {
	switch x := e.(type) {
	case *CallExpr, *CallIndirectExpr:
		return true
	case *UnaryExpr:
		return exprHasCall(x.X)
	case *BinaryExpr:
		return exprHasCall(x.X) || exprHasCall(x.Y)
	case *ErrLenExpr:
		return exprHasCall(x.Err)
	case *ErrByteExpr:
		return exprHasCall(x.Err) || exprHasCall(x.Index)
	}
	return false
}

// References returns the names of the functions and globals that f refers
// to (calls, &name, load, store), each once, in order of first reference.
func References(f *Func) []string {
	seen := map[string]bool{}
	var out []string
	eachReference(f, func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	})
	return out
}

// eachReference calls fn for every reference of f to a function or global
// (calls, &name, load, store), in order, repeats included: a statement's
// own reference (store) before its expressions', an expression's before
// its operands'.
func eachReference(f *Func, fn func(name string)) {
	refWalker(fn).stmts(f.Body)
}

// refWalker is eachReference's walk, without a callback per node.
type refWalker func(name string)

func (w refWalker) stmts(ss []Stmt) {
	for _, s := range ss {
		switch s := s.(type) {
		case *LetStmt:
			w.expr(s.Value)
		case *AssignStmt:
			w.expr(s.Value)
		case *StoreStmt:
			w(s.Global)
			w.expr(s.Value)
		case *IfStmt:
			w.expr(s.Cond)
			w.stmts(s.Then)
			w.stmts(s.Else)
		case *WhileStmt:
			w.expr(s.Cond)
			w.stmts(s.Body)
		case *ReturnStmt:
			w.expr(s.Value)
		case *ExprStmt:
			w.expr(s.X)
		}
	}
}

func (w refWalker) expr(e Expr) {
	switch x := e.(type) {
	case *CallExpr:
		w(x.Func)
		for _, a := range x.Args {
			w.expr(a)
		}
	case *AddrOf:
		w(x.Name)
	case *LoadExpr:
		w(x.Global)
	case *UnaryExpr:
		w.expr(x.X)
	case *BinaryExpr:
		w.expr(x.X)
		w.expr(x.Y)
	case *CallIndirectExpr:
		w.expr(x.Target)
		for _, a := range x.Args {
			w.expr(a)
		}
	case *ErrLenExpr:
		w.expr(x.Err)
	case *ErrByteExpr:
		w.expr(x.Err)
		w.expr(x.Index)
	}
}

// WalkExprs calls fn for every expression in body, each before the
// expressions inside it, in order.
func WalkExprs(body []Stmt, fn func(Expr)) { visitStmts(body, nil, fn) }
