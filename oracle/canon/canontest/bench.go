package canontest

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// Generated is a generated program (ir.Generate, seed 1) compiled into
// ELF objects and linked by the reference linker in unit order and in
// reverse unit order: two layouts of the same objects, the input of the
// canon and diff benchmarks.
type Generated struct {
	Objs     []*obj.Object
	Exe, Rev []byte
}

// LinkGenerated builds a Generated of funcs functions in units objects.
func LinkGenerated(funcs, units int) (*Generated, error) {
	objs, err := target.MustLookup(obj.ELF).ReadBack(ir.Generate(ir.GenConfig{Seed: 1, Funcs: funcs}), units, target.CompileOptions{})
	if err != nil {
		return nil, err
	}
	g := &Generated{Objs: objs}
	if g.Exe, _, err = link.Link(objs, elf.Exe{}, link.Options{}); err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	rev := slices.Clone(objs)
	slices.Reverse(rev)
	if g.Rev, _, err = link.Link(rev, elf.Exe{}, link.Options{}); err != nil {
		return nil, fmt.Errorf("link reversed: %w", err)
	}
	return g, nil
}

// Rotations links the objects in every rotation of unit order but the
// identity (units 1.., 0; 2.., 0, 1; ...): more layouts of the same objects.
func (g *Generated) Rotations() ([][]byte, error) {
	var out [][]byte
	for k := 1; k < len(g.Objs); k++ {
		rot := append(slices.Clone(g.Objs[k:]), g.Objs[:k]...)
		exe, _, err := link.Link(rot, elf.Exe{}, link.Options{})
		if err != nil {
			return nil, fmt.Errorf("link rotated: %w", err)
		}
		out = append(out, exe)
	}
	return out, nil
}

// AllocMeter measures the bytes a benchmark loop allocates.
type AllocMeter struct{ start uint64 }

// StartAllocs starts measuring.
func StartAllocs() AllocMeter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return AllocMeter{ms.TotalAlloc}
}

// Report reports instructions per second and bytes allocated per
// instruction since StartAllocs, for insns instructions per iteration.
func (m AllocMeter) Report(b *testing.B, insns int) {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := float64(b.N) * float64(insns)
	b.ReportMetric(n/b.Elapsed().Seconds(), "insns/s")
	b.ReportMetric(float64(ms.TotalAlloc-m.start)/n, "B/insn")
}
