package canon

import (
	"debug/elf"
	"strings"
)

// Assembler-temporary labels. An ELF assembler keeps some `.L` labels in
// an object's symbol table as STB_LOCAL symbols: those that relocations
// into mergeable sections refer to (`.L.str`, `.LCPI0_0`), and any local
// label of hand-written assembly that is referenced. They are not the
// program's names: ld.lld, GNU ld and gold discard them from the output's
// .symtab (GNU ld's default --discard-locals), mold 1.10.1 copies them.
// canon reads them as no symbol, so an address they label is named as in
// a link without them (by its string or constant, its anonymous input
// section, or the enclosing symbol), whichever linker kept them.

//
// Linker-made entry labels. mold also labels the entries it synthesizes
// with local symbols named after their symbol: `foo$got` for foo's GOT
// slot, `foo$plt` and `foo$pltgot` for its PLT entries, `foo$tlsgd`,
// `foo$tlsdesc`, `foo$gottp` for TLS slots (and, in later versions,
// `foo$thunk`). A GOT slot is an address that lies in no symbol (see
// isGOTSlot), so canon reads these labels as no symbol too: a load
// through `foo$got` is then a load through a GOT slot, seen through to
// foo, as in the output of a linker that writes no such label.

// elfTemporary reports whether an ELF symbol is an assembler-temporary
// label (local, named `.L...`) or one of mold's local entry labels
// (`foo$got`, ...).
func elfTemporary(name string, bind elf.SymBind) bool {
	if bind != elf.STB_LOCAL {
		return false
	}
	if len(name) > 2 && name[0] == '.' && name[1] == 'L' {
		return true
	}
	if i := strings.LastIndexByte(name, '$'); i > 0 {
		switch name[i+1:] {
		case "got", "plt", "pltgot", "gottp", "tlsgd", "tlsdesc", "tlsld", "thunk":
			return true
		}
	}
	return false
}
