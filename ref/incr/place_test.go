package incr

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

func compileFor(t *testing.T, src string) *obj.Program {
	t.Helper()
	m, err := ir.Parse("p.lir", []byte(src))
	require.NoError(t, err)
	p, err := codegen.Compile(m, obj.ELF)
	require.NoError(t, err)
	return p
}

// TestBindingChangeReordersSymbols: a function that becomes local while it
// moves changes the symbol table's order (locals first), so the whole set
// must be rewritten, not one entry patched.
func TestBindingChangeReordersSymbols(t *testing.T) {
	st := NewState(obj.ELF, arch.X86_64{}, 0x1000000, Trampoline)
	_, err := st.Update(compileFor(t, "func f(x) { return x }\nfunc main() { return f(1) }\n"))
	require.NoError(t, err)
	pt, err := st.Update(compileFor(t, "local func f(x) {\n  pad 300\n  return x\n}\nfunc main() { return f(1) }\n"))
	require.NoError(t, err)
	require.Equal(t, 1, pt.Stats.Moved)
	require.True(t, pt.SymbolSet, "binding changed: the symbol table must be rewritten")
	require.True(t, st.Atoms["f"].Local)
}

// TestKindChangeKeepsGOTSlot: a global referenced through the GOT that
// changes kind (zero-initialized .bss to .data) is deleted and added again
// within one update; the atoms that load it through the GOT are unchanged,
// so its slot must be acquired again (found by the mechanism-coverage test:
// "symbol g has no GOT slot").
func TestKindChangeKeepsGOTSlot(t *testing.T) {
	st := NewState(obj.ELF, arch.X86_64{}, 0x1000000, Trampoline)
	_, err := st.Update(compileFor(t, "global g = 0\nfunc main() { return load g }\n"))
	require.NoError(t, err)
	pt, err := st.Update(compileFor(t, "global g = 5\nfunc main() { return load g }\n"))
	require.NoError(t, err)
	i, ok := st.GOT.Lookup("g")
	require.True(t, ok, "g lost its GOT slot")
	require.Equal(t, obj.Data, st.Atoms["g"].Kind)
	require.Positive(t, pt.Stats.GOTWrites)
	found := false
	for _, w := range pt.Writes {
		if w.Addr == st.GOTAddr(i) && len(w.Data) == 8 {
			found = true
		}
	}
	require.True(t, found, "g's slot was not written with its new address")
}
