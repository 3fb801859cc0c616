package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// Exit statuses.
const (
	exitOK   = 0
	exitFail = 1 // a difference, a violated invariant or a wrong value
	exitBad  = 2 // bad usage or bad input
)

// failure is an error with the exit status it deserves.
type failure struct {
	code int
	err  error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// bad marks err as bad usage or bad input (exit 2).
func bad(err error) error { return &failure{exitBad, err} }

// failed marks err as a finding: a wrong value, a difference (exit 1).
// Errors that are bad usage or bad input wherever they arise (a format
// without the capability, an unknown oracle, lld refusing the objects, an
// output path that is a directory) stay exit 2.
func failed(err error) error {
	for _, usage := range []error{target.ErrNotBuilt, exec.ErrUnknownOracle, exec.ErrCannotRun, lld.ErrLinkFailed, pipeline.ErrOutputPath, incr.ErrBadPath} {
		if errors.Is(err, usage) {
			return bad(err)
		}
	}
	return &failure{exitFail, err}
}

// report prints err on stderr prefixed with the command and returns its exit
// status; errors not marked otherwise are bad input.
func report(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "linkcheck %s: %v\n", cmd, err)
	var f *failure
	if errors.As(err, &f) {
		return f.code
	}
	return exitBad
}

// flagSet returns a flag set that reports to stderr with a usage line.
func flagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: linkcheck %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns false (after printing the usage) on
// error, and reports -h as success.
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, exitOK
		}
		return false, exitBad
	}
	return true, exitOK
}

// formatFlag registers -format.
func formatFlag(fs *flag.FlagSet) *string {
	return fs.String("format", "", "object and executable format: elf, macho, coff or wasm")
}

func parseFormat(s string) (obj.Format, error) {
	if s == "" {
		return "", bad(errors.New("-format is required (elf, macho, coff or wasm)"))
	}
	f, err := obj.ParseFormat(s)
	if err != nil {
		return "", bad(err)
	}
	return f, nil
}

// interruptible returns a context cancelled on SIGINT.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// isTerminal reports whether w is a terminal (a character device): live
// progress is shown only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
