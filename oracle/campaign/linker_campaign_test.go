package campaign

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

// TestLinkerCampaign runs FuzzLinker through a campaign aimed by -linker
// at a cmd: linker: the script of corpus/regressions'
// linker_text-operand_link-branch-bias scenario, ld.lld with the
// catalogue's link-branch-bias defect planted into its output when
// LINKCHECK_FAULTS names it. The campaign must find it, record the linker
// with the finding, and reduce it to a scenario of at most 3 functions
// that carries the script, fails with the defect and passes without it.
func TestLinkerCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fuzz package and runs a campaign")
	}
	for _, tool := range []string{"ld.lld", "llvm-objdump", "llvm-readobj"} {
		tools.Require(t, tool)
	}
	src := copyTree(t)
	ar, err := txtar.ParseFile(filepath.Join(src, "corpus", "regressions", "linker_text-operand_link-branch-bias.txtar"))
	require.NoError(t, err)
	script := filepath.Join(t.TempDir(), "broken-ld.sh")
	for _, f := range ar.Files {
		if f.Name == "linker.sh" {
			require.NoError(t, os.WriteFile(script, f.Data, 0o755))
		}
	}
	require.FileExists(t, script)
	out := filepath.Join(t.TempDir(), "out")
	tmpl := "cmd:" + script + " {out} {objs}"
	st, err := Run(context.Background(), Config{Src: src, Out: out, Targets: "FuzzLinker", Linker: tmpl, Time: 10 * time.Second, Jobs: 1,
		Faults: "link-branch-bias", Triage: true, ReduceBudget: time.Minute})
	require.NoError(t, err)
	require.Equal(t, tmpl, st.Linker)
	require.Positive(t, st.Status["FuzzLinker"].Findings)
	rep, err := BuildReport(out)
	require.NoError(t, err)
	var reduced *Finding
	for _, f := range rep.Findings {
		require.Equal(t, tmpl, f.Linker)
		require.Contains(t, f.Message, "text.operand")
		if f.Reduced != nil {
			reduced = f
		}
	}
	require.NotNil(t, reduced, "no finding was reduced")
	red := reduced.Reduced
	t.Logf("%s: %d functions, %d objects, %d tries: %s", red.Signature, red.Funcs, red.Units, red.Tries, red.Reproduces)
	require.LessOrEqual(t, red.Funcs, 3)
	require.True(t, strings.HasPrefix(red.Reproduces, "yes:"), red.Reproduces)
	require.Contains(t, red.Reproduces, "passes without")
	text, err := os.ReadFile(filepath.Join(out, red.Scenario))
	require.NoError(t, err)
	for _, want := range []string{"# linker: " + tmpl, "# fault: link-branch-bias", "-- prog.lir --", "-- linker.sh --",
		"exec linkcheck diff -format elf -linker cmd:$WORK/linker.sh' {out} {objs}' -units"} {
		require.Contains(t, string(text), want)
	}
}
