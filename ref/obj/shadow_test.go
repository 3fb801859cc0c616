package obj

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// shadowObject makes an object with one text section per defined symbol
// and the given undefined names.
func shadowObject(name string, defs []Symbol, undef ...string) *Object {
	o := &Object{Name: name}
	for _, d := range defs {
		o.Sections = append(o.Sections, &Section{Name: ".text." + d.Name, Kind: Text, Align: 16, Data: []byte{0xc3}, Size: 1})
		s := d
		s.Section, s.Size = len(o.Sections)-1, 1
		o.Symbols = append(o.Symbols, &s)
	}
	for _, u := range undef {
		o.Symbols = append(o.Symbols, &Symbol{Name: u, Section: Undef, Bind: Global})
	}
	return o
}

func TestShadowLocals(t *testing.T) {
	build := func() []*Object {
		return []*Object{
			shadowObject("u0.o", []Symbol{
				{Name: EntrySymbol, Bind: Global, Kind: SymFunc},
				{Name: MainSymbol, Bind: Global, Kind: SymFunc},
				{Name: ErrTabSymbol, Bind: Global, Kind: SymData},
				{Name: "g", Bind: Global, Kind: SymFunc},
			}, "a"),
			// u1 refers to g: only main is a candidate name for its local.
			shadowObject("u1.o", []Symbol{{Name: "h", Bind: Local, Kind: SymFunc}, {Name: "a", Bind: Global, Kind: SymFunc}}, "g"),
			// u2 has no local function: nothing to rename.
			shadowObject("u2.o", []Symbol{{Name: "b", Bind: Global, Kind: SymData}}),
		}
	}
	tests := []struct {
		name    string
		objs    func() []*Object
		renames bool
	}{
		{"one unit", func() []*Object { return build()[:1] }, false},
		{"candidates", build, true},
		{"no candidate name", func() []*Object {
			objs := build()
			// u1 now mentions every global of the other units.
			objs[1].Symbols = append(objs[1].Symbols, &Symbol{Name: MainSymbol, Section: Undef, Bind: Global},
				&Symbol{Name: "b", Section: Undef, Bind: Global})
			return objs
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for seed := int64(-3); seed < 20; seed++ {
				objs := tt.objs()
				log := ShadowLocals(objs, seed)
				for _, o := range objs {
					require.NoError(t, o.Validate())
				}
				if !tt.renames {
					require.Empty(t, log)
					continue
				}
				// u1's only candidates are main and b (g it mentions, the
				// reserved names are never taken).
				require.Len(t, log, 1)
				require.Contains(t, []string{
					"u1.o: local h renamed main, a global of u0.o",
					"u1.o: local h renamed b, a global of u2.o",
				}, log[0])
				seen[log[0]] = true
				renamed := objs[1].Symbols[0]
				require.Equal(t, Local, renamed.Bind, "the binding stays")
				require.NotEqual(t, "h", renamed.Name)
				// Deterministic: the same seed renames the same way.
				again := tt.objs()
				require.Equal(t, log, ShadowLocals(again, seed))
			}
			if tt.renames {
				require.Len(t, seen, 2, "the seed chooses the name")
			}
		})
	}
	require.Equal(t, "", RewriteNote(nil))
	require.Equal(t, "object rewrites: x; y", RewriteNote([]string{"x", "y"}))
}
