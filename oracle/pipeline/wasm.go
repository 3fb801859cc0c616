package pipeline

import (
	"context"
	"fmt"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// WasmObjects compiles m with ref/wasmgen into units Wasm relocatable
// objects, serialized, in unit order, with their file names (u0.o, ...).
func WasmObjects(m *ir.Module, units int, opts wasmgen.Options) (names []string, files [][]byte, err error) {
	if units < 1 {
		return nil, nil, fmt.Errorf("-units %d: need at least 1", units)
	}
	return ObjectsWith(m, obj.Wasm, units, target.CompileOptions{Faults: opts.Faults})
}

// BuildWasmDir compiles m into Wasm objects written in dir and returns
// their paths.
func BuildWasmDir(m *ir.Module, units int, dir string, opts wasmgen.Options) ([]string, error) {
	names, files, err := WasmObjects(m, units, opts)
	if err != nil {
		return nil, err
	}
	return WriteFiles(dir, names, files)
}

// RunWasmEngines runs the Wasm executable at path under both wazero
// engines (the exec modes of Wasm) and compares each value with expected:
// RunAll for Wasm, which runs in process and needs no runner of its own.
func RunWasmEngines(ctx context.Context, path string, expected uint64) ([]*exec.Result, error) {
	r := exec.NewRunner()
	defer r.Close()
	return RunAll(ctx, r, obj.Wasm, path, expected)
}
