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

// A walker is what walkStmts calls: stmt for each statement, before the
// expressions and blocks in it, and expr for each expression (never nil),
// before the expressions in it. Walkers are small values (a callback, a
// pointer to counters), so each kind is a walk of its own, without a
// function value called per node.
type walker interface {
	stmt(Stmt)
	expr(Expr)
}

// walkStmts walks ss with w, in order, outer first.
func walkStmts[W walker](w W, ss []Stmt) {
	for _, s := range ss {
		w.stmt(s)
		switch s := s.(type) {
		case *LetStmt:
			walkExpr(w, s.Value)
		case *AssignStmt:
			walkExpr(w, s.Value)
		case *StoreStmt:
			walkExpr(w, s.Value)
		case *IfStmt:
			walkExpr(w, s.Cond)
			walkStmts(w, s.Then)
			walkStmts(w, s.Else)
		case *WhileStmt:
			walkExpr(w, s.Cond)
			walkStmts(w, s.Body)
		case *ReturnStmt:
			walkExpr(w, s.Value)
		case *ExprStmt:
			walkExpr(w, s.X)
		}
	}
}

// walkExpr walks e (nil: nothing) with w.
func walkExpr[W walker](w W, e Expr) {
	if e == nil {
		return
	}
	w.expr(e)
	switch x := e.(type) {
	case *UnaryExpr:
		walkExpr(w, x.X)
	case *BinaryExpr:
		walkExpr(w, x.X)
		walkExpr(w, x.Y)
	case *CallExpr:
		for _, a := range x.Args {
			walkExpr(w, a)
		}
	case *CallIndirectExpr:
		walkExpr(w, x.Target)
		for _, a := range x.Args {
			walkExpr(w, a)
		}
	case *ErrLenExpr:
		walkExpr(w, x.Err)
	case *ErrByteExpr:
		walkExpr(w, x.Err)
		walkExpr(w, x.Index)
	}
}

// funcWalker is a walker of two callbacks, either nil.
type funcWalker struct {
	sf func(Stmt)
	ef func(Expr)
}

func (w funcWalker) stmt(s Stmt) {
	if w.sf != nil {
		w.sf(s)
	}
}

func (w funcWalker) expr(e Expr) {
	if w.ef != nil {
		w.ef(e)
	}
}

// visitStmts calls sf for every statement in ss, outer first, and ef for
// every expression; either callback may be nil.
func visitStmts(ss []Stmt, sf func(Stmt), ef func(Expr)) {
	switch {
	case ef != nil:
		walkStmts(funcWalker{sf, ef}, ss)
	case sf != nil:
		eachStmt(ss, sf) // no expression holds a statement
	}
}

// eachStmt calls sf for every statement in ss, outer first, in order,
// without walking the expressions.
func eachStmt(ss []Stmt, sf func(Stmt)) {
	for _, s := range ss {
		sf(s)
		switch s := s.(type) {
		case *IfStmt:
			eachStmt(s.Then, sf)
			eachStmt(s.Else, sf)
		case *WhileStmt:
			eachStmt(s.Body, sf)
		}
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
	walkStmts(refWalker(fn), f.Body)
}

// refWalker is eachReference's walker: the callback for each name.
type refWalker func(name string)

func (w refWalker) stmt(s Stmt) {
	if st, ok := s.(*StoreStmt); ok {
		w(st.Global)
	}
}

func (w refWalker) expr(e Expr) {
	switch x := e.(type) {
	case *CallExpr:
		w(x.Func)
	case *AddrOf:
		w(x.Name)
	case *LoadExpr:
		w(x.Global)
	}
}

// WalkExprs calls fn for every expression in body, each before the
// expressions inside it, in order.
func WalkExprs(body []Stmt, fn func(Expr)) { visitStmts(body, nil, fn) }
