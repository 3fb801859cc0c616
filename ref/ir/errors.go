package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Error is a static error in a program: a syntax error or a violation of
// the language's rules found by the checker. Pos is zero for modules that
// were built rather than parsed; Context then names the declaration.
type Error struct {
	File    string
	Pos     Pos
	Context string // e.g. "func f"; used when Pos is zero
	Msg     string
}

// Error formats the error as file:line:col: message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Pos.Line, e.Pos.Col)
	} else if e.Context != "" {
		b.WriteString(e.Context)
		b.WriteString(":")
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is a list of static errors sorted by position. Its Error
// method prints one error per line, the first error first.
type ErrorList []*Error

// maxErrors bounds the number of errors collected for one file.
const maxErrors = 10

// Error implements error.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns nil for an empty list, the list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// maxQuoted bounds a name or text quoted in a message: a 10 MB identifier
// is shown by its start and its length, not copied whole.
const maxQuoted = 64

// msgf formats a message, shortening every string argument longer than
// maxQuoted.
func msgf(format string, args ...any) string {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > maxQuoted {
			args[i] = fmt.Sprintf("%s... (%d bytes)", s[:maxQuoted], len(s))
		}
	}
	return fmt.Sprintf(format, args...)
}
