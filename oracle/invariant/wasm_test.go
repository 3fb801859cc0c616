package invariant

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// linkWasmVersions links corpus/updates/mechanisms incrementally into a
// Wasm module at path (created, then reopened for each update, as
// `linkcheck update` does), faults planted in the updates and the
// compiles, and calls check after each version.
func linkWasmVersions(t *testing.T, path string, faults fault.Set, check func(i int, m *ir.Module, p *obj.Program, data []byte)) {
	t.Helper()
	tg := target.MustLookup(obj.Wasm)
	for i, m := range loadVersions(t) {
		p, err := tg.Compile(m, target.CompileOptions{Faults: faults})
		require.NoError(t, err)
		var o *incr.Output
		if i == 0 {
			o, err = incr.Create(path, wasm.IncrImage{}, p, "", incr.Options{})
		} else if o, err = incr.Open(path, wasm.IncrImage{}, incr.Options{Faults: faults}); err == nil {
			_, err = o.Update(p, "")
		}
		require.NoError(t, err, "v%d", i+1)
		require.NoError(t, o.Close())
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		check(i, m, p, data)
	}
}

// TestWasmCleanSequenceHoldsEveryInvariant: every version of
// corpus/updates/mechanisms, linked incrementally as a Wasm module, holds
// invariants 3 to 7 and passes wasm-validate and wasm-objdump (8).
func TestWasmCleanSequenceHoldsEveryInvariant(t *testing.T) {
	tools.Require(t, "wasm-validate")
	tools.Require(t, "wasm-objdump")
	path := filepath.Join(t.TempDir(), "out.wasm")
	linkWasmVersions(t, path, 0, func(i int, m *ir.Module, p *obj.Program, data []byte) {
		require.NoError(t, CheckProgram(data, p, m, Options{Format: obj.Wasm}), "v%d", i+1)
		require.NoError(t, CheckLLVM(path), "v%d", i+1)
	})
}

// wasmOutput is the incremental module of the last recorded version, its
// program and module, which pass CheckProgram.
func wasmOutput(t *testing.T) ([]byte, *obj.Program, *ir.Module) {
	t.Helper()
	vs := loadVersions(t)
	m := vs[len(vs)-1]
	p, err := target.MustLookup(obj.Wasm).Compile(m, target.CompileOptions{})
	require.NoError(t, err)
	o, err := incr.NewMemOutput(wasm.IncrImage{}, p, "", incr.Options{})
	require.NoError(t, err)
	good := o.Bytes()
	require.NoError(t, CheckProgram(good, p, m, Options{Format: obj.Wasm}))
	return good, p, m
}

// TestWasmMalformedNoPanic feeds truncated and corrupted copies of an
// incremental module to CheckProgram: an error or violations, never a
// panic.
func TestWasmMalformedNoPanic(t *testing.T) {
	good, p, m := wasmOutput(t)
	try := func(data []byte) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic on %d bytes: %v", len(data), r)
			}
		}()
		_ = CheckProgram(data, p, m, Options{Format: obj.Wasm})
	}
	for n := 0; n < len(good); n += 1 + len(good)/512 {
		try(good[:n])
	}
	r := rand.New(rand.NewSource(16))
	for i := 0; i < 2000; i++ {
		bad := append([]byte(nil), good...)
		bad[r.Intn(len(bad))] ^= byte(1 + r.Intn(255))
		try(bad)
	}
}

// TestWasmPaddingChecked: a byte other than unreachable (0x00) in the
// padding after a function's code, or in a free body, is reported
// (invariants 5 and 4); the checks are byte-exact.
func TestWasmPaddingChecked(t *testing.T) {
	good, p, m := wasmOutput(t)
	mod, err := readWasmModule(good)
	require.NoError(t, err)
	held := map[uint32]bool{}
	padded := 0
	for _, a := range p.Atoms {
		idx, ok := mod.byName[a.Name]
		if !ok || a.Kind != obj.Text {
			continue
		}
		held[idx] = true
		b := mod.bodies[idx]
		if want := len(a.Data) - 6; b.end-b.off >= want+2 {
			// the last padding byte before the body's final one
			bad := append([]byte(nil), good...)
			bad[b.end-2] = 0x01
			err := CheckProgram(bad, p, m, Options{Format: obj.Wasm})
			require.ErrorContains(t, err, "padding holds something other than unreachable", a.Name)
			padded++
		}
	}
	require.Positive(t, padded)
	for i, b := range mod.bodies {
		if held[uint32(i)] || b.end-b.off < 2 {
			continue
		}
		bad := append([]byte(nil), good...)
		bad[b.off] = 0x01
		require.ErrorContains(t, CheckProgram(bad, p, m, Options{Format: obj.Wasm}), "is not free (unreachable)", "body %d", i)
	}
}
