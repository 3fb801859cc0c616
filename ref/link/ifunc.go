package link

import (
	"errors"
	"fmt"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// ErrUnsupported is wrapped by every error about a well-formed input
// feature that the linker does not support (ref/elf's ErrUnsupported is
// the same error): such errors say "not supported".
var ErrUnsupported = errors.New("not supported")

// unsupportedError is an error wrapping ErrUnsupported with its own text.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string        { return e.msg }
func (e *unsupportedError) Is(target error) bool { return target == ErrUnsupported }

func unsupportedf(format string, args ...any) error {
	return &unsupportedError{fmt.Sprintf(format, args...)}
}

// IFuncer is an optional interface of a Platform that links calls of
// indirect functions (obj.SymIFunc, ELF STT_GNU_IFUNC) as ld.lld does in a
// static executable: each called one gets a PLT entry that jumps through
// a GOT slot, and a relocation entry (R_X86_64_IRELATIVE) that tells the
// C library's start-up code to store the resolver's result in the slot.
// Calls go to the PLT entry; the slot is 0 in the file, as ld.lld writes
// it.
type IFuncer interface {
	// IFuncSections names the PLT, the slots' and the relocations'
	// sections and gives their entry sizes.
	IFuncSections() (plt, got, rela string, pltSize, relaSize uint64)
	// IPLTEntry returns PLT entry i, at address at, whose slot is at slot.
	IPLTEntry(i int, at, slot uint64) []byte
	// IRelative returns the relocation entry for the slot at slot of the
	// resolver at resolver.
	IRelative(slot, resolver uint64) []byte
}

// IPLT is the indirect functions' part of a layout.
type IPLT struct {
	// Syms are the indexes in Layout.Symbols of the called indirect
	// functions, in order of first call.
	Syms []int32
	// PLT, GOT and Rela are the synthesized sections (nil when Syms is
	// empty).
	PLT, GOT, Rela *Section
}

// ipltEntry gives sym (at index id) an IPLT entry if it is an indirect
// function called by a relocation of kind k; other references to an
// indirect function are refused.
func (l *Layout) ipltEntry(p Platform, oi, si int, r *obj.Reloc, id int32) error {
	sym := &l.Symbols[id]
	if sym.Kind != obj.SymIFunc || !sym.Defined() {
		return nil
	}
	if _, ok := p.(IFuncer); !ok {
		return unsupportedf("%s: relocation %s against the indirect function %s is not supported in a %s executable", l.Where(int32(oi), int32(si), r.Offset), p.RelocName(r.Kind), sym.Name, p.Format())
	}
	if r.Kind != obj.Branch32 {
		return unsupportedf("%s: relocation %s against the indirect function %s (only calls, R_X86_64_PLT32) is not supported", l.Where(int32(oi), int32(si), r.Offset), p.RelocName(r.Kind), sym.Name)
	}
	if sym.IPLT == 0 {
		l.IPLT.Syms = append(l.IPLT.Syms, id)
		sym.IPLT = int32(len(l.IPLT.Syms))
	}
	return nil
}

// addIPLT adds the IPLT's sections after the scan.
func (l *Layout) addIPLT(p Platform) error {
	n := uint64(len(l.IPLT.Syms))
	if n == 0 {
		return nil
	}
	f := p.(IFuncer)
	plt, got, rela, pltSize, relaSize := f.IFuncSections()
	for _, s := range l.Sections {
		if s.Name == got {
			return unsupportedf("link: indirect functions together with a %s section (the GOT base) are not supported", got)
		}
	}
	mk := func(name string, kind obj.SectionKind, align, size uint64) *Section {
		s := &Section{Name: name, Kind: kind, Align: align, Size: size,
			Chunks: []Chunk{{Obj: -1, Sec: -1, Size: size, Align: align, Data: make([]byte, size)}}}
		l.Sections = append(l.Sections, s)
		return s
	}
	l.IPLT.Rela = mk(rela, obj.ROData, 8, n*relaSize)
	l.IPLT.PLT = mk(plt, obj.Text, 16, n*pltSize)
	l.IPLT.GOT = mk(got, obj.Data, 8, n*8)
	return nil
}

// writeIPLT writes the PLT entries and the relocations into img once
// addresses are known (the slots stay 0).
func (l *Layout) writeIPLT(p Platform, img []byte) {
	if len(l.IPLT.Syms) == 0 {
		return
	}
	f := p.(IFuncer)
	_, _, _, pltSize, relaSize := f.IFuncSections()
	plt, got, rela := l.IPLT.PLT, l.IPLT.GOT, l.IPLT.Rela
	for i, id := range l.IPLT.Syms {
		slot := got.Addr + uint64(i)*8
		at := plt.Addr + uint64(i)*pltSize
		copy(img[plt.Offset+uint64(i)*pltSize:], f.IPLTEntry(i, at, slot))
		resolver := l.Symbols[id].Addr
		copy(img[rela.Offset+uint64(i)*relaSize:], f.IRelative(slot, resolver))
	}
}

// iplt returns the address of sym's IPLT entry.
func (l *Layout) iplt(p Platform, sym *Symbol) uint64 {
	_, _, _, pltSize, _ := p.(IFuncer).IFuncSections()
	return l.IPLT.PLT.Addr + uint64(sym.IPLT-1)*pltSize
}
