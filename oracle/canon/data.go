package canon

import (
	"encoding/binary"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// readData fills a data symbol's bytes and pointer fields.
func (r *reader) readData(s *Symbol) {
	sec := s.sec
	ext := s.ext
	if sec.nobits {
		s.BSS = true
		return
	}
	// In a section that also holds initialized data (PE), a BSS symbol
	// may lie in the raw data's alignment padding: it is still BSS, and
	// its bytes (zeros, or what a linker wrongly put there) are compared.
	s.BSS = r.inputBSS[s.Name]
	// The symbol's own section, not whichever section holds its address:
	// sections of a corrupt file may overlap (FuzzCanonELF).
	if !sec.contains(s.addr) || sec.size-(s.addr-sec.addr) < ext {
		r.note("%s: extent %#x is not inside its section %s", s.Name, ext, sec.name)
		return
	}
	start := s.addr - sec.addr
	s.Data = append([]byte(nil), sec.data[start:start+ext]...)
	i := sort.Search(len(r.siteList), func(i int) bool { return r.siteList[i].addr >= s.addr })
	for ; i < len(r.siteList) && r.siteList[i].addr-s.addr < ext; i++ {
		a, kind := r.siteList[i].addr, r.siteList[i].kind
		off := a - s.addr
		width := uint64(4)
		if kind == obj.Abs64 || kind == obj.DTPOff64 {
			width = 8
		}
		if ext-off < width {
			r.note("%s+%#x: %s field runs past the symbol's end", s.Name, off, kind)
			continue
		}
		field := s.Data[off : off+width]
		var name string
		switch kind {
		case obj.TPOff32:
			name = r.tpoffRef(int64(int32(binary.LittleEndian.Uint32(field)))).String()
		case obj.DTPOff64:
			name = r.tpoffRef(int64(binary.LittleEndian.Uint64(field))).String()
		default:
			name = "&" + r.symbolizeField(a, fieldTarget(kind, field, a))
		}
		s.Pointers = append(s.Pointers, Pointer{Off: off, Size: int(width), Kind: kind.String(), Target: name})
		clear(field)
	}
}

func (r *reader) isData(s *Symbol) bool {
	sec := s.sec
	return sec != nil && !sec.nobits && !s.IsCode() && s.ext > 0
}
