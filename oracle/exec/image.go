package exec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Protocol is how a program hands its value to the outside world.
type Protocol int

const (
	// ProtoLinux: write(1, &v, 8) then exit(0) or exit_group(0) with Linux
	// syscall numbers (1, 60, 231).
	ProtoLinux Protocol = iota
	// ProtoDarwin: the same with Darwin numbers (0x2000004, 0x2000001).
	ProtoDarwin
	// ProtoReturn: the entry point is called like a function and returns
	// the value in RAX (PE images).
	ProtoReturn
)

// Prot bits of a segment; equal to Unicorn's and Mach-O's.
const (
	ProtRead  = 1
	ProtWrite = 2
	ProtExec  = 4
)

// Segment is a piece of the memory image: MemSize bytes at Addr, the first
// len(Data) of them from the file, the rest zero.
type Segment struct {
	Name    string
	Addr    uint64
	MemSize uint64
	Data    []byte // aliases the file's bytes; len(Data) <= MemSize
	Prot    int    // ProtRead|ProtWrite|ProtExec
}

// Image is a loaded executable: what a loader maps and where it starts.
type Image struct {
	Format   obj.Format // obj.ELF, obj.MachO or obj.COFF
	Entry    uint64
	Protocol Protocol
	// EntryIsCall says the entry is called like a function (Mach-O LC_MAIN,
	// PE): the loader pushes a return address.
	EntryIsCall bool
	Segments    []Segment
}

// Bounds on what a loader accepts. Sizes in headers are untrusted: these
// keep a hostile or corrupt file from making the loader allocate or map
// without limit.
const (
	// MaxImageMemory bounds the sum of all segments' memory sizes.
	MaxImageMemory = 1 << 30
	// MaxSegments bounds the number of loadable segments or sections.
	MaxSegments = 256
	// MaxLoadCommands bounds Mach-O load commands and ELF program headers.
	MaxLoadCommands = 4096
	// UserTop is the first address above the canonical lower half;
	// segments must lie below it.
	UserTop = 1 << 47
)

// LoadImage parses an ELF, Mach-O or PE executable (x86_64) into the
// segments a loader maps. It does not execute anything and never panics on
// malformed input; every error names the format and the offending field.
func LoadImage(data []byte) (*Image, error) {
	f, err := obj.DetectExecutable(data)
	if err != nil {
		return nil, err
	}
	var img *Image
	switch f {
	case obj.ELF:
		img, err = loadELF(data)
	case obj.MachO:
		img, err = loadMachO(data)
	case obj.COFF:
		img, err = loadPE(data)
	default:
		return nil, fmt.Errorf("%s modules are not native code; run them with wazero", f)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f, err)
	}
	if err := img.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f, err)
	}
	return img, nil
}

// validate checks the bounds every format shares.
func (img *Image) validate() error {
	if len(img.Segments) == 0 {
		return errors.New("no loadable segments")
	}
	if len(img.Segments) > MaxSegments {
		return fmt.Errorf("%d loadable segments (limit %d)", len(img.Segments), MaxSegments)
	}
	var total uint64
	entryOK := false
	for _, s := range img.Segments {
		if s.MemSize == 0 {
			return fmt.Errorf("segment %s at %#x is empty", s.Name, s.Addr)
		}
		if s.Addr >= UserTop || s.MemSize > UserTop-s.Addr {
			return fmt.Errorf("segment %s at %#x size %#x lies outside the user address space", s.Name, s.Addr, s.MemSize)
		}
		if uint64(len(s.Data)) > s.MemSize {
			return fmt.Errorf("segment %s: %#x file bytes exceed its memory size %#x", s.Name, len(s.Data), s.MemSize)
		}
		total += s.MemSize
		if total > MaxImageMemory {
			return fmt.Errorf("segments need more than %d MiB of memory", MaxImageMemory>>20)
		}
		if s.Prot&ProtExec != 0 && img.Entry >= s.Addr && img.Entry-s.Addr < s.MemSize {
			entryOK = true
		}
	}
	if !entryOK {
		return fmt.Errorf("entry point %#x is not in an executable segment", img.Entry)
	}
	return nil
}

// Region is a page-aligned run of memory with one protection: what an
// emulator maps.
type Region struct {
	Addr, Size uint64
	Prot       int
}

// PageSize is the granule of Regions.
const PageSize = 4096

// Regions returns the page-aligned regions covering all segments, in
// address order. Where segments share a page, the page gets the union of
// their protections (as a loader that maps both would need).
func (img *Image) Regions() []Region {
	type edge struct {
		addr uint64
		seg  int
		open bool
	}
	var edges []edge
	for i, s := range img.Segments {
		lo := s.Addr &^ (PageSize - 1)
		hi := (s.Addr + s.MemSize + PageSize - 1) &^ (PageSize - 1)
		edges = append(edges, edge{lo, i, true}, edge{hi, i, false})
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].addr < edges[j].addr })
	var out []Region
	active := map[int]bool{}
	for i := 0; i < len(edges); {
		at := edges[i].addr
		for ; i < len(edges) && edges[i].addr == at; i++ {
			if edges[i].open {
				active[edges[i].seg] = true
			} else {
				delete(active, edges[i].seg)
			}
		}
		if len(active) == 0 || i == len(edges) {
			continue
		}
		prot := 0
		for s := range active {
			prot |= img.Segments[s].Prot
		}
		end := edges[i].addr
		if n := len(out); n > 0 && out[n-1].Addr+out[n-1].Size == at && out[n-1].Prot == prot {
			out[n-1].Size += end - at
		} else {
			out = append(out, Region{Addr: at, Size: end - at, Prot: prot})
		}
	}
	return out
}

// reader reads little-endian fields with bounds checks; the first failure
// sticks, so parsers check err once per structure.
type reader struct {
	b   []byte
	err error
}

func (r *reader) need(off, n uint64, what string) bool {
	if r.err != nil {
		return false
	}
	if off > uint64(len(r.b)) || n > uint64(len(r.b))-off {
		r.err = fmt.Errorf("%s at file offset %#x+%d is beyond the end of the file (%d bytes)", what, off, n, len(r.b))
		return false
	}
	return true
}

func (r *reader) u16(off uint64, what string) uint16 {
	if !r.need(off, 2, what) {
		return 0
	}
	return binary.LittleEndian.Uint16(r.b[off:])
}

func (r *reader) u32(off uint64, what string) uint32 {
	if !r.need(off, 4, what) {
		return 0
	}
	return binary.LittleEndian.Uint32(r.b[off:])
}

func (r *reader) u64(off uint64, what string) uint64 {
	if !r.need(off, 8, what) {
		return 0
	}
	return binary.LittleEndian.Uint64(r.b[off:])
}

func (r *reader) bytes(off, n uint64, what string) []byte {
	if !r.need(off, n, what) {
		return nil
	}
	return r.b[off : off+n]
}

// ELF constants.
const (
	elfTypeExec   = 2
	elfTypeDyn    = 3
	elfMachineX64 = 62
	ptLoad        = 1
	ptInterp      = 3
	pfX           = 1
	pfW           = 2
	pfR           = 4
)

func loadELF(data []byte) (*Image, error) {
	r := &reader{b: data}
	ident := r.bytes(0, 16, "e_ident")
	if r.err != nil {
		return nil, r.err
	}
	if ident[4] != 2 {
		return nil, fmt.Errorf("EI_CLASS %d: only 64-bit ELF is supported", ident[4])
	}
	if ident[5] != 1 {
		return nil, fmt.Errorf("EI_DATA %d: only little-endian ELF is supported", ident[5])
	}
	typ := r.u16(16, "e_type")
	machine := r.u16(18, "e_machine")
	entry := r.u64(24, "e_entry")
	phoff := r.u64(32, "e_phoff")
	phentsize := r.u16(54, "e_phentsize")
	phnum := r.u16(56, "e_phnum")
	if r.err != nil {
		return nil, r.err
	}
	if machine != elfMachineX64 {
		return nil, fmt.Errorf("e_machine %d: not x86_64 (62)", machine)
	}
	switch typ {
	case elfTypeExec:
	case elfTypeDyn:
		return nil, errors.New("e_type ET_DYN (position-independent or shared object): only static ET_EXEC executables are loaded")
	case 1:
		return nil, errors.New("e_type ET_REL: a relocatable object, not a linked executable")
	default:
		return nil, fmt.Errorf("e_type %d: not an executable", typ)
	}
	if phentsize != 56 {
		return nil, fmt.Errorf("e_phentsize %d: want 56", phentsize)
	}
	if phnum > MaxLoadCommands {
		return nil, fmt.Errorf("e_phnum %d exceeds %d", phnum, MaxLoadCommands)
	}
	img := &Image{Format: obj.ELF, Entry: entry, Protocol: ProtoLinux}
	for i := uint64(0); i < uint64(phnum); i++ {
		ph := phoff + i*56
		what := fmt.Sprintf("program header %d", i)
		ptype := r.u32(ph, what)
		flags := r.u32(ph+4, what)
		off := r.u64(ph+8, what)
		vaddr := r.u64(ph+16, what)
		filesz := r.u64(ph+32, what)
		memsz := r.u64(ph+40, what)
		if r.err != nil {
			return nil, r.err
		}
		switch ptype {
		case ptInterp:
			return nil, fmt.Errorf("%s: PT_INTERP: dynamically linked executables are not loaded (link static, no libc)", what)
		case ptLoad:
		default:
			continue
		}
		if memsz == 0 {
			continue
		}
		if filesz > memsz {
			return nil, fmt.Errorf("%s: p_filesz %#x > p_memsz %#x", what, filesz, memsz)
		}
		if len(img.Segments) >= MaxSegments {
			return nil, fmt.Errorf("more than %d PT_LOAD segments", MaxSegments)
		}
		// Like the kernel, map the file from the start of the page that
		// holds p_offset, so the bytes before vaddr in its page are the
		// file's; the part of the last file page past p_filesz is zero.
		pageOff := vaddr & (PageSize - 1)
		if off < pageOff || off&(PageSize-1) != pageOff {
			return nil, fmt.Errorf("%s: p_offset %#x and p_vaddr %#x are not congruent modulo the page size", what, off, vaddr)
		}
		file := r.bytes(off-pageOff, filesz+pageOff, what+" contents")
		if r.err != nil {
			return nil, r.err
		}
		prot := 0
		if flags&pfR != 0 {
			prot |= ProtRead
		}
		if flags&pfW != 0 {
			prot |= ProtWrite
		}
		if flags&pfX != 0 {
			prot |= ProtExec
		}
		if vaddr > UserTop || memsz > UserTop {
			return nil, fmt.Errorf("%s: p_vaddr %#x size %#x lies outside the user address space", what, vaddr, memsz)
		}
		img.Segments = append(img.Segments, Segment{
			Name: fmt.Sprintf("PT_LOAD[%d]", i), Addr: vaddr - pageOff, MemSize: memsz + pageOff, Data: file, Prot: prot,
		})
	}
	return img, nil
}

// Mach-O constants.
const (
	machoMagic64      = 0xfeedfacf
	machoCPUX8664     = 0x01000007
	machoExecute      = 2
	lcSegment64       = 0x19
	lcMain            = 0x80000028
	lcUnixThread      = 0x5
	x86ThreadState64  = 4
	x86ThreadStateLen = 42 // uint32 words
)

func loadMachO(data []byte) (*Image, error) {
	r := &reader{b: data}
	if magic := r.u32(0, "magic"); magic != machoMagic64 {
		if r.err != nil {
			return nil, r.err
		}
		return nil, fmt.Errorf("magic %#x: only little-endian 64-bit Mach-O is supported", magic)
	}
	cpu := r.u32(4, "cputype")
	ftype := r.u32(12, "filetype")
	ncmds := r.u32(16, "ncmds")
	sizeofcmds := r.u32(20, "sizeofcmds")
	if r.err != nil {
		return nil, r.err
	}
	if cpu != machoCPUX8664 {
		return nil, fmt.Errorf("cputype %#x: not x86_64", cpu)
	}
	if ftype != machoExecute {
		return nil, fmt.Errorf("filetype %d: not MH_EXECUTE (2)", ftype)
	}
	if ncmds > MaxLoadCommands {
		return nil, fmt.Errorf("ncmds %d exceeds %d", ncmds, MaxLoadCommands)
	}
	if !r.need(32, uint64(sizeofcmds), "load commands") {
		return nil, r.err
	}
	img := &Image{Format: obj.MachO, Protocol: ProtoDarwin}
	var (
		textAddr          uint64
		haveText          bool
		entryOff, threadP uint64
		haveMain, haveThr bool
	)
	off, end := uint64(32), 32+uint64(sizeofcmds)
	for i := uint32(0); i < ncmds; i++ {
		what := fmt.Sprintf("load command %d", i)
		if off+8 > end {
			return nil, fmt.Errorf("%s at %#x runs past sizeofcmds", what, off)
		}
		cmd := r.u32(off, what)
		size := uint64(r.u32(off+4, what))
		if r.err != nil {
			return nil, r.err
		}
		if size < 8 || size > end-off {
			return nil, fmt.Errorf("%s at %#x: cmdsize %d is out of bounds", what, off, size)
		}
		switch cmd {
		case lcSegment64:
			if size < 72 {
				return nil, fmt.Errorf("%s: LC_SEGMENT_64 cmdsize %d < 72", what, size)
			}
			name := string(bytes.TrimRight(r.bytes(off+8, 16, what), "\x00"))
			vmaddr := r.u64(off+24, what)
			vmsize := r.u64(off+32, what)
			fileoff := r.u64(off+40, what)
			filesize := r.u64(off+48, what)
			maxprot := r.u32(off+56, what)
			initprot := r.u32(off+60, what)
			if r.err != nil {
				return nil, r.err
			}
			if fileoff == 0 && filesize > 0 || name == "__TEXT" {
				if !haveText || name == "__TEXT" {
					textAddr, haveText = vmaddr, true
				}
			}
			if vmsize == 0 || initprot == 0 && maxprot == 0 {
				break // __PAGEZERO and empty segments: nothing mapped
			}
			if filesize > vmsize {
				return nil, fmt.Errorf("segment %s: filesize %#x > vmsize %#x", name, filesize, vmsize)
			}
			file := r.bytes(fileoff, filesize, "segment "+name+" contents")
			if r.err != nil {
				return nil, r.err
			}
			if len(img.Segments) >= MaxSegments {
				return nil, fmt.Errorf("more than %d segments", MaxSegments)
			}
			img.Segments = append(img.Segments, Segment{Name: name, Addr: vmaddr, MemSize: vmsize, Data: file, Prot: int(initprot & 7)})
		case lcMain:
			if size < 24 {
				return nil, fmt.Errorf("%s: LC_MAIN cmdsize %d < 24", what, size)
			}
			entryOff, haveMain = r.u64(off+8, what), true
		case lcUnixThread:
			flavor := r.u32(off+8, what)
			count := r.u32(off+12, what)
			if r.err != nil {
				return nil, r.err
			}
			if flavor != x86ThreadState64 || count != x86ThreadStateLen || size < 16+x86ThreadStateLen*4 {
				return nil, fmt.Errorf("%s: LC_UNIXTHREAD flavor %d count %d: want x86_THREAD_STATE64 (4, 42)", what, flavor, count)
			}
			threadP, haveThr = r.u64(off+16+16*8, what), true // rip is the 17th register
		}
		if r.err != nil {
			return nil, r.err
		}
		off += size
	}
	switch {
	case haveMain:
		if !haveText {
			return nil, errors.New("LC_MAIN without a __TEXT segment")
		}
		img.Entry = textAddr + entryOff
		img.EntryIsCall = true
	case haveThr:
		img.Entry = threadP
	default:
		return nil, errors.New("no entry point (neither LC_MAIN nor LC_UNIXTHREAD)")
	}
	return img, nil
}

// PE constants.
const (
	peMachineAMD64      = 0x8664
	peMagic64           = 0x20b
	peFileExecutable    = 0x0002
	peFileDLL           = 0x2000
	peScnMemExecute     = 0x20000000
	peScnMemRead        = 0x40000000
	peScnMemWrite       = 0x80000000
	peDirImport         = 1
	peMaxSections       = 96 // the Windows loader's limit
	peSectionHeaderSize = 40
)

// ErrImports is wrapped when a PE image imports DLLs: the emulator loader
// has no DLLs to bind them to (wine does).
var ErrImports = errors.New("image imports DLLs")

func loadPE(data []byte) (*Image, error) {
	r := &reader{b: data}
	pe := uint64(r.u32(0x3c, "e_lfanew"))
	coff := pe + 4
	machine := r.u16(coff, "Machine")
	nsect := r.u16(coff+2, "NumberOfSections")
	optSize := r.u16(coff+16, "SizeOfOptionalHeader")
	chars := r.u16(coff+18, "Characteristics")
	opt := coff + 20
	magic := r.u16(opt, "optional header Magic")
	if r.err != nil {
		return nil, r.err
	}
	if machine != peMachineAMD64 {
		return nil, fmt.Errorf("Machine %#x: not AMD64", machine)
	}
	if magic != peMagic64 {
		return nil, fmt.Errorf("optional header magic %#x: not PE32+", magic)
	}
	if chars&peFileExecutable == 0 || chars&peFileDLL != 0 {
		return nil, fmt.Errorf("Characteristics %#x: not an executable image", chars)
	}
	if nsect > peMaxSections {
		return nil, fmt.Errorf("NumberOfSections %d exceeds %d", nsect, peMaxSections)
	}
	entryRVA := uint64(r.u32(opt+16, "AddressOfEntryPoint"))
	base := r.u64(opt+24, "ImageBase")
	sizeOfImage := uint64(r.u32(opt+56, "SizeOfImage"))
	sizeOfHeaders := uint64(r.u32(opt+60, "SizeOfHeaders"))
	ndirs := r.u32(opt+108, "NumberOfRvaAndSizes")
	if r.err != nil {
		return nil, r.err
	}
	if optSize < 112 {
		return nil, fmt.Errorf("SizeOfOptionalHeader %d is too small for PE32+", optSize)
	}
	if ndirs > peDirImport && uint64(optSize) >= 112+8*(peDirImport+1) {
		if sz := r.u32(opt+112+8*peDirImport+4, "import directory"); sz != 0 {
			return nil, fmt.Errorf("%w (import directory RVA %#x, %d bytes): the unicorn loader binds no DLLs; run it under wine",
				ErrImports, r.u32(opt+112+8*peDirImport, "import directory"), sz)
		}
	}
	if base&(PageSize-1) != 0 {
		return nil, fmt.Errorf("ImageBase %#x is not page aligned", base)
	}
	if sizeOfImage == 0 || sizeOfImage > MaxImageMemory {
		return nil, fmt.Errorf("SizeOfImage %#x is out of range", sizeOfImage)
	}
	img := &Image{Format: obj.COFF, Entry: base + entryRVA, Protocol: ProtoReturn, EntryIsCall: true}
	hdrs := r.bytes(0, min(sizeOfHeaders, uint64(len(data))), "headers")
	if sizeOfHeaders > 0 {
		img.Segments = append(img.Segments, Segment{Name: "headers", Addr: base, MemSize: max(sizeOfHeaders, uint64(len(hdrs))), Data: hdrs, Prot: ProtRead})
	}
	sh := opt + uint64(optSize)
	for i := uint64(0); i < uint64(nsect); i++ {
		h := sh + i*peSectionHeaderSize
		what := fmt.Sprintf("section header %d", i)
		name := string(bytes.TrimRight(r.bytes(h, 8, what), "\x00"))
		vsize := uint64(r.u32(h+8, what))
		rva := uint64(r.u32(h+12, what))
		rawSize := uint64(r.u32(h+16, what))
		rawPtr := uint64(r.u32(h+20, what))
		sc := r.u32(h+36, what)
		if r.err != nil {
			return nil, r.err
		}
		if vsize == 0 {
			vsize = rawSize
		}
		if vsize == 0 {
			continue
		}
		if rva+vsize > sizeOfImage {
			return nil, fmt.Errorf("section %s: RVA %#x size %#x extends past SizeOfImage %#x", name, rva, vsize, sizeOfImage)
		}
		var file []byte
		if n := min(rawSize, vsize); n > 0 {
			file = r.bytes(rawPtr, n, "section "+name+" contents")
			if r.err != nil {
				return nil, r.err
			}
		}
		prot := 0
		if sc&peScnMemRead != 0 {
			prot |= ProtRead
		}
		if sc&peScnMemWrite != 0 {
			prot |= ProtWrite
		}
		if sc&peScnMemExecute != 0 {
			prot |= ProtExec
		}
		img.Segments = append(img.Segments, Segment{Name: name, Addr: base + rva, MemSize: vsize, Data: file, Prot: prot})
	}
	return img, nil
}
