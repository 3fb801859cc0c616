package invariant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

func loadVersions(t *testing.T) []*ir.Module {
	t.Helper()
	var out []*ir.Module
	for i := 1; ; i++ {
		path := filepath.Join("../../corpus/updates/mechanisms", fmt.Sprintf("v%d.lir", i))
		src, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			break
		}
		require.NoError(t, err)
		m, err := ir.Parse(path, src)
		require.NoError(t, err)
		out = append(out, m)
	}
	require.NotEmpty(t, out)
	return out
}

// outcome is what checking one version found.
type outcome struct {
	violations Error
	valueErr   string // a wrong value or a crash
}

// runSequence links every version incrementally with the given faults and
// checks each one: the invariants and the value under native execution.
func runSequence(t *testing.T, policy incr.Policy, faults fault.Set) []outcome {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out")
	var outcomes []outcome
	linkVersions(t, obj.ELF, elf.IncrImage{}, path, policy, faults, func(i int, m *ir.Module, _ *obj.Program, data []byte) {
		var oc outcome
		if err := Check(data, m, Options{CallsViaGOT: policy == incr.ThroughGOT}); err != nil {
			v, ok := err.(Error)
			require.True(t, ok, "%v", err)
			oc.violations = v
		}
		want, err := ir.Interp(m, ir.InterpOptions{})
		require.NoError(t, err)
		got, err := runExe(path)
		if err != nil {
			oc.valueErr = err.Error()
		} else if got != want {
			oc.valueErr = fmt.Sprintf("value %d, the interpreter says %d", got, want)
		}
		outcomes = append(outcomes, oc)
	})
	return outcomes
}

// linkVersions links each version of corpus/updates/mechanisms into path
// with format's incremental image under policy (faults planted in the
// code generator and the updates) and calls check with the version's
// index, module, program and the output's bytes. With faults planted, a
// sidecar that the previous update's damage made stale (incr.ErrStale:
// linkcheck update would relink) ends the sequence.
func linkVersions(t *testing.T, format obj.Format, img incr.Image, path string, policy incr.Policy, faults fault.Set, check func(i int, m *ir.Module, p *obj.Program, data []byte)) {
	t.Helper()
	for i, m := range loadVersions(t) {
		p, err := codegen.CompileWith(m, format, codegen.Options{CallsViaGOT: policy == incr.ThroughGOT, Faults: faults})
		require.NoError(t, err)
		var o *incr.Output
		if i == 0 {
			o, err = incr.Create(path, img, p, "", incr.Options{Policy: policy})
			require.NoError(t, err)
		} else {
			o, err = incr.Open(path, img, incr.Options{Policy: policy, Faults: faults})
			if faults != 0 && errors.Is(err, incr.ErrStale) {
				t.Logf("v%d: %v", i+1, err)
				return
			}
			require.NoError(t, err, "v%d", i+1)
			_, err = o.Update(p, "")
			require.NoError(t, err, "v%d", i+1)
		}
		require.NoError(t, o.Close())
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		check(i, m, p, data)
	}
}

func runExe(path string) (uint64, error) {
	cmd := exec.Command(path)
	out, err := cmd.Output()
	if err != nil {
		return 0, err
	}
	if len(out) != 8 {
		return 0, fmt.Errorf("wrote %d bytes", len(out))
	}
	return binary.LittleEndian.Uint64(out), nil
}

func TestCleanSequencesHoldEveryInvariant(t *testing.T) {
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			for i, oc := range runSequence(t, policy, 0) {
				require.Empty(t, oc.violations, "v%d", i+1)
				require.Empty(t, oc.valueErr, "v%d", i+1)
			}
		})
	}
}

func TestLLVMReadsIncrementalOutput(t *testing.T) {
	tools.Require(t, "llvm-readobj")
	tools.Require(t, "llvm-objdump")
	path := filepath.Join(t.TempDir(), "out")
	// The zero policy: incr.Options{} and codegen.Compile's defaults.
	linkVersions(t, obj.ELF, elf.IncrImage{}, path, "", 0, func(i int, _ *ir.Module, _ *obj.Program, _ []byte) {
		require.NoError(t, CheckLLVM(path), "v%d", i+1)
	})
}

// TestInvariantsCatchInjectedBugs injects one linker bug at a time and
// asserts that the invariant named for it (or the value check) reports it.
func TestInvariantsCatchInjectedBugs(t *testing.T) {
	tests := []struct {
		name      string
		policy    incr.Policy
		faults    fault.Set
		invariant int    // the invariant that must report it (0: only the value)
		msg       string // part of the violation's message
	}{
		{name: "trampoline displacement from the wrong base", policy: incr.Trampoline,
			faults: fault.Of(fault.TrampolineBase), invariant: 4, msg: "trampoline jumps to"},
		{name: "GOT slot not rewritten after a move", policy: incr.ThroughGOT,
			faults: fault.Of(fault.SkipGOTRewrite), invariant: 3, msg: "GOT slot holds"},
		{name: "freed trampoline slot handed out while still referenced", policy: incr.Trampoline,
			faults: fault.Of(fault.FreeTrampolineSite), invariant: 4, msg: "neither the symbol"},
		{name: "symbol value not updated after a move", policy: incr.Trampoline,
			faults: fault.Of(fault.StaleSymbols), invariant: 6, msg: "does not point at the current contents"},
		{name: "section grown without moving its neighbour", policy: incr.Trampoline,
			faults: fault.Of(fault.GrowWithoutMove), invariant: 3, msg: "GOT slot holds 0x0"},
		{name: "trampolines chained", policy: incr.Trampoline,
			faults: fault.Of(fault.ChainTrampolines), invariant: 4, msg: "no function's start"},
		{name: "trampoline not retargeted", policy: incr.Trampoline,
			faults: fault.Of(fault.KeepTrampolineTarget), invariant: 4, msg: "trampoline jumps to"},
		{name: "over-alignment lost on a move", policy: incr.Trampoline,
			faults: fault.Of(fault.LoseAlignment), invariant: 5, msg: "the atom wants"},
		{name: "error table not regenerated", policy: incr.Trampoline,
			faults: fault.Of(fault.StaleErrorTable), invariant: 7, msg: ""},
		{name: "data pointer not re-patched", policy: incr.Trampoline,
			faults: fault.Of(fault.SkipPointerRepatch), invariant: 6, msg: "the symbol's current address is"},
		{name: "stale code after a shrink", policy: incr.Trampoline,
			faults: fault.Of(fault.ShrinkNoFill), invariant: 5, msg: "owned by no atom"},
		{name: "symtab sh_info off by one", policy: incr.Trampoline,
			faults: fault.Of(fault.SymtabInfoOffByOne), invariant: 6, msg: "sh_info"},
		{name: "freed GOT slot not cleared", policy: incr.ThroughGOT,
			faults: fault.Of(fault.StaleFreeGOTSlot), invariant: 5, msg: "owned by no atom"},
		{name: "segment size stale after growth", policy: incr.Trampoline,
			faults: fault.Of(fault.StaleSegmentSize), invariant: 5, msg: "not inside a loaded segment"},
		{name: "seed 000 error-table off-by-one", policy: incr.Trampoline,
			faults: fault.Of(fault.SeedErrTab), invariant: 7, msg: "names end at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found []string
			caught := false
			for i, oc := range runSequence(t, tt.policy, tt.faults) {
				for _, v := range oc.violations {
					found = append(found, fmt.Sprintf("v%d: %s", i+1, v))
					if v.Invariant == tt.invariant && strings.Contains(v.Msg, tt.msg) {
						caught = true
					}
				}
				if oc.valueErr != "" {
					found = append(found, fmt.Sprintf("v%d: value: %s", i+1, oc.valueErr))
				}
			}
			require.True(t, caught, "invariant %d did not report %q; found:\n%s", tt.invariant, tt.msg, strings.Join(found, "\n"))
			t.Logf("reported:\n%s", strings.Join(found, "\n"))
		})
	}
}

func TestDecodeErrorTable(t *testing.T) {
	read := func(tab []byte) func(uint64, uint64) ([]byte, bool) {
		return func(addr, n uint64) ([]byte, bool) {
			if addr+n > uint64(len(tab)) {
				return nil, false
			}
			return tab[addr : addr+n], true
		}
	}
	good := obj.ErrorTable([]string{"OutOfMemory", "FileNotFound"}, 0).Data
	names, err := DecodeErrorTable(read(good), 0, uint64(len(good)))
	require.NoError(t, err)
	require.Equal(t, []string{"OutOfMemory", "FileNotFound"}, names)

	empty := obj.ErrorTable(nil, 0).Data
	names, err = DecodeErrorTable(read(empty), 0, uint64(len(empty)))
	require.NoError(t, err)
	require.Empty(t, names)

	bad := append([]byte(nil), good...)
	bad[4] = 0xff
	_, err = DecodeErrorTable(read(bad), 0, uint64(len(bad)))
	require.ErrorContains(t, err, "off[1]")
	_, err = DecodeErrorTable(read(good), 0, uint64(len(good))+5)
	require.Error(t, err)
}
