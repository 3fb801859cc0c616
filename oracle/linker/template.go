package linker

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"unicode"

	"github.com/linkcheck/linkcheck/oracle/lld"
)

// Placeholders of a command template.
const (
	PlaceOut   = "{out}"   // the output path; may be part of a word ("/out:{out}")
	PlaceObjs  = "{objs}"  // the object files, one word each; must be a word of its own
	PlaceEntry = "{entry}" // the entry symbol (_start; __start for Mach-O); may be part of a word
)

// Template is a parsed command template: words split as a POSIX shell
// splits them (blanks separate words; single quotes, double quotes and
// backslashes quote), with no expansion of anything else — no variables,
// globs, pipes or redirections, and no shell is started. The first word
// is the program, found on PATH when it has no slash.
type Template struct {
	src   string
	words []string
}

// ParseTemplate parses src. It must name a program and hold {out} and
// {objs} (the latter as a word of its own); any other {name} is an error,
// so that a typo such as {obj} cannot link nothing.
func ParseTemplate(src string) (*Template, error) {
	words, err := splitWords(src)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, errors.New("empty command template")
	}
	outs, objs := 0, 0
	for i, w := range words {
		rest := w
		for {
			j := strings.IndexByte(rest, '{')
			if j < 0 {
				break
			}
			k := strings.IndexByte(rest[j:], '}')
			if k < 0 {
				break
			}
			p := rest[j : j+k+1]
			switch p {
			case PlaceOut:
				outs++
			case PlaceEntry:
			case PlaceObjs:
				if w != PlaceObjs {
					return nil, fmt.Errorf("word %d %q: %s must be a word of its own", i+1, w, PlaceObjs)
				}
				objs++
			default:
				return nil, fmt.Errorf("word %d %q: unknown placeholder %s (want %s, %s or %s)", i+1, w, p, PlaceOut, PlaceObjs, PlaceEntry)
			}
			rest = rest[j+k+1:]
		}
	}
	if i := strings.Index(words[0], "{"); i >= 0 && strings.Contains(words[0][i:], "}") {
		return nil, fmt.Errorf("the program %q may not be a placeholder", words[0])
	}
	if outs == 0 {
		return nil, fmt.Errorf("command template %q has no %s", src, PlaceOut)
	}
	if objs == 0 {
		return nil, fmt.Errorf("command template %q has no %s", src, PlaceObjs)
	}
	return &Template{src: src, words: words}, nil
}

// String is the template as given.
func (t *Template) String() string { return t.src }

// Words returns the template's words before expansion.
func (t *Template) Words() []string { return append([]string(nil), t.words...) }

// Expand returns the argv for one link: {objs} replaced by the objects,
// {out} and {entry} by their values, and the program resolved on PATH.
func (t *Template) Expand(objs []string, out, entry string) ([]string, error) {
	var argv []string
	for _, w := range t.words {
		if w == PlaceObjs {
			argv = append(argv, objs...)
			continue
		}
		// One pass: a value holding a placeholder's text is not expanded.
		argv = append(argv, strings.NewReplacer(PlaceOut, out, PlaceEntry, entry).Replace(w))
	}
	if !strings.Contains(argv[0], "/") {
		p, err := exec.LookPath(argv[0])
		if err != nil {
			return nil, fmt.Errorf("command template: program %s: %w", lld.ShellQuote(argv[0]), err)
		}
		argv[0] = p
	}
	return argv, nil
}

// splitWords splits s into words as a POSIX shell does, with quoting but
// no expansion.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("command template %q: unterminated single quote", s)
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case c == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\\\"$`", rs[j+1]) {
					j++
				}
				cur.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, fmt.Errorf("command template %q: unterminated double quote", s)
			}
			i = j
		case c == '\\':
			if i+1 == len(rs) {
				return nil, fmt.Errorf("command template %q: trailing backslash", s)
			}
			inWord = true
			i++
			cur.WriteRune(rs[i])
		case unicode.IsSpace(c):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune("|&;<>()$`*?[", c) || strings.ContainsRune("#~", c) && !inWord:
			return nil, fmt.Errorf("command template %q: %q is shell syntax; the template is not run by a shell (quote it, or put the commands in a script)", s, c)
		default:
			inWord = true
			cur.WriteRune(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
