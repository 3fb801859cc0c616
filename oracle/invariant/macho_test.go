package invariant

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/macho"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// runMachOSequence links every version of corpus/updates/mechanisms
// incrementally into a Mach-O output on disk with the given faults and
// checks each one (invariants 3 to 7), as runSequence does for ELF.
func runMachOSequence(t *testing.T, policy incr.Policy, faults fault.Set) []Error {
	t.Helper()
	var found []Error
	linkVersions(t, obj.MachO, macho.IncrImage{}, filepath.Join(t.TempDir(), "out"), policy, faults, func(i int, m *ir.Module, _ *obj.Program, data []byte) {
		var v Error
		if err := Check(data, m, Options{Format: obj.MachO, CallsViaGOT: policy == incr.ThroughGOT}); err != nil {
			var ok bool
			v, ok = err.(Error)
			require.True(t, ok, "v%d: %v", i+1, err)
		}
		found = append(found, v)
	})
	return found
}

func TestMachOCleanSequencesHoldEveryInvariant(t *testing.T) {
	tools.Require(t, "llvm-objdump")
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			for i, v := range runMachOSequence(t, policy, 0) {
				require.Empty(t, v, "v%d", i+1)
			}
		})
	}
}

// TestMachOInvariantsCatchInjectedBugs injects one linker bug at a time
// into incremental Mach-O updates and asserts that the invariant named for
// it reports it.
func TestMachOInvariantsCatchInjectedBugs(t *testing.T) {
	tests := []struct {
		name      string
		policy    incr.Policy
		faults    fault.Set
		invariant int
		msg       string
	}{
		{name: "trampoline displacement off by 5", policy: incr.Trampoline,
			faults: fault.Of(fault.TrampolineBase), invariant: 4, msg: "trampoline jumps to"},
		{name: "GOT slot left stale", policy: incr.ThroughGOT,
			faults: fault.Of(fault.SkipGOTRewrite), invariant: 3, msg: "GOT slot holds"},
		{name: "segment grown without moving __LINKEDIT", policy: incr.Trampoline,
			faults: fault.Of(fault.MachOStaleLinkEdit), invariant: 5, msg: "segment __LINKEDIT at file offset"},
		{name: "segment grown without moving the segments after it", policy: incr.Trampoline,
			faults: fault.Of(fault.GrowWithoutMove), invariant: 3, msg: "GOT slot holds 0x0"},
		{name: "data pointer not re-patched", policy: incr.Trampoline,
			faults: fault.Of(fault.SkipPointerRepatch), invariant: 6, msg: "the symbol's current address is"},
		{name: "stale code after a shrink", policy: incr.Trampoline,
			faults: fault.Of(fault.ShrinkNoFill), invariant: 5, msg: "owned by no atom"},
		{name: "error table not regenerated", policy: incr.Trampoline,
			faults: fault.Of(fault.StaleErrorTable), invariant: 7, msg: ""},
		{name: "symbol value not updated after a move", policy: incr.Trampoline,
			faults: fault.Of(fault.StaleSymbols), invariant: 6, msg: "does not point at the current contents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found []string
			caught := false
			for i, v := range runMachOSequence(t, tt.policy, tt.faults) {
				for _, x := range v {
					found = append(found, fmt.Sprintf("v%d: %s", i+1, x))
					if x.Invariant == tt.invariant && strings.Contains(x.Msg, tt.msg) {
						caught = true
					}
				}
			}
			require.True(t, caught, "invariant %d did not report %q; found:\n%s", tt.invariant, tt.msg, strings.Join(found, "\n"))
		})
	}
}

// TestMachOMovedPointerNeedsRebase moves a data atom that holds a pointer
// (it grows past its slot) in an in-memory session: the rebase opcodes
// must follow the pointer to its new place. With stale-pointer-list the
// symbol is patched in place but the opcodes still list the old site,
// and the checks report the pointer missing from them (6) and the stale
// entry (5); a pointer added in place to an unchanged-size global is
// caught the same way.
func TestMachOMovedPointerNeedsRebase(t *testing.T) {
	src := "func f(x) { return x + 1 }\nglobal tab = &f\nglobal n = 5\nfunc main() { return call (load tab)(1) + load n }\n"
	m, err := ir.Parse("p.lir", []byte(src))
	require.NoError(t, err)
	p1, err := codegen.Compile(m, obj.MachO)
	require.NoError(t, err)
	// v2: tab grows to 64 bytes, its pointer now at +56: it moves.
	grown := func() *obj.Program {
		p := &obj.Program{Format: p1.Format}
		for _, a := range p1.Atoms {
			if a.Name == "tab" {
				b := *a
				b.Data, b.Size = make([]byte, 64), 64
				b.Relocs = []obj.SymReloc{{Offset: 56, Kind: obj.Abs64, Sym: "f"}}
				a = &b
			}
			p.Atoms = append(p.Atoms, a)
		}
		return p
	}
	// v3: n = &f in place (same size): a pointer added without a move.
	m3, err := ir.Parse("p.lir", []byte(strings.Replace(src, "global n = 5", "global n = &f", 1)))
	require.NoError(t, err)
	p3, err := codegen.Compile(m3, obj.MachO)
	require.NoError(t, err)
	for _, tt := range []struct {
		name  string
		next  *obj.Program
		m     *ir.Module
		moved bool
	}{
		{"moved", grown(), m, true},
		{"added in place", p3, m3, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, faults := range []fault.Set{0, fault.Of(fault.StalePointerList)} {
				o, err := incr.NewMemOutput(macho.IncrImage{}, p1, "", incr.Options{Faults: faults})
				require.NoError(t, err)
				require.NoError(t, CheckProgram(o.Bytes(), p1, m, Options{Format: obj.MachO}))
				pt, err := o.Update(tt.next, "")
				require.NoError(t, err)
				require.True(t, pt.Pointers)
				require.Equal(t, tt.moved, pt.Stats.Moved == 1, "%s", pt.Stats)
				err = CheckProgram(o.Bytes(), tt.next, tt.m, Options{Format: obj.MachO})
				if faults == 0 {
					require.NoError(t, err)
					continue
				}
				require.Error(t, err)
				require.Contains(t, err.Error(), "invariant 6")
				require.Contains(t, err.Error(), "holds a pointer that the rebase opcodes do not list")
				if tt.moved {
					require.Contains(t, err.Error(), "invariant 5")
					require.Contains(t, err.Error(), "rebased, but no atom holds a pointer there")
				}
			}
		})
	}
}

// TestMachOLLVMReadsIncrementalOutput: invariant 8 holds for every version
// of the mechanisms sequence, and fails on a file whose load commands are
// cut.
func TestMachOLLVMReadsIncrementalOutput(t *testing.T) {
	tools.Require(t, "llvm-objdump")
	path := filepath.Join(t.TempDir(), "out")
	// The zero policy: incr.Options{} and codegen.Compile's defaults.
	linkVersions(t, obj.MachO, macho.IncrImage{}, path, "", 0, func(i int, _ *ir.Module, _ *obj.Program, _ []byte) {
		require.NoError(t, CheckLLVM(path), "v%d", i+1)
	})
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[16], data[17] = 0xff, 0xff // ncmds: more load commands than sizeofcmds holds
	bad := filepath.Join(t.TempDir(), "bad")
	require.NoError(t, os.WriteFile(bad, data, 0o755))
	err = CheckLLVM(bad)
	require.Error(t, err)
	require.Contains(t, err.Error(), "invariant 8")
}

// TestMachOMalformedNoPanic feeds truncated and corrupted copies of an
// incremental Mach-O output to CheckProgram: an error or violations,
// never a panic.
func TestMachOMalformedNoPanic(t *testing.T) {
	vs := loadVersions(t)
	m := vs[len(vs)-1]
	p, err := codegen.Compile(m, obj.MachO)
	require.NoError(t, err)
	o, err := incr.NewMemOutput(macho.IncrImage{}, p, "", incr.Options{})
	require.NoError(t, err)
	good := o.Bytes()
	require.NoError(t, CheckProgram(good, p, m, Options{Format: obj.MachO}))
	try := func(data []byte) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic on %d bytes: %v", len(data), r)
			}
		}()
		_ = CheckProgram(data, p, m, Options{Format: obj.MachO})
	}
	for n := 0; n < 2048; n += 7 {
		try(good[:n])
	}
	try(good[:len(good)-1])
	// Flip bytes of the header and load commands, and of __LINKEDIT.
	r := rand.New(rand.NewSource(13))
	for i := 0; i < 3000; i++ {
		bad := append([]byte(nil), good...)
		var at int
		if i%2 == 0 {
			at = r.Intn(1200)
		} else {
			at = len(bad) - 1 - r.Intn(min(len(bad), 4096))
		}
		bad[at] ^= byte(1 + r.Intn(255))
		try(bad)
	}
}
