package campaign

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/invariant"
	"github.com/linkcheck/linkcheck/oracle/tools"
)

// writeSampleCampaign writes a finished campaign's files into out as a
// campaign would: its state, its events, one reduced finding.
func writeSampleCampaign(t *testing.T, out string) {
	t.Helper()
	for _, d := range []string{"findings", "regressions"} {
		require.NoError(t, os.MkdirAll(filepath.Join(out, d), 0o755))
	}
	start := time.Date(2026, 12, 1, 9, 41, 15, 0, time.UTC)
	st := &State{Module: ModulePath, Src: "/src/linkcheck", Started: start, Time: time.Minute, Jobs: 2, Faults: "trampoline-base",
		Targets: []Target{{Name: "FuzzErrorTable", File: "incr_test.go", Formats: []string{"elf"}, Incremental: true},
			{Name: "FuzzParse", File: "parse_test.go"}},
		Status: map[string]*TargetState{
			"FuzzErrorTable": {Share: time.Minute, Used: time.Minute, Parallel: 1, Runs: 2, Execs: 676, Corpus: 174, NewInteresting: 171, ExecsPerSec: 25, Findings: 1, Done: true,
				Checked: 6012, CheckedPerSec: 100, Checks: map[string]int64{"invariant 5 (layout)": 6688, "invariant 7 (error table)": 6688, "invariant 4 (trampoline)": 3020,
					"invariant 2 (fresh link)": 2100, "diff key text.operand": 2100, "diff key errtab.name": 2100}},
			"FuzzParse": {Share: time.Minute, Used: time.Minute, Parallel: 1, Runs: 1, Execs: 90000, Corpus: 300, NewInteresting: 280, ExecsPerSec: 1500, Done: true},
		}}
	require.NoError(t, writeJSONAtomic(filepath.Join(out, "campaign.json"), st))
	var events strings.Builder
	for i := 1; i <= 20; i++ {
		for _, e := range []Event{
			{Event: "progress", Target: "FuzzErrorTable", Elapsed: float64(3 * i), Execs: int64(34 * i), Checked: int64(300 * i), Corpus: 100 + i},
			{Event: "progress", Target: "FuzzParse", Elapsed: float64(3 * i), Execs: int64(4500 * i), Corpus: 200 + 5*i},
		} {
			data, err := jsonLine(e)
			require.NoError(t, err)
			events.WriteString(data)
		}
	}
	events.WriteString(`{"event":"progress","target":"FuzzPar`) // a line cut by a crash
	require.NoError(t, os.WriteFile(filepath.Join(out, "events.jsonl"), []byte(events.String()), 0o644))
	msg := "FuzzErrorTable, policy trampoline, seed 1, 4 functions: after update 2: invariant 4 (trampoline): main at 0x10004a0: trampoline jumps to 0x1000785, the symbol's current address is 0x1000780\n" +
		"invariant 2 (fresh link): the canonical image differs from a fresh link's:\ntext.operand     _start+0x0 insn 0\n    fresh: call main\n    incr: call main+0x5 ; via trampoline\n" +
		"edits:\n  1: add-error E1_ at 0\n  2: use-error: main adds errlen(error.E1_)\nversion checked:\nerrors E1_\nfunc main() { return errlen(error.E1_) }\n"
	sig := ParseSignature(msg)
	f := &Finding{ID: "FuzzErrorTable-8b53ecb0125950af", Target: "FuzzErrorTable", Name: "8b53ecb0125950af", HasInput: true, Message: msg,
		Found: start.Add(30 * time.Second), Faults: "trampoline-base", Signature: &sig,
		Reduced: &Reduction{Signature: sig.String(), Funcs: 1, Updates: 1, Tries: 57, Scenario: "regressions/errortable_inv4_use-error_trampoline-base.txtar",
			Reproduces: "yes: fails invariant 4 (trampoline) with trampoline-base, passes without", Message: msg}}
	f.Reproduce = reproduceCommand(f)
	_, err := findingStore{filepath.Join(out, "findings")}.create(f, FormatCorpusFile([]byte("input")), "/src/linkcheck")
	require.NoError(t, err)
	scenario := "# Regression scenario\nexec linkcheck update -format elf -policy trampoline -o out v1.lir\nexec linkcheck check out\n-- v1.lir --\nfunc main() { return 1 }\n"
	require.NoError(t, os.WriteFile(filepath.Join(out, f.Reduced.Scenario), []byte(scenario), 0o644))
}

func jsonLine(e Event) (string, error) {
	data, err := json.Marshal(e)
	return string(data) + "\n", err
}

func TestReportJSON(t *testing.T) {
	out := t.TempDir()
	writeSampleCampaign(t, out)
	rep, err := WriteReport(out)
	require.NoError(t, err)
	require.Len(t, rep.Targets, 2)
	require.Len(t, rep.Targets[0].Series, 20, "the cut last line is skipped")
	require.Equal(t, []SignatureGroup{{Target: "FuzzErrorTable", Signature: "invariant 4 (trampoline) | use-error | func",
		Findings: []string{"FuzzErrorTable-8b53ecb0125950af"}, Scenario: "regressions/errortable_inv4_use-error_trampoline-base.txtar"}}, rep.Signatures)
	byName := map[string]CheckCoverage{}
	for _, c := range rep.Checks {
		byName[c.Name] = c
	}
	require.Equal(t, []string{"FuzzErrorTable-8b53ecb0125950af"}, byName["invariant 4 (trampoline)"].Failed)
	require.Equal(t, []string{"FuzzErrorTable"}, byName["text.operand"].By)
	require.Equal(t, int64(6688), byName["invariant 7 (error table)"].Count)
	require.Equal(t, int64(2100), byName["errtab.name"].PerTarget["FuzzErrorTable"])
	require.Empty(t, byName["invariant 3 (GOT slot)"].By, "measured: no GOT reference was checked")
	require.Zero(t, byName["data.bss"].Count)
	require.Equal(t, 6, rep.Exercised())
	require.Equal(t, int64(6000), rep.Targets[0].Series[19].Checked)
	_, err = os.Stat(filepath.Join(out, "report.json"))
	require.NoError(t, err)
}

// TestReportInChromium renders report.html in headless Chromium and checks
// what the page shows: the summary, a row per target, one line per target
// in the SVG plot, the checks, the finding with its signature, reduction,
// failing check, diff and scenario; and that the page loads nothing from
// elsewhere.
func TestReportInChromium(t *testing.T) {
	chromium := tools.Require(t, "chromium")
	out := t.TempDir()
	writeSampleCampaign(t, out)
	_, err := WriteReport(out)
	require.NoError(t, err)
	page := filepath.Join(out, "report.html")
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	for _, ext := range []string{"http://", "https://", "<script", "<link", "src="} {
		if ext == "http://" {
			// The SVG namespace of the two plots is the one URL allowed.
			require.Equal(t, 2, strings.Count(string(html), "http://www.w3.org/2000/svg"), "the two plots")
			require.Equal(t, 2, strings.Count(string(html), ext), "the page refers to %s", ext)
			continue
		}
		require.NotContains(t, string(html), ext, "the page must not load external assets")
	}
	cmd := exec.Command(chromium.Path, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	dom, err := cmd.Output()
	require.NoError(t, err, "chromium --dump-dom")
	s := string(dom)
	// Every invariant and diff key is listed; the sample exercises 6.
	checks := len(invariant.Names) + len(diff.Keys())
	for _, want := range []string{
		"2 target(s)", "1 finding(s)", "seeded defects planted: <code>trampoline-base</code>",
		"<td>FuzzErrorTable</td>", "<td>FuzzParse</td>", ">90000<",
		`id="execs-plot"`, `id="checked-plot"`, `data-target="FuzzErrorTable"`, `data-target="FuzzParse"`,
		">6012<", fmt.Sprintf("6 of %d checks exercised", checks), "FuzzErrorTable (3020)",
		"<code>invariant 4 (trampoline)</code>", "<code>text.operand</code>",
		"FuzzErrorTable: invariant 4 (trampoline) | use-error | func",
		"Reduced to <b>1 function(s) and 1 update(s)</b> in 57 tries",
		"incr: call main+0x5 ; via trampoline",
		"regressions/errortable_inv4_use-error_trampoline-base.txtar",
		"exec linkcheck update -format elf -policy trampoline -o out v1.lir",
	} {
		require.Contains(t, s, want)
	}
	require.Equal(t, 4, strings.Count(s, `class="series"`), "one line per target with a series, in both plots")
	require.Equal(t, checks-6, strings.Count(s, `class="check unexercised"`), "the checks never evaluated show")
	shot := filepath.Join(out, "report.png")
	cmd = exec.Command(chromium.Path, "--headless", "--no-sandbox", "--disable-gpu", "--screenshot="+shot, "--window-size=1280,900", "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	require.NoError(t, cmd.Run(), "chromium --screenshot")
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.True(t, len(png) > 1000 && string(png[1:4]) == "PNG", "not a PNG screenshot")
}
