package diff

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
)

func img(syms ...*canon.Symbol) *canon.Image {
	return &canon.Image{Format: "elf", Entry: "_start", PointerSource: canon.PointersFromObjects, Symbols: syms}
}

func fn(name string, insns ...string) *canon.Symbol {
	s := &canon.Symbol{Name: name, Kind: canon.KindFunc, Bind: canon.BindGlobal, Flags: "AX", Section: ".text"}
	for i, t := range insns {
		f := strings.Fields(t)
		s.Insns = append(s.Insns, canon.Insn{Off: uint64(i), Len: 1, Op: f[0], Args: f[1:]})
	}
	s.Size = uint64(len(insns))
	return s
}

// withSections is an empty image with sections written "NAME FLAGS".
func withSections(secs ...string) *canon.Image {
	im := img()
	for _, s := range secs {
		f := strings.Fields(s)
		im.Sections = append(im.Sections, canon.Section{Name: f[0], Flags: f[1]})
	}
	return im
}

func TestCompareKeys(t *testing.T) {
	tests := []struct {
		name   string
		a, b   *canon.Image
		ignore []string
		keys   []string
	}{
		{"equal", img(fn("f", "ret")), img(fn("f", "ret")), nil, nil},
		{"kind", img(fn("f", "ret")), img(func() *canon.Symbol { s := fn("f", "ret"); s.Kind = canon.KindNone; return s }()), nil, []string{KeySymbolKind}},
		{"binding", img(fn("f", "ret")), img(func() *canon.Symbol { s := fn("f", "ret"); s.Bind = canon.BindLocal; return s }()), nil, []string{KeySymbolBinding}},
		{"flags", img(fn("f", "ret")), img(func() *canon.Symbol { s := fn("f", "ret"); s.Flags = "AWX"; return s }()), nil, []string{KeySectionFlags}},
		{"flags ignored", img(fn("f", "ret")), img(func() *canon.Symbol { s := fn("f", "ret"); s.Flags = "AWX"; return s }()), []string{"section-flags"}, nil},
		{"length", img(fn("f", "nop", "ret")), img(fn("f", "nop")), nil, []string{KeySymbolSize, KeyTextLength}},
		{"padding", img(fn("f", "ret")), img(func() *canon.Symbol { s := fn("f", "ret"); s.Padding = 3; return s }()), nil, []string{KeyTextPadding}},
		{"padding ignored", img(fn("f", "ret")), img(func() *canon.Symbol { s := fn("f", "ret"); s.Padding = 3; return s }()), []string{"padding"}, nil},
		{"synthetic extra ignored", img(fn("f", "ret")), img(&canon.Symbol{Name: "_end", Kind: canon.KindNone, Bind: canon.BindGlobal, Synthetic: true}, fn("f", "ret")), []string{"synthetic-symbols"}, nil},
		{"input symbol not ignored", img(fn("f", "ret")), img(fn("f", "ret"), fn("g", "ret")), []string{"synthetic-symbols"}, []string{KeySymbolExtra}},
		{"operand never ignored", img(fn("f", "call g")), img(fn("f", "call h")), []string{"padding", "synthetic-symbols", "section-flags"}, []string{KeyTextOperand}},
		{"unknown rule", img(), img(), []string{"text.operand"}, []string{KeyUnknownIgnore}},
		{"entry", img(), &canon.Image{Entry: "main", PointerSource: canon.PointersFromObjects}, nil, []string{KeyEntry}},
		{"pointer source", img(), &canon.Image{Entry: "_start", PointerSource: canon.PointersUnknown}, nil, []string{KeyPointerSource}},
		{"bss", img(&canon.Symbol{Name: "z", Kind: canon.KindObject, Size: 8, BSS: true}),
			img(&canon.Symbol{Name: "z", Kind: canon.KindObject, Size: 8, Data: []byte{0, 0, 1, 0, 0, 0, 0, 0}}), nil, []string{KeyDataBSS, KeyDataBytes}},
		{"pointer on one side", img(&canon.Symbol{Name: "p", Kind: canon.KindObject, Size: 8, Data: make([]byte, 8), Pointers: []canon.Pointer{{Size: 8, Kind: "abs64", Target: "&f"}}}),
			img(&canon.Symbol{Name: "p", Kind: canon.KindObject, Size: 8, Data: make([]byte, 8)}), nil, []string{KeyDataPointer}},
		{"errtab missing", &canon.Image{ErrTab: &canon.ErrTab{Names: []string{"A"}}}, &canon.Image{}, nil, []string{KeyErrtabCount}},
		// Same-named sections compare as the set of their flags (FuzzCanonELF
		// found an image that differed from itself when it kept the last).
		{"same-named sections", withSections(".x AX", ".x A", ".y A"), withSections(".x A", ".x AX", ".x A"), nil, nil},
		{"same-named sections differ", withSections(".x AX", ".x A"), withSections(".x A", ".x AW"), nil, []string{KeySectionFlags}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Compare(tt.a, tt.b, Options{Ignore: tt.ignore})
			require.Equal(t, tt.keys, rep.Keys(), rep.Text())
			require.Equal(t, len(tt.keys) == 0, rep.Equal())
		})
	}
}

// TestNoRuleHidesTargets: the registry never lists a key that carries a
// code or data target, and every rule has a reason.
func TestNoRuleHidesTargets(t *testing.T) {
	for _, r := range Rules() {
		require.NotEmpty(t, r.Reason, r.Name)
		for _, k := range r.Keys {
			require.NotContains(t, []string{KeyTextInsn, KeyTextOperand, KeyTextLength, KeyDataBytes, KeyDataPointer, KeyEntry, KeyErrtabName, KeyErrtabCount}, k, r.Name)
			require.Contains(t, Keys(), k)
		}
	}
}

func TestReportOutput(t *testing.T) {
	a := img(fn("f", "call g", "ret"), fn("g", "ret"))
	b := img(fn("f", "call h", "int3"), fn("h", "ret"))
	rep := Compare(a, b, Options{NameA: "lld", NameB: "ref", Reproduce: "linkcheck diff -format elf p.lir"})
	text := rep.Text()
	require.Equal(t, text, Compare(a, b, Options{NameA: "lld", NameB: "ref", Reproduce: "linkcheck diff -format elf p.lir"}).Text(), "stable")
	require.Contains(t, text, "text.operand     f+0x0 insn 0\n    lld: call g\n    ref: call h\n")
	require.True(t, strings.HasSuffix(text, "reproduce: linkcheck diff -format elf p.lir\n"))
	var keys []string
	for _, d := range rep.Differences {
		keys = append(keys, d.Key+" "+d.Symbol)
	}
	require.Equal(t, []string{"text.operand f", "text.insn f", "symbol.missing g", "symbol.extra h"}, keys)

	js, err := rep.JSON()
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, *rep, back)
	require.InDelta(t, 0.5, rep.Coverage.Ratio(), 0.01)
}
