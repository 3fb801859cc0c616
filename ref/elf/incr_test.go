package elf

import (
	"encoding/binary"
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

// versions is a sequence of program versions that exercises each mechanism.
var versions = []struct {
	name string
	src  string
}{
	{"v1", `errors A
func f(x) { return x + 1 }
func g(x) { return f(x) * 2 }
const fp = &f
func main() { return g(1) + call (load fp)(10) + errlen(error.A) }`},
	{"grow f past its slot (moves: trampoline or GOT rewrite)", `errors A
func f(x) {
  pad 200
  return x + 2
}
func g(x) { return f(x) * 2 }
const fp = &f
func main() { return g(1) + call (load fp)(10) + errlen(error.A) }`},
	{"grow f again (trampoline retargeted, not chained)", `errors A
func f(x) {
  pad 900
  return x + 3
}
func g(x) { return f(x) * 2 }
const fp = &f
func main() { return g(1) + call (load fp)(10) + errlen(error.A) }`},
	{"shrink f in place", `errors A
func f(x) {
  pad 100
  return x + 4
}
func g(x) { return f(x) * 2 }
const fp = &f
func main() { return g(1) + call (load fp)(10) + errlen(error.A) }`},
	{"add a function, add errors until the table moves", `errors A, BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB, CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC, DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD
func h(x) { return x * 7 }
func f(x) {
  pad 100
  return h(x) + 4
}
func g(x) { return f(x) * 2 }
const fp = &f
func main() { return g(1) + call (load fp)(10) + errlen(error.A) + errlen(error.DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD) + errbyte(4, 3) }`},
	{"delete g, retarget the pointer, over-align f", `errors A, BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB, CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC, DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD
func h(x) { return x * 7 }
func f(x) align 4096 {
  pad 100
  return h(x) + 4
}
const fp = &h
func main() { return f(1) + call (load fp)(10) + errlen(error.A) + errbyte(4, 3) }`},
	{"a new function reuses the freed slot; a region grows", `errors A, Renamed
func h(x) { return x * 7 }
func k(x) { return x + 1000 }
func big() {
  pad 4096
  pad 4096
  pad 4096
  pad 4096
  return 5
}
func f(x) align 4096 {
  pad 100
  return h(x) + k(4)
}
global fp = &k
func main() { return f(1) + call (load fp)(10) + errlen(error.Renamed) + big() }`},
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

func compile(t *testing.T, src string, policy incr.Policy) (*ir.Module, *codegen.Program) {
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
			var o *IncrOutput
			for i, v := range versions {
				m, p := compile(t, v.src, policy)
				want, err := ir.Interp(m, ir.InterpOptions{})
				require.NoError(t, err)
				if i == 0 {
					o, err = CreateIncr(path, p, policy, v.src)
					require.NoError(t, err)
				} else {
					o, err = OpenIncr(path, policy)
					require.NoError(t, err, v.name)
					pt, err := o.Update(p, v.src)
					require.NoError(t, err, v.name)
					t.Logf("%s: %s (grown %v)", v.name, pt.Stats, pt.Grown)
				}
				require.NoError(t, o.Close())
				require.Equal(t, want, runIncrOut(t, path), "%s: interpreter says %d", v.name, want)
			}
			st, err := LoadState(path)
			require.NoError(t, err)
			if policy == incr.Trampoline {
				require.NotZero(t, st.Atoms["f"].First, "f moved and has a trampoline")
			}
		})
	}
}

func TestIncrementalStaleSidecar(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	_, p := compile(t, versions[0].src, incr.Trampoline)
	o, err := CreateIncr(path, p, incr.Trampoline, versions[0].src)
	require.NoError(t, err)
	require.NoError(t, o.Close())

	// Another policy is stale.
	_, err = OpenIncr(path, incr.ThroughGOT)
	require.ErrorIs(t, err, ErrStale)
	// A changed output is stale.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[0x1000] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o755))
	_, err = OpenIncr(path, incr.Trampoline)
	require.ErrorIs(t, err, ErrStale)
	require.ErrorContains(t, err, "the output changed")
	// A corrupt or missing sidecar is stale.
	require.NoError(t, os.WriteFile(path+SidecarSuffix, []byte("{not json"), 0o644))
	_, err = OpenIncr(path, incr.Trampoline)
	require.ErrorIs(t, err, ErrStale)
	require.NoError(t, os.Remove(path+SidecarSuffix))
	_, err = OpenIncr(path, incr.Trampoline)
	require.ErrorIs(t, err, ErrStale)
}
