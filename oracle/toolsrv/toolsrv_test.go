package toolsrv_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/oracle/toolsrv"
)

// outcome is what a run shows: its output, its error output and how it
// ended.
type outcome struct {
	stdout, stderr string
	exit           string
}

func runWith(t *testing.T, p *toolsrv.Pool, path string, args ...string) outcome {
	t.Helper()
	var stderr bytes.Buffer
	run, err := p.Start(path, args, &stderr)
	require.NoError(t, err)
	out, err := io.ReadAll(run.Stdout)
	require.NoError(t, err)
	o := outcome{stdout: string(out)}
	if err := run.Wait(); err != nil {
		o.exit = err.Error()
	}
	o.stderr = stderr.String()
	return o
}

// inputs returns a small executable, a copy with its section headers
// cut off (LLVM's tools warn or fail on it) and a path that does not
// exist.
func inputs(t *testing.T) (good, broken, missing string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	require.NoError(t, os.WriteFile(src, []byte("int f(int x) { return x * 3; }\nint main(void) { return f(2) - 6; }\n"), 0o644))
	good = filepath.Join(dir, "p")
	out, err := exec.Command("cc", "-O1", "-o", good, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	broken = filepath.Join(dir, "broken")
	require.NoError(t, os.WriteFile(broken, data[:len(data)*3/4], 0o755))
	return good, broken, filepath.Join(dir, "missing")
}

// TestServedRunsAreStartedRuns runs LLVM's tools through a pool and as
// processes of their own: the output, the error output and the exit are
// the same, byte for byte, for a good file, a broken one and a missing
// one, and the pool starts one server per tool and reuses it.
func TestServedRunsAreStartedRuns(t *testing.T) {
	good, broken, missing := inputs(t)
	p := toolsrv.NewPool()
	defer p.Close()
	for _, tc := range []struct {
		tool string
		args []string
	}{
		{"llvm-readobj", []string{"--all"}},
		{"llvm-objdump", []string{"-d", "-t"}},
	} {
		tl := tools.Require(t, tc.tool)
		for _, file := range []string{good, broken, missing} {
			args := append(append([]string(nil), tc.args...), file)
			want := runWith(t, nil, tl.Path, args...)
			for range 3 {
				got := runWith(t, p, tl.Path, args...)
				require.Equal(t, want, got, "%s %v", tc.tool, args)
			}
			if file == missing {
				require.NotEmpty(t, want.exit, "%s of a missing file must fail", tc.tool)
			}
		}
		served, err := p.Served(tl.Path)
		require.NoError(t, err)
		require.True(t, served, "%s is not served", tc.tool)
	}
	require.Equal(t, 2, p.Started(), "one server per tool, reused")
}

// TestServerKilled kills the idle servers from outside: the next runs
// still give the started runs' outcome, through a new server.
func TestServerKilled(t *testing.T) {
	good, _, _ := inputs(t)
	tl := tools.Require(t, "llvm-readobj")
	p := toolsrv.NewPool()
	defer p.Close()
	want := runWith(t, nil, tl.Path, "--all", good)
	require.Equal(t, want, runWith(t, p, tl.Path, "--all", good))
	require.Equal(t, 1, p.KillIdle())
	require.Equal(t, want, runWith(t, p, tl.Path, "--all", good))
	require.Equal(t, want, runWith(t, p, tl.Path, "--all", good))
	require.Equal(t, 2, p.Started())
}

// TestConcurrentRuns runs one tool from several goroutines at once: each
// run gets its own server and its own output.
func TestConcurrentRuns(t *testing.T) {
	good, broken, _ := inputs(t)
	tl := tools.Require(t, "llvm-objdump")
	p := toolsrv.NewPool()
	defer p.Close()
	files := []string{good, broken}
	want := map[string]outcome{}
	for _, f := range files {
		want[f] = runWith(t, nil, tl.Path, "-d", "-t", f)
	}
	var wg sync.WaitGroup
	got := make([]outcome, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = runWith(t, p, tl.Path, "-d", "-t", files[i%2])
		}()
	}
	wg.Wait()
	for i, o := range got {
		require.Equal(t, want[files[i%2]], o, "run %d", i)
	}
}

// TestClosedPool runs tools as processes once the pool is closed, and a
// nil pool always does.
func TestClosedPool(t *testing.T) {
	good, _, _ := inputs(t)
	tl := tools.Require(t, "llvm-readobj")
	want := runWith(t, nil, tl.Path, "--all", good)
	p := toolsrv.NewPool()
	require.Equal(t, want, runWith(t, p, tl.Path, "--all", good))
	require.NoError(t, p.Close())
	require.Equal(t, want, runWith(t, p, tl.Path, "--all", good))
	require.Equal(t, 1, p.Started())
}

// TestBadArguments: an argument with a NUL byte cannot be passed to a
// program, served or not.
func TestBadArguments(t *testing.T) {
	tl := tools.Require(t, "llvm-readobj")
	p := toolsrv.NewPool()
	defer p.Close()
	_, err := p.Start(tl.Path, []string{"a\x00b"}, io.Discard)
	require.ErrorContains(t, err, "NUL")
}

// TestServerDiesMidRun kills a served run's server (and the run) after
// the request went out: Wait reports ErrServer, not an exit of the tool,
// so that the caller knows the run's verdict is unknown; the pool then
// starts a new server and the next run gives the started run's outcome.
func TestServerDiesMidRun(t *testing.T) {
	good, _, _ := inputs(t)
	tl := tools.Require(t, "llvm-objdump")
	p := toolsrv.NewPool()
	defer p.Close()
	want := runWith(t, nil, tl.Path, "-d", "-t", good)
	require.Equal(t, want, runWith(t, p, tl.Path, "-d", "-t", good))
	run, err := p.Start(tl.Path, []string{"-d", "-t", good}, io.Discard)
	require.NoError(t, err)
	run.KillServer()
	_, err = io.Copy(io.Discard, run.Stdout)
	require.NoError(t, err)
	err = run.Wait()
	require.ErrorIs(t, err, toolsrv.ErrServer)
	require.Equal(t, want, runWith(t, p, tl.Path, "-d", "-t", good))
	require.Equal(t, 2, p.Started())
}
