package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// WasmMaxPages bounds a module's linear memory (64 KiB pages): 256 MiB.
const WasmMaxPages = 4096

// runWazero instantiates a Wasm module without running start functions,
// calls its export _start () -> i64 and returns the result. The module must
// import nothing.
func runWazero(ctx context.Context, data []byte, opts Options) (*Result, error) {
	timeout := opts.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(WasmMaxPages))
	defer rt.Close(context.Background())

	compiled, err := rt.CompileModule(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("wazero: compile: %w", err)
	}
	if imps := compiled.ImportedFunctions(); len(imps) > 0 {
		mod, name, _ := imps[0].Import()
		return nil, fmt.Errorf("wazero: the module imports %s.%s (%d function imports); programs must import nothing", mod, name, len(imps))
	}
	fn, ok := compiled.ExportedFunctions()["_start"]
	if !ok {
		return nil, errors.New("wazero: no exported function _start")
	}
	if len(fn.ParamTypes()) != 0 || len(fn.ResultTypes()) != 1 || fn.ResultTypes()[0] != api.ValueTypeI64 {
		return nil, fmt.Errorf("wazero: _start has type %v -> %v, want () -> i64", fn.ParamTypes(), fn.ResultTypes())
	}
	// WithStartFunctions() with no names: do not call _start on
	// instantiation (wazero's default), we call it ourselves.
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("wazero: instantiate: %w", err)
	}
	out, err := mod.ExportedFunction("_start").Call(ctx)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("wazero: did not finish within %v", timeout)
		}
		return nil, fmt.Errorf("wazero: _start trapped: %w", err)
	}
	return &Result{Value: out[0], Bits: 64}, nil
}
