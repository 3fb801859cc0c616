package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// linkerUsage is the help text of -linker and -against.
var linkerUsage = strings.Join(linker.Names(), ", ") + ", or " + linker.CmdPrefix + "'TEMPLATE' with {out}, {objs} and {entry}"

// linkerFlag registers a linker-valued flag (-linker, -against).
func linkerFlag(fs *flag.FlagSet, name, def, what string) *string {
	return fs.String(name, def, what+": "+linkerUsage)
}

// lookupLinker resolves the value of flag name for format f; an unknown
// linker, a bad template or a format the linker does not link is bad
// usage.
func lookupLinker(flagName, value string, f obj.Format) (*linker.Linker, error) {
	l, err := linker.Lookup(value)
	if err != nil {
		return nil, bad(fmt.Errorf("-%s: %w", flagName, err))
	}
	if err := l.Supports(f); err != nil {
		return nil, bad(fmt.Errorf("-%s %s: %w", flagName, value, err))
	}
	return l, nil
}

// reportLabel is how a linker is named in a diff report: its name, or
// "cmd" for a command (the template is in the reproducer).
func reportLabel(l *linker.Linker) string {
	if l.IsCommand() {
		return "cmd"
	}
	return l.Name
}

// reproducer is `linkcheck ARGS...`, shell-quoted.
func reproducer(cmd string, args []string) string {
	q := []string{"linkcheck", cmd}
	for _, a := range args {
		q = append(q, lld.ShellQuote(a))
	}
	return strings.Join(q, " ")
}

// linkerDiff compares the links of objs by l and against (as side A) and
// prints the report: the full text when different or when full is set,
// else one "no difference" line; JSON when jsonOut. A difference is a
// finding (exit 1, the report is the message). A link that fails is a
// finding when the objects are linkcheck's own (ours), else bad input.
func linkerDiff(stdout io.Writer, f obj.Format, l, against *linker.Linker, objs []string, ours bool, opts diff.Options, linkerRules, jsonOut, full bool) error {
	tmp, err := os.MkdirTemp("", "linkcheck-diff-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if linkerRules {
		opts.Ignore = pipeline.Rules(against, l, opts.Ignore...)
	}
	opts.NameA, opts.NameB = reportLabel(against), reportLabel(l)
	ctx, cancel := interruptible()
	defer cancel()
	res, err := pipeline.DiffLinkers(ctx, f, against, l, objs, tmp, opts)
	if err != nil {
		var le *pipeline.LinkerError
		if errors.As(err, &le) && ours {
			return failed(err)
		}
		return bad(err)
	}
	rep := res.Report
	if jsonOut {
		b, err := rep.JSON()
		if err != nil {
			return err
		}
		stdout.Write(append(bytes.TrimRight(b, "\n"), '\n'))
	} else if !rep.Equal() || full {
		fmt.Fprint(stdout, rep.Text())
	} else {
		fmt.Fprintf(stdout, "no difference (%s)\n", coverageLine(rep.Coverage))
	}
	if !rep.Equal() {
		return &failure{exitFail, &differentError{len(rep.Differences)}}
	}
	return nil
}

// differentError is a diff that found differences: the report on stdout
// is the message, so nothing more is printed.
type differentError struct{ n int }

func (e *differentError) Error() string { return fmt.Sprintf("%d difference(s)", e.n) }

// reportDiff is report for commands that print a diff: a difference exits
// 1 without a message (the report said it all).
func reportDiff(stderr io.Writer, cmd string, err error) int {
	var de *differentError
	if errors.As(err, &de) {
		return exitFail
	}
	return report(stderr, cmd, err)
}

// linkAgainst links objs with against into a temporary directory and
// runs both executables under mode: both must compute the same value
// (and expected, when known). It returns against's result.
func runAgainst(r *exec.Runner, mode exec.Mode, f obj.Format, against *linker.Linker, objs []string, got *exec.Result) error {
	tmp, err := os.MkdirTemp("", "linkcheck-run-against-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	exe := filepath.Join(tmp, pipeline.ExeName(f))
	ctx, cancel := interruptible()
	defer cancel()
	if _, err := against.Link(ctx, f, objs, exe, linker.Options{}); err != nil {
		return failed(fmt.Errorf("-against %s: %w", against.Name, err))
	}
	res, err := r.Run(ctx, exe, exec.Options{Mode: mode})
	if err != nil {
		return failed(fmt.Errorf("-against %s: %s: %w", against.Name, mode, err))
	}
	if res.Value != got.Value {
		return failed(fmt.Errorf("%s computed %s, %s's link computes %s", got.Oracle, got, against.Name, res))
	}
	return nil
}

// printRules implements `linkcheck diff --rules`: every ignore rule, its
// keys, the linkers that apply it on their own and its reason.
func printRules(w io.Writer) {
	users := map[string][]string{}
	for _, l := range linker.All() {
		for _, r := range l.Rules {
			users[r] = append(users[r], l.Name)
		}
	}
	for _, r := range diff.Rules() {
		by := "none (--ignore only)"
		if u := users[r.Name]; len(u) > 0 {
			sort.Strings(u)
			by = strings.Join(u, ", ")
		}
		fmt.Fprintf(w, "%s\n  keys:    %s\n  linkers: %s\n", r.Name, strings.Join(r.Keys, ", "), by)
		for _, line := range wrap(r.Reason, 90) {
			fmt.Fprintf(w, "  %s\n", line)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "A linker's rules apply whenever its output is compared (-linker or -against); -no-linker-rules turns them off.")
	fmt.Fprintln(w, "No rule applies to text.insn, text.operand, text.length, data.bytes, data.pointer, entry or errtab.*.")
}

// wrap breaks text into lines of at most width columns at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// linkOther links with a linker of the registry other than lld and ref
// (which link.go links as before): mold, bfd, gold or a command.
func linkOther(ctx context.Context, name string, f obj.Format, objs []string, out string, ours bool) error {
	l, err := lookupLinker("linker", name, f)
	if err != nil {
		return err
	}
	if _, err := l.Link(ctx, f, objs, out, linker.Options{}); err != nil {
		if ours {
			return failed(err)
		}
		return bad(err)
	}
	return nil
}
