// Command linkcheck is a test oracle and differential fuzzing harness for
// linkers and x86_64 code generators. See README.md for the commands.
//
// Exit status: 0 ok; 1 a difference, a violated invariant or a wrong value;
// 2 bad usage or bad input (message on stderr, nothing written).
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand of linkcheck.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands returns the subcommands by name.
func commands() map[string]command {
	return map[string]command{
		"doctor":   {"tools, versions, what is missing and how to install it", runDoctor},
		"encode":   {"Intel-syntax x86_64 instructions to hex bytes, one line each", runEncode},
		"interp":   {"the value of a .lir program, by the interpreter", runInterp},
		"gen":      {"random valid programs and edit sequences", runGen},
		"build":    {"compile a .lir program into relocatable objects", runBuild},
		"link":     {"link a program or objects into an executable", runLink},
		"run":      {"run an executable (or build, link and run a program) and print its value", runRun},
		"diff":     {"compare the reference link with lld's, as canonical images", runDiff},
		"update":   {"incremental link: the first call links OUT, later calls update it in place", runUpdate},
		"check":    {"check every invariant of an incrementally linked output", runCheck},
		"dump":     {"print an executable's canonical image (and an incremental output's state)", runDump},
		"bench":    {"benchmarks side by side with lld: bench link, update, check, diff", runBench},
		"selftest": {"the seeded-defect catalogue under the fuzz targets: caught/total, time to catch", runSelftest},
		"fuzz":     {"a fuzz campaign: the fuzz targets sharing time and cores, findings reduced, a report", runFuzz},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: linkcheck COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'linkcheck COMMAND -h' for a command's flags.")
}

// run runs linkcheck with args (without the program name) and returns the
// exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "linkcheck: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
