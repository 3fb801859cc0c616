package campaign

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

// childEnv makes the test binary run one campaign (TestCampaignChild) with
// the JSON Config it holds, printing its events as JSON lines.
const childEnv = "LINKCHECK_CAMPAIGN_CHILD"

// TestCampaignChild is the campaign process of the kill tests; it runs only
// with childEnv set.
func TestCampaignChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("the kill test's campaign process: runs only with " + childEnv + " set")
	}
	var cfg Config
	require.NoError(t, json.Unmarshal([]byte(spec), &cfg))
	enc := json.NewEncoder(os.Stdout)
	cfg.Emit = func(e Event) { _ = enc.Encode(e) }
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)
}

// copyTree copies the module's source tree (the files git knows and the
// untracked ones it does not ignore) into a temporary directory, so that a
// campaign test writes its crashers into a tree of its own.
func copyTree(t *testing.T) string {
	root, err := FindModule("", "")
	require.NoError(t, err)
	var files []string
	if out, err := exec.Command("git", "-C", root, "ls-files", "-co", "--exclude-standard").Output(); err == nil {
		files = strings.Split(strings.TrimSpace(string(out)), "\n")
	} else {
		// Not a git checkout: every file but build outputs.
		require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() && (d.Name() == ".git" || rel == "bin" || rel == "out") {
				return filepath.SkipDir
			}
			if info, err := d.Info(); err == nil && d.Type().IsRegular() && info.Size() < 4<<20 && !strings.HasSuffix(p, ".test") {
				files = append(files, rel)
			}
			return nil
		}))
	}
	dst := filepath.Join(t.TempDir(), "src")
	for _, rel := range files {
		if rel == "" || strings.HasPrefix(rel, "fuzz/testdata/fuzz/") && !isCommitted(root, rel) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			continue // deleted in the working tree
		}
		p := filepath.Join(dst, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	return dst
}

// isCommitted reports whether rel is tracked by git in root.
func isCommitted(root, rel string) bool {
	return exec.Command("git", "-C", root, "ls-files", "--error-unmatch", rel).Run() == nil
}

// child starts a campaign process on src and out.
func child(t *testing.T, cfg Config) (*exec.Cmd, *bufio.Scanner) {
	spec, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCampaignChild$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	return cmd, sc
}

// TestKillResumeLosesNoFinding kills a campaign with SIGKILL at a random
// moment of its fuzzing (up to 10 s after it starts fuzzing) 10 times in a
// row, resuming it each time, with a seeded defect planted
// (trampoline-base: FuzzTrampoline's seeds catch it at once, FuzzErrorTable
// finds it by fuzzing) and two jobs; then lets the last resume finish. Every finding reported before a kill must be on disk
// with its input and message, the findings must include the defect, no
// crasher may stay in the tree's testdata, and no fuzzer may outlive the
// campaign that started it.
func TestKillResumeLosesNoFinding(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fuzz campaigns for about two minutes")
	}
	tools.Require(t, "llvm-readobj")
	tools.Require(t, "llvm-objdump")
	src := copyTree(t)
	out := filepath.Join(t.TempDir(), "campaign")
	t.Setenv(FaultsEnv, "trampoline-base")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("kill moments drawn with seed %d", seed)
	cfg := Config{Src: src, Out: out, Targets: "FuzzErrorTable,FuzzTrampoline", Time: 100 * time.Second, Jobs: 2}

	var mu sync.Mutex
	reported := map[string]bool{}
	collect := func(sc *bufio.Scanner, started chan<- struct{}) {
		once := sync.Once{}
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				t.Logf("campaign: %s", sc.Text())
				continue
			}
			if e.Event == "error" {
				t.Logf("campaign error: %s: %s", e.Target, e.Message)
			}
			switch e.Event {
			case "start":
				once.Do(func() { close(started) })
			case "finding":
				mu.Lock()
				reported[e.Finding] = true
				mu.Unlock()
			}
		}
		once.Do(func() { close(started) })
	}
	store := findingStore{filepath.Join(out, "findings")}
	checkReported := func(when string) {
		mu.Lock()
		defer mu.Unlock()
		for id := range reported {
			f, err := store.load(id)
			require.NoError(t, err, "%s: finding %s was reported but is not on disk", when, id)
			if f.HasInput {
				_, err := store.input(id)
				require.NoError(t, err, "%s: finding %s: its input", when, id)
			}
			_, err = os.Stat(filepath.Join(store.path(id), "message.txt"))
			require.NoError(t, err, "%s: finding %s: its message", when, id)
		}
	}
	for i := 0; i < 10; i++ {
		cfg.Resume = i > 0
		cmd, sc := child(t, cfg)
		started := make(chan struct{})
		done := make(chan struct{})
		go func() { collect(sc, started); close(done) }()
		select {
		case <-started:
		case <-time.After(10 * time.Minute):
			t.Fatal("the campaign did not start fuzzing (building the fuzz targets?)")
		}
		delay := time.Duration(rng.Int63n(int64(10 * time.Second)))
		time.Sleep(delay)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		<-done
		mu.Lock()
		n := len(reported)
		mu.Unlock()
		t.Logf("kill %d after %s of fuzzing: %d findings reported so far", i+1, delay.Round(time.Millisecond), n)
		checkReported(fmt.Sprintf("after kill %d", i+1))
	}
	mu.Lock()
	before := len(reported)
	mu.Unlock()
	require.NotZero(t, before, "no finding was reported before a kill: the test proved nothing")
	// The last resume runs to the end.
	cfg.Resume = true
	cmd, sc := child(t, cfg)
	started := make(chan struct{})
	collect(sc, started)
	require.NoError(t, cmd.Wait(), "the final resume")
	checkReported("at the end")

	all, err := store.all()
	require.NoError(t, err)
	require.NotEmpty(t, all, "the planted defect was not found")
	defect := false
	for _, f := range all {
		require.NotEqual(t, pendingMessage, f.Message, "finding %s has no message", f.ID)
		require.Equal(t, "trampoline-base", f.Faults)
		defect = defect || strings.Contains(f.Message, "invariant 4 (trampoline)")
		mu.Lock()
		reported[f.ID] = reported[f.ID] || true
		mu.Unlock()
	}
	require.True(t, defect, "no finding names invariant 4")
	for _, target := range []string{"FuzzErrorTable", "FuzzTrampoline"} {
		ents, _ := os.ReadDir(filepath.Join(src, "fuzz", "testdata", "fuzz", target))
		for _, e := range ents {
			require.True(t, isCommittedFile(t, src, target, e.Name()), "crasher %s/%s left in testdata", target, e.Name())
		}
	}
	requireNoFuzzer(t, filepath.Join(out, "bin", "fuzz.test"))
	_, err = os.Stat(filepath.Join(out, "report.html"))
	require.NoError(t, err)
	t.Logf("%d findings (%d reported before the last kill), all on disk", len(all), before)
}

// isCommittedFile reports whether a testdata file of the copied tree came
// from the original tree.
func isCommittedFile(t *testing.T, src, target, name string) bool {
	root, err := FindModule("", "")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "fuzz", "testdata", "fuzz", target, name))
	return err == nil && src != root
}

// requireNoFuzzer fails when a process still runs binary.
func requireNoFuzzer(t *testing.T, binary string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if data, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(data), binary+"\x00") {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			require.Empty(t, left, "fuzzers outlived their campaign")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
