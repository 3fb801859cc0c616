package canon

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// A decoder decodes one instruction set's machine code into canonical
// instructions (x86.go: x86_64). It knows the instructions and the shapes
// of the indirections a linker writes in them (GOT loads, stubs,
// trampolines); the file and its names it reaches only through the
// symbolizer.
type decoder interface {
	// decode decodes the function fn, whose extent holds code (at fn's
	// address), into fn.Insns; when fn's size was inferred it trims the
	// trailing fill into fn.Padding (and out of fn.Size).
	decode(fn *Symbol, code []byte, sy symbolizer)
}

// A symbolizer is what the neutral reader tells a decoder about the file:
// names for addresses, pointer sites, GOT slots and the bytes of code.
type symbolizer interface {
	// symbolize names addr ("f", "g+0x8", `str"..."`, or a noted "?0x...").
	symbolize(addr uint64) string
	// symbolizeField names the target of the relocated field at site.
	symbolizeField(site, target uint64) string
	// siteIn returns the address and relocation kind of the first pointer
	// field inside [addr, addr+n), kind "" when there is none.
	siteIn(addr uint64, n int) (uint64, string)
	// isGOTSlot reports whether target, referred to by an instruction
	// holding a field of kind site, is a GOT slot.
	isGOTSlot(target uint64, site string) bool
	// word reads the 8-byte little-endian word at addr.
	word(addr uint64) (uint64, bool)
	// startOf returns the input (not synthetic) symbol that starts at addr.
	startOf(addr uint64) (string, bool)
	// codeAt returns the bytes from addr to the end of the executable
	// section holding it, nil when no executable section with contents
	// does.
	codeAt(addr uint64) []byte
	// note records something that could not be canonicalized.
	note(format string, args ...any)
}

// decodeFunc decodes a function's bytes with the file's decoder, within
// the work bound.
func (r *reader) decodeFunc(s *Symbol) error {
	ext := r.extent[s]
	code := r.bytesAt(s.addr, ext)
	if code == nil {
		if sec := r.symSec[s]; sec != nil && sec.nobits {
			r.note("function %s lies in NOBITS section %s", s.Name, sec.name)
		}
		return nil
	}
	if uint64(r.budget) < ext {
		return fmt.Errorf("canon: %s: %w: decoding %s would exceed the work bound (overlapping symbols?)", r.format, ErrMalformed, s.Name)
	}
	r.budget -= int(ext)
	r.decoder.decode(s, code, r)
	return nil
}

// isGOTSlot reports whether a referenced address is a GOT slot: an
// address in no symbol, that an input relocation of a GOT kind refers to
// or that lies in a GOT section.
func (r *reader) isGOTSlot(target uint64, site string) bool {
	if _, _, ok := r.symbolAt(target); ok {
		return false
	}
	if site == obj.GOTLoad32.String() || site == obj.GOTPCRel32.String() {
		return true
	}
	sec := r.sectionAt(target)
	return sec != nil && sec.got
}

// word reads the 8-byte little-endian word at addr.
func (r *reader) word(addr uint64) (uint64, bool) {
	b := r.bytesAt(addr, 8)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

func (r *reader) startOf(addr uint64) (string, bool) {
	if list := r.starts[addr]; len(list) > 0 && !list[0].Synthetic {
		return list[0].Name, true
	}
	return "", false
}

func (r *reader) codeAt(addr uint64) []byte {
	sec := r.sectionAt(addr)
	if sec == nil || sec.nobits || !strings.Contains(sec.flags, "X") {
		return nil
	}
	return sec.data[addr-sec.addr:]
}
