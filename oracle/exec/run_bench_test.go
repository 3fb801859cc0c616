package exec_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// BenchmarkUnicornRun is one emulated run of a small program, as the
// Mach-O and PE fuzz targets and bench check make for their outputs (the
// engine is opened, loaded, run and closed every time).
func BenchmarkUnicornRun(b *testing.B) {
	for _, f := range []string{"macho", "elf"} {
		b.Run(f, func(b *testing.B) { benchRun(b, build(b, f, f+"_value"), exec.Unicorn) })
	}
}

// BenchmarkWasmRun is one run of the reference link of a generated
// 40-function program (the checked update loop's size) under each of
// wazero's engines: the compiler's cost is mostly compiling the module.
func BenchmarkWasmRun(b *testing.B) {
	m := ir.Generate(ir.GenConfig{Seed: 3, Funcs: 40})
	want, err := ir.Interp(m, ir.InterpOptions{})
	require.NoError(b, err)
	paths, err := pipeline.BuildDir(m, obj.Wasm, 1, b.TempDir())
	require.NoError(b, err)
	data, err := target.MustLookup(obj.Wasm).LinkFiles(paths, link.Options{})
	require.NoError(b, err)
	for _, e := range exec.WazeroEngines {
		b.Run(string(e), func(b *testing.B) {
			for b.Loop() {
				res, err := exec.RunWasm(context.Background(), data, e, exec.Options{})
				require.NoError(b, err)
				require.True(b, res.Matches(want))
			}
		})
	}
}

// BenchmarkUnicornGenerated is one emulated run of the reference link of a
// generated 40-function program (the checked update loop's size) for each
// format unicorn runs.
func BenchmarkUnicornGenerated(b *testing.B) {
	m := ir.Generate(ir.GenConfig{Seed: 3, Funcs: 40})
	want, err := ir.Interp(m, ir.InterpOptions{})
	require.NoError(b, err)
	for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF} {
		b.Run(string(f), func(b *testing.B) {
			paths, err := pipeline.BuildDir(m, f, 1, b.TempDir())
			require.NoError(b, err)
			data, _, err := target.MustLookup(f).Link(paths, link.Options{})
			require.NoError(b, err)
			r := exec.NewRunner()
			for b.Loop() {
				res, err := r.RunBytes(context.Background(), "prog", data, exec.Options{Mode: exec.Unicorn})
				require.NoError(b, err)
				require.True(b, res.Matches(want))
			}
		})
	}
}

// BenchmarkNativeGenerated is one native run of the reference link of a
// generated 40-function program from memory (Runner.RunBytes, as the
// checked update loop runs its ELF outputs), with the bytes changed in
// every run as an update changes them.
func BenchmarkNativeGenerated(b *testing.B) {
	m := ir.Generate(ir.GenConfig{Seed: 3, Funcs: 40})
	want, err := ir.Interp(m, ir.InterpOptions{})
	require.NoError(b, err)
	paths, err := pipeline.BuildDir(m, obj.ELF, 1, b.TempDir())
	require.NoError(b, err)
	data, _, err := target.MustLookup(obj.ELF).Link(paths, link.Options{})
	require.NoError(b, err)
	b.Logf("%d bytes", len(data))
	r := exec.NewRunner()
	defer r.Close()
	i := 0
	for b.Loop() {
		// A byte past the end of the last section: the bytes differ,
		// the program does not.
		data = append(data[:len(data):len(data)], byte(i))
		i++
		res, err := r.RunBytes(context.Background(), "prog", data, exec.Options{Mode: exec.Native})
		require.NoError(b, err)
		require.True(b, res.Matches(want))
		data = data[:len(data)-1]
	}
}
