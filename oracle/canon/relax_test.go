package canon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// relaxSrc loads addresses through GOT-load relocations (both forms GNU
// ld relaxes to `mov r, imm32`), references a merged string through an
// assembler-temporary label that mold keeps in .symtab, and exits 42.
const relaxSrc = `
	.data
	.globl counter
	.type counter,@object
	.p2align 3
counter:
	.quad 35
	.size counter, 8
	.section .rodata.str1.1,"aMS",@progbits,1
.Lseven:
	.asciz "\007"
	.text
	.globl _start
	.type _start,@function
_start:
	movq counter@GOTPCREL(%rip), %rax
	movq (%rax), %rdi
	movl counter@GOTPCREL(%rip), %ecx
	leaq .Lseven(%rip), %rsi
	movzbl (%rsi), %edx
	add %rdx, %rdi
	mov $60, %eax
	syscall
	.size _start, .-_start
`

// linkWith assembles relaxSrc and links it with the named linker; it
// returns the canonical image.
func linkWith(t *testing.T, name string) (*Image, []byte) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "relax.s")
	require.NoError(t, os.WriteFile(src, []byte(relaxSrc), 0o644))
	paths, objs := canontest.Assemble(t, dir, src)
	l, err := linker.Lookup(name)
	require.NoError(t, err)
	if tn := l.ToolName(obj.ELF); tn != "" {
		tools.Require(t, tn)
	}
	out := filepath.Join(dir, name+".out")
	_, err = l.Link(context.Background(), obj.ELF, paths, out, linker.Options{})
	require.NoError(t, err)
	exe, err := os.ReadFile(out)
	require.NoError(t, err)
	im, err := ReadELF(exe, objs)
	require.NoError(t, err)
	return im, exe
}

// TestRelaxedGOTImmediate: GNU ld's `mov rax, imm32` and `mov ecx, imm32`
// for GOT loads are read as lld's `lea`, so the two images are equal; the
// bytes really are the immediate form (so the test fails without relax.go).
func TestRelaxedGOTImmediate(t *testing.T) {
	lldIm, _ := linkWith(t, "lld")
	bfdIm, exe := linkWith(t, "bfd")
	a, b := lldIm.Lookup("_start"), bfdIm.Lookup("_start")
	require.NotNil(t, a)
	require.NotNil(t, b)
	require.Equal(t, "lea rax, counter", a.Insns[0].Text())
	require.Equal(t, "lea rax, counter", b.Insns[0].Text())
	require.Equal(t, "lea ecx, counter", b.Insns[2].Text())
	require.Equal(t, sameTexts(a), sameTexts(b))

	addr := canontest.Addr(t, exe, "_start")
	code := exe[canontest.Offset(t, exe, addr):]
	require.Equal(t, []byte{0x48, 0xc7, 0xc0}, code[:3], "GNU ld wrote mov r/m64, imm32")

	// Without the input objects nothing marks the field: the mov stays.
	plain, err := ReadELF(exe, nil)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(plain.Lookup("_start").Insns[0].Text(), "mov rax, 0x"), plain.Lookup("_start").Insns[0].Text())
}

// TestTemporaryLabels: mold keeps the assembler's .Lseven in .symtab and
// labels the GOT slot it keeps for counter `counter$got`; canon reads both
// as no symbol, so the string is named by its contents and the loads are
// seen through the slot, as in lld's output (the test fails without
// locals.go: `lea rsi, .Lseven`, `mov rax, qword ptr [counter$got]`).
func TestTemporaryLabels(t *testing.T) {
	lldIm, _ := linkWith(t, "lld")
	moldIm, exe := linkWith(t, "mold")
	require.NotZero(t, canontest.Addr(t, exe, ".Lseven"), "mold kept the label")
	require.NotZero(t, canontest.Addr(t, exe, "counter$got"), "mold labelled the GOT slot")
	require.Nil(t, moldIm.Lookup(".Lseven"))
	require.Nil(t, moldIm.Lookup("counter$got"))
	a, b := lldIm.Lookup("_start"), moldIm.Lookup("_start")
	require.Equal(t, `lea rsi, str"\a"`, a.Insns[3].Text())
	require.Equal(t, sameTexts(a), sameTexts(b))
}

// sameTexts are a function's instructions as compared: without Via.
func sameTexts(s *Symbol) []string {
	var out []string
	for i := range s.Insns {
		in := s.Insns[i]
		in.Via = ""
		out = append(out, in.Text())
	}
	return out
}
