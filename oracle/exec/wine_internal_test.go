package exec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCmdNotStarted classifies wine's outputs: only a run whose cmd.exe did
// not start (no exit code line, the loader's message) is run again.
func TestCmdNotStarted(t *testing.T) {
	const loader = "Application could not be started, or no application associated with the specified file.\nShellExecuteEx failed: Internal error.\n"
	cases := []struct {
		name           string
		stdout, stderr string
		want           bool
	}{
		{"loader message on stderr", "", loader, true},
		{"loader message on stdout", loader, "", true},
		{"program ran", "linkcheck-exit-code 42\r\n", "", false},
		{"program ran and printed the message", loader + "linkcheck-exit-code 3\r\n", "", false},
		{"crash", "", "wine: Unhandled page fault on read access", false},
		{"not a program", "", "Can't recognize 'Z:\\prog.exe' as an internal or external command", false},
		{"wine exited with no output", "", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, cmdNotStarted([]byte(c.stdout), []byte(c.stderr)))
		})
	}
}
