package coff

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// ArchiveMagic starts every COFF archive (.lib) file.
const ArchiveMagic = "!<arch>\n"

// Import types (IMPORT_OBJECT_HEADER Type), the kind of an imported
// symbol.
const (
	ImportCode  = 0 // IMPORT_OBJECT_CODE: __imp_NAME and a thunk NAME
	ImportData  = 1 // IMPORT_OBJECT_DATA: __imp_NAME only
	ImportConst = 2 // IMPORT_OBJECT_CONST: __imp_NAME only
)

// Import name types (IMPORT_OBJECT_HEADER NameType): how the name in the
// DLL's export table follows from the symbol name.
const (
	ImportOrdinal      = 0 // by ordinal (OrdinalHint), no name
	ImportName         = 1 // the symbol name
	ImportNoPrefix     = 2 // the symbol name without a leading ?, @ or _
	ImportUndecorate   = 3 // ... and cut at the first @
	ImportNameExportAs = 4 // a name given after the DLL name (IMPORT_OBJECT_NAME_EXPORTAS)
)

// ImportPrefix is the prefix of an import's IAT slot symbol.
const ImportPrefix = "__imp_"

// Import is a symbol a DLL exports, as a short import member of an import
// library (llvm-dlltool's, lib.exe's) describes it.
type Import struct {
	// Symbol is the symbol name ("ExitProcess"); the IAT slot is
	// ImportPrefix+Symbol, and code imports also define Symbol itself as
	// a thunk that jumps through the slot.
	Symbol string
	// DLL is the library's file name ("kernel32.dll").
	DLL string
	// Hint is the ordinal (for ImportOrdinal) or the export table hint.
	Hint uint16
	// Type is ImportCode, ImportData or ImportConst.
	Type uint8
	// NameType is ImportOrdinal..ImportNameExportAs.
	NameType uint8
	// ExportAs is the export name of ImportNameExportAs.
	ExportAs string
}

// ExportName is the name looked up in the DLL's export table ("" for an
// import by ordinal).
func (im Import) ExportName() string {
	n := im.Symbol
	switch im.NameType {
	case ImportOrdinal:
		return ""
	case ImportNoPrefix, ImportUndecorate:
		if n != "" && strings.IndexByte("?@_", n[0]) >= 0 {
			n = n[1:]
		}
		if im.NameType == ImportUndecorate {
			if i := strings.IndexByte(n, '@'); i >= 0 {
				n = n[:i]
			}
		}
	case ImportNameExportAs:
		return im.ExportAs
	}
	return n
}

// Archive is a COFF archive as ReadArchive decodes it.
type Archive struct {
	// Imports are its short import members, in member order.
	Imports []Import
	// Objects counts its other (object file) members, which the
	// reference linker does not link: an import library's descriptor
	// objects are synthesized instead, as lld-link does.
	Objects int
}

// ReadArchive decodes a COFF archive (an import library): the short import
// members, and how many other members it has. name is used in messages.
// It is bounded like Read: every header is checked against the file.
func ReadArchive(name string, data []byte) (*Archive, error) {
	if !bytes.HasPrefix(data, []byte(ArchiveMagic)) {
		return nil, &readError{fmt.Sprintf("%s: not an archive (no %q)", name, strings.TrimSpace(ArchiveMagic)), ErrMalformed}
	}
	le := binary.LittleEndian
	a := &Archive{}
	for off := uint64(len(ArchiveMagic)); off < uint64(len(data)); {
		if uint64(len(data))-off < 60 {
			return nil, &readError{fmt.Sprintf("%s: offset %#x: truncated member header", name, off), ErrMalformed}
		}
		h := data[off : off+60]
		if h[58] != '`' || h[59] != '\n' {
			return nil, &readError{fmt.Sprintf("%s: offset %#x: bad member header end", name, off), ErrMalformed}
		}
		mname := strings.TrimRight(string(h[0:16]), " ")
		size, err := strconv.ParseUint(strings.TrimSpace(string(h[48:58])), 10, 63)
		if err != nil || size > uint64(len(data))-off-60 {
			return nil, &readError{fmt.Sprintf("%s: offset %#x: member %q: bad size %q", name, off, mname, strings.TrimSpace(string(h[48:58]))), ErrMalformed}
		}
		body := data[off+60 : off+60+size]
		switch {
		case mname == "/" || mname == "//" || mname == "/<ECSYMBOLS>/":
			// Linker members and the long-name table.
		case len(body) >= 20 && le.Uint16(body[0:]) == 0 && le.Uint16(body[2:]) == 0xffff:
			im, err := readImport(body)
			if err != nil {
				return nil, &readError{fmt.Sprintf("%s: offset %#x: import member: %v", name, off, err), ErrMalformed}
			}
			a.Imports = append(a.Imports, im)
		default:
			a.Objects++
		}
		off += 60 + size
		if size%2 == 1 {
			off++
		}
	}
	return a, nil
}

// readImport decodes a short import member (IMPORT_OBJECT_HEADER, then
// the symbol and DLL names).
func readImport(b []byte) (Import, error) {
	le := binary.LittleEndian
	if m := le.Uint16(b[6:]); m != machineAMD64 {
		return Import{}, fmt.Errorf("machine %#x is not AMD64", m)
	}
	size := uint64(le.Uint32(b[12:]))
	if size > uint64(len(b))-20 {
		return Import{}, fmt.Errorf("SizeOfData %d runs past the member (%d bytes)", size, len(b))
	}
	names := b[20 : 20+size]
	flags := le.Uint16(b[18:])
	im := Import{Hint: le.Uint16(b[16:]), Type: uint8(flags & 3), NameType: uint8(flags >> 2 & 7)}
	parts := bytes.SplitN(names, []byte{0}, 4)
	if len(parts) < 3 || len(parts[0]) == 0 || len(parts[1]) == 0 {
		return Import{}, fmt.Errorf("names are not two NUL-terminated strings")
	}
	im.Symbol, im.DLL = string(parts[0]), string(parts[1])
	if im.Type > ImportConst {
		return Import{}, fmt.Errorf("symbol %s: import type %d is not supported", im.Symbol, im.Type)
	}
	if im.NameType > ImportNameExportAs {
		return Import{}, fmt.Errorf("symbol %s: name type %d is not supported", im.Symbol, im.NameType)
	}
	if im.NameType == ImportNameExportAs {
		if len(parts) < 4 {
			return Import{}, fmt.Errorf("symbol %s: no export name", im.Symbol)
		}
		im.ExportAs = string(bytes.TrimRight(parts[2], "\x00"))
	}
	return im, nil
}
