package elf

import (
	"debug/elf"
	"encoding/binary"
	"strings"

	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The symbols ld.lld 16 defines in a static executable when an object
// refers to them and nothing defines them, with their visibility.
var linkerDefined = map[string]obj.Visibility{
	"_end": obj.VisDefault, "end": obj.VisDefault,
	"_etext": obj.VisDefault, "etext": obj.VisDefault,
	"_edata": obj.VisDefault, "edata": obj.VisDefault,
	"__bss_start":        obj.VisDefault,
	"__ehdr_start":       obj.VisHidden,
	"__executable_start": obj.VisHidden,
	"__rela_iplt_start":  obj.VisHidden, "__rela_iplt_end": obj.VisHidden,
	"__preinit_array_start": obj.VisHidden, "__preinit_array_end": obj.VisHidden,
	"__init_array_start": obj.VisHidden, "__init_array_end": obj.VisHidden,
	"__fini_array_start": obj.VisHidden, "__fini_array_end": obj.VisHidden,
	gotBaseSymbol: obj.VisHidden,
}

// The GOT base ld.lld writes for _GLOBAL_OFFSET_TABLE_ and the GOT-relative
// relocations: .got.plt, its three reserved words 0 in a static
// executable.
const (
	gotBaseSymbol  = "_GLOBAL_OFFSET_TABLE_"
	gotBaseSection = ".got.plt"
)

var _ link.GOTBaser = Exe{}

// GOTBase implements link.GOTBaser: ld.lld's .got.plt (24 bytes, 8-aligned)
// and _GLOBAL_OFFSET_TABLE_ at its start.
func (Exe) GOTBase() (string, uint64, uint64, string) { return gotBaseSection, 24, 8, gotBaseSymbol }

var _ link.LinkerDefiner = Exe{}

// LinkerDefined implements link.LinkerDefiner with ld.lld's set: _end,
// _etext, _edata (and end, etext, edata), __bss_start, __ehdr_start,
// __executable_start, __rela_iplt_start/_end, the init, fini and preinit
// array bounds, _GLOBAL_OFFSET_TABLE_ (the start of .got.plt, GOTBase),
// and __start_SEC/__stop_SEC for an output section SEC whose name is a C
// identifier.
func (Exe) LinkerDefined(l *link.Layout, name string) (bool, error) {
	if _, ok := linkerDefined[name]; ok {
		return true, nil
	}
	if sec, ok := startStop(name); ok {
		return outputSection(l, sec) >= 0, nil
	}
	return false, nil
}

// startStop returns SEC of __start_SEC or __stop_SEC when SEC is a C
// identifier.
func startStop(name string) (string, bool) {
	for _, p := range []string{"__start_", "__stop_"} {
		if sec, ok := strings.CutPrefix(name, p); ok && isCIdent(sec) {
			return sec, true
		}
	}
	return "", false
}

func isCIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// outputSection returns the index of the first output section named
// name, or -1.
func outputSection(l *link.Layout, name string) int {
	for i, s := range l.Sections {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// DefineSymbol implements link.LinkerDefiner with ld.lld's values:
// _etext is the end of the last read-only segment's last section, _edata
// the end of the last section with file contents up to the last segment's
// last section, _end the end of the last segment; __bss_start the start
// of .bss (else the file header); the array bounds the start and end of
// their section, or the start of .text (else the file header) when there
// is none; __start_SEC/__stop_SEC the start and end of SEC (protected);
// the others the file header's address.
func (Exe) DefineSymbol(l *link.Layout, name string) (uint64, int, obj.Visibility) {
	start := func(i int) (uint64, int) { return l.Sections[i].Addr, i }
	end := func(i int) (uint64, int) { return l.Sections[i].Addr + l.Sections[i].Size, i }
	header := func() (uint64, int) { return ExeImageBase, -1 }
	lastOf := func(seg *link.Segment) int {
		if len(seg.Sections) == 0 {
			return -1
		}
		return seg.Sections[len(seg.Sections)-1]
	}
	vis := linkerDefined[name]
	var addr uint64
	out := -1
	switch name {
	case "_etext", "etext":
		addr, out = header()
		for _, seg := range l.Segments {
			if seg.Perm&link.PermW == 0 && lastOf(seg) >= 0 {
				addr, out = end(lastOf(seg))
			}
		}
	case "_edata", "edata", "_end", "end":
		addr, out = header()
		if len(l.Segments) == 0 {
			break
		}
		last := lastOf(l.Segments[len(l.Segments)-1])
		if last < 0 {
			break
		}
		if name == "_end" || name == "end" {
			addr, out = end(last)
			break
		}
		for i := 0; i <= last; i++ {
			if l.Sections[i].Kind != obj.BSS {
				addr, out = end(i)
			}
		}
	case gotBaseSymbol:
		addr, out = header()
		if i := outputSection(l, gotBaseSection); i >= 0 {
			addr, out = start(i)
		}
	case "__rela_iplt_start", "__rela_iplt_end":
		addr, out = header()
		if i := outputSection(l, ipltRelaSection); i >= 0 {
			if name == "__rela_iplt_end" {
				addr, out = end(i)
			} else {
				addr, out = start(i)
			}
		}
	case "__bss_start":
		addr, out = header()
		if i := outputSection(l, ".bss"); i >= 0 {
			addr, out = start(i)
		}
	case "__preinit_array_start", "__preinit_array_end", "__init_array_start", "__init_array_end", "__fini_array_start", "__fini_array_end":
		sec, isEnd := "."+strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "__"), "_start"), "_end"), strings.HasSuffix(name, "_end")
		if i := outputSection(l, sec); i >= 0 {
			if isEnd {
				addr, out = end(i)
			} else {
				addr, out = start(i)
			}
		} else if i := outputSection(l, ".text"); i >= 0 {
			addr, out = start(i)
		} else {
			addr, out = header()
		}
	default:
		if sec, ok := startStop(name); ok {
			vis = obj.VisProtected
			i := outputSection(l, sec)
			if strings.HasPrefix(name, "__stop_") {
				addr, out = end(i)
			} else {
				addr, out = start(i)
			}
			break
		}
		addr, out = header()
	}
	return addr, out, vis
}

// The sections of called indirect functions, as ld.lld 16 names them in a
// static executable: PLT entries, their GOT slots (.got.plt) and the
// R_X86_64_IRELATIVE relocations (.rela.dyn, between __rela_iplt_start and
// __rela_iplt_end, which a C library's start-up code applies).
const (
	ipltSection     = ".iplt"
	ipltRelaSection = ".rela.dyn"
	ipltEntrySize   = 16
)

var _ link.IFuncer = Exe{}

// IFuncSections implements link.IFuncer.
func (Exe) IFuncSections() (string, string, string, uint64, uint64) {
	return ipltSection, gotBaseSection, ipltRelaSection, ipltEntrySize, relaSize
}

// IPLTEntry implements link.IFuncer with ld.lld's x86_64 PLT entry: `jmp
// *slot(%rip); push $i; jmp 0` (the lazy-binding header a static
// executable does not have is at address 0).
func (Exe) IPLTEntry(i int, at, slot uint64) []byte {
	b := []byte{0xff, 0x25, 0, 0, 0, 0, 0x68, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[2:], uint32(slot-(at+6)))
	binary.LittleEndian.PutUint32(b[7:], uint32(i))
	binary.LittleEndian.PutUint32(b[12:], uint32(-(at + 16)))
	return b
}

// IRelative implements link.IFuncer: an Elf64_Rela R_X86_64_IRELATIVE of
// the slot with the resolver as addend.
func (Exe) IRelative(slot, resolver uint64) []byte {
	b := make([]byte, relaSize)
	binary.LittleEndian.PutUint64(b, slot)
	binary.LittleEndian.PutUint64(b[8:], uint64(elf.R_X86_64_IRELATIVE))
	binary.LittleEndian.PutUint64(b[16:], resolver)
	return b
}
