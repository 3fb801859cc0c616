package campaign

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Finding is one failure a campaign found, as recorded in
// OUT/findings/ID/finding.json next to its input (`input`, in Go's corpus
// format, when there is one), the failing check's message (`message.txt`)
// and a reproducer (`reproduce.sh`).
type Finding struct {
	ID     string `json:"id"`
	Target string `json:"target"`
	// Name is the input's name in the target's corpus (Go's hash, or a
	// seed entry's name such as seed#0).
	Name string `json:"name"`
	// HasInput is set when the input was saved (not for a seed added in
	// code whose bytes the campaign could not recover).
	HasInput bool `json:"has_input"`
	// Seed is set when a seed corpus entry failed (fuzzing could not
	// start).
	Seed    bool   `json:"seed,omitempty"`
	Message string `json:"message"`
	// Reproduce is the command that reruns the input (from the module
	// root, after reproduce.sh has put the input into the target's corpus).
	Reproduce string    `json:"reproduce"`
	Found     time.Time `json:"found"`
	// Faults are the seeded defects the campaign ran with
	// (LINKCHECK_FAULTS), "" for none: a finding with faults is a test of
	// the judges, not a bug.
	Faults string `json:"faults,omitempty"`
	Linker string `json:"linker,omitempty"`
	// Signature is filled by triage.
	Signature *Signature `json:"signature,omitempty"`
	// Reduced describes the reduced scenario, when triage wrote one.
	Reduced *Reduction `json:"reduced,omitempty"`
}

// findingID is the name of a finding's directory: the target and the
// input's name, or a hash of the message when there is no input.
func findingID(target, name, message string) string {
	if name == "" {
		sum := sha256.Sum256([]byte(message))
		name = fmt.Sprintf("msg-%x", sum[:8])
	}
	r := strings.NewReplacer("#", "-", "/", "-", " ", "-")
	return target + "-" + r.Replace(name)
}

// findingStore is OUT/findings.
type findingStore struct{ dir string }

func (s findingStore) path(id string) string { return filepath.Join(s.dir, id) }

func (s findingStore) exists(id string) bool {
	_, err := os.Stat(filepath.Join(s.path(id), "finding.json"))
	return err == nil
}

// create writes a new finding's directory atomically: every file is
// written into a temporary directory, synced, and the directory renamed
// into place. It returns false when the finding was already there.
func (s findingStore) create(f *Finding, input []byte, src string) (bool, error) {
	if s.exists(f.ID) {
		return false, nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp(s.dir, ".new-"+f.ID+"-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	if f.HasInput {
		if err := writeFileAtomic(filepath.Join(tmp, "input"), input, 0o644); err != nil {
			return false, err
		}
	}
	if err := writeFileAtomic(filepath.Join(tmp, "message.txt"), []byte(f.Message+"\n"), 0o644); err != nil {
		return false, err
	}
	if err := writeFileAtomic(filepath.Join(tmp, "reproduce.sh"), []byte(reproduceScript(f, src)), 0o755); err != nil {
		return false, err
	}
	if err := writeJSONAtomic(filepath.Join(tmp, "finding.json"), f); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, s.path(f.ID)); err != nil {
		if s.exists(f.ID) {
			return false, nil
		}
		return false, fmt.Errorf("recording finding %s: %w", f.ID, err)
	}
	return true, syncDir(s.dir)
}

// update rewrites a recorded finding's metadata and message atomically.
func (s findingStore) update(f *Finding) error {
	dir := s.path(f.ID)
	if err := writeFileAtomic(filepath.Join(dir, "message.txt"), []byte(f.Message+"\n"), 0o644); err != nil {
		return err
	}
	return writeJSONAtomic(filepath.Join(dir, "finding.json"), f)
}

// load reads one finding.
func (s findingStore) load(id string) (*Finding, error) {
	data, err := os.ReadFile(filepath.Join(s.path(id), "finding.json"))
	if err != nil {
		return nil, err
	}
	var f Finding
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("finding %s: %w", id, err)
	}
	return &f, nil
}

// input reads a finding's input bytes (decoded from the corpus format).
func (s findingStore) input(id string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(s.path(id), "input"))
	if err != nil {
		return nil, err
	}
	return ParseCorpusFile(data)
}

// all reads every finding, sorted by ID.
func (s findingStore) all() ([]*Finding, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Finding
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		f, err := s.load(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// reproduceCommand is the command that reruns a finding's input.
func reproduceCommand(f *Finding) string {
	env := ""
	if f.Faults != "" {
		env += "LINKCHECK_FAULTS=" + f.Faults + " "
	}
	if f.Linker != "" {
		env += "LINKCHECK_LINKER='" + f.Linker + "' "
	}
	return fmt.Sprintf("%sgo test ./fuzz -run='^%s$/^%s$'", env, f.Target, regexpQuote(f.Name))
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(".", `\.`, "+", `\+`, "(", `\(`, ")", `\)`)
	return r.Replace(s)
}

func reproduceScript(f *Finding, src string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# Reproduces finding %s of `linkcheck fuzz` (%s).\n", f.ID, f.Target)
	fmt.Fprintf(&b, "# The source tree defaults to the one the campaign ran in; set LINKCHECK_SRC to use another.\nset -e\n")
	fmt.Fprintf(&b, "here=$(cd \"$(dirname \"$0\")\" && pwd)\nsrc=${LINKCHECK_SRC:-%s}\n", shellQuote(src))
	if f.HasInput && !f.Seed {
		fmt.Fprintf(&b, "mkdir -p \"$src/fuzz/testdata/fuzz/%s\"\ncp \"$here/input\" \"$src/fuzz/testdata/fuzz/%s/%s\"\n", f.Target, f.Target, f.Name)
	}
	fmt.Fprintf(&b, "cd \"$src\"\n%s\n", f.Reproduce)
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
