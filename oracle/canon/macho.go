package canon

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The Mach-O loader: an x86_64 MH_EXECUTE (as ld64.lld writes it, or the
// reference linker) turned into the neutral file model. Sections are named
// "SEGMENT,section" ("__TEXT,__text", "__DATA_CONST,__got") and take their
// flags from their segment's initial protection (without write for an
// SG_READ_ONLY segment, read-only once dyld has applied its fixups); symbols come from
// LC_SYMTAB with one leading underscore dropped, so that they carry the
// input objects' neutral names ("_main" is main); the file's own pointer
// sites are the rebase opcodes of LC_DYLD_INFO(_ONLY): every pointer dyld
// slides is an absolute 8-byte field.

// PointersFromRebase is Image.PointerSource for a Mach-O executable read
// without input objects: its rebase opcodes.
const PointersFromRebase = "rebase"

// Mach-O values the loader reads (debug/macho has few of them).
const (
	machoMagic64          = 0xfeedfacf
	machoCPUX86_64        = 0x01000007
	machoExecute          = 0x2
	machoLCMain           = 0x80000028
	machoLCUnixThread     = 0x5
	machoLCDyldInfo       = 0x22
	machoLCDyldInfoOnly   = 0x80000022
	machoLCChainedFixups  = 0x80000034
	machoSectionType      = 0xff
	machoSGReadOnly       = 0x10
	machoZerofill         = 0x1
	machoGBZerofill       = 0xc
	machoTLVZerofill      = 0x12
	machoCstrings         = 0x2
	machoNonLazyPointers  = 0x6
	machoPureInstructions = 0x80000000
	machoSomeInstructions = 0x00000400
	machoNStab            = 0xe0
	machoNPext            = 0x10
	machoNType            = 0x0e
	machoNExt             = 0x01
	machoNSect            = 0x0e
	machoNAbs             = 0x02
	machoNWeakDef         = 0x0080
	machoThreadStateFlav  = 4
	machoThreadStateWords = 42
)

// machoReservedNames are the symbols Mach-O linkers define themselves
// (without the leading underscore).
var machoReservedNames = map[string]bool{
	"_mh_execute_header": true, "__dso_handle": true, "_mh_dylib_header": true,
	"_mh_bundle_header": true, "__dyld_private": true,
}

// machoReserved reports whether name (without Mach-O's underscore) is one
// that Mach-O linkers define: a reserved name, or section$start$SEG$SECT
// and its kin.
func machoReserved(name string) bool {
	return machoReservedNames[name] || strings.HasPrefix(name, "section$") || strings.HasPrefix(name, "segment$")
}

// ReadMachO reads an x86_64 Mach-O executable into its canonical image; objs
// are the input objects it was linked from (see ReadELF). Without objects,
// the rebase opcodes say which words are pointers.
func ReadMachO(exe []byte, objs []*obj.Object) (*Image, error) {
	f, err := loadMachO(exe)
	if err != nil {
		return nil, err
	}
	return readFile(f, objs, false)
}

func machoErr(format string, args ...any) error {
	return fmt.Errorf("canon: mach-o: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// loadMachO reads a little-endian 64-bit x86_64 MH_EXECUTE: its sections,
// its symbol table, its entry point (LC_MAIN, or LC_UNIXTHREAD's rip) and
// its rebase opcodes.
func loadMachO(exe []byte) (f *file, err error) {
	if len(exe) < 32 || binary.LittleEndian.Uint32(exe) != machoMagic64 {
		return nil, machoErr("not a little-endian 64-bit Mach-O file")
	}
	defer func() {
		// debug/macho is not hardened against every malformed input.
		if p := recover(); p != nil {
			f, err = nil, machoErr("%v", p)
		}
	}()
	mf, err := macho.NewFile(bytes.NewReader(exe))
	if err != nil {
		return nil, fmt.Errorf("canon: mach-o: %w: %w", ErrMalformed, err)
	}
	if mf.Cpu != machoCPUX86_64 || mf.Type != machoExecute {
		return nil, machoErr("cpu %v, file type %d: not an x86_64 MH_EXECUTE", mf.Cpu, mf.Type)
	}
	f = &file{format: "macho", size: len(exe), decoder: x86_64{}}
	segProt := map[string]uint32{}
	var textAddr uint64
	haveText := false
	for _, l := range mf.Loads {
		if s, ok := l.(*macho.Segment); ok {
			segProt[s.Name] = s.Prot
			if s.Flag&machoSGReadOnly != 0 && s.Prot != 0 {
				// Writable only while dyld applies fixups, then
				// read-only (ld64.lld's __DATA_CONST): data that is
				// read-only after relocation, as __TEXT,__const is.
				segProt[s.Name] = s.Prot &^ 2
			}
			if s.Name == "__TEXT" || (!haveText && s.Offset == 0 && s.Filesz > 0) {
				textAddr, haveText = s.Addr, true
			}
		}
	}
	bySect, err := machoSections(mf, exe, segProt, f)
	if err != nil {
		return nil, err
	}
	if err := machoSymbols(mf, bySect, f); err != nil {
		return nil, err
	}
	if err := machoCommands(mf, exe, textAddr, haveText, f); err != nil {
		return nil, err
	}
	return f, nil
}

// machoSections adds the non-empty sections of loaded segments to f and
// returns every section by its ordinal (from 1), nil where not kept.
func machoSections(mf *macho.File, exe []byte, segProt map[string]uint32, f *file) ([]*section, error) {
	bySect := make([]*section, len(mf.Sections)+1)
	for i, sh := range mf.Sections {
		prot := segProt[sh.Seg]
		if prot == 0 || sh.Size == 0 {
			continue
		}
		typ := sh.Flags & machoSectionType
		flags := "A"
		if prot&2 != 0 {
			flags += "W"
		}
		if prot&4 != 0 && sh.Flags&(machoPureInstructions|machoSomeInstructions) != 0 {
			flags += "X"
		}
		s := &section{name: sh.Seg + "," + sh.Name, addr: sh.Addr, size: sh.Size, flags: flags,
			nobits:  typ == machoZerofill || typ == machoGBZerofill || typ == machoTLVZerofill,
			strings: typ == machoCstrings,
			got:     typ == machoNonLazyPointers || sh.Name == "__got"}
		if sh.Addr+sh.Size < sh.Addr {
			return nil, machoErr("section %d %s: address range wraps", i+1, s.name)
		}
		if !s.nobits {
			off := uint64(sh.Offset)
			if off > uint64(len(exe)) || uint64(len(exe))-off < sh.Size {
				return nil, machoErr("section %d %s: bytes [%#x, +%#x) past the end of the file (%#x bytes)", i+1, s.name, off, sh.Size, len(exe))
			}
			s.data = exe[off : off+sh.Size]
		}
		f.sections = append(f.sections, s)
		bySect[i+1] = s
	}
	return bySect, nil
}

// machoSymbols adds the defined symbols of LC_SYMTAB (in sections that
// were kept, or absolute), debugging entries aside.
func machoSymbols(mf *macho.File, bySect []*section, f *file) error {
	if mf.Symtab == nil {
		return machoErr("no LC_SYMTAB")
	}
	if len(mf.Symtab.Syms) > maxSymbols {
		return machoErr("%d symbols (limit %d)", len(mf.Symtab.Syms), maxSymbols)
	}
	for _, ms := range mf.Symtab.Syms {
		if ms.Type&machoNStab != 0 || ms.Name == "" {
			continue
		}
		typ := ms.Type & machoNType
		if typ != machoNSect && typ != machoNAbs {
			continue // undefined, indirect
		}
		name := strings.TrimPrefix(ms.Name, "_")
		bind := BindLocal
		if ms.Type&machoNExt != 0 && ms.Type&machoNPext == 0 {
			bind = BindGlobal
			if ms.Desc&machoNWeakDef != 0 {
				bind = BindWeak
			}
		}
		s := fileSymbol{name: name, value: ms.Value, bind: bind, kind: KindObject, reserved: machoReserved(name)}
		if typ == machoNSect {
			if int(ms.Sect) >= len(bySect) || bySect[ms.Sect] == nil {
				continue // a bad ordinal, or an empty or unloaded section
			}
			s.sec = bySect[ms.Sect]
			if strings.Contains(s.sec.flags, "X") {
				s.kind = KindFunc
			}
		} else {
			s.kind = KindNone
		}
		f.symbols = append(f.symbols, s)
	}
	return nil
}

// machoCommands reads the entry point and the rebase opcodes.
func machoCommands(mf *macho.File, exe []byte, textAddr uint64, haveText bool, f *file) error {
	le := binary.LittleEndian
	haveEntry := false
	for i, l := range mf.Loads {
		raw := l.Raw()
		if len(raw) < 8 {
			continue
		}
		switch cmd := le.Uint32(raw); cmd {
		case machoLCMain:
			if len(raw) < 24 {
				return machoErr("load command %d: LC_MAIN of %d bytes", i, len(raw))
			}
			if !haveText {
				return machoErr("LC_MAIN without a __TEXT segment")
			}
			f.entry, haveEntry = textAddr+le.Uint64(raw[8:]), true
		case machoLCUnixThread:
			if len(raw) < 16+machoThreadStateWords*4 || le.Uint32(raw[8:]) != machoThreadStateFlav {
				return machoErr("load command %d: LC_UNIXTHREAD is not an x86_THREAD_STATE64", i)
			}
			f.entry, haveEntry = le.Uint64(raw[16+16*8:]), true // rip is the 17th register
		case machoLCDyldInfo, machoLCDyldInfoOnly:
			if len(raw) < 48 {
				return machoErr("load command %d: LC_DYLD_INFO of %d bytes", i, len(raw))
			}
			off, size := uint64(le.Uint32(raw[8:])), uint64(le.Uint32(raw[12:]))
			if off > uint64(len(exe)) || uint64(len(exe))-off < size {
				f.siteNotes = append(f.siteNotes, fmt.Sprintf("rebase opcodes [%#x, +%#x) are outside the file", off, size))
				continue
			}
			f.ownSource = PointersFromRebase
			f.ownSites = append(f.ownSites, machoRebases(mf, exe[off:off+size], f)...)
			if le.Uint32(raw[20:]) != 0 || le.Uint32(raw[28:]) != 0 || le.Uint32(raw[36:]) != 0 {
				f.siteNotes = append(f.siteNotes, "bind opcodes (imports from dylibs) are not read")
			}
		case machoLCChainedFixups:
			f.siteNotes = append(f.siteNotes, "chained fixups (LC_DYLD_CHAINED_FIXUPS) are not read")
		}
	}
	if !haveEntry {
		return machoErr("no entry point (LC_MAIN or LC_UNIXTHREAD)")
	}
	sort.Slice(f.ownSites, func(i, j int) bool { return f.ownSites[i].addr < f.ownSites[j].addr })
	uniq := f.ownSites[:0]
	for i, s := range f.ownSites {
		if i == 0 || s.addr != f.ownSites[i-1].addr {
			uniq = append(uniq, s)
		}
	}
	f.ownSites = uniq
	return nil
}

// machoRebases runs the rebase opcodes ops: every address they rebase is an
// 8-byte pointer site. What cannot be followed (a bad segment, a truncated
// ULEB, an unknown opcode, a rebase outside its segment) ends the stream
// with a note; the work is bounded by maxSites.
func machoRebases(mf *macho.File, ops []byte, f *file) []site {
	var segs []*macho.Segment
	for _, l := range mf.Loads {
		if s, ok := l.(*macho.Segment); ok {
			segs = append(segs, s)
		}
	}
	var sites []site
	note := func(format string, args ...any) {
		f.siteNotes = append(f.siteNotes, "rebase opcodes: "+fmt.Sprintf(format, args...))
	}
	p := 0
	uleb := func() (uint64, bool) {
		var v uint64
		for shift := uint(0); p < len(ops); shift += 7 {
			b := ops[p]
			p++
			if shift < 64 {
				v |= uint64(b&0x7f) << shift
			}
			if b&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	var seg *macho.Segment
	var addr uint64
	// A pointer is 8 bytes of a segment's file contents, so there are at
	// most as many as the file has words.
	limit := min(maxSites, f.size/8)
	rebase := func(n uint64, step uint64) bool {
		for ; n > 0; n-- {
			if seg == nil || addr < seg.Addr || addr-seg.Addr > seg.Filesz || seg.Filesz-(addr-seg.Addr) < 8 {
				note("rebase at %#x outside its segment's contents", addr)
				return false
			}
			if len(sites) >= limit {
				note("more than %d rebases", limit)
				return false
			}
			sites = append(sites, site{addr: addr, kind: obj.Abs64})
			addr += step
		}
		return true
	}
	for p < len(ops) {
		op := ops[p]
		p++
		imm := uint64(op & 0x0f)
		switch op & 0xf0 {
		case 0x00: // DONE
			return sites
		case 0x10: // SET_TYPE_IMM
			if imm != 1 {
				note("rebase type %d is not a pointer", imm)
			}
		case 0x20: // SET_SEGMENT_AND_OFFSET_ULEB
			off, ok := uleb()
			if !ok || imm >= uint64(len(segs)) {
				note("bad segment %d or offset", imm)
				return sites
			}
			seg, addr = segs[imm], segs[imm].Addr+off
		case 0x30: // ADD_ADDR_ULEB
			v, ok := uleb()
			if !ok {
				note("truncated")
				return sites
			}
			addr += v
		case 0x40: // ADD_ADDR_IMM_SCALED
			addr += imm * 8
		case 0x50: // DO_REBASE_IMM_TIMES
			if !rebase(imm, 8) {
				return sites
			}
		case 0x60: // DO_REBASE_ULEB_TIMES
			n, ok := uleb()
			if !ok || !rebase(n, 8) {
				return sites
			}
		case 0x70: // DO_REBASE_ADD_ADDR_ULEB
			v, ok := uleb()
			if !ok || !rebase(1, v+8) {
				return sites
			}
		case 0x80: // DO_REBASE_ULEB_TIMES_SKIPPING_ULEB
			n, ok1 := uleb()
			skip, ok2 := uleb()
			if !ok1 || !ok2 || !rebase(n, skip+8) {
				return sites
			}
		default:
			note("unknown opcode %#x at %d", op, p-1)
			return sites
		}
	}
	return sites
}
