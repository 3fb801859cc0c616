package unicorn_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec/unicorn"
	"github.com/linkcheck/linkcheck/oracle/tools"
)

func open(t *testing.T) *unicorn.Engine {
	t.Helper()
	tool := tools.Require(t, "libunicorn")
	lib, err := unicorn.Open(tool.Path)
	require.NoError(t, err)
	require.Equal(t, uint32(2), lib.Major)
	e, err := lib.NewEngine()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

func TestSyscallHook(t *testing.T) {
	e := open(t)
	const base = 0x10000
	code := []byte{
		0x48, 0xc7, 0xc0, 0x2a, 0x00, 0x00, 0x00, // mov rax, 42
		0x0f, 0x05, // syscall
		0x48, 0x83, 0xc0, 0x01, // add rax, 1
		0x0f, 0x05, // syscall
		0xf4, // hlt
	}
	require.NoError(t, e.MapMem(base, 0x1000, unicorn.ProtRead|unicorn.ProtExec))
	require.NoError(t, e.WriteMem(base, code))
	var seen []uint64
	require.NoError(t, e.OnSyscall(func(e *unicorn.Engine) {
		rax, err := e.RegRead(unicorn.RAX)
		require.NoError(t, err)
		seen = append(seen, rax)
		require.NoError(t, e.RegWrite(unicorn.RAX, rax+100))
		if len(seen) == 2 {
			require.NoError(t, e.Stop())
		}
	}))
	require.NoError(t, e.Start(base, 0, time.Second, 1000))
	require.Equal(t, []uint64{42, 143}, seen)
}

func TestMemInvalidHook(t *testing.T) {
	e := open(t)
	const base = 0x10000
	code := []byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00} // mov rax, [0x500000]
	require.NoError(t, e.MapMem(base, 0x1000, unicorn.ProtAll))
	require.NoError(t, e.WriteMem(base, code))
	var kind unicorn.MemAccess
	var addr uint64
	require.NoError(t, e.OnMemInvalid(func(_ *unicorn.Engine, k unicorn.MemAccess, a uint64, _ int, _ int64) bool {
		kind, addr = k, a
		return false
	}))
	err := e.Start(base, 0, time.Second, 1000)
	require.Error(t, err)
	require.Equal(t, unicorn.MemReadUnmapped, kind)
	require.Equal(t, uint64(0x500000), addr)
	rip, err := e.RegRead(unicorn.RIP)
	require.NoError(t, err)
	require.Equal(t, uint64(base), rip)
}

func TestInstructionBudget(t *testing.T) {
	e := open(t)
	const base = 0x10000
	require.NoError(t, e.MapMem(base, 0x1000, unicorn.ProtAll))
	require.NoError(t, e.WriteMem(base, []byte{0xeb, 0xfe})) // jmp $
	require.NoError(t, e.Start(base, 0, 0, 10000))
	rip, err := e.RegRead(unicorn.RIP)
	require.NoError(t, err)
	require.Equal(t, uint64(base), rip)
}
