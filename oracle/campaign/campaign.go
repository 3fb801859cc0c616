// Package campaign runs linkcheck's fuzz campaigns: the Go native fuzz
// targets of the fuzz package, one `go test -fuzz` process (the package's
// test binary, built once with `go test -c -fuzz`) per target and job,
// sharing a time budget and the cores; progress parsed from the fuzzers'
// status lines; every finding copied atomically into OUT/findings before it
// is reported; a corpus in OUT/corpus that a resumed campaign continues
// from; triage (signatures, structural reduction, regression scenarios)
// and a report (OUT/report.json, OUT/report.html).
//
// OUT holds:
//
//	campaign.json     the campaign's state (configuration, time used per target)
//	events.jsonl      every event, one JSON object a line
//	bin/fuzz.test     the instrumented test binary
//	corpus/TARGET/    the fuzz cache of each target (-test.fuzzcachedir)
//	findings/ID/      finding.json, input, message.txt, reproduce.sh
//	logs/TARGET.log   the fuzzers' output
//	regressions/      the reduced scenarios (NAME.txtar)
//	report.json, report.html
package campaign

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/linkcheck/linkcheck/fuzz"
)

// Environment variables the campaign sets for the fuzz targets, and reads.
const (
	// LinkerEnv aims the linker-under-test targets at a linker (a name
	// such as gold, or cmd:TEMPLATE).
	LinkerEnv = "LINKCHECK_LINKER"
	// FormatsEnv lists the formats multi-format targets should cover.
	FormatsEnv = "LINKCHECK_FORMATS"
	// FaultsEnv plants seeded defects (ref/fault names) in the incremental
	// targets; the campaign passes it through and records it with every
	// finding.
	FaultsEnv = "LINKCHECK_FAULTS"
)

// Config is a campaign's configuration.
type Config struct {
	// Src is the module root (FindModule).
	Src string
	// Out is the campaign directory.
	Out string
	// Targets is "all" (or "") or a comma-separated list of target names.
	Targets string
	// Formats restricts the targets to those about these formats.
	Formats []string
	// Linker is passed to the targets in LinkerEnv.
	Linker string
	// Time is the fuzzing time budget of the whole campaign (the build is
	// not counted); each target gets Time*slots/targets of it.
	Time time.Duration
	// Jobs is the number of cores the campaign may use (fuzz workers).
	Jobs int
	// Resume continues the campaign in Out.
	Resume bool
	// Triage reduces the findings and writes regression scenarios after
	// fuzzing.
	Triage bool
	// ReduceBudget bounds the triage of one signature (0: 3 minutes).
	ReduceBudget time.Duration
	// Faults are the seeded defects to plant (ref/fault names,
	// comma-separated; "" takes FaultsEnv from the environment).
	Faults string
	// StopAtFirst ends the fuzzing at the first finding (a selftest asks
	// only whether a defect is caught, and how fast).
	StopAtFirst bool
	// Emit receives every event (nil: none); it is called from one
	// goroutine at a time.
	Emit func(Event) `json:"-"`
}

// Event is one thing that happened in a campaign: what `linkcheck fuzz`
// prints as a JSON line when its output is not a terminal.
type Event struct {
	Time time.Time `json:"time"`
	// Event is build, start, run (a fuzzer starts), progress (its status
	// line), finding (recorded on disk), message (a finding's failing
	// check, known when its fuzzer exits), exit, triage, report, done or
	// error.
	Event string `json:"event"`
	// Target and Run (the target's process count) say where.
	Target string `json:"target,omitempty"`
	Run    int    `json:"run,omitempty"`
	// Progress of the target.
	Elapsed        float64 `json:"elapsed_s,omitempty"` // fuzzing time used by the target, seconds
	Execs          int64   `json:"execs,omitempty"`     // in the campaign, all runs
	ExecsPerSec    float64 `json:"execs_per_s,omitempty"`
	Corpus         int     `json:"corpus,omitempty"`
	NewInteresting int     `json:"new_interesting,omitempty"` // in the campaign, all runs
	Baseline       string  `json:"baseline,omitempty"`        // "done/total" while gathering baseline coverage
	// Checked is the target's checked updates in the campaign (checked
	// links for FuzzLinker), as its fuzzing processes record them
	// (fuzz.StatsEnv), and CheckedPerSec their rate since the last status
	// line.
	Checked       int64   `json:"checked,omitempty"`
	CheckedPerSec float64 `json:"checked_per_s,omitempty"`
	Workers       int     `json:"workers,omitempty"`
	Findings      int     `json:"findings"` // of the target (of the campaign for start and done)
	// Left is the campaign's fuzzing time left, seconds.
	Left float64 `json:"left_s"`
	// Finding is the new finding's ID, for finding events.
	Finding string `json:"finding,omitempty"`
	Message string `json:"message,omitempty"`
}

// TargetState is what the campaign knows of one target.
type TargetState struct {
	Share    time.Duration `json:"share"`
	Used     time.Duration `json:"used"`
	Parallel int           `json:"parallel"`
	Runs     int           `json:"runs"`
	// Execs and NewInteresting add up every run's last status line.
	Execs          int64   `json:"execs"`
	NewInteresting int     `json:"new_interesting"`
	Corpus         int     `json:"corpus"`
	ExecsPerSec    float64 `json:"execs_per_s"`
	// Checked, CheckedPerSec and Checks are what the target's processes
	// recorded in OUT/stats (fuzz.Stats): checked updates, their rate, and
	// how often each invariant and diff key was evaluated.
	Checked       int64            `json:"checked"`
	CheckedPerSec float64          `json:"checked_per_s"`
	Checks        map[string]int64 `json:"checks,omitempty"`
	Findings      int              `json:"findings"`
	// Blocked says why the target stopped before its share was used (a
	// failing seed entry, a failing build).
	Blocked string `json:"blocked,omitempty"`
	Done    bool   `json:"done,omitempty"`
	// PID is the running fuzzer's process (group), 0 when none.
	PID int `json:"pid,omitempty"`
}

// State is OUT/campaign.json.
type State struct {
	Module  string    `json:"module"`
	Src     string    `json:"src"`
	Started time.Time `json:"started"`
	// Targets selected, with the configuration they run with.
	Targets []Target      `json:"targets"`
	Formats []string      `json:"formats,omitempty"`
	Linker  string        `json:"linker,omitempty"`
	Faults  string        `json:"faults,omitempty"`
	Time    time.Duration `json:"time"`
	Jobs    int           `json:"jobs"`
	// Baseline lists, per target, the files of fuzz/testdata/fuzz/TARGET
	// when the campaign started: any other file there is a finding.
	Baseline map[string][]string     `json:"baseline"`
	Status   map[string]*TargetState `json:"status"`
	Resumes  int                     `json:"resumes"`
}

// sample is a reading of a target's checked updates.
type sample struct {
	at      time.Time
	checked int64
}

// campaign is a running campaign.
type campaign struct {
	cfg    Config
	st     *State
	store  findingStore
	binary string

	stop     context.CancelFunc // ends the fuzzing (StopAtFirst)
	mu       sync.Mutex         // guards st, samples, events and emitting
	samples  map[string]sample  // the last checked-updates reading per target
	events   *os.File
	lastSave time.Time
}

// Run runs (or, with cfg.Resume, continues) a campaign. It returns the
// campaign's state at the end; the findings are in OUT/findings. A
// cancelled ctx stops the fuzzers (the state is saved, so that -resume
// continues).
func Run(ctx context.Context, cfg Config) (*State, error) {
	if cfg.Jobs <= 0 {
		return nil, errors.New("campaign: -jobs must be at least 1")
	}
	if cfg.Out == "" {
		return nil, errors.New("campaign: no output directory")
	}
	c := &campaign{cfg: cfg, store: findingStore{filepath.Join(cfg.Out, "findings")}, samples: map[string]sample{}}
	outer := ctx
	ctx, c.stop = context.WithCancel(ctx)
	defer c.stop()
	if err := c.open(); err != nil {
		return nil, err
	}
	defer c.events.Close()
	if err := c.recover(); err != nil {
		return nil, err
	}
	if err := c.build(ctx); err != nil {
		c.emit(Event{Event: "error", Message: err.Error()})
		return c.st, err
	}
	if err := c.refreshMessages(ctx); err != nil {
		return c.st, err
	}
	c.fuzz(ctx)
	if outer.Err() != nil {
		c.save(true)
		return c.st, outer.Err()
	}
	ctx = outer // after a stop at the first finding, triage and report
	if cfg.Triage {
		if err := c.triage(ctx); err != nil {
			c.emit(Event{Event: "error", Message: err.Error()})
		}
	}
	if _, err := WriteReport(cfg.Out); err != nil {
		return c.st, err
	}
	c.emit(Event{Event: "report", Message: filepath.Join(cfg.Out, "report.html")})
	n := 0
	for _, t := range c.st.Status {
		n += t.Findings
	}
	c.emit(Event{Event: "done", Findings: n})
	return c.st, nil
}

func (c *campaign) statePath() string { return filepath.Join(c.cfg.Out, "campaign.json") }

// open creates the campaign directory, or loads it for -resume.
func (c *campaign) open() error {
	out := c.cfg.Out
	_, err := os.Stat(c.statePath())
	exists := err == nil
	switch {
	case c.cfg.Resume && !exists:
		return fmt.Errorf("campaign: -resume: %s holds no campaign (no campaign.json)", out)
	case !c.cfg.Resume && exists:
		return fmt.Errorf("campaign: %s already holds a campaign: pass -resume to continue it, or choose another -out", out)
	}
	for _, d := range []string{"", "findings", "corpus", "logs", "bin", "stats"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
	}
	c.binary = filepath.Join(out, "bin", "fuzz.test")
	if abs, err := filepath.Abs(c.binary); err == nil {
		c.binary = abs
	}
	if exists {
		data, err := os.ReadFile(c.statePath())
		if err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
		var st State
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("campaign: %s: %w", c.statePath(), err)
		}
		st.Resumes++
		if c.cfg.Src == "" {
			c.cfg.Src = st.Src
		}
		c.st = &st
	} else {
		all, err := Targets(filepath.Join(c.cfg.Src, "fuzz"))
		if err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
		sel, err := Select(all, c.cfg.Targets, c.cfg.Formats)
		if err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
		if len(sel) == 0 {
			return fmt.Errorf("campaign: no fuzz target selected (-targets %q, -formats %s)", c.cfg.Targets, strings.Join(c.cfg.Formats, ","))
		}
		c.st = &State{Module: ModulePath, Src: c.cfg.Src, Started: time.Now().UTC(), Targets: sel, Formats: c.cfg.Formats,
			Linker: c.cfg.Linker, Faults: c.cfg.Faults, Time: c.cfg.Time, Jobs: c.cfg.Jobs,
			Baseline: map[string][]string{}, Status: map[string]*TargetState{}}
		if c.st.Faults == "" {
			c.st.Faults = os.Getenv(FaultsEnv)
		}
		c.plan()
		for _, t := range sel {
			c.st.Baseline[t.Name] = c.testdataFiles(t.Name)
		}
	}
	if err := writeJSONAtomic(c.statePath(), c.st); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(out, "events.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	c.events = f
	return nil
}

// plan shares the time and the cores: with no more targets than jobs,
// every target fuzzes for the whole time with its share of the workers;
// with more, jobs targets run at a time with one worker each, and each
// target gets Time*jobs/targets.
func (c *campaign) plan() {
	k, jobs := len(c.st.Targets), c.st.Jobs
	for i, t := range c.st.Targets {
		ts := &TargetState{Share: c.st.Time, Parallel: 1}
		if k <= jobs {
			ts.Parallel = jobs / k
			if i < jobs%k {
				ts.Parallel++
			}
		} else {
			ts.Share = c.st.Time * time.Duration(jobs) / time.Duration(k)
		}
		c.st.Status[t.Name] = ts
	}
}

// slots is the number of fuzzers that run at once.
func (c *campaign) slots() int { return min(c.st.Jobs, len(c.st.Targets)) }

// left is the campaign's fuzzing time left.
func (c *campaign) left() time.Duration {
	var sum time.Duration
	for _, ts := range c.st.Status {
		if ts.Blocked == "" && !ts.Done && ts.Used < ts.Share {
			sum += ts.Share - ts.Used
		}
	}
	return sum / time.Duration(max(1, c.slots()))
}

func (c *campaign) emit(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emitLocked(e)
}

func (c *campaign) emitLocked(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Left = c.left().Seconds()
	if data, err := json.Marshal(e); err == nil {
		_, _ = c.events.Write(append(data, '\n'))
	}
	if c.cfg.Emit != nil {
		c.cfg.Emit(e)
	}
}

// save writes the state (at most every 2 seconds unless force).
func (c *campaign) save(force bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saveLocked(force)
}

func (c *campaign) saveLocked(force bool) {
	if !force && time.Since(c.lastSave) < 2*time.Second {
		return
	}
	c.lastSave = time.Now()
	if err := writeJSONAtomic(c.statePath(), c.st); err != nil {
		c.emitLocked(Event{Event: "error", Message: "saving the campaign state: " + err.Error()})
	}
}

func (c *campaign) testdataDir(target string) string {
	return filepath.Join(c.cfg.Src, "fuzz", "testdata", "fuzz", target)
}

func (c *campaign) testdataFiles(target string) []string {
	ents, err := os.ReadDir(c.testdataDir(target))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// recover runs before fuzzing (first start or resume): it stops fuzzers a
// killed campaign left running, captures the findings they wrote into
// testdata, and sets aside cache entries that a crash left truncated.
func (c *campaign) recover() error {
	for name, ts := range c.st.Status {
		if ts.PID != 0 {
			if killStale(ts.PID, c.binary) {
				c.emit(Event{Event: "error", Target: name, Message: fmt.Sprintf("stopped fuzzer %d left by the interrupted campaign", ts.PID)})
			}
			ts.PID = 0
		}
	}
	for _, t := range c.st.Targets {
		if err := c.captureNew(t.Name, true); err != nil {
			return err
		}
		if err := c.checkCorpus(t.Name); err != nil {
			return err
		}
	}
	c.save(true)
	return nil
}

// checkCorpus moves the target's cache entries that do not parse (written
// when the campaign was killed) to OUT/quarantine/TARGET. (Go keeps the
// cache of target T of -test.fuzzcachedir=OUT/corpus in OUT/corpus/T.)
func (c *campaign) checkCorpus(target string) error {
	dir := filepath.Join(c.cfg.Out, "corpus", target)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	// The target's arity: the most values an entry has (a file cut
	// between two lines has fewer).
	arity := 0
	values := map[string]int{}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		values[e.Name()] = -1
		if v, err := CorpusValues(data); err == nil {
			values[e.Name()] = len(v)
			arity = max(arity, len(v))
		}
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if values[e.Name()] == arity {
			continue
		}
		q := filepath.Join(c.cfg.Out, "quarantine", target)
		if err := os.MkdirAll(q, 0o755); err != nil {
			return err
		}
		if err := os.Rename(p, filepath.Join(q, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// build compiles the fuzz package's instrumented test binary, as `go test
// -fuzz` does before it fuzzes.
func (c *campaign) build(ctx context.Context) error {
	stamp := c.binary + ".source"
	fp, fpErr := sourceFingerprint(c.cfg.Src)
	if fpErr == nil {
		if old, err := os.ReadFile(stamp); err == nil && string(old) == fp {
			if _, err := os.Stat(c.binary); err == nil {
				c.emit(Event{Event: "build", Message: "the fuzz targets' binary is up to date with the source"})
				return nil
			}
		}
	}
	c.emit(Event{Event: "build", Message: "go test -c -fuzz=. ./fuzz"})
	defer func() {
		if fpErr == nil {
			_ = writeFileAtomic(stamp, []byte(fp), 0o644)
		}
	}()
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-fuzz=.", "-o", c.binary, "./fuzz")
	cmd.Dir = c.cfg.Src
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("campaign: building the fuzz targets in %s (go test -c -fuzz=. ./fuzz): %v\n%s", c.cfg.Src, err, out)
	}
	return nil
}

// fuzz runs the targets: slots at a time, each until its share is used.
func (c *campaign) fuzz(ctx context.Context) {
	queue := make(chan string, len(c.st.Targets))
	for _, t := range c.st.Targets {
		queue <- t.Name
	}
	close(queue)
	c.emit(Event{Event: "start", Message: fmt.Sprintf("%d targets, %d at a time, %s of fuzzing", len(c.st.Targets), c.slots(), c.st.Time)})
	var wg sync.WaitGroup
	for i := 0; i < c.slots(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range queue {
				c.fuzzTarget(ctx, name)
			}
		}()
	}
	wg.Wait()
}

// minRun is the least time worth starting a fuzzer for.
const minRun = time.Second

// fuzzTarget runs one target until its share is used, restarting it after
// each finding (Go's fuzzer stops at the first failure).
func (c *campaign) fuzzTarget(ctx context.Context, name string) {
	for ctx.Err() == nil {
		c.mu.Lock()
		ts := c.st.Status[name]
		remaining := ts.Share - ts.Used
		if ts.Blocked != "" || ts.Done || remaining < minRun {
			ts.Done = ts.Blocked == ""
			c.saveLocked(true)
			c.mu.Unlock()
			return
		}
		ts.Runs++
		c.mu.Unlock()
		c.runOnce(ctx, name, remaining)
	}
}

// runOnce runs one fuzzer process of target name for d.
func (c *campaign) runOnce(ctx context.Context, name string, d time.Duration) {
	c.mu.Lock()
	ts := c.st.Status[name]
	run, parallel := ts.Runs, ts.Parallel
	execs0, interesting0 := ts.Execs, ts.NewInteresting
	used0 := ts.Used
	c.mu.Unlock()

	args := []string{"-test.run=^$", "-test.fuzz=^" + name + "$", "-test.fuzztime=" + d.Round(time.Second).String(),
		"-test.fuzzminimizetime=0s", "-test.parallel=" + strconv.Itoa(parallel),
		"-test.fuzzcachedir=" + filepath.Join(absPath(c.cfg.Out), "corpus"), "-test.timeout=0", "-test.paniconexit0"}
	cmd := exec.Command(c.binary, args...)
	cmd.Dir = filepath.Join(c.cfg.Src, "fuzz")
	cmd.Env = c.env()
	detach(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	logf, err := os.OpenFile(filepath.Join(c.cfg.Out, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.block(name, "opening its log: "+err.Error())
		return
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== run %d: %s %s\n", run, c.binary, strings.Join(args, " "))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.block(name, "starting the fuzzer: "+err.Error())
		return
	}
	c.mu.Lock()
	ts.PID = cmd.Process.Pid
	c.saveLocked(true)
	c.emitLocked(Event{Event: "run", Target: name, Run: run, Workers: parallel, Elapsed: ts.Used.Seconds(), Findings: ts.Findings,
		Message: fmt.Sprintf("%s for %s", name, d.Round(time.Second))})
	c.mu.Unlock()

	var output strings.Builder
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	waitErr := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		waitErr <- err
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	stopping := false
	var killTimer <-chan time.Time
	hard := time.After(d + 2*time.Minute) // the fuzzer ignores its -fuzztime: stop it
	var exitErr error
	exited := false
	for !exited || lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			fmt.Fprintln(logf, line)
			output.WriteString(line + "\n")
			if p, ok := ParseProgress(line); ok {
				c.progress(name, run, p, execs0, interesting0, used0, start)
			}
		case exitErr = <-waitErr:
			exited = true
			waitErr = nil
		case <-tick.C:
			c.mu.Lock()
			ts.Used = used0 + time.Since(start)
			c.saveLocked(false)
			c.mu.Unlock()
			_ = c.captureNew(name, false)
		case <-ctx.Done():
			if !stopping && !exited {
				stopping = true
				signalGroup(cmd.Process.Pid, syscall.SIGINT)
				killTimer = time.After(5 * time.Second)
			}
		case <-killTimer:
			signalGroup(cmd.Process.Pid, syscall.SIGKILL)
			killTimer = nil
		case <-hard:
			signalGroup(cmd.Process.Pid, syscall.SIGKILL)
		}
		if ctx.Err() != nil && !stopping && !exited {
			stopping = true
			signalGroup(cmd.Process.Pid, syscall.SIGINT)
			killTimer = time.After(5 * time.Second)
		}
	}
	signalGroup(cmd.Process.Pid, syscall.SIGKILL) // leftover workers
	c.mu.Lock()
	ts.PID = 0
	ts.Used = used0 + time.Since(start)
	c.saveLocked(true)
	c.mu.Unlock()

	out := output.String()
	fail, failed := ParseFailure(out)
	if err := c.captureNew(name, true); err != nil {
		c.emit(Event{Event: "error", Target: name, Message: err.Error()})
	}
	if failed {
		c.recordFailure(name, fail, out)
	}
	msg := "exit 0"
	if exitErr != nil {
		msg = exitErr.Error()
	}
	c.mu.Lock()
	if !failed && exitErr != nil && !stopping && ctx.Err() == nil {
		// Not a finding of the target (no FAIL block): the binary or the
		// machine failed. Stop rather than loop.
		ts.Blocked = "the fuzzer failed without a test failure: " + lastLines(out, 5)
	}
	if !failed && exitErr == nil {
		ts.Done = true
	}
	c.readStatsLocked(name)
	c.emitLocked(Event{Event: "exit", Target: name, Run: run, Elapsed: ts.Used.Seconds(), Execs: ts.Execs, Corpus: ts.Corpus,
		NewInteresting: ts.NewInteresting, Checked: ts.Checked, Findings: ts.Findings, Message: msg})
	c.saveLocked(true)
	c.mu.Unlock()
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func (c *campaign) block(name, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Status[name].Blocked = why
	c.emitLocked(Event{Event: "error", Target: name, Message: why})
	c.saveLocked(true)
}

// progress records a status line of target name's fuzzer.
func (c *campaign) progress(name string, run int, p Progress, execs0 int64, interesting0 int, used0 time.Duration, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.st.Status[name]
	ts.Used = used0 + time.Since(start)
	e := Event{Event: "progress", Target: name, Run: run, Workers: p.Workers}
	if p.Baseline {
		e.Baseline = fmt.Sprintf("%d/%d", p.Done, p.Total)
	}
	if p.HasExecs {
		// Go's last status line, printed as it stops, says 0/sec: keep
		// the rate of the line before.
		if p.ExecsPerSec > 0 || execs0+p.Execs != ts.Execs {
			ts.ExecsPerSec = p.ExecsPerSec
		}
		ts.Execs = execs0 + p.Execs
	}
	if p.HasInteresting {
		ts.NewInteresting = interesting0 + p.NewInteresting
	}
	if p.HasCorpusTotals {
		ts.Corpus = p.Corpus
	}
	c.readStatsLocked(name)
	e.Checked, e.CheckedPerSec = ts.Checked, ts.CheckedPerSec
	e.Elapsed, e.Execs, e.ExecsPerSec, e.Corpus, e.NewInteresting, e.Findings = ts.Used.Seconds(), ts.Execs, ts.ExecsPerSec, ts.Corpus, ts.NewInteresting, ts.Findings
	c.emitLocked(e)
	c.saveLocked(false)
}

// readStatsLocked adds up what the target's fuzzing processes recorded
// in OUT/stats: its checked updates (and their rate since the last
// reading at least two seconds old) and the checks evaluated.
func (c *campaign) readStatsLocked(name string) {
	ts := c.st.Status[name]
	s := fuzz.ReadStats(c.statsDir(), name)
	now := time.Now()
	prev, ok := c.samples[name]
	switch {
	case !ok:
		c.samples[name] = sample{at: now, checked: s.Updates}
	case now.Sub(prev.at) >= 2*time.Second:
		if s.Updates > prev.checked || ts.CheckedPerSec == 0 {
			ts.CheckedPerSec = float64(s.Updates-prev.checked) / now.Sub(prev.at).Seconds()
		}
		c.samples[name] = sample{at: now, checked: s.Updates}
	}
	ts.Checked = s.Updates
	if len(s.Checks) > 0 {
		ts.Checks = s.Checks
	}
}

func (c *campaign) statsDir() string { return filepath.Join(absPath(c.cfg.Out), "stats") }

// captureNew records every file of the target's testdata directory that
// was not there when the campaign started, then removes it from testdata
// (and the same input from the fuzz cache), so that the next run does not
// stop on it again. A file that does not parse yet (the fuzzer may be
// writing it) is left for a later scan unless final.
func (c *campaign) captureNew(target string, final bool) error {
	base := map[string]bool{}
	c.mu.Lock()
	for _, n := range c.st.Baseline[target] {
		base[n] = true
	}
	c.mu.Unlock()
	for _, name := range c.testdataFiles(target) {
		if base[name] || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(c.testdataDir(target), name)
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		input, perr := CorpusValues(data)
		if perr == nil {
			if n := c.arity(target); n > 0 && len(input) < n {
				perr = fmt.Errorf("%d values, the target's corpus entries have %d", len(input), n)
			}
		}
		if perr != nil && !final {
			continue
		}
		f := &Finding{ID: findingID(target, name, ""), Target: target, Name: name, HasInput: true, Found: time.Now().UTC(),
			Faults: c.st.Faults, Linker: c.st.Linker, Message: pendingMessage}
		if perr != nil {
			f.Message = fmt.Sprintf("(the input file was truncated: %v)", perr)
		}
		f.Reproduce = reproduceCommand(f)
		if _, err := c.record(f, data); err != nil {
			return err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if perr == nil {
			c.dropFromCache(target, input)
		}
	}
	return nil
}

// dropFromCache removes the target's cache entries holding the values
// input.
func (c *campaign) dropFromCache(target string, input []string) {
	dir := filepath.Join(c.cfg.Out, "corpus", target)
	ents, _ := os.ReadDir(dir)
	want := strings.Join(input, "\n")
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if data, err := os.ReadFile(p); err == nil {
			if v, err := CorpusValues(data); err == nil && strings.Join(v, "\n") == want {
				os.Remove(p)
			}
		}
	}
}

// arity is the number of values of the target's corpus entries (the most
// any entry of its cache has), 0 when it has none.
func (c *campaign) arity(target string) int {
	dir := filepath.Join(c.cfg.Out, "corpus", target)
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			if v, err := CorpusValues(data); err == nil {
				n = max(n, len(v))
			}
		}
	}
	return n
}

// record writes a new finding and reports it; it returns false when the
// finding was recorded before.
func (c *campaign) record(f *Finding, input []byte) (bool, error) {
	created, err := c.store.create(f, input, c.cfg.Src)
	if err != nil || !created {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.st.Status[f.Target]
	ts.Findings++
	c.saveLocked(true)
	c.emitLocked(Event{Event: "finding", Target: f.Target, Finding: f.ID, Findings: ts.Findings, Message: firstLine(f.Message)})
	if c.cfg.StopAtFirst {
		c.stop()
	}
	return true, nil
}

// recordFailure attaches a failed run's message to its finding, or records
// the failure itself when no input file was written (a seed entry, a
// crash of the fuzzer).
func (c *campaign) recordFailure(target string, fail Failure, out string) {
	msg := fail.Message
	if msg == "" {
		msg = lastLines(out, 20)
	}
	if fail.Input != "" {
		id := findingID(target, filepath.Base(fail.Input), "")
		f, err := c.store.load(id)
		if err != nil {
			c.emit(Event{Event: "error", Target: target, Message: fmt.Sprintf("the fuzzer wrote %s but the campaign did not capture it: %v", fail.Input, err)})
			return
		}
		f.Message = msg
		if err := c.store.update(f); err != nil {
			c.emit(Event{Event: "error", Target: target, Message: err.Error()})
			return
		}
		c.mu.Lock()
		c.emitLocked(Event{Event: "message", Target: target, Finding: f.ID, Findings: c.st.Status[target].Findings, Message: firstLine(msg)})
		c.mu.Unlock()
		return
	}
	f := &Finding{Target: target, Found: time.Now().UTC(), Faults: c.st.Faults, Linker: c.st.Linker, Message: msg}
	var input []byte
	if fail.Seed != "" {
		f.Seed, f.Name = true, fail.Seed
		f.ID = findingID(target, fail.Seed, "")
		if data, err := os.ReadFile(filepath.Join(c.testdataDir(target), fail.Seed)); err == nil {
			input, f.HasInput = data, true
		} else if data, err := c.seedInput(target, fail.Seed); err == nil {
			input, f.HasInput = data, true
		}
	} else {
		f.ID = findingID(target, "", msg)
	}
	f.Reproduce = reproduceCommand(f)
	if f.Name == "" {
		f.Reproduce = fmt.Sprintf("go test ./fuzz -run='^$' -fuzz='^%s$'", target)
	}
	if _, err := c.record(f, input); err != nil {
		c.emit(Event{Event: "error", Target: target, Message: err.Error()})
	}
	if f.Seed {
		c.mu.Lock()
		c.st.Status[target].Blocked = "seed corpus entry " + fail.Seed + " fails: fuzzing cannot start until it passes"
		c.saveLocked(true)
		c.mu.Unlock()
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// pendingMessage is the message of a finding captured before its fuzzer
// printed why it failed; refreshMessages replaces it on resume when the
// campaign was killed in between.
const pendingMessage = "(the fuzzer's message follows when its run ends)"

// refreshMessages reruns the inputs of the findings whose message never
// arrived (the campaign was killed after capturing the input and before
// the fuzzer's report) to record the failing check.
func (c *campaign) refreshMessages(ctx context.Context) error {
	findings, err := c.store.all()
	if err != nil {
		return err
	}
	for _, f := range findings {
		if f.Message != pendingMessage || !f.HasInput || f.Seed {
			continue
		}
		data, err := os.ReadFile(filepath.Join(c.store.path(f.ID), "input"))
		if err != nil {
			return err
		}
		dir := c.testdataDir(f.Target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, c.binary, "-test.run=^"+f.Target+"$/^"+regexpQuote(f.Name)+"$", "-test.count=1")
		cmd.Dir = filepath.Join(c.cfg.Src, "fuzz")
		cmd.Env = c.env()
		out, _ := cmd.CombinedOutput()
		os.Remove(path)
		if fail, ok := ParseFailure(string(out)); ok && fail.Message != "" {
			f.Message = fail.Message
		} else {
			f.Message = "(the input passed when rerun after the campaign was interrupted; the fuzzer's message was lost)\n" + lastLines(string(out), 10)
		}
		if err := c.store.update(f); err != nil {
			return err
		}
		c.emit(Event{Event: "message", Target: f.Target, Finding: f.ID, Message: firstLine(f.Message)})
	}
	return nil
}

// env is the fuzz targets' environment.
func (c *campaign) env() []string {
	env := append(os.Environ(), fuzz.StatsEnv+"="+c.statsDir())
	if c.st.Linker != "" {
		env = append(env, LinkerEnv+"="+c.st.Linker)
	}
	if len(c.st.Formats) > 0 {
		env = append(env, FormatsEnv+"="+strings.Join(c.st.Formats, ","))
	}
	if c.st.Faults != "" {
		env = append(env, FaultsEnv+"="+c.st.Faults)
	}
	return env
}

// sourceFingerprint hashes the module's Go files, go.mod and go.sum (not
// testdata): a resumed campaign rebuilds its test binary only when they
// changed.
func sourceFingerprint(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (n == "testdata" || strings.HasPrefix(n, ".") || n == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if n := d.Name(); !strings.HasSuffix(n, ".go") && n != "go.mod" && n != "go.sum" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s %d\n", rel, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
