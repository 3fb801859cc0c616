package elf

import (
	"debug/elf"
	"encoding/binary"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Sizes of the ELF64 structures linkcheck writes.
const (
	ehdrSize = 64
	phdrSize = 56
	shdrSize = 64
	symSize  = 24
)

// fileHeader holds the fields of an ELF64 x86_64 file header that differ
// between the object writer, the linker and the incremental output.
type fileHeader struct {
	typ                      elf.Type
	entry, phoff, shoff      uint64
	phnum, shnum, shstrIndex uint16
}

// put encodes the header into b[:ehdrSize].
func (h fileHeader) put(b []byte) {
	le := binary.LittleEndian
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	b[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	b[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	b[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	le.PutUint16(b[16:], uint16(h.typ))
	le.PutUint16(b[18:], uint16(elf.EM_X86_64))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[24:], h.entry)
	le.PutUint64(b[32:], h.phoff)
	le.PutUint64(b[40:], h.shoff)
	le.PutUint16(b[52:], ehdrSize)
	if h.phnum > 0 {
		le.PutUint16(b[54:], phdrSize)
	}
	le.PutUint16(b[56:], h.phnum)
	le.PutUint16(b[58:], shdrSize)
	le.PutUint16(b[60:], h.shnum)
	le.PutUint16(b[62:], h.shstrIndex)
}

// progHeader is an ELF64 program header (p_paddr = p_vaddr).
type progHeader struct {
	typ                             elf.ProgType
	flags                           elf.ProgFlag
	off, addr, filesz, memsz, align uint64
}

// put encodes the program header into b[:phdrSize].
func (p progHeader) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(p.typ))
	le.PutUint32(b[4:], uint32(p.flags))
	le.PutUint64(b[8:], p.off)
	le.PutUint64(b[16:], p.addr)
	le.PutUint64(b[24:], p.addr)
	le.PutUint64(b[32:], p.filesz)
	le.PutUint64(b[40:], p.memsz)
	le.PutUint64(b[48:], p.align)
}

// sectionHeader is an ELF64 section header.
type sectionHeader struct {
	name            uint32
	typ             elf.SectionType
	flags           elf.SectionFlag
	addr, off, size uint64
	link, info      uint32
	align, entsize  uint64
}

// put encodes the section header into b[:shdrSize].
func (s sectionHeader) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], s.name)
	le.PutUint32(b[4:], uint32(s.typ))
	le.PutUint64(b[8:], uint64(s.flags))
	le.PutUint64(b[16:], s.addr)
	le.PutUint64(b[24:], s.off)
	le.PutUint64(b[32:], s.size)
	le.PutUint32(b[40:], s.link)
	le.PutUint32(b[44:], s.info)
	le.PutUint64(b[48:], s.align)
	le.PutUint64(b[56:], s.entsize)
}

// symbolEntry is an ELF64 symbol table entry.
type symbolEntry struct {
	name        uint32 // offset in the string table
	info        byte
	other       byte // st_other: the visibility
	shndx       uint16
	value, size uint64
}

// appendTo appends the entry's symSize bytes to b.
func (s symbolEntry) appendTo(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, s.name)
	b = append(b, s.info, s.other)
	b = le.AppendUint16(b, s.shndx)
	b = le.AppendUint64(b, s.value)
	return le.AppendUint64(b, s.size)
}

// symInfo is the st_info byte of a symbol with binding b and kind k.
func symInfo(b obj.Binding, k obj.SymKind) byte {
	bind := elf.STB_GLOBAL
	switch b {
	case obj.Local:
		bind = elf.STB_LOCAL
	case obj.Weak:
		bind = elf.STB_WEAK
	}
	typ := elf.STT_NOTYPE
	switch k {
	case obj.SymFunc:
		typ = elf.STT_FUNC
	case obj.SymData:
		typ = elf.STT_OBJECT
	case obj.SymSection:
		typ = elf.STT_SECTION
	case obj.SymTLS:
		typ = elf.STT_TLS
	case obj.SymIFunc:
		typ = elf.STT_GNU_IFUNC
	}
	return elf.ST_INFO(bind, typ)
}
