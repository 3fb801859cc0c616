package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runDiff implements `linkcheck diff -format F [-against lld] [--json]
// [--ignore KEY] [--coverage] [-units N] (PROG.lir | OBJ...)`: the
// reference link against lld's, compared as canonical images. Exit 0 same,
// 1 different, 2 error.
func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("diff", "-format F [-against lld] [--json] [--ignore RULE]... [--coverage] [-units N] (PROG.lir | OBJ...)", stderr)
	format := formatFlag(fs)
	against := fs.String("against", "lld", "the linker the reference linker is compared with (lld)")
	jsonOut := fs.Bool("json", false, "machine-readable output")
	coverage := fs.Bool("coverage", false, "print the share of code and data bytes compared even when equal")
	units := fs.Int("units", 1, "with a .lir program: split it into N objects")
	var ignore stringList
	fs.Var(&ignore, "ignore", "suppress a known, intended difference by its named rule (repeatable; see docs/canon.md)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() == 0 {
			fs.Usage()
			return bad(errors.New("want a .lir program or object files"))
		}
		if *against != "lld" {
			return bad(fmt.Errorf("-against %q: only lld is supported", *against))
		}
		f, err := parseFormat(*format)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "linkcheck-diff-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		objs, _, err := objectsFor(fs.Args(), f, *units, tmp)
		if err != nil {
			return err
		}
		ctx, cancel := interruptible()
		defer cancel()
		repro := "linkcheck " + strings.Join(append([]string{"diff"}, args...), " ")
		res, err := pipeline.DiffLLD(ctx, f, objs, tmp, diff.Options{Ignore: ignore, Reproduce: repro})
		if err != nil {
			return bad(err)
		}
		if *jsonOut {
			b, err := res.Report.JSON()
			if err != nil {
				return err
			}
			stdout.Write(append(bytes.TrimRight(b, "\n"), '\n'))
		} else if !res.Report.Equal() || *coverage {
			fmt.Fprint(stdout, res.Report.Text())
		} else {
			fmt.Fprintf(stdout, "no difference (%s)\n", coverageLine(res.Report.Coverage))
		}
		if !res.Report.Equal() {
			return &failure{exitFail, fmt.Errorf("%d difference(s)", len(res.Report.Differences))}
		}
		return nil
	}()
	var f *failure
	if errors.As(err, &f) && f.code == exitFail {
		return exitFail // the report is the message
	}
	return report(stderr, "diff", err)
}

func coverageLine(c diff.Coverage) string {
	return fmt.Sprintf("coverage %.1f%%: %d/%d code bytes, %d/%d data bytes, %d instructions, %d pointers, %d symbols",
		100*c.Ratio(), c.CodeCompared, c.CodeBytes, c.DataCompared, c.DataBytes, c.Insns, c.Pointers, c.Symbols)
}
