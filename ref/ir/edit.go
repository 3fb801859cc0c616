package ir

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"strconv"

	"github.com/rogpeppe/go-internal/txtar"
)

// EditKind is the kind of change an Edit makes.
type EditKind uint8

// Edit kinds: the changes an incremental compiler sees between versions.
const (
	EditChangeBody EditKind = iota + 1
	EditGrowFunc
	EditShrinkFunc
	EditAddFunc
	EditDeleteFunc
	EditSetAlign
	EditAddError
	EditRenameError
	EditAddGlobal
	EditSetInit
	EditRetargetCall
	EditRetargetPointer
)

var editNames = [...]string{
	EditChangeBody: "change-body", EditGrowFunc: "grow", EditShrinkFunc: "shrink",
	EditAddFunc: "add-func", EditDeleteFunc: "delete-func", EditSetAlign: "set-align",
	EditAddError: "add-error", EditRenameError: "rename-error", EditAddGlobal: "add-global",
	EditSetInit: "set-init", EditRetargetCall: "retarget-call", EditRetargetPointer: "retarget-pointer",
}

func (k EditKind) String() string {
	if int(k) < len(editNames) && editNames[k] != "" {
		return editNames[k]
	}
	return "EditKind(" + strconv.Itoa(int(k)) + ")"
}

// Edit describes one change from version k to k+1 of a program.
type Edit struct {
	Kind   EditKind
	Func   string // function changed, added or deleted; caller for RetargetCall
	Global string // global added, changed or retargeted
	Error  string // error added, or old name of a renamed error
	Old    string // old callee or pointer target
	New    string // new callee, pointer target or error name
	N      uint64 // pad bytes (grow), alignment, initial value, error index
}

// String describes the edit in one line, e.g. "grow f12 pad 48".
func (e Edit) String() string {
	switch e.Kind {
	case EditChangeBody, EditShrinkFunc, EditDeleteFunc:
		return fmt.Sprintf("%s %s", e.Kind, e.Func)
	case EditGrowFunc:
		if e.N > 0 {
			return fmt.Sprintf("grow %s pad %d", e.Func, e.N)
		}
		return fmt.Sprintf("grow %s code", e.Func)
	case EditAddFunc:
		return fmt.Sprintf("add-func %s called from %s", e.Func, e.Old)
	case EditSetAlign:
		return fmt.Sprintf("set-align %s %d", e.Func, e.N)
	case EditAddError:
		return fmt.Sprintf("add-error %s at %d", e.Error, e.N)
	case EditRenameError:
		return fmt.Sprintf("rename-error %s %s", e.Error, e.New)
	case EditAddGlobal:
		return fmt.Sprintf("add-global %s = %s", e.Global, e.New)
	case EditSetInit:
		return fmt.Sprintf("set-init %s = %s", e.Global, e.New)
	case EditRetargetCall:
		return fmt.Sprintf("retarget-call in %s: %s -> %s", e.Func, e.Old, e.New)
	case EditRetargetPointer:
		return fmt.Sprintf("retarget-pointer %s: &%s -> &%s", e.Global, e.Old, e.New)
	}
	return e.Kind.String()
}

// analysis is what the edits need to know about a module.
type analysis struct {
	m     *Module
	fidx  map[string]int
	gidx  map[string]int
	leaf  []bool // function without calls
	p     pools
	names map[string]bool
	// ff are the facts of each function of m.
	ff []*funcFacts
}

// funcFacts is what the edits need to know about one function's body:
// whether it calls, its stores, and the names it refers to.
type funcFacts struct {
	hasCall bool
	stores  []storeFact
	// calls, addrs and errs are the names of the functions called
	// directly, of the symbols whose addresses are taken and of the
	// errors named, repeats included.
	calls, addrs, errs []string
}

// storeFact is one store statement: its global and, when the value
// stored is &name, name.
type storeFact struct {
	global string
	addrOf bool
	addr   string
}

// factsOf walks f's body once for its facts.
func factsOf(f *Func) *funcFacts {
	w := &factsWalker{}
	walkStmts(w, f.Body)
	return &w.funcFacts
}

// factsWalker collects a body's facts.
type factsWalker struct{ funcFacts }

func (w *factsWalker) stmt(s Stmt) {
	if st, ok := s.(*StoreStmt); ok {
		sf := storeFact{global: st.Global}
		if ao, ok := st.Value.(*AddrOf); ok {
			sf.addrOf, sf.addr = true, ao.Name
		}
		w.stores = append(w.stores, sf)
	}
}

func (w *factsWalker) expr(e Expr) {
	switch x := e.(type) {
	case *CallExpr:
		w.hasCall = true
		w.calls = append(w.calls, x.Func)
	case *CallIndirectExpr:
		w.hasCall = true
	case *AddrOf:
		w.addrs = append(w.addrs, x.Name)
	case *ErrorLit:
		w.errs = append(w.errs, x.Name)
	}
}

// refersTo reports whether the function calls name or takes its address.
func (ff *funcFacts) refersTo(name string) bool {
	return slices.Contains(ff.calls, name) || slices.Contains(ff.addrs, name)
}

func analyze(m *Module) *analysis { return analyzeWith(m, nil) }

// analyzeWith is analyze taking the facts of the functions e knows from
// it (e nil: every function is walked).
func analyzeWith(m *Module, e *Editor) *analysis {
	a := &analysis{m: m, fidx: make(map[string]int, len(m.Funcs)), gidx: make(map[string]int, len(m.Globals)),
		leaf: make([]bool, len(m.Funcs)), names: make(map[string]bool, len(m.Funcs)+len(m.Globals)),
		ff: make([]*funcFacts, len(m.Funcs))}
	a.p.errors = m.Errors
	if e == nil {
		// Every function's facts, in one walker's lists.
		ffs := make([]funcFacts, len(m.Funcs))
		w := &factsWalker{}
		for i, f := range m.Funcs {
			s, c, ad, er := len(w.stores), len(w.calls), len(w.addrs), len(w.errs)
			w.hasCall = false
			walkStmts(w, f.Body)
			ffs[i] = funcFacts{hasCall: w.hasCall, stores: w.stores[s:len(w.stores):len(w.stores)],
				calls: w.calls[c:len(w.calls):len(w.calls)], addrs: w.addrs[ad:len(w.addrs):len(w.addrs)], errs: w.errs[er:len(w.errs):len(w.errs)]}
			a.ff[i] = &ffs[i]
		}
	} else {
		for i, f := range m.Funcs {
			a.ff[i] = e.facts(f)
		}
	}
	for i, f := range m.Funcs {
		a.fidx[f.Name] = i
		a.names[f.Name] = true
		if f.Name != "main" && !a.ff[i].hasCall {
			a.leaf[i] = true
			ar := len(f.Params)
			a.p.leaves[ar] = append(a.p.leaves[ar], f.Name)
			a.p.nleaves++
		}
	}
	for i, g := range m.Globals {
		a.gidx[g.Name] = i
		a.names[g.Name] = true
		switch {
		case g.Init.Addr == "" && g.Const:
			a.p.intConsts = append(a.p.intConsts, g.Name)
		case g.Init.Addr == "":
			a.p.intGlobals = append(a.p.intGlobals, g.Name)
		default:
			if fi, ok := a.fidx[g.Init.Addr]; ok && a.leaf[fi] {
				ar := len(m.Funcs[fi].Params)
				if g.Const {
					a.p.ptrConsts[ar] = append(a.p.ptrConsts[ar], g.Name)
				} else {
					a.p.ptrGlobals[ar] = append(a.p.ptrGlobals[ar], g.Name)
				}
			}
		}
	}
	// A mutable pointer global is only usable if every store to it stores a
	// function of its arity; generated code guarantees that, but drop
	// pointer globals stored to with anything else.
	bad := map[string]bool{}
	for _, ff := range a.ff {
		for _, st := range ff.stores {
			gi, ok := a.gidx[st.global]
			if !ok || m.Globals[gi].Init.Addr == "" {
				continue
			}
			want := a.arityOf(m.Globals[gi].Init.Addr)
			if !st.addrOf || a.arityOf(st.addr) != want || want < 0 {
				bad[st.global] = true
			}
		}
	}
	if len(bad) > 0 {
		for ar := range a.p.ptrGlobals {
			var keep []string
			for _, g := range a.p.ptrGlobals[ar] {
				if !bad[g] {
					keep = append(keep, g)
				}
			}
			a.p.ptrGlobals[ar] = keep
		}
	}
	return a
}

// arityOf returns the arity of function name, or -1.
func (a *analysis) arityOf(name string) int {
	if fi, ok := a.fidx[name]; ok {
		return len(a.m.Funcs[fi].Params)
	}
	return -1
}

func (a *analysis) freshName(prefix string, start int) string {
	for i := start; ; i++ {
		s := prefix + strconv.Itoa(i)
		if !a.names[s] {
			return s
		}
	}
}

func (a *analysis) isLeaf(name string) bool {
	fi, ok := a.fidx[name]
	return ok && a.leaf[fi]
}

// nonLeaves returns the indexes of functions with calls, and main.
func (a *analysis) nonLeaves() []int {
	var out []int
	for i := range a.m.Funcs {
		if !a.leaf[i] {
			out = append(out, i)
		}
	}
	return out
}

// bodyAt returns a body generator for inserting statements at top-level
// index pos of f's body: it knows the integer variables in scope there
// and every name used in f.
func (a *analysis) bodyAt(r *rand.Rand, f *Func, pos int) *bodyGen {
	b := newBodyGen(r, &a.p, f)
	visitStmts(f.Body, func(s Stmt) {
		if l, ok := s.(*LetStmt); ok {
			b.used[l.Name] = true
		}
	}, nil)
	addrVars := map[string]bool{}
	for _, s := range f.Body[:pos] {
		l, ok := s.(*LetStmt)
		if !ok {
			continue
		}
		if a.isAddrExpr(l.Value, addrVars) {
			addrVars[l.Name] = true
			continue
		}
		b.ints = append(b.ints, l.Name)
	}
	b.calls = f.Name == "main" || !a.isLeaf(f.Name)
	if a.p.nleaves == 0 {
		b.calls = false
	}
	return b
}

func (a *analysis) isAddrExpr(e Expr, addrVars map[string]bool) bool {
	switch x := e.(type) {
	case *AddrOf:
		return true
	case *VarRef:
		return addrVars[x.Name]
	case *LoadExpr:
		gi, ok := a.gidx[x.Global]
		return !ok || a.m.Globals[gi].Init.Addr != ""
	}
	return false
}

// insertPos returns a random top-level index of body before its final
// return (if any).
func insertPos(r *rand.Rand, body []Stmt) int {
	n := len(body)
	if n > 0 {
		if _, ok := body[n-1].(*ReturnStmt); ok {
			n--
		}
	}
	return r.Intn(n + 1)
}

func insertStmts(body []Stmt, pos int, ss []Stmt) []Stmt {
	out := make([]Stmt, 0, len(body)+len(ss))
	out = append(out, body[:pos]...)
	out = append(out, ss...)
	return append(out, body[pos:]...)
}

// withFunc clones m and returns the clone and its function named name.
func withFunc(m *Module, name string) (*Module, *Func, int, error) {
	for i, f := range m.Funcs {
		if f.Name == name {
			n := *m
			n.Funcs = append([]*Func(nil), m.Funcs...)
			c := CloneFunc(f)
			n.Funcs[i] = c
			return &n, c, i, nil
		}
	}
	return nil, nil, 0, fmt.Errorf("no function %s", name)
}

// shallow returns a copy of m whose slices may be changed without
// touching m; their elements are shared and must be cloned before change.
func shallow(m *Module) *Module {
	return &Module{
		Errors:  append([]string(nil), m.Errors...),
		Globals: append([]*Global(nil), m.Globals...),
		Funcs:   append([]*Func(nil), m.Funcs...),
	}
}

// ChangeBody changes the body of function name: it rewrites the value of a
// pure final return, removes a removable statement and inserts new ones.
// Leaves stay leaves; other functions gain at most calls to leaves.
func ChangeBody(m *Module, name string, r *rand.Rand) (*Module, Edit, error) {
	return changeBody(analyze(m), m, name, r)
}

// changeBody is ChangeBody with m's analysis made already.
func changeBody(a *analysis, m *Module, name string, r *rand.Rand) (*Module, Edit, error) {
	n, f, _, err := withFunc(m, name)
	if err != nil {
		return nil, Edit{}, fmt.Errorf("change-body: %w", err)
	}
	if i := removable(a, f.Body); len(i) > 0 && r.Intn(2) == 0 {
		k := i[r.Intn(len(i))]
		f.Body = append(f.Body[:k:k], f.Body[k+1:]...)
	}
	pos := insertPos(r, f.Body)
	b := a.bodyAt(r, f, pos)
	var ss []Stmt
	for k := r.Intn(3); k >= 0; k-- {
		ss = append(ss, b.filler()...)
	}
	f.Body = insertStmts(f.Body, pos, ss)
	if len(f.Body) > 0 {
		if ret, ok := f.Body[len(f.Body)-1].(*ReturnStmt); ok && !exprHasCall(ret.Value) {
			b := a.bodyAt(r, f, len(f.Body)-1)
			f.Body[len(f.Body)-1] = &ReturnStmt{Value: b.expr(2)}
		}
	}
	return n, Edit{Kind: EditChangeBody, Func: name}, nil
}

// removable returns the top-level statements of body that can be removed
// without breaking the program or its termination: no return inside, no
// call of a non-leaf, and no let whose name is used later.
func removable(a *analysis, body []Stmt) []int {
	var out []int
	for i, s := range body {
		ok := true
		visitStmts(body[i:i+1], func(s Stmt) {
			if _, ret := s.(*ReturnStmt); ret {
				ok = false
			}
		}, func(e Expr) {
			switch x := e.(type) {
			case *CallExpr:
				if !a.isLeaf(x.Func) {
					ok = false
				}
			}
		})
		if l, isLet := s.(*LetStmt); isLet && ok {
			visitStmts(body[i+1:], func(s Stmt) {
				if as, ok2 := s.(*AssignStmt); ok2 && as.Name == l.Name {
					ok = false
				}
			}, func(e Expr) {
				if v, ok2 := e.(*VarRef); ok2 && v.Name == l.Name {
					ok = false
				}
			})
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

// GrowFunc grows function name by bytes of filler code: `pad` statements
// of at most MaxPad bytes each, inserted before the final return.
func GrowFunc(m *Module, name string, bytes uint64) (*Module, Edit, error) {
	if bytes == 0 || bytes > 1<<20 {
		return nil, Edit{}, fmt.Errorf("grow %s: bad size %d", name, bytes)
	}
	n, f, _, err := withFunc(m, name)
	if err != nil {
		return nil, Edit{}, fmt.Errorf("grow: %w", err)
	}
	var pads []Stmt
	for left := bytes; left > 0; {
		k := min(left, MaxPad)
		pads = append(pads, &PadStmt{N: k})
		left -= k
	}
	pos := len(f.Body)
	if pos > 0 {
		if _, ok := f.Body[pos-1].(*ReturnStmt); ok {
			pos--
		}
	}
	f.Body = insertStmts(f.Body, pos, pads)
	return n, Edit{Kind: EditGrowFunc, Func: name, N: bytes}, nil
}

// GrowFuncCode grows function name by one to four new statements (see
// ChangeBody for what they may do).
func GrowFuncCode(m *Module, name string, r *rand.Rand) (*Module, Edit, error) {
	return growFuncCode(analyze(m), m, name, r)
}

// growFuncCode is GrowFuncCode with m's analysis made already.
func growFuncCode(a *analysis, m *Module, name string, r *rand.Rand) (*Module, Edit, error) {
	n, f, _, err := withFunc(m, name)
	if err != nil {
		return nil, Edit{}, fmt.Errorf("grow: %w", err)
	}
	pos := insertPos(r, f.Body)
	b := a.bodyAt(r, f, pos)
	var ss []Stmt
	for k := r.Intn(4); k >= 0; k-- {
		ss = append(ss, b.filler()...)
	}
	f.Body = insertStmts(f.Body, pos, ss)
	return n, Edit{Kind: EditGrowFunc, Func: name}, nil
}

// ShrinkFunc shrinks function name: it removes every top-level pad if
// there is one, else the last removable top-level statement.
func ShrinkFunc(m *Module, name string) (*Module, Edit, error) {
	return shrinkFunc(analyze(m), m, name)
}

// shrinkFunc is ShrinkFunc with m's analysis made already.
func shrinkFunc(a *analysis, m *Module, name string) (*Module, Edit, error) {
	n, f, _, err := withFunc(m, name)
	if err != nil {
		return nil, Edit{}, fmt.Errorf("shrink: %w", err)
	}
	var body []Stmt
	for _, s := range f.Body {
		if _, pad := s.(*PadStmt); !pad {
			body = append(body, s)
		}
	}
	if len(body) == len(f.Body) {
		rm := removable(a, f.Body)
		if len(rm) == 0 {
			return nil, Edit{}, fmt.Errorf("shrink %s: nothing to remove", name)
		}
		k := rm[len(rm)-1]
		body = append(f.Body[:k:k], f.Body[k+1:]...)
	}
	f.Body = body
	return n, Edit{Kind: EditShrinkFunc, Func: name}, nil
}

// AddFunc adds a new function name (a leaf, or a function calling leaves)
// with a random body, and a call to it at the top level of caller (a
// random function with calls, or main, when caller is "").
func AddFunc(m *Module, name, caller string, r *rand.Rand) (*Module, Edit, error) {
	return addFunc(analyze(m), m, name, caller, r)
}

// addFunc is AddFunc with m's analysis made already.
func addFunc(a *analysis, m *Module, name, caller string, r *rand.Rand) (*Module, Edit, error) {
	if !ValidIdent(name) || a.names[name] {
		return nil, Edit{}, fmt.Errorf("add-func: name %q is invalid or taken", name)
	}
	if caller == "" {
		nl := a.nonLeaves()
		caller = "main"
		if len(nl) > 0 {
			caller = m.Funcs[nl[r.Intn(len(nl))]].Name
		}
	}
	if a.isLeaf(caller) {
		return nil, Edit{}, fmt.Errorf("add-func: caller %s has no calls; adding one could multiply the work", caller)
	}
	nf := &Func{Name: name, Local: r.Intn(5) == 0, Params: append([]string(nil), paramNames[:r.Intn(MaxParams+1)]...)}
	if r.Intn(5) == 0 {
		nf.Align = 1 << uint(r.Intn(13))
	}
	b := newBodyGen(r, &a.p, nf)
	if a.p.nleaves > 0 && r.Intn(3) == 0 {
		b.calls = true
		var body []Stmt
		for k := r.Intn(3); k >= 0; k-- {
			body = append(body, b.filler()...)
		}
		nf.Body = append(body, b.ret()...)
	} else {
		nf.Body = b.leafBody()
	}
	n, cf, _, err := withFunc(m, caller)
	if err != nil {
		return nil, Edit{}, fmt.Errorf("add-func: %w", err)
	}
	pos := insertPos(r, cf.Body)
	cb := a.bodyAt(r, cf, pos)
	call := &CallExpr{Func: name, Args: cb.args(len(nf.Params))}
	var s Stmt = &ExprStmt{X: call}
	if r.Intn(2) == 0 {
		s = &LetStmt{Name: cb.fresh("v"), Value: call}
	}
	cf.Body = insertStmts(cf.Body, pos, []Stmt{s})
	n.Funcs = append(n.Funcs, nf)
	return n, Edit{Kind: EditAddFunc, Func: name, Old: caller}, nil
}

// DeleteFunc deletes function name and every reference to it: call
// statements are removed, calls in expressions become 0, and &name (in
// code and initializers) becomes the address of the first leaf of the same
// arity. It fails for main and when such a replacement is needed but
// does not exist.
func DeleteFunc(m *Module, name string) (*Module, Edit, error) {
	return deleteFunc(analyze(m), m, name)
}

// deleteFunc is DeleteFunc with m's analysis made already.
func deleteFunc(a *analysis, m *Module, name string) (*Module, Edit, error) {
	if name == "main" {
		return nil, Edit{}, fmt.Errorf("delete-func: cannot delete main")
	}
	fi, ok := a.fidx[name]
	if !ok {
		return nil, Edit{}, fmt.Errorf("delete-func: no function %s", name)
	}
	ar := len(m.Funcs[fi].Params)
	repl := ""
	for _, l := range a.p.leaves[ar] {
		if l != name {
			repl = l
			break
		}
	}
	addrTaken := false
	for _, g := range m.Globals {
		if g.Init.Addr == name {
			addrTaken = true
		}
	}
	for i, f := range m.Funcs {
		if f.Name != name && slices.Contains(a.ff[i].addrs, name) {
			addrTaken = true
		}
	}
	if addrTaken && repl == "" {
		return nil, Edit{}, fmt.Errorf("delete-func %s: its address is taken and there is no other leaf of arity %d", name, ar)
	}
	n := shallow(m)
	n.Funcs = append(n.Funcs[:fi:fi], n.Funcs[fi+1:]...)
	for i, g := range n.Globals {
		if g.Init.Addr == name {
			c := *g
			c.Init.Addr = repl
			n.Globals[i] = &c
		}
	}
	for i, f := range n.Funcs {
		ff := a.ff[i]
		if i >= fi {
			ff = a.ff[i+1]
		}
		if !ff.refersTo(name) {
			continue
		}
		c := CloneFunc(f)
		c.Body = dropCallStmts(c.Body, name)
		rewriteStmts(c.Body, func(e Expr) Expr {
			switch x := e.(type) {
			case *CallExpr:
				if x.Func == name {
					return &IntLit{Pos: x.Pos}
				}
			case *AddrOf:
				if x.Name == name {
					return &AddrOf{Pos: x.Pos, Name: repl}
				}
			}
			return e
		})
		n.Funcs[i] = c
	}
	return n, Edit{Kind: EditDeleteFunc, Func: name, New: repl}, nil
}

// dropCallStmts removes the statements `name(...)` from ss, recursively.
func dropCallStmts(ss []Stmt, name string) []Stmt {
	out := ss[:0]
	for _, s := range ss {
		switch x := s.(type) {
		case *ExprStmt:
			if c, ok := x.X.(*CallExpr); ok && c.Func == name {
				continue
			}
		case *IfStmt:
			x.Then = dropCallStmts(x.Then, name)
			x.Else = dropCallStmts(x.Else, name)
		case *WhileStmt:
			x.Body = dropCallStmts(x.Body, name)
		}
		out = append(out, s)
	}
	return out
}

// SetAlign sets the alignment of function name (0 for the default).
func SetAlign(m *Module, name string, align uint64) (*Module, Edit, error) {
	if align != 0 && (align > MaxAlign || align&(align-1) != 0) {
		return nil, Edit{}, fmt.Errorf("set-align %s: bad alignment %d", name, align)
	}
	n, f, _, err := withFunc(m, name)
	if err != nil {
		return nil, Edit{}, fmt.Errorf("set-align: %w", err)
	}
	f.Align = align
	return n, Edit{Kind: EditSetAlign, Func: name, N: align}, nil
}

// AddError inserts error name at index (0-based; len(Errors) appends).
// The values of the errors after it shift by one.
func AddError(m *Module, name string, index int) (*Module, Edit, error) {
	if !ValidIdent(name) || m.ErrorValue(name) != 0 {
		return nil, Edit{}, fmt.Errorf("add-error: name %q is invalid or taken", name)
	}
	if index < 0 || index > len(m.Errors) {
		return nil, Edit{}, fmt.Errorf("add-error %s: index %d out of range", name, index)
	}
	n := *m
	n.Errors = make([]string, 0, len(m.Errors)+1)
	n.Errors = append(n.Errors, m.Errors[:index]...)
	n.Errors = append(n.Errors, name)
	n.Errors = append(n.Errors, m.Errors[index:]...)
	return &n, Edit{Kind: EditAddError, Error: name, N: uint64(index)}, nil
}

// RenameError renames error old to new, in the error set and every
// error.old in the code.
func RenameError(m *Module, old, new string) (*Module, Edit, error) {
	return renameError(nil, m, old, new)
}

// renameError is RenameError with m's analysis made already (a nil: none).
func renameError(a *analysis, m *Module, old, new string) (*Module, Edit, error) {
	if !ValidIdent(new) || m.ErrorValue(new) != 0 {
		return nil, Edit{}, fmt.Errorf("rename-error: name %q is invalid or taken", new)
	}
	k := m.ErrorValue(old)
	if k == 0 {
		return nil, Edit{}, fmt.Errorf("rename-error: no error %s", old)
	}
	n := shallow(m)
	n.Errors[k-1] = new
	for i, f := range n.Funcs {
		var refs bool
		if a != nil {
			refs = slices.Contains(a.ff[i].errs, old)
		} else {
			visitStmts(f.Body, nil, func(e Expr) {
				if x, ok := e.(*ErrorLit); ok && x.Name == old {
					refs = true
				}
			})
		}
		if !refs {
			continue
		}
		c := CloneFunc(f)
		rewriteStmts(c.Body, func(e Expr) Expr {
			if x, ok := e.(*ErrorLit); ok && x.Name == old {
				return &ErrorLit{Pos: x.Pos, Name: new}
			}
			return e
		})
		n.Funcs[i] = c
	}
	return n, Edit{Kind: EditRenameError, Error: old, New: new}, nil
}

// AddGlobal appends a global (or const) with the given initializer.
func AddGlobal(m *Module, name string, constant bool, init Init) (*Module, Edit, error) {
	return addGlobal(analyze(m), m, name, constant, init)
}

// addGlobal is AddGlobal with m's analysis made already.
func addGlobal(a *analysis, m *Module, name string, constant bool, init Init) (*Module, Edit, error) {
	if !ValidIdent(name) || a.names[name] {
		return nil, Edit{}, fmt.Errorf("add-global: name %q is invalid or taken", name)
	}
	if init.Addr != "" && !a.names[init.Addr] {
		return nil, Edit{}, fmt.Errorf("add-global %s: undefined: %s", name, init.Addr)
	}
	n := shallow(m)
	n.Globals = append(n.Globals, &Global{Name: name, Const: constant, Init: init})
	return n, Edit{Kind: EditAddGlobal, Global: name, New: InitString(init)}, nil
}

// SetInit changes the initializer of an integer global to value.
func SetInit(m *Module, name string, value uint64) (*Module, Edit, error) {
	n := shallow(m)
	for i, g := range n.Globals {
		if g.Name != name {
			continue
		}
		if g.Init.Addr != "" {
			return nil, Edit{}, fmt.Errorf("set-init %s: holds an address; use RetargetPointer", name)
		}
		c := *g
		c.Init.Value = value
		n.Globals[i] = &c
		return n, Edit{Kind: EditSetInit, Global: name, N: value, New: InitString(c.Init)}, nil
	}
	return nil, Edit{}, fmt.Errorf("set-init: no global %s", name)
}

// RetargetCall makes every direct call from caller to old call target
// instead; both must have the same arity.
func RetargetCall(m *Module, caller, old, target string) (*Module, Edit, error) {
	return retargetCall(analyze(m), m, caller, old, target)
}

// retargetCall is RetargetCall with m's analysis made already.
func retargetCall(a *analysis, m *Module, caller, old, target string) (*Module, Edit, error) {
	ao, at := a.arityOf(old), a.arityOf(target)
	if ao < 0 || at < 0 || ao != at {
		return nil, Edit{}, fmt.Errorf("retarget-call in %s: %s and %s are not functions of the same arity", caller, old, target)
	}
	n, f, _, err := withFunc(m, caller)
	if err != nil {
		return nil, Edit{}, fmt.Errorf("retarget-call: %w", err)
	}
	count := 0
	rewriteStmts(f.Body, func(e Expr) Expr {
		if x, ok := e.(*CallExpr); ok && x.Func == old {
			x.Func = target
			count++
		}
		return e
	})
	if count == 0 {
		return nil, Edit{}, fmt.Errorf("retarget-call: %s does not call %s", caller, old)
	}
	return n, Edit{Kind: EditRetargetCall, Func: caller, Old: old, New: target}, nil
}

// RetargetPointer makes global name, which holds &old, hold &target
// instead. A function pointer must stay a pointer to a function of the
// same arity, a data pointer a pointer to a global.
func RetargetPointer(m *Module, name, target string) (*Module, Edit, error) {
	return retargetPointer(analyze(m), m, name, target)
}

// retargetPointer is RetargetPointer with m's analysis made already.
func retargetPointer(a *analysis, m *Module, name, target string) (*Module, Edit, error) {
	gi, ok := a.gidx[name]
	if !ok || m.Globals[gi].Init.Addr == "" {
		return nil, Edit{}, fmt.Errorf("retarget-pointer: no pointer global %s", name)
	}
	old := m.Globals[gi].Init.Addr
	_, oldIsGlobal := a.gidx[old]
	_, newIsGlobal := a.gidx[target]
	switch {
	case !a.names[target]:
		return nil, Edit{}, fmt.Errorf("retarget-pointer %s: undefined: %s", name, target)
	case oldIsGlobal != newIsGlobal:
		return nil, Edit{}, fmt.Errorf("retarget-pointer %s: %s and %s are not the same kind", name, old, target)
	case !oldIsGlobal && a.arityOf(old) != a.arityOf(target):
		return nil, Edit{}, fmt.Errorf("retarget-pointer %s: %s and %s differ in arity", name, old, target)
	}
	n := shallow(m)
	c := *m.Globals[gi]
	c.Init.Addr = target
	n.Globals[gi] = &c
	return n, Edit{Kind: EditRetargetPointer, Global: name, Old: old, New: target}, nil
}

// RandomEdit returns a new module that differs from m by one random edit,
// and the edit. m is not modified and the result is a deep copy sharing no
// memory with it. (The specific constructors such as GrowFunc never modify
// their input either, but their result shares the unchanged declarations
// with it; Clone it before changing it in place.) When m is a generated program (or the
// result of edits of one), the result passes Check and still terminates
// within the default fuel: new calls only go to leaves, and only from
// functions that already make calls.
func RandomEdit(m *Module, r *rand.Rand) (*Module, Edit) {
	n, e := RandomEditShared(m, r)
	return Clone(n), e
}

// RandomEditShared is RandomEdit without the deep copy: its result shares
// the declarations the edit did not change with m, as the specific
// constructors' results do (m is still not modified). It draws the same
// edit as RandomEdit from the same r. Loops that never change a version in
// place (the checked update loop of `linkcheck bench check`) use it; a
// compiler that keeps per-function results (codegen.Compiler) then sees
// the unchanged functions as the same declarations.
func RandomEditShared(m *Module, r *rand.Rand) (*Module, Edit) {
	return (*Editor)(nil).RandomEditShared(m, r)
}

// Editor draws random edits as RandomEditShared does, keeping the facts
// of each function it has analyzed (whether it calls, what it stores and
// names) for the next edits: a function the edits of a sequence did not
// change is the same declaration from version to version, so it is not
// walked again. The versions it is given must never be changed in place
// (as for codegen.Compiler); the edits are those RandomEditShared draws
// from the same r, byte for byte (TestEditorEqualsRandomEditShared). The
// zero Editor is ready to use; a nil *Editor keeps nothing.
type Editor struct {
	known map[*Func]*funcFacts
}

// facts returns f's facts, from e when it knows them (e may be nil).
func (e *Editor) facts(f *Func) *funcFacts {
	if e == nil {
		return factsOf(f)
	}
	if ff, ok := e.known[f]; ok {
		return ff
	}
	ff := factsOf(f)
	if e.known == nil {
		e.known = map[*Func]*funcFacts{}
	}
	e.known[f] = ff
	return ff
}

// forget drops the facts of the functions m does not hold, once e knows
// many more functions than m has.
func (e *Editor) forget(m *Module) {
	if e == nil || len(e.known) <= 2*len(m.Funcs)+64 {
		return
	}
	keep := make(map[*Func]*funcFacts, 2*len(m.Funcs))
	for _, f := range m.Funcs {
		if ff, ok := e.known[f]; ok {
			keep[f] = ff
		}
	}
	e.known = keep
}

// RandomEditShared is the package's RandomEditShared, taking the facts of
// the functions e knows from it.
func (e *Editor) RandomEditShared(m *Module, r *rand.Rand) (*Module, Edit) {
	e.forget(m)
	a := analyzeWith(m, e) // m does not change between the tries
	for try := 0; try < 20; try++ {
		n, ed, err := randomEdit(m, a, r, e)
		if err == nil {
			return n, ed
		}
	}
	n, ed, err := GrowFunc(m, "main", 16)
	if err != nil {
		panic("ir: RandomEdit on a module without main")
	}
	return n, ed
}

func randomEdit(m *Module, a *analysis, r *rand.Rand, ed *Editor) (*Module, Edit, error) {
	fn := m.Funcs[r.Intn(len(m.Funcs))].Name
	switch x := r.Intn(100); {
	case x < 18:
		return changeBody(a, m, fn, r)
	case x < 24:
		return GrowFunc(m, fn, uint64(1+r.Intn(512)))
	case x < 30:
		return growFuncCode(a, m, fn, r)
	case x < 38:
		return shrinkFunc(a, m, fn)
	case x < 50:
		return addFunc(a, m, a.freshName("f", len(m.Funcs)+1), "", r)
	case x < 58:
		return deleteFunc(a, m, fn)
	case x < 64:
		al := uint64(0)
		if r.Intn(4) != 0 {
			al = 1 << uint(r.Intn(13))
		}
		return SetAlign(m, fn, al)
	case x < 70:
		used := make(map[string]bool, len(m.Errors))
		for _, e := range m.Errors {
			used[e] = true
		}
		return AddError(m, errorName(r, used), r.Intn(len(m.Errors)+1))
	case x < 75:
		if len(m.Errors) == 0 {
			return nil, Edit{}, fmt.Errorf("no errors")
		}
		used := make(map[string]bool, len(m.Errors))
		for _, e := range m.Errors {
			used[e] = true
		}
		return renameError(a, m, m.Errors[r.Intn(len(m.Errors))], errorName(r, used))
	case x < 81:
		constant := r.Intn(2) == 0
		prefix := "g"
		if constant {
			prefix = "k"
		}
		n, e, err := addGlobal(a, m, a.freshName(prefix, len(m.Globals)+1), constant, Init{Value: randLiteral(r)})
		if err != nil || constant {
			return n, e, err
		}
		// Use it: store to it from a function that is not main.
		fi := r.Intn(len(n.Funcs))
		nn, f, _, _ := withFunc(n, n.Funcs[fi].Name)
		pos := insertPos(r, f.Body)
		b := analyzeWith(n, ed).bodyAt(r, f, pos)
		f.Body = insertStmts(f.Body, pos, []Stmt{&StoreStmt{Global: e.Global, Value: b.expr(2)}})
		return nn, e, nil
	case x < 87:
		var ints []string
		ints = append(ints, a.p.intGlobals...)
		ints = append(ints, a.p.intConsts...)
		if len(ints) == 0 {
			return nil, Edit{}, fmt.Errorf("no integer globals")
		}
		return SetInit(m, ints[r.Intn(len(ints))], randLiteral(r))
	case x < 94:
		// Retarget a call to a leaf, in a function with calls.
		nl := a.nonLeaves()
		fi := nl[r.Intn(len(nl))]
		f := m.Funcs[fi]
		var leafCalls []string
		for _, c := range a.ff[fi].calls {
			if a.isLeaf(c) {
				leafCalls = append(leafCalls, c)
			}
		}
		if len(leafCalls) == 0 {
			return nil, Edit{}, fmt.Errorf("no leaf calls in %s", f.Name)
		}
		old := leafCalls[r.Intn(len(leafCalls))]
		pool := a.p.leaves[a.arityOf(old)]
		target := pool[r.Intn(len(pool))]
		if target == old {
			return nil, Edit{}, fmt.Errorf("same target")
		}
		return retargetCall(a, m, f.Name, old, target)
	default:
		var ptrs []*Global
		for _, g := range m.Globals {
			if g.Init.Addr != "" {
				ptrs = append(ptrs, g)
			}
		}
		if len(ptrs) == 0 {
			return nil, Edit{}, fmt.Errorf("no pointers")
		}
		g := ptrs[r.Intn(len(ptrs))]
		if _, isGlobal := a.gidx[g.Init.Addr]; isGlobal {
			return retargetPointer(a, m, g.Name, m.Globals[r.Intn(len(m.Globals))].Name)
		}
		ar := a.arityOf(g.Init.Addr)
		if !a.isLeaf(g.Init.Addr) || len(a.p.leaves[ar]) == 0 {
			return nil, Edit{}, fmt.Errorf("pointer %s does not point to a leaf", g.Name)
		}
		return retargetPointer(a, m, g.Name, a.p.leaves[ar][r.Intn(len(a.p.leaves[ar]))])
	}
}

// Sequence returns versions programs: a generated program of funcs
// functions drawn from seed, followed by versions-1 random edits of it.
func Sequence(seed int64, funcs, versions int) []*Module {
	mods, _ := SequenceEdits(seed, funcs, versions)
	return mods
}

// SequenceEdits is Sequence that also returns the edits: edits[i] turns
// mods[i] into mods[i+1].
func SequenceEdits(seed int64, funcs, versions int) ([]*Module, []Edit) {
	if versions < 1 {
		versions = 1
	}
	m := Generate(GenConfig{Seed: seed, Funcs: funcs})
	r := rand.New(rand.NewSource(seed ^ 0x5eed))
	mods := []*Module{m}
	var edits []Edit
	for len(mods) < versions {
		n, e := RandomEdit(mods[len(mods)-1], r)
		mods = append(mods, n)
		edits = append(edits, e)
	}
	return mods, edits
}

// VersionName is the file name of version k (1-based) of a sequence.
func VersionName(k int) string { return "v" + strconv.Itoa(k) + ".lir" }

// SequenceTxtar returns a txtar archive holding v1.lir … vN.lir, with the
// edits listed in its comment (edits may be nil).
func SequenceTxtar(comment string, mods []*Module, edits []Edit) []byte {
	var c bytes.Buffer
	if comment != "" {
		c.WriteString(comment)
		if comment[len(comment)-1] != '\n' {
			c.WriteByte('\n')
		}
	}
	for i, e := range edits {
		fmt.Fprintf(&c, "v%d -> v%d: %s\n", i+1, i+2, e)
	}
	ar := &txtar.Archive{Comment: c.Bytes()}
	for i, m := range mods {
		ar.Files = append(ar.Files, txtar.File{Name: VersionName(i + 1), Data: Print(m)})
	}
	return txtar.Format(ar)
}

// ParseTxtar parses every .lir file of a txtar archive, in order.
func ParseTxtar(data []byte) ([]*Module, error) {
	ar := txtar.Parse(data)
	var mods []*Module
	for _, f := range ar.Files {
		m, err := Parse(f.Name, f.Data)
		if err != nil {
			return nil, err
		}
		mods = append(mods, m)
	}
	return mods, nil
}
