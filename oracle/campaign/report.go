package campaign

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/fuzz"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/invariant"
)

// Report is OUT/report.json: the campaign's targets with their series,
// the checks the campaign exercised and its findings.
type Report struct {
	Generated time.Time      `json:"generated"`
	Started   time.Time      `json:"started"`
	Src       string         `json:"src"`
	Time      time.Duration  `json:"time"`
	Jobs      int            `json:"jobs"`
	Faults    string         `json:"faults,omitempty"`
	Linker    string         `json:"linker,omitempty"`
	Resumes   int            `json:"resumes"`
	Targets   []TargetReport `json:"targets"`
	// Checks are the invariants and diff keys, with the targets that
	// exercise them and the findings that failed them.
	Checks   []CheckCoverage `json:"checks"`
	Findings []*Finding      `json:"findings"`
	// Signatures groups the findings: signature -> finding IDs.
	Signatures []SignatureGroup `json:"signatures"`
}

// TargetReport is one target's totals and its series of status lines.
type TargetReport struct {
	Target
	TargetState
	Series []Point `json:"series"`
}

// Point is one status line: fuzzing time used, executions and checked
// updates so far.
type Point struct {
	T       float64 `json:"t"`
	Execs   int64   `json:"execs"`
	Checked int64   `json:"checked"`
	// Corpus is the corpus size then.
	Corpus int `json:"corpus"`
}

// CheckCoverage is one judge of the campaign, measured: how often the
// targets evaluated it on a subject, as their processes recorded it
// (fuzz.Stats.Checks).
type CheckCoverage struct {
	Kind string `json:"kind"` // invariant or diff key
	Name string `json:"name"`
	// By lists the targets that evaluated the check, Count how often they
	// did (all targets), PerTarget the count per target.
	By        []string         `json:"by"`
	Count     int64            `json:"count"`
	PerTarget map[string]int64 `json:"per_target,omitempty"`
	// Failed lists the findings whose signature names the check.
	Failed []string `json:"failed,omitempty"`
}

// SignatureGroup is the findings of one signature.
type SignatureGroup struct {
	Target    string   `json:"target"`
	Signature string   `json:"signature"`
	Findings  []string `json:"findings"`
	Scenario  string   `json:"scenario,omitempty"`
}

// BuildReport assembles the report of the campaign in out.
func BuildReport(out string) (*Report, error) {
	data, err := os.ReadFile(filepath.Join(out, "campaign.json"))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("report: campaign.json: %w", err)
	}
	rep := &Report{Generated: time.Now().UTC(), Started: st.Started, Src: st.Src, Time: st.Time, Jobs: st.Jobs, Faults: st.Faults, Linker: st.Linker, Resumes: st.Resumes}
	series := readSeries(filepath.Join(out, "events.jsonl"))
	for _, t := range st.Targets {
		tr := TargetReport{Target: t, Series: series[t.Name]}
		if ts := st.Status[t.Name]; ts != nil {
			tr.TargetState = *ts
			tr.PID = 0
		}
		rep.Targets = append(rep.Targets, tr)
	}
	findings, err := findingStore{filepath.Join(out, "findings")}.all()
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, f := range findings {
		if f.Signature == nil {
			s := ParseSignature(f.Message)
			f.Signature = &s
		}
	}
	rep.Findings = findings
	groups := map[string]*SignatureGroup{}
	for _, f := range findings {
		k := f.Target + "\x00" + f.Signature.String()
		g := groups[k]
		if g == nil {
			g = &SignatureGroup{Target: f.Target, Signature: f.Signature.String()}
			groups[k] = g
		}
		g.Findings = append(g.Findings, f.ID)
		if f.Reduced != nil && f.Reduced.Scenario != "" {
			g.Scenario = f.Reduced.Scenario
		}
	}
	for _, g := range groups {
		rep.Signatures = append(rep.Signatures, *g)
	}
	sort.Slice(rep.Signatures, func(i, j int) bool {
		a, b := rep.Signatures[i], rep.Signatures[j]
		return a.Target+a.Signature < b.Target+b.Signature
	})
	var invNums []int
	for n := range invariant.Names {
		invNums = append(invNums, n)
	}
	sort.Ints(invNums)
	var checks []CheckCoverage
	for _, n := range invNums {
		checks = append(checks, CheckCoverage{Kind: "invariant", Name: fuzz.CheckInvariant(n, invariant.Names[n])})
	}
	for _, k := range diff.Keys() {
		checks = append(checks, CheckCoverage{Kind: "diff key", Name: k})
	}
	for i := range checks {
		c := &checks[i]
		key := c.Name
		if c.Kind == "diff key" {
			key = fuzz.CheckDiffKey(c.Name)
		}
		for _, t := range rep.Targets {
			if n := t.Checks[key]; n > 0 {
				c.By = append(c.By, t.Name)
				c.Count += n
				if c.PerTarget == nil {
					c.PerTarget = map[string]int64{}
				}
				c.PerTarget[t.Name] = n
			}
		}
		for _, f := range findings {
			if (c.Kind == "invariant" && f.Signature.Check == c.Name) || (c.Kind == "diff key" && contains(f.Signature.Keys, c.Name)) {
				c.Failed = append(c.Failed, f.ID)
			}
		}
	}
	rep.Checks = checks
	return rep, nil
}

// Exercised is the number of checks the campaign evaluated at least once.
func (r *Report) Exercised() int {
	n := 0
	for _, c := range r.Checks {
		if c.Count > 0 {
			n++
		}
	}
	return n
}

// readSeries reads the progress events of events.jsonl, per target (lines
// that do not parse, such as a last line cut by a crash, are skipped).
func readSeries(path string) map[string][]Point {
	out := map[string][]Point{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Event != "progress" || e.Target == "" || e.Execs == 0 {
			continue
		}
		out[e.Target] = append(out[e.Target], Point{T: e.Elapsed, Execs: e.Execs, Checked: e.Checked, Corpus: e.Corpus})
	}
	return out
}

// WriteReport writes OUT/report.json and OUT/report.html (one static page,
// no external assets) and returns the report.
func WriteReport(out string) (*Report, error) {
	rep, err := BuildReport(out)
	if err != nil {
		return nil, err
	}
	if err := writeJSONAtomic(filepath.Join(out, "report.json"), rep); err != nil {
		return nil, err
	}
	page, err := renderHTML(rep, out)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(out, "report.html"), page, 0o644); err != nil {
		return nil, err
	}
	return rep, nil
}

// palette colours the targets' lines.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// plotSVG draws every target's executions (what "execs", or its checked
// updates for "checked") against its fuzzing time.
func plotSVG(rep *Report, what string) template.HTML {
	const w, h, left, bottom, top, right = 760, 300, 70, 40, 15, 200
	val := func(p Point) int64 { return p.Execs }
	id, label := "execs-plot", "executions over fuzzing time, per target"
	if what == "checked" {
		val = func(p Point) int64 { return p.Checked }
		id, label = "checked-plot", "checked updates over fuzzing time, per target"
	}
	maxT, maxE := 1.0, int64(1)
	for _, t := range rep.Targets {
		for _, p := range t.Series {
			maxT = math.Max(maxT, p.T)
			if val(p) > maxE {
				maxE = val(p)
			}
		}
	}
	x := func(t float64) float64 { return left + (w-left-right)*t/maxT }
	y := func(e int64) float64 { return top + (h-top-bottom)*(1-float64(e)/float64(maxE)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" id="%s" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, id, w, h, w, h, label)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" stroke="#ccc"/>`, left, top, w-left-right, h-top-bottom)
	for i := 0; i <= 4; i++ {
		e := maxE * int64(i) / 4
		t := maxT * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end">%d</text>`, left-6, y(e)+4, e)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>`, x(t), h-bottom+16, (time.Duration(t) * time.Second).String())
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="middle">fuzzing time used by the target</text>`, left+(w-left-right)/2, h-4)
	for i, t := range rep.Targets {
		col := palette[i%len(palette)]
		if len(t.Series) > 0 {
			var pts []string
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(0), y(0)))
			for _, p := range t.Series {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.T), y(val(p))))
			}
			fmt.Fprintf(&b, `<polyline class="series" data-target="%s" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, template.HTMLEscapeString(t.Name), col, strings.Join(pts, " "))
		}
		ly := top + 14 + 18*i
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12">%s</text>`, w-right+12, ly-10, col, w-right+30, ly, template.HTMLEscapeString(t.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur": func(d time.Duration) string { return d.Round(time.Second).String() },
	"per": func(n int64, d time.Duration) string {
		if d < time.Second {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(n)/d.Seconds())
	},
	"join": strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>linkcheck fuzz campaign report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}#checks td:first-child,#checks td:nth-child(2){white-space:nowrap}td.num{text-align:right}pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:8px;font-size:12px;overflow:auto;max-height:420px}
tr.unexercised td{color:#999}.fail{color:#b00020;font-weight:600}.ok{color:#1b7f2a}.muted{color:#777}details{margin:6px 0}
</style></head><body>
<h1>linkcheck fuzz campaign</h1>
<p id="summary">Started {{.Started.Format "2006-01-02 15:04:05 UTC"}}; {{dur .Time}} of fuzzing on {{.Jobs}} job(s); {{len .Targets}} target(s); <span class="{{if .Findings}}fail{{else}}ok{{end}}">{{len .Findings}} finding(s)</span> in {{len .Signatures}} signature(s){{if .Resumes}}; resumed {{.Resumes}} time(s){{end}}{{if .Faults}}; seeded defects planted: <code>{{.Faults}}</code>{{end}}{{if .Linker}}; linker under test: <code>{{.Linker}}</code>{{end}}.</p>
<h2>Targets</h2>
<table id="targets"><tr><th>target</th><th>formats</th><th>fuzzing time</th><th>runs</th><th>execs</th><th>execs/s</th><th>checked updates</th><th>checked/s</th><th>corpus</th><th>new interesting</th><th>findings</th><th>status</th></tr>
{{range .Targets}}<tr><td>{{.Name}}</td><td>{{join .Formats ", "}}</td><td class="num">{{dur .Used}} of {{dur .Share}}</td><td class="num">{{.Runs}}</td><td class="num">{{.Execs}}</td><td class="num">{{per .Execs .Used}}</td><td class="num">{{.Checked}}</td><td class="num">{{per .Checked .Used}}</td><td class="num">{{.Corpus}}</td><td class="num">{{.NewInteresting}}</td><td class="num{{if .Findings}} fail{{end}}">{{.Findings}}</td><td>{{if .Blocked}}<span class="fail">{{.Blocked}}</span>{{else if .Done}}done{{else}}interrupted{{end}}</td></tr>
{{end}}</table>
<h2>Executions over time</h2>
{{.Plot}}
<h2>Checked updates over time</h2>
<p class="muted">Updates after which the incremental targets' checks ran (for FuzzLinker: links compared), as the targets' processes recorded them.</p>
{{.CheckedPlot}}
<h2>Checks exercised</h2>
<p class="muted">Measured: how often the targets evaluated each check on a subject during the campaign, as their processes recorded it (an invariant when the output had something for it to check: a GOT reference for 3, a trampoline for 4, an error table for 7; a diff key when the compared images had its subject). {{.Exercised}} of {{len .Checks}} checks exercised.</p>
<table id="checks"><tr><th>check</th><th>evaluated by</th><th>times</th><th>failed by</th></tr>
{{range $c := .Checks}}<tr class="check{{if not .Count}} unexercised{{end}}"><td>{{if eq .Kind "diff key"}}diff key {{end}}<code>{{.Name}}</code></td><td>{{if .By}}{{range $i, $t := .By}}{{if $i}}, {{end}}{{$t}} ({{index $c.PerTarget $t}}){{end}}{{else}}<span class="muted">not exercised</span>{{end}}</td><td class="num">{{.Count}}</td><td>{{if .Failed}}<span class="fail">{{join .Failed ", "}}</span>{{end}}</td></tr>
{{end}}</table>
<h2>Findings</h2>
{{if not .Findings}}<p class="ok" id="no-findings">No finding.</p>{{end}}
{{range .Groups}}<div class="finding" id="sig-{{.Index}}"><h3 class="fail">{{.Target}}: {{.Signature}}</h3>
<p>{{len .Findings}} finding(s): {{range $i, $f := .Findings}}{{if $i}}, {{end}}<code>{{$f.ID}}</code>{{end}}</p>
{{with .First}}<p>Reproduce: <code>{{.Reproduce}}</code> (after <code>findings/{{.ID}}/reproduce.sh</code> puts the input in place){{if .Faults}}; seeded defect <code>{{.Faults}}</code>{{end}}.</p>
<details open><summary>The failing check and the diff</summary><pre class="message">{{.Message}}</pre></details>
{{with .Reduced}}<p class="reduced">Reduced to <b>{{if .LinkerReduced}}{{.Funcs}} function(s) in {{.Units}} object(s){{else}}{{.Funcs}} function(s) and {{.Updates}} update(s){{end}}</b> in {{.Tries}} tries; replayed {{if .LinkerReduced}}through the target's check{{else}}through <code>linkcheck update</code>{{end}}: {{.Reproduces}}.</p>
<details><summary>The reduced sequence's failure</summary><pre class="reduced-message">{{.Message}}</pre></details>{{end}}{{end}}
{{if .Scenario}}<details open><summary>Regression scenario <code>{{.ScenarioPath}}</code></summary><pre class="scenario">{{.Scenario}}</pre></details>{{end}}
</div>
{{end}}
<p class="muted">Generated {{.Generated.Format "2006-01-02 15:04:05 UTC"}} by <code>linkcheck fuzz</code> from {{.Src}}; the data is in report.json.</p>
</body></html>
`))

type pageGroup struct {
	Index        int
	Target       string
	Signature    string
	Findings     []*Finding
	First        *Finding
	Scenario     string
	ScenarioPath string
}

func renderHTML(rep *Report, out string) ([]byte, error) {
	byID := map[string]*Finding{}
	for _, f := range rep.Findings {
		byID[f.ID] = f
	}
	var groups []pageGroup
	for i, g := range rep.Signatures {
		pg := pageGroup{Index: i + 1, Target: g.Target, Signature: g.Signature, ScenarioPath: g.Scenario}
		for _, id := range g.Findings {
			pg.Findings = append(pg.Findings, byID[id])
		}
		pg.First = pg.Findings[0]
		for _, f := range pg.Findings {
			if f.Reduced != nil {
				pg.First = f
				break
			}
		}
		if g.Scenario != "" {
			if data, err := os.ReadFile(filepath.Join(out, g.Scenario)); err == nil {
				pg.Scenario = string(data)
			}
		}
		groups = append(groups, pg)
	}
	var b strings.Builder
	err := pageTemplate.Execute(&b, struct {
		*Report
		Plot, CheckedPlot template.HTML
		Groups            []pageGroup
	}{rep, plotSVG(rep, "execs"), plotSVG(rep, "checked"), groups})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return []byte(b.String()), nil
}
