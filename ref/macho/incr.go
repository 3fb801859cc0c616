package macho

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The incremental output's file layout (incr.Image): __PAGEZERO, then
// __TEXT from the image base holding the Mach header and load commands in
// its first page and __text after them, then one segment per other region
// of incr.RegionOrder (each at its region's base, page-aligned in memory
// and in the file, as large as its capacity), then __LINKEDIT: the rebase
// opcodes of every absolute pointer and used GOT slot, the symbol table,
// the indirect symbols of __got and the strings, rewritten when symbols or
// pointer sites change.
const (
	incrHdrSize  = ExePageSize
	incrBaseAddr = ExeImageBase + incrHdrSize
	// Indirect symbol table entries of GOT slots that hold no symbol.
	indirectSymbolAbs = 0x40000000
)

// incrRegion is how a region is written: its segment and section, the
// segment's protection and flags, the section's flags and alignment.
type incrRegion struct {
	seg, sect string
	prot      uint32
	segFlags  uint32
	sectFlags uint32
	align     uint32 // log2
}

// incrRegions gives each region its own segment: they lie RegionSpan apart
// in memory but back to back in the file. Read-only data holds rebased
// pointers, so it is __DATA_CONST (writable until dyld has slid it, then
// read-only: SG_READ_ONLY), as ld64.lld writes data that is read-only
// after relocation; the GOT likewise.
var incrRegions = map[string]incrRegion{
	incr.RegText:   {segText, "__text", 5, 0, sAttrPureInstructions | sAttrSomeInstructions, 4},
	incr.RegROData: {segDataConst, "__const", 3, sgReadOnly, sRegular, 4},
	incr.RegData:   {segData, "__data", 3, 0, sRegular, 4},
	incr.RegGOT:    {"__GOT", "__got", 3, sgReadOnly, sNonLazySymPointers, 3},
	incr.RegBSS:    {"__BSS", "__bss", 3, 0, sZerofill, 4},
}

// IncrImage is the incr.Image of Mach-O x86_64 executables: an MH_EXECUTE
// with LC_MAIN, one segment per region and a symbol table sorted by name,
// locals first. Its tail lists pointer sites (rebase opcodes), so the core
// rewrites it whenever one is added, moved or removed.
type IncrImage struct{}

var (
	_ incr.Image         = IncrImage{}
	_ incr.PointerLister = IncrImage{}
)

// Format implements incr.Image.
func (IncrImage) Format() obj.Format { return obj.MachO }

// Arch implements incr.Image: x86_64, free code filled with int3 so that a
// stale call traps.
func (IncrImage) Arch() arch.Arch { return arch.X86_64{} }

// BaseAddr implements incr.Image: __text starts a page after the image
// base, which holds the header.
func (IncrImage) BaseAddr() uint64 { return incrBaseAddr }

// HeaderSize implements incr.Image: the first page holds the Mach header
// and the load commands.
func (IncrImage) HeaderSize() uint64 { return incrHdrSize }

// FileAlign implements incr.Image: segments are page-aligned.
func (IncrImage) FileAlign() uint64 { return ExePageSize }

// ListsPointers implements incr.PointerLister: the rebase opcodes list
// every absolute pointer and GOT slot.
func (IncrImage) ListsPointers() bool { return true }

// sectionOrdinal is the Mach-O section number of a region (1 to 5, in
// region order).
func sectionOrdinal(region string) uint8 {
	for i, n := range incr.RegionOrder {
		if n == region {
			return uint8(1 + i)
		}
	}
	return 0
}

// Tail implements incr.Image: __LINKEDIT's rebase opcodes, symbol table,
// indirect symbols and strings.
func (IncrImage) Tail(st *incr.State, fl *incr.FileLayout) (incr.Tail, error) {
	le := binary.LittleEndian
	t := &incrTail{symIdx: make(map[string]int, len(st.Atoms))}
	names := make([]string, 0, len(st.Atoms))
	for n := range st.Atoms {
		names = append(names, n)
	}
	sort.Strings(names)
	strtab := []byte{' ', 0}
	var symtab []byte
	add := func(local bool) {
		for _, n := range names {
			a := st.Atoms[n]
			if a.Local != local {
				continue
			}
			t.symIdx[n] = len(symtab) / nlistSize
			var e [nlistSize]byte
			le.PutUint32(e[0:], uint32(len(strtab)))
			e[4] = nSect
			if !a.Local {
				e[4] |= nExt
			}
			e[5] = sectionOrdinal(incr.RegionFor(a.Kind))
			le.PutUint64(e[8:], a.Addr)
			symtab = append(symtab, e[:]...)
			strtab = append(append(append(strtab, '_'), n...), 0)
		}
	}
	add(true)
	t.nlocal = len(symtab) / nlistSize
	add(false)
	// __mh_execute_header last, as ld64.lld writes it.
	var mh [nlistSize]byte
	le.PutUint32(mh[0:], uint32(len(strtab)))
	mh[4], mh[5] = nSect|nExt, 1
	le.PutUint16(mh[6:], referencedDynamic)
	le.PutUint64(mh[8:], ExeImageBase)
	symtab = append(symtab, mh[:]...)
	strtab = append(append(append(strtab, '_'), mhExecuteHeaderSym...), 0)
	t.nsyms = len(symtab) / nlistSize

	var indirect []byte
	for _, s := range st.GOT.Slots {
		v := uint32(indirectSymbolLocal | indirectSymbolAbs)
		if a, ok := st.Atoms[s]; ok && s != "" {
			v = indirectSymbolLocal
			if !a.Local {
				v = uint32(t.symIdx[s])
			}
		}
		indirect = le.AppendUint32(indirect, v)
	}
	t.nindirect = len(st.GOT.Slots)

	segs := incrSegments(st, fl)
	rebase, err := incrRebases(st, segs)
	if err != nil {
		return nil, err
	}
	at := fl.TailOff
	place := func(b []byte) (uint64, []byte) {
		b = pad8(b)
		p := at
		at += uint64(len(b))
		return p, b
	}
	var parts [4][]byte
	t.off.rebase, parts[0] = place(rebase)
	t.rebaseSize = uint64(len(parts[0]))
	t.off.symtab, parts[1] = place(symtab)
	t.off.indirect, parts[2] = place(indirect)
	t.off.strtab, parts[3] = place(strtab)
	t.strSize = uint64(len(parts[3]))
	t.off.end = at
	if at > 1<<32-1 {
		return nil, fmt.Errorf("file of %#x bytes: past what 32-bit load command offsets reach", at)
	}
	if len(rebase) == 0 {
		t.off.rebase, t.rebaseSize = 0, 0
	}
	t.tailOff = fl.TailOff
	for _, p := range parts {
		t.bytes = append(t.bytes, p...)
	}
	return t, nil
}

// incrSegments is the LC_SEGMENT_64 of each region, in region order.
func incrSegments(st *incr.State, fl *incr.FileLayout) []exeSegment {
	segs := make([]exeSegment, 0, len(incr.RegionOrder))
	for _, n := range incr.RegionOrder {
		r, d := st.Regions[n], incrRegions[n]
		s := exeSegment{name: d.seg, addr: r.Base, off: fl.Off[n], fileSize: fl.Size[n], memSize: alignUp(r.Cap, ExePageSize),
			maxProt: d.prot, initProt: d.prot, flags: d.segFlags}
		h := exeSection{seg: d.seg, name: d.sect, addr: r.Base, size: r.High, off: uint32(fl.Off[n]), align: d.align, flags: d.sectFlags}
		switch n {
		case incr.RegText:
			// __TEXT holds the header page too.
			s.addr, s.off = ExeImageBase, 0
			s.fileSize += incrHdrSize
			s.memSize = s.fileSize
		case incr.RegBSS:
			s.off, s.fileSize, h.off = 0, 0, 0
		}
		s.sections = []exeSection{h}
		segs = append(segs, s)
	}
	return segs
}

// incrRebases encodes the rebase opcodes of every absolute pointer field
// and every GOT slot that holds a symbol, sorted by address.
func incrRebases(st *incr.State, segs []exeSegment) ([]byte, error) {
	var sites []uint64
	for _, a := range st.Atoms {
		if a.Kind == obj.BSS {
			continue
		}
		for _, r := range a.Relocs {
			if r.Kind == obj.Abs64 {
				sites = append(sites, a.Addr+r.Offset)
			}
		}
	}
	for i, s := range st.GOT.Slots {
		if s != "" {
			sites = append(sites, st.GOTAddr(i))
		}
	}
	if len(sites) == 0 {
		return nil, nil
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i] < sites[j] })
	b := []byte{rebaseSetTypeImm | rebaseTypePointer}
	segOf := func(a uint64) int {
		for i, s := range segs {
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
		offs := make([]uint64, 0, j-i)
		for _, a := range sites[i:j] {
			if n := len(offs); n == 0 || offs[n-1] != a-segs[si].addr {
				offs = append(offs, a-segs[si].addr)
			}
		}
		b = encodeRebases(b, si+1, offs) // __PAGEZERO is segment 0
		i = j
	}
	return append(b, 0), nil // REBASE_OPCODE_DONE
}

// incrTail is __LINKEDIT as IncrImage wrote it.
type incrTail struct {
	bytes   []byte
	tailOff uint64
	off     struct{ rebase, symtab, indirect, strtab, end uint64 }
	// rebaseSize and strSize are the padded sizes of the rebase opcodes
	// and the strings.
	rebaseSize, strSize uint64
	nlocal, nsyms       int
	nindirect           int
	symIdx              map[string]int
}

// Bytes implements incr.Tail.
func (t *incrTail) Bytes() []byte { return t.bytes }

// Headers implements incr.Tail: the Mach header and the load commands,
// for the state's current regions and entry and the tail's tables.
func (t *incrTail) Headers(st *incr.State, fl *incr.FileLayout) ([]incr.Chunk, error) {
	a, ok := st.Atoms[st.Entry]
	if !ok {
		return nil, fmt.Errorf("no entry symbol %s", st.Entry)
	}
	le := binary.LittleEndian
	segs := incrSegments(st, fl)
	link := exeSegment{name: segLinkEdit, off: t.tailOff, fileSize: t.off.end - t.tailOff, maxProt: 1, initProt: 1}
	bss := st.Regions[incr.RegBSS]
	link.addr = bss.Base + alignUp(bss.Cap, ExePageSize)
	link.memSize = alignUp(link.fileSize, ExePageSize)
	off := t.off
	if st.Faults().Has(fault.MachOStaleLinkEdit) {
		// Where __LINKEDIT was before any region grew: after the
		// regions at their first capacity.
		old := alignUp(incrHdrSize, ExePageSize)
		for _, n := range incr.RegionOrder {
			if n != incr.RegBSS {
				old += alignUp(incr.MinCap, ExePageSize)
			}
		}
		d := t.tailOff - old
		link.off -= d
		for _, p := range []*uint64{&off.rebase, &off.symtab, &off.indirect, &off.strtab} {
			if *p != 0 {
				*p -= d
			}
		}
	}
	var b []byte
	ncmds := 0
	segment := func(s exeSegment) {
		b = appendSegment(b, s)
		ncmds++
	}
	u32s := func(cmd uint32, size int, vals ...uint32) {
		b = le.AppendUint32(b, cmd)
		b = le.AppendUint32(b, uint32(size))
		for _, v := range vals {
			b = le.AppendUint32(b, v)
		}
		ncmds++
	}
	segment(exeSegment{name: segPageZero, memSize: ExeImageBase})
	for _, s := range segs {
		segment(s)
	}
	segment(link)
	u32s(lcDyldInfoOnly, dyldInfoCmdSize, uint32(off.rebase), uint32(t.rebaseSize), 0, 0, 0, 0, 0, 0, 0, 0)
	u32s(lcSymtabCmd, symtabCmdSize, uint32(off.symtab), uint32(t.nsyms), uint32(off.strtab), uint32(t.strSize))
	nloc, next := uint32(t.nlocal), uint32(t.nsyms-t.nlocal)
	u32s(lcDysymtab, dysymtabCmdBytes, 0, nloc, nloc, next, nloc+next, 0, 0, 0, 0, 0, 0, 0, uint32(off.indirect), uint32(t.nindirect), 0, 0, 0, 0)
	u32s(lcLoadDylinker, loadDylinkerCmdSize, 12)
	b = append(b, dyldPath...)
	b = append(b, make([]byte, loadDylinkerCmdSize-12-len(dyldPath))...)
	u32s(lcBuildVersion, buildVersionSize, platformMacOS, version11, version11, 1, toolLD, lldVersion)
	u32s(lcMain, mainCmdSize)
	b = le.AppendUint64(b, a.Addr-ExeImageBase)
	b = le.AppendUint64(b, 0)
	if machHeaderSize+len(b) > incrHdrSize {
		return nil, fmt.Errorf("load commands of %d bytes do not fit the header page", len(b))
	}
	h := make([]byte, machHeaderSize, machHeaderSize+len(b))
	le.PutUint32(h[0:], magic64LE)
	le.PutUint32(h[4:], cpuTypeX86_64)
	le.PutUint32(h[8:], cpuSubtypeX86_64All|cpuSubtypeLib64)
	le.PutUint32(h[12:], mhExecute)
	le.PutUint32(h[16:], uint32(ncmds))
	le.PutUint32(h[20:], uint32(len(b)))
	le.PutUint32(h[24:], mhNoUndefs|mhDyldLink|mhTwoLevel|mhPIE)
	return []incr.Chunk{{Off: 0, Data: append(h, b...)}}, nil
}

// Symbol implements incr.Tail: n_value of the atom's entry (Mach-O
// symbols have no size).
func (t *incrTail) Symbol(st *incr.State, name string) (incr.Chunk, bool) {
	i, ok := t.symIdx[name]
	a := st.Atoms[name]
	if !ok || a == nil {
		return incr.Chunk{}, false
	}
	var e [8]byte
	binary.LittleEndian.PutUint64(e[:], a.Addr)
	return incr.Chunk{Off: t.off.symtab + uint64(i)*nlistSize + 8, Data: e[:]}, true
}
