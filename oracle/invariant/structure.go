package invariant

import (
	"debug/elf"
	"encoding/binary"
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The structural invariants: checks that hold whether or not the program
// executes what they look at, so that a linker bug that keeps every value
// right is still caught. All from the file and the compiled version alone.
//
//   - every atom honours its alignment (5);
//   - every byte of a region that no atom holds is free space — int3 in
//     code, zero elsewhere — or, in code, a trampoline: a `jmp rel32` to a
//     function's start padded with int3; no trampoline jumps to another
//     trampoline or to free space (4, 5);
//   - the symbol table names only what the version defines, its sh_info is
//     the index of its first global and the locals come first, and the
//     entry point is the entry stub's address (6).

// trampolineSize is the room of one trampoline: jmp rel32 and int3 padding.
const trampolineSize = 8

// checkStructure runs the structural invariants.
func checkStructure(im *image, prog *obj.Program, add func(int, string, uint64, string, ...any)) {
	atoms := make(map[string]*obj.Atom, len(prog.Atoms))
	for _, a := range prog.Atoms {
		atoms[a.Name] = a
		if s, ok := im.syms[a.Name]; ok && a.Align > 1 && s.Value%a.Align != 0 {
			add(5, a.Name, s.Value, "at an address aligned to %d bytes only; the atom wants %d", s.Value&-s.Value, a.Align)
		}
	}
	checkSymbolTable(im, atoms, add)
	checkFreeSpace(im, prog, atoms, add)
}

// checkSymbolTable checks the symbol table against the version and its own
// header.
func checkSymbolTable(im *image, atoms map[string]*obj.Atom, add func(int, string, uint64, string, ...any)) {
	var symtab *elf.Section
	for _, s := range im.f.Sections {
		if s.Type == elf.SHT_SYMTAB {
			symtab = s
		}
	}
	if symtab == nil {
		add(6, "", 0, "no symbol table")
		return
	}
	syms, _ := im.f.Symbols() // read once already by the caller
	firstGlobal := -1
	for i, s := range syms {
		if s.Name != "" && atoms[s.Name] == nil {
			add(6, s.Name, s.Value, "in the symbol table, but the current version defines no such atom")
		}
		local := elf.ST_BIND(s.Info) == elf.STB_LOCAL
		if !local && firstGlobal < 0 {
			firstGlobal = i
		}
		if local && firstGlobal >= 0 {
			add(6, s.Name, s.Value, "a local symbol after the first global (index %d)", firstGlobal+1)
		}
	}
	if firstGlobal < 0 {
		firstGlobal = len(syms)
	}
	// debug/elf drops the null symbol: table indexes are one more.
	if want := uint32(firstGlobal + 1); symtab.Info != want {
		add(6, "", 0, ".symtab sh_info is %d, the index of its first global is %d", symtab.Info, want)
	}
	if s, ok := im.syms[obj.EntrySymbol]; ok && im.f.Entry != s.Value {
		add(6, obj.EntrySymbol, s.Value, "the entry point is %#x, the entry stub is at %#x", im.f.Entry, s.Value)
	}
}

// checkFreeSpace checks that every byte of the loaded sections' file
// contents is an atom's, a trampoline's, or free space.
func checkFreeSpace(im *image, prog *obj.Program, atoms map[string]*obj.Atom, add func(int, string, uint64, string, ...any)) {
	type span struct{ lo, hi uint64 }
	var owned []span
	funcs := map[uint64]string{}
	for _, a := range prog.Atoms {
		if s, ok := im.syms[a.Name]; ok {
			owned = append(owned, span{s.Value, s.Value + a.Size})
			if a.IsFunc() {
				funcs[s.Value] = a.Name
			}
		}
	}
	// GOT slots that references use are owned too.
	for _, a := range prog.Atoms {
		s, ok := im.syms[a.Name]
		if !ok || a.Kind == obj.BSS {
			continue
		}
		data, ok := im.read(s.Value, a.Size)
		if !ok {
			continue
		}
		for _, r := range a.Relocs {
			if r.Kind.UsesGOT() {
				p := s.Value + r.Offset
				slot := p + uint64(int64(int32(binary.LittleEndian.Uint32(data[r.Offset:])))) - uint64(r.Addend)
				owned = append(owned, span{slot, slot + 8})
			}
		}
	}
	sort.Slice(owned, func(i, j int) bool { return owned[i].lo < owned[j].lo })
	for _, p := range im.progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 {
			continue
		}
		code := p.Flags&elf.PF_X != 0
		lo, hi := p.Vaddr, p.Vaddr+p.Filesz
		if p.Off == 0 {
			continue // the headers' segment
		}
		addr := lo
		k := sort.Search(len(owned), func(i int) bool { return owned[i].hi > lo })
		for addr < hi {
			if k < len(owned) && owned[k].lo <= addr {
				addr = max(addr, owned[k].hi)
				k++
				continue
			}
			end := hi
			if k < len(owned) && owned[k].lo < end {
				end = owned[k].lo
			}
			checkGap(im, addr, end, code, funcs, add)
			addr = end
		}
	}
}

// checkGap checks free space [lo, hi): int3 or trampolines in code, zeros
// elsewhere. It reports the first offending byte of the gap.
func checkGap(im *image, lo, hi uint64, code bool, funcs map[uint64]string, add func(int, string, uint64, string, ...any)) {
	b, ok := im.read(lo, hi-lo)
	if !ok {
		return
	}
	fill := byte(0)
	if code {
		fill = 0xcc
	}
	for i := uint64(0); i < uint64(len(b)); {
		if b[i] == fill {
			i++
			continue
		}
		at := lo + i
		if code && b[i] == 0xe9 && i+trampolineSize <= uint64(len(b)) {
			inst, err := x86asm.Decode(b[i:i+5], 64)
			if rel, isRel := inst.Args[0].(x86asm.Rel); err == nil && inst.Op == x86asm.JMP && isRel {
				target := at + 5 + uint64(int64(rel))
				if _, ok := funcs[target]; !ok {
					add(4, "", at, "trampoline jumps to %#x, which is no function's start: a chained or stale trampoline", target)
					return
				}
				i += trampolineSize
				continue
			}
		}
		what := "zero"
		if code {
			what = "int3 or a trampoline"
		}
		add(5, "", at, "byte %#02x is owned by no atom and is not free space (%s)", b[i], what)
		return
	}
}
