package link

import (
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Layout is the result of a full link's layout: where everything went. It
// is what the incremental linker starts from.
type Layout struct {
	Format  obj.Format
	Objects []*obj.Object
	// Sections are the output sections in address order; the GOT, when
	// present, is one of them (Section.GOT).
	Sections []*Section
	// Segments are the loadable segments in address order.
	Segments []*Segment
	// Placements[i][j] says where section j of object i went.
	Placements [][]Placement
	// Symbols is the link's symbol table: every local symbol of every
	// object (in object order) and every global name once, in order of
	// first appearance.
	Symbols []Symbol
	// SymIndex[i][k] is the index in Symbols of symbol k of object i.
	SymIndex [][]int32
	// Globals maps a global or weak name to its index in Symbols.
	Globals map[string]int32
	// GOT is the synthesized global offset table.
	GOT GOT
	// Entry is the entry address and EntrySym the entry symbol's index.
	Entry    uint64
	EntrySym int32
	// DroppedSegments counts the segments that only empty sections
	// opened (EmptySectionKeeper): the headers reserved room for their
	// program headers, as ld.lld does, but they are not written.
	DroppedSegments int
	// HeaderSize is the room reserved for the format's headers at the
	// start of the file and of the first segment.
	HeaderSize uint64
	// FileSize is the end of the loaded part of the file: every section's
	// contents lie in [0, FileSize).
	FileSize uint64
	// Warnings are what the link reports without failing, in ld.lld's
	// words (a missing entry symbol, with EntryWarner).
	Warnings []string
	// GOTBase is the address of the GOT base (ELF's
	// _GLOBAL_OFFSET_TABLE_) that GOTOff64, GOTPC32 and GOTPC64 are
	// relative to; the platform sets it (GOTBaser), 0 otherwise.
	GOTBase uint64
	// IPLT holds the indirect functions' PLT entries (IFuncer).
	IPLT IPLT
	// TLS is the thread-local storage template: the TLS sections' extent
	// (zero when there are none).
	TLS TLSBlock
	// RelaxedGOTLoads counts GOT loads rewritten to direct references.
	RelaxedGOTLoads int
	// PointerSites are the addresses of every absolute pointer the image
	// holds (Abs64 fields and GOT slots), sorted: what Mach-O rebase
	// information and PE base relocations list.
	PointerSites []uint64
	// EHFrame is the merged call frame information (ehframe.go).
	EHFrame EHFrame

	// discarded holds the sections that COMDAT selection discarded.
	discarded map[*obj.Section]bool
	// ownObjects is set once Objects is the layout's own copy of the
	// input list, and ownObject says which objects are its own copies
	// (setSection).
	ownObjects bool
	ownObject  map[int32]bool
}

// TLSBlock is the extent of the TLS sections (ELF's PT_TLS): the
// initialization image (FileSize bytes at Offset) and the zeros after it,
// MemSize bytes at Addr in all, aligned to Align.
type TLSBlock struct {
	Addr, Offset, FileSize, MemSize, Align uint64
}

// TP is the thread pointer's place relative to the block, as x86_64's
// variant II puts it: the block ends at TP, aligned up to Align. A TLS
// symbol at address a has the TP offset a - TP.
func (b TLSBlock) TP() uint64 {
	return alignUp(b.Addr+b.MemSize, b.Align)
}

// isTBSS reports whether s is a TLS BSS section, which takes no room in
// its segment.
func (s *Section) isTBSS() bool { return s.TLS && s.Kind == obj.BSS }

// Section is an output section.
type Section struct {
	Name string
	Kind obj.SectionKind
	// GOT marks the synthesized GOT (read-only after relocation: RELRO).
	GOT bool
	// Relro marks another section of the RELRO segment (RelroNamer).
	Relro bool
	// Note is set when every input section is an ELF note (obj.Section.Note).
	Note bool
	// TLS marks a thread-local section (obj.Section.TLS). A TLS BSS
	// section (.tbss) takes no room in its segment: what follows it
	// starts where it starts, as in ld.lld; the TLS segment
	// (Layout.TLS) covers it.
	TLS bool
	// Writable marks a writable code section (obj.Section.Writable).
	Writable bool
	// ArrayType is the ELF array type of its inputs whose names do not
	// say it (obj.Section.ArrayType), 0 otherwise.
	ArrayType uint32
	// Exec is set for a BSS section whose inputs are all executable
	// (obj.Section.Exec): it goes to the code segment, after the code.
	Exec bool
	// ReadOnly is set for a BSS section whose inputs are all read-only
	// (obj.Section.ReadOnly): it goes to the read-only segment.
	ReadOnly bool
	Align    uint64
	// Addr and Size place the section in memory; Offset in the file.
	// FileSize is Size, or 0 for BSS.
	Addr, Size, Offset, FileSize uint64
	// Capacity is the room the section may grow into without moving what
	// follows; a full link leaves none (Capacity == Size).
	Capacity uint64
	// Merge and Strings are set, with EntSize, when every input section
	// of the output section is mergeable with the same entry size and
	// string flag (the output keeps SHF_MERGE|SHF_STRINGS, as ld.lld does).
	Merge, Strings bool
	EntSize        uint64
	// Segment is the index in Layout.Segments.
	Segment int
	// Chunks are the section's pieces in address order.
	Chunks []Chunk
	// Index is the position in Layout.Sections.
	Index int

	// laterInSegment is set while addresses are assigned when the
	// section is not the first of its segment (ELFRules.SectionStart).
	laterInSegment bool
}

// Chunk is a piece of an output section: one input section, a merged
// SHF_MERGE group, or the GOT's slots.
type Chunk struct {
	// Obj and Sec name the input section; Obj is -1 for a synthesized
	// chunk (merged strings: Data holds the bytes; GOT: Data is nil).
	Obj, Sec int32
	// Off is the offset in the output section.
	Off   uint64
	Size  uint64
	Align uint64
	Data  []byte
}

// Segment is a loadable segment: a run of output sections with the same
// permissions.
type Segment struct {
	// Perm is a combination of PermR, PermW and PermX.
	Perm Perm
	// Relro marks a writable segment that is read-only after relocation
	// (the GOT); ELF also covers it with PT_GNU_RELRO.
	Relro bool
	// Offset, Addr, FileSize, MemSize as in an ELF program header. The
	// first segment starts at offset 0 and holds the headers.
	Offset, Addr, FileSize, MemSize uint64
	// Sections are the indexes in Layout.Sections of its sections.
	Sections []int
}

// Perm is a segment's permissions.
type Perm uint8

// Permission bits (ELF PF_X, PF_W, PF_R values).
const (
	PermX Perm = 1
	PermW Perm = 2
	PermR Perm = 4
)

// Placement says where an input section went.
type Placement struct {
	// Out is the output section's index in Layout.Sections (every input
	// section is placed, empty ones too).
	Out int32
	// Chunk is the index of its chunk in the output section.
	Chunk int32
	// Addr is the address of its first byte; for a merged section, the
	// address of its first piece.
	Addr uint64
	// Pieces, for a deduplicated SHF_MERGE section, map offsets in the
	// input section to offsets in the merged chunk; nil otherwise.
	Pieces []Piece
}

// Piece maps a piece of a merged input section (starting at InOff) to
// its offset in the merged chunk.
type Piece struct {
	InOff, OutOff uint64
}

// Symbol is an entry of the link's symbol table.
type Symbol struct {
	Name string
	// Obj and Index name the defining object and its symbol; Obj is -1
	// for an undefined symbol.
	Obj   int32
	Index int32
	// Sec is the defining section's index in its object, or obj.Abs or
	// obj.Undef.
	Sec   int32
	Value uint64
	Size  uint64
	Bind  obj.Binding
	Kind  obj.SymKind
	// Visibility combines the visibilities of every object's entry for
	// the name (obj.Visibility.Combine); a Localized one is written as a
	// local symbol, as ld.lld does.
	Visibility obj.Visibility
	// Synthetic marks a symbol the linker defines (LinkerDefiner);
	// OutSection is then the index in Sections of the section it is
	// written in, or -1 for the file header.
	Synthetic  bool
	OutSection int32
	// Addr is the symbol's address (its value for an absolute symbol, 0
	// for an undefined weak one).
	Addr uint64
	// GOTSlot is the index of the symbol's GOT slot, or -1.
	GOTSlot int32
	// IPLT is 1 + the index of the symbol's IPLT entry (an indirect
	// function that is called), 0 when it has none.
	IPLT int32
	// Referenced is set when a relocation refers to the symbol.
	Referenced bool
	// mergeSection marks a section symbol of a merged section, whose
	// address depends on the addend.
	mergeSection bool
	// strongRef is set when a non-weak undefined reference exists.
	strongRef bool
}

// Defined reports whether the symbol has a definition.
func (s *Symbol) Defined() bool { return s.Obj >= 0 }

// GOT is the synthesized global offset table: one 8-byte slot per symbol
// that a non-relaxed GOT relocation refers to.
type GOT struct {
	// Section is the GOT's index in Layout.Sections, or -1 when empty.
	Section int
	// Slots[i] is the index in Layout.Symbols of slot i's symbol, or -1
	// for a free slot.
	Slots []int32
	// Free lists free slots (always empty after a full link; the
	// incremental linker uses it).
	Free []int32
}

// SlotAddr returns the address of GOT slot i.
func (l *Layout) SlotAddr(i int32) uint64 {
	return l.Sections[l.GOT.Section].Addr + uint64(i)*8
}

// SectionAddr returns the address of byte off of section sec of object
// o, following the piece map of a merged section.
func (l *Layout) SectionAddr(o, sec int32, off uint64) uint64 {
	p := &l.Placements[o][sec]
	if p.Pieces == nil {
		return p.Addr + off
	}
	ps := p.Pieces
	out := l.Sections[p.Out]
	if len(ps) == 0 {
		// An empty merged section: its symbols sit where the merged
		// chunk starts.
		return out.Addr + out.Chunks[p.Chunk].Off + off
	}
	i := sort.Search(len(ps), func(i int) bool { return ps[i].InOff > off }) - 1
	if i < 0 {
		i = 0
	}
	return out.Addr + out.Chunks[p.Chunk].Off + ps[i].OutOff + (off - ps[i].InOff)
}

// Lookup returns the index in Symbols of the global named name, or -1.
func (l *Layout) Lookup(name string) int32 {
	if i, ok := l.Globals[name]; ok {
		return i
	}
	return -1
}

// Where formats a location the way ld.lld does: "a.o:(.text+0x12)".
func (l *Layout) Where(o, sec int32, off uint64) string {
	return fmt.Sprintf("%s:(%s+0x%X)", l.Objects[o].Name, l.Objects[o].Sections[sec].Name, off)
}

func newLayout(objs []*obj.Object, f obj.Format) *Layout {
	return &Layout{Format: f, Objects: objs, GOT: GOT{Section: -1}, EntrySym: -1}
}

func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) &^ (a - 1)
}

// perm returns the permissions of an output section.
func (s *Section) perm() Perm {
	switch {
	case (s.GOT || s.Relro) && s.Kind == obj.Text:
		return PermR | PermW | PermX // a writable code section in RELRO (ld.lld's .init array from llvm-mc, "awx")
	case s.GOT || s.Relro:
		return PermR | PermW
	case s.Kind == obj.Text && s.Writable:
		return PermR | PermW | PermX
	case s.Kind == obj.Text:
		return PermR | PermX
	case s.Kind == obj.BSS && s.Exec:
		return PermR | PermX
	case s.Kind == obj.BSS && s.ReadOnly:
		return PermR
	case s.Kind == obj.Data || s.Kind == obj.BSS:
		return PermR | PermW
	}
	return PermR
}

// Bounds of an output: the user half of the x86_64 address space, and the
// size of a file the linker builds in memory. An input whose sections'
// sizes or alignments reach past them is refused instead of making the
// linker allocate gigabytes or write a segment no loader can map.
const (
	MaxAddress    = 1 << 47
	MaxOutputSize = 1 << 32
)

// ELFRules are ld.lld 16's layout rules for a static executable without
// -z separate-code, for a Platform to embed (ref/elf's does): sections in
// rank order (read-only data, code, RELRO (the GOT), writable data, BSS),
// a segment per run of sections with the same permissions (the GOT's RELRO
// segment stands alone), each segment starting on the next page at the
// same offset within the page as the previous one ended (addr =
// alignUp(end, page) + end%page), so that file offsets stay dense and
// offset ≡ address mod page.
type ELFRules struct {
	// Page is the maximum page size.
	Page uint64
}

// SectionRank implements Platform.
func (ELFRules) SectionRank(s *Section) int {
	switch {
	case s.Kind == obj.ROData:
		return 0
	case s.Kind == obj.Text:
		return 1
	case s.GOT || s.Relro:
		return 2
	case s.Kind == obj.Data:
		return 3
	}
	return 4
}

// SegmentKey implements Platform: permissions, and RELRO; the headers'
// segment (nil) is read-only.
func (ELFRules) SegmentKey(s *Section) string {
	if s == nil {
		return fmt.Sprint(PermR)
	}
	k := fmt.Sprint(s.perm())
	if s.GOT || s.Relro {
		k += "relro"
	}
	return k
}

// SegmentStart implements Platform: the next page, at the same offset
// within the page as the previous segment ended.
func (r ELFRules) SegmentStart(addr, off uint64) (uint64, uint64) {
	return alignUp(addr, r.Page) + addr%r.Page, off
}

// SectionStart implements Platform: the section's alignment in memory, and
// the file offset kept congruent to the address modulo the page. A BSS
// section that is not the first of its segment keeps the file offset
// where the file is, as ld.lld (setFileOffset: "file offsets are not
// significant for .bss sections other than the first one in a PT_LOAD").
func (r ELFRules) SectionStart(s *Section, addr, off uint64) (uint64, uint64) {
	addr = alignUp(addr, s.Align)
	if s.Kind == obj.BSS && s.laterInSegment {
		return addr, off
	}
	if s.Kind == obj.BSS {
		if off%r.Page != addr%r.Page {
			off += (addr - off) % r.Page
		}
		return addr, off
	}
	return addr, off + (addr-off)%r.Page
}

// assignAddresses sorts the output sections, groups them into segments
// and gives every section, chunk, input section and symbol its address,
// with the platform's rules (SectionRank, SegmentKey, SegmentStart,
// SectionStart; ELFRules are ld.lld's). The first segment starts at file
// offset 0 and the image base and holds the headers.
func (l *Layout) assignAddresses(p Platform, opts Options) error {
	for i, s := range l.Sections {
		s.Index = i
	}
	sort.SliceStable(l.Sections, func(i, j int) bool { return p.SectionRank(l.Sections[i]) < p.SectionRank(l.Sections[j]) })
	newIndex := make([]int32, len(l.Sections))
	for i, s := range l.Sections {
		newIndex[s.Index] = int32(i)
		s.Index = i
		if s.GOT {
			l.GOT.Section = i
		}
	}
	for _, pls := range l.Placements {
		for j := range pls {
			pls[j].Out = newIndex[pls[j].Out]
		}
	}
	// Segments: the headers' segment (R), then one per change of the
	// platform's segment key.
	l.Segments = []*Segment{{Perm: PermR}}
	lastKey := p.SegmentKey(nil)
	placeEmpty := keepsEmptySections(p)
	for i, s := range l.Sections {
		if s.isTBSS() && s.Size > 0 {
			s.Segment = -1 // placed below, where the next section starts
			continue
		}
		if s.Size == 0 {
			// Empty output sections take no room and are in no
			// segment, as in ld.lld; symbols in them get the address
			// where they would have been. With EmptySectionKeeper an
			// empty section whose permissions differ from the
			// previous section's opens a segment as in ld.lld, which
			// reserves its program header and moves to the next page
			// before it drops the empty segment.
			s.Segment = -1
			if placeEmpty {
				if key := p.SegmentKey(s); key != lastKey {
					l.Segments = append(l.Segments, &Segment{Perm: s.perm(), Relro: s.GOT || s.Relro})
					lastKey = key
				}
			}
			continue
		}
		last := l.Segments[len(l.Segments)-1]
		if key := p.SegmentKey(s); key != lastKey {
			last = &Segment{Perm: s.perm(), Relro: s.GOT || s.Relro}
			l.Segments = append(l.Segments, last)
			lastKey = key
		}
		last.Perm |= s.perm()
		s.Segment = len(l.Segments) - 1
		last.Sections = append(last.Sections, i)
	}
	// As ld.lld, the first TLS section starts at the TLS block's
	// alignment (the largest of the TLS sections'; its header keeps its
	// own), so that TP offsets are the same for every thread.
	var firstTLS *Section
	tlsAlign := uint64(1)
	for _, s := range l.Sections {
		if s.TLS && s.Size > 0 {
			if firstTLS == nil {
				firstTLS = s
			}
			tlsAlign = max(tlsAlign, s.Align)
		}
	}
	sectionStart := func(s *Section, addr, off uint64) (uint64, uint64) {
		if s != firstTLS {
			return p.SectionStart(s, addr, off)
		}
		own := s.Align
		s.Align = tlsAlign
		addr, off = p.SectionStart(s, addr, off)
		s.Align = own
		return addr, off
	}
	base := p.ImageBase()
	l.HeaderSize = p.HeaderSize(l)
	addr := base + l.HeaderSize
	off := l.HeaderSize
	for si, seg := range l.Segments {
		if si > 0 {
			addr, off = p.SegmentStart(addr, off)
		}
		first := true
		for _, i := range seg.Sections {
			s := l.Sections[i]
			var soff uint64
			s.laterInSegment = !first
			addr, soff = sectionStart(s, addr, off)
			s.laterInSegment = false
			s.Addr, s.Offset = addr, soff
			if s.Kind != obj.BSS {
				off = soff
				s.FileSize = s.Size
				off += s.Size
			}
			s.Capacity = s.Size
			if addr+s.Size < addr || addr+s.Size > MaxAddress {
				return fmt.Errorf("link: section %s: %#x bytes at %#x overflow the address space", s.Name, s.Size, addr)
			}
			addr += s.Size
			if first {
				if si > 0 {
					seg.Offset, seg.Addr = s.Offset, s.Addr
				}
				first = false
			}
		}
		if si == 0 {
			seg.Offset, seg.Addr = 0, base
		}
		if first && si > 0 {
			if !placeEmpty {
				// A segment without sections cannot happen: segments
				// are made from sections.
				return fmt.Errorf("link: empty segment %d", si)
			}
			seg.Addr, seg.Offset = addr, off // opened by empty sections only; dropped below
		}
		seg.MemSize = addr - seg.Addr
		seg.FileSize = seg.MemSize
		// Trailing BSS occupies no file space; the first segment's
		// file part holds at least the headers.
		end := seg.Addr
		if si == 0 {
			end = base + l.HeaderSize
		}
		for _, i := range seg.Sections {
			if s := l.Sections[i]; s.Kind != obj.BSS {
				end = s.Addr + s.Size
			}
		}
		if si == 0 && len(seg.Sections) == 0 {
			end = addr
		}
		seg.FileSize = end - seg.Addr
	}
	l.FileSize = off
	if l.FileSize > MaxOutputSize {
		return fmt.Errorf("link: the output would be %d bytes, more than the %d this linker writes (alignment padding or section sizes out of proportion)", l.FileSize, uint64(MaxOutputSize))
	}
	if placeEmpty {
		// Drop the segments that only empty sections opened.
		kept := l.Segments[:0]
		for _, seg := range l.Segments {
			if len(seg.Sections) == 0 && seg != l.Segments[0] {
				l.DroppedSegments++
				continue
			}
			for _, i := range seg.Sections {
				l.Sections[i].Segment = len(kept)
			}
			kept = append(kept, seg)
		}
		l.Segments = kept
	}
	prevAddr, prevOff := base+l.HeaderSize, l.HeaderSize
	prevKey := p.SegmentKey(nil)
	var tbssEnd uint64 // the end of the .tbss sections placed just before
	for _, s := range l.Sections {
		key := ""
		if placeEmpty {
			key = p.SegmentKey(s)
		}
		if s.Segment < 0 && s.isTBSS() && s.Size > 0 {
			// As ld.lld: .tbss is aligned where the location counter
			// is, which it then does not advance; its file offset is
			// where the file is.
			// Consecutive .tbss sections follow each other.
			if key != prevKey {
				prevAddr, prevOff = p.SegmentStart(prevAddr, prevOff)
				prevKey = key
			}
			start := prevAddr
			if tbssEnd > start {
				start = tbssEnd
			}
			align := s.Align
			if s == firstTLS {
				align = tlsAlign
			}
			s.Addr, s.Offset = alignUp(start, align), prevOff
			tbssEnd = s.Addr + s.Size
			continue
		}
		tbssEnd = 0
		if s.Segment < 0 {
			if placeEmpty {
				// As ld.lld: an empty section is placed as if it
				// started the segment its permissions call for (the
				// empty segment is then not written).
				if key != prevKey {
					prevAddr, prevOff = p.SegmentStart(prevAddr, prevOff)
				}
				prevAddr, prevOff = p.SectionStart(s, prevAddr, prevOff)
				prevKey = key
			}
			s.Addr, s.Offset = prevAddr, prevOff
			continue
		}
		prevAddr, prevOff, prevKey = s.Addr+s.Size, s.Offset+s.FileSize, key
	}
	for _, seg := range l.Segments {
		if e := seg.Offset + seg.FileSize; e > l.FileSize {
			l.FileSize = e
		}
	}
	l.TLS = TLSBlock{}
	first := true
	for _, s := range l.Sections {
		if s.TLS && s.Size == 0 && first && l.TLS.Align == 0 {
			// Only empty TLS sections so far: an empty block where
			// the first one is (replaced by the first non-empty one).
			l.TLS = TLSBlock{Addr: s.Addr, Offset: s.Offset, Align: 1}
		}
		if !s.TLS || s.Size == 0 {
			continue
		}
		if first {
			l.TLS = TLSBlock{Addr: s.Addr, Offset: s.Offset, Align: 1}
			first = false
		}
		l.TLS.Align = max(l.TLS.Align, s.Align)
		l.TLS.MemSize = s.Addr + s.Size - l.TLS.Addr
		if s.Kind != obj.BSS {
			l.TLS.FileSize = l.TLS.MemSize
		}
	}
	// Input sections and chunks.
	for _, s := range l.Sections {
		for ci := range s.Chunks {
			c := &s.Chunks[ci]
			if c.Obj < 0 {
				continue
			}
			l.Placements[c.Obj][c.Sec].Addr = s.Addr + c.Off
		}
	}
	for oi := range l.Placements {
		for si := range l.Placements[oi] {
			pl := &l.Placements[oi][si]
			if pl.Pieces != nil {
				out := l.Sections[pl.Out]
				first := uint64(0)
				if len(pl.Pieces) > 0 {
					first = pl.Pieces[0].OutOff
				}
				pl.Addr = out.Addr + out.Chunks[pl.Chunk].Off + first
			}
		}
	}
	// Symbols.
	for i := range l.Symbols {
		s := &l.Symbols[i]
		switch {
		case s.Obj < 0:
			s.Addr = 0
		case s.Sec == obj.Abs && opts.Faults.Has(fault.LinkAbsoluteRebased) && !s.Synthetic:
			s.Addr = p.ImageBase() + s.Value
		case s.Sec == obj.Abs:
			s.Addr = s.Value
		default:
			s.Addr = l.SectionAddr(s.Obj, s.Sec, s.Value)
		}
	}
	if l.EntrySym >= 0 {
		l.Entry = l.Symbols[l.EntrySym].Addr
	}
	return nil
}
