package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/linkcheck/linkcheck/ref/ir"
)

// runGen implements `linkcheck gen -seed N -funcs K [-versions V] -o DIR`.
// With V = 1 (the default) it writes DIR/prog.lir; with V > 1 it writes
// DIR/v1.lir … DIR/vV.lir (a random edit sequence) and DIR/seq.txtar
// holding the same files with the edits listed in its comment.
func runGen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Int64("seed", 1, "random seed")
	funcs := fs.Int("funcs", 10, "number of functions, main included (1 to 1000000)")
	versions := fs.Int("versions", 1, "number of versions (1 to 10000)")
	out := fs.String("o", "", "output directory (created if missing)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: linkcheck gen -seed N -funcs K [-versions V] -o DIR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() != 0:
		fmt.Fprintf(stderr, "linkcheck gen: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *out == "":
		fmt.Fprintln(stderr, "linkcheck gen: -o DIR is required")
		return 2
	case *funcs < 1 || *funcs > 1_000_000:
		fmt.Fprintf(stderr, "linkcheck gen: -funcs %d out of range 1..1000000\n", *funcs)
		return 2
	case *versions < 1 || *versions > 10_000:
		fmt.Fprintf(stderr, "linkcheck gen: -versions %d out of range 1..10000\n", *versions)
		return 2
	}
	files := map[string][]byte{}
	var order []string
	if *versions == 1 {
		m := ir.Generate(ir.GenConfig{Seed: *seed, Funcs: *funcs})
		files["prog.lir"] = ir.Print(m)
		order = append(order, "prog.lir")
	} else {
		mods, edits := ir.SequenceEdits(*seed, *funcs, *versions)
		for i, m := range mods {
			name := ir.VersionName(i + 1)
			files[name] = ir.Print(m)
			order = append(order, name)
		}
		comment := fmt.Sprintf("linkcheck gen -seed %d -funcs %d -versions %d\n", *seed, *funcs, *versions)
		files["seq.txtar"] = ir.SequenceTxtar(comment, mods, edits)
		order = append(order, "seq.txtar")
	}
	if err := os.MkdirAll(*out, 0o777); err != nil {
		fmt.Fprintf(stderr, "linkcheck gen: %v\n", err)
		return 2
	}
	for _, name := range order {
		if err := os.WriteFile(filepath.Join(*out, name), files[name], 0o666); err != nil {
			fmt.Fprintf(stderr, "linkcheck gen: %v\n", err)
			return 2
		}
	}
	return 0
}
