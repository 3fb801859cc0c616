package linker

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
)

// gold's incremental mode: `ld.gold --incremental -z norelro -e _start -o
// OUT OBJ...`. The first call links OUT with room to grow (patch space,
// --incremental-patch, default 10%); later calls with the same command
// line and changed objects update OUT in place, or say why they cannot
// and link it fully again. gold refuses -z relro, its default, in this
// mode.

// Outcomes of one incremental gold link.
const (
	// IncrFull is a full link: the first one, or one gold chose after
	// refusing to update in place (Reason says why).
	IncrFull = "full"
	// IncrInPlace is an update of the existing output in place.
	IncrInPlace = "in-place"
	// IncrFailed is a link that failed: a fatal or internal error, a
	// crash, a timeout, or an output that is missing afterwards.
	IncrFailed = "failed"
)

// IncrLink is the result of one incremental gold link.
type IncrLink struct {
	Outcome string
	// Reason is gold's reason for a full link ("command line changed"),
	// or the failure (its error lines).
	Reason string
	Result *Result
}

// GoldIncrementalArgs returns the arguments (without the program) of every
// incremental gold link of objs into out: the same each time.
func GoldIncrementalArgs(objs []string, out string) []string {
	return append([]string{"--incremental", "-z", "norelro", "-e", lld.EntrySymbol, "-o", out}, objs...)
}

// goldFull matches gold's announcement of a full link, and goldWhy the
// line saying why it could not update in place.
var (
	goldFull = regexp.MustCompile(`(?m)^linking with --incremental-full$`)
	goldWhy  = regexp.MustCompile(`(?m)^(?:the link might take longer: )?cannot perform incremental link: (.*)$|^(.*): stat: No such file or directory$`)
	goldErr  = regexp.MustCompile(`(?m)^.*(?:internal error|fatal error|error:).*$`)
)

// GoldIncremental links objs into out with `ld.gold --incremental`, in
// place when gold can, and says what gold did. It returns an error only
// when gold could not be started; a gold that fails is an IncrLink with
// Outcome IncrFailed (a finding, not an error of the harness).
func GoldIncremental(ctx context.Context, objs []string, out string, timeout time.Duration) (*IncrLink, error) {
	path, err := tools.Path("ld.gold")
	if err != nil {
		return nil, fmt.Errorf("linker gold: %w", err)
	}
	var before uint64
	existed := false
	if st, err := os.Stat(out); err == nil {
		existed = true
		before = inode(st)
	}
	res, runErr := Run(ctx, append([]string{path}, GoldIncrementalArgs(objs, out)...), timeout, false)
	if res == nil {
		return nil, fmt.Errorf("linker gold: %w", runErr)
	}
	l := &IncrLink{Result: res}
	st, statErr := os.Stat(out)
	errLines := strings.Join(goldErr.FindAllString(res.Stderr, -1), "\n")
	switch {
	case runErr != nil:
		l.Outcome = IncrFailed
		l.Reason = fmt.Sprintf("%v: %s", runErr, orStderr(errLines, res.Stderr))
		if statErr != nil {
			l.Reason += " (and the output is gone)"
		}
	case statErr != nil:
		l.Outcome, l.Reason = IncrFailed, "exited 0 but the output is missing"
	case errLines != "":
		l.Outcome, l.Reason = IncrFailed, "exited 0 after reporting: "+errLines
	case !existed:
		l.Outcome, l.Reason = IncrFull, "no output to update"
	case goldFull.MatchString(res.Stderr):
		l.Outcome, l.Reason = IncrFull, "gold gave no reason"
		if m := goldWhy.FindStringSubmatch(res.Stderr); m != nil {
			l.Reason = m[1]
			if m[1] == "" {
				l.Reason = "no output to update"
			}
		}
	case inode(st) != before:
		l.Outcome, l.Reason = IncrFull, "gold wrote a new file without saying why"
	default:
		l.Outcome = IncrInPlace
	}
	return l, nil
}

func orStderr(lines, stderr string) string {
	if lines != "" {
		return lines
	}
	if s := strings.TrimSpace(stderr); s != "" {
		return s
	}
	return "(no output on stderr)"
}

func inode(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
