package wasm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// linkObj is a small object: defined functions () -> i64 returning their
// constant, each optionally calling one other function by name (defined
// here or undefined), as clang lays such an object out.
type linkFn struct {
	name  string
	flags uint32
	value byte
	calls string // "" or the callee's name
}

func linkObject(t *testing.T, name string, fns []linkFn, extra func(o *Object)) *Object {
	t.Helper()
	o := &Object{Name: name, Types: []FuncType{{Results: []ValType{I64}}},
		Imports: []Import{{Module: "env", Name: "__linear_memory", Kind: ExternMemory, Memory: Limits{Min: 0}}}}
	defined := map[string]bool{}
	for _, f := range fns {
		defined[f.name] = true
	}
	var undef []string
	for _, f := range fns {
		if f.calls != "" && !defined[f.calls] {
			undef = append(undef, f.calls)
		}
	}
	for _, u := range undef {
		o.Imports = append(o.Imports, Import{Module: "env", Name: u, Kind: ExternFunc, Type: 0})
	}
	symOf := map[string]uint32{}
	for i, f := range fns {
		symOf[f.name] = uint32(len(o.Symbols))
		o.Symbols = append(o.Symbols, Symbol{Kind: SymFunction, Name: f.name, Flags: f.flags, Index: uint32(len(undef) + i)})
	}
	for i, u := range undef {
		symOf[u] = uint32(len(o.Symbols))
		o.Symbols = append(o.Symbols, Symbol{Kind: SymFunction, Name: u, Flags: SymUndefined, Index: uint32(i)})
	}
	for _, f := range fns {
		var code []byte
		var relocs []Reloc
		if f.calls != "" {
			code = append(code, 0x10)
			relocs = append(relocs, Reloc{Type: RFunctionIndexLEB, Offset: 1, Index: symOf[f.calls]})
			code = AppendPaddedULEB(code, 0)
			code = append(code, 0x1a)
		}
		code = append(code, 0x42, f.value, 0x0b)
		o.Funcs = append(o.Funcs, Function{Type: 0, Code: code, Relocs: relocs})
	}
	if extra != nil {
		extra(o)
	}
	b, err := WriteObject(o)
	require.NoError(t, err)
	back, err := ReadObject(name, b)
	require.NoError(t, err)
	return back
}

// TestLinkResolution: symbol resolution and its errors, as wasm-ld 16
// reports them.
func TestLinkResolution(t *testing.T) {
	start := linkFn{name: "_start", flags: SymVisibilityHidden, value: 1, calls: "f"}
	tests := []struct {
		name    string
		objs    [][]linkFn
		extra   func(o *Object)
		wantErr string
		funcs   []string // the output's functions
	}{
		{name: "strong over weak", objs: [][]linkFn{{start, {name: "f", flags: SymBindingWeak, value: 2}}, {{name: "f", value: 3}}},
			funcs: []string{"_start", "f"}},
		{name: "first weak wins", objs: [][]linkFn{{start, {name: "f", flags: SymBindingWeak, value: 2}}, {{name: "f", flags: SymBindingWeak, value: 3}}},
			funcs: []string{"_start", "f"}},
		{name: "locals of one name", objs: [][]linkFn{{start, {name: "f", value: 2, calls: "h"}, {name: "h", flags: SymBindingLocal, value: 4}}, {{name: "h", flags: SymBindingLocal, value: 5}, {name: "k", value: 6, calls: "h"}}},
			funcs: []string{"_start", "f", "h"}},
		{name: "gc drops the unreferenced", objs: [][]linkFn{{start, {name: "f", value: 2}, {name: "unused", value: 9}}},
			funcs: []string{"_start", "f"}},
		{name: "duplicate", objs: [][]linkFn{{start, {name: "f", value: 2}}, {{name: "f", value: 3}}},
			wantErr: "duplicate symbol: f\n>>> defined in a.o\n>>> defined in b.o"},
		{name: "undefined", objs: [][]linkFn{{start}}, wantErr: "undefined symbol: f"},
		{name: "no entry", objs: [][]linkFn{{{name: "f", value: 2}}}, wantErr: "symbol exported via --export not found: _start"},
		{name: "constructors", objs: [][]linkFn{{start, {name: "f", value: 2}}},
			extra:   func(o *Object) { o.InitFuncs = []InitFunc{{Priority: 1, Symbol: 1}} },
			wantErr: "a.o: unsupported: linking, offset 0x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []*Object
			for i, fns := range tc.objs {
				objs = append(objs, linkObject(t, string(rune('a'+i))+".o", fns, tc.extra))
			}
			l, err := Link(objs, LinkOptions{})
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.funcs, l.Funcs)
			m, err := ReadModule("out.wasm", l.Module)
			require.NoError(t, err)
			require.Len(t, m.Funcs, len(tc.funcs))
			if tc.name == "strong over weak" {
				require.Equal(t, []byte{0x42, 3, 0x0b}, m.Funcs[1].Code, "b.o's strong f")
			}
			if tc.name == "first weak wins" {
				require.Equal(t, []byte{0x42, 2, 0x0b}, m.Funcs[1].Code, "a.o's weak f")
			}
		})
	}
}
