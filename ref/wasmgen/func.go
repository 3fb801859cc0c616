package wasmgen

import (
	"fmt"
	"slices"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// Wasm opcodes used by the generator.
const (
	opUnreachable  = 0x00
	opNop          = 0x01
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opElse         = 0x05
	opEnd          = 0x0b
	opBr           = 0x0c
	opBrIf         = 0x0d
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opDrop         = 0x1a
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opI32Load      = 0x28
	opI64Load      = 0x29
	opI64Load8U    = 0x31
	opI64Load32U   = 0x35
	opI64Store     = 0x37
	opMemorySize   = 0x3f
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI64Const     = 0x42
	opI32Eq        = 0x46
	opI32LtU       = 0x49
	opI32GtU       = 0x4b
	opI64Eqz       = 0x50
	opI64Eq        = 0x51
	opI64Ne        = 0x52
	opI64LtU       = 0x54
	opI64GtU       = 0x56
	opI64LeU       = 0x58
	opI64GeU       = 0x5a
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	opI32Shl       = 0x74
	opI32ShrU      = 0x76
	opI64Add       = 0x7c
	opI64Sub       = 0x7d
	opI64Mul       = 0x7e
	opI64DivU      = 0x80
	opI64RemU      = 0x82
	opI64And       = 0x83
	opI64Or        = 0x84
	opI64Xor       = 0x85
	opI64Shl       = 0x86
	opI64ShrU      = 0x88
	opI32WrapI64   = 0xa7
	opI64ExtendI32 = 0xad // i64.extend_i32_u

	blockVoid = 0x40
	blockI64  = 0x7e
)

// symReloc is a relocation that names its target; the object builder
// turns names into symbol indexes and writes the placeholder values.
type symReloc struct {
	Type   wasm.RelocType
	Offset uint32
	Sym    string // target symbol; for TYPE_INDEX_LEB empty
	Arity  int    // TYPE_INDEX_LEB: the signature's arity
	Addend int32
}

// funcCode is one compiled function before it is placed in an object.
type funcCode struct {
	Name   string
	Local  bool
	Arity  int
	Locals []wasm.LocalGroup
	Code   []byte
	Relocs []symReloc
	// UsesErrors is set when the function reads the error table.
	UsesErrors bool
	// FrameSize is the function's frame on the linear-memory stack.
	FrameSize uint32
	// refs summarizes Relocs for building objects (summarize).
	refs relocRefs
}

// relocRefs is what an object needs to know of a list of relocations
// before it numbers its symbols: whether one uses the stack pointer, the
// arities of the call_indirect types, the table entries and the symbols
// referenced, each list without repeats in first-reference order (the
// order an object numbers them in). A function's is made once and serves
// every object its code goes to.
type relocRefs struct {
	stackPointer bool
	types        []int
	elems, syms  []string
}

// summarize returns the relocRefs of rs.
func summarize(rs []symReloc) relocRefs {
	var s relocRefs
	for _, r := range rs {
		switch r.Type {
		case wasm.RGlobalIndexLEB:
			s.stackPointer = true
			continue
		case wasm.RTypeIndexLEB:
			if !slices.Contains(s.types, r.Arity) {
				s.types = append(s.types, r.Arity)
			}
			continue
		case wasm.RTableIndexSLEB, wasm.RTableIndexI32:
			if !slices.Contains(s.elems, r.Sym) {
				s.elems = append(s.elems, r.Sym)
			}
		}
		if !slices.Contains(s.syms, r.Sym) {
			s.syms = append(s.syms, r.Sym)
		}
	}
	return s
}

// env is what every function's compilation needs to know about the module.
type env struct {
	m       *ir.Module
	funcs   map[string]*ir.Func
	globals map[string]*ir.Global
	faults  fault.Set
	// faultDone records which single-site faults were injected.
	faultDone map[string]bool
}

func newEnv(m *ir.Module, f fault.Set) *env {
	e := &env{m: m, funcs: make(map[string]*ir.Func, len(m.Funcs)), globals: make(map[string]*ir.Global, len(m.Globals)), faults: f, faultDone: map[string]bool{}}
	for _, fn := range m.Funcs {
		e.funcs[fn.Name] = fn
	}
	for _, g := range m.Globals {
		e.globals[g.Name] = g
	}
	return e
}

// sameArity returns another function than name with arity n (the first in
// declaration order), or "" when there is none: the wrong-symbol fault
// retargets a call there, so that the program stays valid Wasm and only
// its value tells.
func (e *env) sameArity(name string, n int) string {
	for _, f := range e.m.Funcs {
		if f.Name != name && len(f.Params) == n && f.Name != MainSymbol && !f.Local {
			return f.Name
		}
	}
	return ""
}

// gen compiles one function.
type gen struct {
	env    *env
	f      *ir.Func
	code   []byte
	relocs []symReloc
	err    error
	// scopes maps variable names to frame slots, innermost last.
	scopes []map[string]int
	// live is the number of slots the open scopes hold; a scope's slots
	// are free again when it closes, so nslots, the frame's, is the
	// largest live count (a block's locals share slots with its sibling
	// blocks': main of a 100,000-function program needs 8,379 slots
	// without the reuse, more than the 64 KiB stack, and 7,064 with it).
	live   int
	nslots int
	// depth is the number of labels between the current point and the
	// function's outer block (the target of return).
	depth int
	// Locals after the parameters: ret, tx, ty (i64), fp, ta (i32), then
	// the i32 pool for indirect call targets.
	nparams  int
	targets  int // pool size
	inUse    int // pool entries in use
	usesErrs bool
	deps     ir.Deps // what of the module the lowering read
}

func (g *gen) localRet() uint32 { return uint32(g.nparams) }
func (g *gen) localTX() uint32  { return uint32(g.nparams + 1) }
func (g *gen) localTY() uint32  { return uint32(g.nparams + 2) }
func (g *gen) localFP() uint32  { return uint32(g.nparams + 3) }
func (g *gen) localTA() uint32  { return uint32(g.nparams + 4) }

func (g *gen) op(b ...byte) { g.code = append(g.code, b...) }

func (g *gen) uleb(v uint64) { g.code = wasm.AppendULEB(g.code, v) }

func (g *gen) sleb(v int64) { g.code = wasm.AppendSLEB(g.code, v) }

// reloc emits a 5-byte placeholder field with a relocation.
func (g *gen) reloc(t wasm.RelocType, sym string, addend int32) {
	g.relocs = append(g.relocs, symReloc{Type: t, Offset: uint32(len(g.code)), Sym: sym, Addend: addend})
	g.code = wasm.AppendPaddedULEB(g.code, 0)
}

func (g *gen) failf(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("wasmgen: func %s: %s", g.f.Name, fmt.Sprintf(format, args...))
	}
}

func (g *gen) localGet(i uint32) { g.op(opLocalGet); g.uleb(uint64(i)) }
func (g *gen) localSet(i uint32) { g.op(opLocalSet); g.uleb(uint64(i)) }

// memarg emits a load/store's alignment and a constant offset.
func (g *gen) memarg(align, offset uint32) {
	g.uleb(uint64(align))
	g.uleb(uint64(offset))
}

// stackPointer emits global.get/set of __stack_pointer.
func (g *gen) stackPointer(opcode byte) {
	g.op(opcode)
	g.reloc(wasm.RGlobalIndexLEB, StackPointerSymbol, 0)
}

// compileFunc lowers one function. The frame on the linear-memory stack
// holds every parameter and local in an 8-byte slot at fp + 8*slot.
func compileFunc(f *ir.Func, e *env) (*funcCode, error) {
	fc, _, err := lowerFunc(f, e)
	return fc, err
}

// lowerFunc is compileFunc that also returns what of e the lowering read.
func lowerFunc(f *ir.Func, e *env) (*funcCode, ir.Deps, error) {
	g := &gen{env: e, f: f, nparams: len(f.Params)}
	g.scopes = []map[string]int{{}}
	for _, p := range f.Params {
		g.scopes[0][p] = g.newSlot()
	}
	body := g.body()
	if g.err != nil {
		return nil, ir.Deps{}, g.err
	}
	frame := uint32(8*g.nslots+15) &^ 15
	if frame == 0 {
		frame = 16
	}
	if frame > maxFrame {
		return nil, ir.Deps{}, fmt.Errorf("wasmgen: func %s: frame of %d bytes exceeds %d", f.Name, frame, maxFrame)
	}
	// Prologue: fp = __stack_pointer - frame; trap below the stack's
	// base; spill the parameters.
	// The prologue, the body and the epilogue, in buffers of about
	// their size.
	g.code = make([]byte, 0, len(body)+64+16*len(f.Params))
	bodyRelocs := g.relocs
	g.relocs = make([]symReloc, 0, len(bodyRelocs)+4)
	g.stackPointer(opGlobalGet)
	g.op(opI32Const)
	g.sleb(int64(frame))
	g.op(opI32Sub, opLocalTee)
	g.uleb(uint64(g.localFP()))
	g.stackPointer(opGlobalSet)
	g.localGet(g.localFP())
	g.op(opI32Const)
	g.reloc(wasm.RMemoryAddrSLEB, StackBaseSymbol, 0)
	g.op(opI32LtU, opIf, blockVoid, opUnreachable, opEnd)
	for i := range f.Params {
		g.localGet(g.localFP())
		g.localGet(uint32(i))
		g.op(opI64Store)
		g.memarg(3, uint32(8*i))
	}
	g.op(opBlock, blockVoid)
	base := uint32(len(g.code))
	for _, r := range bodyRelocs {
		r.Offset += base
		g.relocs = append(g.relocs, r)
	}
	g.code = append(g.code, body...)
	g.op(opEnd)
	// Epilogue: pop the frame, return ret (0 when the body fell through).
	g.localGet(g.localFP())
	g.op(opI32Const)
	g.sleb(int64(frame))
	g.op(opI32Add)
	g.stackPointer(opGlobalSet)
	g.localGet(g.localRet())
	g.op(opEnd)
	return &funcCode{
		Name:  f.Name,
		Local: f.Local,
		Arity: len(f.Params),
		Locals: []wasm.LocalGroup{
			{Count: 3, Type: wasm.I64},
			{Count: uint32(2 + g.targets), Type: wasm.I32},
		},
		Code:       g.code,
		Relocs:     g.relocs,
		UsesErrors: g.usesErrs,
		FrameSize:  frame,
		refs:       summarize(g.relocs),
	}, g.deps, nil
}

// body compiles the statements of the function and returns their code,
// with relocation offsets relative to it.
func (g *gen) body() []byte {
	g.stmts(g.f.Body)
	return g.code
}

func (g *gen) lookup(name string) int {
	for i := len(g.scopes) - 1; i >= 0; i-- {
		if s, ok := g.scopes[i][name]; ok {
			return s
		}
	}
	g.failf("undefined variable %s", name)
	return 0
}

func (g *gen) stmts(ss []ir.Stmt) {
	g.scopes = append(g.scopes, map[string]int{})
	live := g.live
	for _, s := range ss {
		g.stmt(s)
	}
	g.live = live
	g.scopes = g.scopes[:len(g.scopes)-1]
}

// newSlot returns the next free frame slot of the open scopes.
func (g *gen) newSlot() int {
	slot := g.live
	g.live++
	g.nslots = max(g.nslots, g.live)
	return slot
}

func (g *gen) slotStore(slot int, value ir.Expr) {
	g.localGet(g.localFP())
	g.expr(value)
	g.op(opI64Store)
	g.memarg(3, uint32(8*slot))
}

func (g *gen) stmt(s ir.Stmt) {
	switch s := s.(type) {
	case *ir.LetStmt:
		// The slot is declared after the value: `let x = x` is an error
		// the checker reports, and the value cannot see the new x.
		slot := g.newSlot()
		g.slotStore(slot, s.Value)
		g.scopes[len(g.scopes)-1][s.Name] = slot
	case *ir.AssignStmt:
		g.slotStore(g.lookup(s.Name), s.Value)
	case *ir.StoreStmt:
		g.op(opI32Const, 0)
		g.expr(s.Value)
		g.op(opI64Store)
		g.uleb(3)
		g.reloc(wasm.RMemoryAddrLEB, s.Global, 0)
	case *ir.IfStmt:
		g.cond(s.Cond)
		g.op(opIf, blockVoid)
		g.depth++
		g.stmts(s.Then)
		if len(s.Else) > 0 {
			g.op(opElse)
			g.stmts(s.Else)
		}
		g.depth--
		g.op(opEnd)
	case *ir.WhileStmt:
		g.op(opBlock, blockVoid, opLoop, blockVoid)
		g.depth += 2
		g.expr(s.Cond)
		g.op(opI64Eqz, opBrIf, 1)
		g.stmts(s.Body)
		g.op(opBr, 0)
		g.depth -= 2
		g.op(opEnd, opEnd)
	case *ir.ReturnStmt:
		if s.Value == nil {
			g.op(opI64Const, 0)
		} else {
			g.expr(s.Value)
		}
		g.localSet(g.localRet())
		g.op(opBr)
		g.uleb(uint64(g.depth))
	case *ir.PadStmt:
		for i := uint64(0); i < s.N; i++ {
			g.op(opNop)
		}
	case *ir.ExprStmt:
		g.expr(s.X)
		g.op(opDrop)
	default:
		g.failf("unsupported statement %T", s)
	}
}

// cond evaluates a condition to an i32 (non-zero is true).
func (g *gen) cond(e ir.Expr) {
	g.expr(e)
	g.op(opI64Const, 0, opI64Ne)
}

var binops = map[ir.Op]byte{
	ir.OpMul: opI64Mul, ir.OpAdd: opI64Add, ir.OpSub: opI64Sub,
	ir.OpShl: opI64Shl, ir.OpShr: opI64ShrU, // Wasm takes shift counts mod 64
	ir.OpAnd: opI64And, ir.OpXor: opI64Xor, ir.OpOr: opI64Or,
}

var cmpops = map[ir.Op]byte{
	ir.OpEq: opI64Eq, ir.OpNe: opI64Ne, ir.OpLt: opI64LtU, ir.OpLe: opI64LeU,
	ir.OpGt: opI64GtU, ir.OpGe: opI64GeU,
}

// expr evaluates e to an i64 on the operand stack.
func (g *gen) expr(e ir.Expr) {
	switch e := e.(type) {
	case *ir.IntLit:
		g.op(opI64Const)
		g.sleb(int64(e.Value))
	case *ir.ErrorLit:
		g.op(opI64Const)
		v := g.env.m.ErrorValue(e.Name)
		g.deps.Error(e.Name, v)
		g.sleb(int64(v))
	case *ir.VarRef:
		g.localGet(g.localFP())
		g.op(opI64Load)
		g.memarg(3, uint32(8*g.lookup(e.Name)))
	case *ir.LoadExpr:
		g.op(opI32Const, 0, opI64Load)
		g.uleb(3)
		g.reloc(wasm.RMemoryAddrLEB, e.Global, 0)
	case *ir.AddrOf:
		g.op(opI32Const)
		_, ok := g.env.funcs[e.Name]
		g.deps.Name(e.Name, ok) // whether it is a function's
		if ok {
			// A function's address is its index in the indirect
			// function table.
			g.relocs = append(g.relocs, symReloc{Type: wasm.RTableIndexSLEB, Offset: uint32(len(g.code)), Sym: e.Name})
			g.code = wasm.AppendPaddedSLEB(g.code, 0)
			if g.env.faults.Has(fault.WasmTableIndexOffByOne) {
				g.op(opI32Const, 1, opI32Add)
			}
		} else {
			g.relocs = append(g.relocs, symReloc{Type: wasm.RMemoryAddrSLEB, Offset: uint32(len(g.code)), Sym: e.Name})
			g.code = wasm.AppendPaddedSLEB(g.code, 0)
		}
		g.op(opI64ExtendI32)
	case *ir.UnaryExpr:
		if e.Op == ir.OpNeg {
			g.op(opI64Const, 0)
			g.expr(e.X)
			g.op(opI64Sub)
		} else {
			g.expr(e.X)
			g.op(opI64Const, 0x7f, opI64Xor) // i64.const -1
		}
	case *ir.BinaryExpr:
		g.expr(e.X)
		g.expr(e.Y)
		if op, ok := binops[e.Op]; ok {
			g.op(op)
			return
		}
		if op, ok := cmpops[e.Op]; ok {
			g.op(op, opI64ExtendI32)
			return
		}
		switch e.Op {
		case ir.OpDiv, ir.OpRem:
			// x / 0 == x % 0 == 0.
			g.localSet(g.localTY())
			g.localSet(g.localTX())
			g.localGet(g.localTY())
			g.op(opI64Eqz, opIf, blockI64, opI64Const, 0, opElse)
			g.localGet(g.localTX())
			g.localGet(g.localTY())
			if e.Op == ir.OpDiv {
				g.op(opI64DivU)
			} else {
				g.op(opI64RemU)
			}
			g.op(opEnd)
		default:
			g.failf("unsupported operator %v", e.Op)
		}
	case *ir.CallExpr:
		for _, a := range e.Args {
			g.expr(a)
		}
		target := e.Func
		if g.env.faults.Has(fault.WasmWrongCallSymbol) && !g.env.faultDone["call"] {
			if other := g.env.sameArity(e.Func, len(e.Args)); other != "" {
				target = other
				g.env.faultDone["call"] = true
			}
		}
		g.op(opCall)
		if g.env.faults.Has(fault.WasmUnpaddedLEB) && !g.env.faultDone["leb"] {
			// The relocation claims 5 bytes; only one is there.
			g.env.faultDone["leb"] = true
			g.relocs = append(g.relocs, symReloc{Type: wasm.RFunctionIndexLEB, Offset: uint32(len(g.code)), Sym: target})
			g.op(0)
			return
		}
		g.reloc(wasm.RFunctionIndexLEB, target, 0)
	case *ir.CallIndirectExpr:
		// The target is evaluated first, as the interpreter does; it
		// waits in a pool local while the arguments are evaluated.
		g.expr(e.Target)
		g.op(opI32WrapI64)
		t := g.acquire()
		g.localSet(t)
		for _, a := range e.Args {
			g.expr(a)
		}
		g.localGet(t)
		g.release()
		g.op(opCallIndirect)
		g.relocs = append(g.relocs, symReloc{Type: wasm.RTypeIndexLEB, Offset: uint32(len(g.code)), Arity: len(e.Args)})
		g.code = wasm.AppendPaddedULEB(g.code, 0)
		g.op(0) // table 0
	case *ir.ErrLenExpr:
		g.usesErrs = true
		g.expr(e.Err)
		g.localSet(g.localTX())
		g.errInRange()
		g.op(opIf, blockI64)
		g.sliceAddr()
		g.op(opI64Load32U)
		g.uleb(2)
		g.reloc(wasm.RMemoryAddrLEB, ErrTableSymbol, 4)
		g.op(opElse, opI64Const, 0, opEnd)
	case *ir.ErrByteExpr:
		g.usesErrs = true
		g.expr(e.Err)
		g.expr(e.Index)
		g.localSet(g.localTY())
		g.localSet(g.localTX())
		g.errInRange()
		g.op(opIf, blockI64)
		g.sliceAddr()
		g.localSet(g.localTA())
		// index < len
		g.localGet(g.localTY())
		g.localGet(g.localTA())
		g.op(opI64Load32U)
		g.uleb(2)
		g.reloc(wasm.RMemoryAddrLEB, ErrTableSymbol, 4)
		g.op(opI64LtU, opIf, blockI64)
		// names[ptr + index]
		g.localGet(g.localTA())
		g.op(opI32Load)
		g.uleb(2)
		g.reloc(wasm.RMemoryAddrLEB, ErrTableSymbol, 0)
		g.localGet(g.localTY())
		g.op(opI32WrapI64, opI32Add, opI64Load8U)
		g.memarg(0, 0)
		g.op(opElse, opI64Const, 0, opEnd)
		g.op(opElse, opI64Const, 0, opEnd)
	default:
		g.failf("unsupported expression %T", e)
	}
}

// errInRange leaves (tx - 1) <u errors_len on the stack: tx is a
// declared error value.
func (g *gen) errInRange() {
	g.localGet(g.localTX())
	g.op(opI64Const, 1, opI64Sub, opI32Const, 0, opI64Load32U)
	g.uleb(2)
	g.reloc(wasm.RMemoryAddrLEB, ErrorsLenSymbol, 0)
	g.op(opI64LtU)
}

// sliceAddr leaves 8*(tx-1), the offset of error tx's {ptr,len} slice in
// the table, on the stack as an i32.
func (g *gen) sliceAddr() {
	g.localGet(g.localTX())
	g.op(opI32WrapI64, opI32Const, 1, opI32Sub, opI32Const, 3, opI32Shl)
}

// acquire returns a free i32 local from the indirect-target pool.
func (g *gen) acquire() uint32 {
	if g.inUse == g.targets {
		g.targets++
	}
	g.inUse++
	return uint32(g.nparams + 5 + g.inUse - 1)
}

func (g *gen) release() { g.inUse-- }
