package bench

import (
	"fmt"
	"strconv"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// SyntheticObjects builds the benchmark workload of docs/benchmarks.md: funcs
// functions spread round-robin over units objects, where function i is
// `call f<i+1 mod funcs>; ret` in its own section .text.f<i> (16-byte
// aligned), and every function has an 8-byte pointer to it in .data.p<i>
// (Abs64). Object 0 also defines _start, which calls f0 and exits. The
// result is deterministic and valid for every format's writer.
func SyntheticObjects(funcs, units int) ([]*obj.Object, error) {
	if funcs < 1 || units < 1 || units > funcs {
		return nil, fmt.Errorf("bench: synthetic objects: want 1 <= units (%d) <= funcs (%d)", units, funcs)
	}
	objs := make([]*obj.Object, units)
	for u := range objs {
		n := funcs/units + 1
		objs[u] = &obj.Object{
			Name:     "synth" + strconv.Itoa(u) + ".o",
			Sections: make([]*obj.Section, 0, 2*n+1),
			Symbols:  make([]*obj.Symbol, 0, 3*n+2),
		}
	}
	// Each object refers to a function of another object through an
	// undefined symbol; index by name per object.
	undef := make([]map[int]int, units)
	for u := range undef {
		undef[u] = make(map[int]int)
	}
	symFor := func(u, f int) int {
		if f%units == u {
			return -1 // defined here; patched below
		}
		if i, ok := undef[u][f]; ok {
			return i
		}
		o := objs[u]
		i := len(o.Symbols)
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: "f" + strconv.Itoa(f), Section: obj.Undef, Bind: obj.Global})
		undef[u][f] = i
		return i
	}
	// defIndex[f] is the symbol index of f in its own object.
	defIndex := make([]int, funcs)
	for f := 0; f < funcs; f++ {
		u := f % units
		o := objs[u]
		code := []byte{0xe8, 0, 0, 0, 0, 0xc3}
		o.Sections = append(o.Sections, &obj.Section{Name: ".text.f" + strconv.Itoa(f), Kind: obj.Text, Align: 16, Data: code, Size: uint64(len(code))})
		defIndex[f] = len(o.Symbols)
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: "f" + strconv.Itoa(f), Section: len(o.Sections) - 1, Size: 6, Bind: obj.Global, Kind: obj.SymFunc})
	}
	for f := 0; f < funcs; f++ {
		u := f % units
		o := objs[u]
		next := (f + 1) % funcs
		target := symFor(u, next)
		if target < 0 {
			target = defIndex[next]
		}
		text := o.Sections[o.Symbols[defIndex[f]].Section]
		text.Relocs = []obj.Reloc{{Offset: 1, Kind: obj.Branch32, Sym: target, Addend: -4}}
		ptr := make([]byte, 8)
		o.Sections = append(o.Sections, &obj.Section{Name: ".data.p" + strconv.Itoa(f), Kind: obj.Data, Align: 8, Data: ptr, Size: 8,
			Relocs: []obj.Reloc{{Offset: 0, Kind: obj.Abs64, Sym: defIndex[f]}}})
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: "p" + strconv.Itoa(f), Section: len(o.Sections) - 1, Size: 8, Bind: obj.Global, Kind: obj.SymData})
	}
	// _start: call f0; mov eax, 60; xor edi, edi; syscall.
	o := objs[0]
	start := []byte{0xe8, 0, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05}
	o.Sections = append(o.Sections, &obj.Section{Name: ".text._start", Kind: obj.Text, Align: 16, Data: start, Size: uint64(len(start)),
		Relocs: []obj.Reloc{{Offset: 1, Kind: obj.Branch32, Sym: defIndex[0], Addend: -4}}})
	o.Symbols = append(o.Symbols, &obj.Symbol{Name: obj.EntrySymbol, Section: len(o.Sections) - 1, Size: uint64(len(start)), Bind: obj.Global, Kind: obj.SymFunc})
	return objs, nil
}
