package measure_test

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools/measure"
)

// TestPeakIsTheCommandsOwn: with 400 MB of this process's memory touched,
// a /bin/true started directly reports this process's peak (the defect
// the package is for), and one started through measure its own.
func TestPeakIsTheCommandsOwn(t *testing.T) {
	big := make([]byte, 400<<20)
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1
	}
	direct := exec.Command("/bin/true")
	require.NoError(t, direct.Run())
	inherited := direct.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	require.Greater(t, inherited, int64(400<<10), "a direct child's ru_maxrss includes the parent's map")

	cmd := measure.CommandContext(context.Background(), "true")
	require.NoError(t, cmd.Run())
	t.Logf("/bin/true: direct ru_maxrss %d KiB, measured %d KiB", inherited, cmd.Usage.MaxRSSKB)
	require.Less(t, cmd.Usage.MaxRSSKB, int64(100<<10), "measured peak is the command's own")
	require.Positive(t, cmd.Usage.MaxRSSKB)
	require.Positive(t, cmd.Usage.Wall)
	big[len(big)-1] = 2 // keep big alive past the runs
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		err  string
	}{
		{"ok", []string{"sh", "-c", "exit 0"}, ""},
		{"exit", []string{"sh", "-c", "exit 3"}, "exit status 3"},
		{"signal", []string{"sh", "-c", "kill -SEGV $$"}, "signal: segmentation fault"},
		{"missing", []string{"/nonexistent/tool"}, "/nonexistent/tool: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := measure.CommandContext(context.Background(), tt.argv[0], tt.argv[1:]...)
			err := cmd.Run()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.err)
		})
	}
}

func TestOutputAndTimeout(t *testing.T) {
	var out []byte
	cmd := measure.CommandContext(context.Background(), "sh", "-c", "echo hi; echo err >&2")
	var stdout, stderr limited
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run())
	out = stdout.b
	require.Equal(t, "hi\n", string(out))
	require.Equal(t, "err\n", string(stderr.b))

	ctx, cancel := context.WithTimeout(context.Background(), 200_000_000)
	defer cancel()
	cmd = measure.CommandContext(ctx, "sleep", "10")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	require.Error(t, cmd.Run())
	require.Error(t, ctx.Err())
}

type limited struct{ b []byte }

func (l *limited) Write(p []byte) (int, error) { l.b = append(l.b, p...); return len(p), nil }

// TestRun: measure.Run with and without the intermediary: output, exit
// status, the timeout of a whole process group, and the peak only when
// asked.
func TestRun(t *testing.T) {
	for _, peak := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "peak"}[peak], func(t *testing.T) {
			ctx := context.Background()
			res, err := measure.Run(ctx, []string{"sh", "-c", "echo out; echo err >&2"}, measure.Options{Peak: peak})
			require.NoError(t, err)
			require.Equal(t, "out\n", res.Stdout)
			require.Equal(t, "err\n", res.Stderr)
			require.Positive(t, res.Usage.Wall)
			if peak {
				require.Positive(t, res.Usage.MaxRSSKB)
			} else {
				require.Zero(t, res.Usage.MaxRSSKB, "not measured without the intermediary")
			}

			_, err = measure.Run(ctx, []string{"sh", "-c", "exit 3"}, measure.Options{Peak: peak})
			require.EqualError(t, err, "exit status 3")

			// The shell's child keeps the pipes open: only killing the
			// process group ends the run in time.
			res, err = measure.Run(ctx, []string{"sh", "-c", "sleep 30; true"}, measure.Options{Peak: peak, Timeout: 200 * time.Millisecond})
			require.EqualError(t, err, "timed out after 200ms")
			require.True(t, res.TimedOut)
			require.Less(t, res.Usage.Wall, 10*time.Second)
		})
	}
}
