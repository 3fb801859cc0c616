package exec_test

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// buildState assembles testdata/elf_state.s with CODE and PAD set and links
// it with ld.lld.
func buildState(t *testing.T, code, pad int) []byte {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "ld.lld")
	dir := t.TempDir()
	o := filepath.Join(dir, "state.o")
	out, err := osexec.Command(mc.Path, "-triple", triples["elf"], "-filetype=obj",
		fmt.Sprintf("--defsym=CODE=%d", code), fmt.Sprintf("--defsym=PAD=%d", pad),
		filepath.Join("testdata", "elf_state.s"), "-o", o).CombinedOutput()
	require.NoError(t, err, "llvm-mc: %s", out)
	exe := filepath.Join(dir, "state.exe")
	_, err = lld.Link(context.Background(), obj.ELF, []string{o}, exe, lld.Options{})
	require.NoError(t, err)
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	return data
}

// TestUnicornReuse runs images one after the other on one runner, whose
// unicorn engines are kept between runs, and checks that every run sees
// what a fresh process sees: the same registers, flags, data and stack as
// the first run, and the code of its own image, not the translation of the
// previous image's bytes at the same address. An image with more code
// moves _start and the data (another layout). Each image also runs on a
// fresh engine (exec.Emulate) for comparison.
func TestUnicornReuse(t *testing.T) {
	requireOracle(t, exec.Unicorn)
	images := []struct {
		code, pad int
	}{{7, 0}, {7, 0}, {9, 0}, {7, 0}, {9, 20000}, {11, 20000}, {7, 0}}
	built := map[[2]int][]byte{}
	r := exec.NewRunner()
	defer r.Close()
	lib, err := r.Unicorn()
	require.NoError(t, err)
	for i, im := range images {
		key := [2]int{im.code, im.pad}
		if built[key] == nil {
			built[key] = buildState(t, im.code, im.pad)
		}
		want := uint64(im.code) << 32
		res, err := r.RunBytes(context.Background(), "state", built[key], exec.Options{Mode: exec.Unicorn})
		require.NoError(t, err, "run %d", i)
		require.Equal(t, want, res.Value, "run %d (CODE=%d PAD=%d) on a kept engine", i, im.code, im.pad)

		img, err := exec.LoadImage(built[key])
		require.NoError(t, err)
		fresh, err := exec.Emulate(context.Background(), lib, img, exec.Options{})
		require.NoError(t, err)
		require.Equal(t, want, fresh.Value, "run %d on a fresh engine", i)
	}
}

// TestWasmMemoryReuse runs a Wasm program that reads and then writes a
// .bss word and a page it grows, several times under each wazero engine:
// the pooled linear memories must be zero again, so every run reads 0.
func TestWasmMemoryReuse(t *testing.T) {
	exe := build(t, "wasm", "wasm_state")
	for _, m := range []exec.Mode{exec.Wazero, exec.WazeroInterp} {
		for i := range 4 {
			res, err := runner.Run(context.Background(), exe, exec.Options{Mode: m})
			require.NoError(t, err)
			require.Equal(t, uint64(0), res.Value, "%s run %d", m, i)
		}
	}
}
