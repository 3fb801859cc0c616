package canon

import (
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The neutral file model: what a loader (elf.go, and one file per further
// format) reads from an executable, and all that the neutral reader
// (reader.go) needs to canonicalize it. A loader checks the file's
// structure and reports malformed input as an error; everything after
// that — extents, names, code, data, the error table — is the reader's and
// the same for every format.

// file is one loaded executable.
type file struct {
	// format is Image.Format ("elf") and names the format in errors.
	format string
	// size is the file's length in bytes; it bounds the decoding work.
	size int
	// entry is the entry point's address.
	entry uint64
	// sections are the allocated, non-empty sections in the file's order.
	sections []*section
	// symbols are the defined symbols the model keeps (functions, data
	// and untyped symbols in allocated sections, or absolute), in the
	// order of the file's symbol table.
	symbols []fileSymbol
	// ownSites are the pointer sites the executable records itself (ELF
	// --emit-relocs relocation sections), sorted by address and unique,
	// used when no input objects are given. ownSource names them for
	// Image.PointerSource ("" when the file has no such records at all),
	// and siteNotes say what could not be read of them.
	ownSites  []site
	ownSource string
	siteNotes []string
	// decoder decodes the file's machine code.
	decoder decoder
	// mergedBSS says uninitialized data may share a section with
	// initialized data and the file's raw data (PE: .bss merged into
	// .data, raw data rounded up to the file alignment): whether a
	// symbol is BSS is then what its input section says, when the input
	// objects are known.
	mergedBSS bool
	// tls is the thread-local storage block (ELF PT_TLS) and its
	// symbols, by which TP offsets are named.
	tls tlsBlock
}

// tlsBlock is a file's TLS template: the thread pointer's link-time
// address (the block's end, aligned: x86_64's variant II) and the TLS
// symbols by address, so that a TP offset v names the symbol at tp + v.
type tlsBlock struct {
	tp   uint64
	syms []tlsSym // sorted by addr
}

// tlsSym is a TLS symbol at its link-time address in the template.
type tlsSym struct {
	addr, size uint64
	name       string
}

// name names the TLS variable at TP offset v: tpoff(x), tpoff(x+0x4),
// or tpoff(?-0x10) when no TLS symbol lies there.
func (b *tlsBlock) name(v int64) ref {
	a := b.tp + uint64(v)
	i := sort.Search(len(b.syms), func(i int) bool { return b.syms[i].addr > a }) - 1
	// The last symbol at or below a, preferring one whose extent holds it.
	for j := i; j >= 0 && j >= i-8; j-- {
		if s := b.syms[j]; a-s.addr < max(s.size, 1) {
			return ref{kind: refTPOff, name: s.name, off: int64(a - s.addr)}
		}
	}
	if i >= 0 {
		s := b.syms[i]
		return ref{kind: refTPOff, name: s.name, off: int64(a - s.addr)}
	}
	return ref{kind: refTPOff, off: v}
}

// section is an allocated section of a loaded executable.
type section struct {
	name   string
	addr   uint64
	size   uint64
	flags  string // "A", then "W" when writable and "X" when executable
	nobits bool   // no file contents (.bss): reads as zeros
	// strings marks a section of NUL-terminated strings (ELF
	// SHF_STRINGS): a target in no symbol is named by the string it
	// points at, which does not depend on layout.
	strings bool
	// got marks a section of GOT-like slots (ELF .got*), each holding the
	// address of a symbol that code loads or calls through.
	got  bool
	data []byte // file bytes; nil for nobits
}

func (s *section) contains(addr uint64) bool { return addr >= s.addr && addr-s.addr < s.size }

// fileSymbol is a defined symbol of a loaded executable.
type fileSymbol struct {
	name  string
	value uint64 // address (or value, when absolute)
	size  uint64 // 0 when unknown: the reader infers an extent
	kind  string // KindFunc, KindObject, KindNone
	bind  string // BindLocal, BindGlobal, BindWeak, or the format's number ("bind3")
	// sec is the section holding the symbol, nil for an absolute symbol.
	sec *section
	// file is the source file the symbol table attributes the symbol to
	// (ELF: the preceding STT_FILE), "" when none; duplicated local names
	// are qualified by it.
	file string
	// reserved marks a name this format's linkers define themselves
	// (_GLOBAL_OFFSET_TABLE_, _end, ...); without input objects it makes
	// the symbol Synthetic.
	reserved bool
}

// site is a pointer field the executable records: the field at addr
// holds a relocated value of kind (whose width is kind.Size()).
type site struct {
	addr uint64
	// addend is, for a field whose input relocation names a symbol (not
	// a section; hasAddend), the relocation's addend A: the field is then
	// shown as that symbol plus A (S + A), not as whatever lies at S + A.
	// It matters for `.long .L.str.5 - table` in clang's relative lookup
	// tables, where A is the field's offset in the table and S + A lands
	// in another, layout-dependent, merged string.
	addend    int64
	kind      obj.RelocKind
	hasAddend bool
}
