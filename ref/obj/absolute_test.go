package obj

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// dataObject makes an object defining 8-byte data globals of the given
// values, and a function.
func dataObject(name string, values map[string]uint64) *Object {
	o := shadowObject(name, []Symbol{{Name: "f_" + name, Bind: Global, Kind: SymFunc}})
	for _, n := range []string{"g", "h", "k"} {
		v, ok := values[n]
		if !ok {
			continue
		}
		d := binary.LittleEndian.AppendUint64(nil, v)
		o.Sections = append(o.Sections, &Section{Name: ".data." + n, Kind: Data, Align: 8, Data: d, Size: 8})
		o.Symbols = append(o.Symbols, &Symbol{Name: n, Section: len(o.Sections) - 1, Size: 8, Bind: Global, Kind: SymData})
	}
	return o
}

func TestAbsoluteData(t *testing.T) {
	tests := []struct {
		name  string
		objs  func() []*Object
		edits int
	}{
		{"one object", func() []*Object { return []*Object{dataObject("u0.o", map[string]uint64{"g": 0x1234_5678_9abc_def0})} }, 1},
		{"two objects", func() []*Object {
			return []*Object{dataObject("u0.o", map[string]uint64{"g": 7, "h": 1 << 63}), dataObject("u1.o", map[string]uint64{"k": 0xffff_ffff_ffff_fffe})}
		}, 2},
		{"no integer global", func() []*Object { return []*Object{dataObject("u0.o", nil), dataObject("u1.o", nil)} }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := int64(0); seed < 10; seed++ {
				objs := tt.objs()
				orig := tt.objs()
				log := AbsoluteData(objs, seed)
				require.Len(t, log, tt.edits)
				edits := 0
				for oi, o := range objs {
					require.NoError(t, o.Validate())
					for si, sec := range o.Sections {
						if len(sec.Relocs) == 0 {
							require.Equal(t, orig[oi].Sections[si].Data, sec.Data)
							continue
						}
						edits++
						// S + A is the value the bytes held; the bytes are
						// cleared and S is an absolute global of the next
						// object.
						r := sec.Relocs[0]
						require.Equal(t, Abs64, r.Kind)
						require.Equal(t, make([]byte, 8), sec.Data)
						ref := o.Symbols[r.Sym]
						def := objs[(oi+1)%len(objs)]
						abs := def.Symbols[def.Lookup(ref.Name)]
						require.Equal(t, Abs, abs.Section)
						require.Equal(t, Global, abs.Bind)
						require.Less(t, abs.Value, uint64(1)<<31, "fits a COFF symbol value")
						require.Equal(t, binary.LittleEndian.Uint64(orig[oi].Sections[si].Data), abs.Value+uint64(r.Addend))
						if def != o {
							require.False(t, ref.Defined())
						}
					}
				}
				require.Equal(t, tt.edits, edits)
				require.Equal(t, log, AbsoluteData(tt.objs(), seed), "deterministic")
			}
		})
	}
}
