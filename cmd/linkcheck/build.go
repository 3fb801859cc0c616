package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// runBuild implements `linkcheck build -format F [-units N] -o DIR PROG.lir`:
// the reference code generator's relocatable objects, one per unit.
func runBuild(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("build", "-format F [-units N] -o DIR PROG.lir", stderr)
	format := formatFlag(fs)
	units := fs.Int("units", 1, "split the program into N objects")
	out := fs.String("o", "", "output directory")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 1 || *out == "" {
			fs.Usage()
			return bad(errors.New("want -o DIR and one PROG.lir"))
		}
		f, err := parseFormat(*format)
		if err != nil {
			return err
		}
		m, err := loadProgram(fs.Arg(0))
		if err != nil {
			return err
		}
		paths, err := pipeline.BuildDir(m, f, *units, *out)
		if err != nil {
			return bad(err)
		}
		for _, p := range paths {
			fmt.Fprintln(stdout, p)
		}
		return nil
	}()
	return report(stderr, "build", err)
}

// loadProgram reads and checks a .lir file; errors are bad input.
func loadProgram(path string) (*ir.Module, error) {
	m, err := pipeline.Load(path)
	if err != nil {
		return nil, bad(err)
	}
	return m, nil
}

// isProgram reports whether the arguments name one .lir program.
func isProgram(args []string) bool {
	return len(args) == 1 && strings.HasSuffix(args[0], ".lir")
}

// objectsFor returns the objects to link: the arguments themselves, or the
// program compiled into a temporary directory (ours: the objects are
// linkcheck's own). The program is not kept: it can be collected while its
// objects are made.
func objectsFor(args []string, f obj.Format, units int, tmp string) (paths []string, ours bool, err error) {
	if !isProgram(args) {
		for _, a := range args {
			if strings.HasSuffix(a, ".lir") {
				return nil, false, bad(fmt.Errorf("%s: give one .lir program or object files, not both", a))
			}
		}
		return args, false, nil
	}
	m, err := loadProgram(args[0])
	if err != nil {
		return nil, false, err
	}
	paths, err = pipeline.BuildDir(m, f, units, filepath.Join(tmp, "obj"))
	if err != nil {
		return nil, false, bad(err)
	}
	return paths, true, nil
}
