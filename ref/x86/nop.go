package x86

import "fmt"

// nops holds the single-instruction nops of 1..15 bytes that llvm-mc 16
// emits for ".nops N" on a generic x86_64 target: 90, 66 90, the 0F 1F /0
// forms for 3..9 bytes, and for 10..15 bytes "nopw cs:[rax+rax]" with
// 0x66 prefixes added in front.
var nops = [16][]byte{
	1:  {0x90},
	2:  {0x66, 0x90},
	3:  {0x0f, 0x1f, 0x00},
	4:  {0x0f, 0x1f, 0x40, 0x00},
	5:  {0x0f, 0x1f, 0x44, 0x00, 0x00},
	6:  {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
	7:  {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
	8:  {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	9:  {0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	10: {0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
}

// Nop returns the recommended nop of exactly n bytes (1..15). Every length
// is a single instruction, byte-for-byte what llvm-mc 16 emits for
// ".nops n": lengths 11..15 are the 10-byte form with extra 0x66 prefixes.
func Nop(n int) ([]byte, error) {
	if n < 1 || n > 15 {
		return nil, fmt.Errorf("x86: nop of %d bytes: length must be 1..15: %w", n, ErrInvalid)
	}
	if n <= 10 {
		return append([]byte(nil), nops[n]...), nil
	}
	b := make([]byte, 0, n)
	for i := 10; i < n; i++ {
		b = append(b, 0x66)
	}
	return append(b, nops[10]...), nil
}
