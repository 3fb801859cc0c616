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
// The seeded defects in LINKCHECK_FAULTS reach the scenarios, so that a
// linkcheck whose update command plants them makes the scenario fail:
// `LINKCHECK_FAULTS=trampoline-base go test ./cmd/linkcheck -run
// TestRegressions` is then the buggy code.
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
