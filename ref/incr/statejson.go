package incr

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The sidecar's state is JSON, as encoding/json writes a *State. The
// sidecar round trip (once per fuzzed sequence) encoded and decoded it by
// reflection, which was most of its cost; EncodeState writes the same
// bytes by hand, and decodeState reads what EncodeState writes by hand and
// leaves anything else (an older sidecar's digests as numbers, fields
// in another order, whitespace, a damaged file) to encoding/json, which
// reads or refuses it as before. TestStateJSON and FuzzStateJSON hold
// both to encoding/json: the same bytes written, the same state read,
// nothing accepted that encoding/json refuses.

// EncodeState returns the state's encoding as the sidecar holds it: the
// bytes of json.Marshal(st), deterministic (maps in sorted key order).
func EncodeState(st *State) []byte {
	if st == nil {
		return []byte("null")
	}
	return appendState(make([]byte, 0, encodedSize(st)), st)
}

// encodedSize is about the size of the state's encoding (a little more
// for the states of generated programs), for its buffer.
func encodedSize(st *State) int {
	n := 512 + 256*len(st.Regions) + 200*len(st.Atoms) + len(st.Source) + len(st.Source)/8
	if st.GOT != nil {
		n += 16 * len(st.GOT.Slots)
	}
	for _, a := range st.Atoms {
		if a != nil {
			n += 56 * len(a.Relocs)
		}
	}
	return n
}

// DecodeState reads a state encoded as EncodeState (or json.Marshal)
// writes it, as json.Unmarshal into a *State would: the same state, and
// an error where json.Unmarshal gives one.
func DecodeState(data []byte) (*State, error) {
	if st, err := decodeState(data); err == nil {
		return st, nil
	}
	var st *State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	return st, nil
}

func appendState(b []byte, st *State) []byte {
	if st == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"Format":`...)
	b = appendString(b, string(st.Format))
	b = append(b, `,"Policy":`...)
	b = appendString(b, string(st.Policy))
	b = append(b, `,"Regions":`...)
	b = appendMap(b, st.Regions, appendRegion)
	b = append(b, `,"Atoms":`...)
	b = appendMap(b, st.Atoms, appendAtom)
	b = append(b, `,"GOT":`...)
	if st.GOT == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"Slots":`...)
		b = appendList(b, st.GOT.Slots, appendString)
		b = append(b, `,"Free":`...)
		b = appendList(b, st.GOT.Free, func(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) })
		b = append(b, '}')
	}
	b = append(b, `,"Entry":`...)
	b = appendString(b, st.Entry)
	if st.Span != 0 {
		b = append(b, `,"Span":`...)
		b = strconv.AppendUint(b, st.Span, 10)
	}
	b = append(b, `,"Source":`...)
	b = appendString(b, st.Source)
	return append(b, '}')
}

func appendRegion(b []byte, r *Region) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"Name":`...)
	b = appendString(b, r.Name)
	b = append(b, `,"Base":`...)
	b = strconv.AppendUint(b, r.Base, 10)
	b = append(b, `,"Cap":`...)
	b = strconv.AppendUint(b, r.Cap, 10)
	b = append(b, `,"High":`...)
	b = strconv.AppendUint(b, r.High, 10)
	b = append(b, `,"Free":`...)
	b = appendList(b, r.Free, func(b []byte, s Span) []byte {
		b = append(b, `{"Addr":`...)
		b = strconv.AppendUint(b, s.Addr, 10)
		b = append(b, `,"Size":`...)
		b = strconv.AppendUint(b, s.Size, 10)
		return append(b, '}')
	})
	if r.Indexed {
		b = append(b, `,"Indexed":true`...)
	}
	if len(r.Entries) > 0 {
		b = append(b, `,"Entries":`...)
		b = appendList(b, r.Entries, func(b []byte, e uint64) []byte { return strconv.AppendUint(b, e, 10) })
	}
	return append(b, '}')
}

func appendAtom(b []byte, a *AtomState) []byte {
	if a == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"Name":`...)
	b = appendString(b, a.Name)
	b = append(b, `,"Kind":`...)
	b = strconv.AppendUint(b, uint64(a.Kind), 10)
	b = append(b, `,"Addr":`...)
	b = strconv.AppendUint(b, a.Addr, 10)
	b = append(b, `,"Size":`...)
	b = strconv.AppendUint(b, a.Size, 10)
	b = append(b, `,"Slot":`...)
	b = strconv.AppendUint(b, a.Slot, 10)
	b = append(b, `,"Align":`...)
	b = strconv.AppendUint(b, a.Align, 10)
	b = append(b, `,"Local":`...)
	b = strconv.AppendBool(b, a.Local)
	b = append(b, `,"Hash":"`...)
	b = hex.AppendEncode(b, a.Hash[:])
	b = append(b, `","Relocs":`...)
	b = appendList(b, a.Relocs, func(b []byte, r obj.SymReloc) []byte {
		b = append(b, `{"Offset":`...)
		b = strconv.AppendUint(b, r.Offset, 10)
		b = append(b, `,"Kind":`...)
		b = strconv.AppendUint(b, uint64(r.Kind), 10)
		b = append(b, `,"Sym":`...)
		b = appendString(b, r.Sym)
		b = append(b, `,"Addend":`...)
		b = strconv.AppendInt(b, r.Addend, 10)
		return append(b, '}')
	})
	b = append(b, `,"First":`...)
	b = strconv.AppendUint(b, a.First, 10)
	return append(b, '}')
}

// appendList appends null for a nil list, else its elements, each
// appended by elem, as a JSON array.
func appendList[T any](b []byte, list []T, elem func([]byte, T) []byte) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, v)
	}
	return append(b, ']')
}

// appendMap appends null for a nil map, else its members in the order
// of their names (encoding/json's), each value appended by elem.
func appendMap[V any](b []byte, m map[string]V, elem func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, n := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
		b = append(b, ':')
		b = elem(b, m[n])
	}
	return append(b, '}')
}

// appendString appends s as encoding/json quotes it (with its HTML
// escaping). ASCII is quoted here; a string with other bytes (non-ASCII
// text, invalid UTF-8) is quoted by encoding/json itself.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	start := len(b)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			q, err := json.Marshal(s)
			if err != nil { // a string always encodes
				panic(err)
			}
			return append(b[:start], q...)
		case c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&':
			b = append(b, c)
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(b, '"')
}

// errNotCanonical is decodeState's refusal of anything but what
// EncodeState writes: the caller then asks encoding/json.
var errNotCanonical = errors.New("not the canonical encoding")

// stateReader reads EncodeState's bytes; any deviation is
// errNotCanonical. Every read checks the bytes that remain.
type stateReader struct {
	b   []byte
	off int
	// names holds the short strings read so far (an atom's name is its
	// key, its Name and its callers' relocations' Sym): one allocation
	// each. relocs is an atom's relocations as they are read.
	names  map[string]string
	relocs []obj.SymReloc
}

// decodeState reads exactly what EncodeState writes for a non-nil state
// and refuses anything else with errNotCanonical.
func decodeState(data []byte) (st *State, err error) {
	r := &stateReader{b: data}
	st = &State{}
	if !r.lit(`{"Format":`) {
		return nil, errNotCanonical
	}
	s, ok := r.str()
	st.Format = obj.Format(s)
	ok = ok && r.lit(`,"Policy":`)
	if ok {
		s, ok = r.str()
		st.Policy = Policy(s)
	}
	if !ok || !r.lit(`,"Regions":`) {
		return nil, errNotCanonical
	}
	if st.Regions, ok = readMap(r, r.region); !ok || !r.lit(`,"Atoms":`) {
		return nil, errNotCanonical
	}
	if st.Atoms, ok = readMap(r, r.atom); !ok || !r.lit(`,"GOT":`) {
		return nil, errNotCanonical
	}
	if !r.null() {
		st.GOT = &GOT{}
		if !r.lit(`{"Slots":`) {
			return nil, errNotCanonical
		}
		if st.GOT.Slots, ok = readList(r, r.str); !ok || !r.lit(`,"Free":`) {
			return nil, errNotCanonical
		}
		if st.GOT.Free, ok = readList(r, func() (int, bool) {
			v, ok := r.int(strconv.IntSize)
			return int(v), ok
		}); !ok || !r.lit(`}`) {
			return nil, errNotCanonical
		}
	}
	if !r.lit(`,"Entry":`) {
		return nil, errNotCanonical
	}
	if st.Entry, ok = r.str(); !ok {
		return nil, errNotCanonical
	}
	if r.lit(`,"Span":`) {
		if st.Span, ok = r.uint(64); !ok || st.Span == 0 { // omitted when 0
			return nil, errNotCanonical
		}
	}
	if !r.lit(`,"Source":`) {
		return nil, errNotCanonical
	}
	if st.Source, ok = r.str(); !ok || !r.lit(`}`) || r.off != len(r.b) {
		return nil, errNotCanonical
	}
	return st, nil
}

func (r *stateReader) region() (*Region, bool) {
	if r.null() {
		return nil, true
	}
	g := &Region{}
	ok := r.strAfter(`{"Name":`, &g.Name, true)
	ok = r.uintAfter(`,"Base":`, &g.Base, ok)
	ok = r.uintAfter(`,"Cap":`, &g.Cap, ok)
	ok = r.uintAfter(`,"High":`, &g.High, ok)
	if !ok || !r.lit(`,"Free":`) {
		return nil, false
	}
	if g.Free, ok = readList(r, func() (Span, bool) {
		var s Span
		ok := r.uintAfter(`{"Addr":`, &s.Addr, true)
		ok = r.uintAfter(`,"Size":`, &s.Size, ok)
		return s, ok && r.lit(`}`)
	}); !ok {
		return nil, false
	}
	if r.lit(`,"Indexed":true`) {
		g.Indexed = true
	}
	if r.lit(`,"Entries":[`) {
		if !r.each(`]`, func() bool {
			e, ok := r.uint(64)
			g.Entries = append(g.Entries, e)
			return ok
		}) {
			return nil, false
		}
		if len(g.Entries) == 0 { // EncodeState omits an empty list
			return nil, false
		}
	}
	return g, r.lit(`}`)
}

func (r *stateReader) atom() (*AtomState, bool) {
	if r.null() {
		return nil, true
	}
	a := &AtomState{}
	ok := r.strAfter(`{"Name":`, &a.Name, true)
	ok = ok && r.lit(`,"Kind":`)
	if ok {
		var k uint64
		k, ok = r.uint(8)
		a.Kind = obj.SectionKind(k)
	}
	ok = r.uintAfter(`,"Addr":`, &a.Addr, ok)
	ok = r.uintAfter(`,"Size":`, &a.Size, ok)
	ok = r.uintAfter(`,"Slot":`, &a.Slot, ok)
	ok = r.uintAfter(`,"Align":`, &a.Align, ok)
	ok = ok && r.lit(`,"Local":`)
	if ok {
		switch {
		case r.lit("true"):
			a.Local = true
		case r.lit("false"):
		default:
			ok = false
		}
	}
	ok = ok && r.lit(`,"Hash":"`)
	if !ok || len(r.b)-r.off < 2*len(a.Hash) {
		return nil, false
	}
	if _, err := hex.Decode(a.Hash[:], r.b[r.off:r.off+2*len(a.Hash)]); err != nil {
		return nil, false
	}
	r.off += 2 * len(a.Hash)
	if !r.lit(`","Relocs":`) {
		return nil, false
	}
	if !r.null() {
		if !r.lit(`[`) {
			return nil, false
		}
		r.relocs = r.relocs[:0]
		if !r.each(`]`, func() bool {
			var x obj.SymReloc
			ok := r.uintAfter(`{"Offset":`, &x.Offset, true)
			ok = ok && r.lit(`,"Kind":`)
			if ok {
				var k uint64
				k, ok = r.uint(8)
				x.Kind = obj.RelocKind(k)
			}
			ok = r.strAfter(`,"Sym":`, &x.Sym, ok)
			ok = r.intAfter(`,"Addend":`, &x.Addend, ok)
			r.relocs = append(r.relocs, x)
			return ok && r.lit(`}`)
		}) {
			return nil, false
		}
		a.Relocs = append(make([]obj.SymReloc, 0, len(r.relocs)), r.relocs...)
	}
	ok = r.lit(`,"First":`)
	if ok {
		a.First, ok = r.uint(64)
	}
	return a, ok && r.lit(`}`)
}

// each reads the elements of a list or the members of an object up to
// close (its opening bracket read), one elem call for each: elem reads
// one and reports whether it could.
func (r *stateReader) each(close string, elem func() bool) bool {
	for i := 0; !r.lit(close); i++ {
		if i > 0 && !r.lit(`,`) || !elem() {
			return false
		}
	}
	return true
}

// readList reads null (a nil slice) or a list of elements read by elem
// ([] is an empty slice, as encoding/json decodes it).
func readList[T any](r *stateReader, elem func() (T, bool)) ([]T, bool) {
	if r.null() {
		return nil, true
	}
	if !r.lit(`[`) {
		return nil, false
	}
	list := []T{}
	ok := r.each(`]`, func() bool {
		v, ok := elem()
		list = append(list, v)
		return ok
	})
	return list, ok
}

// readMap reads null (a nil map) or an object whose members' values elem
// reads; a name twice is not encoding/json's output.
func readMap[V any](r *stateReader, elem func() (V, bool)) (map[string]V, bool) {
	if r.null() {
		return nil, true
	}
	if !r.lit(`{`) {
		return nil, false
	}
	m := map[string]V{}
	ok := r.each(`}`, func() bool {
		n, ok := r.str()
		if !ok || !r.lit(`:`) {
			return false
		}
		if _, dup := m[n]; dup {
			return false
		}
		v, ok := elem()
		m[n] = v
		return ok
	})
	return m, ok
}

// uintAfter reads, when ok, the literal lit and then a number of at most
// 64 bits into v; it reports whether both were there. strAfter and
// intAfter are the same for a string and a signed number.
func (r *stateReader) uintAfter(lit string, v *uint64, ok bool) bool {
	if !ok || !r.lit(lit) {
		return false
	}
	*v, ok = r.uint(64)
	return ok
}

func (r *stateReader) intAfter(lit string, v *int64, ok bool) bool {
	if !ok || !r.lit(lit) {
		return false
	}
	*v, ok = r.int(64)
	return ok
}

func (r *stateReader) strAfter(lit string, v *string, ok bool) bool {
	if !ok || !r.lit(lit) {
		return false
	}
	*v, ok = r.str()
	return ok
}

// lit consumes s if the bytes at the offset are s.
func (r *stateReader) lit(s string) bool {
	if len(r.b)-r.off < len(s) || string(r.b[r.off:r.off+len(s)]) != s {
		return false
	}
	r.off += len(s)
	return true
}

func (r *stateReader) null() bool { return r.lit("null") }

// uint reads a decimal number as encoding/json writes one (no sign, no
// leading zero, no fraction or exponent) of at most bits bits.
func (r *stateReader) uint(bits int) (uint64, bool) {
	i := r.off
	var v uint64
	for ; i < len(r.b) && r.b[i] >= '0' && r.b[i] <= '9'; i++ {
		d := uint64(r.b[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	n := i - r.off
	if n == 0 || n > 1 && r.b[r.off] == '0' || bits < 64 && v>>bits != 0 || r.numberGoesOn(i) {
		return 0, false
	}
	r.off = i
	return v, true
}

// int reads a signed decimal number as encoding/json writes one, of at
// most bits bits.
func (r *stateReader) int(bits int) (int64, bool) {
	neg := r.off < len(r.b) && r.b[r.off] == '-'
	if neg {
		r.off++
	}
	v, ok := r.uint(64)
	lim := uint64(1) << (bits - 1)
	switch {
	case !ok || neg && v == 0 || !neg && v >= lim || neg && v > lim:
		if neg {
			r.off--
		}
		return 0, false
	case neg:
		return -int64(v-1) - 1, true
	}
	return int64(v), true
}

// numberGoesOn reports whether a number's digits end before a fraction or
// an exponent at i.
func (r *stateReader) numberGoesOn(i int) bool {
	return i < len(r.b) && (r.b[i] == '.' || r.b[i] == 'e' || r.b[i] == 'E')
}

// str reads a quoted string as json.Unmarshal does, except that an
// escaped UTF-16 surrogate or invalid UTF-8 (which json.Unmarshal
// replaces) is refused.
func (r *stateReader) str() (string, bool) {
	if !r.lit(`"`) {
		return "", false
	}
	start := r.off
	esc, wide := false, false
	i := start
	for ; i < len(r.b); i++ {
		c := r.b[i]
		if c == '"' {
			break
		}
		if c == '\\' {
			esc = true
			i++
			if i == len(r.b) {
				return "", false
			}
			switch r.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := r.hex4(i + 1); !ok {
					return "", false
				}
				i += 4
			default:
				return "", false
			}
			continue
		}
		if c < 0x20 {
			return "", false
		}
		if c >= utf8.RuneSelf {
			wide = true
		}
	}
	if i == len(r.b) || wide && !utf8.Valid(r.b[start:i]) {
		return "", false
	}
	r.off = i + 1
	if !esc {
		if i-start > 64 {
			return string(r.b[start:i]), true
		}
		if s, ok := r.names[string(r.b[start:i])]; ok {
			return s, true
		}
		if r.names == nil {
			r.names = map[string]string{}
		}
		s := string(r.b[start:i])
		r.names[s] = s
		return s, true
	}
	s := make([]byte, 0, i-start)
	for j := start; j < i; j++ {
		c := r.b[j]
		if c != '\\' {
			s = append(s, c)
			continue
		}
		j++
		switch c = r.b[j]; c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			v, _ := r.hex4(j + 1)
			j += 4
			if utf16.IsSurrogate(rune(v)) {
				return "", false
			}
			s = utf8.AppendRune(s, rune(v))
			continue
		}
		s = append(s, c)
	}
	return string(s), true
}

// hex4 reads the four hex digits of a \u escape at i.
func (r *stateReader) hex4(i int) (uint16, bool) {
	if len(r.b)-i < 4 {
		return 0, false
	}
	var v uint16
	for _, c := range r.b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}
