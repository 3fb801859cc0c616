package pipeline

import "github.com/linkcheck/linkcheck/ref/ir"

// oneUnit is ir.Partition(m, 1), the units of the fresh link's single
// object, without walking m's references: with one unit every function
// and global is in unit 0, whatever joins them (TestOneUnitIsPartition).
func oneUnit(m *ir.Module) map[string]int {
	out := make(map[string]int, len(m.Funcs)+len(m.Globals))
	for _, f := range m.Funcs {
		out[f.Name] = 0
	}
	for _, g := range m.Globals {
		out[g.Name] = 0
	}
	return out
}
