package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// WasmObjects compiles m with ref/wasmgen into units Wasm relocatable
// objects, serialized, in unit order, with their file names (u0.o, ...).
func WasmObjects(m *ir.Module, units int, opts wasmgen.Options) (names []string, files [][]byte, err error) {
	if units < 1 {
		return nil, nil, fmt.Errorf("-units %d: need at least 1", units)
	}
	name := func(u int) string { return UnitName(obj.Wasm, u) }
	files, err = wasmgen.BuildFiles(m, ir.Partition(m, units), units, name, opts)
	if err != nil {
		return nil, nil, err
	}
	for u := range files {
		names = append(names, name(u))
	}
	return names, files, nil
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
// engines (exec.WazeroEngines) and compares each value with expected. It
// returns one result per engine that ran, and an error listing every
// engine that trapped or disagreed.
func RunWasmEngines(ctx context.Context, path string, expected uint64) ([]*exec.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var results []*exec.Result
	var errs []string
	for _, e := range exec.WazeroEngines {
		res, err := exec.RunWasm(ctx, data, e, exec.Options{})
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", e, err))
			continue
		}
		results = append(results, res)
		if !res.Matches(expected) {
			errs = append(errs, fmt.Sprintf("%s: wazero %s computed %s, the interpreter says %#x (%d)", path, e, res, expected, expected))
		}
	}
	if len(errs) > 0 {
		return results, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return results, nil
}
