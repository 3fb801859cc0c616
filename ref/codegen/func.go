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

// fn is the state of lowering one function.
type fn struct {
	name   string
	code   []byte
	relocs []obj.SymReloc
	labels []int // label -> code offset, -1 while unbound
	fixups []fixup
	scopes []map[string]int32 // name -> frame offset from x86.RBP
	slots  int
	env    *Env
	err    error
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
}

// NewEnv returns the environment of m's functions.
func NewEnv(m *ir.Module) *Env {
	env := &Env{LocalFuncs: map[string]bool{}, ErrorValues: map[string]uint64{}}
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
	g := &fn{name: f.Name, env: env}
	// Prologue; the frame size is patched once all slots are known.
	g.emit("push", x86.RBP)
	g.emit("mov", x86.RBP, x86.RSP)
	frame := g.emit("sub", x86.RSP, x86.Imm(0x10000)) // imm32 form, patched below
	g.push()
	for i, p := range f.Params {
		off := g.newSlot(p)
		g.emit("mov", slot(off), argRegs[i])
	}
	g.stmts(f.Body)
	// Falling off the end returns 0.
	g.emit("xor", x86.EAX, x86.EAX)
	g.epilogue()
	if g.err != nil {
		return nil, fmt.Errorf("codegen: func %s: %w", f.Name, g.err)
	}
	if g.slots > maxFrameSlots {
		return nil, fmt.Errorf("codegen: func %s: %d locals exceed the frame limit of %d", f.Name, g.slots, maxFrameSlots)
	}
	code := g.code
	frameSize := (g.slots*8 + 15) &^ 15
	if frame.Imm.Size != 4 {
		return nil, fmt.Errorf("codegen: func %s: frame immediate is %d bytes, want 4", f.Name, frame.Imm.Size)
	}
	binary.LittleEndian.PutUint32(code[frame.Imm.Off:], uint32(frameSize))
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
	data := code
	return &obj.Atom{Name: f.Name, Kind: obj.Text, Align: align, Data: data, Size: uint64(len(data)), Relocs: g.relocs, Local: f.Local}, nil
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

// reloc emits an instruction whose displacement refers to sym.
func (g *fn) reloc(kind obj.RelocKind, sym string, op string, args ...x86.Operand) {
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

// jump emits a rel32 jmp or jcc to label l.
func (g *fn) jump(op string, l int) {
	e := g.emit(op, x86.Rel{Size: 4})
	if g.err == nil {
		g.fixups = append(g.fixups, fixup{field: e.Disp.Off, label: l})
	}
}

func (g *fn) push() { g.scopes = append(g.scopes, map[string]int32{}) }
func (g *fn) pop()  { g.scopes = g.scopes[:len(g.scopes)-1] }

func (g *fn) newSlot(name string) int32 {
	g.slots++
	off := int32(-8 * g.slots)
	g.scopes[len(g.scopes)-1][name] = off
	return off
}

func (g *fn) lookup(name string) int32 {
	for i := len(g.scopes) - 1; i >= 0; i-- {
		if off, ok := g.scopes[i][name]; ok {
			return off
		}
	}
	if g.err == nil {
		g.err = fmt.Errorf("unknown variable %q", name)
	}
	return 0
}

func (g *fn) epilogue() {
	g.emit("mov", x86.RSP, x86.RBP)
	g.emit("pop", x86.RBP)
	g.emit("ret")
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
		g.emit("mov", slot(g.newSlot(s.Name)), x86.RAX)
	case *ir.AssignStmt:
		g.expr(s.Value)
		g.emit("mov", slot(g.lookup(s.Name)), x86.RAX)
	case *ir.StoreStmt:
		g.expr(s.Value)
		g.reloc(obj.GOTLoad32, s.Global, "mov", x86.RCX, x86.Mem{RIP: true, Size: 8})
		g.emit("mov", x86.Mem{Base: x86.RCX, Size: 8}, x86.RAX)
	case *ir.IfStmt:
		elseL, end := g.newLabel(), g.newLabel()
		g.expr(s.Cond)
		g.emit("test", x86.RAX, x86.RAX)
		g.jump("je", elseL)
		g.stmts(s.Then)
		g.jump("jmp", end)
		g.bind(elseL)
		g.stmts(s.Else)
		g.bind(end)
	case *ir.WhileStmt:
		top, end := g.newLabel(), g.newLabel()
		g.bind(top)
		g.expr(s.Cond)
		g.emit("test", x86.RAX, x86.RAX)
		g.jump("je", end)
		g.stmts(s.Body)
		g.jump("jmp", top)
		g.bind(end)
	case *ir.ReturnStmt:
		if s.Value == nil {
			g.emit("xor", x86.EAX, x86.EAX)
		} else {
			g.expr(s.Value)
		}
		g.epilogue()
	case *ir.PadStmt:
		for n := int(s.N); n > 0; {
			k := min(n, 15)
			b, err := x86.Nop(k)
			if err != nil && g.err == nil {
				g.err = err
			}
			g.rawBytes(b)
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

// rawBytes appends bytes that are not an instruction of the table (the
// recommended multi-byte nops).
func (g *fn) rawBytes(b []byte) {
	if g.err == nil {
		g.code = append(g.code, b...)
	}
}

// expr evaluates e into RAX. Temporaries go on the machine stack, so no
// register other than RAX survives an expression.
func (g *fn) expr(e ir.Expr) {
	switch e := e.(type) {
	case *ir.IntLit:
		g.loadConst(e.Value)
	case *ir.ErrorLit:
		v, ok := g.env.ErrorValues[e.Name]
		if !ok && g.err == nil {
			g.err = fmt.Errorf("unknown error %s", e.Name)
		}
		g.loadConst(v)
	case *ir.VarRef:
		g.emit("mov", x86.RAX, slot(g.lookup(e.Name)))
	case *ir.LoadExpr:
		g.reloc(obj.GOTLoad32, e.Global, "mov", x86.RAX, x86.Mem{RIP: true, Size: 8})
		g.emit("mov", x86.RAX, x86.Mem{Base: x86.RAX, Size: 8})
	case *ir.AddrOf:
		g.addrOf(x86.RAX, e.Name)
	case *ir.UnaryExpr:
		g.expr(e.X)
		switch e.Op {
		case ir.OpNeg:
			g.emit("neg", x86.RAX)
		case ir.OpNot:
			g.emit("not", x86.RAX)
		default:
			g.err = fmt.Errorf("bad unary operator %d", e.Op)
		}
	case *ir.BinaryExpr:
		g.expr(e.X)
		g.emit("push", x86.RAX)
		g.expr(e.Y)
		g.emit("mov", x86.RCX, x86.RAX)
		g.emit("pop", x86.RAX)
		g.binary(e.Op)
	case *ir.CallExpr:
		g.args(e.Args)
		g.call(e.Func)
	case *ir.CallIndirectExpr:
		g.expr(e.Target)
		g.emit("push", x86.RAX)
		g.argsThen(e.Args, func() { g.emit("pop", x86.R11) })
		g.emit("call", x86.R11)
	case *ir.ErrLenExpr:
		g.expr(e.Err)
		g.errName(false)
	case *ir.ErrByteExpr:
		g.expr(e.Err)
		g.emit("push", x86.RAX)
		g.expr(e.Index)
		g.emit("mov", x86.RSI, x86.RAX)
		g.emit("pop", x86.RAX)
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
		g.reloc(obj.GOTPCRel32, name, "call", x86.Mem{RIP: true, Size: 8})
		return
	}
	g.reloc(obj.Branch32, name, "call", x86.Rel{Size: 4})
}

// loadConst puts v in x86.RAX with the shortest obvious instruction.
func (g *fn) loadConst(v uint64) {
	switch {
	case v <= 0x7fffffff:
		g.emit("mov", x86.EAX, x86.Imm(int64(v)))
	case int64(v) >= -0x80000000 && int64(v) < 0:
		g.emit("mov", x86.RAX, x86.Imm(int64(v)))
	default:
		g.emit("movabs", x86.RAX, x86.Imm(int64(v)))
	}
}

// addrOf puts the address of a function or global in r.
func (g *fn) addrOf(r x86.Reg, name string) {
	if g.env.LocalFuncs[name] {
		g.reloc(obj.PCRel32, name, "lea", r, x86.Mem{RIP: true})
		return
	}
	g.reloc(obj.GOTLoad32, name, "mov", r, x86.Mem{RIP: true, Size: 8})
}

// args evaluates call arguments left to right and loads them into the
// argument registers.
func (g *fn) args(args []ir.Expr) { g.argsThen(args, nil) }

func (g *fn) argsThen(args []ir.Expr, after func()) {
	if len(args) > len(argRegs) {
		g.err = fmt.Errorf("call with %d arguments: at most %d are supported", len(args), len(argRegs))
		return
	}
	for _, a := range args {
		g.expr(a)
		g.emit("push", x86.RAX)
	}
	for i := len(args) - 1; i >= 0; i-- {
		g.emit("pop", argRegs[i])
	}
	if after != nil {
		after()
	}
}

var setcc = map[ir.Op]string{
	ir.OpEq: "sete", ir.OpNe: "setne",
	ir.OpLt: "setb", ir.OpLe: "setbe", ir.OpGt: "seta", ir.OpGe: "setae",
}

// binary computes x86.RAX = x86.RAX op x86.RCX.
func (g *fn) binary(op ir.Op) {
	switch op {
	case ir.OpAdd:
		g.emit("add", x86.RAX, x86.RCX)
	case ir.OpSub:
		g.emit("sub", x86.RAX, x86.RCX)
	case ir.OpMul:
		g.emit("imul", x86.RAX, x86.RCX)
	case ir.OpAnd:
		g.emit("and", x86.RAX, x86.RCX)
	case ir.OpOr:
		g.emit("or", x86.RAX, x86.RCX)
	case ir.OpXor:
		g.emit("xor", x86.RAX, x86.RCX)
	case ir.OpShl:
		g.emit("shl", x86.RAX, x86.CL) // 64-bit shifts take the count mod 64
	case ir.OpShr:
		g.emit("shr", x86.RAX, x86.CL)
	case ir.OpDiv, ir.OpRem:
		zero, end := g.newLabel(), g.newLabel()
		g.emit("test", x86.RCX, x86.RCX)
		g.jump("je", zero)
		g.emit("xor", x86.EDX, x86.EDX)
		g.emit("div", x86.RCX)
		if op == ir.OpRem {
			g.emit("mov", x86.RAX, x86.RDX)
		}
		g.jump("jmp", end)
		g.bind(zero)
		g.emit("xor", x86.EAX, x86.EAX)
		g.bind(end)
	case ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe:
		g.emit("cmp", x86.RAX, x86.RCX)
		g.emit(setcc[op], x86.AL)
		g.emit("movzx", x86.EAX, x86.AL)
	default:
		g.err = fmt.Errorf("bad binary operator %d", op)
	}
}

// errName computes errlen(x86.RAX), or errbyte(x86.RAX, x86.RSI) when byteAt is set,
// from the error table: off[0] = 4(N+1) gives N, error k spans
// [off[k-1], off[k]-1). Out-of-range errors and indexes yield 0.
func (g *fn) errName(byteAt bool) {
	zero, end := g.newLabel(), g.newLabel()
	g.reloc(obj.GOTLoad32, ErrTabSymbol, "mov", x86.RCX, x86.Mem{RIP: true, Size: 8})
	g.emit("test", x86.RAX, x86.RAX)
	g.jump("je", zero)
	g.emit("mov", x86.EDX, x86.Mem{Base: x86.RCX, Size: 4})
	g.emit("shr", x86.EDX, x86.Imm(2)) // N+1
	if g.env.seedErrTabBug {
		g.emit("add", x86.EDX, x86.Imm(1)) // seed 000: N = off[0]/4, one past the offsets
	}
	g.emit("cmp", x86.RAX, x86.RDX)
	g.jump("jae", zero)
	g.emit("mov", x86.R8D, x86.Mem{Base: x86.RCX, Index: x86.RAX, Scale: 4, Disp: -4, Size: 4}) // off[k-1]
	g.emit("mov", x86.EDX, x86.Mem{Base: x86.RCX, Index: x86.RAX, Scale: 4, Size: 4})           // off[k]
	g.emit("sub", x86.EDX, x86.R8D)
	g.emit("sub", x86.EDX, x86.Imm(1)) // length without the NUL
	if byteAt {
		g.emit("cmp", x86.RSI, x86.RDX)
		g.jump("jae", zero)
		g.emit("add", x86.RCX, x86.R8)
		g.emit("movzx", x86.EAX, x86.Mem{Base: x86.RCX, Index: x86.RSI, Scale: 1, Size: 1})
	} else {
		g.emit("mov", x86.EAX, x86.EDX)
	}
	g.jump("jmp", end)
	g.bind(zero)
	g.emit("xor", x86.EAX, x86.EAX)
	g.bind(end)
}
