// Package unicorn is a small binding of the Unicorn CPU emulator (Debian's
// libunicorn.so.2, version 2.x) for x86_64, loaded at run time with purego:
// no cgo, so packages importing it build where libunicorn is missing and
// fail only when Open is called.
//
// Unicorn is GPLv2; linkcheck only dlopens it and does not link or ship it.
//
// Only what linkcheck's execution oracle needs is bound: opening an x86_64
// engine, mapping (also host memory) and accessing memory, registers and
// saved CPU contexts, three kinds of hooks (syscall instruction, invalid
// memory access, interrupt), dropping translated code of a range, and
// starting and stopping emulation with a timeout and an instruction budget.
package unicorn

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Constants from unicorn.h and x86.h (libunicorn 2.0.1). The values were
// read from the headers by compiling a C program that prints them.
const (
	archX86 = 4 // UC_ARCH_X86
	mode64  = 8 // UC_MODE_64

	hookIntr       = 1    // UC_HOOK_INTR
	hookInsn       = 2    // UC_HOOK_INSN
	hookMemInvalid = 1008 // UC_HOOK_MEM_INVALID: every unmapped and protection fault

	insSyscall = 699 // UC_X86_INS_SYSCALL

	// ctlRemoveCache is UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), the
	// control of uc_ctl_remove_cache.
	ctlRemoveCache = 0x48000009
)

// Reg is an x86 register number of Unicorn's uc_x86_reg enumeration.
type Reg int32

// Registers used by linkcheck (values of uc_x86_reg in x86.h, unicorn 2.0.1).
const (
	RAX    Reg = 35
	RBP    Reg = 36
	RBX    Reg = 37
	RCX    Reg = 38
	RDI    Reg = 39
	RDX    Reg = 40
	RIP    Reg = 41
	RSI    Reg = 43
	RSP    Reg = 44
	R8     Reg = 106
	R9     Reg = 107
	R10    Reg = 108
	R11    Reg = 109
	EFLAGS Reg = 25
)

// Prot is a memory protection (uc_prot); the bits equal Mach-O's VM_PROT_*.
type Prot uint32

// Memory protections.
const (
	ProtRead  Prot = 1
	ProtWrite Prot = 2
	ProtExec  Prot = 4
	ProtAll   Prot = 7
)

// MemAccess is the kind of a memory access reported to an invalid-access
// hook (uc_mem_type).
type MemAccess uint32

// Kinds of invalid memory access.
const (
	MemReadUnmapped  MemAccess = 19
	MemWriteUnmapped MemAccess = 20
	MemFetchUnmapped MemAccess = 21
	MemWriteProt     MemAccess = 22
	MemReadProt      MemAccess = 23
	MemFetchProt     MemAccess = 24
)

// String names the access, e.g. "read of unmapped memory".
func (m MemAccess) String() string {
	switch m {
	case MemReadUnmapped:
		return "read of unmapped memory"
	case MemWriteUnmapped:
		return "write to unmapped memory"
	case MemFetchUnmapped:
		return "fetch from unmapped memory"
	case MemWriteProt:
		return "write to write-protected memory"
	case MemReadProt:
		return "read of read-protected memory"
	case MemFetchProt:
		return "fetch from non-executable memory"
	}
	return fmt.Sprintf("memory access of kind %d", uint32(m))
}

// Error codes of uc_err that callers may want to tell apart.
const (
	ErrCodeInsnInvalid = 10 // UC_ERR_INSN_INVALID
	ErrCodeException   = 21 // UC_ERR_EXCEPTION
)

// Error is a failed Unicorn call.
type Error struct {
	Op   string // the C function, e.g. "uc_mem_map"
	Code uint32 // uc_err
	Msg  string // uc_strerror(Code)
}

func (e *Error) Error() string {
	return fmt.Sprintf("unicorn: %s: %s (uc_err %d)", e.Op, e.Msg, e.Code)
}

// Lib is a loaded libunicorn. It is safe for concurrent use; each Engine is
// not.
type Lib struct {
	// Path is the shared library that was loaded.
	Path string
	// Major and Minor are the library's API version (uc_version).
	Major, Minor uint32

	ucVersion   func(major, minor *uint32) uint32
	ucOpen      func(arch, mode uint32, uc *uintptr) uint32
	ucClose     func(uc uintptr) uint32
	ucStrerror  func(code uint32) string
	ucMemMap    func(uc uintptr, addr uint64, size uintptr, perms uint32) uint32
	ucMemMapPtr func(uc uintptr, addr uint64, size uintptr, perms uint32, ptr uintptr) uint32
	ucMemUnmap  func(uc uintptr, addr uint64, size uintptr) uint32
	ucMemWrite  func(uc uintptr, addr uint64, b unsafe.Pointer, size uintptr) uint32
	ucMemRead   func(uc uintptr, addr uint64, b unsafe.Pointer, size uintptr) uint32
	ucRegWrite  func(uc uintptr, reg int32, v *uint64) uint32
	ucRegRead   func(uc uintptr, reg int32, v *uint64) uint32
	ucEmuStart  func(uc uintptr, begin, until, timeout uint64, count uintptr) uint32
	ucEmuStop   func(uc uintptr) uint32
	// ucCtl is variadic in C; uc_ctl_remove_cache passes two uint64s, which
	// on x86_64 System V travel in registers exactly like fixed arguments.
	ucCtl            func(uc uintptr, control uint32, a, b uint64) uint32
	ucContextAlloc   func(uc uintptr, ctx *uintptr) uint32
	ucContextSave    func(uc uintptr, ctx uintptr) uint32
	ucContextRestore func(uc uintptr, ctx uintptr) uint32
	ucContextFree    func(ctx uintptr) uint32
	// ucHookAdd is variadic in C; for UC_HOOK_INSN the variadic argument is
	// the instruction id (an int). On x86_64 System V an int variadic
	// argument is passed exactly like a fixed one (here on the stack, as the
	// 8th argument), and purego sets AL=0 ("no vector registers") before
	// every call, which is what a variadic callee expects. Hooks without a
	// variadic argument pass 0, which the callee never reads.
	ucHookAdd func(uc uintptr, hh *uintptr, typ int32, cb uintptr, user uintptr, begin, end uint64, extra int32) uint32

	hooks *hookTable
}

// Open loads libunicorn from path (see oracle/tools: tools.Find("libunicorn"))
// and checks that it is a 2.x release. dlopen is reference counted, so Open
// may be called more than once; the library is never unloaded.
func Open(path string) (lib *Lib, err error) {
	defer func() {
		// purego panics when a symbol is missing; turn that into an error.
		if r := recover(); r != nil {
			lib, err = nil, fmt.Errorf("unicorn: %s: %v", path, r)
		}
	}()
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("unicorn: dlopen %s: %w", path, err)
	}
	l := &Lib{Path: path}
	purego.RegisterLibFunc(&l.ucVersion, h, "uc_version")
	purego.RegisterLibFunc(&l.ucOpen, h, "uc_open")
	purego.RegisterLibFunc(&l.ucClose, h, "uc_close")
	purego.RegisterLibFunc(&l.ucStrerror, h, "uc_strerror")
	purego.RegisterLibFunc(&l.ucMemMap, h, "uc_mem_map")
	purego.RegisterLibFunc(&l.ucMemMapPtr, h, "uc_mem_map_ptr")
	purego.RegisterLibFunc(&l.ucMemUnmap, h, "uc_mem_unmap")
	purego.RegisterLibFunc(&l.ucMemWrite, h, "uc_mem_write")
	purego.RegisterLibFunc(&l.ucMemRead, h, "uc_mem_read")
	purego.RegisterLibFunc(&l.ucRegWrite, h, "uc_reg_write")
	purego.RegisterLibFunc(&l.ucRegRead, h, "uc_reg_read")
	purego.RegisterLibFunc(&l.ucEmuStart, h, "uc_emu_start")
	purego.RegisterLibFunc(&l.ucEmuStop, h, "uc_emu_stop")
	purego.RegisterLibFunc(&l.ucHookAdd, h, "uc_hook_add")
	purego.RegisterLibFunc(&l.ucCtl, h, "uc_ctl")
	purego.RegisterLibFunc(&l.ucContextAlloc, h, "uc_context_alloc")
	purego.RegisterLibFunc(&l.ucContextSave, h, "uc_context_save")
	purego.RegisterLibFunc(&l.ucContextRestore, h, "uc_context_restore")
	purego.RegisterLibFunc(&l.ucContextFree, h, "uc_context_free")
	l.ucVersion(&l.Major, &l.Minor)
	if l.Major != 2 {
		return nil, fmt.Errorf("unicorn: %s has API version %d.%d; linkcheck needs 2.x", path, l.Major, l.Minor)
	}
	l.hooks = processHooks()
	return l, nil
}

// Version returns the library version as "major.minor".
func (l *Lib) Version() string { return fmt.Sprintf("%d.%d", l.Major, l.Minor) }

func (l *Lib) check(op string, code uint32) error {
	if code == 0 {
		return nil
	}
	return &Error{Op: op, Code: code, Msg: l.ucStrerror(code)}
}

// hookTable holds the C-callable trampolines of the hooks and the engines
// they dispatch to. purego's callback table is process-wide and its slots
// are never freed (at most 2000 per process), so the trampolines are made
// once per process and shared by every Lib and Engine; they find their
// Engine by its uc_engine handle. This is the only process-wide state of the
// package, and it exists because the resource it manages is process-wide.
type hookTable struct {
	syscall, memInvalid, intr uintptr

	mu      sync.Mutex
	engines map[uintptr]*Engine

	// exclusive serializes whole emulations: Unicorn 2 is not safe with
	// engines used concurrently from several threads (runs then miss their
	// exit hook and spin until the budget ends), and every Lib of a process
	// is the same loaded library.
	exclusive sync.Mutex
}

// Exclusive locks the library for one emulation and pins the calling
// goroutine to its OS thread, as Unicorn wants an engine used from the
// thread that opened it. Call the returned function when the engine is
// closed.
func (l *Lib) Exclusive() (unlock func()) {
	runtime.LockOSThread()
	l.hooks.exclusive.Lock()
	return func() {
		l.hooks.exclusive.Unlock()
		runtime.UnlockOSThread()
	}
}

var processHooks = sync.OnceValue(func() *hookTable {
	t := &hookTable{engines: map[uintptr]*Engine{}}
	t.syscall = purego.NewCallback(func(uc, _ uintptr) {
		if e := t.lookup(uc); e != nil && e.onSyscall != nil {
			e.onSyscall(e)
		}
	})
	t.memInvalid = purego.NewCallback(func(uc, typ, addr, size, value, _ uintptr) bool {
		if e := t.lookup(uc); e != nil && e.onMemInvalid != nil {
			return e.onMemInvalid(e, MemAccess(uint32(typ)), uint64(addr), int(int32(size)), int64(value))
		}
		return false
	})
	t.intr = purego.NewCallback(func(uc, intno, _ uintptr) {
		if e := t.lookup(uc); e != nil && e.onInterrupt != nil {
			e.onInterrupt(e, uint32(intno))
		}
	})
	return t
})

func (t *hookTable) lookup(uc uintptr) *Engine {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.engines[uc]
}

// Engine is one x86_64 emulator instance (uc_engine). Close it when done.
type Engine struct {
	lib *Lib
	uc  uintptr

	onSyscall    func(*Engine)
	onMemInvalid func(e *Engine, access MemAccess, addr uint64, size int, value int64) bool
	onInterrupt  func(e *Engine, intno uint32)
}

// NewEngine opens an x86_64 engine in 64-bit mode.
func (l *Lib) NewEngine() (*Engine, error) {
	var uc uintptr
	if err := l.check("uc_open", l.ucOpen(archX86, mode64, &uc)); err != nil {
		return nil, err
	}
	e := &Engine{lib: l, uc: uc}
	l.hooks.mu.Lock()
	l.hooks.engines[uc] = e
	l.hooks.mu.Unlock()
	return e, nil
}

// Close releases the engine and its memory.
func (e *Engine) Close() error {
	if e.uc == 0 {
		return nil
	}
	e.lib.hooks.mu.Lock()
	delete(e.lib.hooks.engines, e.uc)
	e.lib.hooks.mu.Unlock()
	err := e.lib.check("uc_close", e.lib.ucClose(e.uc))
	e.uc = 0
	return err
}

var errClosed = errors.New("unicorn: engine is closed")

// MapMem maps [addr, addr+size) with the given protection. Both must be
// multiples of 4 KiB.
func (e *Engine) MapMem(addr, size uint64, prot Prot) error {
	if e.uc == 0 {
		return errClosed
	}
	if err := e.lib.check("uc_mem_map", e.lib.ucMemMap(e.uc, addr, uintptr(size), uint32(prot))); err != nil {
		return fmt.Errorf("map %#x+%#x: %w", addr, size, err)
	}
	return nil
}

// MapHost maps [addr, addr+size) with the given protection onto host
// memory at ptr (uc_mem_map_ptr): the guest reads and writes that memory
// directly. ptr must stay valid, outside Go's heap (for example from
// syscall.Mmap), until the range is unmapped or the engine closed; addr,
// size and ptr must be multiples of 4 KiB. Code the guest executes from it
// is translated once: after changing such bytes behind the engine's back,
// call RemoveCache on them.
func (e *Engine) MapHost(addr, size uint64, prot Prot, ptr unsafe.Pointer) error {
	if e.uc == 0 {
		return errClosed
	}
	if err := e.lib.check("uc_mem_map_ptr", e.lib.ucMemMapPtr(e.uc, addr, uintptr(size), uint32(prot), uintptr(ptr))); err != nil {
		return fmt.Errorf("map %#x+%#x onto host memory: %w", addr, size, err)
	}
	return nil
}

// UnmapMem unmaps [addr, addr+size), dropping the code translated from it.
func (e *Engine) UnmapMem(addr, size uint64) error {
	if e.uc == 0 {
		return errClosed
	}
	if err := e.lib.check("uc_mem_unmap", e.lib.ucMemUnmap(e.uc, addr, uintptr(size))); err != nil {
		return fmt.Errorf("unmap %#x+%#x: %w", addr, size, err)
	}
	return nil
}

// RemoveCache drops the code the engine translated from the guest
// addresses [begin, end) (uc_ctl_remove_cache), so that the next execution
// there translates the bytes the memory holds then. The range must lie in
// one mapping.
func (e *Engine) RemoveCache(begin, end uint64) error {
	if e.uc == 0 {
		return errClosed
	}
	if err := e.lib.check("uc_ctl_remove_cache", e.lib.ucCtl(e.uc, ctlRemoveCache, begin, end)); err != nil {
		return fmt.Errorf("remove translations of %#x-%#x: %w", begin, end, err)
	}
	return nil
}

// Context is a saved CPU state (uc_context): every register, the flags,
// the FPU and vector state. Free it when done.
type Context struct {
	lib *Lib
	ctx uintptr
}

// SaveContext saves the engine's CPU state into a new Context.
func (e *Engine) SaveContext() (*Context, error) {
	if e.uc == 0 {
		return nil, errClosed
	}
	c := &Context{lib: e.lib}
	if err := e.lib.check("uc_context_alloc", e.lib.ucContextAlloc(e.uc, &c.ctx)); err != nil {
		return nil, err
	}
	if err := e.lib.check("uc_context_save", e.lib.ucContextSave(e.uc, c.ctx)); err != nil {
		c.Free()
		return nil, err
	}
	return c, nil
}

// RestoreContext sets the engine's CPU state to the saved c.
func (e *Engine) RestoreContext(c *Context) error {
	if e.uc == 0 {
		return errClosed
	}
	return e.lib.check("uc_context_restore", e.lib.ucContextRestore(e.uc, c.ctx))
}

// Free releases the context.
func (c *Context) Free() {
	if c.ctx != 0 {
		_ = c.lib.ucContextFree(c.ctx)
		c.ctx = 0
	}
}

// WriteMem copies b to guest memory at addr (ignoring protections).
func (e *Engine) WriteMem(addr uint64, b []byte) error {
	if e.uc == 0 {
		return errClosed
	}
	if len(b) == 0 {
		return nil
	}
	if err := e.lib.check("uc_mem_write", e.lib.ucMemWrite(e.uc, addr, unsafe.Pointer(&b[0]), uintptr(len(b)))); err != nil {
		return fmt.Errorf("write %#x+%#x: %w", addr, len(b), err)
	}
	return nil
}

// ReadMem reads len(b) bytes of guest memory at addr into b.
func (e *Engine) ReadMem(addr uint64, b []byte) error {
	if e.uc == 0 {
		return errClosed
	}
	if len(b) == 0 {
		return nil
	}
	if err := e.lib.check("uc_mem_read", e.lib.ucMemRead(e.uc, addr, unsafe.Pointer(&b[0]), uintptr(len(b)))); err != nil {
		return fmt.Errorf("read %#x+%#x: %w", addr, len(b), err)
	}
	return nil
}

// RegWrite sets a 64-bit register.
func (e *Engine) RegWrite(r Reg, v uint64) error {
	if e.uc == 0 {
		return errClosed
	}
	return e.lib.check("uc_reg_write", e.lib.ucRegWrite(e.uc, int32(r), &v))
}

// RegRead reads a 64-bit register.
func (e *Engine) RegRead(r Reg) (uint64, error) {
	if e.uc == 0 {
		return 0, errClosed
	}
	var v uint64
	err := e.lib.check("uc_reg_read", e.lib.ucRegRead(e.uc, int32(r), &v))
	return v, err
}

// OnSyscall calls fn on every `syscall` instruction (UC_HOOK_INSN with
// UC_X86_INS_SYSCALL). fn runs on the emulating thread, with RIP after the
// instruction; it may read and write registers and memory and call Stop.
func (e *Engine) OnSyscall(fn func(*Engine)) error {
	e.onSyscall = fn
	return e.addHook(hookInsn, e.lib.hooks.syscall, insSyscall)
}

// OnMemInvalid calls fn on every access to unmapped or protected memory.
// Returning false stops emulation with the matching uc_err.
func (e *Engine) OnMemInvalid(fn func(e *Engine, access MemAccess, addr uint64, size int, value int64) bool) error {
	e.onMemInvalid = fn
	return e.addHook(hookMemInvalid, e.lib.hooks.memInvalid, 0)
}

// OnInterrupt calls fn on every CPU exception or interrupt (int3, int N,
// #DE, #UD when not handled otherwise).
func (e *Engine) OnInterrupt(fn func(e *Engine, intno uint32)) error {
	e.onInterrupt = fn
	return e.addHook(hookIntr, e.lib.hooks.intr, 0)
}

func (e *Engine) addHook(typ int32, cb uintptr, extra int32) error {
	if e.uc == 0 {
		return errClosed
	}
	var hh uintptr
	// begin=1 > end=0 means "the whole address space".
	return e.lib.check("uc_hook_add", e.lib.ucHookAdd(e.uc, &hh, typ, cb, 0, 1, 0, extra))
}

// Start emulates from begin until RIP reaches until, timeout passes (0: no
// limit) or count instructions have run (0: no limit), whichever comes
// first, or a hook calls Stop. Reaching a limit is not an error: callers
// read RIP to see where emulation stopped.
func (e *Engine) Start(begin, until uint64, timeout time.Duration, count uint64) error {
	if e.uc == 0 {
		return errClosed
	}
	us := uint64(0)
	if timeout > 0 {
		us = uint64(timeout / time.Microsecond)
		if us == 0 {
			us = 1
		}
	}
	return e.lib.check("uc_emu_start", e.lib.ucEmuStart(e.uc, begin, until, us, uintptr(count)))
}

// Stop ends a running emulation. It may be called from a hook or from
// another goroutine.
func (e *Engine) Stop() error {
	if e.uc == 0 {
		return errClosed
	}
	return e.lib.check("uc_emu_stop", e.lib.ucEmuStop(e.uc))
}
