package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/ir"
)

// runInterp implements `linkcheck interp [-fuel N] PROG.lir`: it prints the
// program's value in decimal, alone on a line. Exit status 2 for bad usage,
// a bad program or a run-time error (message on stderr).
func runInterp(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("interp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fuel := fs.Int64("fuel", ir.DefaultFuel, "maximum number of interpreter steps")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: linkcheck interp [-fuel N] PROG.lir")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	path := fs.Arg(0)
	src, err := input.ReadFile(path, input.MaxProgram)
	if err != nil {
		fmt.Fprintf(stderr, "linkcheck interp: %v\n", err)
		return 2
	}
	m, err := ir.Parse(path, src)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	v, err := ir.Interp(m, ir.InterpOptions{Fuel: *fuel})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 2
	}
	fmt.Fprintln(stdout, v)
	return 0
}
