package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/linkcheck/linkcheck/oracle/exec/unicorn"
)

// Fixed addresses of the emulated process, above any image lld places.
const (
	// StackTop is the first address above the emulated stack; the stack
	// occupies [StackTop-StackSize, StackTop) and the StackGuard bytes
	// below it stay unmapped, so an overflow faults there.
	StackTop   = 0x7ff0_0000_0000
	StackGuard = 1 << 20
	// Sentinel is the return address pushed for entry points that are
	// called like functions (PE, Mach-O LC_MAIN); reaching it ends the run.
	Sentinel = 0x7ff1_0000_0000
)

// Linux and Darwin syscall numbers of the protocol.
const (
	linuxWrite     = 1
	linuxExit      = 60
	linuxExitGroup = 231
	darwinWrite    = 0x2000004
	darwinExit     = 0x2000001
)

// emulation is the state of one unicorn run that the hooks update.
type emulation struct {
	img            *Image
	stdout, stderr limitedBuffer
	exited         bool
	exitCode       int
	fault          error // the first fault or protocol violation; ends the run
}

// runUnicorn loads an ELF, Mach-O or PE image with linkcheck's own loader
// and emulates it on one of the runner's machines.
func (r *Runner) runUnicorn(ctx context.Context, data []byte, opts Options) (*Result, error) {
	img, err := LoadImage(data)
	if err != nil {
		return nil, err
	}
	lib, err := r.Unicorn()
	if err != nil {
		return nil, err
	}
	m, err := r.machines.take(lib)
	if err != nil {
		return nil, err
	}
	res, err, ok := m.emulate(ctx, img, opts)
	if ok && !r.isClosed() {
		r.machines.put(m)
	} else {
		m.close()
	}
	return res, err
}

// Emulate runs a loaded image under Unicorn with the image's protocol, on
// an engine of its own that it closes after. It maps the image's regions
// with their protections, a StackSize stack below StackTop with an
// unmapped guard, and for call-style entries a sentinel return address.
// It stops at the exit syscall (Linux, Darwin), at the sentinel (PE,
// LC_MAIN), at the first invalid memory access, CPU exception or unknown
// syscall, when the instruction budget or the timeout runs out, or when
// ctx is done. A Runner does the same on engines it keeps between runs.
func Emulate(ctx context.Context, lib *unicorn.Lib, img *Image, opts Options) (*Result, error) {
	m, err := newMachine(lib)
	if err != nil {
		return nil, err
	}
	defer m.close()
	res, err, _ := m.emulate(ctx, img, opts)
	return res, err
}

// start sets up the CPU for img's entry and emulates it; the machine has
// loaded img.
func (m *machine) start(ctx context.Context, em *emulation, opts Options) (*Result, error) {
	e, img := m.e, em.img
	// Initial stack. Process-style entries (ELF, LC_UNIXTHREAD) start with
	// rsp 16-aligned at argc = 0, argv = NULL, envp = NULL, auxv = AT_NULL
	// (all zero: fresh memory). Call-style entries start as if called: rsp
	// ≡ 8 (mod 16) at the return address, with 32 bytes of shadow space
	// above it for Windows x64.
	rsp := uint64(StackTop - 256)
	if img.EntryIsCall {
		rsp -= 8
		binary.LittleEndian.PutUint64(m.stack[rsp-(StackTop-StackSize):], Sentinel)
	}
	for _, rv := range []struct {
		r unicorn.Reg
		v uint64
	}{{unicorn.RSP, rsp}, {unicorn.RIP, img.Entry}, {unicorn.EFLAGS, 0x202}} {
		if err := e.RegWrite(rv.r, rv.v); err != nil {
			return nil, err
		}
	}

	// Stop the emulation when ctx is done or the timeout passes: a Go
	// timer and a context callback (Unicorn's own timeout starts a thread
	// every run; a goroutine of ours waiting for either cost two more
	// thread wake-ups a run). Neither stops the engine once the run is
	// over: they check under mu that it is still on.
	timeout := opts.timeout()
	budget := opts.MaxInsns
	var (
		mu       sync.Mutex
		running  = true
		timedOut bool
	)
	stop := func(timer bool) {
		mu.Lock()
		defer mu.Unlock()
		if running {
			timedOut = timedOut || timer
			_ = e.Stop()
		}
	}
	timer := time.AfterFunc(timeout, func() { stop(true) })
	stopCtx := context.AfterFunc(ctx, func() { stop(false) })
	until := uint64(0)
	if img.EntryIsCall {
		until = Sentinel
	}
	var startErr error
	if ctx.Err() == nil {
		startErr = e.Start(img.Entry, until, 0, budget)
	}
	mu.Lock()
	running = false
	mu.Unlock()
	timer.Stop()
	stopCtx()

	rip, _ := e.RegRead(unicorn.RIP)
	res := &Result{Bits: 64, Stdout: em.stdout.buf, Stderr: em.stderr.buf}
	switch {
	case em.fault != nil:
		return nil, em.fault
	case startErr != nil:
		var ue *unicorn.Error
		if errors.As(startErr, &ue) && ue.Code == unicorn.ErrCodeInsnInvalid {
			return nil, fmt.Errorf("invalid instruction at rip=%#x%s", rip, em.where(rip))
		}
		return nil, fmt.Errorf("emulation stopped at rip=%#x%s: %w", rip, em.where(rip), startErr)
	case em.exited:
		if em.exitCode != 0 {
			return nil, fmt.Errorf("exit status %d (want 0); stdout %d bytes; stderr: %s", em.exitCode, len(res.Stdout), excerpt(res.Stderr))
		}
		if len(res.Stdout) != 8 || em.stdout.dropped != 0 {
			return nil, fmt.Errorf("wrote %d bytes to stdout, want exactly 8 (the little-endian value): %s",
				int64(len(res.Stdout))+em.stdout.dropped, excerpt(res.Stdout))
		}
		res.Value = binary.LittleEndian.Uint64(res.Stdout)
		return res, nil
	case img.EntryIsCall && rip == Sentinel:
		rax, err := e.RegRead(unicorn.RAX)
		if err != nil {
			return nil, err
		}
		if img.Protocol != ProtoReturn {
			return nil, fmt.Errorf("entry point returned (rax=%#x) instead of calling exit", rax)
		}
		res.Value = rax
		return res, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("cancelled at rip=%#x: %w", rip, ctx.Err())
	case timedOut:
		return nil, fmt.Errorf("did not finish within %v (stopped at rip=%#x%s)", timeout, rip, em.where(rip))
	}
	var b [1]byte
	if rip > 0 && e.ReadMem(rip-1, b[:]) == nil && b[0] == 0xf4 {
		return nil, fmt.Errorf("executed hlt at rip=%#x%s without exiting", rip-1, em.where(rip-1))
	}
	if budget == 0 {
		return nil, fmt.Errorf("stopped at rip=%#x%s without exiting", rip, em.where(rip))
	}
	return nil, fmt.Errorf("did not finish in %d instructions (stopped at rip=%#x%s)", budget, rip, em.where(rip))
}

// where names the segment holding addr, e.g. " in __TEXT".
func (em *emulation) where(addr uint64) string {
	for _, s := range em.img.Segments {
		if addr >= s.Addr && addr-s.Addr < s.MemSize {
			return " in " + s.Name
		}
	}
	if addr >= StackTop-StackSize && addr < StackTop {
		return " in the stack"
	}
	return ""
}

func (em *emulation) failf(e *unicorn.Engine, format string, args ...any) {
	if em.fault == nil {
		em.fault = fmt.Errorf(format, args...)
	}
	_ = e.Stop()
}

// syscall services the protocol's syscalls: write to fd 1 or 2, and exit.
func (em *emulation) syscall(e *unicorn.Engine) {
	rax, _ := e.RegRead(unicorn.RAX)
	rdi, _ := e.RegRead(unicorn.RDI)
	rsi, _ := e.RegRead(unicorn.RSI)
	rdx, _ := e.RegRead(unicorn.RDX)
	rip, _ := e.RegRead(unicorn.RIP)
	at := rip - 2 // the syscall instruction is 2 bytes
	var write, exit bool
	switch em.img.Protocol {
	case ProtoLinux:
		write, exit = rax == linuxWrite, rax == linuxExit || rax == linuxExitGroup
	case ProtoDarwin:
		write, exit = rax == darwinWrite, rax == darwinExit
	default:
		em.failf(e, "syscall %#x at rip=%#x%s: a PE image must not make system calls", rax, at, em.where(at))
		return
	}
	switch {
	case exit:
		em.exited, em.exitCode = true, int(rdi&0xff)
		_ = e.Stop()
	case write:
		var out *limitedBuffer
		switch rdi {
		case 1:
			out = &em.stdout
		case 2:
			out = &em.stderr
		default:
			em.failf(e, "write to fd %d at rip=%#x: only fds 1 and 2 are open", rdi, at)
			return
		}
		if rdx > MaxOutput {
			em.failf(e, "write of %d bytes at rip=%#x exceeds the %d-byte output limit", rdx, at, MaxOutput)
			return
		}
		buf := make([]byte, rdx)
		if err := e.ReadMem(rsi, buf); err != nil {
			em.failf(e, "write(%d, %#x, %d) at rip=%#x: bad buffer (EFAULT): %v", rdi, rsi, rdx, at, err)
			return
		}
		_, _ = out.Write(buf)
		_ = e.RegWrite(unicorn.RAX, rdx)
	default:
		em.failf(e, "unsupported syscall %#x at rip=%#x%s (the protocol uses only write and exit)", rax, at, em.where(at))
	}
}

// memInvalid records the first invalid access and stops the run.
func (em *emulation) memInvalid(e *unicorn.Engine, access unicorn.MemAccess, addr uint64, size int, _ int64) bool {
	rip, _ := e.RegRead(unicorn.RIP)
	note := ""
	if addr < StackTop-StackSize && addr >= StackTop-StackSize-StackGuard {
		note = " (stack overflow: the address is in the guard below the stack)"
	} else if addr < PageSize {
		note = " (null pointer)"
	}
	em.failf(e, "segmentation fault: %s at %#x (%d bytes) at rip=%#x%s%s", access, addr, size, rip, em.where(rip), note)
	return false
}

// exceptionName names an x86 exception vector.
func exceptionName(v uint32) string {
	switch v {
	case 0:
		return "#DE divide error"
	case 1:
		return "#DB debug"
	case 3:
		return "#BP breakpoint (int3)"
	case 4:
		return "#OF overflow"
	case 6:
		return "#UD invalid opcode"
	case 8:
		return "#DF double fault"
	case 13:
		return "#GP general protection"
	case 14:
		return "#PF page fault"
	case 17:
		return "#AC alignment check"
	}
	return fmt.Sprintf("interrupt %d", v)
}

// interrupt turns a CPU exception or software interrupt into an error.
func (em *emulation) interrupt(e *unicorn.Engine, intno uint32) {
	rip, _ := e.RegRead(unicorn.RIP)
	em.failf(e, "CPU exception %s near rip=%#x%s", exceptionName(intno), rip, em.where(rip))
}
