package x86_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/x86"
	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"
)

// llvmMC assembles every instruction with ONE llvm-mc invocation
// (-x86-asm-syntax=intel -show-encoding) and returns each instruction's
// bytes. A branch's symbolic displacement bytes ("A") are filled in from
// the fixup that llvm-mc prints, so the result is what the object file
// would hold.
func llvmMC(t *testing.T, insts []x86.Inst) [][]byte {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	var src strings.Builder
	for _, in := range insts {
		src.WriteString(in.String())
		src.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "batch.s")
	require.NoError(t, os.WriteFile(path, []byte(src.String()), 0o644))
	cmd := exec.Command(mc.Path, "-triple=x86_64", "-x86-asm-syntax=intel", "-show-encoding", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "llvm-mc failed:\n%s", firstLines(stderr.String(), 40))
	require.Empty(t, stderr.String(), "llvm-mc complained")
	encs, err := parseShowEncoding(stdout.String())
	require.NoError(t, err)
	require.Len(t, encs, len(insts), "llvm-mc printed a different number of encodings")
	return encs
}

var (
	encodingRe = regexp.MustCompile(`encoding: \[([^\]]*)\]`)
	fixupRe    = regexp.MustCompile(`fixup A - offset: (\d+), value: \(?\.Ltmp\d+([+-]\d+)?\)?-(\d+), kind: (\S+)`)
)

// parseShowEncoding reads llvm-mc -show-encoding output: one encoding per
// instruction, with "A" bytes patched from the following fixup line.
func parseShowEncoding(out string) ([][]byte, error) {
	var encs [][]byte
	var pending []int // indexes of 'A' bytes in the last encoding
	for _, line := range strings.Split(out, "\n") {
		if m := encodingRe.FindStringSubmatch(line); m != nil {
			if len(pending) > 0 {
				return nil, fmt.Errorf("encoding %d: symbolic bytes without a fixup", len(encs)-1)
			}
			var b []byte
			for _, tok := range strings.Split(m[1], ",") {
				tok = strings.TrimSpace(tok)
				if tok == "A" {
					pending = append(pending, len(b))
					b = append(b, 0)
					continue
				}
				v, err := strconv.ParseUint(tok, 0, 8)
				if err != nil {
					return nil, fmt.Errorf("encoding %d: bad byte %q", len(encs), tok)
				}
				b = append(b, byte(v))
			}
			encs = append(encs, b)
			continue
		}
		if m := fixupRe.FindStringSubmatch(line); m != nil {
			if len(pending) == 0 {
				return nil, fmt.Errorf("fixup without symbolic bytes: %s", line)
			}
			off, _ := strconv.Atoi(m[1])
			var k int64
			if m[2] != "" {
				k, _ = strconv.ParseInt(m[2], 10, 64)
			}
			addend, _ := strconv.ParseInt(m[3], 10, 64)
			disp := k - addend - int64(off)
			b := encs[len(encs)-1]
			for i, at := range pending {
				if at != off+i {
					return nil, fmt.Errorf("encoding %d: symbolic bytes not contiguous at offset %d", len(encs)-1, off)
				}
				b[at] = byte(disp >> (8 * i))
			}
			pending = pending[:0]
		}
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("last encoding: symbolic bytes without a fixup")
	}
	return encs, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// equivalent lists the forms where the encoder deliberately differs from
// llvm-mc's bytes although both are valid encodings of the instruction.
// A difference is accepted only when a rule matches and both encodings
// decode (x86asm) to the same instruction of the same length.
var equivalent = []struct {
	name   string
	match  func(in x86.Inst) bool
	reason string
}{}

// compareLLVM reports a difference between our encoding and llvm-mc's.
func compareLLVM(in x86.Inst, ours, theirs []byte) error {
	if bytes.Equal(ours, theirs) {
		return nil
	}
	for _, rule := range equivalent {
		if !rule.match(in) {
			continue
		}
		a, errA := x86asm.Decode(ours, 64)
		b, errB := x86asm.Decode(theirs, 64)
		if errA == nil && errB == nil && a.Len == len(ours) && b.Len == len(theirs) && sameDecoded(a, b) {
			return nil
		}
	}
	return fmt.Errorf("%s: ours % x, llvm-mc % x", in, ours, theirs)
}

// sameDecoded compares two decoded instructions ignoring the bytes.
func sameDecoded(a, b x86asm.Inst) bool {
	return a.Op == b.Op && a.Args == b.Args && a.DataSize == b.DataSize && a.MemBytes == b.MemBytes && a.Len == b.Len
}

func TestLLVMDifferential(t *testing.T) {
	batch := x86.GenBatch(1, 6)
	// Add every hand-written corner case too.
	for _, c := range cornerCases {
		in, err := x86.Parse(c)
		require.NoError(t, err, c)
		batch = append(batch, in)
	}
	require.Greater(t, len(batch), 2000)
	ours := make([][]byte, len(batch))
	for i, in := range batch {
		e, err := x86.Encode(in)
		require.NoError(t, err, "%s", in)
		ours[i] = e.Bytes
		// Round trip through the parser.
		back, err := x86.Parse(in.String())
		require.NoError(t, err, "%s", in)
		e2, err := x86.Encode(back)
		require.NoError(t, err, "%s", in)
		require.Equal(t, e.Bytes, e2.Bytes, "%s re-parsed", in)
	}
	theirs := llvmMC(t, batch)
	var diffs []string
	for i, in := range batch {
		if err := compareLLVM(in, ours[i], theirs[i]); err != nil {
			diffs = append(diffs, err.Error())
		}
	}
	require.Empty(t, diffs, "%d of %d instructions differ from llvm-mc:\n%s", len(diffs), len(batch), firstLines(strings.Join(diffs, "\n"), 60))
	t.Logf("%d instructions agree with llvm-mc", len(batch))
}

// cornerCases are the encoding rules the issue names, written out.
var cornerCases = []string{
	"mov rax, qword ptr [rbp]", "mov rax, qword ptr [r13]", "mov rax, qword ptr [rsp]", "mov rax, qword ptr [r12]",
	"mov rax, qword ptr [r13 + 8*r12]", "mov rax, qword ptr [rbp + rsp]", "lea rax, [rsp + 4*rbx - 8]",
	"mov eax, dword ptr [16]", "mov eax, dword ptr [-8]", "mov rax, qword ptr [8*rbx + 16]",
	"mov eax, dword ptr [rip + 16]", "lea rdi, [rip - 7]", "mov qword ptr [rip], 1",
	"movabs rax, 0x1122334455667788", "mov rax, 0xffffffff", "mov rax, -0x80000000", "mov eax, 0xffffffff",
	"mov r8b, sil", "mov spl, bpl", "mov dil, 1", "mov ah, bh", "movzx eax, ah", "mov byte ptr [rax], ch",
	"add eax, edx", "add rax, 0x1000", "add al, 200", "add eax, 0xffffffff", "test rax, 5", "test al, 0xff",
	"imul rax, rbx, 10", "imul rax, rbx, 1000", "imul rax, 3", "imul r11", "imul ecx, dword ptr [rsi]",
	"shl rax, 1", "shl rax, cl", "sar byte ptr [rdi], 7", "sal r9d, 3",
	"push 5", "push -129", "push r12", "pop r15", "push qword ptr [rax]", "pop qword ptr [rsp + 8]",
	"call qword ptr [rip + 0]", "jmp rax", "jmp qword ptr [r11 + 8*rax]", "call r11",
	"1: jmp 1b", "1: jmp 1b+129", "1: jmp 1b-126", "1: {disp32} jmp 1b+5", "1: call 1b+5", "1: jne 1b+2", "1: {disp32} jz 1b+6",
	"movsxd rax, dword ptr [rax]", "movsx r15, r14b", "movzx r10d, word ptr [r9]",
	"sete al", "setnz r15b", "setb sil", "cmove rax, rbx", "cmovnle r8w, word ptr [rbp - 1]",
	"nop", "nop dword ptr [rax]", "nop word ptr [rax + rax]", "ret", "int3", "ud2", "syscall", "hlt",
	"cwd", "cdq", "cqo",
	"div rcx", "idiv byte ptr [rax]", "mul r9", "neg r10d", "not word ptr [rbx]",
}
