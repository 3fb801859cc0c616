package canon

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// A decoder decodes one instruction set's machine code into canonical
// instructions (x86.go: x86_64). It knows the instructions and the shapes
// of the indirections a linker writes in them (GOT loads, stubs,
// trampolines); the file and its names it reaches only through the
// symbolizer.
type decoder interface {
	// decode decodes f.code (the function's extent, at f.addr) into f's
	// items; when the size was inferred (inferred) it trims the trailing
	// fill into f.padding. hint, when not nil, is another decoding of a
	// function at the same offsets (the same symbol in another link) whose
	// instructions may be reused where the bytes are equal; cache, when
	// not nil, holds decodings of earlier functions by their bytes.
	decode(f *Func, inferred bool, sy symbolizer, hint *Func, cache *DecodeCache)
	// update brings f, this decoder's decoding of a function (with
	// f.code its own copy of the bytes), to code at addr in sy's image
	// when that is what decoding would give without decoding again, and
	// reports whether it did (ok), and then whether an instruction's
	// operation or operands changed (changed: CompareCode would see
	// another function); when it reports false, f is unchanged if
	// p.idx is empty on return, unusable otherwise. p is scratch
	// space.
	update(f *Func, code []byte, addr uint64, sy symbolizer, p *patchScratch) (ok, changed bool)
}

// A symbolizer is what the neutral reader tells a decoder about the file:
// names for addresses, pointer sites, GOT slots and the bytes of code.
// Its methods may be called from several goroutines at once; notes go to
// the Func being decoded.
type symbolizer interface {
	// symRef names addr (f, g+0x8, str"...", or a noted ?0x...).
	symRef(addr uint64, f *Func) ref
	// inSymbol names addr when a symbol holds it (as symRef then does).
	inSymbol(addr uint64) (ref, bool)
	// fieldRef names the target of the relocated field at site.
	fieldRef(site, target uint64, f *Func) ref
	// sitesFrom returns a cursor over the pointer fields at or after addr.
	sitesFrom(addr uint64) siteCursor
	// isGOTSlot reports whether target, referred to by an instruction
	// holding a field of kind site (hasSite false when none), is a GOT
	// slot.
	isGOTSlot(target uint64, site obj.RelocKind, hasSite bool) bool
	// gotSlot is isGOTSlot for a target known to be in no symbol.
	gotSlot(target uint64, site obj.RelocKind, hasSite bool) bool
	// word reads the 8-byte little-endian word at addr.
	word(addr uint64) (uint64, bool)
	// startOf returns the input (not synthetic) symbol that starts at addr.
	startOf(addr uint64) (string, bool)
	// tpoffRef names the TLS variable at thread-pointer offset v.
	tpoffRef(v int64) ref
	// codeAt returns the bytes from addr to the end of the executable
	// section holding it, nil when no executable section with contents
	// does.
	codeAt(addr uint64) []byte
}

// siteCursor walks the sorted pointer sites forward, for the
// instructions of one function in address order.
type siteCursor struct {
	list []site
	i    int
}

// in returns the first pointer field inside [addr, addr+n). Calls must
// come with non-decreasing addr.
func (c *siteCursor) in(addr uint64, n int) (uint64, obj.RelocKind, bool) {
	for c.i < len(c.list) && c.list[c.i].addr < addr {
		c.i++
	}
	if c.i < len(c.list) && c.list[c.i].addr-addr < uint64(n) {
		return c.list[c.i].addr, c.list[c.i].kind, true
	}
	return 0, 0, false
}

// has reports whether a pointer field lies inside [addr, addr+n), with
// the same rule for the order of calls.
func (c *siteCursor) has(addr uint64, n int) bool {
	_, _, ok := c.in(addr, n)
	return ok
}

func (r *reader) sitesFrom(addr uint64) siteCursor {
	i := sort.Search(len(r.siteList), func(i int) bool { return r.siteList[i].addr >= addr })
	return siteCursor{list: r.siteList, i: i}
}

// codeOf returns a code symbol's bytes (its extent), nil when it has
// none; a function in a NOBITS section is noted.
func (r *reader) codeOf(s *Symbol, note func(string, ...any)) []byte {
	ext := s.ext
	code := r.bytesAt(s.addr, ext)
	if code == nil {
		if sec := s.sec; sec != nil && sec.nobits {
			note("function %s lies in NOBITS section %s", s.Name, sec.name)
		}
	}
	return code
}

// checkBudget reports the error decoding would stop at: the bytes of code
// to decode, in symbol table order, exceeding the work bound.
func (r *reader) checkBudget() error {
	budget := r.budget
	for _, s := range r.syms {
		ext := s.ext
		if ext == 0 || !s.IsCode() || r.bytesAt(s.addr, ext) == nil {
			continue
		}
		if uint64(budget) < ext {
			return fmt.Errorf("canon: %s: %w: decoding %s would exceed the work bound (overlapping symbols?)", r.format, ErrMalformed, s.Name)
		}
		budget -= int(ext)
	}
	return nil
}

// decodeInto decodes code symbol s into f. code is s's bytes.
func (r *reader) decodeInto(s *Symbol, code []byte, f *Func, hint *Func, cache *DecodeCache) {
	f.reset(s.Name, s.addr, code)
	if code == nil {
		return
	}
	f.inferred = s.SizeInferred
	if hint != nil && hint.name != s.Name {
		hint = nil
	}
	r.decoder.decode(f, s.SizeInferred, r, hint, cache)
}

// redecode brings f, a decoding of the same symbol that a DecodeCache
// keeps, to s in this image (decoder.update), and reports whether it did
// and whether its instructions' text changed.
func (r *reader) redecode(s *Symbol, f *Func, p *patchScratch) (ok, changed bool) {
	code := r.bytesAt(s.addr, s.ext)
	if code == nil || len(code) != len(f.code) || f.name != s.Name {
		p.reset()
		return false, false
	}
	return r.decoder.update(f, code, s.addr, r, p)
}

func (r *reader) inSymbol(addr uint64) (ref, bool) {
	if s, off, ok := r.symbolAt(addr); ok {
		return ref{kind: refSym, name: s.Name, off: int64(off)}, true
	}
	return ref{}, false
}

// isGOTSlot reports whether a referenced address is a GOT slot: an
// address in no symbol, that an input relocation of a GOT kind refers to
// or that lies in a GOT section.
func (r *reader) isGOTSlot(target uint64, site obj.RelocKind, hasSite bool) bool {
	if _, _, ok := r.symbolAt(target); ok {
		return false
	}
	return r.gotSlot(target, site, hasSite)
}

// gotSlot is isGOTSlot for a target in no symbol.
func (r *reader) gotSlot(target uint64, site obj.RelocKind, hasSite bool) bool {
	if hasSite && (site == obj.GOTLoad32 || site == obj.GOTPCRel32) {
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
