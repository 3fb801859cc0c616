package coff

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// ImportObjectName names the object that ImportObject synthesizes; its
// symbols go to the image's symbol table only where an input refers to
// them, as lld-link writes them.
const ImportObjectName = "<import tables>"

// thunkSection is the partial section of the import thunks: lld-link
// appends them to .text after every input section, so it ranks last in
// .text (see placeOf).
const thunkSection = ".text$<thunks>"

// Import table partial sections, in lld-link's order: the import
// directory, the lookup tables, the address tables (the IAT), the
// hint/name entries and the DLL names.
const (
	idataDirs      = ".idata$2"
	idataLookups   = ".idata$4"
	idataAddresses = ".idata$5"
	idataHints     = ".idata$6"
	idataNames     = ".idata$7"
)

// thunkBytes is `jmp qword ptr [rip + __imp_NAME]`, the displacement at 2.
var thunkBytes = []byte{0xff, 0x25, 0, 0, 0, 0}

// thunkAlign is the alignment of each import thunk in .text.
const thunkAlign = 16

// ImportObject returns the object that holds the import tables lld-link
// synthesizes for the imports used: per DLL (in the order the DLLs appear
// in imps) a 20-byte import directory entry (then a null one), an import
// lookup table and an import address table (one 8-byte entry per symbol,
// sorted by __imp_ name, then a null entry; __imp_NAME is the IAT entry),
// hint/name entries and the DLL name; and for code imports a thunk NAME,
// `jmp [rip+__imp_NAME]`, 16-aligned in .text. Ordinal imports have
// 0x8000000000000000|ordinal entries and no hint/name.
func ImportObject(imps []Import) *obj.Object {
	le := binary.LittleEndian
	o := &obj.Object{Name: ImportObjectName}
	// Group by DLL (case-insensitively), in order of first appearance.
	var dlls []string
	groups := map[string][]Import{}
	names := map[string]string{}
	for _, im := range imps {
		k := strings.ToLower(im.DLL)
		if _, ok := groups[k]; !ok {
			dlls = append(dlls, k)
			names[k] = im.DLL
		}
		groups[k] = append(groups[k], im)
	}
	sec := func(name string, kind obj.SectionKind, align uint64) int {
		o.Sections = append(o.Sections, &obj.Section{Name: name, Kind: kind, Align: align})
		return len(o.Sections) - 1
	}
	dirs, lookups, addrs := sec(idataDirs, obj.ROData, 1), sec(idataLookups, obj.ROData, 8), sec(idataAddresses, obj.ROData, 8)
	hints, dllNames := sec(idataHints, obj.ROData, 2), sec(idataNames, obj.ROData, 1)
	var thunks int = -1
	secSym := func(i int) int {
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: o.Sections[i].Name, Section: i, Bind: obj.Local, Kind: obj.SymSection})
		return len(o.Symbols) - 1
	}
	symLookups, symAddrs, symHints, symNames := secSym(lookups), secSym(addrs), secSym(hints), secSym(dllNames)
	add := func(i int, b []byte, align uint64) uint64 {
		s := o.Sections[i]
		for uint64(len(s.Data))%align != 0 {
			s.Data = append(s.Data, 0)
		}
		off := uint64(len(s.Data))
		s.Data = append(s.Data, b...)
		s.Size = uint64(len(s.Data))
		return off
	}
	rel := func(i int, off uint64, kind obj.RelocKind, sym int, addend int64) {
		s := o.Sections[i]
		s.Relocs = append(s.Relocs, obj.Reloc{Offset: off, Kind: kind, Sym: sym, Addend: addend})
	}
	type thunk struct {
		name string
		slot int // symbol of the IAT entry
	}
	var thunkList []thunk
	for _, k := range dlls {
		g := groups[k]
		sort.SliceStable(g, func(i, j int) bool { return g[i].Symbol < g[j].Symbol })
		lookupStart := uint64(len(o.Sections[lookups].Data))
		addrStart := uint64(len(o.Sections[addrs].Data))
		for _, im := range g {
			entry := make([]byte, 8)
			lo := add(lookups, entry, 8)
			ao := add(addrs, append([]byte(nil), entry...), 8)
			if im.NameType == ImportOrdinal {
				le.PutUint64(o.Sections[lookups].Data[lo:], 1<<63|uint64(im.Hint))
				le.PutUint64(o.Sections[addrs].Data[ao:], 1<<63|uint64(im.Hint))
			} else {
				n := im.ExportName()
				hn := make([]byte, 2, 2+len(n)+2)
				le.PutUint16(hn, im.Hint)
				hn = append(append(hn, n...), 0)
				if len(hn)%2 == 1 {
					hn = append(hn, 0)
				}
				ho := add(hints, hn, 2)
				rel(lookups, lo, obj.ImageRel32, symHints, int64(ho))
				rel(addrs, ao, obj.ImageRel32, symHints, int64(ho))
			}
			o.Symbols = append(o.Symbols, &obj.Symbol{Name: ImportPrefix + im.Symbol, Section: addrs, Value: ao, Size: 8, Bind: obj.Global, Kind: obj.SymData})
			if im.Type == ImportCode {
				thunkList = append(thunkList, thunk{im.Symbol, len(o.Symbols) - 1})
			}
		}
		add(lookups, make([]byte, 8), 8)
		add(addrs, make([]byte, 8), 8)
		no := add(dllNames, append([]byte(names[k]), 0), 1)
		do := add(dirs, make([]byte, 20), 1)
		rel(dirs, do+0, obj.ImageRel32, symLookups, int64(lookupStart))
		rel(dirs, do+12, obj.ImageRel32, symNames, int64(no))
		rel(dirs, do+16, obj.ImageRel32, symAddrs, int64(addrStart))
	}
	add(dirs, make([]byte, 20), 1)
	if len(thunkList) > 0 {
		thunks = sec(thunkSection, obj.Text, thunkAlign)
		for i, t := range thunkList {
			if i > 0 {
				s := o.Sections[thunks]
				for uint64(len(s.Data))%thunkAlign != 0 {
					s.Data = append(s.Data, 0xcc)
				}
			}
			off := add(thunks, thunkBytes, 1)
			rel(thunks, off+2, obj.PCRel32, t.slot, -4)
			o.Symbols = append(o.Symbols, &obj.Symbol{Name: t.name, Section: thunks, Value: off, Size: uint64(len(thunkBytes)), Bind: obj.Global, Kind: obj.SymFunc})
		}
	}
	for _, s := range o.Sections {
		s.Size = uint64(len(s.Data))
		sort.SliceStable(s.Relocs, func(i, j int) bool { return s.Relocs[i].Offset < s.Relocs[j].Offset })
	}
	return o
}

// LinkFiles reads the COFF objects and import libraries at paths (each
// named by its path in messages) and links them with Link. An import
// library's short import members resolve undefined symbols as lld-link
// resolves them (__imp_NAME to the IAT entry, NAME to a thunk, the first
// library on the command line that has the symbol), and only the imports
// used get import tables (ImportObject), after every input.
func LinkFiles(paths []string, opts link.Options) ([]byte, *link.Layout, error) {
	objs, imps, err := ReadFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	if used := UsedImports(objs, imps); len(used) > 0 {
		objs = append(objs, ImportObject(used))
	}
	return Link(objs, opts)
}

// ReadFiles reads the objects (with Read) and the import libraries (with
// ReadArchive) at paths, told apart by the archive magic, and resolves the
// objects' COMDATs (ResolveComdats); the imports are in command-line and
// member order.
func ReadFiles(paths []string) ([]*obj.Object, []Import, error) {
	var files []*File
	var imps []Import
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		if !bytes.HasPrefix(data, []byte(ArchiveMagic)) {
			f, err := Read(p, data)
			if err != nil {
				return nil, nil, fmt.Errorf("link: %w", err)
			}
			files = append(files, f)
			continue
		}
		a, err := ReadArchive(p, data)
		if err != nil {
			return nil, nil, err
		}
		imps = append(imps, a.Imports...)
	}
	objs, err := ResolveComdats(files)
	if err != nil {
		return nil, nil, err
	}
	return objs, imps, nil
}

// UsedImports returns the imports that resolve a global the objects refer
// to and do not define (as __imp_NAME, or as NAME for a code import), the
// first of each symbol, in the order of imps.
func UsedImports(objs []*obj.Object, imps []Import) []Import {
	defined := map[string]bool{}
	undef := map[string]bool{}
	for _, o := range objs {
		for _, s := range o.Symbols {
			if s.Bind == obj.Local || s.Kind == obj.SymSection {
				continue
			}
			if s.Defined() {
				defined[s.Name] = true
			} else {
				undef[s.Name] = true
			}
		}
	}
	var used []Import
	taken := map[string]bool{}
	for _, im := range imps {
		if taken[im.Symbol] {
			continue
		}
		need := undef[ImportPrefix+im.Symbol] && !defined[ImportPrefix+im.Symbol] ||
			im.Type == ImportCode && undef[im.Symbol] && !defined[im.Symbol]
		if need {
			taken[im.Symbol] = true
			used = append(used, im)
		}
	}
	return used
}

// importDirs returns the import directory and the IAT (RVA and size) of
// a layout whose last object is ImportObject's, zero without one.
func importDirs(l *link.Layout) (imp, iat [2]uint64) {
	n := len(l.Objects)
	if n == 0 || l.Objects[n-1].Name != ImportObjectName {
		return
	}
	o := l.Objects[n-1]
	for i, s := range o.Sections {
		var d *[2]uint64
		switch s.Name {
		case idataDirs:
			d = &imp
		case idataAddresses:
			d = &iat
		default:
			continue
		}
		*d = [2]uint64{l.Placements[n-1][i].Addr - ExeImageBase, s.Size}
	}
	return
}
