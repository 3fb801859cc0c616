package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/campaign"
	"github.com/linkcheck/linkcheck/oracle/tools"
)

// regressionsDir holds the regression scenarios that `linkcheck fuzz`
// reduced its findings to (copied from a campaign's OUT/regressions).
const regressionsDir = "../../corpus/regressions"

func regressionFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(regressionsDir, "*.txtar"))
	require.NoError(t, err)
	if len(files) == 0 {
		t.Skip("no regression scenarios in corpus/regressions")
	}
	sort.Strings(files)
	return files
}

// TestRegressions runs every scenario in corpus/regressions/*.txtar as a
// testscript, with the setup of the scripts/ scenarios: on a correct
// linker each passes.
//
// The seeded defects in LINKCHECK_FAULTS reach the scenarios. `linkcheck
// update` does not plant them (TestRegressionsFailWithTheirDefect replays
// the incremental scenarios with their defect through update's path); a
// scenario's own cmd: linker script does: `LINKCHECK_FAULTS=link-branch-bias
// go test ./cmd/linkcheck -run TestRegressions` fails
// linker_text-operand_link-branch-bias, the buggy linker.
func TestRegressions(t *testing.T) {
	regressionFiles(t)
	p := scriptParams(regressionsDir, "")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		if v, ok := os.LookupEnv(campaign.FaultsEnv); ok {
			env.Setenv(campaign.FaultsEnv, v)
		}
		return nil
	}
	testscript.Run(t, p)
}

var (
	faultLine  = regexp.MustCompile(`(?m)^# fault: (\S+)$`)
	sigLine    = regexp.MustCompile(`(?m)^# signature: (.+)$`)
	policyFlag = regexp.MustCompile(`-policy (\S+)`)
	versionRe  = regexp.MustCompile(`^v(\d+)\.lir$`)
	linkerLine = regexp.MustCompile(`(?m)^# linker: (.+)$`)
	unitsLine  = regexp.MustCompile(`(?m)^# units: (\d+)$`)
	unitsFlag  = regexp.MustCompile(`(?m)^exec linkcheck diff .*-units (\d+) prog\.lir$`)
	keysRe     = regexp.MustCompile(`\[([a-z.,_]+)\]`)
)

// TestRegressionsFailWithTheirDefect replays each scenario that a campaign
// found with a seeded defect planted (`# fault: NAME`) with that defect
// planted again, through the file-based path of `linkcheck update` and
// the checks of `linkcheck check`: it must fail the check its signature
// names, so the scenario still catches the bug it was reduced from.
func TestRegressionsFailWithTheirDefect(t *testing.T) {
	files := regressionFiles(t)
	tools.Require(t, "llvm-readobj")
	tools.Require(t, "llvm-objdump")
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			ar := txtar.Parse(data)
			m := faultLine.FindSubmatch(ar.Comment)
			if m == nil {
				t.Skip("not found with a seeded defect: it fails on the buggy linker itself")
			}
			sig := sigLine.FindSubmatch(ar.Comment)
			require.NotNil(t, sig, "no # signature: line")
			if l := linkerLine.FindSubmatch(ar.Comment); l != nil {
				linkerScenarioFails(t, ar, string(l[1]), string(m[1]), string(sig[1]))
				return
			}
			if u := unitsLine.FindSubmatch(ar.Comment); u != nil {
				wasmScenarioFails(t, ar, string(u[1]), string(m[1]))
				return
			}
			check, _, _ := strings.Cut(string(sig[1]), " | ")
			check, _, _ = strings.Cut(check, " [")
			pol := policyFlag.FindSubmatch(ar.Comment)
			require.NotNil(t, pol, "no linkcheck update -policy in the script")
			versions := map[int]string{}
			for _, f := range ar.Files {
				if v := versionRe.FindStringSubmatch(f.Name); v != nil {
					n, _ := strconv.Atoi(v[1])
					versions[n] = string(f.Data)
				}
			}
			var seq []string
			for i := 1; i <= len(versions); i++ {
				v, ok := versions[i]
				require.True(t, ok, "v%d.lir missing", i)
				seq = append(seq, v)
			}
			err = campaign.ReplayScenario(context.Background(), seq, string(pol[1]), string(m[1]))
			require.Error(t, err, "with %s planted the scenario passes", m[1])
			require.Contains(t, err.Error(), check)
			t.Logf("with %s: %s", m[1], strings.SplitN(err.Error(), "\n", 2)[0])
		})
	}
}

// linkerScenarioFails replays a FuzzLinker scenario (prog.lir, the -units
// of its linkcheck diff, the linker of its # linker: line, its own
// linker.sh when it has one) with the seeded defect fault in the linker's
// environment: the link must differ from ld.lld's under the signature's
// diff keys, or compute a wrong value.
func linkerScenarioFails(t *testing.T, ar *txtar.Archive, name, fault, sig string) {
	files := map[string][]byte{}
	for _, f := range ar.Files {
		files[f.Name] = f.Data
	}
	prog, ok := files["prog.lir"]
	require.True(t, ok, "prog.lir missing")
	u := unitsFlag.FindSubmatch(ar.Comment)
	require.NotNil(t, u, "no linkcheck diff -units N prog.lir in the script")
	units, _ := strconv.Atoi(string(u[1]))
	if script, ok := files["linker.sh"]; ok {
		tmpl, ok := strings.CutPrefix(name, "cmd:")
		require.True(t, ok, "a linker.sh with the linker %s", name)
		path := filepath.Join(t.TempDir(), "linker.sh")
		require.NoError(t, os.WriteFile(path, script, 0o755))
		fields := strings.Fields(tmpl)
		name = "cmd:" + strings.Join(append([]string{path}, fields[1:]...), " ")
	}
	t.Setenv(campaign.FaultsEnv, "")
	require.NoError(t, campaign.ReplayLinkerScenario(context.Background(), string(prog), units, name), "without %s the scenario fails", fault)
	t.Setenv(campaign.FaultsEnv, fault)
	err := campaign.ReplayLinkerScenario(context.Background(), string(prog), units, name)
	require.Error(t, err, "with %s planted the scenario passes", fault)
	if k := keysRe.FindStringSubmatch(sig); k != nil {
		for _, key := range strings.Split(k[1], ",") {
			require.Contains(t, err.Error(), key)
		}
	}
	t.Logf("with %s: %s", fault, strings.ReplaceAll(err.Error(), "\n", " | "))
}

// wasmScenarioFails replays a FuzzWasmProgram scenario (prog.lir in the
// objects of its # units: line) with the seeded defect fault planted in
// ref/wasmgen: the module must compute a wrong value; without it, the
// right one.
func wasmScenarioFails(t *testing.T, ar *txtar.Archive, units, fault string) {
	tools.Require(t, "wasm-ld")
	var prog []byte
	for _, f := range ar.Files {
		if f.Name == "prog.lir" {
			prog = f.Data
		}
	}
	require.NotNil(t, prog, "prog.lir missing")
	n, _ := strconv.Atoi(units)
	require.NoError(t, campaign.ReplayWasmScenario(context.Background(), string(prog), n, ""), "without %s the scenario fails", fault)
	err := campaign.ReplayWasmScenario(context.Background(), string(prog), n, fault)
	require.Error(t, err, "with %s planted the scenario passes", fault)
	t.Logf("with %s: %s", fault, strings.ReplaceAll(err.Error(), "\n", " | "))
}
