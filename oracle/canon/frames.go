package canon

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/cfi"
)

// Call frame information: an ELF executable's .eh_frame read as one FDE
// per function, and its .eh_frame_hdr checked against them.

// Names of the ELF call frame sections.
const (
	ehFrameName    = ".eh_frame"
	ehFrameHdrName = ".eh_frame_hdr"
	maxFrames      = 1 << 20
)

// Frames is the canonical form of an executable's call frame information
// (.eh_frame): where records are and in which order is layout, so what
// remains is each FDE with its function, range, instructions and CIE.
type Frames struct {
	// FDEs are sorted by Func, then by their other fields.
	FDEs []FDE
	// Err says why .eh_frame does not decode (the FDEs before the
	// problem are kept).
	Err string `json:",omitempty"`
	// Hdr is the .eh_frame_hdr check, nil when the file has none.
	Hdr *FrameHdr `json:",omitempty"`
}

// FDE is one FDE in canonical form.
type FDE struct {
	// Func is the initial location, symbolized ("f", "f+0x1", or
	// "SECTION+0x10" for code no symbol names).
	Func string
	// Range is the address range's length in bytes.
	Range uint64
	// Insns are the call frame instructions in hex, trailing DW_CFA_nop
	// padding trimmed; Aug is the augmentation data (LSDA pointer) in hex.
	Insns string
	Aug   string `json:",omitempty"`
	// CIE is its CIE's fields as text: version, augmentation, alignment
	// factors, return register, FDE encoding, personality (symbolized)
	// and initial instructions.
	CIE string
}

// Text renders the FDE on one line.
func (f *FDE) Text() string {
	s := fmt.Sprintf("fde %s range %#x insns [%s]", f.Func, f.Range, f.Insns)
	if f.Aug != "" {
		s += " aug [" + f.Aug + "]"
	}
	return s + " cie {" + f.CIE + "}"
}

// FrameHdr is what the .eh_frame_hdr check found: the table's entry count
// and the first problem (an entry that is not an FDE's, a table that is
// not sorted or misses an FDE), "" when the table is right.
type FrameHdr struct {
	Count int
	Err   string `json:",omitempty"`
}

// readFrames reads .eh_frame and .eh_frame_hdr of an ELF file.
func (r *reader) readFrames(im *Image) {
	if r.format != "elf" {
		return
	}
	var eh, hdr *section
	for _, s := range r.secs {
		switch s.name {
		case ehFrameName:
			eh = s
		case ehFrameHdrName:
			hdr = s
		}
	}
	if eh == nil && hdr == nil {
		return
	}
	fr := &Frames{}
	im.Frames = fr
	var pcs map[uint64]uint64 // FDE address -> initial location
	if eh != nil {
		pcs = r.readFDEs(eh, fr)
	}
	if hdr != nil {
		fr.Hdr = r.checkHdr(hdr, eh, pcs)
	}
	sort.Slice(fr.FDEs, func(i, j int) bool {
		a, b := &fr.FDEs[i], &fr.FDEs[j]
		if a.Func != b.Func {
			return a.Func < b.Func
		}
		return a.Text() < b.Text()
	})
}

// readFDEs decodes the records of eh into fr and returns the initial
// location of each FDE by its address.
func (r *reader) readFDEs(eh *section, fr *Frames) map[uint64]uint64 {
	pcs := map[uint64]uint64{}
	if eh.nobits {
		fr.Err = ".eh_frame has no contents"
		return pcs
	}
	d := eh.data
	recs, err := cfi.Split(d)
	if err != nil {
		fr.Err = err.Error()
	}
	type cieInfo struct {
		cie  *cfi.CIE
		text string
		err  error
	}
	cies := map[uint64]*cieInfo{}
	cieAt := func(off uint64) *cieInfo {
		if c, ok := cies[off]; ok {
			return c
		}
		c := &cieInfo{}
		cies[off] = c
		n := uint64(binary.LittleEndian.Uint32(d[off:])) + 4
		if n > uint64(len(d))-off {
			c.err = fmt.Errorf("CIE at offset %#x ends past the section", off)
			return c
		}
		c.cie, c.err = cfi.ParseCIE(d[off : off+n])
		if c.err == nil {
			c.text = r.cieText(c.cie, eh.addr+off, d[off:off+n])
		}
		return c
	}
	for _, rec := range recs {
		if rec.CIE {
			continue
		}
		if len(fr.FDEs) >= maxFrames {
			fr.Err = fmt.Sprintf("more than %d FDEs", maxFrames)
			break
		}
		back := uint64(rec.ID)
		if back > rec.Offset+4 {
			fr.Err = fmt.Sprintf("FDE at offset %#x: CIE pointer %#x points before the section", rec.Offset, rec.ID)
			continue
		}
		cieOff := rec.Offset + 4 - back
		if cieOff+8 > uint64(len(d)) || binary.LittleEndian.Uint32(d[cieOff+4:]) != 0 {
			fr.Err = fmt.Sprintf("FDE at offset %#x: CIE pointer %#x does not point at a CIE", rec.Offset, rec.ID)
			continue
		}
		c := cieAt(cieOff)
		if c.err != nil {
			fr.Err = fmt.Sprintf("FDE at offset %#x: %v", rec.Offset, c.err)
			continue
		}
		body := d[rec.Offset : rec.Offset+rec.Size]
		f, err := cfi.ParseFDE(body, c.cie)
		if err != nil {
			fr.Err = fmt.Sprintf("FDE at offset %#x: %v", rec.Offset, err)
			continue
		}
		pc, ok := r.encodedPointer(body[f.PCOffset:], c.cie.FDEEncoding, eh.addr+rec.Offset+f.PCOffset)
		if !ok {
			fr.Err = fmt.Sprintf("FDE at offset %#x: initial location in encoding %#x not read", rec.Offset, c.cie.FDEEncoding)
			continue
		}
		pcs[eh.addr+rec.Offset] = pc
		fde := FDE{Func: r.codeName(pc), Range: f.Range, Insns: hex.EncodeToString(trimNops(f.Instructions)), CIE: c.text}
		if len(f.Augmentation) > 0 {
			fde.Aug = r.lsdaText(f.Augmentation, c.cie, eh.addr+rec.Offset+f.RangeOffset+cfi.EncodedSize(c.cie.FDEEncoding))
		}
		fr.FDEs = append(fr.FDEs, fde)
	}
	return pcs
}

// trimNops drops the trailing DW_CFA_nop (0) bytes that pad a record.
func trimNops(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// encodedPointer reads a pointer of encoding enc at b (which sits at
// address at) and returns the address it designates: absolute, or
// relative to its own address (pcrel). Indirect pointers (0x80) are
// returned as the slot's address.
func (r *reader) encodedPointer(b []byte, enc uint8, at uint64) (uint64, bool) {
	v, _, err := cfi.ReadEncoded(b, enc&0x0f)
	if err != nil {
		return 0, false
	}
	switch enc & 0x70 {
	case cfi.PEAbsPtr:
		return v, true
	case cfi.PEPCRel:
		return v + at, true
	}
	return 0, false
}

// codeName names an address in code independently of layout: its symbol
// and offset, else its section and the offset in it.
func (r *reader) codeName(addr uint64) string {
	if name, off, ok := r.nameAt(addr); ok {
		return withOffset(name, off)
	}
	if s := r.sectionAt(addr); s != nil {
		return withOffset(s.name, int64(addr-s.addr))
	}
	return fmt.Sprintf("?%#x", addr)
}

// cieText renders a CIE's fields; the personality pointer (at address
// base + its offset) is symbolized.
func (r *reader) cieText(c *cfi.CIE, base uint64, rec []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d %q code %d data %d ra %d", c.Version, c.Augmentation, c.CodeAlign, c.DataAlign, c.ReturnReg)
	if strings.Contains(c.Augmentation, "R") {
		fmt.Fprintf(&b, " fde-enc %#x", c.FDEEncoding)
	}
	if strings.Contains(c.Augmentation, "L") {
		fmt.Fprintf(&b, " lsda-enc %#x", c.LSDAEncoding)
	}
	if c.HasPersonality {
		p := "?"
		if c.PersonalityOffset+c.PersonalitySize <= uint64(len(rec)) {
			if a, ok := r.encodedPointer(rec[c.PersonalityOffset:], c.PersonalityEncoding, base+c.PersonalityOffset); ok {
				p = r.codeName(a)
				if c.PersonalityEncoding&0x80 != 0 {
					p = "*" + p // indirect: the slot holding the personality's address
				}
			}
		}
		fmt.Fprintf(&b, " personality-enc %#x personality %s", c.PersonalityEncoding, p)
	}
	fmt.Fprintf(&b, " insns [%s]", hex.EncodeToString(trimNops(c.Instructions)))
	return b.String()
}

// lsdaText renders an FDE's augmentation data: the LSDA pointer
// symbolized when the CIE says there is one, else the bytes.
func (r *reader) lsdaText(aug []byte, c *cfi.CIE, at uint64) string {
	if c.LSDAEncoding != cfi.PEOmit {
		// The augmentation data starts after its ULEB128 length, one
		// byte for the lengths that occur.
		if a, ok := r.encodedPointer(aug, c.LSDAEncoding, at+1); ok {
			return "lsda " + r.codeName(a)
		}
	}
	return hex.EncodeToString(aug)
}

// checkHdr checks .eh_frame_hdr against the FDEs: the header's encodings,
// its pointer to .eh_frame, and a table that lists each FDE's initial
// location once, sorted, with the FDE's address.
func (r *reader) checkHdr(hdr, eh *section, pcs map[uint64]uint64) *FrameHdr {
	h := &FrameHdr{}
	if hdr.nobits || len(hdr.data) < 4 {
		h.Err = ".eh_frame_hdr is shorter than its 4-byte header"
		return h
	}
	d := hdr.data
	if d[0] != 1 {
		h.Err = fmt.Sprintf("version %d, want 1", d[0])
		return h
	}
	ptrEnc, cntEnc, tabEnc := d[1], d[2], d[3]
	off := uint64(4)
	ehPtr, ok := r.encodedPointer(d[off:], ptrEnc, hdr.addr+off)
	if !ok {
		h.Err = fmt.Sprintf("eh_frame_ptr encoding %#x not read", ptrEnc)
		return h
	}
	off += cfi.EncodedSize(ptrEnc)
	if eh == nil || ehPtr != eh.addr {
		h.Err = "eh_frame_ptr does not point at .eh_frame"
		return h
	}
	if cntEnc == cfi.PEOmit || tabEnc == cfi.PEOmit {
		h.Err = "no search table"
		return h
	}
	if tabEnc != cfi.PEDataRel|cfi.PESData4 {
		h.Err = fmt.Sprintf("table encoding %#x, want datarel|sdata4 (0x3b)", tabEnc)
		return h
	}
	cnt, n, err := cfi.ReadEncoded(d[min(off, uint64(len(d))):], cntEnc&0x0f)
	if err != nil || cntEnc&0x70 != 0 {
		h.Err = fmt.Sprintf("fde_count encoding %#x not read", cntEnc)
		return h
	}
	off += n
	if cnt > (uint64(len(d))-off)/8 {
		h.Err = fmt.Sprintf("fde_count %d: the table does not fit in the section", cnt)
		return h
	}
	h.Count = int(cnt)
	want := map[uint64]bool{}
	for _, pc := range pcs {
		want[pc] = true
	}
	le := binary.LittleEndian
	var prev uint64
	seen := map[uint64]bool{}
	for i := uint64(0); i < cnt; i++ {
		p := d[off+8*i:]
		pc := hdr.addr + uint64(int64(int32(le.Uint32(p))))
		fde := hdr.addr + uint64(int64(int32(le.Uint32(p[4:]))))
		if i > 0 && pc <= prev {
			h.Err = fmt.Sprintf("entry %d (%s) is not after entry %d (%s): the table is not sorted", i, r.codeName(pc), i-1, r.codeName(prev))
			return h
		}
		prev = pc
		got, ok := pcs[fde]
		if !ok {
			h.Err = fmt.Sprintf("entry %d (%s) does not point at an FDE", i, r.codeName(pc))
			return h
		}
		if got != pc {
			h.Err = fmt.Sprintf("entry %d says %s, its FDE %s", i, r.codeName(pc), r.codeName(got))
			return h
		}
		seen[pc] = true
	}
	var missing []uint64
	for pc := range want {
		if !seen[pc] {
			missing = append(missing, pc)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		h.Err = fmt.Sprintf("the FDE of %s is not in the table", r.codeName(missing[0]))
	}
	return h
}
