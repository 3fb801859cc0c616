package x86

// This file holds the instruction forms: for every mnemonic, the operand
// shapes it accepts and how each is encoded. Forms are tried in order and
// the first that matches is used; the order reproduces llvm-mc's choices
// (short imm8 forms before accumulator forms before imm32 forms, the MR form
// for register-to-register ALU operations, "mov r32, imm" as B8+r, ...).

// class is what kind of operand a form's argument slot accepts.
type class uint8

const (
	cReg   class = iota + 1 // a register of the slot's size
	cRM                     // a register or memory operand of the slot's size
	cMem                    // memory of any size (lea)
	cAcc                    // the accumulator (al, ax, eax, rax) of the slot's size
	cCL                     // the register cl
	cOne                    // the immediate 1 (shift by one)
	cImm                    // an immediate of the slot's size, signed or unsigned
	cImmS                   // an immediate of the slot's size, sign-extended to the operation size
	cRel                    // a branch displacement of the slot's size
	cMoffs                  // an absolute memory operand [disp] of the slot's size, as a 64-bit address (movabs)
)

// slot is one operand slot of a form: its class and size in bytes.
type slot struct {
	c  class
	sz uint8
}

// encoding says where a form's operands go.
type encoding uint8

const (
	eZO encoding = iota // no operands in ModRM
	eM                  // ModRM.rm = the first register/memory slot, ModRM.reg = ext
	eRM                 // ModRM.reg = slot 0, ModRM.rm = slot 1
	eMR                 // ModRM.rm = slot 0, ModRM.reg = slot 1
	eO                  // register in the low three opcode bits (slot 0)
	eI                  // immediate or displacement only, register implicit
)

// form is one encodable shape of a mnemonic.
type form struct {
	args []slot
	opc  []byte // opcode bytes after any prefix and REX
	ext  int8   // ModRM.reg digit for eM forms
	enc  encoding
	osz  uint8 // operation size: 2 adds 0x66, 8 adds REX.W (unless d64)
	d64  bool  // 64-bit by default: no REX.W
}

func r(sz uint8) slot   { return slot{cReg, sz} }
func rm(sz uint8) slot  { return slot{cRM, sz} }
func acc(sz uint8) slot { return slot{cAcc, sz} }
func imm(sz uint8) slot { return slot{cImm, sz} }
func ims(sz uint8) slot { return slot{cImmS, sz} }

var (
	memAny = slot{cMem, 0}
	clReg  = slot{cCL, 1}
	one    = slot{cOne, 1}
	rel8   = slot{cRel, 1}
	rel32  = slot{cRel, 4}
)

// condCodes lists the condition codes in encoding order with every spelling
// llvm-mc accepts; the first spelling is the canonical one.
var condCodes = [16][]string{
	{"o"}, {"no"}, {"b", "c", "nae"}, {"ae", "nb", "nc"},
	{"e", "z"}, {"ne", "nz"}, {"be", "na"}, {"a", "nbe"},
	{"s"}, {"ns"}, {"p", "pe"}, {"np", "po"},
	{"l", "nge"}, {"ge", "nl"}, {"le", "ng"}, {"g", "nle"},
}

// wideSizes are the operation sizes of the non-byte forms.
var wideSizes = []uint8{2, 4, 8}

// immFor returns the immediate slot of a full-size immediate at operation
// size sz: imm16, imm32, or imm32 sign-extended for 64-bit operations.
func immFor(sz uint8) slot {
	switch sz {
	case 2:
		return imm(2)
	case 4:
		return imm(4)
	}
	return ims(4)
}

// buildForms returns the form table. It is built once per process and
// never modified afterwards.
func buildForms() map[string][]form {
	t := map[string][]form{}
	add := func(op string, fs ...form) { t[op] = append(t[op], fs...) }

	// add/or/adc/sbb/and/sub/xor/cmp share one layout, ModRM digit = index.
	for digit, op := range []string{"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"} {
		base := byte(digit * 8)
		ext := int8(digit)
		add(op,
			form{args: []slot{acc(1), imm(1)}, opc: []byte{base + 4}, enc: eI},
			form{args: []slot{rm(1), imm(1)}, opc: []byte{0x80}, ext: ext, enc: eM},
			form{args: []slot{rm(1), r(1)}, opc: []byte{base}, enc: eMR},
			form{args: []slot{r(1), rm(1)}, opc: []byte{base + 2}, enc: eRM},
		)
		for _, sz := range wideSizes {
			add(op,
				form{args: []slot{rm(sz), ims(1)}, opc: []byte{0x83}, ext: ext, enc: eM, osz: sz},
				form{args: []slot{acc(sz), immFor(sz)}, opc: []byte{base + 5}, enc: eI, osz: sz},
				form{args: []slot{rm(sz), immFor(sz)}, opc: []byte{0x81}, ext: ext, enc: eM, osz: sz},
				form{args: []slot{rm(sz), r(sz)}, opc: []byte{base + 1}, enc: eMR, osz: sz},
				form{args: []slot{r(sz), rm(sz)}, opc: []byte{base + 3}, enc: eRM, osz: sz},
			)
		}
	}

	add("test",
		form{args: []slot{acc(1), imm(1)}, opc: []byte{0xa8}, enc: eI},
		form{args: []slot{rm(1), imm(1)}, opc: []byte{0xf6}, ext: 0, enc: eM},
		form{args: []slot{rm(1), r(1)}, opc: []byte{0x84}, enc: eMR},
	)
	for _, sz := range wideSizes {
		add("test",
			form{args: []slot{acc(sz), immFor(sz)}, opc: []byte{0xa9}, enc: eI, osz: sz},
			form{args: []slot{rm(sz), immFor(sz)}, opc: []byte{0xf7}, ext: 0, enc: eM, osz: sz},
			form{args: []slot{rm(sz), r(sz)}, opc: []byte{0x85}, enc: eMR, osz: sz},
		)
	}

	add("mov",
		form{args: []slot{rm(1), r(1)}, opc: []byte{0x88}, enc: eMR},
		form{args: []slot{r(1), rm(1)}, opc: []byte{0x8a}, enc: eRM},
		form{args: []slot{r(1), imm(1)}, opc: []byte{0xb0}, enc: eO},
		form{args: []slot{rm(1), imm(1)}, opc: []byte{0xc6}, ext: 0, enc: eM},
	)
	for _, sz := range wideSizes {
		add("mov",
			form{args: []slot{rm(sz), r(sz)}, opc: []byte{0x89}, enc: eMR, osz: sz},
			form{args: []slot{r(sz), rm(sz)}, opc: []byte{0x8b}, enc: eRM, osz: sz},
		)
		if sz == 8 {
			// llvm-mc: C7 /0 when the value fits a sign-extended imm32,
			// otherwise REX.W B8+r imm64 (movabs).
			add("mov",
				form{args: []slot{rm(8), ims(4)}, opc: []byte{0xc7}, ext: 0, enc: eM, osz: 8},
				form{args: []slot{r(8), imm(8)}, opc: []byte{0xb8}, enc: eO, osz: 8},
			)
			continue
		}
		add("mov",
			form{args: []slot{r(sz), immFor(sz)}, opc: []byte{0xb8}, enc: eO, osz: sz},
			form{args: []slot{rm(sz), immFor(sz)}, opc: []byte{0xc7}, ext: 0, enc: eM, osz: sz},
		)
	}
	add("movabs", form{args: []slot{r(8), imm(8)}, opc: []byte{0xb8}, enc: eO, osz: 8})
	// movabs between the accumulator and a 64-bit absolute address
	// (moffs): A0/A1 load, A2/A3 store.
	add("movabs",
		form{args: []slot{acc(1), {cMoffs, 1}}, opc: []byte{0xa0}, enc: eI},
		form{args: []slot{{cMoffs, 1}, acc(1)}, opc: []byte{0xa2}, enc: eI},
	)
	for _, sz := range wideSizes {
		add("movabs",
			form{args: []slot{acc(sz), {cMoffs, sz}}, opc: []byte{0xa1}, enc: eI, osz: sz},
			form{args: []slot{{cMoffs, sz}, acc(sz)}, opc: []byte{0xa3}, enc: eI, osz: sz},
		)
	}

	for _, sz := range wideSizes {
		add("lea", form{args: []slot{r(sz), memAny}, opc: []byte{0x8d}, enc: eRM, osz: sz})
		add("imul",
			form{args: []slot{r(sz), rm(sz)}, opc: []byte{0x0f, 0xaf}, enc: eRM, osz: sz},
			form{args: []slot{r(sz), rm(sz), ims(1)}, opc: []byte{0x6b}, enc: eRM, osz: sz},
			form{args: []slot{r(sz), rm(sz), immFor(sz)}, opc: []byte{0x69}, enc: eRM, osz: sz},
		)
	}

	// Unary group 3: F6 (byte) / F7 with a ModRM digit.
	for _, u := range []struct {
		op  string
		ext int8
	}{{"not", 2}, {"neg", 3}, {"mul", 4}, {"imul", 5}, {"div", 6}, {"idiv", 7}} {
		add(u.op, form{args: []slot{rm(1)}, opc: []byte{0xf6}, ext: u.ext, enc: eM})
		for _, sz := range wideSizes {
			add(u.op, form{args: []slot{rm(sz)}, opc: []byte{0xf7}, ext: u.ext, enc: eM, osz: sz})
		}
	}

	// Shift group 2.
	for _, s := range []struct {
		op  string
		ext int8
	}{{"shl", 4}, {"shr", 5}, {"sar", 7}} {
		add(s.op,
			form{args: []slot{rm(1), one}, opc: []byte{0xd0}, ext: s.ext, enc: eM},
			form{args: []slot{rm(1), clReg}, opc: []byte{0xd2}, ext: s.ext, enc: eM},
			form{args: []slot{rm(1), imm(1)}, opc: []byte{0xc0}, ext: s.ext, enc: eM},
		)
		for _, sz := range wideSizes {
			add(s.op,
				form{args: []slot{rm(sz), one}, opc: []byte{0xd1}, ext: s.ext, enc: eM, osz: sz},
				form{args: []slot{rm(sz), clReg}, opc: []byte{0xd3}, ext: s.ext, enc: eM, osz: sz},
				form{args: []slot{rm(sz), imm(1)}, opc: []byte{0xc1}, ext: s.ext, enc: eM, osz: sz},
			)
		}
	}

	add("push",
		form{args: []slot{r(8)}, opc: []byte{0x50}, enc: eO, osz: 8, d64: true},
		form{args: []slot{rm(8)}, opc: []byte{0xff}, ext: 6, enc: eM, osz: 8, d64: true},
		form{args: []slot{ims(1)}, opc: []byte{0x6a}, enc: eI, osz: 8, d64: true},
		form{args: []slot{ims(4)}, opc: []byte{0x68}, enc: eI, osz: 8, d64: true},
		form{args: []slot{r(2)}, opc: []byte{0x50}, enc: eO, osz: 2},
		form{args: []slot{rm(2)}, opc: []byte{0xff}, ext: 6, enc: eM, osz: 2},
	)
	add("pop",
		form{args: []slot{r(8)}, opc: []byte{0x58}, enc: eO, osz: 8, d64: true},
		form{args: []slot{rm(8)}, opc: []byte{0x8f}, ext: 0, enc: eM, osz: 8, d64: true},
		form{args: []slot{r(2)}, opc: []byte{0x58}, enc: eO, osz: 2},
		form{args: []slot{rm(2)}, opc: []byte{0x8f}, ext: 0, enc: eM, osz: 2},
	)
	add("call",
		form{args: []slot{rel32}, opc: []byte{0xe8}, enc: eI},
		form{args: []slot{rm(8)}, opc: []byte{0xff}, ext: 2, enc: eM, osz: 8, d64: true},
	)
	add("jmp",
		form{args: []slot{rel8}, opc: []byte{0xeb}, enc: eI},
		form{args: []slot{rel32}, opc: []byte{0xe9}, enc: eI},
		form{args: []slot{rm(8)}, opc: []byte{0xff}, ext: 4, enc: eM, osz: 8, d64: true},
	)

	for _, sz := range []uint8{2, 4, 8} {
		add("movzx", form{args: []slot{r(sz), rm(1)}, opc: []byte{0x0f, 0xb6}, enc: eRM, osz: sz})
		add("movsx", form{args: []slot{r(sz), rm(1)}, opc: []byte{0x0f, 0xbe}, enc: eRM, osz: sz})
		if sz > 2 {
			add("movzx", form{args: []slot{r(sz), rm(2)}, opc: []byte{0x0f, 0xb7}, enc: eRM, osz: sz})
			add("movsx", form{args: []slot{r(sz), rm(2)}, opc: []byte{0x0f, 0xbf}, enc: eRM, osz: sz})
		}
	}
	add("movsxd", form{args: []slot{r(8), rm(4)}, opc: []byte{0x63}, enc: eRM, osz: 8})

	for cc, names := range condCodes {
		c := byte(cc)
		for _, n := range names {
			add("j"+n,
				form{args: []slot{rel8}, opc: []byte{0x70 + c}, enc: eI},
				form{args: []slot{rel32}, opc: []byte{0x0f, 0x80 + c}, enc: eI},
			)
			add("set"+n, form{args: []slot{rm(1)}, opc: []byte{0x0f, 0x90 + c}, ext: 0, enc: eM})
			for _, sz := range wideSizes {
				add("cmov"+n, form{args: []slot{r(sz), rm(sz)}, opc: []byte{0x0f, 0x40 + c}, enc: eRM, osz: sz})
			}
		}
	}

	add("nop",
		form{opc: []byte{0x90}, enc: eZO},
		form{args: []slot{rm(2)}, opc: []byte{0x0f, 0x1f}, ext: 0, enc: eM, osz: 2},
		form{args: []slot{rm(4)}, opc: []byte{0x0f, 0x1f}, ext: 0, enc: eM, osz: 4},
	)
	add("ret",
		form{opc: []byte{0xc3}, enc: eZO},
		form{args: []slot{imm(2)}, opc: []byte{0xc2}, enc: eI}, // ret imm16: pop that many bytes more
	)
	add("int3", form{opc: []byte{0xcc}, enc: eZO})
	add("ud2", form{opc: []byte{0x0f, 0x0b}, enc: eZO})
	add("syscall", form{opc: []byte{0x0f, 0x05}, enc: eZO})
	add("hlt", form{opc: []byte{0xf4}, enc: eZO})
	// Sign extensions of the accumulator into rdx:rax, which idiv needs.
	add("cwd", form{opc: []byte{0x99}, enc: eZO, osz: 2})
	add("cdq", form{opc: []byte{0x99}, enc: eZO, osz: 4})
	add("cqo", form{opc: []byte{0x99}, enc: eZO, osz: 8})
	return t
}
