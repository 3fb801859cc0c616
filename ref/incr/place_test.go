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
