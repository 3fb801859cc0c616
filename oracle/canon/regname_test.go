package canon

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"
)

func TestRegNameIsIntel(t *testing.T) {
	for r, want := range map[x86asm.Reg]string{
		x86asm.R8L: "r8d", x86asm.R15L: "r15d", x86asm.EAX: "eax", x86asm.R8B: "r8b",
		x86asm.R9W: "r9w", x86asm.R12: "r12", x86asm.RAX: "rax",
		x86asm.X0: "xmm0", x86asm.X15: "xmm15", x86asm.M3: "mm3",
	} {
		require.Equal(t, want, regName(r))
	}
}
