package target

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/ir"
)

// TestReadBack: every format that compiles and reads objects gives back
// units objects, named by UnitName, with the program's functions defined
// across them.
func TestReadBack(t *testing.T) {
	for _, tg := range All() {
		t.Run(string(tg.Format), func(t *testing.T) {
			if tg.Need(CanCompile) != nil || tg.Need(CanRead) != nil {
				t.Skipf("%s has no code generator or object reader", tg.Format)
			}
			m := ir.Generate(ir.GenConfig{Seed: 3, Funcs: 12})
			objs, err := tg.ReadBack(m, 3, CompileOptions{})
			require.NoError(t, err)
			require.Len(t, objs, 3)
			defined := map[string]bool{}
			for u, o := range objs {
				require.Equal(t, tg.UnitName(u), o.Name)
				for _, s := range o.Symbols {
					if s.Section >= 0 {
						defined[s.Name] = true
					}
				}
			}
			for _, f := range m.Funcs {
				require.True(t, defined[f.Name], "%s is defined in no object", f.Name)
			}
		})
	}
}
