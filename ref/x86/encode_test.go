package x86_test

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/x86"
	"github.com/linkcheck/linkcheck/ref/x86/judge"
	"github.com/stretchr/testify/require"
)

func TestEncodeKnown(t *testing.T) {
	tests := []struct {
		in        x86.Inst
		hex       string
		disp, imm x86.Field
	}{
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{RIP: true}}}, "48 8b 05 00 00 00 00", x86.Field{Off: 3, Size: 4}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RBP}}}, "48 8b 45 00", x86.Field{Off: 3, Size: 1}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.R13}}}, "49 8b 45 00", x86.Field{Off: 3, Size: 1}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RSP}}}, "48 8b 04 24", x86.Field{}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.R12, Disp: 8}}}, "49 8b 44 24 08", x86.Field{Off: 4, Size: 1}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.EAX, x86.Mem{Disp: 16}}}, "8b 04 25 10 00 00 00", x86.Field{Off: 3, Size: 4}, x86.Field{}},
		{x86.Inst{Op: "lea", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RSP, Index: x86.RBX, Scale: 4, Disp: -8}}}, "48 8d 44 9c f8", x86.Field{Off: 4, Size: 1}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RBX, Disp: 0x1000}}}, "48 8b 83 00 10 00 00", x86.Field{Off: 3, Size: 4}, x86.Field{}},
		{x86.Inst{Op: "movabs", Args: []x86.Operand{x86.R11, x86.Imm(0x1122334455667788)}}, "49 bb 88 77 66 55 44 33 22 11", x86.Field{}, x86.Field{Off: 2, Size: 8}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.Mem{RIP: true, Disp: -4, Size: 8}, x86.Imm(1)}}, "48 c7 05 fc ff ff ff 01 00 00 00", x86.Field{Off: 3, Size: 4}, x86.Field{Off: 7, Size: 4}},
		{x86.Inst{Op: "call", Args: []x86.Operand{x86.Rel{Size: 4}}}, "e8 00 00 00 00", x86.Field{Off: 1, Size: 4}, x86.Field{}},
		{x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Rel{Disp: -2, Size: 1}}}, "eb fe", x86.Field{Off: 1, Size: 1}, x86.Field{}},
		{x86.Inst{Op: "jne", Args: []x86.Operand{x86.Rel{Disp: 0x100, Size: 4}}}, "0f 85 00 01 00 00", x86.Field{Off: 2, Size: 4}, x86.Field{}},
		{x86.Inst{Op: "add", Args: []x86.Operand{x86.EAX, x86.EDX}}, "01 d0", x86.Field{}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.SIL, x86.DL}}, "40 88 d6", x86.Field{}, x86.Field{}},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.AH, x86.DL}}, "88 d4", x86.Field{}, x86.Field{}},
		{x86.Inst{Op: "imul", Args: []x86.Operand{x86.R10W, x86.R11W, x86.Imm(-2)}}, "66 45 6b d3 fe", x86.Field{}, x86.Field{Off: 4, Size: 1}},
		{x86.Inst{Op: "push", Args: []x86.Operand{x86.R12}}, "41 54", x86.Field{}, x86.Field{}},
		{x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Mem{Base: x86.R11, Index: x86.RAX, Scale: 8}}}, "41 ff 24 c3", x86.Field{}, x86.Field{}},
		{x86.Inst{Op: "syscall"}, "0f 05", x86.Field{}, x86.Field{}},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			e, err := x86.Encode(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.hex, fmt.Sprintf("% x", e.Bytes))
			require.Equal(t, tt.disp, e.Disp, "disp field")
			require.Equal(t, tt.imm, e.Imm, "imm field")
			require.NoError(t, judge.Decode(tt.in, e.Bytes))
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		in   x86.Inst
		want string
	}{
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.AH, x86.R8B}}, "cannot encode ah"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.BH, x86.SIL}}, "cannot encode bh"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.CH, x86.Mem{Base: x86.R9}}}, "cannot encode ch"},
		{x86.Inst{Op: "movzx", Args: []x86.Operand{x86.RAX, x86.DH}}, "cannot encode dh"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RAX, Index: x86.RSP}}}, "rsp cannot be an index"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.EAX}}}, "not a 64-bit register"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RAX, Index: x86.RBX, Scale: 3}}}, "scale 3"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RAX, Scale: 4}}}, "without an index"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{RIP: true, Base: x86.RAX}}}, "rip-relative"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.Mem{Base: x86.RAX}, x86.Imm(1)}}, "ambiguous memory operand size"},
		{x86.Inst{Op: "add", Args: []x86.Operand{x86.Mem{Base: x86.RAX}, x86.Imm(0xffffffff)}}, "ambiguous memory operand size"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.AL, x86.Imm(256)}}, "no form"},
		{x86.Inst{Op: "add", Args: []x86.Operand{x86.RAX, x86.Imm(0x80000000)}}, "no form"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.EBX}}, "no form"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.Mem{Base: x86.RAX, Size: 8}, x86.Mem{Base: x86.RBX, Size: 8}}}, "no form"},
		{x86.Inst{Op: "lea", Args: []x86.Operand{x86.RAX, x86.RBX}}, "no form"},
		{x86.Inst{Op: "push", Args: []x86.Operand{x86.EAX}}, "no form"},
		{x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Rel{Size: 2}}}, "branch displacement size 2"},
		{x86.Inst{Op: "call", Args: []x86.Operand{x86.Rel{Size: 1}}}, "no form"},
		{x86.Inst{Op: "jae", Args: []x86.Operand{x86.Rel{Disp: 128, Size: 1}}}, "does not fit rel8"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, nil}}, "operand 2 is nil"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.Reg(200), x86.RAX}}, "invalid register"},
		{x86.Inst{Op: "frob"}, "unknown mnemonic"},
		{x86.Inst{Op: "MOV", Args: []x86.Operand{x86.RAX, x86.RBX}}, "must be lowercase"},
		{x86.Inst{Op: "ret", Args: []x86.Operand{x86.RAX}}, "no form"},
		{x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RAX, Size: 3}}}, "memory operand size 3"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := x86.Encode(tt.in)
			require.ErrorIs(t, err, x86.ErrInvalid)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, tt.in.Op)
		})
	}
}

// TestBatchDecodes runs the x86asm judge over the whole generated batch.
func TestBatchDecodes(t *testing.T) {
	for _, in := range x86.GenBatch(2, 6) {
		e, err := x86.Encode(in)
		require.NoError(t, err, "%s", in)
		require.NoError(t, judge.Decode(in, e.Bytes))
		requireFields(t, in, e)
	}
}

// requireFields checks that the reported displacement and immediate fields
// lie inside the bytes and hold the operand's value.
func requireFields(t *testing.T, in x86.Inst, e x86.Encoding) {
	t.Helper()
	read := func(f x86.Field) int64 {
		require.LessOrEqual(t, f.Off+f.Size, len(e.Bytes), "%s: field %+v outside % x", in, f, e.Bytes)
		var v uint64
		for i := f.Size - 1; i >= 0; i-- {
			v = v<<8 | uint64(e.Bytes[f.Off+i])
		}
		shift := 64 - 8*uint(f.Size)
		return int64(v<<shift) >> shift
	}
	for _, a := range in.Args {
		switch a := a.(type) {
		case x86.Mem:
			if e.Disp.Size != 0 {
				require.Equal(t, int64(a.Disp), read(e.Disp), "%s: disp field", in)
			} else {
				require.Zero(t, a.Disp, "%s: no disp field", in)
			}
		case x86.Rel:
			require.Equal(t, a.Size, e.Disp.Size, "%s: rel field", in)
			require.Equal(t, int64(a.Disp), read(e.Disp), "%s: rel field", in)
			require.Equal(t, len(e.Bytes), e.Disp.Off+e.Disp.Size, "%s: rel field ends the instruction", in)
		case x86.Imm:
			if in.Op == "shl" || in.Op == "shr" || in.Op == "sar" {
				if a == 1 {
					continue // the D1 form has no immediate field
				}
			}
			require.NotZero(t, e.Imm.Size, "%s: imm field", in)
			require.Equal(t, len(e.Bytes), e.Imm.Off+e.Imm.Size, "%s: imm field ends the instruction", in)
			mask := uint64(1)<<(8*uint(e.Imm.Size)) - 1
			if e.Imm.Size == 8 {
				mask = ^uint64(0)
			}
			require.Equal(t, uint64(a)&mask, uint64(read(e.Imm))&mask, "%s: imm field", in)
		}
	}
}

// TestJudgesCatchCorruption proves that both judges can fail: deliberately
// corrupted encodings are reported by the x86asm judge and by the llvm-mc
// comparison.
func TestJudgesCatchCorruption(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		corrupt func(b []byte) []byte
	}{
		{"rbp base with mod 00 (means rip)", "mov rax, qword ptr [rbp + 8]", func(b []byte) []byte {
			// 48 8b 45 08 -> 48 8b 05 08 00 00 00: mod 01 became 00.
			return []byte{b[0], b[1], b[2] &^ 0xc0, b[3], 0, 0, 0}
		}},
		{"r13 base with mod 00", "mov rax, qword ptr [r13]", func(b []byte) []byte {
			return []byte{b[0], b[1], b[2] &^ 0xc0, 0, 0, 0, 0}
		}},
		{"rsp base without SIB", "mov rax, qword ptr [rsp]", func(b []byte) []byte {
			return []byte{b[0], b[1], 0x04, 0x20} // SIB index=100 none, base=000: [rax]
		}},
		{"REX.W dropped", "add rax, rbx", func(b []byte) []byte { return b[1:] }},
		{"REX.B dropped", "push r12", func(b []byte) []byte { return b[1:] }},
		{"rel32 off by one", "1: call 1b+100", func(b []byte) []byte { c := append([]byte(nil), b...); c[1]++; return c }},
		{"imm8 where imm32 is needed", "add rcx, 200", func(b []byte) []byte { return []byte{0x48, 0x83, 0xc1, 0xc8} }},
	}
	var insts []x86.Inst
	for _, tt := range tests {
		in, err := x86.Parse(tt.src)
		require.NoError(t, err)
		insts = append(insts, in)
	}
	theirs := llvmMC(t, insts)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := x86.Encode(insts[i])
			require.NoError(t, err)
			require.NoError(t, judge.Decode(insts[i], e.Bytes), "the honest encoding passes")
			require.NoError(t, compareLLVM(insts[i], e.Bytes, theirs[i]), "the honest encoding passes")
			bad := tt.corrupt(e.Bytes)
			require.Error(t, judge.Decode(insts[i], bad), "x86asm judge must report % x", bad)
			require.Error(t, compareLLVM(insts[i], bad, theirs[i]), "llvm-mc comparison must report % x", bad)
		})
	}
}

// TestNopMatchesLLVM checks Nop(n) against llvm-mc's ".nops n" in an object file.
func TestNopMatchesLLVM(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	var src strings.Builder
	var want []byte
	for n := 1; n <= 15; n++ {
		fmt.Fprintf(&src, ".nops %d\n", n)
		b, err := x86.Nop(n)
		require.NoError(t, err)
		require.Len(t, b, n)
		want = append(want, b...)
	}
	s, o := filepath.Join(dir, "nops.s"), filepath.Join(dir, "nops.o")
	require.NoError(t, os.WriteFile(s, []byte(src.String()), 0o644))
	out, err := exec.Command(mc.Path, "-triple=x86_64", "-filetype=obj", "-o", o, s).CombinedOutput()
	require.NoError(t, err, "%s", out)
	f, err := elf.Open(o)
	require.NoError(t, err)
	defer f.Close()
	text, err := f.Section(".text").Data()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("% x", text), fmt.Sprintf("% x", want))
	for _, n := range []int{0, 16, -1} {
		_, err := x86.Nop(n)
		require.ErrorIs(t, err, x86.ErrInvalid)
	}
}

func TestAsm(t *testing.T) {
	var a x86.Asm
	seq := []string{"push rbp", "mov rbp, rsp", "lea rax, [rip + 0]", "call foo", "mov eax, 42", "pop rbp", "ret"}
	var fields []x86.Encoding
	for _, s := range seq {
		in, err := x86.Parse(s)
		require.NoError(t, err)
		e, err := a.Emit(in)
		require.NoError(t, err)
		fields = append(fields, e)
	}
	_, err := a.Emit(x86.Inst{Op: "mov", Args: []x86.Operand{x86.AH, x86.R8B}})
	require.Error(t, err)
	require.Equal(t, "55 48 89 e5 48 8d 05 00 00 00 00 e8 00 00 00 00 b8 2a 00 00 00 5d c3", fmt.Sprintf("% x", a.Bytes()))
	require.Equal(t, 23, a.Len())
	require.Equal(t, x86.Field{Off: 7, Size: 4}, fields[2].Disp)
	require.Equal(t, x86.Field{Off: 12, Size: 4}, fields[3].Disp)
	require.Equal(t, x86.Field{Off: 17, Size: 4}, fields[4].Imm)
}

func TestParse(t *testing.T) {
	tests := []struct {
		src  string
		want x86.Inst
	}{
		{"mov rax, qword ptr [rbx + 4*rcx - 8]", x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RBX, Index: x86.RCX, Scale: 4, Disp: -8, Size: 8}}}},
		{"MOV EAX, DWORD PTR [RIP+0x10]", x86.Inst{Op: "mov", Args: []x86.Operand{x86.EAX, x86.Mem{RIP: true, Disp: 16, Size: 4}}}},
		{"lea r8, [rcx*2 + r9]", x86.Inst{Op: "lea", Args: []x86.Operand{x86.R8, x86.Mem{Base: x86.R9, Index: x86.RCX, Scale: 2}}}},
		{"mov al, byte ptr [0x10]", x86.Inst{Op: "mov", Args: []x86.Operand{x86.AL, x86.Mem{Disp: 16, Size: 1}}}},
		{"mov rax, [rax + rsp]", x86.Inst{Op: "mov", Args: []x86.Operand{x86.RAX, x86.Mem{Base: x86.RSP, Index: x86.RAX, Scale: 1}}}},
		{"movabs rax, 0xffffffffffffffff", x86.Inst{Op: "movabs", Args: []x86.Operand{x86.RAX, x86.Imm(-1)}}},
		{"imul rax, 3", x86.Inst{Op: "imul", Args: []x86.Operand{x86.RAX, x86.RAX, x86.Imm(3)}}},
		{"sal eax, 2", x86.Inst{Op: "shl", Args: []x86.Operand{x86.EAX, x86.Imm(2)}}},
		{"1: jmp 1b+7", x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Rel{Disp: 5, Size: 1}}}},
		{"jmp .+200", x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Rel{Disp: 195, Size: 4}}}},
		{"{disp32} je $+6", x86.Inst{Op: "je", Args: []x86.Operand{x86.Rel{Disp: 0, Size: 4}}}},
		{"call foo", x86.Inst{Op: "call", Args: []x86.Operand{x86.Rel{Size: 4}}}},
		{"jmp qword ptr [rax]", x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Mem{Base: x86.RAX, Size: 8}}}},
		{"call r11", x86.Inst{Op: "call", Args: []x86.Operand{x86.R11}}},
		{"ret # comment", x86.Inst{Op: "ret"}},
		{"mov r8l, r15b", x86.Inst{Op: "mov", Args: []x86.Operand{x86.R8B, x86.R15B}}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := x86.Parse(tt.src)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	bad := []string{"", "frob rax", "mov rax, [rax", "mov rax, [rax + rbx + rcx]", "mov rax, [rax*3]", "mov rax, qword ptr rbx",
		"jmp 2b+1", "1: {disp8} jmp 1b+300", "{disp32} mov rax, rbx", "mov rax, [rip + rbx]", "mov rax, zz", "{bogus} ret", "mov rax, [0x100000000]"}
	for _, s := range bad {
		t.Run("bad "+s, func(t *testing.T) {
			_, err := x86.Parse(s)
			require.Error(t, err)
			require.ErrorContains(t, err, fmt.Sprintf("%q", s))
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	batch := x86.GenBatch(3, 2)
	b.Run("Encode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := x86.Encode(batch[i%len(batch)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "insts/s")
	})
	b.Run("AsmEmit", func(b *testing.B) {
		var a x86.Asm
		for i := 0; i < b.N; i++ {
			if i%len(batch) == 0 {
				a.Reset()
			}
			if _, err := a.Emit(batch[i%len(batch)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "insts/s")
	})
}
