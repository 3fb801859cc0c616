package canon

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The ELF loader: debug/elf's view of an ELF64 x86_64 executable turned
// into the neutral file model.

// Bounds on an ELF file's relocation sections.
const (
	relaEntSize  = 24        // sizeof(Elf64_Rela)
	maxRelaBytes = 256 << 20 // relocation section bytes examined
)

// ReadELF reads an ELF64 x86_64 executable into its canonical image. objs
// are the input objects the executable was linked from; their relocations
// say which fields are pointers (see the package comment). With no objects,
// an executable linked with --emit-relocs supplies its own relocations;
// otherwise no data word is taken for a pointer and Image.PointerSource is
// "none".
//
// exe is untrusted: every offset and size is checked, work is bounded by
// the file's size, and no input makes ReadELF panic. Errors wrap
// ErrMalformed. Read does the same for a file of any supported format.
func ReadELF(exe []byte, objs []*obj.Object) (*Image, error) {
	f, err := loadELF(exe)
	if err != nil {
		return nil, err
	}
	return readFile(f, objs, false)
}

// loadELF reads an ELF64 little-endian x86_64 executable (ET_EXEC or
// ET_DYN): its allocated sections, its symbol table and the relocation
// sections --emit-relocs keeps.
func loadELF(exe []byte) (*file, error) {
	ef, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		return nil, fmt.Errorf("canon: elf: %w: %w", ErrMalformed, err)
	}
	if ef.Class != elf.ELFCLASS64 || ef.Data != elf.ELFDATA2LSB || ef.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("canon: elf: %w: not an ELF64 little-endian x86_64 file (%v %v %v)", ErrMalformed, ef.Class, ef.Data, ef.Machine)
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, fmt.Errorf("canon: elf: %w: file type %v is not an executable", ErrMalformed, ef.Type)
	}
	f := &file{format: "elf", size: len(exe), entry: ef.Entry, decoder: x86_64{}}
	secByIdx, err := elfSections(ef, exe, f)
	if err != nil {
		return nil, err
	}
	esyms, err := elfSymbols(ef, secByIdx, f)
	if err != nil {
		return nil, err
	}
	elfTLS(ef, esyms, f)
	elfEmitRelocs(ef, exe, f)
	return f, nil
}

func elfSectionFlags(fl elf.SectionFlag) string {
	s := "A"
	if fl&elf.SHF_WRITE != 0 {
		s += "W"
	}
	if fl&elf.SHF_EXECINSTR != 0 {
		s += "X"
	}
	return s
}

// elfSections adds the allocated, non-empty sections to f and returns
// them by section header index.
func elfSections(ef *elf.File, exe []byte, f *file) (map[int]*section, error) {
	secByIdx := map[int]*section{}
	for i, sh := range ef.Sections {
		if sh.Flags&elf.SHF_ALLOC == 0 || sh.Size == 0 {
			continue
		}
		s := &section{name: sh.Name, addr: sh.Addr, size: sh.Size, flags: elfSectionFlags(sh.Flags), nobits: sh.Type == elf.SHT_NOBITS,
			strings: sh.Flags&elf.SHF_STRINGS != 0, got: strings.HasPrefix(sh.Name, ".got")}
		if sh.Addr+sh.Size < sh.Addr {
			return nil, fmt.Errorf("canon: elf: %w: section %d %q: address range wraps", ErrMalformed, i, sh.Name)
		}
		if !s.nobits {
			if sh.Offset > uint64(len(exe)) || uint64(len(exe))-sh.Offset < sh.Size {
				return nil, fmt.Errorf("canon: elf: %w: section %d %q: bytes [%#x, +%#x) past the end of the file (%#x bytes)", ErrMalformed, i, sh.Name, sh.Offset, sh.Size, len(exe))
			}
			s.data = exe[sh.Offset : sh.Offset+sh.Size]
		}
		f.sections = append(f.sections, s)
		secByIdx[i] = s
	}
	return secByIdx, nil
}

// elfKinds and elfBinds name the symbol types and bindings of the model.
var (
	elfKinds = map[elf.SymType]string{elf.STT_FUNC: KindFunc, elf.STT_OBJECT: KindObject, elf.STT_NOTYPE: KindNone}
	elfBinds = map[elf.SymBind]string{elf.STB_LOCAL: BindLocal, elf.STB_GLOBAL: BindGlobal, elf.STB_WEAK: BindWeak}
)

// elfSymbols adds the defined FUNC, OBJECT and NOTYPE symbols of .symtab
// that lie in an allocated section or are absolute, each with the
// STT_FILE that precedes it. It returns the symbol table.
func elfSymbols(ef *elf.File, secByIdx map[int]*section, f *file) ([]elf.Symbol, error) {
	esyms, err := ef.Symbols()
	if err != nil {
		return nil, fmt.Errorf("canon: elf: %w: symbol table: %w", ErrMalformed, err)
	}
	if len(esyms) > maxSymbols {
		return nil, fmt.Errorf("canon: elf: %w: %d symbols (limit %d)", ErrMalformed, len(esyms), maxSymbols)
	}
	srcFile := ""
	f.symbols = slices.Grow(f.symbols, len(esyms))
	for _, es := range esyms {
		typ := elf.ST_TYPE(es.Info)
		if typ == elf.STT_FILE {
			srcFile = es.Name
			continue
		}
		if es.Name == "" || es.Section == elf.SHN_UNDEF || es.Section == elf.SHN_COMMON {
			continue
		}
		if elfTemporary(es.Name, elf.ST_BIND(es.Info)) {
			continue // locals.go
		}
		kind, ok := elfKinds[typ]
		if !ok {
			continue // sections, TLS, ifunc: not part of the model
		}
		bind, ok := elfBinds[elf.ST_BIND(es.Info)]
		if !ok {
			bind = fmt.Sprintf("bind%d", elf.ST_BIND(es.Info))
		}
		s := fileSymbol{name: es.Name, value: es.Value, size: es.Size, kind: kind, bind: bind, file: srcFile, reserved: elfReserved(es.Name)}
		if es.Section != elf.SHN_ABS {
			if s.sec = secByIdx[int(es.Section)]; s.sec == nil {
				continue // in a non-allocated section or a bad index
			}
		}
		f.symbols = append(f.symbols, s)
	}
	return esyms, nil
}

// elfTLS reads the TLS block: PT_TLS gives the thread pointer's
// link-time address, alignUp(p_vaddr + p_memsz, p_align) (x86_64's
// variant II, as linkers compute TP offsets), and the defined STT_TLS
// symbols (st_value an offset in the block) their addresses; esyms is
// the symbol table.
func elfTLS(ef *elf.File, esyms []elf.Symbol, f *file) {
	var tls *elf.Prog
	for _, p := range ef.Progs {
		if p.Type == elf.PT_TLS {
			tls = p
			break
		}
	}
	if tls == nil {
		return
	}
	align := max(tls.Align, 1)
	if align&(align-1) != 0 {
		align = 1 // a corrupt header: offsets are then named from the unaligned end
	}
	f.tls.tp = (tls.Vaddr + tls.Memsz + align - 1) &^ (align - 1)
	for _, es := range esyms {
		if elf.ST_TYPE(es.Info) != elf.STT_TLS || es.Section == elf.SHN_UNDEF || es.Name == "" || len(f.tls.syms) >= maxSymbols {
			continue
		}
		f.tls.syms = append(f.tls.syms, tlsSym{addr: tls.Vaddr + es.Value, size: es.Size, name: es.Name})
	}
	sort.SliceStable(f.tls.syms, func(i, j int) bool {
		a, b := f.tls.syms[i], f.tls.syms[j]
		if a.addr != b.addr {
			return a.addr < b.addr
		}
		// Of two at one address, a global one first (the later local
		// has the same address; the order must not depend on linkers'
		// symbol table order): by name.
		return a.name < b.name
	})
}

// elfEmitRelocs reads the relocation sections kept by --emit-relocs
// (r_offset is an address in an executable) into f's own sites.
func elfEmitRelocs(ef *elf.File, exe []byte, f *file) {
	kinds := map[uint64]obj.RelocKind{}
	for _, sh := range ef.Sections {
		if sh.Type != elf.SHT_RELA || sh.Flags&elf.SHF_ALLOC != 0 {
			continue
		}
		if int(sh.Info) >= len(ef.Sections) || ef.Sections[sh.Info].Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		if sh.Offset > uint64(len(exe)) || uint64(len(exe))-sh.Offset < sh.Size || sh.Size > maxRelaBytes {
			f.siteNotes = append(f.siteNotes, fmt.Sprintf("relocation section %s is outside the file", sh.Name))
			continue
		}
		data := exe[sh.Offset : sh.Offset+sh.Size]
		f.ownSource = PointersFromEmitRelocs
		for i := 0; i+relaEntSize <= len(data) && len(kinds) < maxSites; i += relaEntSize {
			off := binary.LittleEndian.Uint64(data[i:])
			typ := elf.R_X86_64(uint32(binary.LittleEndian.Uint64(data[i+8:])))
			if k, ok := elfRelocKinds[typ]; ok {
				kinds[off] = k
			}
		}
	}
	for a, k := range kinds {
		f.ownSites = append(f.ownSites, site{addr: a, kind: k})
	}
	sort.Slice(f.ownSites, func(i, j int) bool { return f.ownSites[i].addr < f.ownSites[j].addr })
}

// elfRelocKinds are the neutral kinds of the x86_64 relocation types that
// make a pointer field.
var elfRelocKinds = map[elf.R_X86_64]obj.RelocKind{
	elf.R_X86_64_64:            obj.Abs64,
	elf.R_X86_64_32:            obj.Abs32,
	elf.R_X86_64_32S:           obj.Abs32S,
	elf.R_X86_64_PC32:          obj.PCRel32,
	elf.R_X86_64_PLT32:         obj.Branch32,
	elf.R_X86_64_GOTPCREL:      obj.GOTPCRel32,
	elf.R_X86_64_GOTPCRELX:     obj.GOTLoad32,
	elf.R_X86_64_REX_GOTPCRELX: obj.GOTLoad32,
}

// elfReservedNames are the symbols ELF linkers define themselves.
var elfReservedNames = map[string]bool{
	"_GLOBAL_OFFSET_TABLE_": true, "_DYNAMIC": true, "__ehdr_start": true,
	"__executable_start": true, "_etext": true, "etext": true, "__etext": true,
	"_edata": true, "edata": true, "_end": true, "end": true, "__bss_start": true,
	"__dso_handle": true, "__init_array_start": true, "__init_array_end": true,
	"__fini_array_start": true, "__fini_array_end": true,
	"__preinit_array_start": true, "__preinit_array_end": true,
	"__rela_iplt_start": true, "__rela_iplt_end": true, "_TLS_MODULE_BASE_": true,
}

// elfReserved reports whether name is one that ELF linkers define: a
// reserved name, or __start_SEC / __stop_SEC of an orphan section.
func elfReserved(name string) bool {
	return elfReservedNames[name] || strings.HasPrefix(name, "__start_") || strings.HasPrefix(name, "__stop_")
}
