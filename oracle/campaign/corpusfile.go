package campaign

import (
	"bytes"
	"fmt"
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
