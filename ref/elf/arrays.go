package elf

import (
	"debug/elf"
	"strconv"

	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// arrayPrefixes names the section of each array type. A slice, not a
// map: ArraySectionType runs for every input section of a link, and
// ranging over a map cost more than the comparisons (6% of a 100k-section
// link).
var arrayPrefixes = [...]struct {
	t      elf.SectionType
	prefix string
}{
	{elf.SHT_INIT_ARRAY, ".init_array"},
	{elf.SHT_FINI_ARRAY, ".fini_array"},
	{elf.SHT_PREINIT_ARRAY, ".preinit_array"},
}

// ArraySectionType returns SHT_INIT_ARRAY, SHT_FINI_ARRAY or
// SHT_PREINIT_ARRAY for a section named .init_array, .fini_array or
// .preinit_array, optionally followed by .N (a priority) or another
// suffix, and SHT_NULL for any other name. The neutral model keeps such
// sections as Data under their name; the type comes back from it.
func ArraySectionType(name string) elf.SectionType {
	if len(name) < len(".init_array") || name[0] != '.' {
		return elf.SHT_NULL
	}
	for _, a := range arrayPrefixes {
		if isSectionPrefix(name, a.prefix) {
			return a.t
		}
	}
	return elf.SHT_NULL
}

// arrayPrefix is the section name of array type t.
func arrayPrefix(t elf.SectionType) string {
	for _, a := range arrayPrefixes {
		if a.t == t {
			return a.prefix
		}
	}
	return ""
}

// RelroSection implements link.RelroNamer: as ld.lld, the init, fini and
// preinit arrays and .data.rel.ro are read-only after relocation and go
// to the GOT's RELRO segment.
//
// Thread-local sections (.tdata, .tbss) are RELRO too, as in ld.lld.
//
// As in ld.lld (isRelroSection), an array section under another name
// (.init of type SHT_INIT_ARRAY) is RELRO by its type, and so are
// .ctors, .dtors and .jcr by their names.
func (Exe) RelroSection(s *link.Section) bool {
	if s.TLS || s.ArrayType != 0 && (s.Kind == obj.Data || s.Kind == obj.Text && s.Writable) {
		return true
	}
	if s.Kind != obj.Data {
		return false
	}
	switch s.Name {
	case ".data.rel.ro", ".ctors", ".dtors", ".jcr":
		return true
	}
	return ArraySectionType(s.Name) != elf.SHT_NULL
}

// InputPriority implements link.InputOrderer: ld.lld sorts the input
// sections of .init_array and .fini_array by the priority in their name
// (.init_array.N; none is 65535), stably.
//
// Common symbols' sections (COMMON) come before the other input sections
// of .bss, in input order, as ld.lld places them.
func (Exe) InputPriority(s *obj.Section) (int, bool) {
	if s.Common {
		return -1, true
	}
	t := ArraySectionType(s.Name)
	if t != elf.SHT_INIT_ARRAY && t != elf.SHT_FINI_ARRAY {
		return 0, false
	}
	rest := s.Name[len(arrayPrefix(t)):]
	if rest == "" {
		return 65535, true
	}
	n, err := strconv.ParseUint(rest[1:], 10, 32)
	if err != nil {
		return 65535, true
	}
	return int(n), true
}
