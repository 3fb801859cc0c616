package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/oracle/selftest"
	"github.com/linkcheck/linkcheck/ref/fault"
)

// runSelftest implements `linkcheck selftest [-time PER_DEFECT] [-defects
// LIST] [-src DIR] [-via-fuzz [-jobs N]]`: every defect of the
// seeded-defect catalogue, planted one at a time, under the incremental
// fuzz targets (the full-link target for the defects of scope link) until
// caught or out of time (with -via-fuzz, through a `linkcheck fuzz`
// campaign with its parallelism); the table, caught/total and the times
// to catch; exit 1 when one is missed.
func runSelftest(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("selftest", "[-time PER_DEFECT] [-defects LIST] [-src DIR] [-via-fuzz [-jobs N]] [-list]", stderr)
	per := fs.Duration("time", 60*time.Second, "time budget of each defect (seed corpora, then fuzzing)")
	defects := fs.String("defects", "", "comma-separated defects to try (default: the catalogue's elf- and link-scope defects; -list shows all)")
	src := fs.String("src", "", "the linkcheck source tree (default: found from the working directory)")
	list := fs.Bool("list", false, "print the catalogue and exit")
	viaFuzz := fs.Bool("via-fuzz", false, "run each defect through a linkcheck fuzz campaign of its targets (stopping at its first finding)")
	jobs := fs.Int("jobs", 2, "with -via-fuzz: the campaign's cores")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 0 {
			fs.Usage()
			return bad(errors.New("no arguments expected"))
		}
		if *list {
			for _, f := range fault.All() {
				keeps := ""
				if f.KeepsValues() {
					keeps = " (keeps every value right)"
				}
				fmt.Fprintf(stdout, "%-28s %-5s %s%s\n", f, f.Scope(), f.Description(), keeps)
			}
			return nil
		}
		var fs []fault.Fault
		if *defects != "" {
			for _, name := range strings.Split(*defects, ",") {
				f, err := fault.Parse(strings.TrimSpace(name))
				if err != nil {
					return bad(err)
				}
				fs = append(fs, f)
			}
		}
		if *per < time.Second {
			return bad(errors.New("-time must be at least 1s"))
		}
		if *jobs < 1 {
			return bad(fmt.Errorf("-jobs %d: want at least 1", *jobs))
		}
		root := *src
		if root == "" {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			if root, err = selftest.FindRoot(wd); err != nil {
				return bad(err)
			}
		}
		ctx, cancel := interruptible()
		defer cancel()
		results, err := selftest.Run(ctx, selftest.Config{Root: root, Defects: fs, PerDefect: *per, ViaCampaign: *viaFuzz, Jobs: *jobs, Progress: func(r selftest.Result) {
			if isTerminal(stderr) {
				fmt.Fprintf(stderr, "%s: caught=%v in %s\n", r.Fault, r.Caught, r.Elapsed.Round(100*time.Millisecond))
			}
		}})
		if err != nil {
			return err
		}
		selftest.Write(stdout, results)
		if s := selftest.Summarize(results); len(s.Missed) > 0 {
			return failed(fmt.Errorf("%d of %d defects missed: %v", len(s.Missed), s.Total, s.Missed))
		}
		return nil
	}()
	return report(stderr, "selftest", err)
}
