package invariant

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"sort"
	"sync"

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
//   - the symbol table names only what the version defines, the locals
//     come first (ELF's sh_info is the index of its first global; Mach-O's
//     LC_DYSYMTAB groups say so), and the entry point is the entry stub's
//     address (6).

// trampolineSize is the room of one trampoline: jmp rel32 and int3 padding.
const trampolineSize = 8

// checkStructure runs the structural invariants.
// atoms are prog's by name.
// sc is the check's scratch memory.
func checkStructure(im *image, prog *obj.Program, atoms map[string]*obj.Atom, sc *scratch, add addFunc) {
	for i, a := range prog.Atoms {
		if s, ok := im.placed[i].symbol, im.placed[i].ok; ok && a.Align > 1 && s.value%a.Align != 0 {
			add(5, a.Name, s.value, "at an address aligned to %d bytes only; the atom wants %d", s.value&-s.value, a.Align)
		}
	}
	checkSymbolTable(im, atoms, add)
	checkFreeSpace(im, prog, sc, add)
}

// checkSymbolTable checks the symbol table against the version: it names
// only what the version defines (and what the format reserves), and the
// entry point is the entry stub's address. The format's own rules (ELF's
// sh_info, Mach-O's LC_DYSYMTAB groups) are image.check's.
func checkSymbolTable(im *image, atoms map[string]*obj.Atom, add addFunc) {
	for _, s := range im.list {
		if atoms[s.name] == nil && !im.reserved(s.name) {
			add(6, s.name, s.value, "in the symbol table, but the current version defines no such atom")
		}
	}
	if s, ok := im.syms[obj.EntrySymbol]; ok && im.entry != s.value {
		add(6, obj.EntrySymbol, s.value, "the entry point is %#x, the entry stub is at %#x", im.entry, s.value)
	}
}

// checkFreeSpace checks that every byte of the loaded sections' file
// contents is an atom's, a trampoline's, or free space.
func checkFreeSpace(im *image, prog *obj.Program, sc *scratch, add addFunc) {
	owned := sc.owned[:0]
	funcs := sc.funcs
	clear(funcs)
	for i, a := range prog.Atoms {
		if s, ok := im.placed[i].symbol, im.placed[i].ok; ok {
			owned = append(owned, ownedSpan{s.value, s.value + a.Size})
			if a.IsFunc() {
				funcs[s.value] = a.Name
			}
		}
	}
	// GOT slots that references use are owned too: each slot once (a
	// slot is referenced from every load of its symbol).
	slots := sc.slots[:0]
	for i, a := range prog.Atoms {
		s, ok := im.placed[i].symbol, im.placed[i].ok
		if !ok || a.Kind == obj.BSS {
			continue
		}
		data, ok := im.read(s.value, a.Size)
		if !ok {
			continue
		}
		for _, r := range a.Relocs {
			if r.Kind.UsesGOT() {
				p := s.value + r.Offset
				slots = append(slots, p+uint64(int64(int32(binary.LittleEndian.Uint32(data[r.Offset:]))))-uint64(r.Addend))
			}
		}
	}
	slices.Sort(slots)
	slots = slices.Compact(slots)
	for _, slot := range slots {
		owned = append(owned, ownedSpan{slot, slot + 8})
	}
	slices.SortFunc(owned, func(x, y ownedSpan) int { return cmp.Compare(x.lo, y.lo) })
	sc.owned, sc.slots = owned, slots
	for _, p := range im.segs {
		if p.tables || p.filesz == 0 || p.body == 0 {
			continue
		}
		code := p.exec
		lo, hi := p.body, p.vaddr+p.filesz
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

// ownedSpan is an address range [lo, hi) that an atom or a GOT slot owns.
type ownedSpan struct{ lo, hi uint64 }

// scratch is a check's memory, kept between checks (the checked update
// loop checks every update): what it holds is cleared before use
// (reset, and checkFreeSpace's own), and nothing of it outlives a check.
type scratch struct {
	syms     map[string]symbol
	atoms    map[string]*obj.Atom
	gotSlots map[uint64]string
	pointers map[uint64]string
	gotOK    map[uint64]bool
	placed   []placed

	owned []ownedSpan
	slots []uint64
	funcs map[uint64]string
}

// reset clears the maps of CheckProgram and returns the symbol map.
func (sc *scratch) reset() map[string]symbol {
	clear(sc.syms)
	clear(sc.atoms)
	clear(sc.gotSlots)
	clear(sc.pointers)
	clear(sc.gotOK)
	return sc.syms
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{syms: map[string]symbol{}, atoms: map[string]*obj.Atom{}, gotSlots: map[uint64]string{},
		pointers: map[uint64]string{}, gotOK: map[uint64]bool{}, funcs: map[uint64]string{}}
}}

// zeroFill and codeFill are runs of free space to compare free space with
// (never written).
var (
	zeroFill = make([]byte, 256)
	codeFill = bytes.Repeat([]byte{0xcc}, 256)
)

// skipFill returns the length of b's leading run of fill bytes, a block
// at a time where it can.
func skipFill(b []byte, fill byte) uint64 {
	n := 0
	var blk []byte
	switch fill {
	case 0:
		blk = zeroFill
	case 0xcc:
		blk = codeFill
	}
	if blk != nil {
		for n+len(blk) <= len(b) && bytes.Equal(b[n:n+len(blk)], blk) {
			n += len(blk)
		}
	}
	word := uint64(fill) * 0x0101010101010101
	for n+8 <= len(b) && binary.LittleEndian.Uint64(b[n:]) == word {
		n += 8
	}
	for n < len(b) && b[n] == fill {
		n++
	}
	return uint64(n)
}

// checkGap checks free space [lo, hi): int3 or trampolines in code, zeros
// elsewhere. It reports the first offending byte of the gap.
func checkGap(im *image, lo, hi uint64, code bool, funcs map[uint64]string, add addFunc) {
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
			i += skipFill(b[i:], fill)
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
