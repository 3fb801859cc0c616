// Package cfi reads DWARF call frame information as it appears in ELF
// .eh_frame sections (the LSB's "Exception Frames"): the split of a
// section into CIE and FDE records, a CIE's fields and augmentation, and
// pointers in their DW_EH_PE encodings. The reference linker (ref/link)
// uses it to merge input .eh_frame sections and canon (oracle/canon) to
// read an executable's .eh_frame and .eh_frame_hdr.
//
// Every reader is bounded by its input: no input makes it panic, and
// errors say what is wrong and where (the offset in the section).
package cfi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Pointer encodings (DW_EH_PE_*): the low nibble is the format, the next
// three bits the base.
const (
	PEAbsPtr  = 0x00
	PEULEB128 = 0x01
	PEUData2  = 0x02
	PEUData4  = 0x03
	PEUData8  = 0x04
	PESLEB128 = 0x09
	PESData2  = 0x0a
	PESData4  = 0x0b
	PESData8  = 0x0c
	PEPCRel   = 0x10
	PEDataRel = 0x30
	PEOmit    = 0xff
)

// Record is one CIE or FDE: Size bytes (the length field included) at
// Offset in its section.
type Record struct {
	Offset uint64
	Size   uint64
	// CIE is set for a CIE (its ID field is 0).
	CIE bool
	// ID is the second word: 0 for a CIE, for an FDE the distance from
	// that word back to its CIE.
	ID uint32
}

// Split splits an .eh_frame section into its records, as ld.lld 16 does:
// a zero length field ends the section (what follows is ignored), and a
// record that does not fit, or the 64-bit length escape 0xffffffff, is an
// error.
func Split(d []byte) ([]Record, error) {
	var recs []Record
	le := binary.LittleEndian
	for off := uint64(0); off < uint64(len(d)); {
		rest := uint64(len(d)) - off
		if rest < 4 {
			return recs, fmt.Errorf("corrupted .eh_frame: CIE/FDE too small at offset %#x", off)
		}
		n := uint64(le.Uint32(d[off:]))
		if n == 0 {
			break // the zero terminator
		}
		if n == 0xffffffff {
			return recs, fmt.Errorf("corrupted .eh_frame: CIE/FDE too large (64-bit DWARF) at offset %#x", off)
		}
		size := n + 4
		if size > rest {
			return recs, fmt.Errorf("corrupted .eh_frame: CIE/FDE ends past the end of the section at offset %#x", off)
		}
		// ld.lld reads the ID word even of a record shorter than 8
		// bytes; the bytes past the section are taken as zeros here.
		var idb [4]byte
		copy(idb[:], d[off+4:])
		id := le.Uint32(idb[:])
		recs = append(recs, Record{Offset: off, Size: size, CIE: id == 0, ID: id})
		off += size
	}
	return recs, nil
}

// CIE is the decoded header of a CIE record.
type CIE struct {
	Version      uint8
	Augmentation string
	CodeAlign    uint64
	DataAlign    int64
	ReturnReg    uint64
	// FDEEncoding is the encoding of its FDEs' addresses ('R'; PEAbsPtr
	// without one), LSDAEncoding that of their LSDA pointers ('L';
	// PEOmit without one).
	FDEEncoding  uint8
	LSDAEncoding uint8
	// HasPersonality is set with 'P': PersonalityEncoding, and the
	// personality pointer's offset in the record (PersonalityOffset) and
	// size.
	HasPersonality      bool
	PersonalityEncoding uint8
	PersonalityOffset   uint64
	PersonalitySize     uint64
	// SignalFrame is set with 'S'.
	SignalFrame bool
	// Instructions are the initial instructions (padding included).
	Instructions []byte
}

var errShort = errors.New("truncated")

type cursor struct {
	b   []byte
	off uint64
	err error
}

func (c *cursor) u8() uint8 {
	if c.err != nil || c.off >= uint64(len(c.b)) {
		c.err = errShort
		return 0
	}
	v := c.b[c.off]
	c.off++
	return v
}

func (c *cursor) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		b := c.u8()
		if c.err != nil {
			return 0
		}
		if shift < 64 {
			v |= uint64(b&0x7f) << shift
		}
		if b&0x80 == 0 {
			return v
		}
	}
}

func (c *cursor) sleb() int64 {
	var v int64
	shift := uint(0)
	var b uint8
	for {
		b = c.u8()
		if c.err != nil {
			return 0
		}
		if shift < 64 {
			v |= int64(b&0x7f) << shift
		}
		shift += 7
		if b&0x80 == 0 {
			break
		}
	}
	if shift < 64 && b&0x40 != 0 {
		v |= -1 << shift
	}
	return v
}

func (c *cursor) cstring() string {
	start := c.off
	for c.err == nil {
		if c.u8() == 0 {
			return string(c.b[start : c.off-1])
		}
	}
	return ""
}

// EncodedSize returns the size in bytes of a pointer in encoding enc, or 0
// for the variable-length LEB128 formats and unknown ones.
func EncodedSize(enc uint8) uint64 {
	switch enc & 0x0f {
	case PEAbsPtr, PEUData8, PESData8:
		return 8
	case PEUData2, PESData2:
		return 2
	case PEUData4, PESData4:
		return 4
	}
	return 0
}

// ReadEncoded reads a fixed-size pointer of encoding enc at b[0:] and
// returns its value before the base is applied (sign-extended for the
// signed formats) and its size.
func ReadEncoded(b []byte, enc uint8) (uint64, uint64, error) {
	n := EncodedSize(enc)
	if n == 0 {
		return 0, 0, fmt.Errorf("pointer encoding %#x is not supported", enc)
	}
	if uint64(len(b)) < n {
		return 0, 0, errShort
	}
	le := binary.LittleEndian
	switch enc & 0x0f {
	case PEUData2:
		return uint64(le.Uint16(b)), 2, nil
	case PESData2:
		return uint64(int64(int16(le.Uint16(b)))), 2, nil
	case PEUData4:
		return uint64(le.Uint32(b)), 4, nil
	case PESData4:
		return uint64(int64(int32(le.Uint32(b)))), 4, nil
	}
	return le.Uint64(b), 8, nil
}

// ParseCIE decodes the CIE record rec (its bytes, the length field
// included).
func ParseCIE(rec []byte) (*CIE, error) {
	if len(rec) < 9 {
		return nil, errors.New("CIE too small")
	}
	c := &cursor{b: rec, off: 8}
	cie := &CIE{FDEEncoding: PEAbsPtr, LSDAEncoding: PEOmit}
	cie.Version = c.u8()
	if c.err == nil && cie.Version != 1 && cie.Version != 3 {
		return nil, fmt.Errorf("CIE version %d is not 1 or 3", cie.Version)
	}
	cie.Augmentation = c.cstring()
	if c.err == nil && len(cie.Augmentation) > 0 && cie.Augmentation[0] == 'e' {
		return nil, fmt.Errorf("CIE augmentation %q is not supported", cie.Augmentation)
	}
	cie.CodeAlign = c.uleb()
	cie.DataAlign = c.sleb()
	if cie.Version == 1 {
		cie.ReturnReg = uint64(c.u8())
	} else {
		cie.ReturnReg = c.uleb()
	}
	if c.err != nil {
		return nil, fmt.Errorf("CIE header: %w", c.err)
	}
	aug := cie.Augmentation
	augEnd := uint64(len(rec))
	for _, ch := range aug {
		switch ch {
		case 'z':
			augLen := c.uleb()
			if c.err != nil {
				return nil, fmt.Errorf("CIE augmentation length: %w", c.err)
			}
			augEnd = c.off + augLen
			if augEnd < c.off || augEnd > uint64(len(rec)) {
				return nil, errors.New("CIE augmentation data past the end of the record")
			}
		case 'R':
			cie.FDEEncoding = c.u8()
		case 'L':
			cie.LSDAEncoding = c.u8()
		case 'P':
			cie.HasPersonality = true
			cie.PersonalityEncoding = c.u8()
			n := EncodedSize(cie.PersonalityEncoding)
			if n == 0 {
				if cie.PersonalityEncoding&0x0f != PEULEB128 {
					return nil, fmt.Errorf("CIE personality encoding %#x is not supported", cie.PersonalityEncoding)
				}
				start := c.off
				c.uleb()
				n = c.off - start
				c.off = start
			}
			cie.PersonalityOffset, cie.PersonalitySize = c.off, n
			c.off += n
		case 'S':
			cie.SignalFrame = true
		case 'B', 'G':
		default:
			return nil, fmt.Errorf("CIE augmentation %q: unknown character %q", aug, ch)
		}
		if c.err != nil || c.off > augEnd {
			return nil, errors.New("CIE augmentation data past its length")
		}
	}
	if len(aug) > 0 && aug[0] == 'z' {
		c.off = augEnd
	}
	if c.off > uint64(len(rec)) {
		return nil, errors.New("CIE augmentation data past the end of the record")
	}
	cie.Instructions = rec[c.off:]
	return cie, nil
}

// FDE is the decoded part of an FDE record that does not depend on where
// it is: the address fields' offsets and the instructions.
type FDE struct {
	// PCOffset is the offset in the record of the initial location, a
	// pointer of the CIE's FDE encoding; RangeOffset that of the address
	// range (same format, no base).
	PCOffset, RangeOffset uint64
	// Range is the address range's value.
	Range uint64
	// Augmentation is the augmentation data (with 'z'), LSDA pointer
	// included; Instructions the call frame instructions (padding
	// included).
	Augmentation []byte
	Instructions []byte
}

// ParseFDE decodes the FDE record rec (length field included) whose CIE is
// cie.
func ParseFDE(rec []byte, cie *CIE) (*FDE, error) {
	n := EncodedSize(cie.FDEEncoding)
	if n == 0 {
		return nil, fmt.Errorf("FDE address encoding %#x is not supported", cie.FDEEncoding)
	}
	f := &FDE{PCOffset: 8, RangeOffset: 8 + n}
	if uint64(len(rec)) < 8+2*n {
		return nil, errors.New("FDE too small for its addresses")
	}
	r, _, err := ReadEncoded(rec[8+n:], cie.FDEEncoding&0x0f)
	if err != nil {
		return nil, err
	}
	f.Range = r
	c := &cursor{b: rec, off: 8 + 2*n}
	if len(cie.Augmentation) > 0 && cie.Augmentation[0] == 'z' {
		l := c.uleb()
		end := c.off + l
		if c.err != nil || end < c.off || end > uint64(len(rec)) {
			return nil, errors.New("FDE augmentation data past the end of the record")
		}
		f.Augmentation = rec[c.off:end]
		c.off = end
	}
	f.Instructions = rec[c.off:]
	return f, nil
}

// FDEEncoding returns the encoding of the FDE addresses of the CIE record
// rec (length field included) exactly as ld.lld 16 finds it for
// .eh_frame_hdr (EhReader::getFdeEncoding): the augmentation string is
// walked until 'R', skipping what the characters before it announce, and
// PEAbsPtr is the answer without one. Errors are ld.lld's words.
func FDEEncoding(rec []byte) (uint8, error) {
	if len(rec) <= 8 {
		return 0, errors.New("CIE is too small")
	}
	c := &cursor{b: rec, off: 8}
	version := c.u8()
	if version != 1 && version != 3 {
		return 0, fmt.Errorf("FDE version 1 or 3 expected, but got %d", version)
	}
	aug := c.cstring()
	if c.err != nil {
		return 0, errors.New("corrupted CIE (failed to read string)")
	}
	for range 2 {
		if c.uleb(); c.err != nil {
			return 0, errors.New("corrupted CIE (failed to read LEB128)")
		}
	}
	if version == 1 {
		c.u8()
	} else {
		c.uleb()
	}
	if c.err != nil {
		return 0, errors.New("corrupted CIE")
	}
	for i := 0; i < len(aug); i++ {
		switch aug[i] {
		case 'R':
			v := c.u8()
			if c.err != nil {
				return 0, errors.New("unexpected end of CIE")
			}
			return v, nil
		case 'z':
			if c.uleb(); c.err != nil {
				return 0, errors.New("corrupted CIE (failed to read LEB128)")
			}
		case 'L':
			if c.u8(); c.err != nil {
				return 0, errors.New("unexpected end of CIE")
			}
		case 'P':
			enc := c.u8()
			if c.err != nil {
				return 0, errors.New("unexpected end of CIE")
			}
			if enc&0xf0 == 0x50 {
				return 0, errors.New("DW_EH_PE_aligned encoding is not supported")
			}
			n := EncodedSize(enc)
			if n == 0 {
				return 0, errors.New("unknown FDE encoding")
			}
			if c.off+n > uint64(len(c.b)) {
				return 0, errors.New("unexpected end of CIE")
			}
			c.off += n
		case 'B', 'S', 'G':
		default:
			return 0, fmt.Errorf("unknown .eh_frame augmentation string: %s", aug[i:])
		}
	}
	return PEAbsPtr, nil
}
