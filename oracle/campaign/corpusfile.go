package campaign

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// corpusHeader starts every file of Go's fuzzing corpus format.
const corpusHeader = "go test fuzz v1"

// ParseCorpusFile returns the []byte value of a one-argument corpus file
// in Go's fuzzing format (`go test fuzz v1` then `[]byte("...")`), the
// format of testdata/fuzz and of the fuzz cache. A truncated or otherwise
// malformed file is an error.
func ParseCorpusFile(data []byte) ([]byte, error) {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != corpusHeader {
		return nil, fmt.Errorf("not a one-value %q corpus file", corpusHeader)
	}
	v := strings.TrimSpace(lines[1])
	inner, ok := strings.CutPrefix(v, "[]byte(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return nil, fmt.Errorf("corpus value %.40q is not a []byte", v)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(inner, ")"))
	if err != nil {
		return nil, fmt.Errorf("corpus value: %w", err)
	}
	return []byte(s), nil
}

// FormatCorpusFile returns data as a corpus file in Go's fuzzing format.
func FormatCorpusFile(data []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n[]byte(%q)\n", corpusHeader, data)
	return b.Bytes()
}

// corpusValue is one value line of Go's corpus format: a type Go's fuzzing
// takes and its literal.
var corpusValue = regexp.MustCompile(`^(\[\]byte|string|bool|byte|rune|u?int(?:8|16|32|64)?|float(?:32|64))\((.*)\)$`)

// CorpusValues returns the value lines of a corpus file in Go's fuzzing
// format with any number of values (`go test fuzz v1`, then one line per
// argument of the fuzz function: `[]byte("...")`, `int64(5)`,
// `bool(true)`, ...). A file cut inside a line, or with a line that is
// not a value, is an error; one cut between lines is not (see
// checkCorpus, which compares the number of values with the target's
// other entries).
func CorpusValues(data []byte) ([]string, error) {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != corpusHeader {
		return nil, fmt.Errorf("not a %q corpus file", corpusHeader)
	}
	vals := make([]string, 0, len(lines)-1)
	for i, l := range lines[1:] {
		l = strings.TrimSpace(l)
		m := corpusValue.FindStringSubmatch(l)
		if m == nil || m[2] == "" {
			return nil, fmt.Errorf("corpus value %d %.40q is not a value of a fuzzing type", i+1, l)
		}
		switch m[1] {
		case "[]byte", "string":
			if _, err := strconv.Unquote(m[2]); err != nil {
				return nil, fmt.Errorf("corpus value %d: %w", i+1, err)
			}
		}
		vals = append(vals, l)
	}
	return vals, nil
}
