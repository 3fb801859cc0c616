package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/diff"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runDiff implements `linkcheck diff -format F [-linker L] [-against L]
// [--json] [--ignore KEY] [--coverage] [-units N] (PROG.lir | OBJ...)`: the
// link by -linker (default ref) against -against's (default lld),
// compared as canonical images; `--rules` lists the ignore rules. Exit 0
// same, 1 different, 2 error.
func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("diff", "-format F [-linker L] [-against L] [--json] [--ignore RULE]... [-no-linker-rules] [--coverage] [-units N] (PROG.lir | OBJ...) | --rules", stderr)
	format := formatFlag(fs)
	linkerName := linkerFlag(fs, "linker", "ref", "the linker under test")
	against := linkerFlag(fs, "against", "lld", "the linker it is compared with (side A)")
	noLinkerRules := fs.Bool("no-linker-rules", false, "apply only the --ignore rules, not the linkers' own (see --rules)")
	listRules := fs.Bool("rules", false, "list the ignore rules, their keys, the linkers that apply them and their reasons")
	jsonOut := fs.Bool("json", false, "machine-readable output")
	coverage := fs.Bool("coverage", false, "print the share of code and data bytes compared even when equal")
	units := fs.Int("units", 1, "with a .lir program: split it into N objects")
	var ignore stringList
	fs.Var(&ignore, "ignore", "suppress a known, intended difference by its named rule (repeatable; see docs/canon.md)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if *listRules {
			if fs.NArg() != 0 {
				return bad(errors.New("--rules takes no arguments"))
			}
			printRules(stdout)
			return nil
		}
		if fs.NArg() == 0 {
			fs.Usage()
			return bad(errors.New("want a .lir program or object files"))
		}
		f, err := parseFormat(*format)
		if err != nil {
			return err
		}
		l, err := lookupLinker("linker", *linkerName, f)
		if err != nil {
			return err
		}
		a, err := lookupLinker("against", *against, f)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "linkcheck-diff-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		objs, ours, err := objectsFor(fs.Args(), f, *units, tmp)
		if err != nil {
			return err
		}
		opts := diff.Options{Ignore: ignore, Reproduce: reproducer("diff", args)}
		return linkerDiff(stdout, f, l, a, objs, ours, opts, !*noLinkerRules, *jsonOut, *coverage)
	}()
	return reportDiff(stderr, "diff", err)
}

func coverageLine(c diff.Coverage) string {
	return fmt.Sprintf("coverage %.1f%%: %d/%d code bytes, %d/%d data bytes, %d instructions, %d pointers, %d symbols",
		100*c.Ratio(), c.CodeCompared, c.CodeBytes, c.DataCompared, c.DataBytes, c.Insns, c.Pointers, c.Symbols)
}
