// Package canon reads a linked executable into a layout-independent
// canonical image, so that two correct links of the same objects — by
// different linkers, in different input orders, or incrementally patched —
// compare equal, and a wrong call target, data pointer, GOT slot or error
// table does not.
//
// In the canonical image addresses are gone. What remains:
//
//   - symbols by name, with kind (func, object, notype), binding, size and
//     the flags of the output section that holds them;
//   - each function's instructions, decoded with golang.org/x/arch's
//     x86asm, with every branch target and RIP-relative operand written
//     symbolically (`f`, `g+0x8`, `@3` for instruction 3 of the same
//     function), and every indirection a linker may add seen through to the
//     final symbol and recorded in Insn.Via: a GOT load `mov r64,[rip+slot]`
//     and its relaxed form `lea r64,[rip+f]` both become `lea r64, f`; a call
//     through a GOT slot, a PLT-style stub (`jmp [rip+slot]`) or an
//     incremental linker's trampoline (`jmp rel32` left in a retired slot)
//     becomes `call f`;
//   - each data symbol's bytes, with the words that are pointers taken out
//     and listed as `&sym+off`;
//   - the error-name table `_lc_errtab` decoded into its names, or the reason
//     it is malformed.
//
// Where a word is a pointer is known from relocations — the input objects'
// (each input relocation is mapped to the output through the symbol that
// contains it, by name) or, when no objects are given, an `--emit-relocs`
// executable's own relocation sections — never guessed from a value that
// happens to equal a symbol's address.
//
// The reader has three parts, so that a format or an instruction set is
// one more file:
//
//   - a loader per format reads the file into a neutral model (file.go):
//     allocated sections with their flags and bytes, defined symbols, the
//     pointer sites the file records itself, the entry point, and the
//     format's hints (which sections hold GOT slots or strings, which names
//     its linkers reserve, the source file of a local). elf.go is the ELF
//     loader; Read tells the format by the file's magic, ReadELF is ELF's;
//   - a decoder per instruction set (x86.go: x86_64) decodes one
//     function's bytes into canonical instructions, naming addresses
//     through a symbolizer (decode.go);
//   - the neutral reader (reader.go, symbols.go, sites.go, data.go,
//     errtab.go, anon.go) does the rest for every format: extents,
//     symbol lookup and names, pointer sites from the input objects, data
//     with its pointers, the error table and anonymous input data.
//
// See docs/canon.md.
package canon

import (
	"fmt"
	"sort"
	"strings"
)

// ErrTabSymbol is the name of linkcheck's error-name table.
const ErrTabSymbol = "_lc_errtab"

// Symbol kinds, as in the ELF symbol table.
const (
	KindFunc   = "func"
	KindObject = "object"
	KindNone   = "notype"
)

// Symbol bindings.
const (
	BindLocal  = "local"
	BindGlobal = "global"
	BindWeak   = "weak"
)

// Indirections recorded in Insn.Via: how the instruction reaches its final
// target in this file. The empty string means directly.
const (
	ViaGOT        = "got"        // through a GOT slot holding the target's address
	ViaStub       = "stub"       // through a stub `jmp [rip+slot]`
	ViaTrampoline = "trampoline" // through a `jmp rel32` outside any symbol's start
)

// Pointer sources recorded in Image.PointerSource.
const (
	PointersFromObjects    = "objects"     // the input objects' relocations
	PointersFromEmitRelocs = "emit-relocs" // the executable's own relocation sections
	PointersUnknown        = "none"        // no relocations: no data word is known to be a pointer
)

// Image is the canonical form of one linked executable.
type Image struct {
	// Format is the file format ("elf"), as its loader names it.
	Format string
	// Entry is the entry point in symbolic form.
	Entry string
	// Sections lists the allocated output sections by name with their
	// flags; addresses and sizes are dropped.
	Sections []Section
	// Symbols are sorted by Name; names are unique (duplicated local names
	// are qualified, see docs/canon.md).
	Symbols []*Symbol
	// ErrTab is the decoded error-name table, nil when the file has no
	// _lc_errtab symbol.
	ErrTab *ErrTab
	// PointerSource says where pointer locations came from.
	PointerSource string
	// Frames is the call frame information (ELF .eh_frame and
	// .eh_frame_hdr; frames.go), nil when the file has none.
	Frames *Frames `json:",omitempty"`
	// Notes are things the reader could not canonicalize (an unmapped
	// relocation, an operand that points nowhere), sorted.
	Notes []string

	r    *reader // what Decode needs
	lazy bool    // from Open: code symbols are decoded on demand
}

// Section is an allocated output section.
type Section struct {
	Name  string
	Flags string // "A" alloc, then "W" write and "X" exec when set: "AX", "AW", "A"
}

// Symbol is a defined symbol of the executable.
type Symbol struct {
	Name string
	Kind string
	Bind string
	// Size is st_size, or, when that is zero for a function or data
	// symbol, the inferred extent (up to the next symbol or the end of the
	// section) minus trailing padding; SizeInferred is then set.
	Size         uint64
	SizeInferred bool
	// Section is the name of the output section holding the symbol
	// ("*ABS*" for absolute symbols); Flags are its flags.
	Section string
	Flags   string
	// Synthetic marks a symbol the linker defined (no input object defines
	// it, or, without objects, one of the reserved linker names).
	Synthetic bool
	// Anon marks a pseudo-symbol for an input section that no symbol
	// names (a jump table, say), located in the output by its contents and
	// named FILE:(SECTION); see docs/canon.md.
	Anon bool `json:",omitempty"`
	// Insns are a function's instructions (symbols in executable sections).
	Insns []Insn
	// Padding is the number of trailing fill bytes (nop, int3, zero)
	// trimmed from a function whose size was inferred.
	Padding uint64
	// Data are a data symbol's bytes with pointer fields zeroed; nil for
	// BSS (all zeros) and for functions.
	Data []byte
	// BSS marks a data symbol in a NOBITS section.
	BSS bool
	// Pointers are the pointer fields in Data, sorted by offset.
	Pointers []Pointer

	addr uint64   // address in the file; not part of the canonical form
	ext  uint64   // bytes the symbol owns (its size before trimming)
	sec  *section // the section holding it, nil when absolute
}

// IsCode reports whether the symbol's contents are instructions: a
// function, or an untyped symbol in an executable section.
func (s *Symbol) IsCode() bool {
	return s.Kind == KindFunc || s.Kind == KindNone && strings.Contains(s.Flags, "X")
}

// Insn is one decoded instruction in canonical form.
type Insn struct {
	// Off is the offset of the instruction from the function's start and
	// Len its length in bytes.
	Off uint64
	Len int
	// Op is the canonical mnemonic (lower case, with a lock/rep prefix
	// when present); Args the canonical operands.
	Op   string
	Args []string
	// Via names the indirection the instruction goes through to reach its
	// final target (ViaGOT, ViaStub, ViaTrampoline), "" when direct.
	Via string

	addr   uint64 // address in the file
	target uint64 // branch target or RIP-relative address, when hasRef
	hasRef bool
}

// Text returns the instruction as canonical text ("call f", "lea rax, g").
func (in *Insn) Text() string {
	s := in.Op
	if len(in.Args) > 0 {
		s += " " + strings.Join(in.Args, ", ")
	}
	if in.Via != "" {
		s += " ; via " + in.Via
	}
	return s
}

// Pointer is a pointer field inside a data symbol.
type Pointer struct {
	Off    uint64
	Size   int    // 8 or 4
	Kind   string // the relocation kind (abs64, abs32, pcrel32, ...)
	Target string // "&sym" or "&sym+0x8"; "?..." when it points at no symbol
}

// ErrTab is the decoded error-name table.
type ErrTab struct {
	// Names are the error names in value order (error k is Names[k-1]).
	Names []string
	// Err says why the table is malformed; Names is then empty.
	Err string
}

// Lookup returns the symbol named name, or nil.
func (im *Image) Lookup(name string) *Symbol {
	i := sort.Search(len(im.Symbols), func(i int) bool { return im.Symbols[i].Name >= name })
	if i < len(im.Symbols) && im.Symbols[i].Name == name {
		return im.Symbols[i]
	}
	return nil
}

// Lazy reports whether the image came from Open: its code symbols have no
// Insns and are decoded on demand (Decode).
func (im *Image) Lazy() bool { return im.lazy }

// DecodeOptions tune Image.Decode.
type DecodeOptions struct {
	// Hint is the same symbol decoded from another image (the other side
	// of a comparison, say): its instructions are reused, not decoded
	// again, where the bytes at the same offset are equal. The result is
	// the same with or without it.
	Hint *Func
	// Cache, when not nil, holds decodings by function bytes, shared
	// across images (the updates of an incremental sequence); see
	// DecodeCache.
	Cache *DecodeCache
	// NoNotes skips formatting notes (Func.Notes stays empty).
	NoNotes bool
}

// Decode decodes code symbol s of an image from Open into f, which it
// empties first; f then holds exactly what Read puts in s.Insns, in
// compact form (Func.Insns materializes it). s must be one of im.Symbols.
// A symbol that is not code, or has no bytes, decodes to no instructions,
// and so does every symbol of an image from Read (its Insns are already
// there). Decode
// does not modify the image and may be called from several goroutines
// at once, each with its own f.
func (im *Image) Decode(s *Symbol, f *Func, opts DecodeOptions) {
	f.discard = opts.NoNotes
	r := im.r
	if r == nil || !s.IsCode() || s.ext == 0 {
		f.reset(s.Name, s.addr, nil)
		return
	}
	code := r.codeOf(s, f.note)
	r.decodeInto(s, code, f, opts.Hint, opts.Cache)
}

// Text renders the image as stable, sorted text for `linkcheck dump`.
//
// An image from Open decodes its functions as it prints them.
func (im *Image) Text() string {
	var b strings.Builder
	var fn Func
	fmt.Fprintf(&b, "image %s entry %s pointers %s\n", im.Format, im.Entry, im.PointerSource)
	for _, s := range im.Sections {
		fmt.Fprintf(&b, "section %s %s\n", s.Name, s.Flags)
	}
	for _, s := range im.Symbols {
		fmt.Fprintf(&b, "\nsymbol %s %s %s size %#x", s.Name, s.Kind, s.Bind, s.Size)
		if s.SizeInferred {
			b.WriteString(" (inferred)")
		}
		fmt.Fprintf(&b, " in %s %s", s.Section, s.Flags)
		if s.Synthetic {
			b.WriteString(" synthetic")
		}
		if s.Anon {
			b.WriteString(" anon")
		}
		if s.BSS {
			b.WriteString(" bss")
		}
		b.WriteByte('\n')
		for i := range s.Insns {
			in := &s.Insns[i]
			fmt.Fprintf(&b, "  %4d %#06x  %s\n", i, in.Off, in.Text())
		}
		if im.lazy && s.IsCode() {
			im.Decode(s, &fn, DecodeOptions{})
			for i, in := range fn.Insns() {
				fmt.Fprintf(&b, "  %4d %#06x  %s\n", i, in.Off, in.Text())
			}
		}
		if s.Padding > 0 {
			fmt.Fprintf(&b, "  padding %d bytes\n", s.Padding)
		}
		writeData(&b, s)
	}
	if im.ErrTab != nil {
		if im.ErrTab.Err != "" {
			fmt.Fprintf(&b, "\nerrtab malformed: %s\n", im.ErrTab.Err)
		} else {
			fmt.Fprintf(&b, "\nerrtab %d\n", len(im.ErrTab.Names))
			for i, n := range im.ErrTab.Names {
				fmt.Fprintf(&b, "  %d %q\n", i+1, n)
			}
		}
	}
	if fr := im.Frames; fr != nil {
		fmt.Fprintf(&b, "\nframes %d fdes\n", len(fr.FDEs))
		for i := range fr.FDEs {
			fmt.Fprintf(&b, "  %s\n", fr.FDEs[i].Text())
		}
		if fr.Err != "" {
			fmt.Fprintf(&b, "  malformed: %s\n", fr.Err)
		}
		if h := fr.Hdr; h != nil {
			fmt.Fprintf(&b, "  eh_frame_hdr %d entries %s\n", h.Count, orRight(h.Err))
		}
	}
	for _, n := range im.Notes {
		fmt.Fprintf(&b, "note %s\n", n)
	}
	return b.String()
}

// writeData writes a data symbol's bytes 16 to a line, pointer fields
// shown as their targets.
func writeData(b *strings.Builder, s *Symbol) {
	if s.Data == nil {
		return
	}
	ptrAt := map[uint64]Pointer{}
	for _, p := range s.Pointers {
		ptrAt[p.Off] = p
	}
	for line := uint64(0); line < uint64(len(s.Data)); line += 16 {
		fmt.Fprintf(b, "  %#06x ", line)
		end := min(line+16, uint64(len(s.Data)))
		for o := line; o < end; o++ {
			if p, ok := ptrAt[o]; ok {
				fmt.Fprintf(b, " [%s %s]", p.Kind, p.Target)
				o += uint64(p.Size) - 1
				continue
			}
			fmt.Fprintf(b, " %02x", s.Data[o])
		}
		b.WriteByte('\n')
	}
}

// orRight is s, or "right" when s is empty.
func orRight(s string) string {
	if s == "" {
		return "right"
	}
	return s
}
