package canon

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// ErrMalformed is wrapped by every error about an executable that cannot
// be read (truncated, not ELF64 x86_64, offsets past the end, no symbol
// table).
var ErrMalformed = errors.New("malformed executable")

// Bounds on untrusted input.
const (
	maxSymbols    = 1 << 20
	maxSites      = 1 << 22
	maxNotes      = 200
	maxChain      = 8         // indirection hops followed from one operand
	maxCandidates = 64        // overlapping symbols examined per address lookup
	decodeFactor  = 4         // decoded bytes may be at most this many times the file size
	decodeSlack   = 1 << 20   // ... plus this
	maxErrNames   = 1 << 20   // error table entries
	relaEntSize   = 24        // sizeof(Elf64_Rela)
	maxRelaBytes  = 256 << 20 // relocation section bytes examined
)

// section is an allocated output section.
type section struct {
	name   string
	addr   uint64
	size   uint64
	flags  string
	nobits bool
	// strings marks SHF_STRINGS: a target in no symbol is named by the
	// string it points at, which does not depend on layout.
	strings bool
	data    []byte // file bytes; nil for NOBITS
}

func (s *section) contains(addr uint64) bool { return addr >= s.addr && addr-s.addr < s.size }

// reader holds the state of one ReadELF call.
type reader struct {
	exe      []byte
	secs     []*section // allocated sections, sorted by addr
	secByIdx map[int]*section
	syms     []*Symbol // every canonical symbol
	symSec   map[*Symbol]*section
	extent   map[*Symbol]uint64 // bytes the symbol owns (size before trimming)
	ranges   []*Symbol          // non-synthetic symbols with an extent, sorted by addr
	starts   map[uint64][]*Symbol
	sites    map[uint64]string // pointer field address -> relocation kind
	// addends holds, for a field whose input relocation names a symbol
	// (not a section), the relocation's addend A: the field is then shown
	// as that symbol plus A (S + A), not as whatever lies at S + A. It
	// matters for `.long .L.str.5 - table` in clang's relative lookup
	// tables, where A is the field's offset in the table and S + A lands
	// in another, layout-dependent, merged string.
	addends  map[uint64]int64
	siteList []uint64 // sorted keys of sites
	budget   int      // bytes that may still be decoded
	// input is what the input objects say about data without symbols
	// (merged strings and constants); nil without objects.
	input   *inputData
	notes   []string
	dropped int
}

func (r *reader) note(format string, args ...any) {
	if len(r.notes) >= maxNotes {
		r.dropped++
		return
	}
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// ReadELF reads an ELF64 x86_64 executable into its canonical image. objs
// are the input objects the executable was linked from; their relocations
// say which fields are pointers (see the package comment). With no objects,
// an executable linked with --emit-relocs supplies its own relocations;
// otherwise no data word is taken for a pointer and Image.PointerSource is
// "none".
//
// exe is untrusted: every offset and size is checked, work is bounded by
// the file's size, and no input makes ReadELF panic. Errors wrap
// ErrMalformed.
func ReadELF(exe []byte, objs []*obj.Object) (*Image, error) {
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		return nil, fmt.Errorf("canon: elf: %w: %w", ErrMalformed, err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("canon: elf: %w: not an ELF64 little-endian x86_64 file (%v %v %v)", ErrMalformed, f.Class, f.Data, f.Machine)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("canon: elf: %w: file type %v is not an executable", ErrMalformed, f.Type)
	}
	r := &reader{
		exe:      exe,
		secByIdx: map[int]*section{},
		symSec:   map[*Symbol]*section{},
		extent:   map[*Symbol]uint64{},
		starts:   map[uint64][]*Symbol{},
		sites:    map[uint64]string{},
		addends:  map[uint64]int64{},
		budget:   decodeFactor*len(exe) + decodeSlack,
	}
	im := &Image{Format: "elf"}
	if err := r.readSections(f, im); err != nil {
		return nil, err
	}
	if err := r.readSymbols(f, objs); err != nil {
		return nil, err
	}
	switch {
	case len(objs) > 0:
		im.PointerSource = PointersFromObjects
		r.objectSites(objs)
		r.input = collectInputData(objs)
		r.locateAnon(objs)
	case r.emitRelocSites(f):
		im.PointerSource = PointersFromEmitRelocs
	default:
		im.PointerSource = PointersUnknown
	}
	r.siteList = make([]uint64, 0, len(r.sites))
	for a := range r.sites {
		r.siteList = append(r.siteList, a)
	}
	sort.Slice(r.siteList, func(i, j int) bool { return r.siteList[i] < r.siteList[j] })

	for _, s := range r.syms {
		if r.extent[s] == 0 {
			continue
		}
		if s.IsCode() {
			if err := r.decodeFunc(s); err != nil {
				return nil, err
			}
		} else {
			r.readData(s)
		}
	}
	im.Entry = r.symbolize(f.Entry)
	im.Symbols = r.syms
	sort.Slice(im.Symbols, func(i, j int) bool { return im.Symbols[i].Name < im.Symbols[j].Name })
	if s := im.Lookup(ErrTabSymbol); s != nil {
		im.ErrTab = r.errTab(s)
	}
	sort.Strings(r.notes)
	if r.dropped > 0 {
		r.notes = append(r.notes, fmt.Sprintf("(%d more notes dropped)", r.dropped))
	}
	im.Notes = r.notes
	return im, nil
}

func sectionFlags(fl elf.SectionFlag) string {
	s := "A"
	if fl&elf.SHF_WRITE != 0 {
		s += "W"
	}
	if fl&elf.SHF_EXECINSTR != 0 {
		s += "X"
	}
	return s
}

func (r *reader) readSections(f *elf.File, im *Image) error {
	for i, sh := range f.Sections {
		if sh.Flags&elf.SHF_ALLOC == 0 || sh.Size == 0 {
			continue
		}
		s := &section{name: sh.Name, addr: sh.Addr, size: sh.Size, flags: sectionFlags(sh.Flags), nobits: sh.Type == elf.SHT_NOBITS, strings: sh.Flags&elf.SHF_STRINGS != 0}
		if sh.Addr+sh.Size < sh.Addr {
			return fmt.Errorf("canon: elf: %w: section %d %q: address range wraps", ErrMalformed, i, sh.Name)
		}
		if !s.nobits {
			if sh.Offset > uint64(len(r.exe)) || uint64(len(r.exe))-sh.Offset < sh.Size {
				return fmt.Errorf("canon: elf: %w: section %d %q: bytes [%#x, +%#x) past the end of the file (%#x bytes)", ErrMalformed, i, sh.Name, sh.Offset, sh.Size, len(r.exe))
			}
			s.data = r.exe[sh.Offset : sh.Offset+sh.Size]
		}
		r.secs = append(r.secs, s)
		r.secByIdx[i] = s
		im.Sections = append(im.Sections, Section{Name: s.name, Flags: s.flags})
	}
	sort.SliceStable(r.secs, func(i, j int) bool { return r.secs[i].addr < r.secs[j].addr })
	sort.SliceStable(im.Sections, func(i, j int) bool {
		if im.Sections[i].Name != im.Sections[j].Name {
			return im.Sections[i].Name < im.Sections[j].Name
		}
		return im.Sections[i].Flags < im.Sections[j].Flags
	})
	return nil
}

// sectionAt returns the allocated section holding addr, or nil.
func (r *reader) sectionAt(addr uint64) *section {
	i := sort.Search(len(r.secs), func(i int) bool { return r.secs[i].addr > addr })
	// Sections may overlap in a corrupt file; look back a few.
	for j := i - 1; j >= 0 && j >= i-maxCandidates; j-- {
		if r.secs[j].contains(addr) {
			return r.secs[j]
		}
	}
	return nil
}

// bytesAt returns n file bytes at addr, or nil when they are not all in one
// section with file contents.
func (r *reader) bytesAt(addr uint64, n uint64) []byte {
	s := r.sectionAt(addr)
	if s == nil || s.nobits {
		return nil
	}
	off := addr - s.addr
	if s.size-off < n {
		return nil
	}
	return s.data[off : off+n]
}

func (r *reader) readSymbols(f *elf.File, objs []*obj.Object) error {
	esyms, err := f.Symbols()
	if err != nil {
		return fmt.Errorf("canon: elf: %w: symbol table: %w", ErrMalformed, err)
	}
	if len(esyms) > maxSymbols {
		return fmt.Errorf("canon: elf: %w: %d symbols (limit %d)", ErrMalformed, len(esyms), maxSymbols)
	}
	var defined map[string]bool
	if len(objs) > 0 {
		defined = map[string]bool{}
		for _, o := range objs {
			if o == nil {
				continue
			}
			for _, s := range o.Symbols {
				if s != nil && s.Defined() && s.Kind != obj.SymSection {
					defined[s.Name] = true
				}
			}
		}
	}
	type raw struct {
		sym  *Symbol
		file string
	}
	var raws []raw
	file := ""
	for _, es := range esyms {
		typ := elf.ST_TYPE(es.Info)
		if typ == elf.STT_FILE {
			file = es.Name
			continue
		}
		if es.Name == "" || es.Section == elf.SHN_UNDEF || es.Section == elf.SHN_COMMON {
			continue
		}
		s := &Symbol{Name: es.Name, Size: es.Size, addr: es.Value}
		switch typ {
		case elf.STT_FUNC:
			s.Kind = KindFunc
		case elf.STT_OBJECT:
			s.Kind = KindObject
		case elf.STT_NOTYPE:
			s.Kind = KindNone
		default:
			continue // sections, TLS, ifunc: not part of the model
		}
		switch elf.ST_BIND(es.Info) {
		case elf.STB_LOCAL:
			s.Bind = BindLocal
		case elf.STB_GLOBAL:
			s.Bind = BindGlobal
		case elf.STB_WEAK:
			s.Bind = BindWeak
		default:
			s.Bind = fmt.Sprintf("bind%d", elf.ST_BIND(es.Info))
		}
		if defined != nil {
			s.Synthetic = !defined[s.Name]
		} else {
			s.Synthetic = isReserved(s.Name)
		}
		if es.Section == elf.SHN_ABS {
			s.Section = "*ABS*"
		} else {
			sec := r.secByIdx[int(es.Section)]
			if sec == nil {
				continue // in a non-allocated section or a bad index
			}
			s.Section, s.Flags = sec.name, sec.flags
			r.symSec[s] = sec
		}
		raws = append(raws, raw{s, file})
	}
	// Qualify duplicated names: first by the STT_FILE that precedes a local,
	// then by order in the symbol table.
	count := map[string]int{}
	for _, x := range raws {
		count[x.sym.Name]++
	}
	for i := range raws {
		if count[raws[i].sym.Name] > 1 && raws[i].file != "" && raws[i].sym.Bind == BindLocal {
			raws[i].sym.Name += "@" + raws[i].file
		}
	}
	seen := map[string]int{}
	for _, x := range raws {
		seen[x.sym.Name]++
		if n := seen[x.sym.Name]; n > 1 {
			r.note("duplicate symbol name %s: qualified as %s#%d by symbol table order", x.sym.Name, x.sym.Name, n)
			x.sym.Name = fmt.Sprintf("%s#%d", x.sym.Name, n)
		}
		r.syms = append(r.syms, x.sym)
	}
	r.computeExtents()
	return nil
}

// computeExtents sets each symbol's extent: st_size clamped to its section,
// or for a zero-sized non-synthetic symbol, up to the next non-synthetic
// symbol in its section or the section's end.
func (r *reader) computeExtents() {
	bySec := map[*section][]uint64{}
	for _, s := range r.syms {
		if sec := r.symSec[s]; sec != nil && !s.Synthetic {
			bySec[sec] = append(bySec[sec], s.addr)
		}
	}
	for _, a := range bySec {
		sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
	}
	for _, s := range r.syms {
		sec := r.symSec[s]
		if sec == nil || !sec.contains(s.addr) {
			if sec != nil && s.Size > 0 {
				r.note("symbol %s lies outside its section %s", s.Name, sec.name)
			}
			continue
		}
		room := sec.size - (s.addr - sec.addr)
		ext := s.Size
		if ext > room {
			r.note("symbol %s: size %#x runs past the end of section %s; clamped to %#x", s.Name, s.Size, sec.name, room)
			ext = room
		}
		if ext == 0 && !s.Synthetic {
			starts := bySec[sec]
			i := sort.Search(len(starts), func(i int) bool { return starts[i] > s.addr })
			ext = room
			if i < len(starts) {
				ext = starts[i] - s.addr
			}
			s.Size, s.SizeInferred = ext, ext > 0
		}
		if ext == 0 {
			r.starts[s.addr] = append(r.starts[s.addr], s)
			continue
		}
		r.extent[s] = ext
		r.starts[s.addr] = append(r.starts[s.addr], s)
		if !s.Synthetic {
			r.ranges = append(r.ranges, s)
		}
	}
	sort.SliceStable(r.ranges, func(i, j int) bool { return r.ranges[i].addr < r.ranges[j].addr })
	for a, list := range r.starts {
		sort.SliceStable(list, func(i, j int) bool { return r.better(list[i], list[j]) })
		r.starts[a] = list
	}
}

// better orders symbols at the same address: input before synthetic, sized
// before empty, typed before untyped, global before local, then by name.
func (r *reader) better(a, b *Symbol) bool {
	if a.Synthetic != b.Synthetic {
		return !a.Synthetic
	}
	if (r.extent[a] > 0) != (r.extent[b] > 0) {
		return r.extent[a] > 0
	}
	if (a.Kind == KindNone) != (b.Kind == KindNone) {
		return a.Kind != KindNone
	}
	if (a.Bind == BindLocal) != (b.Bind == BindLocal) {
		return a.Bind != BindLocal
	}
	return a.Name < b.Name
}

// symbolAt returns the symbol that best names addr and the offset of addr
// in it: a symbol starting there, else the smallest symbol containing it.
func (r *reader) symbolAt(addr uint64) (*Symbol, uint64, bool) {
	if list := r.starts[addr]; len(list) > 0 {
		return list[0], 0, true
	}
	i := sort.Search(len(r.ranges), func(i int) bool { return r.ranges[i].addr > addr })
	var best *Symbol
	for j := i - 1; j >= 0 && j >= i-maxCandidates; j-- {
		s := r.ranges[j]
		if addr-s.addr < r.extent[s] && (best == nil || r.extent[s] < r.extent[best]) {
			best = s
		}
	}
	if best == nil {
		return nil, 0, false
	}
	return best, addr - best.addr, true
}

// symbolize writes addr as "sym", "sym+0x8", or "?0x401000" when nothing
// names it (a layout-dependent value, noted).
func (r *reader) symbolize(addr uint64) string {
	if name, off, ok := r.nameAt(addr); ok {
		return withOffset(name, off)
	}
	r.note("address %#x is in no symbol", addr)
	return fmt.Sprintf("?%#x", addr)
}

// nameAt names addr independently of layout: the symbol that holds it and
// the offset in it, else the merged string or constant it lies in (by the
// input objects, or without them by a SHF_STRINGS output section).
func (r *reader) nameAt(addr uint64) (string, int64, bool) {
	if s, off, ok := r.symbolAt(addr); ok {
		return s.Name, int64(off), true
	}
	if r.input != nil {
		return r.mergedName(addr)
	}
	if str, ok := r.stringAt(addr); ok {
		return "str" + strconv.Quote(str), 0, true
	}
	return "", 0, false
}

// symbolizeField writes the target of the relocated field at site: as
// its symbol plus the input relocation's addend when the relocation names
// a symbol (`&outv+0x400`, one past an array, stays with the array), else
// as whatever holds the target.
func (r *reader) symbolizeField(site, target uint64) string {
	if addend, ok := r.addends[site]; ok {
		if name, off, ok := r.nameAt(target - uint64(addend)); ok {
			return withOffset(name, off+addend)
		}
	}
	return r.symbolize(target)
}

// withOffset writes name+0x10, name-0x4 or name.
func withOffset(name string, off int64) string {
	switch {
	case off > 0:
		return fmt.Sprintf("%s+%#x", name, off)
	case off < 0:
		return fmt.Sprintf("%s-%#x", name, -off)
	}
	return name
}

// maxString bounds how much of a string literal a canonical operand shows.
const maxString = 256

// stringAt returns the NUL-terminated string at addr when addr lies in a
// SHF_STRINGS section: string literals carry no symbol, and linkers order
// merged strings differently, so they are named by their contents. It is
// used without input objects; with them, mergedName decides by what the
// inputs hold, not by the output's flags (ld.lld marks a .rodata that
// mixes strings and jump tables SHF_STRINGS).
func (r *reader) stringAt(addr uint64) (string, bool) {
	for _, sec := range r.secs {
		if !sec.strings || sec.nobits || !sec.contains(addr) {
			continue
		}
		rest := sec.data[addr-sec.addr:]
		n := bytes.IndexByte(rest[:min(len(rest), maxString+1)], 0)
		if n < 0 {
			return "", false
		}
		return string(rest[:n]), true
	}
	return "", false
}

// objectSites maps every relocation of the input objects to the output:
// the input symbol containing the relocated field is found by offset, its
// output copy by name, and the field's output address is the output
// symbol's address plus the same offset.
func (r *reader) objectSites(objs []*obj.Object) {
	byName := map[string][]*Symbol{}
	for _, s := range r.syms {
		if r.symSec[s] != nil {
			byName[s.Name] = append(byName[s.Name], s)
		}
	}
	for _, o := range objs {
		if o == nil {
			continue
		}
		for si, sec := range o.Sections {
			if sec == nil || len(sec.Relocs) == 0 {
				continue
			}
			var defs []*obj.Symbol
			for _, s := range o.Symbols {
				if s != nil && s.Section == si && s.Kind != obj.SymSection && s.Name != "" {
					defs = append(defs, s)
				}
			}
			if len(defs) == 0 && isAnonData(sec) {
				continue // located by its contents (locateAnon)
			}
			sort.SliceStable(defs, func(i, j int) bool { return defs[i].Value < defs[j].Value })
			for _, rel := range sec.Relocs {
				in := containing(defs, rel.Offset)
				if in == nil {
					r.note("%s: section %s: reloc at %#x: no symbol contains it", o.Name, sec.Name, rel.Offset)
					continue
				}
				out := outputSymbol(byName, o, in)
				if out == nil {
					r.note("%s: section %s: reloc at %#x: symbol %s has %d definitions in the output", o.Name, sec.Name, rel.Offset, in.Name, len(byName[in.Name]))
					continue
				}
				off := rel.Offset - in.Value
				if r.extent[out] < off+uint64(rel.Kind.Size()) {
					r.note("%s: section %s: reloc at %#x: %s+%#x is outside %s's output extent", o.Name, sec.Name, rel.Offset, in.Name, off, out.Name)
					continue
				}
				if len(r.sites) < maxSites {
					r.addSite(o, rel, out.addr+off)
				}
			}
		}
	}
}

// addSite records that the field at output address at is relocation rel
// of o, with its addend when rel names a symbol.
func (r *reader) addSite(o *obj.Object, rel obj.Reloc, at uint64) {
	r.sites[at] = rel.Kind.String()
	if rel.Sym >= 0 && rel.Sym < len(o.Symbols) {
		if s := o.Symbols[rel.Sym]; s != nil && s.Kind != obj.SymSection && s.Name != "" {
			r.addends[at] = rel.Addend
		}
	}
}

// containing returns the symbol of defs (sorted by Value) whose extent holds
// off, else the nearest one at or before off.
func containing(defs []*obj.Symbol, off uint64) *obj.Symbol {
	i := sort.Search(len(defs), func(i int) bool { return defs[i].Value > off })
	var nearest *obj.Symbol
	for j := i - 1; j >= 0; j-- {
		d := defs[j]
		if off-d.Value < d.Size {
			return d
		}
		if nearest == nil {
			nearest = d
		}
	}
	if nearest != nil && nearest.Size == 0 {
		return nearest
	}
	return nil
}

// emitRelocSites reads relocation sections kept by --emit-relocs (r_offset
// is an address in an executable). It reports whether there were any.
func (r *reader) emitRelocSites(f *elf.File) bool {
	found := false
	for _, sh := range f.Sections {
		if sh.Type != elf.SHT_RELA || sh.Flags&elf.SHF_ALLOC != 0 {
			continue
		}
		if int(sh.Info) >= len(f.Sections) || f.Sections[sh.Info].Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		if sh.Offset > uint64(len(r.exe)) || uint64(len(r.exe))-sh.Offset < sh.Size || sh.Size > maxRelaBytes {
			r.note("relocation section %s is outside the file", sh.Name)
			continue
		}
		data := r.exe[sh.Offset : sh.Offset+sh.Size]
		found = true
		for i := 0; i+relaEntSize <= len(data) && len(r.sites) < maxSites; i += relaEntSize {
			off := binary.LittleEndian.Uint64(data[i:])
			typ := elf.R_X86_64(uint32(binary.LittleEndian.Uint64(data[i+8:])))
			if k := elfRelocKind(typ); k != "" {
				r.sites[off] = k
			}
		}
	}
	return found
}

func elfRelocKind(t elf.R_X86_64) string {
	switch t {
	case elf.R_X86_64_64:
		return obj.Abs64.String()
	case elf.R_X86_64_32:
		return obj.Abs32.String()
	case elf.R_X86_64_32S:
		return obj.Abs32S.String()
	case elf.R_X86_64_PC32:
		return obj.PCRel32.String()
	case elf.R_X86_64_PLT32:
		return obj.Branch32.String()
	case elf.R_X86_64_GOTPCREL:
		return obj.GOTPCRel32.String()
	case elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX:
		return obj.GOTLoad32.String()
	}
	return ""
}

// fieldTarget is the address (S + A) that a relocated field of kind, at
// address at, holds: an absolute field's value, or value + P for a
// PC-relative one (every kind that is not absolute).
func fieldTarget(kind string, field []byte, at uint64) uint64 {
	switch kind {
	case obj.Abs64.String():
		return binary.LittleEndian.Uint64(field)
	case obj.Abs32.String():
		return uint64(binary.LittleEndian.Uint32(field))
	case obj.Abs32S.String():
		return uint64(int64(int32(binary.LittleEndian.Uint32(field))))
	}
	return at + uint64(int64(int32(binary.LittleEndian.Uint32(field))))
}

// readData fills a data symbol's bytes and pointer fields.
func (r *reader) readData(s *Symbol) {
	sec := r.symSec[s]
	ext := r.extent[s]
	if sec.nobits {
		s.BSS = true
		return
	}
	// The symbol's own section, not whichever section holds its address:
	// sections of a corrupt file may overlap (FuzzCanonELF).
	if !sec.contains(s.addr) || sec.size-(s.addr-sec.addr) < ext {
		r.note("%s: extent %#x is not inside its section %s", s.Name, ext, sec.name)
		return
	}
	start := s.addr - sec.addr
	s.Data = append([]byte(nil), sec.data[start:start+ext]...)
	i := sort.Search(len(r.siteList), func(i int) bool { return r.siteList[i] >= s.addr })
	for ; i < len(r.siteList) && r.siteList[i]-s.addr < ext; i++ {
		a := r.siteList[i]
		kind := r.sites[a]
		off := a - s.addr
		width := uint64(4)
		if kind == obj.Abs64.String() {
			width = 8
		}
		if ext-off < width {
			r.note("%s+%#x: %s field runs past the symbol's end", s.Name, off, kind)
			continue
		}
		field := s.Data[off : off+width]
		target := fieldTarget(kind, field, a)
		s.Pointers = append(s.Pointers, Pointer{Off: off, Size: int(width), Kind: kind, Target: "&" + r.symbolizeField(a, target)})
		clear(field)
	}
}

// errTab decodes the error-name table: N+1 little-endian u32 offsets from
// the table's start, then NUL-terminated names; error k spans
// [off[k-1], off[k]-1) and off[0] = 4(N+1).
func (r *reader) errTab(s *Symbol) *ErrTab {
	bad := func(format string, args ...any) *ErrTab { return &ErrTab{Err: fmt.Sprintf(format, args...)} }
	if !r.isData(s) {
		return bad("%s is not a data symbol with contents (kind %s, section %s)", s.Name, s.Kind, s.Section)
	}
	return decodeErrTab(r.bytesAt(s.addr, r.extent[s]), s.SizeInferred)
}

// decodeErrTab decodes a table's bytes. Zero bytes after the last name are
// allowed only when the table's size was inferred (alignment fill).
func decodeErrTab(b []byte, inferred bool) *ErrTab {
	bad := func(format string, args ...any) *ErrTab { return &ErrTab{Err: fmt.Sprintf(format, args...)} }
	if len(b) < 4 {
		return bad("table is %d bytes, shorter than its first offset", len(b))
	}
	off0 := binary.LittleEndian.Uint32(b)
	if off0 < 4 || off0%4 != 0 {
		return bad("first offset %d is not a positive multiple of 4", off0)
	}
	if uint64(off0) > uint64(len(b)) {
		return bad("first offset %d is past the table's end (%d bytes)", off0, len(b))
	}
	n := int(off0/4) - 1
	if n > maxErrNames {
		return bad("%d entries (limit %d)", n, maxErrNames)
	}
	names := make([]string, 0, n)
	prev := off0
	for k := 1; k <= n; k++ {
		off := binary.LittleEndian.Uint32(b[4*k:])
		if off <= prev || uint64(off) > uint64(len(b)) {
			return bad("offset %d of error %d is not in (%d, %d]", off, k, prev, len(b))
		}
		name := b[prev : off-1]
		if b[off-1] != 0 {
			return bad("name of error %d is not NUL-terminated at %d", k, off-1)
		}
		if i := bytes.IndexByte(name, 0); i >= 0 {
			return bad("name of error %d holds a NUL at %d", k, int(prev)+i)
		}
		names = append(names, string(name))
		prev = off
	}
	if rest := b[prev:]; len(rest) > 0 {
		if !inferred || strings.Trim(string(rest), "\x00") != "" {
			return bad("%d bytes after the last name", len(rest))
		}
	}
	return &ErrTab{Names: names}
}

func (r *reader) isData(s *Symbol) bool {
	sec := r.symSec[s]
	return sec != nil && !sec.nobits && !s.IsCode() && r.extent[s] > 0
}
