package exec

import (
	"context"
	"errors"
	"fmt"
	_ "unsafe" // for go:linkname

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// WazeroEngine selects one of wazero's two execution engines.
type WazeroEngine string

// wazero's engines.
const (
	// WazeroCompiler compiles to machine code (wazero's default on amd64
	// and arm64; the Wazero mode).
	WazeroCompiler WazeroEngine = "compiler"
	// WazeroInterpreter interprets.
	WazeroInterpreter WazeroEngine = "interpreter"
)

// WazeroEngines lists both engines; `-exec all` runs a Wasm program under
// each and requires the same value.
var WazeroEngines = []WazeroEngine{WazeroCompiler, WazeroInterpreter}

// WazeroCallDepth is the call depth both engines must allow: programs may
// recurse 10,000 frames deep (docs/ir.md), plus _start and some slack.
const WazeroCallDepth = 20_000

// interpreterCallStackCeiling is wazero's interpreter's limit on the
// number of Wasm call frames, 2,000 by default: too few for the 10,000
// frames programs may use. It is an unexported variable ("those wishing to
// change this can via go build -ldflags", but -X sets only strings), so it
// is raised here, once, for the whole process. The interpreter keeps one
// Go frame per Wasm call, and Go stacks grow to 1 GB, so 20,000 frames are
// safe. The compiler's own limit is 50 M stack slots and needs nothing.
//
//go:linkname interpreterCallStackCeiling github.com/tetratelabs/wazero/internal/engine/interpreter.callStackCeiling
var interpreterCallStackCeiling int

func init() {
	if interpreterCallStackCeiling < WazeroCallDepth {
		interpreterCallStackCeiling = WazeroCallDepth
	}
}

// RunWasm runs a Wasm module under the given wazero engine (the modes
// Wazero and WazeroInterp) with linkcheck's protocol: the module imports no
// function, start functions are not run, the export _start () -> i64 is
// called and returns the value, memory is limited to WasmMaxPages, and the
// timeout closes the module.
func RunWasm(ctx context.Context, data []byte, engine WazeroEngine, opts Options) (*Result, error) {
	var cfg wazero.RuntimeConfig
	switch engine {
	case WazeroCompiler:
		cfg = wazero.NewRuntimeConfigCompiler()
	case WazeroInterpreter:
		cfg = wazero.NewRuntimeConfigInterpreter()
	default:
		return nil, fmt.Errorf("wazero: unknown engine %q (want compiler or interpreter)", engine)
	}
	timeout := opts.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = experimental.WithMemoryAllocator(ctx, pooledMemory)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg.WithCloseOnContextDone(true).WithMemoryLimitPages(WasmMaxPages))
	defer rt.Close(context.Background())
	compiled, err := rt.CompileModule(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("wazero %s: compile: %w", engine, err)
	}
	if imps := compiled.ImportedFunctions(); len(imps) > 0 {
		mod, name, _ := imps[0].Import()
		return nil, fmt.Errorf("wazero %s: the module imports %s.%s (%d function imports); programs must import nothing", engine, mod, name, len(imps))
	}
	fn, ok := compiled.ExportedFunctions()["_start"]
	if !ok {
		return nil, fmt.Errorf("wazero %s: no exported function _start", engine)
	}
	if len(fn.ParamTypes()) != 0 || len(fn.ResultTypes()) != 1 || fn.ResultTypes()[0] != api.ValueTypeI64 {
		return nil, fmt.Errorf("wazero %s: _start has type %v -> %v, want () -> i64", engine, fn.ParamTypes(), fn.ResultTypes())
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("wazero %s: instantiate: %w", engine, err)
	}
	out, err := mod.ExportedFunction("_start").Call(ctx)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("wazero %s: did not finish within %v", engine, timeout)
		}
		return nil, fmt.Errorf("wazero %s: _start trapped: %w", engine, err)
	}
	mode := Wazero
	if engine == WazeroInterpreter {
		mode = WazeroInterp
	}
	return &Result{Value: out[0], Bits: 64, Oracle: mode}, nil
}

// Linear memories come from a pool of buffers reserved at their maximum size
// in host memory (hostAlloc: pages made on first touch) and made zero again
// when the module is closed by handing the touched pages back to the kernel
// (hostZero), so that neither growing nor clearing costs more than the
// pages a program used. Programs grow their memory by several MiB for their
// stack (ref/wasmgen.StackSize): wazero's default allocator makes a fresh
// Go slice on every grow (about 10 ms per run for an 8 MiB stack on this
// machine), and clearing a pooled Go buffer up to its longest length cost
// about 2 ms per run. Where host memory cannot be had, buffers are Go
// slices, dropped on Free. The pool is the package's: wazero asks for
// memory through a process-wide allocator function.
var memoryPool = &pool[*linearMemory]{}

// maxPooledMemories bounds the free linear memories kept.
const maxPooledMemories = 4

// pooledMemory is the experimental.MemoryAllocator of RunWasm.
var pooledMemory = experimental.MemoryAllocatorFunc(func(capacity, maxSize uint64) experimental.LinearMemory {
	if m, ok := memoryPool.take(func(m *linearMemory) bool { return uint64(len(m.host)) >= maxSize }); ok {
		m.max = maxSize
		return m
	}
	m := &linearMemory{max: maxSize}
	if maxSize > 0 {
		if host, err := hostAlloc(maxSize); err == nil {
			m.host = host
		}
	}
	return m
})

// linearMemory backs one Wasm linear memory: a slice of host memory
// reserved at the maximum size, or a Go slice where there is none.
type linearMemory struct {
	host []byte // reserved host memory; nil: Go slices
	buf  []byte
	max  uint64
	high int // the longest length handed out, all of which may be dirty
}

// Reallocate implements experimental.LinearMemory. The bytes past the old
// length are zero: host memory is zero until touched and zeroed on Free,
// Go slices come zeroed from make.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if m.host != nil {
		m.high = max(m.high, int(size))
		return m.host[:size:m.max]
	}
	if size > uint64(cap(m.buf)) {
		c := max(2*uint64(cap(m.buf)), size, 16<<20)
		c = min(c, m.max)
		nb := make([]byte, size, c)
		copy(nb, m.buf[:m.high])
		m.buf = nb
	}
	m.high = max(m.high, int(size))
	return m.buf[:size]
}

// Free implements experimental.LinearMemory: a host buffer is zeroed and
// goes back to the pool; a Go slice is dropped.
func (m *linearMemory) Free() {
	if m.host == nil {
		m.buf = nil
		return
	}
	if m.high > 0 {
		hostZero(m.host[:m.high])
	}
	m.high = 0
	if !memoryPool.put(m, maxPooledMemories) {
		hostFree(m.host)
	}
}
