package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

// runDoctor prints a table of every external tool: whether it was found,
// where, its version, which oracle needs it and how to install it. It exits
// 1 when a tool is missing or refused.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print nothing; only the exit status tells whether every tool is there")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: linkcheck doctor [-q]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	env := tools.FromEnvironment()
	missing := 0
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !*quiet {
		fmt.Fprintln(tw, "TOOL\tSTATUS\tVERSION\tPATH\tORACLE\tINSTALL")
	}
	for _, spec := range tools.Specs() {
		t, err := env.Find(spec.Name)
		status, version, path := "ok", "", ""
		if err != nil {
			missing++
			status = "MISSING"
			if me, ok := err.(*tools.MissingError); ok {
				status = "MISSING: " + me.Reason
			}
		} else {
			version, path = t.Version, t.Path
		}
		install := "apt-get install " + spec.Package
		if spec.Package == "wine64" {
			install = "apt-get install --no-install-recommends wine64"
		}
		if !*quiet {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", spec.Name, status, version, path, spec.Oracle, install)
		}
	}
	if !*quiet {
		tw.Flush()
	}
	if missing > 0 {
		if !*quiet {
			fmt.Fprintf(stdout, "\n%d tool(s) missing: run %s (installs all of them)\n", missing, tools.InstallScript)
		}
		return 1
	}
	if !*quiet {
		fmt.Fprintln(stdout, "\nall tools present")
	}
	return 0
}
