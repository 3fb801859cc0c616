package elf

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// mechanismVersions loads corpus/updates/mechanisms: a sequence of program
// versions that exercises each mechanism of the incremental linker.
func mechanismVersions(t *testing.T) []struct{ name, src string } {
	t.Helper()
	var out []struct{ name, src string }
	for i := 1; ; i++ {
		b, err := os.ReadFile(filepath.Join("../../corpus/updates/mechanisms", fmt.Sprintf("v%d.lir", i)))
		if os.IsNotExist(err) {
			break
		}
		require.NoError(t, err)
		first, _, _ := strings.Cut(string(b), "\n")
		out = append(out, struct{ name, src string }{strings.TrimPrefix(first, "# "), string(b)})
	}
	require.NotEmpty(t, out)
	return out
}

func runIncrOut(t *testing.T, path string) uint64 {
	t.Helper()
	cmd := exec.Command(path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.Len(t, out, 8)
	return binary.LittleEndian.Uint64(out)
}

func compile(t *testing.T, src string, policy incr.Policy) (*ir.Module, *obj.Program) {
	t.Helper()
	m, err := ir.Parse("v.lir", []byte(src))
	require.NoError(t, err)
	p, err := codegen.CompileWith(m, obj.ELF, codegen.Options{CallsViaGOT: policy == incr.ThroughGOT})
	require.NoError(t, err)
	return m, p
}

func TestIncrementalSequence(t *testing.T) {
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			var o *incr.Output
			for i, v := range mechanismVersions(t) {
				m, p := compile(t, v.src, policy)
				want, err := ir.Interp(m, ir.InterpOptions{})
				require.NoError(t, err)
				if i == 0 {
					o, err = incr.Create(path, IncrImage{}, p, v.src, incr.Options{Policy: policy})
					require.NoError(t, err)
				} else {
					o, err = incr.Open(path, IncrImage{}, incr.Options{Policy: policy})
					require.NoError(t, err, v.name)
					pt, err := o.Update(p, v.src)
					require.NoError(t, err, v.name)
					t.Logf("%s: %s (grown %v)", v.name, pt.Stats, pt.Grown)
				}
				require.NoError(t, o.Close())
				require.Equal(t, want, runIncrOut(t, path), "%s: interpreter says %d", v.name, want)
			}
			st, err := incr.LoadState(path, IncrImage{})
			require.NoError(t, err)
			if policy == incr.Trampoline {
				require.NotZero(t, st.Atoms["f"].First, "f moved and has a trampoline")
			}
		})
	}
}

func TestIncrementalStaleSidecar(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	v1 := mechanismVersions(t)[0].src
	_, p := compile(t, v1, incr.Trampoline)
	o, err := incr.Create(path, IncrImage{}, p, v1, incr.Options{Policy: incr.Trampoline})
	require.NoError(t, err)
	require.NoError(t, o.Close())

	// Another policy is stale.
	_, err = incr.Open(path, IncrImage{}, incr.Options{Policy: incr.ThroughGOT})
	require.ErrorIs(t, err, incr.ErrStale)
	// A changed output is stale.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[0x1000] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o755))
	_, err = incr.Open(path, IncrImage{}, incr.Options{Policy: incr.Trampoline})
	require.ErrorIs(t, err, incr.ErrStale)
	require.ErrorContains(t, err, "the output changed")
	// A corrupt or missing sidecar is stale.
	require.NoError(t, os.WriteFile(path+incr.SidecarSuffix, []byte("{not json"), 0o644))
	_, err = incr.Open(path, IncrImage{}, incr.Options{Policy: incr.Trampoline})
	require.ErrorIs(t, err, incr.ErrStale)
	require.NoError(t, os.Remove(path+incr.SidecarSuffix))
	_, err = incr.Open(path, IncrImage{}, incr.Options{Policy: incr.Trampoline})
	require.ErrorIs(t, err, incr.ErrStale)
}
