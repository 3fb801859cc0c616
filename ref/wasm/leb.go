package wasm

import "errors"

// AppendULEB appends v as an unsigned LEB128 of the fewest bytes.
func AppendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// AppendSLEB appends v as a signed LEB128 of the fewest bytes.
func AppendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// AppendPaddedULEB appends v as a 5-byte unsigned LEB128, the width of
// every relocated 32-bit LEB field.
func AppendPaddedULEB(b []byte, v uint32) []byte {
	for i := 0; i < 4; i++ {
		b = append(b, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(b, byte(v&0x7f))
}

// AppendPaddedSLEB appends v as a 5-byte signed LEB128.
func AppendPaddedSLEB(b []byte, v int32) []byte {
	x := int64(v)
	for i := 0; i < 4; i++ {
		b = append(b, byte(x&0x7f)|0x80)
		x >>= 7
	}
	return append(b, byte(x&0x7f))
}

// PutPaddedULEB writes v as a 5-byte unsigned LEB128 into b[0:5].
func PutPaddedULEB(b []byte, v uint32) {
	AppendPaddedULEB(b[:0], v)
}

// PutPaddedSLEB writes v as a 5-byte signed LEB128 into b[0:5].
func PutPaddedSLEB(b []byte, v int32) {
	AppendPaddedSLEB(b[:0], v)
}

var (
	errLEBTruncated = errors.New("truncated LEB128")
	errLEBTooLong   = errors.New("LEB128 too long")
	errLEBOverflow  = errors.New("LEB128 overflows")
)

// readULEB decodes an unsigned LEB128 of at most bits bits from b; it
// returns the value and the number of bytes read.
func readULEB(b []byte, bits uint) (uint64, int, error) {
	var v uint64
	maxLen := int((bits + 6) / 7)
	for i := 0; i < maxLen; i++ {
		if i >= len(b) {
			return 0, 0, errLEBTruncated
		}
		c := b[i]
		shift := uint(7 * i)
		if i == maxLen-1 {
			// The last byte may only hold the remaining bits.
			rem := bits - shift
			if c&0x80 != 0 {
				return 0, 0, errLEBTooLong
			}
			if rem < 7 && c>>rem != 0 {
				return 0, 0, errLEBOverflow
			}
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errLEBTooLong
}

// readSLEB decodes a signed LEB128 of at most bits bits.
func readSLEB(b []byte, bits uint) (int64, int, error) {
	var v int64
	maxLen := int((bits + 6) / 7)
	for i := 0; i < maxLen; i++ {
		if i >= len(b) {
			return 0, 0, errLEBTruncated
		}
		c := b[i]
		shift := uint(7 * i)
		if i == maxLen-1 {
			if c&0x80 != 0 {
				return 0, 0, errLEBTooLong
			}
			rem := bits - shift // bits left for this byte, sign included
			if rem < 7 {
				// The unused high bits must all equal the sign bit.
				hi := int8(c<<1) >> (rem) // sign-extend bits 6..rem-1
				if hi != 0 && hi != -1 {
					return 0, 0, errLEBOverflow
				}
			}
		}
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			shift += 7
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, errLEBTooLong
}

// isPaddedLEB reports whether b starts with an n-byte LEB128: n-1 bytes
// with the continuation bit and a last one without.
func isPaddedLEB(b []byte, n int) bool {
	if len(b) < n {
		return false
	}
	for i := 0; i < n-1; i++ {
		if b[i]&0x80 == 0 {
			return false
		}
	}
	return b[n-1]&0x80 == 0
}

// ReadULEB decodes an unsigned LEB128 (up to 64 bits) from b and returns
// the value and the number of bytes read.
func ReadULEB(b []byte) (uint64, int, error) { return readULEB(b, 64) }

// ReadSLEB decodes a signed LEB128 (up to 64 bits) from b and returns the
// value and the number of bytes read.
func ReadSLEB(b []byte) (int64, int, error) { return readSLEB(b, 64) }
