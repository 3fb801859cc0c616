package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/linkcheck/linkcheck/oracle/campaign"
)

// runFuzz implements `linkcheck fuzz`: a fuzz campaign over the fuzz
// targets of the source tree linkcheck was built from (oracle/campaign).
func runFuzz(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("fuzz", "[-targets LIST|all] [-formats LIST] [-linker L] [-time D] [-jobs N] [-out DIR] [-resume] [-list]", stderr)
	targets := fs.String("targets", "all", "comma-separated fuzz targets (`go test` names, e.g. FuzzTrampoline), or all")
	formats := fs.String("formats", "", "comma-separated formats (elf, macho, coff, wasm): only the targets about them, and format-agnostic ones")
	linker := fs.String("linker", "", "the linker under test for the targets that take one (a name, or cmd:TEMPLATE), passed as "+campaign.LinkerEnv)
	budget := fs.Duration("time", 10*time.Minute, "fuzzing time of the whole campaign, shared by the targets")
	jobs := fs.Int("jobs", runtime.NumCPU(), "cores to use (fuzz workers, shared by the targets)")
	out := fs.String("out", "fuzz-out", "campaign directory: corpus/, findings/, regressions/, report.html")
	resume := fs.Bool("resume", false, "continue the campaign in -out (after an interruption or a crash) from its corpus and time used")
	src := fs.String("src", "", "the linkcheck source tree (default: where this binary was built from)")
	list := fs.Bool("list", false, "list the selected fuzz targets (JSON lines when stdout is not a terminal) and exit")
	triage := fs.Bool("triage", true, "reduce the findings to regression scenarios after fuzzing")
	reduceTime := fs.Duration("reduce-time", 3*time.Minute, "time bound of the reduction of one signature")
	first := fs.Bool("stop-at-first", false, "end the fuzzing at the first finding (then triage and report)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 0 {
			fs.Usage()
			return bad(fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
		}
		if *budget <= 0 && !*list {
			return bad(errors.New("-time must be positive"))
		}
		if *jobs < 1 {
			return bad(fmt.Errorf("-jobs %d: want at least 1", *jobs))
		}
		var fmts []string
		for _, f := range strings.Split(*formats, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fmts = append(fmts, f)
			}
		}
		root, err := campaign.FindModule(*src, sourceFile())
		if err != nil {
			return bad(err)
		}
		all, err := campaign.Targets(root + "/fuzz")
		if err != nil {
			return bad(err)
		}
		sel, err := campaign.Select(all, *targets, fmts)
		if err != nil {
			return bad(err)
		}
		term := isTerminal(stdout)
		if *list {
			for _, t := range sel {
				if term {
					fmt.Fprintf(stdout, "%-22s %-22s %s\n", t.Name, strings.Join(t.Formats, ","), t.File)
					continue
				}
				data, _ := json.Marshal(t)
				fmt.Fprintf(stdout, "%s\n", data)
			}
			return nil
		}
		if len(sel) == 0 {
			return bad(fmt.Errorf("no fuzz target selected by -targets %s -formats %s", *targets, *formats))
		}
		if _, statErr := os.Stat(*out + "/campaign.json"); statErr == nil && !*resume {
			return bad(fmt.Errorf("%s already holds a campaign: pass -resume to continue it, or choose another -out", *out))
		} else if statErr != nil && *resume {
			return bad(fmt.Errorf("-resume: %s holds no campaign", *out))
		}
		var disp *display
		emit := func(e campaign.Event) {
			data, _ := json.Marshal(e)
			fmt.Fprintf(stdout, "%s\n", data)
		}
		if term {
			disp = newDisplay(stdout)
			emit = disp.event
		}
		ctx, cancel := interruptible()
		defer cancel()
		st, err := campaign.Run(ctx, campaign.Config{Src: root, Out: *out, Targets: *targets, Formats: fmts, Linker: *linker,
			Time: *budget, Jobs: *jobs, Resume: *resume, Triage: *triage, ReduceBudget: *reduceTime, StopAtFirst: *first, Emit: emit})
		if disp != nil {
			disp.close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return failed(fmt.Errorf("interrupted; continue with: linkcheck fuzz -out %s -resume", *out))
			}
			return err
		}
		n := 0
		for _, ts := range st.Status {
			n += ts.Findings
		}
		if term {
			fmt.Fprintf(stdout, "report: %s/report.html\n", *out)
		}
		if n > 0 {
			return failed(fmt.Errorf("%d finding(s) in %s/findings (report: %s/report.html)", n, *out, *out))
		}
		return nil
	}()
	return report(stderr, "fuzz", err)
}

// sourceFile is this file's path when linkcheck was built (absolute
// unless built with -trimpath): it tells campaigns where the source is.
func sourceFile() string {
	_, file, _, _ := runtime.Caller(0)
	return file
}

// display is the live progress table on a terminal: one line per target
// (execs/s, checked updates/s, corpus, new interesting, findings, time
// used) and the
// campaign's time left, redrawn in place.
type display struct {
	mu     sync.Mutex
	w      io.Writer
	rows   map[string]*campaign.Event
	left   float64
	drawn  int
	lastAt time.Time
}

func newDisplay(w io.Writer) *display {
	return &display{w: w, rows: map[string]*campaign.Event{}}
}

func (d *display) event(e campaign.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.left = e.Left
	switch e.Event {
	case "progress", "run", "exit":
		r := d.rows[e.Target]
		if r == nil {
			r = &campaign.Event{}
			d.rows[e.Target] = r
		}
		if e.Event == "progress" || r.Event == "" {
			*r = e
		}
		r.Findings = e.Findings
	case "finding":
		if r := d.rows[e.Target]; r != nil {
			r.Findings = e.Findings
		}
		d.log(fmt.Sprintf("finding %s: %s", e.Finding, e.Message))
	case "build", "start", "triage", "error", "report", "done":
		msg := e.Message
		if e.Target != "" {
			msg = e.Target + ": " + msg
		}
		if e.Event == "done" {
			msg = fmt.Sprintf("%d finding(s)", e.Findings)
		}
		d.log(e.Event + ": " + msg)
	}
	if time.Since(d.lastAt) > 250*time.Millisecond || e.Event != "progress" {
		d.draw()
	}
}

// log prints a line above the table.
func (d *display) log(s string) {
	d.clear()
	fmt.Fprintln(d.w, s)
}

func (d *display) clear() {
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA\x1b[J", d.drawn)
		d.drawn = 0
	}
}

func (d *display) draw() {
	d.clear()
	names := make([]string, 0, len(d.rows))
	for n := range d.rows {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return
	}
	fmt.Fprintf(d.w, "%-22s %9s %10s %9s %8s %8s %9s %9s  %s\n", "target", "execs/s", "checked/s", "checked", "corpus", "new", "findings", "fuzzed", "")
	for _, n := range names {
		r := d.rows[n]
		state := ""
		if r.Baseline != "" {
			state = "baseline " + r.Baseline
		}
		fmt.Fprintf(d.w, "%-22s %9.0f %10.1f %9d %8d %8d %9d %9s  %s\n", n, r.ExecsPerSec, r.CheckedPerSec, r.Checked, r.Corpus, r.NewInteresting, r.Findings,
			(time.Duration(r.Elapsed) * time.Second).String(), state)
	}
	fmt.Fprintf(d.w, "time left: %s\n", (time.Duration(d.left) * time.Second).String())
	d.drawn = len(names) + 2
	d.lastAt = time.Now()
}

func (d *display) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.draw()
	d.drawn = 0
}
