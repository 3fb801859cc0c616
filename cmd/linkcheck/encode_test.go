package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/stretchr/testify/require"
)

func TestRunEncode(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stdout string
		stderr string
	}{
		{[]string{"mov rax, qword ptr [rip + 0]"}, 0, "48 8b 05 00 00 00 00\n", ""},
		{[]string{"push rbp", "call foo", "ret"}, 0, "55\ne8 00 00 00 00\nc3\n", ""},
		{[]string{"ret", "mov ah, r8b"}, 2, "", `bad instruction "mov ah, r8b"`},
		{[]string{"frob rax"}, 2, "", `bad instruction "frob rax"`},
		{nil, 2, "", "usage"},
		{[]string{"-h"}, 0, "usage", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, ";"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := runEncode(tt.args, &stdout, &stderr)
			require.Equal(t, tt.status, status, "stderr: %s", stderr.String())
			if tt.status == 0 && !strings.HasPrefix(tt.stdout, "usage") {
				require.Equal(t, tt.stdout, stdout.String())
			} else {
				require.Contains(t, stdout.String(), strings.TrimSuffix(tt.stdout, "\n"))
			}
			if tt.stderr == "" {
				require.Empty(t, stderr.String())
			} else {
				require.Contains(t, stderr.String(), tt.stderr)
				if tt.status == 2 && tt.args != nil {
					require.Empty(t, stdout.String(), "nothing written on bad input")
				}
			}
		})
	}
}

// TestRunEncodeMatchesLLVM checks the command's output against llvm-mc
// -show-encoding for one instruction of every kind.
func TestRunEncodeMatchesLLVM(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	insts := []string{
		"mov rax, qword ptr [rip + 0]", "mov rax, qword ptr [rbp]", "mov r12, qword ptr [r13 + 8*r12 - 128]",
		"lea rsp, [rsp + 8]", "movabs rax, 0x1122334455667788", "mov eax, 0xffffffff", "mov spl, 7",
		"add eax, edx", "sub rsp, 0x1000", "and byte ptr [rax], 0x7f", "or r9w, 1", "xor eax, eax", "cmp qword ptr [rip + 16], -1",
		"test dil, dil", "imul rax, rbx, 10", "imul rdx", "imul ecx, dword ptr [rsi]", "div rcx", "idiv r8d", "mul byte ptr [rdi]",
		"neg rax", "not r15b", "shl rax, 1", "shr eax, cl", "sar qword ptr [rsp + 8], 63", "push r12", "pop rbp", "push 0x1000",
		"call qword ptr [rip + 0]", "jmp r11", "ret", "movzx eax, byte ptr [rax]", "movsx rax, word ptr [rbx]", "movsxd rax, ecx",
		"sete al", "cmovne rax, qword ptr [rbp - 8]", "nop", "nop dword ptr [rax + rax]", "int3", "ud2", "syscall", "hlt",
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, runEncode(insts, &stdout, &stderr), stderr.String())
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")

	src := filepath.Join(t.TempDir(), "in.s")
	require.NoError(t, os.WriteFile(src, []byte(strings.Join(insts, "\n")+"\n"), 0o644))
	out, err := exec.Command(mc.Path, "-triple=x86_64", "-x86-asm-syntax=intel", "-show-encoding", src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var want []string
	for _, m := range regexp.MustCompile(`encoding: \[([^\]]*)\]`).FindAllStringSubmatch(string(out), -1) {
		var hex []string
		for _, b := range strings.Split(m[1], ",") {
			hex = append(hex, strings.TrimPrefix(strings.TrimSpace(b), "0x"))
		}
		want = append(want, strings.Join(hex, " "))
	}
	require.Equal(t, want, got)
}
