package invariant

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/coff"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/macho"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestServedLLVMToolsGiveTheSameVerdict checks invariant 8 of every
// format's incremental output, and of a copy broken where the format's
// tools must complain, with each tool started as a process (CheckLLVM)
// and through a pool of fork servers (CheckLLVMWith): the verdicts are
// the same, the broken copy's violation word for word, and the tools
// were served.
func TestServedLLVMToolsGiveTheSameVerdict(t *testing.T) {
	tests := []struct {
		format obj.Format
		tools  []string
		link   func(t *testing.T, path string)
		breaks func(data []byte) []byte
	}{
		{obj.ELF, []string{"llvm-readobj", "llvm-objdump"}, func(t *testing.T, path string) {
			linkVersions(t, obj.ELF, elf.IncrImage{}, path, "", 0, func(int, *ir.Module, *obj.Program, []byte) {})
		}, func(data []byte) []byte {
			binary.LittleEndian.PutUint16(data[60:], 0xffff) // e_shnum: more section headers than the file holds
			return data
		}},
		{obj.MachO, []string{"llvm-readobj", "llvm-objdump"}, func(t *testing.T, path string) {
			linkVersions(t, obj.MachO, macho.IncrImage{}, path, "", 0, func(int, *ir.Module, *obj.Program, []byte) {})
		}, func(data []byte) []byte {
			data[16], data[17] = 0xff, 0xff // ncmds: more load commands than sizeofcmds holds
			return data
		}},
		{obj.COFF, []string{"llvm-readobj", "llvm-objdump"}, func(t *testing.T, path string) {
			linkVersions(t, obj.COFF, coff.IncrImage{}, path, "", 0, func(int, *ir.Module, *obj.Program, []byte) {})
		}, func(data []byte) []byte {
			pe := binary.LittleEndian.Uint32(data[0x3c:])
			binary.LittleEndian.PutUint16(data[pe+20:], 0xfff0) // SizeOfOptionalHeader: past the end of the file
			return data
		}},
		{obj.Wasm, []string{"wasm-validate", "wasm-objdump"}, func(t *testing.T, path string) {
			linkWasmVersions(t, path, 0, func(int, *ir.Module, *obj.Program, []byte) {})
		}, func(data []byte) []byte {
			return data[:len(data)*2/3] // cut inside a section
		}},
	}
	pool := toolsrv.NewPool()
	defer pool.Close()
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			for _, name := range tc.tools {
				tools.Require(t, name)
			}
			dir := t.TempDir()
			good := filepath.Join(dir, "good")
			tc.link(t, good)
			require.NoError(t, CheckLLVM(good))
			require.NoError(t, CheckLLVMWith(pool, good))
			data, err := os.ReadFile(good)
			require.NoError(t, err)
			bad := filepath.Join(dir, "bad")
			require.NoError(t, os.WriteFile(bad, tc.breaks(data), 0o755))
			started := CheckLLVM(bad)
			require.Error(t, started)
			require.Contains(t, started.Error(), "invariant 8")
			served := CheckLLVMWith(pool, bad)
			require.Error(t, served)
			require.Equal(t, started.Error(), served.Error())
			for _, name := range tc.tools {
				tl, err := pool.Find(name)
				require.NoError(t, err)
				ok, err := pool.Served(tl.Path)
				require.NoError(t, err)
				require.True(t, ok, "%s was not served", name)
			}
		})
	}
}
