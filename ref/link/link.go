// Package link is linkcheck's one full-link pipeline, shared by every
// output format. It is shaped like mold and wild: one file per phase, and a
// small Platform interface through which a format package (ref/elf today,
// ref/macho and ref/coff later) names output sections, reserves room for
// its headers and writes the file; the instruction set's relocation
// arithmetic comes from ref/arch through Platform.Arch.
//
// The phases, in order:
//
//	resolve.go      inputs → symbol table (locals, globals, weak; duplicates)
//	sections.go     input sections → output sections (by name and kind),
//	                SHF_MERGE pieces deduplicated
//	scan.go         relocation scan: undefined references, GOT slots,
//	                GOT-load relaxation decisions
//	layout.go       addresses, file offsets, segments by permission
//	reloc.go        contents, relocations applied through arch.Arch
//	                (overflow reported as ld.lld does), GOT relaxation
//	link.go         the phases in order, then Platform.Write
//	input.go        object files read in parallel with a format's reader
//
// The result of the layout phase is exposed as a Layout (output sections
// with their chunks, where every input section went, every symbol's
// address, the GOT slot of every symbol that has one, the entry address) so
// that the incremental linker (ref/incr) can start from it and patch the
// file in place.
package link

import (
	"errors"
	"fmt"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// DefaultEntry is the entry symbol used when Options.Entry is empty.
const DefaultEntry = "_start"

// Options tune a full link.
type Options struct {
	// Entry names the entry symbol; empty means DefaultEntry.
	Entry string
	// RelaxGOT chooses what happens to relaxable GOT loads (GOTLoad32);
	// the zero value is RelaxLikeLLD.
	RelaxGOT GOTRelax
	// NoMergeStrings turns off deduplication of SHF_MERGE sections: their
	// contents are then laid out like any other section.
	NoMergeStrings bool
	// EHFrameHdr writes .eh_frame_hdr (the FDE search table, ld.lld's
	// --eh-frame-hdr, off by default for a static link) when the link
	// has an .eh_frame.
	EHFrameHdr bool
	// Faults plants deliberate defects in the link (fault-injection tests
	// only).
	Faults fault.Set
}

// GOTRelax is a policy for relaxable GOT loads.
type GOTRelax uint8

// GOT relaxation policies.
const (
	// RelaxLikeLLD relaxes GOT loads of symbols with a link-time address
	// exactly as ld.lld 16 does by default for a static non-PIC
	// executable: when the addend is -4, `mov r, [rip+GOT]` becomes
	// `lea r, [rip+sym]`, `call [rip+GOT]` becomes `addr32 call sym` and
	// `jmp [rip+GOT]` becomes `jmp sym; nop`. A relaxed load needs no GOT
	// slot. Absolute and undefined weak symbols are never relaxed. See
	// docs/link.md for the one form lld relaxes and this linker does not.
	RelaxLikeLLD GOTRelax = iota
	// RelaxNone keeps every GOT load a load through a GOT slot.
	RelaxNone
)

// Platform is what a format supplies to the pipeline.
type Platform interface {
	// Format names the output format.
	Format() obj.Format
	// ImageBase is the address at which the file's first byte is mapped.
	ImageBase() uint64
	// PageSize is the alignment of segments in memory and in the file.
	PageSize() uint64
	// SectionRank orders the output sections (lower first; ties keep the
	// order of first appearance).
	SectionRank(s *Section) int
	// SegmentKey groups consecutive output sections into segments: a
	// section whose key differs from the one before it starts a segment.
	// The key of nil is that of the first segment, which holds the
	// headers.
	SegmentKey(s *Section) string
	// SegmentStart returns where a segment starts, in memory and in the
	// file, after the previous one ended at addr and off.
	SegmentStart(addr, off uint64) (uint64, uint64)
	// SectionStart returns where section s starts, in memory and in the
	// file, when the bytes before it end at addr and off.
	SectionStart(s *Section, addr, off uint64) (uint64, uint64)
	// OutputSectionName returns the name of the output section that
	// collects the input section s.
	OutputSectionName(s *obj.Section) string
	// GOTSectionName is the name of the synthesized GOT section.
	GOTSectionName() string
	// HeaderSize returns how many bytes at the start of the file (and of
	// the first segment) the format's headers take, given the layout's
	// output sections and segments (addresses are not assigned yet).
	HeaderSize(l *Layout) uint64
	// RelocName names a relocation kind in error messages, in the
	// format's own spelling (R_X86_64_PC32, ...).
	RelocName(k obj.RelocKind) string
	// Supports reports whether the format's executables can hold a
	// relocation of kind k (ELF has no image-relative relocations).
	Supports(k obj.RelocKind) bool
	// Arch is the instruction set's relocation arithmetic.
	Arch() arch.Arch
	// Write returns the output file. image holds the loaded part of the
	// file (l.FileSize bytes, every section's contents at its offset,
	// relocated, headers not yet written); Write may append to it and
	// return it.
	Write(l *Layout, image []byte) ([]byte, error)
}

// SlotRelaxer is an optional interface of a Platform whose linker decides
// GOT-load relaxation per symbol rather than per relocation, as ld64.lld
// does: a relaxable GOT load (GOTLoad32) is rewritten to a direct
// reference only when the symbol gets no GOT slot at all, and it gets one
// when any other GOT reference (GOTPCRel32, or a GOT load the
// architecture cannot relax) needs it. ld.lld's rule, without this
// interface, relaxes each relaxable load on its own.
type SlotRelaxer interface {
	// RelaxOnlyWithoutSlot reports whether the rule applies.
	RelaxOnlyWithoutSlot() bool
}

// EmptySectionKeeper is an optional interface of a Platform whose
// executables keep empty output sections as section headers, as ld.lld
// does (an empty .text still has a header, and its labels stay in it):
// the layout then gives an empty section the address ld.lld gives it, as
// if it started the segment its permissions call for.
type EmptySectionKeeper interface {
	// KeepsEmptySections reports whether the rule applies.
	KeepsEmptySections() bool
}

func keepsEmptySections(p Platform) bool {
	k, ok := p.(EmptySectionKeeper)
	return ok && k.KeepsEmptySections()
}

// LastFirstScanner is an optional interface of a Platform whose linker
// gives GOT slots in order of first reference with each input section's
// relocations taken last first, as ld64.lld does (it keeps a Mach-O
// object's relocation order, which assemblers write by descending
// address); without it the order is the relocations' (ascending, ld.lld's).
type LastFirstScanner interface {
	// ScansRelocsLastFirst reports whether the rule applies.
	ScansRelocsLastFirst() bool
}

func scansLastFirst(p Platform) bool {
	r, ok := p.(LastFirstScanner)
	return ok && r.ScansRelocsLastFirst()
}

// SymbolOrderGOT is an optional interface of a Platform whose linker
// orders GOT slots by symbol rather than by first reference, as ld.lld
// 16 does (it marks the symbols that need a slot while scanning and gives
// the slots afterwards): global symbols in the order their names first
// appear in the inputs' symbol tables, then each object's local symbols,
// in input order.
type SymbolOrderGOT interface {
	// GOTInSymbolOrder reports whether the rule applies.
	GOTInSymbolOrder() bool
}

func gotInSymbolOrder(p Platform) bool {
	o, ok := p.(SymbolOrderGOT)
	return ok && o.GOTInSymbolOrder()
}

// RelroNamer is an optional interface of a Platform whose linker puts
// some data sections in the RELRO segment with the GOT (ld.lld: the init
// and fini arrays, .data.rel.ro).
type RelroNamer interface {
	// RelroSection reports whether output section s is RELRO.
	RelroSection(s *Section) bool
}

// InputOrderer is an optional interface of a Platform whose linker sorts
// some input sections inside their output section (ld.lld: .init_array.N
// by priority N), stably.
type InputOrderer interface {
	// InputPriority returns the sort key of s and whether s is sorted.
	InputPriority(s *obj.Section) (int, bool)
}

// GOTBaser is an optional interface of a Platform whose linker writes a
// GOT base section when an object refers to the GOT base symbol or uses a
// relocation relative to the GOT base (GOTOff64, GOTPC32, GOTPC64):
// ld.lld's .got.plt and _GLOBAL_OFFSET_TABLE_. The section is zeros (in a
// static executable, .got.plt's reserved entries are 0) and
// Layout.GOTBase is its address.
type GOTBaser interface {
	// GOTBase returns the section's name, size and alignment and the
	// symbol's name.
	GOTBase() (section string, size, align uint64, symbol string)
}

// EntryWarner is an optional interface of a Platform whose linker only
// warns when the entry symbol is missing, as ld.lld does ("cannot find
// entry symbol _start; not setting start address"; the entry address is
// then 0): the warning goes to Layout.Warnings.
type EntryWarner interface {
	// MissingEntryWarns reports whether the rule applies.
	MissingEntryWarns() bool
}

func missingEntryWarns(p Platform) bool {
	w, ok := p.(EntryWarner)
	return ok && w.MissingEntryWarns()
}

// relaxesPerSymbol reports whether p implements SlotRelaxer and wants its
// rule.
func relaxesPerSymbol(p Platform) bool {
	r, ok := p.(SlotRelaxer)
	return ok && r.RelaxOnlyWithoutSlot()
}

// addGOTBase adds the GOTBaser's section when the link needs it, and
// returns it (nil when not).
func (l *Layout) addGOTBase(p Platform) *Section {
	g, ok := p.(GOTBaser)
	if !ok {
		return nil
	}
	name, size, align, sym := g.GOTBase()
	need := false
	if i := l.Lookup(sym); i >= 0 && !l.Symbols[i].Defined() {
		need = true
	}
	for _, o := range l.Objects {
		for _, s := range o.Sections {
			for _, r := range s.Relocs {
				if r.Kind == obj.GOTOff64 || r.Kind == obj.GOTPC32 || r.Kind == obj.GOTPC64 {
					need = true
					break
				}
			}
		}
	}
	if !need {
		return nil
	}
	sec := &Section{Name: name, Kind: obj.Data, Align: align, Size: size,
		Chunks: []Chunk{{Obj: -1, Sec: -1, Size: size, Align: align, Data: make([]byte, size)}}}
	l.Sections = append(l.Sections, sec)
	return sec
}

// Link links objs for platform p: it resolves symbols, lays out the
// sections, synthesizes the GOT, applies relocations and writes the file.
// It returns the file and its layout. Every error names the object, and
// where it applies the section, offset and symbol; several problems of the
// same phase are reported together (errors.Join), in input order.
func Link(objs []*obj.Object, p Platform, opts Options) ([]byte, *Layout, error) {
	return buildAndWrite(objs, p, opts, nil)
}

// buildAndWrite is Link, with build's pre.
func buildAndWrite(objs []*obj.Object, p Platform, opts Options, pre *pending) ([]byte, *Layout, error) {
	l, image, err := build(objs, p, opts, pre)
	if err != nil {
		return nil, nil, err
	}
	out, err := p.Write(l, image)
	if err != nil {
		return nil, nil, fmt.Errorf("link: write %s: %w", p.Format(), err)
	}
	return out, l, nil
}

// Build runs every phase but the final write: it returns the layout and the
// loaded part of the image (l.FileSize bytes), relocated.
func Build(objs []*obj.Object, p Platform, opts Options) (*Layout, []byte, error) {
	return build(objs, p, opts, nil)
}

// pending is a symbol table that LinkFiles builds beside the readers.
type pending struct {
	// plain says that every object was read and is valid and plain: no
	// COMDAT group, no common symbol, so that neither discardComdats nor
	// resolveCommons changes it (the readers checked).
	plain bool
	// wait returns the table once it is built (nil for none).
	wait func() *resolver
}

// plain reports whether o has no COMDAT group and no common symbol's
// section: discardComdats and resolveCommons leave it as it is.
func plain(o *obj.Object) bool {
	for _, s := range o.Sections {
		if s.Group != "" || s.Common {
			return false
		}
	}
	return true
}

// build is Build, with the symbol table that pre resolved while the
// objects were read (LinkFiles) when there is one that holds: every object
// added and none changed by COMDAT discarding or common symbols, else
// resolved here. When it will hold (every object read, valid and plain),
// the input sections are placed while the table is finished; the table's
// errors still come first.
func build(objs []*obj.Object, p Platform, opts Options, pre *pending) (*Layout, []byte, error) {
	if len(objs) == 0 {
		return nil, nil, errors.New("link: no input files")
	}
	for i, o := range objs {
		if o == nil {
			return nil, nil, fmt.Errorf("link: input %d is nil", i)
		}
	}
	var discarded map[*obj.Section]bool
	if pre == nil || !pre.plain {
		objs, discarded = discardComdats(objs)
		objs = resolveCommons(objs)
	}
	l := newLayout(objs, p.Format())
	l.discarded = discarded
	var r *resolver
	placed, ehInputs, placeErr := false, [][2]int32(nil), error(nil)
	if pre != nil {
		if pre.plain {
			// The placement reads the objects' sections only, and the
			// table is built in its own Layout.
			ehInputs, placeErr = l.placeInputs(p, opts)
			placed = true
		}
		r = pre.wait()
	}
	if r != nil && r.holds(objs) {
		l.Symbols, l.SymIndex, l.Globals = r.l.Symbols, r.l.SymIndex, r.l.Globals
		r.l = l
		if err := r.finish(opts); err != nil {
			return nil, nil, err
		}
	} else if err := l.resolve(opts); err != nil {
		return nil, nil, err
	}
	if !placed {
		ehInputs, placeErr = l.placeInputs(p, opts)
	}
	if placeErr != nil {
		return nil, nil, placeErr
	}
	if err := l.finishSections(p, opts, ehInputs); err != nil {
		return nil, nil, err
	}
	gotBase := l.addGOTBase(p)
	if err := l.defineLinkerSymbols(p); err != nil {
		return nil, nil, err
	}
	if err := l.scan(p, opts); err != nil {
		return nil, nil, err
	}
	if err := l.assignAddresses(p, opts); err != nil {
		return nil, nil, err
	}
	if gotBase != nil {
		l.GOTBase = gotBase.Addr
	}
	l.setLinkerSymbols(p)
	image := l.contents(p.Arch().CodeFill())
	if err := l.relocate(p, opts, image); err != nil {
		return nil, nil, err
	}
	if err := l.writeEHFrameHdr(image, opts); err != nil {
		return nil, nil, fmt.Errorf("link: %w", err)
	}
	return l, image, nil
}
