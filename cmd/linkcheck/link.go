package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// runLink implements `linkcheck link -format F [-linker L] [-against L]
// -o OUT (PROG.lir | OBJ...)`. With -against, the output is also compared
// with that linker's link of the same objects (exit 1 on a difference).
func runLink(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("link", "-format F [-linker L] [-against L] [-units N] [-cpuprofile FILE] -o OUT (PROG.lir | OBJ...)", stderr)
	format := formatFlag(fs)
	linker := linkerFlag(fs, "linker", "lld", "the linker")
	against := linkerFlag(fs, "against", "", "also diff the output against this linker's link, with both linkers' rules")
	units := fs.Int("units", 1, "with a .lir program: split it into N objects")
	out := fs.String("o", "", "output executable")
	entry := fs.String("e", "", "entry symbol (default _start; with -linker ref or lld)")
	fs.StringVar(entry, "entry", "", "same as -e")
	ehFrameHdr := fs.Bool("eh-frame-hdr", false, "also write .eh_frame_hdr and PT_GNU_EH_FRAME, as ld.lld --eh-frame-hdr (ELF; with -linker ref or lld)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of this process (not of another linker it runs) to this file")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() == 0 || *out == "" {
			fs.Usage()
			return bad(errors.New("want -o OUT and a .lir program or object files"))
		}
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
		if *ehFrameHdr && *against != "" {
			// The comparison links both sides with their default
			// options, which have no .eh_frame_hdr for ld.lld.
			return bad(errors.New("--eh-frame-hdr is not supported with -against (the comparison links without it)"))
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
		objs, ours, err := objectsFor(fs.Args(), f, *units, tmp)
		if err != nil {
			return err
		}
		if *linker == "ref" && *against == "" {
			link.OneShotGC(objs) // this process links once and exits
		}
		if *entry != "" || *ehFrameHdr || *linker == "ref" {
			err = linkEntry(*linker, f, objs, *out, ours, linkFlags{entry: *entry, ehFrameHdr: *ehFrameHdr}, stderr)
		} else {
			err = linkWith(*linker, f, objs, *out, ours)
		}
		if err != nil {
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
		return linkerDiff(stdout, f, l, a, objs, ours, diff.Options{Reproduce: reproducer("link", args)}, true, false, false)
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

// linkFlags are the linker options `linkcheck link` passes on.
type linkFlags struct {
	entry      string // the entry symbol; empty: the default
	ehFrameHdr bool   // --eh-frame-hdr
}

// linkEntry links objs into out with the reference linker or lld and the
// entry symbol flags.entry (empty: the default), as `ld.lld --entry=SYM`
// does, and .eh_frame_hdr with flags.ehFrameHdr; the reference linker's
// warnings (a missing entry symbol, as ld.lld warns) go to stderr.
func linkEntry(linker string, f obj.Format, objs []string, out string, ours bool, flags linkFlags, stderr io.Writer) error {
	entry := flags.entry
	fail := func(err error) error {
		if ours {
			return failed(err)
		}
		return bad(err)
	}
	switch linker {
	case "ref":
		t, err := target.Lookup(f)
		if err != nil {
			return bad(err)
		}
		if err := t.Need(target.CanLink); err != nil {
			return fail(err)
		}
		if !t.SelfContained() {
			if err := t.Need(target.CanRead); err != nil {
				return fail(err)
			}
		}
		// static archives too, where the format has them
		if flags.ehFrameHdr && f != obj.ELF {
			return bad(fmt.Errorf("--eh-frame-hdr: only for -format elf"))
		}
		image, l, err := t.Link(objs, link.Options{Entry: entry, EHFrameHdr: flags.ehFrameHdr})
		if err != nil {
			return fail(err)
		}
		for _, w := range layoutWarnings(l) {
			fmt.Fprintf(stderr, "linkcheck link: warning: %s\n", w)
		}
		if _, err := pipeline.WriteFiles(filepath.Dir(out), []string{filepath.Base(out)}, [][]byte{image}); err != nil {
			return err
		}
		return os.Chmod(out, 0o755)
	case "lld":
		if f != obj.ELF {
			return bad(fmt.Errorf("-e and --eh-frame-hdr with -linker lld: only for -format elf"))
		}
		var extra []string
		if entry != "" {
			extra = append(extra, "--entry="+entry)
		}
		if flags.ehFrameHdr {
			extra = append(extra, "--eh-frame-hdr")
		}
		ctx, cancel := interruptible()
		defer cancel()
		tmp := filepath.Join(filepath.Dir(out), ".tmp-"+filepath.Base(out))
		if _, err := lld.Link(ctx, f, objs, tmp, lld.Options{Extra: extra}); err != nil {
			os.Remove(tmp)
			return fail(err)
		}
		return os.Rename(tmp, out)
	}
	return bad(fmt.Errorf("-e and --eh-frame-hdr are supported with -linker ref and -linker lld, not %s", linker))
}

// layoutWarnings returns the warnings of a shared-core link (none for a
// format whose linker has no layout).
func layoutWarnings(l *link.Layout) []string {
	if l == nil {
		return nil
	}
	return l.Warnings
}
