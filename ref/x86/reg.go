package x86

import (
	"strconv"
	"strings"
)

// Reg is a general-purpose register together with its width. The zero value,
// NoReg, means "no register" (for example a memory operand without a base).
type Reg uint8

// NoReg is the absent register.
const NoReg Reg = 0

// The 64-bit registers, in hardware-number order.
const (
	RAX Reg = iota + 1
	RCX
	RDX
	RBX
	RSP
	RBP
	RSI
	RDI
	R8
	R9
	R10
	R11
	R12
	R13
	R14
	R15
)

// The 32-bit registers, in hardware-number order.
const (
	EAX Reg = iota + 17
	ECX
	EDX
	EBX
	ESP
	EBP
	ESI
	EDI
	R8D
	R9D
	R10D
	R11D
	R12D
	R13D
	R14D
	R15D
)

// The 16-bit registers, in hardware-number order.
const (
	AX Reg = iota + 33
	CX
	DX
	BX
	SP
	BP
	SI
	DI
	R8W
	R9W
	R10W
	R11W
	R12W
	R13W
	R14W
	R15W
)

// The 8-bit low-byte registers, in hardware-number order. SPL, BPL, SIL and
// DIL share hardware numbers 4..7 with AH..BH and are only reachable with a
// REX prefix.
const (
	AL Reg = iota + 49
	CL
	DL
	BL
	SPL
	BPL
	SIL
	DIL
	R8B
	R9B
	R10B
	R11B
	R12B
	R13B
	R14B
	R15B
)

// The legacy high-byte registers. They cannot be encoded in an instruction
// that has a REX prefix.
const (
	AH Reg = iota + 65
	CH
	DH
	BH
)

// numRegs is one past the last valid Reg.
const numRegs = BH + 1

var regNames = [numRegs]string{
	"",
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
	"r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d",
	"ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
	"r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w",
	"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
	"r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b",
	"ah", "ch", "dh", "bh",
}

// Valid reports whether r is a register (not NoReg and not out of range).
func (r Reg) Valid() bool { return r != NoReg && r < numRegs }

// String returns the register's Intel-syntax name ("rax", "r8d", "spl").
func (r Reg) String() string {
	if r < numRegs && r != NoReg {
		return regNames[r]
	}
	if r == NoReg {
		return "noreg"
	}
	return "reg(" + strconv.Itoa(int(r)) + ")"
}

// Size returns the register's width in bytes (1, 2, 4 or 8), or 0 for an
// invalid register.
func (r Reg) Size() int {
	switch {
	case r >= RAX && r <= R15:
		return 8
	case r >= EAX && r <= R15D:
		return 4
	case r >= AX && r <= R15W:
		return 2
	case r >= AL && r <= BH:
		return 1
	}
	return 0
}

// Num returns the register's hardware number (0..15) as used in ModRM, SIB
// and REX bits. AH..BH are 4..7.
func (r Reg) Num() uint8 {
	switch {
	case r >= RAX && r <= R15B:
		return uint8(r-1) % 16
	case r >= AH && r <= BH:
		return uint8(r-AH) + 4
	}
	return 0
}

// IsHigh8 reports whether r is one of AH, CH, DH, BH.
func (r Reg) IsHigh8() bool { return r >= AH && r <= BH }

// needsREX reports whether naming r forces a REX prefix: SPL, BPL, SIL, DIL
// (which without REX would mean AH..BH) and every register numbered 8..15.
func (r Reg) needsREX() bool {
	return (r >= SPL && r <= DIL) || (r.Valid() && !r.IsHigh8() && r.Num() >= 8)
}

// regByName maps an Intel register name (lowercase) to its Reg.
func regByName(s string) (Reg, bool) {
	s = strings.ToLower(s)
	for i := Reg(1); i < numRegs; i++ {
		if regNames[i] == s {
			return i, true
		}
	}
	switch s { // llvm-mc also accepts these spellings
	case "r8l", "r9l", "r10l", "r11l", "r12l", "r13l", "r14l", "r15l":
		return regByName(s[:len(s)-1] + "b")
	}
	return NoReg, false
}
