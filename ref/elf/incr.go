package elf

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The incremental output's file layout (incr.Image): the ELF header and
// program headers in the first page, then the regions of incr.RegionOrder
// (but .bss) at page-aligned file offsets, each as large as its capacity,
// then the symbol table, string tables and section headers, rewritten when
// symbols change.
const (
	incrPage     = 0x1000
	incrHdrSize  = incrPage
	incrBaseAddr = 0x1000000
)

// incrSections are the incremental output's allocated sections: one per
// region, in region order, with their ELF type, flags and alignment.
var incrSections = map[string]struct {
	typ   elf.SectionType
	flags elf.SectionFlag
	perm  elf.ProgFlag
	align uint64
}{
	incr.RegText:   {elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR, elf.PF_R | elf.PF_X, 16},
	incr.RegROData: {elf.SHT_PROGBITS, elf.SHF_ALLOC, elf.PF_R, 16},
	incr.RegData:   {elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE, elf.PF_R | elf.PF_W, 16},
	incr.RegGOT:    {elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE, elf.PF_R | elf.PF_W, 8},
	incr.RegBSS:    {elf.SHT_NOBITS, elf.SHF_ALLOC | elf.SHF_WRITE, elf.PF_R | elf.PF_W, 16},
}

// IncrImage is the incr.Image of ELF executables: a static ET_EXEC with one
// PT_LOAD per region and a symbol table sorted by name, locals first.
type IncrImage struct{}

var _ incr.Image = IncrImage{}

// Format implements incr.Image.
func (IncrImage) Format() obj.Format { return obj.ELF }

// Arch implements incr.Image.
func (IncrImage) Arch() arch.Arch { return arch.X86_64{} }

// BaseAddr implements incr.Image.
func (IncrImage) BaseAddr() uint64 { return incrBaseAddr }

// HeaderSize implements incr.Image: the first page holds the ELF header and
// the program headers.
func (IncrImage) HeaderSize() uint64 { return incrHdrSize }

// FileAlign implements incr.Image: regions are page-aligned.
func (IncrImage) FileAlign() uint64 { return incrPage }

// Tail implements incr.Image: .symtab, .strtab, .shstrtab and the section
// headers.
func (IncrImage) Tail(st *incr.State, fl *incr.FileLayout) (incr.Tail, error) {
	t := &incrTail{symIdx: make(map[string]int, len(st.Atoms))}
	names := make([]string, 0, len(st.Atoms))
	for n := range st.Atoms {
		names = append(names, n)
	}
	sort.Strings(names)
	symtab := make([]byte, symSize, symSize*(1+len(names))) // the null symbol
	strtab := []byte{0}
	add := func(local bool) {
		for _, n := range names {
			a := st.Atoms[n]
			if a.Local != local {
				continue
			}
			t.symIdx[n] = len(symtab) / symSize
			bind, kind := obj.Global, obj.SymData
			if a.Local {
				bind = obj.Local
			}
			if a.Kind == obj.Text {
				kind = obj.SymFunc
			}
			symtab = symbolEntry{name: uint32(len(strtab)), info: symInfo(bind, kind), shndx: uint16(regionIndex(incr.RegionFor(a.Kind))),
				value: a.Addr, size: a.Size}.appendTo(symtab)
			strtab = append(append(strtab, n...), 0)
		}
	}
	add(true)
	firstGlobal := uint32(len(symtab) / symSize)
	if st.Faults().Has(fault.SymtabInfoOffByOne) {
		firstGlobal++
	}
	add(false)
	t.file = incrFile(st, fl)
	t.file.symtab, t.file.strtab, t.file.firstGlobal = symtab, strtab, firstGlobal
	t.tabs = t.file.place(fl.TailOff)
	t.bytes = append(t.file.appendTables(nil, fl.TailOff, t.tabs), t.file.sectionHeaders(t.tabs)...)
	t.file.symtab, t.file.strtab = nil, nil // Headers needs their places only
	t.tailOff = fl.TailOff
	return t, nil
}

// regionIndex is the section index of a region (regions are sections 1..5).
func regionIndex(region string) int {
	for i, n := range incr.RegionOrder {
		if n == region {
			return 1 + i
		}
	}
	return 0
}

// incrFile describes the incremental output to the executable writer: a
// PT_LOAD per region and PT_GNU_STACK, a section per region.
func incrFile(st *incr.State, fl *incr.FileLayout) *exeFile {
	e := &exeFile{strtabFirst: true}
	if a, ok := st.Atoms[st.Entry]; ok {
		e.entry = a.Addr
	}
	for _, n := range incr.RegionOrder {
		r, s := st.Regions[n], incrSections[n]
		filesz, memsz := r.Cap, r.Cap
		if st.Faults().Has(fault.StaleSegmentSize) {
			filesz, memsz = min(r.Cap, incr.MinCap), min(r.Cap, incr.MinCap)
		}
		if n == incr.RegBSS {
			filesz = 0
		}
		e.phdrs = append(e.phdrs, progHeader{typ: elf.PT_LOAD, flags: s.perm, off: fl.Off[n], addr: r.Base, filesz: filesz, memsz: memsz, align: incrPage})
		e.names = append(e.names, n)
		e.sections = append(e.sections, sectionHeader{typ: s.typ, flags: s.flags, addr: r.Base, off: fl.Off[n], size: r.High, align: s.align})
	}
	e.phdrs = append(e.phdrs, progHeader{typ: elf.PT_GNU_STACK, flags: elf.PF_R | elf.PF_W, align: 16})
	return e
}

// incrTail is the tail as IncrImage wrote it.
type incrTail struct {
	file    *exeFile
	tabs    exeTables
	tailOff uint64
	bytes   []byte
	// symIdx maps an atom's name to its symbol table entry: entries are
	// sorted by name, locals first, so an index is stable while the set of
	// symbols (and their bindings) does not change.
	symIdx map[string]int
}

// Bytes implements incr.Tail.
func (t *incrTail) Bytes() []byte { return t.bytes }

// Headers implements incr.Tail: the ELF header and program headers, and the
// section header table, for the state's current region sizes and entry.
func (t *incrTail) Headers(st *incr.State, fl *incr.FileLayout) ([]incr.Chunk, error) {
	e := incrFile(st, fl)
	if _, ok := st.Atoms[st.Entry]; !ok {
		return nil, fmt.Errorf("no entry symbol %s", st.Entry)
	}
	head, err := e.header(t.tabs)
	if err != nil {
		return nil, err
	}
	return []incr.Chunk{{Off: 0, Data: head}, {Off: t.tabs.shOff, Data: e.sectionHeaders(t.tabs)}}, nil
}

// Symbol implements incr.Tail: st_value and st_size of the atom's entry.
func (t *incrTail) Symbol(st *incr.State, name string) (incr.Chunk, bool) {
	i, ok := t.symIdx[name]
	a := st.Atoms[name]
	if !ok || a == nil {
		return incr.Chunk{}, false
	}
	var e [16]byte
	binary.LittleEndian.PutUint64(e[0:], a.Addr)
	binary.LittleEndian.PutUint64(e[8:], a.Size)
	return incr.Chunk{Off: t.tabs.symOff + uint64(i)*symSize + 8, Data: e[:]}, true
}
