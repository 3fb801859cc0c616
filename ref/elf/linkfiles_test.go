package elf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// chainObjects returns units objects of funcs functions each: function
// f<u>_<i> calls the first function of the next object (undefined here),
// weak and hidden ones among them; with group, every function is in a
// COMDAT group that each object repeats (but the first, which others
// call); with dup, object 1 defines f0_0
// again.
func chainObjects(units, funcs int, group, dup bool) []*obj.Object {
	objs := make([]*obj.Object, units)
	for u := range objs {
		o := &obj.Object{Name: fmt.Sprintf("u%d.o", u)}
		next := fmt.Sprintf("f%d_0", (u+1)%units)
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: next, Section: obj.Undef, Bind: obj.Global})
		for i := range funcs {
			sec := &obj.Section{Name: fmt.Sprintf(".text.f%d_%d", u, i), Kind: obj.Text, Align: 16,
				Data: []byte{0xe8, 0, 0, 0, 0, 0xc3}, Size: 6, Relocs: []obj.Reloc{{Offset: 1, Kind: obj.Branch32, Sym: 0, Addend: -4}}}
			if group && i > 0 {
				sec.Group = fmt.Sprintf("g%d", i%7)
			}
			o.Sections = append(o.Sections, sec)
			s := &obj.Symbol{Name: fmt.Sprintf("f%d_%d", u, i), Section: len(o.Sections) - 1, Size: 6, Bind: obj.Global, Kind: obj.SymFunc}
			switch i % 5 {
			case 1:
				s.Bind = obj.Weak
			case 2:
				s.Visibility = obj.VisHidden
			case 3:
				s.Bind = obj.Local
			}
			if s.Bind == obj.Local {
				o.Symbols = append([]*obj.Symbol{s}, o.Symbols...)
				for _, x := range o.Sections {
					for j := range x.Relocs {
						x.Relocs[j].Sym++
					}
				}
			} else {
				o.Symbols = append(o.Symbols, s)
			}
		}
		if dup && u == 1 {
			o.Symbols = append(o.Symbols, &obj.Symbol{Name: "f0_0", Section: 0, Bind: obj.Global, Kind: obj.SymFunc})
		}
		if u == 0 {
			o.Symbols = append(o.Symbols, &obj.Symbol{Name: obj.EntrySymbol, Section: 0, Bind: obj.Global, Kind: obj.SymFunc})
		}
		objs[u] = o
	}
	return objs
}

// TestLinkFilesAsRead: link.LinkFiles, which resolves symbols while the
// objects are read, gives what reading them all and then linking gives:
// the same bytes, layout symbols and errors (including where COMDAT
// groups make it resolve again after the reads, a missing file and a
// planted fault).
func TestLinkFilesAsRead(t *testing.T) {
	for _, tc := range []struct {
		name          string
		units, funcs  int
		group, dup    bool
		missing       bool
		badMerge      bool // a SHF_MERGE section of a size that is not a multiple of its entries
		faults        fault.Set
		wantErrSubstr string
	}{
		{name: "plain", units: 6, funcs: 400},
		{name: "one object", units: 1, funcs: 50},
		{name: "groups", units: 4, funcs: 60, group: true},
		{name: "duplicate", units: 3, funcs: 20, dup: true, wantErrSubstr: "duplicate symbol: f0_0"},
		{name: "missing file", units: 3, funcs: 20, missing: true, wantErrSubstr: "no such file"},
		{name: "bad merge section", units: 3, funcs: 20, badMerge: true, wantErrSubstr: "must be a multiple of sh_entsize"},
		// the symbol table's errors come before the placement's, which
		// LinkFiles finds first
		{name: "duplicate and bad merge section", units: 3, funcs: 20, dup: true, badMerge: true, wantErrSubstr: "duplicate symbol: f0_0"},
		{name: "local as global", units: 3, funcs: 40, faults: fault.Of(fault.LinkLocalAsGlobal)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for i, o := range chainObjects(tc.units, tc.funcs, tc.group, tc.dup) {
				if tc.badMerge && i == 2 {
					o.Sections = append(o.Sections, &obj.Section{Name: ".rodata.cst4", Kind: obj.ROData, Align: 4,
						Merge: true, EntSize: 4, Data: []byte{1, 2, 3, 4, 5, 6}, Size: 6})
				}
				b, err := WriteObject(o)
				require.NoError(t, err)
				p := filepath.Join(dir, o.Name)
				require.NoError(t, os.WriteFile(p, b, 0o644))
				paths = append(paths, p)
			}
			if tc.missing {
				paths = append(paths[:1], append([]string{filepath.Join(dir, "none.o")}, paths[1:]...)...)
			}
			opts := link.Options{Faults: tc.faults}
			got, gotLayout, gotErr := link.LinkFiles(paths, ReadObject, Exe{}, opts)
			var want []byte
			var wantLayout *link.Layout
			objs, wantErr := link.ReadObjectFiles(paths, ReadObject)
			if wantErr == nil {
				want, wantLayout, wantErr = link.Link(objs, Exe{}, opts)
			}
			if tc.wantErrSubstr != "" {
				require.ErrorContains(t, wantErr, tc.wantErrSubstr)
				require.EqualError(t, gotErr, wantErr.Error())
				return
			}
			require.NoError(t, wantErr)
			require.NoError(t, gotErr)
			require.Equal(t, want, got)
			require.Equal(t, wantLayout.Symbols, gotLayout.Symbols)
			require.Equal(t, wantLayout.SymIndex, gotLayout.SymIndex)
			require.Equal(t, wantLayout.Globals, gotLayout.Globals)
		})
	}
}

// TestRelocErrorsCut: relocation errors, found by objects in parallel,
// are reported in input order and cut after the section where they reach
// 20, as one pass in order cuts them: 3 objects of 4 sections of 3
// out-of-range relocations each give the 12 of the first object and the 9
// of the second's first three sections.
func TestRelocErrorsCut(t *testing.T) {
	var objs []*obj.Object
	for u := range 3 {
		o := &obj.Object{Name: fmt.Sprintf("u%d.o", u)}
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: "far", Section: obj.Undef, Bind: obj.Global})
		for i := range 4 {
			o.Sections = append(o.Sections, &obj.Section{Name: fmt.Sprintf(".data.d%d", i), Kind: obj.Data, Align: 4, Data: make([]byte, 12), Size: 12,
				Relocs: []obj.Reloc{{Offset: 0, Kind: obj.Abs32}, {Offset: 4, Kind: obj.Abs32}, {Offset: 8, Kind: obj.Abs32}}})
		}
		if u == 0 {
			o.Symbols = append(o.Symbols, &obj.Symbol{Name: "far", Section: obj.Abs, Value: 1 << 40, Bind: obj.Global})
			o.Symbols[0] = o.Symbols[1] // every reloc refers to the definition
			o.Symbols = o.Symbols[:1]
		}
		objs = append(objs, o)
	}
	_, _, err := link.Link(objs, Exe{}, link.Options{})
	require.Error(t, err)
	msgs := strings.Split(err.Error(), "\n")
	var firsts []string
	for _, m := range msgs {
		if strings.Contains(m, "out of range") {
			firsts = append(firsts, strings.SplitN(m, ": ", 2)[0])
		}
	}
	require.Len(t, firsts, 21, err.Error())
	require.Equal(t, "u0.o:(.data.d0+0x0)", firsts[0])
	require.Equal(t, "u1.o:(.data.d2+0x8)", firsts[20])
}
