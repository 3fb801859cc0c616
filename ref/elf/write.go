package elf

import (
	"debug/elf"
	"fmt"
)

// exeFile is an ELF executable as the one executable writer sees it,
// whichever layout made it (the full link's link.Layout in exe.go, the
// incremental output's state in incr.go): the allocated sections and the
// program headers as the layout placed them, the symbol table, and the
// entry. The loaded part of the file is the caller's; the writer encodes
// the file header and program headers, the non-allocated tables after the
// loaded part, and the section header table.
type exeFile struct {
	entry uint64
	phdrs []progHeader
	// sections are the allocated sections' headers in section-index order
	// from 1; their name fields are set by the writer from names.
	sections []sectionHeader
	names    []string
	// symtab holds the encoded entries, the null symbol first; locals
	// come before firstGlobal.
	symtab, strtab []byte
	firstGlobal    uint32
	// strtabFirst puts .strtab before .shstrtab, in the file and in the
	// section headers (the incremental layout); ld.lld puts .shstrtab
	// first.
	strtabFirst bool

	shstr   []byte   // the section name table, once computed
	nameOff []uint32 // each section's name in it, from index 1
}

// exeTables is where the writer put the non-allocated tables.
type exeTables struct {
	symOff, strOff, shstrOff, shOff, end uint64
	symLen, strLen                       uint64
	firstGlobal                          uint32
}

// shstrtab returns the section name table: a NUL, then the allocated
// sections' names, .symtab and the two string tables, and each section's
// name offset (from index 1).
func (e *exeFile) shstrtab() ([]byte, []uint32) {
	if e.shstr != nil {
		return e.shstr, e.nameOff
	}
	names := append(append([]string(nil), e.names...), ".symtab")
	if e.strtabFirst {
		names = append(names, ".strtab", ".shstrtab")
	} else {
		names = append(names, ".shstrtab", ".strtab")
	}
	tab := []byte{0}
	off := make([]uint32, len(names))
	for i, n := range names {
		off[i] = uint32(len(tab))
		tab = append(append(tab, n...), 0)
	}
	e.shstr, e.nameOff = tab, off
	return tab, off
}

// numSections counts the section headers, the null one included.
func (e *exeFile) numSections() int { return 1 + len(e.sections) + 3 }

// place lays out the tables from file offset start: .symtab 8-aligned, the
// two string tables after it, the section headers 8-aligned after them.
func (e *exeFile) place(start uint64) exeTables {
	shstr, _ := e.shstrtab()
	t := exeTables{symOff: alignUp(start, 8), symLen: uint64(len(e.symtab)), strLen: uint64(len(e.strtab)), firstGlobal: e.firstGlobal}
	second := t.symOff + t.symLen
	if e.strtabFirst {
		t.strOff, t.shstrOff = second, second+t.strLen
	} else {
		t.shstrOff, t.strOff = second, second+uint64(len(shstr))
	}
	t.shOff = alignUp(max(t.strOff+t.strLen, t.shstrOff+uint64(len(shstr))), 8)
	t.end = t.shOff + uint64(e.numSections())*shdrSize
	return t
}

// appendTables appends to out, which ends at file offset start, the bytes
// of the file from there to t.shOff: padding, .symtab and the string
// tables. A .symtab already built in place, in out's spare capacity at
// t.symOff (Exe.Write), is not copied.
func (e *exeFile) appendTables(out []byte, start uint64, t exeTables) []byte {
	shstr, _ := e.shstrtab()
	base := start - uint64(len(out)) // the file offset of out[0]
	out = appendZeros(out, t.symOff-start)
	sym := t.symOff - base
	if n := uint64(len(e.symtab)); n > 0 && uint64(cap(out)) >= sym+n && &out[:sym+1][sym] == &e.symtab[0] {
		out = out[:sym+n]
	} else {
		out = append(out, e.symtab...)
	}
	first, second := e.strtab, shstr
	if t.shstrOff < t.strOff {
		first, second = shstr, e.strtab
	}
	out = append(append(out, first...), second...)
	return appendZeros(out, t.shOff-base-uint64(len(out)))
}

// appendZeros appends n zero bytes to b.
func appendZeros(b []byte, n uint64) []byte {
	for ; n > 0; n-- {
		b = append(b, 0)
	}
	return b
}

// header returns the file header followed by the program headers.
func (e *exeFile) header(t exeTables) ([]byte, error) {
	n := e.numSections()
	if n >= int(elf.SHN_LORESERVE) {
		return nil, fmt.Errorf("%d sections: too many for ELF section indexes", n)
	}
	shstrIndex := n - 2
	if e.strtabFirst {
		shstrIndex = n - 1
	}
	b := make([]byte, ehdrSize+len(e.phdrs)*phdrSize)
	fileHeader{typ: elf.ET_EXEC, entry: e.entry, phoff: ehdrSize, shoff: t.shOff,
		phnum: uint16(len(e.phdrs)), shnum: uint16(n), shstrIndex: uint16(shstrIndex)}.put(b)
	for i, p := range e.phdrs {
		p.put(b[ehdrSize+i*phdrSize:])
	}
	return b, nil
}

// sectionHeaders returns the section header table.
func (e *exeFile) sectionHeaders(t exeTables) []byte {
	_, nameOff := e.shstrtab()
	n := e.numSections()
	sh := make([]byte, n*shdrSize)
	for i, s := range e.sections {
		s.name = nameOff[i]
		s.put(sh[(1+i)*shdrSize:])
	}
	k := 1 + len(e.sections)
	symtab, str, shstr := k, k+2, k+1
	if e.strtabFirst {
		str, shstr = k+1, k+2
	}
	sectionHeader{name: nameOff[symtab-1], typ: elf.SHT_SYMTAB, off: t.symOff, size: t.symLen, link: uint32(str), info: t.firstGlobal, align: 8, entsize: symSize}.put(sh[symtab*shdrSize:])
	sectionHeader{name: nameOff[str-1], typ: elf.SHT_STRTAB, off: t.strOff, size: t.strLen, align: 1}.put(sh[str*shdrSize:])
	sectionHeader{name: nameOff[shstr-1], typ: elf.SHT_STRTAB, off: t.shstrOff, size: uint64(len(e.shstr)), align: 1}.put(sh[shstr*shdrSize:])
	return sh
}

// appendTo appends the tables and the section headers to the loaded part
// of a file (image) and writes the headers at its start.
func (e *exeFile) appendTo(image []byte) ([]byte, error) {
	t := e.place(uint64(len(image)))
	head, err := e.header(t)
	if err != nil {
		return nil, err
	}
	out := append(e.appendTables(image, uint64(len(image)), t), e.sectionHeaders(t)...)
	copy(out, head)
	return out, nil
}
