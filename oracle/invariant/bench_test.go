package invariant

import (
	"math/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// benchVersion is one version of benchVersions' sequence: the module,
// its compiled program and the incremental output after its update.
type benchVersion struct {
	m    *ir.Module
	p    *obj.Program
	data []byte
}

// benchVersions links a 40-function program incrementally for format f
// and updates it with 20 random edits, as the checked update loop does.
func benchVersions(b *testing.B, f obj.Format) (*target.Target, []benchVersion) {
	t, err := target.Lookup(f)
	require.NoError(b, err)
	compile := t.NewCompiler(target.CompileOptions{})
	m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: 40})
	p, err := compile(m)
	require.NoError(b, err)
	o, err := incr.NewMemOutput(t.Image, p, "", incr.Options{})
	require.NoError(b, err)
	var vs []benchVersion
	r := rand.New(rand.NewSource(1))
	for range 20 {
		m, _ = ir.RandomEditShared(m, r)
		p, err := compile(m)
		require.NoError(b, err)
		_, err = o.Update(p, "")
		require.NoError(b, err)
		vs = append(vs, benchVersion{m, p, append([]byte(nil), o.Bytes()...)})
	}
	return t, vs
}

// BenchmarkCheckProgram checks invariants 3 to 7 of the incremental
// outputs of 20 random edits of a 40-function program, as the checked
// update loop does after every update: ns/op is one check.
func BenchmarkCheckProgram(b *testing.B) {
	for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF, obj.Wasm} {
		b.Run(string(f), func(b *testing.B) {
			_, vs := benchVersions(b, f)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				v := vs[i%len(vs)]
				i++
				if err := CheckProgram(v.data, v.p, v.m, Options{Format: f}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckLLVM runs invariant 8 over the incremental output of a
// 40-function program after 20 random edits, as the checked update loop
// does on its sampled sequences: each tool started as a process
// (CheckLLVM) and through a pool of fork servers (CheckLLVMWith).
// cpu-ms/check is the CPU of this process and its children, the servers
// included (they are reaped, and counted, when the pool closes).
func BenchmarkCheckLLVM(b *testing.B) {
	for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF, obj.Wasm} {
		t, vs := benchVersions(b, f)
		path := filepath.Join(b.TempDir(), "out."+t.ExeName)
		require.NoError(b, os.WriteFile(path, vs[len(vs)-1].data, 0o755))
		for _, served := range []bool{false, true} {
			name := string(f) + "/process"
			if served {
				name = string(f) + "/served"
			}
			b.Run(name, func(b *testing.B) {
				for _, tl := range llvmRuns(path) {
					tools.Require(b, tl.tool)
				}
				var pool *toolsrv.Pool
				if served {
					pool = toolsrv.NewPool()
					require.NoError(b, CheckLLVMWith(pool, path)) // servers started
				}
				cpu0 := processCPU()
				for b.Loop() {
					require.NoError(b, CheckLLVMWith(pool, path))
				}
				require.NoError(b, pool.Close())
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/check")
			})
		}
	}
}

// processCPU is the CPU time of this process and its reaped children.
func processCPU() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + kids.Utime.Nano() + kids.Stime.Nano())
}
