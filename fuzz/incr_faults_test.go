package fuzz

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/ref/fault"
)

// injectedBug is one known linker bug and the part of the report that
// names the check meant to catch it.
type injectedBug struct {
	name   string
	faults fault.Set
	want   string
}

// requireSeedsCatch runs target's body over its seed inputs with each bug
// injected in turn and asserts that some seed reports it with the check
// meant to catch it: the seed set alone is enough to find each of them.
func requireSeedsCatch(t *testing.T, target incrTarget, bugs []injectedBug) {
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	seeds := incrSeeds(t, target)
	for _, tt := range bugs {
		t.Run(tt.name, func(t *testing.T) {
			var reports []string
			for _, s := range seeds {
				err := runIncr(context.Background(), target, decodeIncr(s), t.TempDir(),
					incrCheckOptions{Runner: runner, Faults: tt.faults})
				if err == nil {
					continue
				}
				reports = append(reports, err.Error())
				if !strings.Contains(err.Error(), tt.want) {
					continue
				}
				head, _, _ := strings.Cut(err.Error(), ": after update")
				for _, line := range strings.Split(err.Error(), "\n") {
					if strings.Contains(line, tt.want) {
						t.Logf("caught (%s): %s", head, strings.TrimPrefix(line, head+": "))
						break
					}
				}
				return
			}
			require.Fail(t, "not caught", "no seed reported %q; reports:\n%s", tt.want, strings.Join(reports, "\n\n"))
		})
	}
}

// TestFuzzIncrementalELFCatchesInjectedBugs: FuzzIncrementalELF's seeds
// catch each injected bug by the invariant meant to catch it.
func TestFuzzIncrementalELFCatchesInjectedBugs(t *testing.T) {
	requireSeedsCatch(t, targetIncrementalELF, []injectedBug{
		{"trampoline displacement from the wrong base", fault.Of(fault.TrampolineBase), "invariant 4"},
		{"GOT slot not rewritten after a move", fault.Of(fault.SkipGOTRewrite), "invariant 3"},
		{"freed trampoline site handed out while still referenced", fault.Of(fault.FreeTrampolineSite), "invariant 4"},
		{"symbol values not updated after a move", fault.Of(fault.StaleSymbols), "invariant 6"},
		{"region grown without moving its neighbours", fault.Of(fault.GrowWithoutMove), "invariant 3"},
		{"seed 000 error-table off-by-one", fault.Of(fault.SeedErrTab), "invariant 7"},
	})
}

// TestFuzzIncrementalMachOCatchesInjectedBugs is the Mach-O target's
// proof: over its seeds, each injected bug is reported by the invariant
// meant to catch it.
func TestFuzzIncrementalMachOCatchesInjectedBugs(t *testing.T) {
	requireSeedsCatch(t, targetIncrementalMachO, []injectedBug{
		{"trampoline displacement off by 5", fault.Of(fault.TrampolineBase), "invariant 4"},
		{"GOT slot left stale", fault.Of(fault.SkipGOTRewrite), "invariant 3"},
		{"region grown without moving the regions after it", fault.Of(fault.GrowWithoutMove), "invariant 3"},
		{"data pointer not re-patched", fault.Of(fault.SkipPointerRepatch), "invariant 6"},
		{"segment grown without moving __LINKEDIT", fault.Of(fault.MachOStaleLinkEdit), "segment __LINKEDIT at file offset"},
	})
}

// TestFuzzIncrementalCOFFCatchesInjectedBugs is the PE target's proof:
// over its seeds, each injected bug is reported by the check meant to
// catch it.
func TestFuzzIncrementalCOFFCatchesInjectedBugs(t *testing.T) {
	requireSeedsCatch(t, targetIncrementalCOFF, []injectedBug{
		{"trampoline displacement off by 5", fault.Of(fault.TrampolineBase), "invariant 4"},
		{"GOT slot left stale", fault.Of(fault.SkipGOTRewrite), "invariant 3"},
		{"data pointer not re-patched", fault.Of(fault.SkipPointerRepatch), "invariant 6"},
		{"pointer missing from the base relocations", fault.Of(fault.PEMissingBaseReloc), "has no base relocation"},
		{"SizeOfImage misses the last section", fault.Of(fault.PEStaleSizeOfImage), "SizeOfImage is"},
	})
}

// TestFuzzIncrementalWasmCatchesInjectedBugs is the Wasm target's proof:
// over its seeds, each injected bug is reported by the invariant meant to
// catch it.
func TestFuzzIncrementalWasmCatchesInjectedBugs(t *testing.T) {
	requireSeedsCatch(t, targetIncrementalWasm, []injectedBug{
		{"table slot left stale after a move", fault.Of(fault.SkipGOTRewrite), "invariant 3"},
		{"body grown over its neighbour", fault.Of(fault.LastAtomOverflow), "invariant 5"},
		{"error slice length off by one", fault.Of(fault.WasmErrLenOffByOne), "invariant 7"},
		{"data pointer not re-patched", fault.Of(fault.SkipPointerRepatch), "invariant 6"},
		{"a deleted function's table slot left filled", fault.Of(fault.StaleFreeGOTSlot), "invariant 3"},
	})
}
