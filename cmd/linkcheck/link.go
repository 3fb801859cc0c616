package main

import (
	"errors"
	"io"
	"os"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// runLink implements `linkcheck link -format F [-linker L] [-against L]
// -o OUT (PROG.lir | OBJ...)`. With -against, the output is also compared
// with that linker's link of the same objects (exit 1 on a difference).
func runLink(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("link", "-format F [-linker L] [-against L] [-units N] -o OUT (PROG.lir | OBJ...)", stderr)
	format := formatFlag(fs)
	linker := linkerFlag(fs, "linker", "lld", "the linker")
	against := linkerFlag(fs, "against", "", "also diff the output against this linker's link, with both linkers' rules")
	units := fs.Int("units", 1, "with a .lir program: split it into N objects")
	out := fs.String("o", "", "output executable")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() == 0 || *out == "" {
			fs.Usage()
			return bad(errors.New("want -o OUT and a .lir program or object files"))
		}
		f, err := parseFormat(*format)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "linkcheck-link-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		objs, m, err := objectsFor(fs.Args(), f, *units, tmp)
		if err != nil {
			return err
		}
		if err := linkWith(*linker, f, objs, *out, m != nil); err != nil {
			return err
		}
		if *against == "" {
			return nil
		}
		l, err := lookupLinker("linker", *linker, f)
		if err != nil {
			return err
		}
		a, err := lookupLinker("against", *against, f)
		if err != nil {
			return err
		}
		return linkerDiff(stdout, f, l, a, objs, m != nil, diff.Options{Reproduce: reproducer("link", args)}, true, false, false)
	}()
	return reportDiff(stderr, "link", err)
}

// linkWith links objs into out with the chosen linker. When ours is set the
// objects came from linkcheck's own code generator, so a linker that refuses
// them is a finding (exit 1) rather than bad input.
func linkWith(linker string, f obj.Format, objs []string, out string, ours bool) error {
	ctx, cancel := interruptible()
	defer cancel()
	switch linker {
	case "lld":
		if _, err := pipeline.LinkLLD(ctx, f, objs, out); err != nil {
			if ours {
				return failed(err)
			}
			return bad(err)
		}
		return nil
	case "ref":
		return refLink(f, objs, out, ours)
	}
	return linkOther(ctx, linker, f, objs, out, ours)
}
