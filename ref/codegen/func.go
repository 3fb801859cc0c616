package codegen

import (
	"encoding/binary"
	"fmt"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/x86"
)

// argRegs are the System V argument registers, in order.
var argRegs = [...]x86.Reg{x86.RDI, x86.RSI, x86.RDX, x86.RCX}

// fn is the state of lowering one function. Its buffers are reused from
// one function to the next (reset): the atom gets copies of its own size.
type fn struct {
	name   string
	code   []byte
	relocs []obj.SymReloc
	labels []int // label -> code offset, -1 while unbound
	fixups []fixup
	// vars are the variables in scope, innermost last; scopes holds where
	// each open scope starts in vars, and bound the innermost binding of
	// each name (its index in vars).
	vars   []binding
	scopes []int
	bound  map[string]int
	slots  int
	env    *Env
	tm     *tmpls
	err    error
	// encodeEach encodes every instruction with the x86 encoder instead
	// of copying its template (the reference the templates are tested
	// against).
	encodeEach bool
	// deps are what of env the function's lowering read
	// (a Compiler's record of it): each error's value, each address's
	// locality.
	deps ir.Deps
}

// binding is a variable in scope: its frame offset from x86.RBP and the
// index in vars of the binding of the same name it shadows (-1: none).
type binding struct {
	name   string
	off    int32
	shadow int
}

type fixup struct {
	field int // offset of the rel32 field
	label int
}

// Env is what lowering one function needs to know about the rest of the
// program.
type Env struct {
	// LocalFuncs names the `local` functions, whose addresses are taken
	// RIP-relatively rather than through the GOT.
	LocalFuncs map[string]bool
	// ErrorValues maps each error name to its value.
	ErrorValues map[string]uint64
	// CallsViaGOT lowers calls through GOT slots (Options.CallsViaGOT).
	CallsViaGOT bool

	seedErrTabBug bool
	// entry, when set, is the entry stub of this format and these
	// options, made for an earlier version (Compiler).
	entry *obj.Atom
	// encodeEach makes every instruction go through the x86 encoder (fn's
	// encodeEach; tests only).
	encodeEach bool
}

// NewEnv returns the environment of m's functions.
func NewEnv(m *ir.Module) *Env {
	locals := 0
	for _, f := range m.Funcs {
		if f.Local {
			locals++
		}
	}
	env := &Env{LocalFuncs: make(map[string]bool, locals), ErrorValues: make(map[string]uint64, len(m.Errors))}
	for _, f := range m.Funcs {
		if f.Local {
			env.LocalFuncs[f.Name] = true
		}
	}
	for i, e := range m.Errors {
		env.ErrorValues[e] = uint64(i + 1)
	}
	return env
}

// CompileFunc lowers one function of a program whose environment is env.
func CompileFunc(f *ir.Func, env *Env) (*obj.Atom, error) {
	g, err := newFn(env)
	if err != nil {
		return nil, err
	}
	return g.compile(f)
}

// newFn returns the state for lowering functions in env.
func newFn(env *Env) (*fn, error) {
	tm, err := templates()
	if err != nil {
		return nil, err
	}
	return &fn{env: env, tm: tm, bound: map[string]int{}, encodeEach: env.encodeEach}, nil
}

// reset readies g for the next function, keeping its buffers.
func (g *fn) reset(name string) {
	g.name, g.err, g.slots = name, nil, 0
	g.code, g.relocs, g.labels, g.fixups = g.code[:0], g.relocs[:0], g.labels[:0], g.fixups[:0]
	g.vars, g.scopes = g.vars[:0], g.scopes[:0]
	g.deps.Reset()
	clear(g.bound)
}

// compile lowers f with g's buffers.
func (g *fn) compile(f *ir.Func) (*obj.Atom, error) {
	g.reset(f.Name)
	// Prologue; the frame size is patched once all slots are known.
	g.put(iPushRBP, 0)
	g.put(iMovRBPRSP, 0)
	frame := g.put(iSubRSPFrame, 0x10000) // imm32 form, patched below
	g.push()
	for i, p := range f.Params {
		g.storeSlot(1+i, g.newSlot(p))
	}
	g.stmts(f.Body)
	// Falling off the end returns 0.
	g.put(iXorEAXEAX, 0)
	g.epilogue()
	if g.err != nil {
		return nil, fmt.Errorf("codegen: func %s: %w", f.Name, g.err)
	}
	if g.slots > maxFrameSlots {
		return nil, fmt.Errorf("codegen: func %s: %d locals exceed the frame limit of %d", f.Name, g.slots, maxFrameSlots)
	}
	code := g.code
	frameSize := (g.slots*8 + 15) &^ 15
	if fi := g.tm.insns[iSubRSPFrame].imm; fi.Size != 4 {
		return nil, fmt.Errorf("codegen: func %s: frame immediate is %d bytes, want 4", f.Name, fi.Size)
	}
	binary.LittleEndian.PutUint32(code[frame+g.tm.insns[iSubRSPFrame].imm.Off:], uint32(frameSize))
	for _, fx := range g.fixups {
		target := g.labels[fx.label]
		if target < 0 {
			return nil, fmt.Errorf("codegen: func %s: unbound label %d", f.Name, fx.label)
		}
		binary.LittleEndian.PutUint32(code[fx.field:], uint32(int32(target-(fx.field+4))))
	}
	align := uint64(DefaultFuncAlign)
	if f.Align != 0 {
		align = f.Align
	}
	data := append([]byte(nil), code...)
	var relocs []obj.SymReloc
	if len(g.relocs) > 0 {
		relocs = append([]obj.SymReloc(nil), g.relocs...)
	}
	return &obj.Atom{Name: f.Name, Kind: obj.Text, Align: align, Data: data, Size: uint64(len(data)), Relocs: relocs, Local: f.Local}, nil
}

// storeSlot stores slotRegs[reg] into the frame slot at off.
func (g *fn) storeSlot(reg int, off int32) {
	if off >= -128 {
		g.put(iStoreSlot8+insn(reg), int64(off))
		return
	}
	g.put(iStoreSlot32+insn(reg), int64(off))
}

// loadSlot loads the frame slot at off into RAX.
func (g *fn) loadSlot(off int32) {
	if off >= -128 {
		g.put(iLoadSlot8, int64(off))
		return
	}
	g.put(iLoadSlot32, int64(off))
}

func slot(off int32) x86.Mem { return x86.Mem{Base: x86.RBP, Disp: off, Size: 8} }

// emit encodes one instruction, recording the first error.
func (g *fn) emit(op string, args ...x86.Operand) x86.Encoding {
	if g.err != nil {
		return x86.Encoding{}
	}
	e, err := x86.Encode(x86.Inst{Op: op, Args: args})
	if err != nil {
		g.err = err
		return x86.Encoding{}
	}
	start := len(g.code)
	g.code = append(g.code, e.Bytes...)
	if e.Disp.Size != 0 {
		e.Disp.Off += start
	}
	if e.Imm.Size != 0 {
		e.Imm.Off += start
	}
	return e
}

// reloc emits instruction id, whose displacement refers to sym.
func (g *fn) reloc(kind obj.RelocKind, sym string, id insn) {
	start := g.put(id, 0)
	if g.err != nil {
		return
	}
	t := &g.tm.insns[id]
	if t.disp.Size != 4 || t.disp.Off+4 != int(t.n) {
		in, _ := shape(id)
		g.err = fmt.Errorf("%s: relocated field is not the last 4 bytes of the instruction", in)
		return
	}
	g.relocs = append(g.relocs, obj.SymReloc{Offset: uint64(start + t.disp.Off), Kind: kind, Sym: sym, Addend: -4})
}

// stubReloc is reloc for the entry stub, which is encoded instruction by
// instruction (emit).
func (g *fn) stubReloc(kind obj.RelocKind, sym string, op string, args ...x86.Operand) {
	e := g.emit(op, args...)
	if g.err != nil {
		return
	}
	if e.Disp.Size != 4 || e.Disp.Off+4 != len(g.code) {
		g.err = fmt.Errorf("%s: relocated field is not the last 4 bytes of the instruction", x86.Inst{Op: op, Args: args})
		return
	}
	g.relocs = append(g.relocs, obj.SymReloc{Offset: uint64(e.Disp.Off), Kind: kind, Sym: sym, Addend: -4})
}

func (g *fn) newLabel() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *fn) bind(l int) { g.labels[l] = len(g.code) }

// jump emits a rel32 jmp or jcc (id) to label l.
func (g *fn) jump(id insn, l int) {
	start := g.put(id, 0)
	if g.err == nil {
		g.fixups = append(g.fixups, fixup{field: start + g.tm.insns[id].disp.Off, label: l})
	}
}

// push opens a scope.
func (g *fn) push() { g.scopes = append(g.scopes, len(g.vars)) }

// pop closes the innermost scope: its names are bound again to what they
// shadowed.
func (g *fn) pop() {
	start := g.scopes[len(g.scopes)-1]
	g.scopes = g.scopes[:len(g.scopes)-1]
	for i := len(g.vars) - 1; i >= start; i-- {
		b := g.vars[i]
		if b.shadow < 0 {
			delete(g.bound, b.name)
		} else {
			g.bound[b.name] = b.shadow
		}
	}
	g.vars = g.vars[:start]
}

func (g *fn) newSlot(name string) int32 {
	g.slots++
	off := int32(-8 * g.slots)
	shadow := -1
	if i, ok := g.bound[name]; ok {
		shadow = i
	}
	g.bound[name] = len(g.vars)
	g.vars = append(g.vars, binding{name: name, off: off, shadow: shadow})
	return off
}

func (g *fn) lookup(name string) int32 {
	if i, ok := g.bound[name]; ok {
		return g.vars[i].off
	}
	if g.err == nil {
		g.err = fmt.Errorf("unknown variable %q", name)
	}
	return 0
}

func (g *fn) epilogue() {
	g.put(iMovRSPRBP, 0)
	g.put(iPopRBP, 0)
	g.put(iRet, 0)
}

func (g *fn) stmts(body []ir.Stmt) {
	g.push()
	for _, s := range body {
		g.stmt(s)
	}
	g.pop()
}

func (g *fn) stmt(s ir.Stmt) {
	switch s := s.(type) {
	case *ir.LetStmt:
		g.expr(s.Value)
		g.storeSlot(0, g.newSlot(s.Name))
	case *ir.AssignStmt:
		g.expr(s.Value)
		g.storeSlot(0, g.lookup(s.Name))
	case *ir.StoreStmt:
		g.expr(s.Value)
		g.reloc(obj.GOTLoad32, s.Global, iMovRCXGOT)
		g.put(iMovMemRCXRAX, 0)
	case *ir.IfStmt:
		elseL, end := g.newLabel(), g.newLabel()
		g.expr(s.Cond)
		g.put(iTestRAXRAX, 0)
		g.jump(iJe, elseL)
		g.stmts(s.Then)
		g.jump(iJmp, end)
		g.bind(elseL)
		g.stmts(s.Else)
		g.bind(end)
	case *ir.WhileStmt:
		top, end := g.newLabel(), g.newLabel()
		g.bind(top)
		g.expr(s.Cond)
		g.put(iTestRAXRAX, 0)
		g.jump(iJe, end)
		g.stmts(s.Body)
		g.jump(iJmp, top)
		g.bind(end)
	case *ir.ReturnStmt:
		if s.Value == nil {
			g.put(iXorEAXEAX, 0)
		} else {
			g.expr(s.Value)
		}
		g.epilogue()
	case *ir.PadStmt:
		for n := int(s.N); n > 0; {
			k := min(n, 15)
			if err := g.nop(k); err != nil && g.err == nil {
				g.err = err
			}
			n -= k
		}
	case *ir.ExprStmt:
		g.expr(s.X)
	default:
		if g.err == nil {
			g.err = fmt.Errorf("unsupported statement %T", s)
		}
	}
}

// nop appends the recommended nop of k bytes (not an instruction of the
// encoder's table).
func (g *fn) nop(k int) error {
	if g.err != nil {
		return nil
	}
	if k >= 1 && k < len(g.tm.nops) && !g.encodeEach {
		g.code = append(g.code, g.tm.nops[k]...)
		return nil
	}
	b, err := x86.Nop(k)
	if err != nil {
		return err
	}
	g.code = append(g.code, b...)
	return nil
}

// expr evaluates e into RAX. Temporaries go on the machine stack, so no
// register other than RAX survives an expression.
func (g *fn) expr(e ir.Expr) {
	switch e := e.(type) {
	case *ir.IntLit:
		g.loadConst(e.Value)
	case *ir.ErrorLit:
		v, ok := g.env.ErrorValues[e.Name]
		g.deps.Error(e.Name, v)
		if !ok && g.err == nil {
			g.err = fmt.Errorf("unknown error %s", e.Name)
		}
		g.loadConst(v)
	case *ir.VarRef:
		g.loadSlot(g.lookup(e.Name))
	case *ir.LoadExpr:
		g.reloc(obj.GOTLoad32, e.Global, iMovRAXGOT)
		g.put(iMovRAXMemRAX, 0)
	case *ir.AddrOf:
		g.addrOf(e.Name)
	case *ir.UnaryExpr:
		g.expr(e.X)
		switch e.Op {
		case ir.OpNeg:
			g.put(iNegRAX, 0)
		case ir.OpNot:
			g.put(iNotRAX, 0)
		default:
			g.err = fmt.Errorf("bad unary operator %d", e.Op)
		}
	case *ir.BinaryExpr:
		g.expr(e.X)
		g.put(iPushRAX, 0)
		g.expr(e.Y)
		g.put(iMovRCXRAX, 0)
		g.put(iPopRAX, 0)
		g.binary(e.Op)
	case *ir.CallExpr:
		g.args(e.Args)
		g.call(e.Func)
	case *ir.CallIndirectExpr:
		g.expr(e.Target)
		g.put(iPushRAX, 0)
		g.args(e.Args)
		g.put(iPopR11, 0)
		g.put(iCallR11, 0)
	case *ir.ErrLenExpr:
		g.expr(e.Err)
		g.errName(false)
	case *ir.ErrByteExpr:
		g.expr(e.Err)
		g.put(iPushRAX, 0)
		g.expr(e.Index)
		g.put(iMovRSIRAX, 0)
		g.put(iPopRAX, 0)
		g.errName(true)
	default:
		if g.err == nil {
			g.err = fmt.Errorf("unsupported expression %T", e)
		}
	}
}

// call emits a call of the function named name: direct, or through its GOT
// slot under Options.CallsViaGOT.
func (g *fn) call(name string) {
	if g.env.CallsViaGOT {
		g.reloc(obj.GOTPCRel32, name, iCallGOT)
		return
	}
	g.reloc(obj.Branch32, name, iCallRel32)
}

// stubCall is call for the entry stub.
func (g *fn) stubCall(name string) {
	if g.env.CallsViaGOT {
		g.stubReloc(obj.GOTPCRel32, name, "call", x86.Mem{RIP: true, Size: 8})
		return
	}
	g.stubReloc(obj.Branch32, name, "call", x86.Rel{Size: 4})
}

// loadConst puts v in x86.RAX with the shortest obvious instruction.
func (g *fn) loadConst(v uint64) {
	switch {
	case v <= 0x7fffffff:
		g.put(iMovEAXImm, int64(v))
	case int64(v) >= -0x80000000 && int64(v) < 0:
		g.put(iMovRAXSImm, int64(v))
	default:
		g.put(iMovabsRAX, int64(v))
	}
}

// addrOf puts the address of a function or global in RAX.
func (g *fn) addrOf(name string) {
	local := g.env.LocalFuncs[name]
	g.deps.Name(name, local)
	if local {
		g.reloc(obj.PCRel32, name, iLeaRAXRIP)
		return
	}
	g.reloc(obj.GOTLoad32, name, iMovRAXGOT)
}

// args evaluates call arguments left to right and loads them into the
// argument registers.
func (g *fn) args(args []ir.Expr) {
	if len(args) > len(argRegs) {
		g.err = fmt.Errorf("call with %d arguments: at most %d are supported", len(args), len(argRegs))
		return
	}
	for _, a := range args {
		g.expr(a)
		g.put(iPushRAX, 0)
	}
	for i := len(args) - 1; i >= 0; i-- {
		g.put(iPopArg0+insn(i), 0)
	}
}

// binary computes x86.RAX = x86.RAX op x86.RCX.
func (g *fn) binary(op ir.Op) {
	switch op {
	case ir.OpAdd:
		g.put(iAddRAXRCX, 0)
	case ir.OpSub:
		g.put(iSubRAXRCX, 0)
	case ir.OpMul:
		g.put(iImulRAXRCX, 0)
	case ir.OpAnd:
		g.put(iAndRAXRCX, 0)
	case ir.OpOr:
		g.put(iOrRAXRCX, 0)
	case ir.OpXor:
		g.put(iXorRAXRCX, 0)
	case ir.OpShl:
		g.put(iShlRAXCL, 0)
	case ir.OpShr:
		g.put(iShrRAXCL, 0)
	case ir.OpDiv, ir.OpRem:
		zero, end := g.newLabel(), g.newLabel()
		g.put(iTestRCXRCX, 0)
		g.jump(iJe, zero)
		g.put(iXorEDXEDX, 0)
		g.put(iDivRCX, 0)
		if op == ir.OpRem {
			g.put(iMovRAXRDX, 0)
		}
		g.jump(iJmp, end)
		g.bind(zero)
		g.put(iXorEAXEAX, 0)
		g.bind(end)
	case ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe:
		g.put(iCmpRAXRCX, 0)
		g.put(setccInsn[op], 0)
		g.put(iMovzxEAXAL, 0)
	default:
		g.err = fmt.Errorf("bad binary operator %d", op)
	}
}

// errName computes errlen(x86.RAX), or errbyte(x86.RAX, x86.RSI) when byteAt is set,
// from the error table: off[0] = 4(N+1) gives N, error k spans
// [off[k-1], off[k]-1). Out-of-range errors and indexes yield 0.
func (g *fn) errName(byteAt bool) {
	zero, end := g.newLabel(), g.newLabel()
	g.reloc(obj.GOTLoad32, ErrTabSymbol, iMovRCXGOT)
	g.put(iTestRAXRAX, 0)
	g.jump(iJe, zero)
	g.put(iMovEDXMemRCX, 0)
	g.put(iShrEDX2, 0) // N+1
	if g.env.seedErrTabBug {
		g.put(iAddEDX1, 0) // seed 000: N = off[0]/4, one past the offsets
	}
	g.put(iCmpRAXRDX, 0)
	g.jump(iJae, zero)
	g.put(iMovR8DOffPrev, 0) // off[k-1]
	g.put(iMovEDXOff, 0)     // off[k]
	g.put(iSubEDXR8D, 0)
	g.put(iSubEDX1, 0) // length without the NUL
	if byteAt {
		g.put(iCmpRSIRDX, 0)
		g.jump(iJae, zero)
		g.put(iAddRCXR8, 0)
		g.put(iMovzxEAXByte, 0)
	} else {
		g.put(iMovEAXEDX, 0)
	}
	g.jump(iJmp, end)
	g.bind(zero)
	g.put(iXorEAXEAX, 0)
	g.bind(end)
}
