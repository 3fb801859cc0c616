package campaign

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Signature is what makes two findings the same bug: the failing check
// (an invariant, or the first line of another failure with its numbers
// and names blanked), the diff keys of a fresh-link difference, the
// mechanism (the edit of the failing update) and the kind of the symbol
// concerned.
type Signature struct {
	Check      string   `json:"check"`
	Keys       []string `json:"keys,omitempty"`
	Mechanism  string   `json:"mechanism,omitempty"`
	SymbolKind string   `json:"symbol_kind,omitempty"`
}

// String is the signature on one line, e.g.
// "invariant 4 (trampoline) | grow | func".
func (s Signature) String() string {
	parts := []string{s.Check}
	if len(s.Keys) > 0 {
		parts[0] += " [" + strings.Join(s.Keys, ",") + "]"
	}
	if s.Mechanism != "" {
		parts = append(parts, s.Mechanism)
	}
	if s.SymbolKind != "" {
		parts = append(parts, s.SymbolKind)
	}
	return strings.Join(parts, " | ")
}

var (
	invariantRe = regexp.MustCompile(`invariant (\d+) \(([^)]*)\)`)
	afterUpdate = regexp.MustCompile(`after update (\d+): `)
	editLine    = regexp.MustCompile(`^\s*(\d+): (.*)$`)
	hexRe       = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	numRe       = regexp.MustCompile(`\b\d+\b`)
	quotedRe    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	pathRe      = regexp.MustCompile(`(?:/[\w.+-]+){2,}`)
	// linkerHead is the start of a FuzzLinker message, up to the failure:
	// "FuzzLinker: linker NAME (VERSION), seed S, N functions, U units: ".
	linkerHead = regexp.MustCompile(`^(FuzzLinker): linker .*?, seed -?\d+, \d+ functions, \d+ units: `)
	// goldHead is FuzzIncrementalGold's: "..., U units: version I of N: ".
	goldHead = regexp.MustCompile(`^(FuzzIncrementalGold), seed -?\d+, \d+ functions, \d+ units: version \d+ of \d+: `)
	// wasmHead is FuzzWasmProgram's: "FuzzWasmProgram: seed S, N functions, U units: ".
	wasmHead = regexp.MustCompile(`^(FuzzWasmProgram): seed -?\d+, \d+ functions, \d+ units: `)
)

// ParseSignature reads a finding's signature from the failing check's
// message. Messages of the incremental targets look like
//
//	FuzzX, policy P, seed S, N functions: after update K: invariant 4 (trampoline): f2 at 0x...: ...
//	edits:
//	  1: grow f2 pad 300
//	version checked:
//	<the program>
//
// and a fresh-link difference lists its diff keys (text.operand ...) one
// per line.
func ParseSignature(msg string) Signature {
	head, rest, _ := strings.Cut(msg, "\nedits:\n")
	editsText, program, ok := strings.Cut(rest, "\nversion checked:\n")
	if p, found := strings.CutPrefix(rest, "version checked:\n"); !ok && found {
		editsText, program = "", p
	}
	check := head
	step := -1
	if m := afterUpdate.FindStringSubmatchIndex(head); m != nil {
		step, _ = strconv.Atoi(head[m[2]:m[3]])
		check = head[m[1]:]
	}
	var s Signature
	if m := invariantRe.FindStringSubmatchIndex(check); m != nil {
		s.Check = check[m[0]:m[1]]
		// The symbol: the first violation of the same invariant that names
		// one.
		for _, line := range strings.Split(check, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, s.Check) {
				continue
			}
			if sym := violationSymbol(line[len(s.Check):]); sym != "" {
				s.SymbolKind = symbolKind(sym, program)
				break
			}
		}
		if check[m[2]:m[3]] == "2" {
			s.Keys = diffKeys(check)
		}
	} else {
		line := firstLine(check)
		// The full-link targets' messages name the linker, the program and
		// its split first: the check is what failed.
		for _, re := range []*regexp.Regexp{linkerHead, goldHead, wasmHead} {
			if m := re.FindStringSubmatchIndex(line); m != nil {
				line = line[m[2]:m[3]] + ": " + line[m[1]:]
				break
			}
		}
		s.Check = normalizeLine(line)
		s.Keys = diffKeys(check)
	}
	if step == 0 {
		s.Mechanism = "first link"
	} else if step > 0 {
		for _, line := range strings.Split(editsText, "\n") {
			if m := editLine.FindStringSubmatch(line); m != nil && m[1] == strconv.Itoa(step) {
				s.Mechanism, _, _ = strings.Cut(m[2], " ")
				s.Mechanism = strings.TrimSuffix(s.Mechanism, ":")
			}
		}
	}
	return s
}

// violationSymbol returns the symbol after "invariant N (name)": in
// ": SYM at 0x...: msg" or ": SYM: msg".
func violationSymbol(after string) string {
	after, ok := strings.CutPrefix(after, ": ")
	if !ok {
		return ""
	}
	end := strings.IndexAny(after, " :")
	if end <= 0 {
		return ""
	}
	sym := after[:end]
	if strings.HasPrefix(after[end:], " at 0x") || strings.HasPrefix(after[end:], ":") {
		return sym
	}
	return ""
}

// symbolKind classifies a symbol: the error table, a function or data of
// the program the message printed, or another linker symbol.
func symbolKind(sym, program string) string {
	if sym == obj.ErrTabSymbol {
		return "error table"
	}
	if m, err := ir.Parse("version", []byte(program)); err == nil {
		if m.Func(sym) != nil {
			return "func"
		}
		if g := m.Global(sym); g != nil {
			switch {
			case g.Init.Addr != "":
				return "pointer"
			case g.Const:
				return "const"
			}
			return "global"
		}
	}
	switch {
	case sym == "_start" || sym == "main":
		return "func"
	case strings.HasPrefix(sym, "_"):
		return "linker symbol"
	}
	return "symbol"
}

// diffKeys lists the diff keys that start lines of a report, sorted.
func diffKeys(text string) []string {
	known := map[string]bool{}
	for _, k := range diff.Keys() {
		known[k] = true
	}
	seen := map[string]bool{}
	var keys []string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && known[f[0]] && !seen[f[0]] {
			seen[f[0]] = true
			keys = append(keys, f[0])
		}
	}
	sort.Strings(keys)
	return keys
}

// normalizeLine blanks what varies between findings of one bug in a
// failure's first line: addresses, numbers, quoted strings and file paths.
func normalizeLine(s string) string {
	s = quotedRe.ReplaceAllString(s, `"…"`)
	s = pathRe.ReplaceAllString(s, "…")
	s = hexRe.ReplaceAllString(s, "0x…")
	s = numRe.ReplaceAllString(s, "N")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strings.TrimSpace(s)
}
