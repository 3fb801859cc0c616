package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// renameSymbol is a Rewrite that renames the symbol from to to in the
// object that defines it.
func renameSymbol(t *testing.T, from, to string) func([]*obj.Object) {
	return func(objs []*obj.Object) {
		for _, o := range objs {
			if i := o.Lookup(from); i >= 0 && o.Symbols[i].Defined() {
				o.Symbols[i].Name = to
				return
			}
		}
		t.Fatalf("no object defines %s", from)
	}
}

// TestLinkFaultsCaught plants the full linker's defects that only a link
// of shadowed locals, absolute symbols or calls through the GOT reaches,
// and checks that the comparison against ld.lld reports each: the
// canonical diff at the broken reference (text.operand, data.pointer),
// with both sides, or, for the defect that keeps every value and every canonical
// instruction right, the loaded-bytes check (SameLoadedELF) at the
// rewritten instruction; the same link without the defect passes both and
// runs to the interpreter's value.
func TestLinkFaultsCaught(t *testing.T) {
	tools.Require(t, "ld.lld")
	lldL, err := linker.Lookup(linker.LLD)
	require.NoError(t, err)
	refL, err := linker.Lookup(linker.Ref)
	require.NoError(t, err)
	tests := []struct {
		name  string
		fault fault.Fault
		src   string
		opts  func(t *testing.T) target.CompileOptions
		units int
		// The reported difference: of kind key in symbol sym, lld's side
		// and ref's; with key empty, the canonical images are equal (the
		// diff sees through indirections) and SameLoadedELF reports
		// loaded, a substring of its error.
		key, sym, lld, ref string
		loaded             string
		// The faulty executable's value still matches (the defect keeps
		// every value right).
		keepsValue bool
	}{
		{
			// u1 holds the local h and a; u0 main and k. h is renamed k:
			// a's call must stay bound to the local.
			name: "local-as-global", fault: fault.LinkLocalAsGlobal, units: 2,
			src: `
local func h(x) { return x + 1 }
func a(x) { return h(x) * 2 }
func k(x) { return x + 100 }
func main() { return a(1) + k(2) }
`,
			opts: func(t *testing.T) target.CompileOptions {
				return target.CompileOptions{Rewrite: renameSymbol(t, "h", "k")}
			},
			// The local is first in the symbol table (locals before
			// globals), so the global is k#2.
			key: "text.operand", sym: "a", lld: "call k", ref: "call k#2",
		},
		{
			name: "relax-gotpcrel", fault: fault.LinkRelaxGOTPCRel, units: 1,
			src: `
func f(x) { return x + 1 }
func main() { return f(41) }
`,
			opts: func(*testing.T) target.CompileOptions { return target.CompileOptions{CallsViaGOT: true} },
			key:  "",
			// Both calls (_start's of main, main's of f) became `addr32
			// call` (67 e8), the same calls to the canonical diff. The
			// GOT is gone, and with it its segment and program header, so
			// everything after the headers moved: the entry address is
			// the first loaded byte that differs.
			loaded:     "address 0x200018 (ELF header)",
			keepsValue: true,
		},
		{
			// g's 8 bytes come from the absolute symbol _lc_abs_g
			// (obj.AbsoluteData), 0x2a + 0: rebased, it is 0x20002a.
			name: "absolute-rebased", fault: fault.LinkAbsoluteRebased, units: 1,
			src: `
global g = 42
func main() { return load g }
`,
			opts: func(*testing.T) target.CompileOptions {
				return target.CompileOptions{Rewrite: func(objs []*obj.Object) { obj.AbsoluteData(objs, 1) }}
			},
			key: "data.pointer", sym: "g", lld: "abs64 &?0x2a", ref: "abs64 &?0x20002a",
		},
	}
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ir.Parse("p.lir", []byte(tt.src))
			require.NoError(t, err)
			want, err := Expected(m)
			require.NoError(t, err)
			dir := t.TempDir()
			objs, err := BuildDirWith(m, obj.ELF, tt.units, filepath.Join(dir, "obj"), tt.opts(t))
			require.NoError(t, err)
			for _, planted := range []bool{false, true} {
				lo := linker.Options{}
				if planted {
					lo.Faults = fault.Of(tt.fault)
				}
				work := filepath.Join(dir, map[bool]string{false: "clean", true: "faulty"}[planted])
				require.NoError(t, os.MkdirAll(work, 0o755))
				res, err := DiffLinkersWith(context.Background(), obj.ELF, lldL, refL, objs, work, diff.Options{}, lo)
				require.NoError(t, err)
				got, err := runner.Run(context.Background(), res.ExeB, oexec.Options{Mode: oexec.Native})
				require.NoError(t, err)
				if !planted {
					require.True(t, res.Report.Equal(), "%s", res.Report.Text())
					a, err := os.ReadFile(res.ExeA)
					require.NoError(t, err)
					b, err := os.ReadFile(res.ExeB)
					require.NoError(t, err)
					require.NoError(t, SameLoadedELF(a, b))
					require.True(t, got.Matches(want), "ref computed %s, the interpreter says %d", got, want)
					continue
				}
				require.Equal(t, tt.keepsValue, got.Matches(want), "ref computed %s, the interpreter says %d", got, want)
				require.Equal(t, tt.keepsValue, tt.fault.KeepsValues())
				lldData, err := os.ReadFile(res.ExeA)
				require.NoError(t, err)
				refData, err := os.ReadFile(res.ExeB)
				require.NoError(t, err)
				loadedErr := SameLoadedELF(lldData, refData)
				require.Error(t, loadedErr)
				require.ErrorContains(t, loadedErr, LoadedKey)
				if tt.key == "" {
					require.True(t, res.Report.Equal(), "%s", res.Report.Text())
					require.ErrorContains(t, loadedErr, tt.loaded)
					continue
				}
				ds := res.Report.Find(tt.key)
				require.NotEmpty(t, ds, "%s", res.Report.Text())
				require.Equal(t, tt.sym, ds[0].Symbol, "%s", res.Report.Text())
				require.Equal(t, tt.lld, ds[0].A, "%s", res.Report.Text())
				require.Equal(t, tt.ref, ds[0].B, "%s", res.Report.Text())
			}
		})
	}
}
