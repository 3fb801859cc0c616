package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/linkcheck/linkcheck/oracle/exec"
	linkerpkg "github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// runRun implements `linkcheck run [-exec MODE] (EXE | -format F [-linker
// L] [-against L] [-units N] PROG.lir)`: the value an executable computes,
// alone on a line. For a program it builds, links and runs it and compares
// the value with the interpreter's (exit 1 when they differ), and with
// -against also with the value of that linker's link.
func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("run", "[-exec auto|native|unicorn|wine|wazero|all] (EXE | -format F [-linker L] [-against L] [-units N] PROG.lir)", stderr)
	mode := fs.String("exec", "auto", "execution oracle: auto, native, unicorn, wine, wazero, wazero-interp, or all (every oracle for the format)")
	format := formatFlag(fs)
	linker := linkerFlag(fs, "linker", "lld", "with a program: the linker")
	against := linkerFlag(fs, "against", "", "with a program: also run this linker's link, which must compute the same value")
	units := fs.Int("units", 1, "with a program: split it into N objects")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 1 {
			fs.Usage()
			return bad(errors.New("want one executable or one .lir program"))
		}
		if _, err := exec.ParseMode(*mode, true); err != nil {
			return bad(err)
		}
		ctx, cancel := interruptible()
		defer cancel()
		path := fs.Arg(0)
		var expected *uint64
		var exeFormat obj.Format
		var againstL *linkerpkg.Linker
		var objs []string
		if *against != "" && !isProgram(fs.Args()) {
			return bad(errors.New("-against needs a .lir program"))
		}
		if isProgram(fs.Args()) {
			f, err := parseFormat(*format)
			if err != nil {
				return err
			}
			m, err := loadProgram(path)
			if err != nil {
				return err
			}
			want, err := pipeline.Expected(m)
			if err != nil {
				return bad(fmt.Errorf("%s: the interpreter cannot evaluate the program: %w", path, err))
			}
			expected = &want
			tmp, err := os.MkdirTemp("", "linkcheck-run-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if *against != "" {
				if againstL, err = lookupLinker("against", *against, f); err != nil {
					return err
				}
			}
			objs, err = pipeline.BuildDir(m, f, *units, filepath.Join(tmp, "obj"))
			if err != nil {
				return bad(err)
			}
			exe := filepath.Join(tmp, pipeline.ExeName(f))
			if err := linkWith(*linker, f, objs, exe, true); err != nil {
				return err
			}
			path, exeFormat = exe, f
		} else {
			data, err := input.ReadFile(path, input.MaxObject)
			if err != nil {
				return bad(err)
			}
			exeFormat, err = obj.DetectExecutable(data)
			if err != nil {
				return bad(fmt.Errorf("%s: %w", path, err))
			}
		}
		modes := []exec.Mode{exec.Mode(*mode)}
		if *mode == "all" {
			modes = exec.Oracles(exeFormat)
		}
		runner := exec.NewRunner()
		defer runner.Close()
		var firstErr error
		printed := false
		for _, md := range modes {
			res, err := runner.Run(ctx, path, exec.Options{Mode: md})
			if err != nil {
				if firstErr == nil {
					firstErr = failed(fmt.Errorf("%s: %w", md, err))
				}
				continue
			}
			if !printed {
				fmt.Fprintln(stdout, res.Value)
				printed = true
			}
			if res.Bits > 0 && res.Bits < 64 {
				fmt.Fprintf(stderr, "linkcheck run: note: %s observes only the low %d bits of the value\n", res.Oracle, res.Bits)
			}
			if expected != nil && !res.Matches(*expected) {
				if firstErr == nil {
					firstErr = failed(fmt.Errorf("%s computed %s, the interpreter says %d", res.Oracle, res, *expected))
				}
			}
			if againstL != nil && firstErr == nil {
				firstErr = runAgainst(runner, md, exeFormat, againstL, objs, res)
			}
		}
		return firstErr
	}()
	return report(stderr, "run", err)
}
