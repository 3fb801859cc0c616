// Package elf holds what is ELF's in linkcheck's reference implementation:
// the x86_64 relocatable object writer and reader (this file and
// objreader.go) that translate between ELF64 ET_REL files and the
// format-neutral model of package obj.
package elf

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// relaSize is the size of an ELF64 relocation with addend.
const relaSize = 24

// WriteObject serializes o as an ELF64 ET_REL object for x86_64.
//
// Each obj.Section becomes one ELF section of the same name, followed by a
// .rela<name> section when it has relocations; then come an empty
// .note.GNU-stack (non-executable stack), .symtab, .strtab and .shstrtab.
// Local symbols come first in .symtab, as the ELF specification requires,
// and SymSection symbols become STT_SECTION symbols with an empty name.
func WriteObject(o *obj.Object) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// Every section and symbol name is one string (a .rela name more per
	// relocated section): size the tables for them once.
	shstrLen, nrela, nrelocs := 64, 0, 0
	for _, s := range o.Sections {
		shstrLen += len(s.Name) + 1
		if len(s.Relocs) > 0 {
			shstrLen += len(s.Name) + len(".rela") + 1
			nrela++
			nrelocs += len(s.Relocs)
		}
	}
	strLen := 1
	for _, s := range o.Symbols {
		strLen += len(s.Name) + 1
	}
	w := &writer{o: o, shstr: newStrtabSized(shstrLen, len(o.Sections)+nrela+8), str: newStrtabSized(strLen, len(o.Symbols)+1),
		hdrs: make([]shdr, 0, 1+len(o.Sections)+nrela+8), relaBuf: make([]byte, 0, nrelocs*relaSize)}
	return w.write()
}

type writer struct {
	o     *obj.Object
	shstr *strtab
	str   *strtab
	// hdrs and relaBuf back the section headers and the relocation
	// sections' bytes, sized for the whole object.
	hdrs    []shdr
	relaBuf []byte
}

// newHdr returns a new section header h, from hdrs while they last.
func (w *writer) newHdr(h shdr) *shdr {
	if len(w.hdrs) == cap(w.hdrs) {
		return &h
	}
	w.hdrs = append(w.hdrs, h)
	return &w.hdrs[len(w.hdrs)-1]
}

// shdr is a section header under construction.
type shdr struct {
	name      string
	typ       elf.SectionType
	flags     elf.SectionFlag
	data      []byte
	size      uint64 // for NOBITS
	link      uint32
	info      uint32
	align     uint64
	entsize   uint64
	offset    uint64
	nameIndex uint32
}

// sectionFlags returns the ELF type and flags of an obj section.
func sectionFlags(s *obj.Section) (elf.SectionType, elf.SectionFlag) {
	typ := elf.SHT_PROGBITS
	var fl elf.SectionFlag
	switch s.Kind {
	case obj.Text:
		fl = elf.SHF_ALLOC | elf.SHF_EXECINSTR
		if s.Writable {
			fl |= elf.SHF_WRITE
		}
	case obj.ROData:
		fl = elf.SHF_ALLOC
	case obj.Data:
		fl = elf.SHF_ALLOC | elf.SHF_WRITE
	case obj.BSS:
		fl = elf.SHF_ALLOC | elf.SHF_WRITE
		if s.ReadOnly {
			fl = elf.SHF_ALLOC
		}
		typ = elf.SHT_NOBITS
		if s.Exec {
			fl |= elf.SHF_EXECINSTR
		}
	}
	if s.Note {
		typ = elf.SHT_NOTE
	}
	if s.EHFrame {
		typ = shtX86_64Unwind
	}
	if t := ArraySectionType(s.Name); t != elf.SHT_NULL && s.Kind == obj.Data {
		typ = t
	}
	if s.ArrayType != 0 {
		typ = elf.SectionType(s.ArrayType)
	}
	if s.Group != "" {
		fl |= elf.SHF_GROUP
	}
	if s.TLS {
		fl |= elf.SHF_TLS
	}
	if s.Merge {
		fl |= elf.SHF_MERGE
	}
	if s.Strings {
		fl |= elf.SHF_STRINGS
	}
	return typ, fl
}

// relocType translates a neutral relocation kind to its ELF x86_64 type.
// GOTLoad32 needs the section bytes: the REX form is used when the byte
// three before the field is a REX prefix (48 8b 05 disp32).
func relocType(s *obj.Section, r obj.Reloc) (elf.R_X86_64, error) {
	switch r.Kind {
	case obj.Abs64:
		return elf.R_X86_64_64, nil
	case obj.Abs32:
		return elf.R_X86_64_32, nil
	case obj.Abs32S:
		return elf.R_X86_64_32S, nil
	case obj.PCRel32:
		return elf.R_X86_64_PC32, nil
	case obj.Branch32:
		return elf.R_X86_64_PLT32, nil
	case obj.GOTPCRel32:
		return elf.R_X86_64_GOTPCREL, nil
	case obj.GOTLoad32:
		if r.Offset >= 3 && r.Offset-3 < uint64(len(s.Data)) {
			if b := s.Data[r.Offset-3]; b >= 0x40 && b <= 0x4f {
				return elf.R_X86_64_REX_GOTPCRELX, nil
			}
		}
		return elf.R_X86_64_GOTPCRELX, nil
	}
	if t, ok := elfRelocTypes[r.Kind]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("relocation kind %s has no ELF x86_64 equivalent", r.Kind)
}

func (w *writer) write() ([]byte, error) {
	o := w.o
	le := binary.LittleEndian

	// Symbol table: null, locals, then globals and weaks, each group in the
	// model's order. symIndex maps model indexes to ELF indexes.
	symIndex := make([]uint32, len(o.Symbols))
	var order []int
	for i, s := range o.Symbols {
		if s.Bind == obj.Local {
			order = append(order, i)
		}
	}
	// Signatures of COMDAT groups that no symbol of the object names
	// (the reader took the name of a symbol it drops): each gets a
	// local absolute symbol of that name, first after the null symbol.
	var extraSigs []string
	if w.hasGroups() {
		seen := map[string]bool{}
		for _, s := range o.Sections {
			if s.Group != "" && !seen[s.Group] {
				seen[s.Group] = true
				if w.signatureSymbol(s.Group) < 0 {
					extraSigs = append(extraSigs, s.Group)
				}
			}
		}
	}
	nextra := len(extraSigs)
	firstGlobal := uint32(nextra + len(order) + 1)
	for i, s := range o.Symbols {
		if s.Bind != obj.Local {
			order = append(order, i)
		}
	}
	// Section header indexes: 0 null, 1..n the obj sections, then relas,
	// then .note.GNU-stack, .symtab, .strtab, .shstrtab.
	shdrs := make([]*shdr, 0, cap(w.hdrs))
	shdrs = append(shdrs, w.newHdr(shdr{}))
	for _, s := range o.Sections {
		typ, fl := sectionFlags(s)
		h := w.newHdr(shdr{name: s.Name, typ: typ, flags: fl, data: s.Data, size: s.Size, align: s.Align})
		if s.Merge {
			h.entsize = s.EntSize
		}
		shdrs = append(shdrs, h)
	}
	nsec := len(shdrs)
	for i, s := range o.Sections {
		if len(s.Relocs) == 0 {
			continue
		}
		n := len(s.Relocs) * relaSize
		var buf []byte
		if start := len(w.relaBuf); cap(w.relaBuf)-start >= n {
			buf, w.relaBuf = w.relaBuf[start:start:start+n], w.relaBuf[:start+n]
		} else {
			buf = make([]byte, 0, n)
		}
		for j, r := range s.Relocs {
			typ, err := relocType(s, r)
			if err != nil {
				return nil, fmt.Errorf("%s: section %s: reloc %d at offset %#x: %w", o.Name, s.Name, j, r.Offset, err)
			}
			buf = le.AppendUint64(buf, r.Offset)
			buf = le.AppendUint64(buf, elf.R_INFO(0, uint32(typ))) // symbol patched below
			buf = le.AppendUint64(buf, uint64(r.Addend))
		}
		shdrs = append(shdrs, w.newHdr(shdr{name: ".rela" + s.Name, typ: elf.SHT_RELA, flags: elf.SHF_INFO_LINK,
			data: buf, info: uint32(i + 1), align: 8, entsize: relaSize}))
	}
	// COMDAT groups: one SHT_GROUP per signature, in order of first
	// appearance, listing its sections and their relocation sections;
	// sh_info (the signature symbol) is patched below.
	type group struct {
		hdr *shdr
		sym int // the signature symbol's index in o.Symbols, or -1-k for extraSigs[k]
	}
	var groups []group
	if w.hasGroups() {
		relaOf := make([]uint32, len(o.Sections))
		for i := nsec; i < len(shdrs); i++ {
			relaOf[shdrs[i].info-1] = uint32(i)
		}
		bySig := map[string]int{}
		for i, s := range o.Sections {
			if s.Group == "" {
				continue
			}
			g, ok := bySig[s.Group]
			if !ok {
				sym := w.signatureSymbol(s.Group)
				if sym < 0 {
					sym = -1 - slices.Index(extraSigs, s.Group)
				}
				g = len(groups)
				bySig[s.Group] = g
				groups = append(groups, group{hdr: &shdr{name: ".group", typ: elf.SHT_GROUP, align: 4, entsize: 4, data: le.AppendUint32(nil, 1)}, sym: sym})
			}
			h := groups[g].hdr
			h.data = le.AppendUint32(h.data, uint32(i+1))
			if r := relaOf[i]; r != 0 {
				h.data = le.AppendUint32(h.data, r)
				shdrs[r].flags |= elf.SHF_GROUP
			}
		}
		for _, g := range groups {
			shdrs = append(shdrs, g.hdr)
		}
	}
	shdrs = append(shdrs, &shdr{name: ".note.GNU-stack", typ: elf.SHT_PROGBITS, align: 1})
	symtabIndex := uint32(len(shdrs))
	// Extended section numbering: a symbol of a section whose index is
	// SHN_LORESERVE or more has SHN_XINDEX, and its index goes to
	// .symtab_shndx (after .symtab), as LLVM writes it.
	xindex := nsec > int(elf.SHN_LORESERVE)
	strtabIndex := symtabIndex + 1
	if xindex {
		strtabIndex++
	}
	shstrtabIndex := strtabIndex + 1
	var shndxTab []byte
	if xindex {
		shndxTab = make([]byte, 4*(nextra+len(order)+1))
	}

	// Symbols.
	symtab := make([]byte, symSize) // null symbol
	for _, sig := range extraSigs {
		symtab = symbolEntry{name: w.str.add(sig), info: symInfo(obj.Local, obj.SymNone), shndx: uint16(elf.SHN_ABS)}.appendTo(symtab)
	}
	for n, i := range order {
		s := o.Symbols[i]
		n += nextra
		symIndex[i] = uint32(n + 1)
		var name uint32
		if s.Kind != obj.SymSection {
			name = w.str.add(s.Name)
		}
		var shndx uint16
		switch s.Section {
		case obj.Undef:
			shndx = uint16(elf.SHN_UNDEF)
		case obj.Abs:
			shndx = uint16(elf.SHN_ABS)
		default:
			if idx := s.Section + 1; idx >= int(elf.SHN_LORESERVE) {
				shndx = uint16(elf.SHN_XINDEX)
				le.PutUint32(shndxTab[4*(n+1):], uint32(idx))
			} else {
				shndx = uint16(idx)
			}
		}
		if s.Kind == obj.SymSection && (s.Section < 0 || s.Bind != obj.Local) {
			return nil, fmt.Errorf("%s: symbol %d: section symbol must be local and defined in a section", o.Name, i)
		}
		symtab = symbolEntry{name: name, info: symInfo(s.Bind, s.Kind), other: byte(s.Visibility), shndx: shndx, value: s.Value, size: s.Size}.appendTo(symtab)
	}
	// Patch relocation symbol indexes.
	rela := nsec
	for _, s := range o.Sections {
		if len(s.Relocs) == 0 {
			continue
		}
		buf := shdrs[rela].data
		for j, r := range s.Relocs {
			info := le.Uint64(buf[j*relaSize+8:])
			le.PutUint64(buf[j*relaSize+8:], elf.R_INFO(symIndex[r.Sym], uint32(info)))
		}
		shdrs[rela].link = symtabIndex
		rela++
	}
	for _, g := range groups {
		g.hdr.link = symtabIndex
		if g.sym >= 0 {
			g.hdr.info = symIndex[g.sym]
		} else {
			g.hdr.info = uint32(-g.sym) // extraSigs[-1-sym] is symbol -sym
		}
	}
	shdrs = append(shdrs, &shdr{name: ".symtab", typ: elf.SHT_SYMTAB, data: symtab, link: strtabIndex, info: firstGlobal, align: 8, entsize: symSize})
	if xindex {
		shdrs = append(shdrs, &shdr{name: ".symtab_shndx", typ: elf.SHT_SYMTAB_SHNDX, data: shndxTab, link: symtabIndex, align: 4, entsize: 4})
	}
	shdrs = append(shdrs, &shdr{name: ".strtab", typ: elf.SHT_STRTAB, data: w.str.buf, align: 1})
	shstr := &shdr{name: ".shstrtab", typ: elf.SHT_STRTAB, align: 1}
	shdrs = append(shdrs, shstr)
	for _, h := range shdrs[1:] {
		h.nameIndex = w.shstr.add(h.name)
	}
	shstr.data = w.shstr.buf

	// Layout: header, section contents, section header table.
	off := uint64(ehdrSize)
	for _, h := range shdrs[1:] {
		if h.typ == elf.SHT_NOBITS {
			h.offset = off
			continue
		}
		off = alignUp(off, min(max(h.align, 1), 16))
		h.offset = off
		h.size = uint64(len(h.data))
		off += h.size
	}
	shoff := alignUp(off, 8)
	out := make([]byte, shoff+uint64(len(shdrs))*shdrSize)

	// Extended numbering: e_shnum 0 and the count in section 0's
	// sh_size; e_shstrndx SHN_XINDEX and the index in its sh_link.
	shnum, shstrIndex := uint16(len(shdrs)), uint16(shstrtabIndex)
	if len(shdrs) >= int(elf.SHN_LORESERVE) {
		shnum = 0
		shdrs[0].size = uint64(len(shdrs))
	}
	if shstrtabIndex >= uint32(elf.SHN_LORESERVE) {
		shstrIndex = uint16(elf.SHN_XINDEX)
		shdrs[0].link = shstrtabIndex
	}
	fileHeader{typ: elf.ET_REL, shoff: shoff, shnum: shnum, shstrIndex: shstrIndex}.put(out)
	for i, h := range shdrs {
		if h.typ != elf.SHT_NOBITS {
			copy(out[h.offset:], h.data)
		}
		sectionHeader{name: h.nameIndex, typ: h.typ, flags: h.flags, off: h.offset, size: h.size,
			link: h.link, info: h.info, align: h.align, entsize: h.entsize}.put(out[shoff+uint64(i)*shdrSize:])
	}
	return out, nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// strtab builds an ELF string table, sharing equal strings.
type strtab struct {
	buf []byte
	idx map[string]uint32
}

func newStrtab() *strtab { return newStrtabSized(1, 1) }

// newStrtabSized is newStrtab with room for size bytes and n strings.
func newStrtabSized(size, n int) *strtab {
	t := &strtab{buf: make([]byte, 1, size), idx: make(map[string]uint32, n)}
	t.idx[""] = 0
	return t
}

func (t *strtab) add(s string) uint32 {
	if i, ok := t.idx[s]; ok {
		return i
	}
	i := uint32(len(t.buf))
	t.buf = append(t.buf, s...)
	t.buf = append(t.buf, 0)
	t.idx[s] = i
	return i
}

// hasGroups reports whether a section of the object is in a COMDAT group.
func (w *writer) hasGroups() bool {
	for _, s := range w.o.Sections {
		if s.Group != "" {
			return true
		}
	}
	return false
}

// signatureSymbol returns the index of the symbol that signs the COMDAT
// group sig, as ReadObject names it: a symbol of that name (not a
// section symbol) first, else the section symbol of a section of that
// name; -1 when there is none.
func (w *writer) signatureSymbol(sig string) int {
	sec := -1
	for i, s := range w.o.Symbols {
		if s.Kind != obj.SymSection && s.Name == sig {
			return i
		}
		if sec < 0 && s.Kind == obj.SymSection && s.Section >= 0 && s.Section < len(w.o.Sections) && w.o.Sections[s.Section].Name == sig {
			sec = i
		}
	}
	return sec
}
