package obj

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func validObject() *Object {
	return &Object{
		Name: "a.o",
		Sections: []*Section{
			{Name: ".text.main", Kind: Text, Align: 16, Data: make([]byte, 10), Size: 10,
				Relocs: []Reloc{{Offset: 1, Kind: Branch32, Sym: 1, Addend: -4}}},
			{Name: ".bss", Kind: BSS, Align: 8, Size: 8},
		},
		Symbols: []*Symbol{
			{Name: "main", Section: 0, Bind: Global, Kind: SymFunc, Size: 10},
			{Name: "f", Section: Undef, Bind: Global},
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(o *Object)
		want   string
	}{
		{"ok", func(*Object) {}, ""},
		{"bad align", func(o *Object) { o.Sections[0].Align = 3 }, "alignment 3 is not a power of two"},
		{"size mismatch", func(o *Object) { o.Sections[0].Size = 11 }, "size 11 but 10 bytes"},
		{"bss data", func(o *Object) { o.Sections[1].Data = []byte{1} }, "bss section has 1 bytes"},
		{"reloc outside", func(o *Object) { o.Sections[0].Relocs[0].Offset = 7 }, "field outside the section"},
		{"reloc huge offset", func(o *Object) { o.Sections[0].Relocs[0].Offset = ^uint64(0) }, "field outside the section"},
		{"reloc sym range", func(o *Object) { o.Sections[0].Relocs[0].Sym = 2 }, "symbol index 2 out of range"},
		{"unsorted", func(o *Object) {
			o.Sections[0].Relocs = append(o.Sections[0].Relocs, Reloc{Offset: 0, Kind: Abs32, Sym: 0})
		}, "not sorted"},
		{"sym section", func(o *Object) { o.Symbols[0].Section = 5 }, "section index 5 out of range"},
		{"sym value", func(o *Object) { o.Symbols[0].Value = 11 }, "past the end"},
		{"undef local", func(o *Object) { o.Symbols[1].Bind = Local }, "undefined local symbol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validObject()
			tt.mutate(o)
			err := o.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.Contains(t, err.Error(), "a.o")
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		got, err := ParseFormat(string(f))
		require.NoError(t, err)
		require.Equal(t, f, got)
	}
	_, err := ParseFormat("pe")
	require.ErrorContains(t, err, `unknown format "pe"`)
}
