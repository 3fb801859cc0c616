package invariant

import (
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/coff"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestPECleanSequencesHoldEveryInvariant updates an incremental PE output
// through corpus/updates/mechanisms under both policies: every version
// holds invariants 3 to 7 with the PE checks, and LLVM's tools read it
// without a warning (8).
func TestPECleanSequencesHoldEveryInvariant(t *testing.T) {
	tools.Require(t, "llvm-readobj")
	tools.Require(t, "llvm-objdump")
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.exe")
			linkVersions(t, obj.COFF, coff.IncrImage{}, path, policy, 0, func(i int, m *ir.Module, p *obj.Program, data []byte) {
				require.NoError(t, CheckProgram(data, p, m, Options{Format: obj.COFF, CallsViaGOT: policy == incr.ThroughGOT}), "v%d", i+1)
				require.NoError(t, CheckLLVM(path), "v%d", i+1)
			})
		})
	}
}

// TestPEMalformedNoPanic feeds truncated and corrupted copies of an
// incremental PE output to CheckProgram: an error or violations, never a
// panic.
func TestPEMalformedNoPanic(t *testing.T) {
	vs := loadVersions(t)
	m := vs[len(vs)-1]
	p, err := codegen.Compile(m, obj.COFF)
	require.NoError(t, err)
	o, err := incr.NewMemOutput(coff.IncrImage{}, p, "", incr.Options{})
	require.NoError(t, err)
	good := o.Bytes()
	require.NoError(t, CheckProgram(good, p, m, Options{Format: obj.COFF}))
	try := func(data []byte) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic on %d bytes: %v", len(data), r)
			}
		}()
		_ = CheckProgram(data, p, m, Options{Format: obj.COFF})
	}
	for n := 0; n < 2048; n += 7 {
		try(good[:n])
	}
	try(good[:len(good)-1])
	// Flip bytes of the headers and section table, and of the tail
	// (.reloc and the COFF symbol table).
	r := rand.New(rand.NewSource(14))
	for i := 0; i < 3000; i++ {
		bad := append([]byte(nil), good...)
		var at int
		if i%2 == 0 {
			at = r.Intn(0x400)
		} else {
			at = len(bad) - 1 - r.Intn(min(len(bad), 4096))
		}
		bad[at] ^= byte(1 + r.Intn(255))
		try(bad)
	}
}
