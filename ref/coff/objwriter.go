// Package coff holds what is COFF's in linkcheck's reference
// implementation: the x86_64 (AMD64) object writer that serializes the
// format-neutral model of package obj.
package coff

import (
	"debug/pe"
	"encoding/binary"
	"fmt"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// AMD64 relocation types (debug/pe has none).
const (
	RelAMD64Absolute = 0x0000 // IMAGE_REL_AMD64_ABSOLUTE
	RelAMD64Addr64   = 0x0001 // IMAGE_REL_AMD64_ADDR64
	RelAMD64Addr32   = 0x0002 // IMAGE_REL_AMD64_ADDR32
	RelAMD64Addr32NB = 0x0003 // IMAGE_REL_AMD64_ADDR32NB
	RelAMD64Rel32    = 0x0004 // IMAGE_REL_AMD64_REL32
	RelAMD64Rel32_1  = 0x0005 // IMAGE_REL_AMD64_REL32_1
	RelAMD64Rel32_5  = 0x0009 // IMAGE_REL_AMD64_REL32_5
)

// Sizes and other COFF constants.
const (
	fileHeaderSize    = 20
	sectionHeaderSize = 40
	symbolSize        = 18
	relocSize         = 10
	symClassExternal  = 2 // IMAGE_SYM_CLASS_EXTERNAL
	symClassStatic    = 3 // IMAGE_SYM_CLASS_STATIC
	symDtypeFunction  = 0x20
	symAbsolute       = -1 // IMAGE_SYM_ABSOLUTE
	maxAlign          = 8192
	maxRelocs         = 0xffff
)

// RefptrPrefix names the per-object pointer cells that stand in for GOT
// slots: GOTLoad32 and GOTPCRel32 against NAME become REL32 against
// .refptr.NAME, an 8-byte .rdata cell holding an ADDR64 to NAME, as mingw
// does.
const RefptrPrefix = ".refptr."

// section is a COFF section under construction.
type section struct {
	name    string
	flags   uint32
	data    []byte // nil for .bss
	size    uint64
	relocs  []reloc
	symbol  int   // index of its section symbol in the symbol table
	comdat  uint8 // IMAGE_COMDAT_SELECT_* of a COMDAT section, else 0
	dataOff uint32
	relOff  uint32
}

type reloc struct {
	offset uint32
	sym    int // index into syms (before symbol-table numbering)
	typ    uint16
}

// symbol is a symbol-table record under construction; aux holds the
// section-definition auxiliary record of a section symbol.
type symbol struct {
	name    string
	value   uint32
	section int16
	typ     uint16
	class   uint8
	secdef  bool // a section symbol, followed by a section-definition record
	aux     []byte
	index   int // symbol-table index
}

// WriteObject serializes o as a COFF object for x86_64
// (IMAGE_FILE_MACHINE_AMD64).
//
// Each obj.Section becomes one COFF section named by kind (.text, .rdata,
// .data, .bss; COFF allows duplicates and lld-link merges them by name),
// with IMAGE_SCN_ALIGN_* flags (alignments up to 8192) and a static
// section symbol with a section-definition auxiliary record. Symbols keep
// their C names (no underscore on x64); locals are IMAGE_SYM_CLASS_STATIC,
// globals IMAGE_SYM_CLASS_EXTERNAL. Weak symbols are refused: COFF's weak
// externals do not have ELF's meaning.
//
// Relocations carry their addend in the field: Branch32 and PCRel32 become
// IMAGE_REL_AMD64_REL32 with the field holding A + 4 (the linker computes
// S + field - (P + 4)), as LLVM emits them; Abs64 → ADDR64, Abs32 →
// ADDR32 and ImageRel32 → ADDR32NB with the field holding A. Abs32S has no
// COFF equivalent. COFF has no GOT: GOTLoad32 and GOTPCRel32 against NAME
// become REL32 against a pointer cell .refptr.NAME appended to the object
// (see RefptrPrefix); lld-link emits the base relocation for the cell.
func WriteObject(o *obj.Object) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	le := binary.LittleEndian

	var secs []*section
	var syms []*symbol
	secSym := make([]int, len(o.Sections)) // obj section -> syms index of its section symbol
	for i, s := range o.Sections {
		sec := &section{size: s.Size}
		switch s.Kind {
		case obj.Text:
			sec.name = ".text"
			sec.flags = pe.IMAGE_SCN_CNT_CODE | pe.IMAGE_SCN_MEM_EXECUTE | pe.IMAGE_SCN_MEM_READ
		case obj.ROData:
			sec.name = ".rdata"
			sec.flags = pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ
		case obj.Data:
			sec.name = ".data"
			sec.flags = pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ | pe.IMAGE_SCN_MEM_WRITE
		case obj.BSS:
			sec.name = ".bss"
			sec.flags = pe.IMAGE_SCN_CNT_UNINITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ | pe.IMAGE_SCN_MEM_WRITE
		}
		if s.Align > maxAlign {
			return nil, fmt.Errorf("%s: section %s: alignment %d exceeds COFF's maximum of %d", o.Name, s.Name, s.Align, maxAlign)
		}
		sec.flags |= alignFlag(s.Align)
		if s.Kind != obj.BSS {
			sec.data = append([]byte(nil), s.Data...)
		}
		secs = append(secs, sec)
		secSym[i] = len(syms)
		syms = append(syms, &symbol{name: sec.name, section: int16(i + 1), class: symClassStatic, secdef: true})
	}
	// The model's symbols; section symbols map to the COFF section symbol.
	modelSym := make([]int, len(o.Symbols))
	for i, s := range o.Symbols {
		if s.Kind == obj.SymSection {
			modelSym[i] = secSym[s.Section]
			continue
		}
		if s.Bind == obj.Weak {
			return nil, fmt.Errorf("%s: symbol %q: weak symbols are not supported in COFF output", o.Name, s.Name)
		}
		sym := &symbol{name: s.Name, value: uint32(s.Value)}
		if s.Value > 1<<32-1 {
			return nil, fmt.Errorf("%s: symbol %q: value %#x does not fit COFF's 32 bits", o.Name, s.Name, s.Value)
		}
		switch s.Section {
		case obj.Undef:
			sym.section = 0
		case obj.Abs:
			sym.section = symAbsolute
		default:
			sym.section = int16(s.Section + 1)
		}
		if s.Kind == obj.SymFunc {
			sym.typ = symDtypeFunction
		}
		sym.class = symClassExternal
		if s.Bind == obj.Local {
			sym.class = symClassStatic
		}
		modelSym[i] = len(syms)
		syms = append(syms, sym)
	}

	// Pointer cells for GOT references, one per target symbol, in order of
	// first use.
	cell := map[int]int{} // model symbol -> syms index of its cell
	cellFor := func(target int) int {
		if c, ok := cell[target]; ok {
			return c
		}
		t := o.Symbols[target]
		data := make([]byte, 8)
		var addend int64
		tsym := modelSym[target]
		if t.Kind == obj.SymSection {
			addend = int64(t.Value)
		}
		le.PutUint64(data, uint64(addend))
		sec := &section{name: GOTSection, size: 8, data: data,
			flags:  pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ | alignFlag(8),
			relocs: []reloc{{offset: 0, sym: tsym, typ: RelAMD64Addr64}}}
		// A global's cell is a COMDAT (selection ANY) led by the global
		// .refptr.NAME, so that lld-link keeps one cell per symbol, the
		// first object's; a local's cell is the object's own.
		class := uint8(symClassStatic)
		if t.Bind != obj.Local && t.Kind != obj.SymSection {
			sec.flags |= scnLnkComdat
			sec.comdat = ComdatAny
			class = symClassExternal
		}
		secs = append(secs, sec)
		syms = append(syms, &symbol{name: GOTSection, section: int16(len(secs)), class: symClassStatic, secdef: true})
		c := len(syms)
		syms = append(syms, &symbol{name: RefptrPrefix + t.Name, section: int16(len(secs)), class: class})
		cell[target] = c
		return c
	}

	for i, s := range o.Sections {
		sec := secs[i]
		for j, r := range s.Relocs {
			where := func(err error) error {
				return fmt.Errorf("%s: section %s: reloc %d at offset %#x: %w", o.Name, s.Name, j, r.Offset, err)
			}
			target := modelSym[r.Sym]
			addend := r.Addend
			if t := o.Symbols[r.Sym]; t.Kind == obj.SymSection {
				addend += int64(t.Value)
			}
			var typ uint16
			var field int64
			switch r.Kind {
			case obj.Branch32, obj.PCRel32:
				typ, field = RelAMD64Rel32, addend+4
			case obj.GOTLoad32, obj.GOTPCRel32:
				target = cellFor(r.Sym)
				typ, field = RelAMD64Rel32, r.Addend+4
			case obj.Abs64:
				typ, field = RelAMD64Addr64, addend
			case obj.Abs32:
				typ, field = RelAMD64Addr32, addend
			case obj.ImageRel32:
				typ, field = RelAMD64Addr32NB, addend
			default:
				return nil, where(fmt.Errorf("relocation kind %s has no COFF x86_64 equivalent", r.Kind))
			}
			if r.Offset > 1<<32-1 {
				return nil, where(fmt.Errorf("offset does not fit COFF's 32 bits"))
			}
			if r.Kind == obj.Abs64 {
				le.PutUint64(sec.data[r.Offset:], uint64(field))
			} else {
				if field < -1<<31 || field > 1<<32-1 {
					return nil, where(fmt.Errorf("addend %d out of range for a 4-byte field", r.Addend))
				}
				le.PutUint32(sec.data[r.Offset:], uint32(field))
			}
			sec.relocs = append(sec.relocs, reloc{offset: uint32(r.Offset), sym: target, typ: typ})
		}
	}
	if len(secs) > 0x7fff-1 {
		return nil, fmt.Errorf("%s: %d sections: too many for COFF", o.Name, len(secs))
	}
	for i, sec := range secs {
		if len(sec.relocs) > maxRelocs {
			return nil, fmt.Errorf("%s: section %d (%s): %d relocations exceed COFF's %d", o.Name, i, sec.name, len(sec.relocs), maxRelocs)
		}
		if sec.size > 1<<32-1 {
			return nil, fmt.Errorf("%s: section %d (%s): size %#x does not fit COFF's 32 bits", o.Name, i, sec.name, sec.size)
		}
	}

	// Section-definition auxiliary records and symbol-table indexes.
	n := 0
	for _, s := range syms {
		s.index = n
		n++
		if s.secdef {
			sec := secs[s.section-1]
			aux := make([]byte, symbolSize)
			le.PutUint32(aux[0:], uint32(sec.size))
			le.PutUint16(aux[4:], uint16(len(sec.relocs)))
			if sec.comdat != 0 {
				aux[14] = sec.comdat // Selection; Number stays 0 (not associative)
			} else {
				le.PutUint16(aux[12:], uint16(s.section)) // Number: only meaningful for COMDAT
			}
			s.aux = aux
			n++
		}
	}

	// Layout: header, section headers, per section data then relocations,
	// symbol table, string table.
	off := uint32(fileHeaderSize + sectionHeaderSize*len(secs))
	for _, sec := range secs {
		if sec.data != nil && len(sec.data) > 0 {
			off = (off + 3) &^ 3
			sec.dataOff = off
			off += uint32(len(sec.data))
		}
		if len(sec.relocs) > 0 {
			sec.relOff = off
			off += uint32(relocSize * len(sec.relocs))
		}
	}
	symOff := off
	strtab := []byte{0, 0, 0, 0}
	strIdx := map[string]uint32{}
	longName := func(s string) uint32 {
		if i, ok := strIdx[s]; ok {
			return i
		}
		i := uint32(len(strtab))
		strtab = append(strtab, s...)
		strtab = append(strtab, 0)
		strIdx[s] = i
		return i
	}
	out := make([]byte, symOff+uint32(n*symbolSize))

	// File header.
	le.PutUint16(out[0:], pe.IMAGE_FILE_MACHINE_AMD64)
	le.PutUint16(out[2:], uint16(len(secs)))
	le.PutUint32(out[8:], symOff)
	le.PutUint32(out[12:], uint32(n))

	for i, sec := range secs {
		h := out[fileHeaderSize+i*sectionHeaderSize:]
		if len(sec.name) <= 8 {
			copy(h[0:8], sec.name)
		} else {
			copy(h[0:8], fmt.Sprintf("/%d", longName(sec.name)))
		}
		le.PutUint32(h[16:], uint32(sec.size))
		le.PutUint32(h[20:], sec.dataOff)
		le.PutUint32(h[24:], sec.relOff)
		le.PutUint16(h[32:], uint16(len(sec.relocs)))
		le.PutUint32(h[36:], sec.flags)
		copy(out[sec.dataOff:], sec.data)
		for j, r := range sec.relocs {
			p := out[sec.relOff+uint32(j*relocSize):]
			le.PutUint32(p[0:], r.offset)
			le.PutUint32(p[4:], uint32(syms[r.sym].index))
			le.PutUint16(p[8:], r.typ)
		}
	}
	for _, s := range syms {
		p := out[symOff+uint32(s.index*symbolSize):]
		if len(s.name) <= 8 {
			copy(p[0:8], s.name)
		} else {
			le.PutUint32(p[4:], longName(s.name))
		}
		le.PutUint32(p[8:], s.value)
		le.PutUint16(p[12:], uint16(s.section))
		le.PutUint16(p[14:], s.typ)
		p[16] = s.class
		if s.aux != nil {
			p[17] = 1
			copy(p[symbolSize:], s.aux)
		}
	}
	le.PutUint32(strtab, uint32(len(strtab)))
	return append(out, strtab...), nil
}

// alignFlag returns the IMAGE_SCN_ALIGN_* value for a power-of-two
// alignment up to 8192.
func alignFlag(a uint64) uint32 {
	n := uint32(1)
	for a > 1 {
		a >>= 1
		n++
	}
	return n << 20
}
