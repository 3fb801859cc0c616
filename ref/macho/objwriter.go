// Package macho holds what is Mach-O's in linkcheck's reference
// implementation: the x86_64 MH_OBJECT writer that serializes the
// format-neutral model of package obj.
package macho

import (
	"debug/macho"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Mach-O constants not in debug/macho.
const (
	mhObject               = 0x1
	mhSubsectionsViaSyms   = 0x2000
	cpuSubtypeX86_64All    = 3
	lcBuildVersion         = 0x32
	platformMacOS          = 1
	version11              = 11 << 16 // 11.0.0 in xxxx.yy.zz nibbles
	sRegular               = 0x0
	sZerofill              = 0x1
	sCstringLiterals       = 0x2
	sAttrPureInstructions  = 0x80000000
	sAttrSomeInstructions  = 0x00000400
	nExt                   = 0x01
	nUndf                  = 0x00
	nAbs                   = 0x02
	nSect                  = 0x0e
	nWeakRef               = 0x0040
	nWeakDef               = 0x0080
	nPextW                 = 0x10 // N_PEXT
	headerSize             = 32
	segmentCmdSize         = 72
	sectionHdrSize         = 80
	buildVersionCmdSize    = 24
	symtabCmdSize          = 24
	dysymtabCmdSize        = 80
	nlistSize              = 16
	relocSize              = 8
	maxMachOSectionOrdinal = 255
)

// outSection is one Mach-O section: the atoms of one kind, concatenated.
type outSection struct {
	seg, name string
	flags     uint32
	zerofill  bool
	atoms     []int    // indexes into Object.Sections
	offsets   []uint64 // offset of each atom in the section
	align     uint64
	size      uint64
	addr      uint64
	fileOff   uint64
	data      []byte
	relocs    []byte
	nreloc    int
}

// placement is where an atom went: its Mach-O section and offset there.
type placement struct {
	sect int // index into the output sections
	off  uint64
}

// machoSym is a symbol table entry under construction.
type machoSym struct {
	name  string
	typ   uint8
	sect  uint8
	desc  uint16
	value uint64
	group int // 0 local, 1 external defined, 2 undefined
}

// WriteObject serializes o as a Mach-O MH_OBJECT for x86_64 with
// MH_SUBSECTIONS_VIA_SYMBOLS.
//
// Atoms are grouped by kind into one section each: Text in __TEXT,__text;
// ROData in __TEXT,__const, or __DATA,__const when the atom has
// relocations (the linker must write pointers into it), or
// __TEXT,__cstring when it is a mergeable string section of 1-byte
// entries; Data in __DATA,__data; BSS in __DATA,__bss (S_ZEROFILL). Each
// atom starts at its alignment and at a symbol: an atom with no symbol at
// offset 0 gets a local ltmpN, as clang emits. Symbol names get a leading
// underscore; a global of hidden or internal visibility is a private
// extern (N_PEXT). Section symbols (SymSection) do not exist in Mach-O:
// relocations against them are redirected to the symbol at the start of
// the atom with the offset folded into the addend.
//
// Relocations are extern (against the symbol) with the addend in the
// field: Branch32 → X86_64_RELOC_BRANCH, PCRel32 → X86_64_RELOC_SIGNED
// (SIGNED_1/_2/_4 when the ELF addend is -5/-6/-8, i.e. 1, 2 or 4 bytes of
// immediate follow the field), GOTLoad32 → X86_64_RELOC_GOT_LOAD,
// GOTPCRel32 → X86_64_RELOC_GOT, Abs64 → X86_64_RELOC_UNSIGNED (length 3).
// A 4-byte PC-relative field holds A + 4 (the addend relative to the end
// of the field); GOT relocations must have A = -4. Abs32, Abs32S and
// ImageRel32 cannot be expressed in x86_64 Mach-O and are errors.
func WriteObject(o *obj.Object) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	le := binary.LittleEndian

	// Group atoms into output sections, in a fixed order.
	type key struct{ seg, name string }
	order := []struct {
		key   key
		flags uint32
	}{
		{key{"__TEXT", "__text"}, sRegular | sAttrPureInstructions | sAttrSomeInstructions},
		{key{"__TEXT", "__cstring"}, sCstringLiterals},
		{key{"__TEXT", "__const"}, sRegular},
		{key{"__DATA", "__data"}, sRegular},
		{key{"__DATA", "__const"}, sRegular},
		{key{"__DATA", "__bss"}, sZerofill},
	}
	byKey := map[key]*outSection{}
	var outs []*outSection
	for _, e := range order {
		s := &outSection{seg: e.key.seg, name: e.key.name, flags: e.flags, zerofill: e.flags == sZerofill, align: 1}
		byKey[e.key] = s
		outs = append(outs, s)
	}
	for i, s := range o.Sections {
		var k key
		switch s.Kind {
		case obj.Text:
			k = key{"__TEXT", "__text"}
		case obj.ROData:
			switch {
			case len(s.Relocs) > 0:
				k = key{"__DATA", "__const"}
			case s.Merge && s.Strings && s.EntSize == 1 && len(s.Data) > 0 && s.Data[len(s.Data)-1] == 0:
				k = key{"__TEXT", "__cstring"}
			default:
				k = key{"__TEXT", "__const"}
			}
		case obj.Data:
			k = key{"__DATA", "__data"}
		case obj.BSS:
			k = key{"__DATA", "__bss"}
		}
		out := byKey[k]
		off := alignUp(out.size, s.Align)
		if !out.zerofill {
			pad := byte(0)
			if s.Kind == obj.Text {
				pad = 0x90 // nop
			}
			for uint64(len(out.data)) < off {
				out.data = append(out.data, pad)
			}
			out.data = append(out.data, s.Data...)
		}
		out.atoms = append(out.atoms, i)
		out.offsets = append(out.offsets, off)
		out.size = off + s.Size
		out.align = max(out.align, s.Align)
	}
	// Drop empty sections; lay out addresses (zerofill last, as it is in order).
	var sects []*outSection
	for _, s := range outs {
		if len(s.atoms) > 0 {
			sects = append(sects, s)
		}
	}
	if len(sects) > maxMachOSectionOrdinal {
		return nil, fmt.Errorf("%s: too many Mach-O sections", o.Name)
	}
	place := make([]placement, len(o.Sections))
	var addr uint64
	for si, s := range sects {
		addr = alignUp(addr, s.align)
		s.addr = addr
		addr += s.size
		for j, a := range s.atoms {
			place[a] = placement{sect: si, off: s.offsets[j]}
		}
	}
	vmsize := addr

	// Symbols: the model's, then ltmpN for atoms without a symbol at 0.
	var syms []*machoSym
	modelSym := make([]int, len(o.Symbols)) // model index -> syms index (-1: section symbol)
	atStart := make([]int, len(o.Sections)) // atom -> a syms index at its offset 0, preferring locals
	for i := range atStart {
		atStart[i] = -1
	}
	for i, s := range o.Symbols {
		modelSym[i] = -1
		if s.Kind == obj.SymSection {
			continue
		}
		m := &machoSym{name: "_" + s.Name}
		switch {
		case s.Section == obj.Undef:
			m.typ = nUndf | nExt
			m.group = 2
			if s.Bind == obj.Weak {
				m.desc = nWeakRef
			}
		case s.Section == obj.Abs:
			m.typ = nAbs
			m.value = s.Value
		default:
			p := place[s.Section]
			m.typ = nSect
			m.sect = uint8(p.sect + 1)
			m.value = sects[p.sect].addr + p.off + s.Value
			if s.Value != 0 {
				// A model section is one atom: a symbol inside it must
				// not start another one when the object is read again.
				m.desc |= nAltEntry
			}
		}
		if s.Section != obj.Undef && s.Bind != obj.Local {
			m.typ |= nExt
			if s.Visibility.Localized() {
				m.typ |= nPextW // a private extern
			}
			m.group = 1
			if s.Bind == obj.Weak {
				m.desc |= nWeakDef
			}
		}
		modelSym[i] = len(syms)
		syms = append(syms, m)
		if s.Section >= 0 && s.Value == 0 {
			if cur := atStart[s.Section]; cur < 0 || (syms[cur].group != 0 && m.group == 0) {
				atStart[s.Section] = len(syms) - 1
			}
		}
	}
	for i := range o.Sections {
		if atStart[i] >= 0 {
			continue
		}
		p := place[i]
		atStart[i] = len(syms)
		syms = append(syms, &machoSym{name: fmt.Sprintf("ltmp%d", i), typ: nSect, sect: uint8(p.sect + 1),
			value: sects[p.sect].addr + p.off, group: 0})
	}
	// Order: locals, external defined, undefined; each sorted by name.
	perm := make([]int, len(syms))
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool {
		sa, sb := syms[perm[a]], syms[perm[b]]
		if sa.group != sb.group {
			return sa.group < sb.group
		}
		return sa.name < sb.name
	})
	final := make([]int, len(syms)) // syms index -> symbol table index
	var ngroup [3]int
	for n, i := range perm {
		final[i] = n
		ngroup[syms[i].group]++
	}

	// Relocations.
	for _, s := range sects {
		var relocs []byte
		for j, a := range s.atoms {
			sec := o.Sections[a]
			base := s.offsets[j]
			for ri, r := range sec.Relocs {
				target := o.Symbols[r.Sym]
				addend := r.Addend
				symIdx := modelSym[r.Sym]
				if target.Kind == obj.SymSection {
					symIdx = atStart[target.Section]
					addend += int64(target.Value)
				}
				typ, pcrel, length, field, err := relocFor(r.Kind, addend)
				if err != nil {
					return nil, fmt.Errorf("%s: section %s: reloc %d at offset %#x: %w", o.Name, sec.Name, ri, r.Offset, err)
				}
				at := base + r.Offset
				if at > 1<<31-1 {
					return nil, fmt.Errorf("%s: section %s: reloc %d: offset %#x too large for Mach-O", o.Name, sec.Name, ri, at)
				}
				if length == 3 {
					le.PutUint64(s.data[at:], uint64(field))
				} else {
					if field < -1<<31 || field > 1<<31-1 {
						return nil, fmt.Errorf("%s: section %s: reloc %d at offset %#x: addend %d out of range", o.Name, sec.Name, ri, r.Offset, r.Addend)
					}
					le.PutUint32(s.data[at:], uint32(int32(field)))
				}
				relocs = le.AppendUint32(relocs, uint32(at))
				word := uint32(final[symIdx]) | uint32(pcrel)<<24 | uint32(length)<<25 | 1<<27 | uint32(typ)<<28
				relocs = le.AppendUint32(relocs, word)
				s.nreloc++
			}
		}
		// Listed by descending address, as assemblers write them (ld64.lld
		// gives GOT entries in this order).
		for i, j := 0, len(relocs)-relocSize; i < j; i, j = i+relocSize, j-relocSize {
			var tmp [relocSize]byte
			copy(tmp[:], relocs[i:i+relocSize])
			copy(relocs[i:i+relocSize], relocs[j:j+relocSize])
			copy(relocs[j:j+relocSize], tmp[:])
		}
		s.relocs = relocs
	}

	// File layout: header, load commands, section data, relocations,
	// symbol table, string table.
	ncmds := 4
	sizeofcmds := segmentCmdSize + sectionHdrSize*len(sects) + buildVersionCmdSize + symtabCmdSize + dysymtabCmdSize
	off := uint64(headerSize + sizeofcmds)
	// Section file offsets mirror their addresses, so the segment maps
	// one-to-one (file size <= vm size).
	segFileOff := off
	var segFileSize uint64
	for _, s := range sects {
		if s.zerofill {
			continue
		}
		s.fileOff = segFileOff + s.addr
		segFileSize = s.addr + s.size
	}
	off = segFileOff + segFileSize
	var relocOff []uint64
	off = alignUp(off, 8)
	for _, s := range sects {
		relocOff = append(relocOff, off)
		off += uint64(len(s.relocs))
	}
	symOff := alignUp(off, 8)
	strtab := []byte{' ', 0} // index 0 unused; clang starts with " \0"
	nameIdx := make([]uint32, len(syms))
	for _, i := range perm {
		nameIdx[i] = uint32(len(strtab))
		strtab = append(strtab, syms[i].name...)
		strtab = append(strtab, 0)
	}
	for len(strtab)%8 != 0 {
		strtab = append(strtab, 0)
	}
	strOff := symOff + uint64(len(syms))*nlistSize
	total := strOff + uint64(len(strtab))
	if total > 1<<32-1 {
		return nil, fmt.Errorf("%s: object too large for Mach-O (%d bytes)", o.Name, total)
	}
	out := make([]byte, total)

	// Header.
	le.PutUint32(out[0:], macho.Magic64)
	le.PutUint32(out[4:], uint32(macho.CpuAmd64))
	le.PutUint32(out[8:], cpuSubtypeX86_64All)
	le.PutUint32(out[12:], mhObject)
	le.PutUint32(out[16:], uint32(ncmds))
	le.PutUint32(out[20:], uint32(sizeofcmds))
	le.PutUint32(out[24:], mhSubsectionsViaSyms)
	p := out[headerSize:]

	// LC_SEGMENT_64 with its sections.
	le.PutUint32(p[0:], uint32(macho.LoadCmdSegment64))
	le.PutUint32(p[4:], uint32(segmentCmdSize+sectionHdrSize*len(sects)))
	le.PutUint64(p[24:], 0)
	le.PutUint64(p[32:], vmsize)
	le.PutUint64(p[40:], segFileOff)
	le.PutUint64(p[48:], segFileSize)
	le.PutUint32(p[56:], 7) // maxprot rwx
	le.PutUint32(p[60:], 7) // initprot rwx
	le.PutUint32(p[64:], uint32(len(sects)))
	p = p[segmentCmdSize:]
	for i, s := range sects {
		copy(p[0:16], s.name)
		copy(p[16:32], s.seg)
		le.PutUint64(p[32:], s.addr)
		le.PutUint64(p[40:], s.size)
		if !s.zerofill {
			le.PutUint32(p[48:], uint32(s.fileOff))
			copy(out[s.fileOff:], s.data)
		}
		le.PutUint32(p[52:], uint32(log2(s.align)))
		if s.nreloc > 0 {
			le.PutUint32(p[56:], uint32(relocOff[i]))
			le.PutUint32(p[60:], uint32(s.nreloc))
			copy(out[relocOff[i]:], s.relocs)
		}
		le.PutUint32(p[64:], s.flags)
		p = p[sectionHdrSize:]
	}
	// LC_BUILD_VERSION: macOS 11.0, SDK 11.0, no tools.
	le.PutUint32(p[0:], lcBuildVersion)
	le.PutUint32(p[4:], buildVersionCmdSize)
	le.PutUint32(p[8:], platformMacOS)
	le.PutUint32(p[12:], version11)
	le.PutUint32(p[16:], version11)
	p = p[buildVersionCmdSize:]
	// LC_SYMTAB.
	le.PutUint32(p[0:], uint32(macho.LoadCmdSymtab))
	le.PutUint32(p[4:], symtabCmdSize)
	le.PutUint32(p[8:], uint32(symOff))
	le.PutUint32(p[12:], uint32(len(syms)))
	le.PutUint32(p[16:], uint32(strOff))
	le.PutUint32(p[20:], uint32(len(strtab)))
	p = p[symtabCmdSize:]
	// LC_DYSYMTAB: the three groups.
	le.PutUint32(p[0:], uint32(macho.LoadCmdDysymtab))
	le.PutUint32(p[4:], dysymtabCmdSize)
	le.PutUint32(p[8:], 0)
	le.PutUint32(p[12:], uint32(ngroup[0]))
	le.PutUint32(p[16:], uint32(ngroup[0]))
	le.PutUint32(p[20:], uint32(ngroup[1]))
	le.PutUint32(p[24:], uint32(ngroup[0]+ngroup[1]))
	le.PutUint32(p[28:], uint32(ngroup[2]))

	// Symbol and string tables.
	for n, i := range perm {
		s := syms[i]
		q := out[symOff+uint64(n)*nlistSize:]
		le.PutUint32(q[0:], nameIdx[i])
		q[4] = s.typ
		q[5] = s.sect
		le.PutUint16(q[6:], s.desc)
		le.PutUint64(q[8:], s.value)
	}
	copy(out[strOff:], strtab)
	return out, nil
}

// relocFor translates a neutral relocation with ELF addend a into the
// Mach-O type, pcrel bit, log2 length and the implicit addend to store in
// the field.
func relocFor(k obj.RelocKind, a int64) (typ macho.RelocTypeX86_64, pcrel, length int, field int64, err error) {
	switch k {
	case obj.Abs64:
		return macho.X86_64_RELOC_UNSIGNED, 0, 3, a, nil
	case obj.Branch32:
		return macho.X86_64_RELOC_BRANCH, 1, 2, a + 4, nil
	case obj.PCRel32:
		typ = macho.X86_64_RELOC_SIGNED
		switch a {
		case -5:
			typ = macho.X86_64_RELOC_SIGNED_1
		case -6:
			typ = macho.X86_64_RELOC_SIGNED_2
		case -8:
			typ = macho.X86_64_RELOC_SIGNED_4
		}
		return typ, 1, 2, a + 4, nil
	case obj.GOTLoad32, obj.GOTPCRel32:
		if a != -4 {
			return 0, 0, 0, 0, fmt.Errorf("%s with addend %d: a Mach-O GOT reference must end the instruction (addend -4)", k, a)
		}
		if k == obj.GOTLoad32 {
			return macho.X86_64_RELOC_GOT_LOAD, 1, 2, 0, nil
		}
		return macho.X86_64_RELOC_GOT, 1, 2, 0, nil
	}
	return 0, 0, 0, 0, fmt.Errorf("relocation kind %s cannot be expressed in x86_64 Mach-O", k)
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

func log2(v uint64) int {
	n := 0
	for v > 1 {
		v >>= 1
		n++
	}
	return n
}
