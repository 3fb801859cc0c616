package elf

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// archiveMagic starts a static archive (ar) file.
const archiveMagic = "!<arch>\n"

// IsArchive reports whether data is a static archive.
func IsArchive(data []byte) bool { return bytes.HasPrefix(data, []byte(archiveMagic)) }

// AnyArchive reports whether a file at paths starts with the archive
// magic (unreadable files are left to the reader to report).
func AnyArchive(paths []string) bool {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		var b [len(archiveMagic)]byte
		n, _ := io.ReadFull(f, b[:])
		f.Close()
		if IsArchive(b[:n]) {
			return true
		}
	}
	return false
}

// ArchiveMember is one relocatable object of a static archive.
type ArchiveMember struct {
	// Name is the member's file name (long names resolved).
	Name string
	Data []byte
}

// ReadArchive splits a static archive into its members, in order. Both
// name conventions are read: GNU (a "/" or "/SYM64/" symbol index, "//"
// long-name table, "/N" long names, "name/" short names) and BSD ("#1/N"
// names after the header, "__.SYMDEF" symbol index). The symbol index is
// not used: as ld.lld 15 and later, the linker reads the members' own
// symbol tables. name is the archive's name in messages.
func ReadArchive(name string, data []byte) ([]ArchiveMember, error) {
	bad := func(off int, format string, args ...any) error {
		return fmt.Errorf("%s: %w: archive offset %#x: %s", name, ErrMalformed, off, fmt.Sprintf(format, args...))
	}
	if !IsArchive(data) {
		return nil, bad(0, "not an archive (bad magic)")
	}
	var members []ArchiveMember
	var longNames []byte
	off := len(archiveMagic)
	for off < len(data) {
		if off%2 == 1 {
			off++ // members are 2-aligned
			if off >= len(data) {
				break
			}
		}
		if len(data)-off < 60 {
			return nil, bad(off, "truncated member header")
		}
		h := data[off : off+60]
		if string(h[58:60]) != "`\n" {
			return nil, bad(off, "bad member header terminator")
		}
		size, err := strconv.ParseUint(strings.TrimSpace(string(h[48:58])), 10, 63)
		if err != nil {
			return nil, bad(off, "bad member size %q", h[48:58])
		}
		body := off + 60
		if size > uint64(len(data)-body) {
			return nil, bad(off, "member of %d bytes runs past the end of the file", size)
		}
		content := data[body : body+int(size)]
		next := body + int(size)
		raw := strings.TrimRight(string(h[0:16]), " ")
		var mname string
		switch {
		case raw == "/" || raw == "/SYM64/" || raw == "__.SYMDEF" || raw == "__.SYMDEF SORTED":
			off = next
			continue // the symbol index
		case raw == "//":
			longNames = content
			off = next
			continue
		case strings.HasPrefix(raw, "#1/"):
			n, err := strconv.ParseUint(raw[3:], 10, 31)
			if err != nil || n > size {
				return nil, bad(off, "bad BSD name length %q", raw)
			}
			mname = strings.TrimRight(string(content[:n]), "\x00")
			content = content[n:]
			if mname == "__.SYMDEF" || mname == "__.SYMDEF SORTED" {
				off = next
				continue
			}
		case strings.HasPrefix(raw, "/") && len(raw) > 1:
			n, err := strconv.ParseUint(raw[1:], 10, 31)
			if err != nil || n >= uint64(len(longNames)) {
				return nil, bad(off, "long name offset %q out of range", raw)
			}
			rest := longNames[n:]
			end := bytes.IndexByte(rest, '\n')
			if end < 0 {
				end = len(rest)
			}
			mname = strings.TrimSuffix(string(rest[:end]), "/")
		default:
			mname = strings.TrimSuffix(raw, "/")
		}
		members = append(members, ArchiveMember{Name: mname, Data: content})
		off = next
	}
	return members, nil
}

// ReadInputs reads the relocatable objects and static archives at paths,
// in order, and returns the objects to link in ld.lld 16's order: every
// object file in command-line order, and archive members when they are
// extracted. A member is extracted when a global it defines is referenced
// by a non-weak undefined symbol of an object already read (the archive's
// members are then examined in member order, each member's symbols in
// symbol table order) or of an object read later; an extracted member is
// read at once, so what it needs may extract further members, and it
// comes after the object whose reference extracted it. Members are named
// "lib.a(member.o)" in messages, as ld.lld names them.
func ReadInputs(paths []string) ([]*obj.Object, error) {
	if !AnyArchive(paths) {
		// Objects only: read them in parallel, as ReadObjectFiles does.
		return ReadObjectFiles(paths)
	}
	type lazy struct {
		member *obj.Object
		done   *bool
	}
	var out []*obj.Object
	defined := map[string]bool{}
	undefined := map[string]bool{} // non-weak references not yet defined
	lazies := map[string]lazy{}
	var add func(o *obj.Object)
	add = func(o *obj.Object) {
		out = append(out, o)
		for _, s := range o.Symbols {
			if s.Bind == obj.Local {
				continue
			}
			if s.Defined() {
				defined[s.Name] = true
				delete(undefined, s.Name)
				continue
			}
			if defined[s.Name] || s.Bind == obj.Weak {
				continue
			}
			if lz, ok := lazies[s.Name]; ok && !*lz.done {
				*lz.done = true
				add(lz.member)
				continue
			}
			undefined[s.Name] = true
		}
	}
	for _, p := range paths {
		data, err := input.ReadFile(p, input.MaxObject)
		if err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		if !IsArchive(data) {
			o, err := ReadObject(p, data)
			if err != nil {
				return nil, fmt.Errorf("link: %w", err)
			}
			add(o)
			continue
		}
		members, err := ReadArchive(p, data)
		if err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		for _, m := range members {
			o, err := ReadObject(fmt.Sprintf("%s(%s)", p, m.Name), m.Data)
			if err != nil {
				return nil, fmt.Errorf("link: %w", err)
			}
			done := new(bool)
			for _, s := range o.Symbols {
				if s.Bind == obj.Local || !s.Defined() || defined[s.Name] {
					continue
				}
				if undefined[s.Name] {
					if !*done {
						*done = true
						add(o)
					}
					break
				}
				if _, ok := lazies[s.Name]; !ok {
					lazies[s.Name] = lazy{o, done}
				}
			}
		}
	}
	return out, nil
}
