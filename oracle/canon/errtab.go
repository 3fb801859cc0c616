package canon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// errTab decodes the error-name table: N+1 little-endian u32 offsets from
// the table's start, then NUL-terminated names; error k spans
// [off[k-1], off[k]-1) and off[0] = 4(N+1).
func (r *reader) errTab(s *Symbol) *ErrTab {
	bad := func(format string, args ...any) *ErrTab { return &ErrTab{Err: fmt.Sprintf(format, args...)} }
	if !r.isData(s) {
		return bad("%s is not a data symbol with contents (kind %s, section %s)", s.Name, s.Kind, s.Section)
	}
	return decodeErrTab(r.bytesAt(s.addr, s.ext), s.SizeInferred)
}

// decodeErrTab decodes a table's bytes. Zero bytes after the last name are
// allowed only when the table's size was inferred (alignment fill).
func decodeErrTab(b []byte, inferred bool) *ErrTab {
	bad := func(format string, args ...any) *ErrTab { return &ErrTab{Err: fmt.Sprintf(format, args...)} }
	if len(b) < 4 {
		return bad("table is %d bytes, shorter than its first offset", len(b))
	}
	off0 := binary.LittleEndian.Uint32(b)
	if off0 < 4 || off0%4 != 0 {
		return bad("first offset %d is not a positive multiple of 4", off0)
	}
	if uint64(off0) > uint64(len(b)) {
		return bad("first offset %d is past the table's end (%d bytes)", off0, len(b))
	}
	n := int(off0/4) - 1
	if n > maxErrNames {
		return bad("%d entries (limit %d)", n, maxErrNames)
	}
	names := make([]string, 0, n)
	prev := off0
	for k := 1; k <= n; k++ {
		off := binary.LittleEndian.Uint32(b[4*k:])
		if off <= prev || uint64(off) > uint64(len(b)) {
			return bad("offset %d of error %d is not in (%d, %d]", off, k, prev, len(b))
		}
		name := b[prev : off-1]
		if b[off-1] != 0 {
			return bad("name of error %d is not NUL-terminated at %d", k, off-1)
		}
		if i := bytes.IndexByte(name, 0); i >= 0 {
			return bad("name of error %d holds a NUL at %d", k, int(prev)+i)
		}
		names = append(names, string(name))
		prev = off
	}
	if rest := b[prev:]; len(rest) > 0 {
		if !inferred || strings.Trim(string(rest), "\x00") != "" {
			return bad("%d bytes after the last name", len(rest))
		}
	}
	return &ErrTab{Names: names}
}
