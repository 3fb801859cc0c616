package campaign

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Progress is what one of `go test -fuzz`'s status lines says.
type Progress struct {
	Elapsed time.Duration
	// Baseline is set while the fuzzer gathers baseline coverage (Done of
	// Total inputs run).
	Baseline        bool
	Done, Total     int
	Workers         int
	Execs           int64
	ExecsPerSec     float64
	NewInteresting  int
	Corpus          int // total corpus size (seeds, cache and new)
	HasExecs        bool
	HasInteresting  bool
	HasCorpusTotals bool
}

var (
	statusLine   = regexp.MustCompile(`^fuzz: elapsed: ((?:\d+h)?(?:\d+m)?\d+s), (.*)$`)
	baselineRe   = regexp.MustCompile(`gathering baseline coverage: (\d+)/(\d+) completed(?:, now fuzzing with (\d+) workers)?`)
	execsRe      = regexp.MustCompile(`execs: (\d+) \((\d+)/sec\)`)
	interestRe   = regexp.MustCompile(`new interesting: (\d+) \(total: (\d+)\)`)
	failInputRe  = regexp.MustCompile(`^\s*Failing input written to (\S+)\s*$`)
	seedFailRe   = regexp.MustCompile(`failure while testing seed corpus entry: (\S+)/(\S+)`)
	failHeadRe   = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
	rerunRe      = regexp.MustCompile(`^\s*go test -run=(\S+)\s*$`)
	fileLinePref = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)
)

// ParseProgress parses a `fuzz: elapsed: ...` status line of `go test
// -fuzz`; ok is false for any other line.
func ParseProgress(line string) (p Progress, ok bool) {
	m := statusLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return p, false
	}
	p.Elapsed, _ = time.ParseDuration(m[1])
	rest := m[2]
	if b := baselineRe.FindStringSubmatch(rest); b != nil {
		p.Baseline = true
		p.Done, _ = strconv.Atoi(b[1])
		p.Total, _ = strconv.Atoi(b[2])
		if b[3] != "" {
			p.Workers, _ = strconv.Atoi(b[3])
			p.Baseline = false
			p.Corpus = p.Total
			p.HasCorpusTotals = true
		}
	}
	if e := execsRe.FindStringSubmatch(rest); e != nil {
		p.Execs, _ = strconv.ParseInt(e[1], 10, 64)
		p.ExecsPerSec, _ = strconv.ParseFloat(e[2], 64)
		p.HasExecs = true
	}
	if i := interestRe.FindStringSubmatch(rest); i != nil {
		p.NewInteresting, _ = strconv.Atoi(i[1])
		p.Corpus, _ = strconv.Atoi(i[2])
		p.HasInteresting = true
		p.HasCorpusTotals = true
	}
	return p, true
}

// Failure is what the output of a failed `go test -fuzz` run says.
type Failure struct {
	// Input is the path of the failing input as Go printed it (relative to
	// the package directory), "" when none was written.
	Input string
	// Seed names the seed corpus entry that failed (seed#N or a testdata
	// file), "" when fuzzing itself found the failure.
	Seed string
	// Message is the failing check's message, with the file:line prefix of
	// its first line and the indentation removed.
	Message string
	// Rerun is the -run pattern Go suggests, e.g. FuzzX/abc123.
	Rerun string
}

// ParseFailure extracts the failure of a `go test -fuzz` run from its
// output; ok is false when the output shows none.
func ParseFailure(output string) (f Failure, ok bool) {
	lines := strings.Split(output, "\n")
	var msg []string
	inFail, depth := false, 0
	for _, line := range lines {
		if m := seedFailRe.FindStringSubmatch(line); m != nil {
			f.Seed = m[2]
			ok = true
			continue
		}
		if m := failHeadRe.FindStringSubmatch(line); m != nil {
			inFail, ok = true, true
			depth++
			if strings.Contains(m[1], "/") && f.Seed == "" {
				// --- FAIL: FuzzX/seed#0: a seed entry run without -fuzz.
				_, name, _ := strings.Cut(m[1], "/")
				f.Seed = name
			}
			continue
		}
		if m := failInputRe.FindStringSubmatch(line); m != nil {
			f.Input = m[1]
			inFail = false
			continue
		}
		if m := rerunRe.FindStringSubmatch(line); m != nil {
			f.Rerun = m[1]
			continue
		}
		t := strings.TrimSpace(line)
		if t == "To re-run:" || t == "FAIL" || strings.HasPrefix(t, "exit status ") || strings.HasPrefix(t, "FAIL\t") || strings.HasPrefix(line, "fuzz: ") {
			if t == "FAIL" {
				inFail = false
			}
			continue
		}
		if inFail {
			msg = append(msg, line)
		}
	}
	if !ok {
		return f, false
	}
	f.Message = cleanMessage(msg)
	if f.Rerun == "" && f.Seed != "" {
		f.Rerun = ""
	}
	return f, true
}

// cleanMessage removes the common indentation and the file:line prefix of
// the first line of a test failure's message.
func cleanMessage(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	if len(lines) == 0 {
		return ""
	}
	// The testing package indents a message's first line and every
	// further line of it by four more spaces.
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " \t"))
	out := make([]string, len(lines))
	for i, l := range lines {
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		cut := indent
		if i > 0 {
			cut += 4
		}
		out[i] = l[min(n, cut):]
	}
	out[0] = fileLinePref.ReplaceAllString(out[0], "")
	return strings.Join(out, "\n")
}
