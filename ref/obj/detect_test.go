package obj

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDetectExecutable(t *testing.T) {
	pe := make([]byte, 0x84)
	copy(pe, "MZ")
	pe[0x3c] = 0x80
	copy(pe[0x80:], "PE\x00\x00")
	tests := []struct {
		name string
		data []byte
		want Format
		err  string
	}{
		{"elf", []byte("\x7fELF\x02\x01"), ELF, ""},
		{"macho", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, MachO, ""},
		{"pe", pe, COFF, ""},
		{"wasm", []byte("\x00asm\x01\x00\x00\x00"), Wasm, ""},
		{"dos", []byte("MZ\x90\x00"), "", "without a PE signature"},
		{"coff object", []byte{0x64, 0x86, 1, 0}, "", "COFF object file"},
		{"macho32", []byte{0xce, 0xfa, 0xed, 0xfe}, "", "32-bit Mach-O"},
		{"fat", []byte{0xca, 0xfe, 0xba, 0xbe}, "", "universal"},
		{"empty", nil, "", "empty file"},
		{"text", []byte("#!/bin/sh\n"), "", "unknown executable format (first bytes 23 21 2f 62 69 6e 2f 73)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectExecutable(tc.data)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
