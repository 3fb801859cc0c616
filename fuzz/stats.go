package fuzz

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// StatsEnv names the directory in which the fuzz targets record what they
// checked, for a campaign's progress and report (oracle/campaign sets it
// to OUT/stats). Each fuzzing process of target T writes
// STATS/T/PID-START.json, a Stats, replacing it atomically at most once a
// second; unset, nothing is recorded.
const StatsEnv = "LINKCHECK_FUZZ_STATS"

// Stats is what one fuzzing process of a target checked.
type Stats struct {
	Target string `json:"target"`
	// Inputs is the number of inputs run to the end.
	Inputs int64 `json:"inputs"`
	// Updates is the number of checked updates: incremental updates after
	// which the targets' checks ran (the first link of a sequence is not
	// an update); for FuzzLinker the checked links.
	Updates int64 `json:"updates"`
	// Checks counts how often each check was evaluated on a subject:
	// "invariant N (name)" or "diff key KEY" (CheckInvariant,
	// CheckDiffKey).
	Checks map[string]int64 `json:"checks"`
}

// CheckInvariant and CheckDiffKey are the names of checks in
// Stats.Checks.
func CheckInvariant(n int, name string) string { return fmt.Sprintf("invariant %d (%s)", n, name) }

// CheckDiffKey is the name of a diff key's check in Stats.Checks.
func CheckDiffKey(key string) string { return "diff key " + key }

// StatsRecorder accumulates one process's Stats and writes them to the
// directory of StatsEnv. A nil recorder records nothing.
type StatsRecorder struct {
	mu    sync.Mutex
	path  string
	s     Stats
	wrote time.Time
}

// NewStatsRecorder returns the recorder of target in this process, or nil
// when StatsEnv is not set.
func NewStatsRecorder(target string) *StatsRecorder {
	dir := os.Getenv(StatsEnv)
	if dir == "" {
		return nil
	}
	name := fmt.Sprintf("%d-%d.json", os.Getpid(), time.Now().UnixNano())
	return &StatsRecorder{path: filepath.Join(dir, target, name), s: Stats{Target: target, Checks: map[string]int64{}}}
}

// Add records one input: its checked updates and the checks it evaluated
// (a check named twice counts twice). It writes the file when the last
// write is a second old.
func (r *StatsRecorder) Add(updates int64, checks map[string]int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Inputs++
	r.s.Updates += updates
	for k, n := range checks {
		r.s.Checks[k] += n
	}
	if time.Since(r.wrote) >= time.Second {
		_ = r.writeLocked()
	}
}

// Flush writes the file now.
func (r *StatsRecorder) Flush() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeLocked()
}

func (r *StatsRecorder) writeLocked() error {
	r.wrote = time.Now()
	data, err := json.Marshal(r.s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return fmt.Errorf("fuzz stats: %w", err)
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("fuzz stats: %w", err)
	}
	return os.Rename(tmp, r.path)
}

// ReadStats adds up the files of every process of target in dir (the
// directory of StatsEnv); files that do not parse are skipped.
func ReadStats(dir, target string) Stats {
	sum := Stats{Target: target, Checks: map[string]int64{}}
	files, _ := filepath.Glob(filepath.Join(dir, target, "*.json"))
	sort.Strings(files)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var s Stats
		if json.Unmarshal(data, &s) != nil || !strings.EqualFold(s.Target, target) {
			continue
		}
		sum.Inputs += s.Inputs
		sum.Updates += s.Updates
		for k, n := range s.Checks {
			sum.Checks[k] += n
		}
	}
	return sum
}
