package obj

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// DetectExecutable names the format of an executable from its magic number: "elf",
// "macho" (64-bit, either byte order), "coff" (a PE image: "MZ" with a
// "PE\0\0" signature) or "wasm". Anything else is an error that says what
// the first bytes are.
func DetectExecutable(data []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return ELF, nil
	case bytes.HasPrefix(data, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(data, []byte{0xfe, 0xed, 0xfa, 0xcf}):
		return MachO, nil
	case bytes.HasPrefix(data, []byte{0xce, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(data, []byte{0xfe, 0xed, 0xfa, 0xce}):
		return "", errors.New("32-bit Mach-O is not supported (want x86_64 MH_EXECUTE)")
	case bytes.HasPrefix(data, []byte{0xca, 0xfe, 0xba, 0xbe}):
		return "", errors.New("universal (fat) Mach-O or Java class file is not supported")
	case bytes.HasPrefix(data, []byte("\x00asm")):
		return Wasm, nil
	case bytes.HasPrefix(data, []byte("MZ")):
		if len(data) >= 0x40 {
			off := uint64(binary.LittleEndian.Uint32(data[0x3c:]))
			if off+4 <= uint64(len(data)) && bytes.Equal(data[off:off+4], []byte("PE\x00\x00")) {
				return COFF, nil
			}
		}
		return "", errors.New("MZ executable without a PE signature (DOS program?)")
	case len(data) >= 2 && binary.LittleEndian.Uint16(data) == 0x8664:
		return "", errors.New("COFF object file (x86_64), not a linked PE image")
	}
	n := min(len(data), 8)
	if len(data) == 0 {
		return "", errors.New("empty file is not an executable")
	}
	return "", fmt.Errorf("unknown executable format (first bytes % x)", data[:n])
}
