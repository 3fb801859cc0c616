package macho

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Mach-O executable constants not in debug/macho.
const (
	machHeaderSize       = 32
	mhExecute            = 0x2
	mhNoUndefs           = 0x1
	mhDyldLink           = 0x4
	mhTwoLevel           = 0x80
	mhWeakDefines        = 0x8000
	mhBindsToWeak        = 0x10000
	mhPIE                = 0x200000
	cpuSubtypeLib64      = 0x80000000
	lcSymtabCmd          = 0x2
	lcDysymtab           = 0xb
	lcLoadDylinker       = 0xe
	lcUUID               = 0x1b
	lcFunctionStarts     = 0x26
	lcDataInCode         = 0x29
	lcDyldInfoOnly       = 0x80000022
	lcMain               = 0x80000028
	sgReadOnly           = 0x10
	sNonLazySymPointers  = 0x6
	referencedDynamic    = 0x10
	nPextBit             = 0x10
	indirectSymbolLocal  = 0x80000000
	toolLD               = 3
	lldVersion           = 16<<16 | 0<<8 | 6 // ld64.lld 16.0.6, as LC_BUILD_VERSION names it
	dyldPath             = "/usr/lib/dyld"
	rebaseTypePointer    = 1
	rebaseSetTypeImm     = 0x10
	rebaseSetSegOffULEB  = 0x20
	rebaseAddAddrULEB    = 0x30
	rebaseAddAddrImmScal = 0x40
	rebaseDoImmTimes     = 0x50
	rebaseDoULEBTimes    = 0x60
	rebaseDoAddAddrULEB  = 0x70
	rebaseDoULEBSkipULEB = 0x80
	rebaseImmMask        = 0x0f
	exportWeakDef        = 0x04
	exportAbsolute       = 0x02
	linkEditAlign        = 8
	mhExecuteHeaderSym   = "_mh_execute_header" // __mh_execute_header without Mach-O's underscore
	dysymtabCmdBytes     = 80
	segCmdBytes          = segmentCmdSize
)

// Sizes of the fixed load commands ld64.lld writes for an executable.
const (
	dyldInfoCmdSize      = 48
	loadDylinkerCmdSize  = 32
	uuidCmdSize          = 24
	buildVersionSize     = 32 // one tool
	mainCmdSize          = 24
	linkEditDataCmdSize  = 16
	fixedLoadCommandSize = segCmdBytes /* __PAGEZERO */ + segCmdBytes /* __LINKEDIT */ + dyldInfoCmdSize + symtabCmdSize +
		dysymtabCmdBytes + loadDylinkerCmdSize + uuidCmdSize + buildVersionSize + mainCmdSize + 2*linkEditDataCmdSize
)

// loadCommandsSize is sizeofcmds for layout l: the fixed commands, and an
// LC_SEGMENT_64 with its section headers for each segment of sections.
func loadCommandsSize(l *link.Layout) int {
	n := fixedLoadCommandSize
	for _, g := range segmentGroups(l) {
		n += segCmdBytes + sectionHdrSize*len(g.sections)
	}
	return n
}

// segmentGroup is one LC_SEGMENT_64 of the output: its name, its output
// sections in order (empty ones included, which ld64.lld keeps with a
// header), and the layout's segment, -1 when only empty sections are in
// it (ld64.lld then writes an empty segment).
type segmentGroup struct {
	name     string
	sections []int
	segment  int
}

// segmentGroups groups the layout's output sections (in address order)
// into segments by name; __TEXT, which holds the headers, comes first
// even without sections.
func segmentGroups(l *link.Layout) []segmentGroup {
	gs := []segmentGroup{{name: segText, segment: 0}}
	for i, s := range l.Sections {
		name, _ := splitName(s.Name)
		last := &gs[len(gs)-1]
		if name != last.name {
			gs = append(gs, segmentGroup{name: name, segment: -1})
			last = &gs[len(gs)-1]
		}
		last.sections = append(last.sections, i)
		if s.Segment >= 0 {
			last.segment = s.Segment
		}
	}
	return gs
}

// exeSegment is an LC_SEGMENT_64 of the output.
type exeSegment struct {
	name              string
	addr, memSize     uint64
	off, fileSize     uint64
	maxProt, initProt uint32
	flags             uint32
	sections          []exeSection
}

// exeSection is a section header of the output.
type exeSection struct {
	seg, name  string
	addr, size uint64
	off        uint32
	align      uint32 // log2
	flags      uint32
	reserved1  uint32
}

// exeSymbol is an nlist_64 entry of the output.
type exeSymbol struct {
	name  string
	typ   uint8
	sect  uint8
	desc  uint16
	value uint64
}

// Write implements link.Platform: the Mach header and load commands at the
// start of image, padding to whole pages after every segment, and
// __LINKEDIT after them.
func (p Exe) Write(l *link.Layout, image []byte) ([]byte, error) {
	if l.HeaderSize != machHeaderSize+uint64(loadCommandsSize(l))+HeaderPad {
		return nil, fmt.Errorf("header size %#x does not match the load commands (%#x)", l.HeaderSize, machHeaderSize+loadCommandsSize(l)+HeaderPad)
	}
	w := &exeWriter{l: l, faults: p.Faults}
	if err := w.segments(); err != nil {
		return nil, err
	}
	w.symbols()
	return w.file(image)
}

// exeWriter holds what Write computes.
type exeWriter struct {
	l        *link.Layout
	segs     []exeSegment
	secIndex []int // Mach-O section ordinal (from 1) of each output section, 0 when not written
	// locals, externals: the symbol table's two groups, in ld64.lld's
	// order; strtab their names in the order ld64.lld adds them.
	locals, externals []exeSymbol
	symIndex          map[int32]uint32 // layout symbol → symbol table index (externals only: others are INDIRECT_SYMBOL_LOCAL)
	private           []int32          // layout symbols of the private externs among locals
	// strOrder is the order in which names enter the string table: i for
	// locals[i], -1-i for externals[i].
	strOrder []int
	weak     bool // an exported weak definition
	faults   fault.Set
	ncmds    int // load commands written
	uuidAt   int // file offset of LC_UUID's uuid
}

// sectionFlags returns the flags ld64.lld gives an output section.
func sectionFlags(s *link.Section) uint32 {
	_, sect := splitName(s.Name)
	switch {
	case s.GOT:
		return sNonLazySymPointers
	case s.Kind == obj.Text:
		return sAttrPureInstructions | sAttrSomeInstructions
	case s.Kind == obj.BSS:
		return sZerofill
	case sect == "__cstring":
		return sCstringLiterals
	}
	return sRegular
}

// vmProt converts segment permissions to Mach-O's VM_PROT bits (read 1,
// write 2, execute 4).
func vmProt(p link.Perm) uint32 {
	var v uint32
	if p&link.PermR != 0 {
		v |= 1
	}
	if p&link.PermW != 0 {
		v |= 2
	}
	if p&link.PermX != 0 {
		v |= 4
	}
	return v
}

// segments makes the LC_SEGMENT_64 commands of the layout's segments.
func (w *exeWriter) segments() error {
	l := w.l
	w.secIndex = make([]int, len(l.Sections))
	ord := 0
	for _, g := range segmentGroups(l) {
		es := exeSegment{name: g.name}
		var perm link.Perm
		if g.segment >= 0 {
			seg := l.Segments[g.segment]
			es.addr, es.off = seg.Addr, seg.Offset
			es.memSize, es.fileSize = alignUp(seg.MemSize, ExePageSize), alignUp(seg.FileSize, ExePageSize)
			if g.segment == 0 {
				es.memSize = alignUp(max(seg.MemSize, l.HeaderSize), ExePageSize)
				es.fileSize = alignUp(max(seg.FileSize, l.HeaderSize), ExePageSize)
			}
			perm = seg.Perm
		} else {
			// Only empty sections: an empty segment where they are.
			first := l.Sections[g.sections[0]]
			es.addr, es.off = first.Addr, first.Offset
			for _, i := range g.sections {
				perm |= sectionPerm(l.Sections[i])
			}
		}
		switch g.name {
		case segText:
			es.maxProt, es.initProt = 5, 5
		case segDataConst:
			es.maxProt, es.initProt, es.flags = 3, 3, sgReadOnly
		default:
			es.maxProt = vmProt(perm)
			es.initProt = es.maxProt
		}
		for _, i := range g.sections {
			s := l.Sections[i]
			segName, sectName := splitName(s.Name)
			if len(sectName) > 16 || len(segName) > 16 {
				return fmt.Errorf("section name %s is longer than 16 bytes", s.Name)
			}
			ord++
			if ord > maxMachOSectionOrdinal {
				return fmt.Errorf("%d sections: more than a symbol's n_sect can number (%d)", ord, maxMachOSectionOrdinal)
			}
			w.secIndex[i] = ord
			align := max(s.Align, 1)
			if s.Name == literalsSection {
				align = literalsAlign
			}
			h := exeSection{seg: segName, name: sectName, addr: s.Addr, size: s.Size, align: uint32(log2(align)), flags: sectionFlags(s)}
			if s.Kind != obj.BSS {
				if s.Offset > 1<<32-1 {
					return fmt.Errorf("section %s at file offset %#x: past 4 GiB", s.Name, s.Offset)
				}
				h.off = uint32(s.Offset)
			}
			es.sections = append(es.sections, h)
		}
		w.segs = append(w.segs, es)
	}
	return nil
}

// sectionPerm is the permissions an output section asks of its segment.
func sectionPerm(s *link.Section) link.Perm {
	switch {
	case s.Kind == obj.Text:
		return link.PermR | link.PermX
	case s.GOT || s.Kind == obj.Data || s.Kind == obj.BSS:
		return link.PermR | link.PermW
	}
	return link.PermR
}

// sectionOf returns the Mach-O section ordinal of layout symbol s (0 for an
// absolute one): its output section's, or for one in an empty section that
// was not written, the ordinal of the last written section before it.
func (w *exeWriter) sectionOf(s *link.Symbol) uint8 {
	if s.Sec < 0 {
		return 0
	}
	out := int(w.l.Placements[s.Obj][s.Sec].Out)
	for i := out; i >= 0; i-- {
		if w.secIndex[i] > 0 {
			return uint8(w.secIndex[i])
		}
	}
	return 1
}

// keepLocal reports whether a local symbol goes into the symbol table: not
// a section symbol, nor a literal's label (.L names), which stand for
// Mach-O private labels that ld64.lld leaves out.
func keepLocal(s *link.Symbol) bool {
	return s.Defined() && s.Kind != obj.SymSection && s.Name != "" && !strings.HasPrefix(s.Name, ".L")
}

// globalOrder returns the layout's defined global symbols in ld64.lld's
// symbol table order: the entry symbol first (the driver adds it before
// reading the inputs), then a name takes its place when the first object
// that mentions it is read, each object contributing its absolute symbols
// first (in symbol table order), then the symbols of its sections by
// section and address (ReadObject's atoms are in address order), then its
// undefined ones in symbol table order.
func globalOrder(l *link.Layout) []int32 {
	seen := make([]bool, len(l.Symbols))
	var order []int32
	if l.EntrySym >= 0 && l.Symbols[l.EntrySym].Bind != obj.Local {
		seen[l.EntrySym] = true
		order = append(order, l.EntrySym)
	}
	var group []int
	for oi, o := range l.Objects {
		idx := l.SymIndex[oi]
		add := func(k int) {
			id := idx[k]
			if !seen[id] {
				seen[id] = true
				if l.Symbols[id].Defined() {
					order = append(order, id)
				}
			}
		}
		group = group[:0]
		for k, s := range o.Symbols {
			if s.Bind == obj.Local {
				continue
			}
			switch {
			case s.Section == obj.Abs:
				add(k)
			case s.Section >= 0:
				group = append(group, k)
			}
		}
		slices.SortStableFunc(group, func(a, b int) int {
			sa, sb := o.Symbols[a], o.Symbols[b]
			if c := cmp.Compare(sa.Section, sb.Section); c != 0 {
				return c
			}
			return cmp.Compare(sa.Value, sb.Value)
		})
		for _, k := range group {
			add(k)
		}
		for k, s := range o.Symbols {
			if s.Bind != obj.Local && s.Section == obj.Undef {
				add(k)
			}
		}
	}
	return order
}

// symbols builds the symbol table: the objects' local symbols in object
// and symbol order, then the defined globals in ld64.lld's order, then
// __mh_execute_header.
func (w *exeWriter) symbols() {
	l := w.l
	w.symIndex = make(map[int32]uint32)
	entry := func(s *link.Symbol, ext bool) exeSymbol {
		e := exeSymbol{name: "_" + s.Name, typ: nSect, sect: w.sectionOf(s), value: s.Addr}
		if s.Sec == obj.Abs {
			e.typ, e.sect, e.value = nAbs, 0, s.Value
		}
		if ext {
			e.typ |= nExt
			if s.Bind == obj.Weak {
				e.desc |= nWeakDef
			}
		}
		return e
	}
	for i := range l.Symbols {
		s := &l.Symbols[i]
		if s.Bind != obj.Local || !keepLocal(s) {
			continue
		}
		w.symIndex[int32(i)] = uint32(len(w.locals))
		w.locals = append(w.locals, entry(s, false))
	}
	// Private externs (hidden globals) become locals after the objects'
	// own, N_PEXT, in the globals' order, and are not exported; their
	// names enter the string table in that order, among the externals'.
	w.strOrder = make([]int, 0, len(l.Symbols)+1)
	for i := range w.locals {
		w.strOrder = append(w.strOrder, i)
	}
	order := globalOrder(l)
	var externIDs []int32
	for _, id := range order {
		s := &l.Symbols[id]
		if s.Visibility.Localized() {
			e := entry(s, false)
			e.typ |= nPextBit
			w.strOrder = append(w.strOrder, len(w.locals))
			w.locals = append(w.locals, e)
			w.private = append(w.private, id)
			continue
		}
		w.strOrder = append(w.strOrder, -1-len(externIDs))
		externIDs = append(externIDs, id)
	}
	for i, id := range externIDs {
		s := &l.Symbols[id]
		w.symIndex[id] = uint32(len(w.locals) + i)
		w.externals = append(w.externals, entry(s, true))
		w.weak = w.weak || s.Bind == obj.Weak
	}
	w.strOrder = append(w.strOrder, -1-len(w.externals))
	w.externals = append(w.externals, exeSymbol{name: "_" + mhExecuteHeaderSym, typ: nSect | nExt, sect: 1, desc: referencedDynamic, value: ExeImageBase})
}

// linkEdit is the contents of __LINKEDIT, each part at its offset.
type linkEdit struct {
	rebase, export, starts []byte
	dataInCode             []byte
	symtab, indirect       []byte
	strtab                 []byte
	off                    struct{ rebase, export, starts, dataInCode, symtab, indirect, strtab, end uint64 }
	nindirect              int
}

// pad8 pads b with zeros to a multiple of 8 bytes.
func pad8(b []byte) []byte {
	for len(b)%linkEditAlign != 0 {
		b = append(b, 0)
	}
	return b
}

// file writes the output: image padded to whole pages, __LINKEDIT, and the
// header and load commands at the start.
func (w *exeWriter) file(image []byte) ([]byte, error) {
	l := w.l
	le := binary.LittleEndian
	var fileEnd uint64
	for _, s := range w.segs {
		fileEnd = max(fileEnd, s.off+s.fileSize)
	}
	if uint64(len(image)) > fileEnd {
		return nil, fmt.Errorf("loaded part of %#x bytes runs past the segments' end %#x", len(image), fileEnd)
	}
	linkOff := alignUp(fileEnd, ExePageSize)
	var linkAddr uint64
	for _, s := range w.segs {
		linkAddr = max(linkAddr, s.addr+s.memSize)
	}

	var le8 linkEdit
	rebase, err := w.rebaseOpcodes()
	if err != nil {
		return nil, err
	}
	le8.rebase = pad8(rebase)
	le8.export = pad8(w.exportTrie())
	le8.starts = pad8(w.functionStarts())
	le8.dataInCode = w.dataInCode()
	// Symbol table and strings: a space and a NUL first, as ld64.lld.
	strtab := []byte{' ', 0}
	nsyms := len(w.locals) + len(w.externals)
	strx := make([]uint32, nsyms)
	for _, k := range w.strOrder {
		i, s := k, exeSymbol{}
		if k >= 0 {
			s = w.locals[k]
		} else {
			i = len(w.locals) - 1 - k
			s = w.externals[-1-k]
		}
		strx[i] = uint32(len(strtab))
		strtab = append(append(strtab, s.name...), 0)
	}
	symtab := make([]byte, 0, nsyms*nlistSize)
	for i, s := range slices.Concat(w.locals, w.externals) {
		var e [nlistSize]byte
		le.PutUint32(e[0:], strx[i])
		e[4], e[5] = s.typ, s.sect
		le.PutUint16(e[6:], s.desc)
		le.PutUint64(e[8:], s.value)
		symtab = append(symtab, e[:]...)
	}
	le8.symtab = symtab
	le8.strtab = pad8(strtab)
	for _, id := range l.GOT.Slots {
		v := uint32(indirectSymbolLocal)
		if k, ok := w.symIndex[id]; ok && id >= 0 {
			v = k
		}
		le8.indirect = le.AppendUint32(le8.indirect, v)
		le8.nindirect++
	}
	le8.indirect = pad8(le8.indirect)

	o := &le8.off
	at := linkOff
	place := func(b []byte) uint64 {
		p := at
		at += uint64(len(b))
		return p
	}
	if len(le8.rebase) > 0 {
		o.rebase = place(le8.rebase)
	}
	o.export = place(le8.export)
	o.starts = place(le8.starts)
	o.dataInCode = place(le8.dataInCode)
	o.symtab = place(le8.symtab)
	if le8.nindirect > 0 {
		o.indirect = place(le8.indirect)
	}
	o.strtab = place(le8.strtab)
	o.end = at
	if o.end > 1<<32-1 {
		return nil, fmt.Errorf("file of %#x bytes: past what 32-bit load command offsets reach", o.end)
	}

	out := make([]byte, o.end)
	copy(out, image)
	copy(out[o.rebase:], le8.rebase)
	copy(out[o.export:], le8.export)
	copy(out[o.starts:], le8.starts)
	copy(out[o.dataInCode:], le8.dataInCode)
	copy(out[o.symtab:], le8.symtab)
	if le8.nindirect > 0 {
		copy(out[o.indirect:], le8.indirect)
	}
	copy(out[o.strtab:], le8.strtab)

	cmds := w.loadCommands(&le8, linkOff, linkAddr, nsyms)
	if uint64(machHeaderSize+len(cmds)+HeaderPad) != l.HeaderSize {
		return nil, fmt.Errorf("load commands of %d bytes do not fit the %d reserved", len(cmds), l.HeaderSize-machHeaderSize-HeaderPad)
	}
	var h [machHeaderSize]byte
	le.PutUint32(h[0:], magic64LE)
	le.PutUint32(h[4:], cpuTypeX86_64)
	le.PutUint32(h[8:], cpuSubtypeX86_64All|cpuSubtypeLib64)
	le.PutUint32(h[12:], mhExecute)
	le.PutUint32(h[16:], uint32(w.ncmds))
	le.PutUint32(h[20:], uint32(len(cmds)))
	flags := uint32(mhNoUndefs | mhDyldLink | mhTwoLevel | mhPIE)
	if w.weak {
		flags |= mhWeakDefines | mhBindsToWeak
	}
	le.PutUint32(h[24:], flags)
	copy(out, h[:])
	copy(out[machHeaderSize:], cmds)
	w.writeUUID(out)
	return out, nil
}

// writeUUID fills in LC_UUID.
func (w *exeWriter) writeUUID(out []byte) {
	// ld64.lld hashes the file in as many chunks as it has threads times
	// ten, and the output's file name: a UUID no other linker can
	// reproduce. This one is a hash of the file (with a zero UUID) in
	// ld64.lld's form: "LLD\xa1UU1D" and 8 bytes of hash, bytes 3 and 8
	// swapped (an RFC 4122 version 3 UUID).
	sum := sha256.Sum256(out)
	u := out[w.uuidAt : w.uuidAt+16]
	copy(u, "LLD\xa1UU1D")
	copy(u[8:], sum[:8])
	u[3], u[8] = u[8], u[3]
}

// loadCommands encodes the load commands, in ld64.lld's order.
func (w *exeWriter) loadCommands(le8 *linkEdit, linkOff, linkAddr uint64, nsyms int) []byte {
	l := w.l
	le := binary.LittleEndian
	var b []byte
	segment := func(s exeSegment) {
		b = appendSegment(b, s)
		w.ncmds++
	}
	segment(exeSegment{name: segPageZero, memSize: ExeImageBase})
	for _, s := range w.segs {
		segment(s)
	}
	segment(exeSegment{name: segLinkEdit, addr: linkAddr, memSize: le8.off.end - linkOff, off: linkOff, fileSize: le8.off.end - linkOff, maxProt: 1, initProt: 1})
	u32s := func(cmd uint32, size int, vals ...uint32) {
		b = le.AppendUint32(b, cmd)
		b = le.AppendUint32(b, uint32(size))
		for _, v := range vals {
			b = le.AppendUint32(b, v)
		}
		w.ncmds++
	}
	o := le8.off
	u32s(lcDyldInfoOnly, dyldInfoCmdSize, uint32(o.rebase), uint32(len(le8.rebase)), 0, 0, 0, 0, 0, 0, uint32(o.export), uint32(len(le8.export)))
	u32s(lcSymtabCmd, symtabCmdSize, uint32(o.symtab), uint32(nsyms), uint32(o.strtab), uint32(len(le8.strtab)))
	nloc, next := uint32(len(w.locals)), uint32(len(w.externals))
	u32s(lcDysymtab, dysymtabCmdBytes, 0, nloc, nloc, next, nloc+next, 0, 0, 0, 0, 0, 0, 0, uint32(o.indirect), uint32(le8.nindirect), 0, 0, 0, 0)
	u32s(lcLoadDylinker, loadDylinkerCmdSize, 12)
	b = append(b, dyldPath...)
	b = append(b, make([]byte, loadDylinkerCmdSize-12-len(dyldPath))...)
	u32s(lcUUID, uuidCmdSize)
	w.uuidAt = machHeaderSize + len(b)
	b = append(b, make([]byte, 16)...)
	u32s(lcBuildVersion, buildVersionSize, platformMacOS, version11, version11, 1, toolLD, lldVersion)
	u32s(lcMain, mainCmdSize)
	entry := l.Entry - ExeImageBase
	if w.faults.Has(fault.MachOEntryOffset) {
		entry -= HeaderPad
	}
	b = le.AppendUint64(b, entry)
	b = le.AppendUint64(b, 0)
	u32s(lcFunctionStarts, linkEditDataCmdSize, uint32(o.starts), uint32(len(le8.starts)))
	u32s(lcDataInCode, linkEditDataCmdSize, uint32(o.dataInCode), uint32(len(le8.dataInCode)))
	return b
}

// name16 is a segment or section name as a load command holds it.
func name16(s string) []byte {
	var n [16]byte
	copy(n[:], s)
	return n[:]
}

// appendSegment appends the LC_SEGMENT_64 command of s with its section
// headers.
func appendSegment(b []byte, s exeSegment) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, lcSegment64)
	b = le.AppendUint32(b, uint32(segCmdBytes+sectionHdrSize*len(s.sections)))
	b = append(b, name16(s.name)...)
	b = le.AppendUint64(b, s.addr)
	b = le.AppendUint64(b, s.memSize)
	b = le.AppendUint64(b, s.off)
	b = le.AppendUint64(b, s.fileSize)
	b = le.AppendUint32(b, s.maxProt)
	b = le.AppendUint32(b, s.initProt)
	b = le.AppendUint32(b, uint32(len(s.sections)))
	b = le.AppendUint32(b, s.flags)
	for _, h := range s.sections {
		b = append(b, name16(h.name)...)
		b = append(b, name16(h.seg)...)
		b = le.AppendUint64(b, h.addr)
		b = le.AppendUint64(b, h.size)
		b = le.AppendUint32(b, h.off)
		b = le.AppendUint32(b, h.align)
		b = le.AppendUint32(b, 0) // reloff
		b = le.AppendUint32(b, 0) // nreloc
		b = le.AppendUint32(b, h.flags)
		b = le.AppendUint32(b, h.reserved1)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, 0)
	}
	return b
}

// appendULEB appends v as an unsigned LEB128.
func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

// ulebSize is the length of v as an unsigned LEB128.
func ulebSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// rebaseOpcodes encodes a rebase of every pointer site (Layout.
// PointerSites: absolute pointers and GOT slots) as ld64.lld does: one
// REBASE_OPCODE_SET_TYPE_IMM, then per segment its start and runs of
// evenly spaced pointers (DO_REBASE_IMM_TIMES for adjacent ones,
// DO_REBASE_ULEB_TIMES_SKIPPING_ULEB for a wider stride,
// DO_REBASE_ADD_ADDR_ULEB for a lone one), then DONE. No sites, no
// opcodes.
func (w *exeWriter) rebaseOpcodes() ([]byte, error) {
	sites := w.l.PointerSites
	if w.faults.Has(fault.MachOMissingRebase) && len(sites) > 0 {
		sites = sites[:len(sites)-1]
	}
	if len(sites) == 0 {
		return nil, nil
	}
	b := []byte{rebaseSetTypeImm | rebaseTypePointer}
	segOf := func(a uint64) int {
		for i, s := range w.segs {
			if a >= s.addr && a-s.addr < s.memSize {
				return i
			}
		}
		return -1
	}
	for i := 0; i < len(sites); {
		si := segOf(sites[i])
		if si < 0 {
			return nil, fmt.Errorf("pointer at %#x lies in no segment", sites[i])
		}
		j := i + 1
		for j < len(sites) && segOf(sites[j]) == si {
			j++
		}
		seg := w.segs[si]
		offs := make([]uint64, 0, j-i)
		for _, a := range sites[i:j] {
			if n := len(offs); n == 0 || offs[n-1] != a-seg.addr {
				offs = append(offs, a-seg.addr)
			}
		}
		b = encodeRebases(b, si+1, offs) // __PAGEZERO is segment 0
		i = j
	}
	return append(b, 0), nil // REBASE_OPCODE_DONE
}

// encodeRebases appends the opcodes of the sorted, unique segment offsets
// offs of segment seg: the longest runs of one stride, each flushed with
// the smallest opcode for it, and between runs an increment.
func encodeRebases(b []byte, seg int, offs []uint64) []byte {
	const word = 8
	b = append(b, rebaseSetSegOffULEB|byte(seg))
	b = appendULEB(b, offs[0])
	count, skip := uint64(1), uint64(word)
	flush := func() {
		switch {
		case skip == word && count <= rebaseImmMask:
			b = append(b, rebaseDoImmTimes|byte(count))
		case skip == word:
			b = append(b, rebaseDoULEBTimes)
			b = appendULEB(b, count)
		case count == 1:
			b = append(b, rebaseDoAddAddrULEB)
			b = appendULEB(b, skip-word)
		default:
			b = append(b, rebaseDoULEBSkipULEB)
			b = appendULEB(b, count)
			b = appendULEB(b, skip-word)
		}
	}
	for i := 1; i < len(offs); i++ {
		d := offs[i] - offs[i-1]
		switch {
		case d == skip:
			count++
		case count == 1:
			count, skip = 2, d
		case d < skip:
			// The previous pointer starts a new run with this stride.
			count--
			flush()
			count, skip = 2, d
		default:
			flush()
			incr := d - skip
			if incr%word == 0 && incr/word <= rebaseImmMask {
				b = append(b, rebaseAddAddrImmScal|byte(incr/word))
			} else {
				b = append(b, rebaseAddAddrULEB)
				b = appendULEB(b, incr)
			}
			count, skip = 1, word
		}
	}
	flush()
	return b
}

// functionStarts encodes LC_FUNCTION_STARTS as ld64.lld does: the sorted
// addresses of every symbol defined in code (locals, globals and the
// labels that references into code made section symbols of), as ULEB128
// deltas from the Mach header, a repeated address skipped, then a zero.
func (w *exeWriter) functionStarts() []byte {
	l := w.l
	var addrs []uint64
	for i := range l.Symbols {
		s := &l.Symbols[i]
		if !s.Defined() || s.Sec < 0 {
			continue
		}
		if l.Objects[s.Obj].Sections[s.Sec].Kind != obj.Text {
			continue
		}
		if s.Kind == obj.SymSection && s.Value != 0 {
			continue
		}
		addrs = append(addrs, s.Addr)
	}
	slices.Sort(addrs)
	var b []byte
	prev := uint64(ExeImageBase)
	for _, a := range addrs {
		if a == prev {
			continue
		}
		b = appendULEB(b, a-prev)
		prev = a
	}
	return append(b, 0)
}

// dataInCode encodes LC_DATA_IN_CODE's table as ld64.lld does: every
// input section's data-in-code ranges (ReadObject keeps only those in
// ld64.lld's code sections), each as a data_in_code_entry whose offset is
// the range's address less __TEXT's, sorted by that offset.
func (w *exeWriter) dataInCode() []byte {
	l := w.l
	var entries []obj.DataRange
	for i, o := range l.Objects {
		for j, s := range o.Sections {
			for _, d := range s.DataInCode {
				d.Offset += l.Placements[i][j].Addr - ExeImageBase
				entries = append(entries, d)
			}
		}
	}
	slices.SortStableFunc(entries, func(a, b obj.DataRange) int { return cmp.Compare(a.Offset, b.Offset) })
	le := binary.LittleEndian
	b := make([]byte, 0, len(entries)*diceEntrySize)
	for _, e := range entries {
		b = le.AppendUint32(b, uint32(e.Offset))
		b = le.AppendUint16(b, uint16(e.Size))
		b = le.AppendUint16(b, e.Kind)
	}
	return b
}
