package fuzz

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/ref/ir"
)

// The campaign's replay protocol (oracle/campaign runs this test in a
// built test binary to judge a reduction candidate and to read the program
// versions of a sequence): the input file in ReplayInputEnv is decoded as
// the target in ReplayTargetEnv decodes it, run with that target's checks
// (and the faults in FaultsEnv) and the result is written as JSON to
// ReplayOutEnv.
const (
	ReplayTargetEnv = "LINKCHECK_REPLAY_TARGET"
	ReplayInputEnv  = "LINKCHECK_REPLAY_INPUT"
	ReplayOutEnv    = "LINKCHECK_REPLAY_OUT"
)

// replayResult is what TestCampaignReplay writes: the sequence's versions
// (as .lir source, the first version first), the update number that made
// each, the edit log, the policy and the failure ("" when every check
// held).
type replayResult struct {
	Target   string   `json:"target"`
	Input    []byte   `json:"input"`
	Policy   string   `json:"policy"`
	Funcs    int      `json:"funcs"`
	Versions []string `json:"versions"`
	Steps    []int    `json:"steps"`
	Log      []string `json:"log"`
	Error    string   `json:"error,omitempty"`
	// Units and Linker are FuzzLinker's: the objects the program is split
	// into and the linker under test (LINKCHECK_LINKER, or the default).
	Units  int    `json:"units,omitempty"`
	Linker string `json:"linker,omitempty"`
}

// incrTargetsByName are the incremental targets, by fuzz target name.
var incrTargetsByName = map[string]incrTarget{
	targetIncrementalELF.name:   targetIncrementalELF,
	targetIncrementalMachO.name: targetIncrementalMachO,
	targetIncrementalCOFF.name:  targetIncrementalCOFF,
	targetIncrementalWasm.name:  targetIncrementalWasm,
	targetErrorTable.name:       targetErrorTable,
	targetTrampoline.name:       targetTrampoline,
	targetGOT.name:              targetGOT,
}

// TestCampaignReplay is not a test of its own: it runs only when
// ReplayTargetEnv is set (by `linkcheck fuzz`'s triage) and is skipped
// otherwise.
func TestCampaignReplay(t *testing.T) {
	name := os.Getenv(ReplayTargetEnv)
	if name == "" {
		t.Skip("the campaign's replay helper: runs only with " + ReplayTargetEnv + " set")
	}
	switch name {
	case "FuzzLinker":
		replayLinker(t)
		return
	case "FuzzWasmProgram":
		replayWasm(t)
		return
	}
	tg, ok := incrTargetsByName[name]
	require.True(t, ok, "%s=%s: not an incremental target nor FuzzLinker", ReplayTargetEnv, name)
	var data []byte
	if src := os.Getenv(ReplayInputEnv); strings.HasPrefix(src, "seed#") {
		// A seed entry added by the target (f.Add), which Go writes nowhere.
		n, err := strconv.Atoi(strings.TrimPrefix(src, "seed#"))
		require.NoError(t, err)
		seeds := incrSeeds(t, tg)
		require.Less(t, n, len(seeds), "%s has %d seeds", name, len(seeds))
		data = seeds[n]
	} else {
		var err error
		data, err = os.ReadFile(src)
		require.NoError(t, err)
	}
	faults, err := envFaults()
	require.NoError(t, err)
	in := decodeIncr(data)
	res := replayResult{Target: name, Input: data, Policy: string(tg.policyOf(in)), Funcs: tg.genConfig(in).Funcs}
	m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), tg.genConfig(in))
	mods, steps, _, _ := versions(tg, in, m)
	for _, v := range mods {
		res.Versions = append(res.Versions, string(ir.Print(v)))
	}
	res.Steps = steps
	runner := exec.NewRunner()
	defer runner.Close()
	log, err := runIncrLog(context.Background(), tg, in, t.TempDir(), incrCheckOptions{Runner: runner, LLVMEvery: llvmSample, Faults: faults})
	res.Log = log
	if err != nil {
		res.Error = err.Error()
	}
	writeReplay(t, res)
}

// writeReplay writes the replay's result to ReplayOutEnv atomically.
func writeReplay(t *testing.T, res replayResult) {
	out, err := json.MarshalIndent(res, "", "  ")
	require.NoError(t, err)
	path := os.Getenv(ReplayOutEnv)
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, out, 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

// replayLinker is TestCampaignReplay for FuzzLinker: the input (a file;
// seed#N for the target's seeds) is decoded as FuzzLinker decodes it and
// checked against the linker under test; the result holds the program and
// its split.
func replayLinker(t *testing.T) {
	l := linkerUnderTest(t)
	lldL, err := linker.Lookup(linker.LLD)
	require.NoError(t, err)
	var data []byte
	if src := os.Getenv(ReplayInputEnv); strings.HasPrefix(src, "seed#") {
		n, err := strconv.Atoi(strings.TrimPrefix(src, "seed#"))
		require.NoError(t, err)
		seeds := linkerSeeds()
		require.Less(t, n, len(seeds), "FuzzLinker has %d seeds", len(seeds))
		data = encodeLinker(seeds[n])
	} else {
		data, err = os.ReadFile(src)
		require.NoError(t, err)
	}
	in := DecodeLinker(data)
	funcs, units := 1+int(in.Funcs)%40, 1+int(in.Units)%4
	m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), ir.GenConfig{Funcs: funcs})
	name := os.Getenv(LinkerEnv)
	if name == "" {
		name = l.Name
	}
	res := replayResult{Target: "FuzzLinker", Input: data, Funcs: funcs, Units: units, Linker: name, Versions: []string{string(ir.Print(m))}, Steps: []int{0}}
	runner := exec.NewRunner()
	defer runner.Close()
	if err := checkLinker(context.Background(), l, lldL, in, runner, t.TempDir(), linkerCheck{}); err != nil {
		res.Error = err.Error()
	}
	writeReplay(t, res)
}

// TestDecodeIncrMatchesTargets checks that fuzz/decode.go's exported
// decoding (used by the campaign's reducer) decodes every seed of every
// incremental target as the targets do, and that EncodeIncr inverts it.
func TestDecodeIncrMatchesTargets(t *testing.T) {
	var names []string
	for n := range incrTargetsByName {
		names = append(names, n)
	}
	sort.Strings(names)
	require.Equal(t, IncrTargets, names)
	for _, n := range names {
		for i, s := range incrSeeds(t, incrTargetsByName[n]) {
			want := decodeIncr(s)
			got := DecodeIncr(s)
			require.Equal(t, want.Seed, got.Seed, "%s seed %d", n, i)
			require.Equal(t, want.Funcs, got.Funcs, "%s seed %d", n, i)
			require.Equal(t, want.Errors, got.Errors, "%s seed %d", n, i)
			require.Equal(t, want.GOT, got.GOT, "%s seed %d", n, i)
			require.Equal(t, len(want.Edits), len(got.Edits), "%s seed %d", n, i)
			for j, e := range want.Edits {
				require.Equal(t, IncrEdit(e), got.Edits[j], "%s seed %d edit %d", n, i, j)
			}
			require.Equal(t, got, DecodeIncr(EncodeIncr(got)), "%s seed %d", n, i)
		}
	}
	// The two structures have the same shape, so gofuzz draws the same.
	require.Equal(t, reflect.TypeOf(incrInput{}).NumField(), reflect.TypeOf(IncrInput{}).NumField())
}

// replayWasm is TestCampaignReplay for FuzzWasmProgram: the input file
// holds the target's three arguments as a JSON LinkerInput (seed, funcs,
// units; seed#N for the target's seeds), checked as the target checks them with the defects of
// FaultsEnv planted in wasmgen; the result holds the program and its
// split.
func replayWasm(t *testing.T) {
	var in LinkerInput
	if src := os.Getenv(ReplayInputEnv); strings.HasPrefix(src, "seed#") {
		n, err := strconv.Atoi(strings.TrimPrefix(src, "seed#"))
		require.NoError(t, err)
		seeds := wasmSeeds()
		require.Less(t, n, len(seeds), "FuzzWasmProgram has %d seeds", len(seeds))
		in = seeds[n]
	} else {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &in))
	}
	data, err := json.Marshal(in)
	require.NoError(t, err)
	faults, err := envFaults()
	require.NoError(t, err)
	m := ir.Generate(ir.GenConfig{Seed: in.Seed, Funcs: 1 + int(in.Funcs%40)})
	res := replayResult{Target: "FuzzWasmProgram", Input: data, Funcs: len(m.Funcs), Units: 1 + int(in.Units%4),
		Versions: []string{string(ir.Print(m))}, Steps: []int{0}}
	if err := checkWasmProgram(context.Background(), in, faults, t.TempDir(), nil); err != nil {
		res.Error = err.Error()
	}
	writeReplay(t, res)
}
