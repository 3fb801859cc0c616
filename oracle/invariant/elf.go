package invariant

import (
	"bytes"
	"debug/elf"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// readELF reads an ELF executable: PT_LOAD segments, SHF_ALLOC sections
// (.got holds GOT slots), .symtab.
func readELF(exe []byte) (*image, error) {
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		return nil, err
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	im := &image{data: exe, sized: true, entry: f.Entry}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		s := segment{name: "PT_LOAD", vaddr: p.Vaddr, memsz: p.Memsz, off: p.Off, filesz: p.Filesz, exec: p.Flags&elf.PF_X != 0}
		if p.Off != 0 {
			s.body = p.Vaddr // the first segment holds the headers
		}
		im.segs = append(im.segs, s)
	}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		im.secs = append(im.secs, section{name: s.Name, addr: s.Addr, size: s.Size, off: s.Offset, nobits: s.Type == elf.SHT_NOBITS, got: s.Name == ".got"})
	}
	for i, s := range syms {
		if s.Name == "" {
			continue
		}
		im.list = append(im.list, symbol{name: s.Name, value: s.Value, size: s.Size, local: elf.ST_BIND(s.Info) == elf.STB_LOCAL, index: i + 1})
	}
	im.check = func(im *image, _ map[string]*obj.Atom, _, _ map[uint64]string, add addFunc) {
		checkELFSymtab(f, syms, add)
	}
	return im, nil
}

// checkELFSymtab checks .symtab's own header: the locals come first and
// sh_info is the index of the first global.
func checkELFSymtab(f *elf.File, syms []elf.Symbol, add addFunc) {
	var symtab *elf.Section
	for _, s := range f.Sections {
		if s.Type == elf.SHT_SYMTAB {
			symtab = s
		}
	}
	if symtab == nil {
		add(6, "", 0, "no symbol table")
		return
	}
	firstGlobal := -1
	for i, s := range syms {
		local := elf.ST_BIND(s.Info) == elf.STB_LOCAL
		if !local && firstGlobal < 0 {
			firstGlobal = i
		}
		if local && firstGlobal >= 0 {
			add(6, s.Name, s.Value, "a local symbol after the first global (index %d)", firstGlobal+1)
		}
	}
	if firstGlobal < 0 {
		firstGlobal = len(syms)
	}
	// debug/elf drops the null symbol: table indexes are one more.
	if want := uint32(firstGlobal + 1); symtab.Info != want {
		add(6, "", 0, ".symtab sh_info is %d, the index of its first global is %d", symtab.Info, want)
	}
}
