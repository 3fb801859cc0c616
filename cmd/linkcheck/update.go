package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// runUpdate implements `linkcheck update -format F [-policy P] -o OUT
// PROG.lir`: the first call links OUT, later calls update it in place.
func runUpdate(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("update", "-format F [-linker ref|gold] [-policy trampoline|got] [-verify] -o OUT PROG.lir", stderr)
	format := formatFlag(fs)
	linkerName := fs.String("linker", "ref", "the incremental linker: ref, or gold (ld.gold --incremental, state in OUT"+pipeline.GoldSidecarSuffix+"; see gold.go)")
	units := fs.Int("units", 1, "-linker gold: split the program into N objects (the first version fixes it)")
	policy := fs.String("policy", "trampoline", "how moved functions are reached: trampoline or got")
	verify := fs.Bool("verify", false, "check the invariants after the update; when one fails, link from scratch")
	out := fs.String("o", "", "the output executable (its state lives in OUT"+incr.SidecarSuffix+")")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 1 || *out == "" {
			fs.Usage()
			return bad(errors.New("want -o OUT and one PROG.lir"))
		}
		f, err := parseFormat(*format)
		if err != nil {
			return err
		}
		if *linkerName != "ref" {
			return goldUpdate(stdout, *linkerName, f, *units, fs.Arg(0), *out)
		}
		if err := target.MustLookup(f).Need(target.CanIncr); err != nil {
			return bad(fmt.Errorf("-format %s: %w", f, err))
		}
		pol, err := incr.ParsePolicy(*policy)
		if err != nil {
			return bad(err)
		}
		if f == obj.Wasm && pol == incr.ThroughGOT {
			return bad(fmt.Errorf("-format wasm: -policy got: wasm has no GOT (calls are by function index)"))
		}
		src, err := input.ReadFile(fs.Arg(0), input.MaxProgram)
		if err != nil {
			return bad(err)
		}
		m, err := ir.Parse(fs.Arg(0), src)
		if err != nil {
			return bad(err)
		}
		res, err := pipeline.Update(*out, f, m, string(src), pol)
		if err != nil {
			return failed(err)
		}
		if *verify {
			if res, err = verifyUpdate(*out, f, m, string(src), pol, res, stderr); err != nil {
				return err
			}
		}
		if res.Relinked {
			if res.Reason != "first link" && res.Reason != "verify failed" {
				fmt.Fprintf(stderr, "linkcheck update: %s: linking from scratch\n", res.Reason)
			}
			if f == obj.Wasm {
				// calls are by index: there is no policy to choose
				fmt.Fprintf(stdout, "linked %s: %d atoms\n", *out, res.Stats.Added)
				return nil
			}
			fmt.Fprintf(stdout, "linked %s (%s policy): %d atoms\n", *out, pol, res.Stats.Added)
			return nil
		}
		fmt.Fprintf(stdout, "updated %s in place: %s\n", *out, res.Stats)
		for _, g := range res.Grown {
			// the reason the file was relaid out
			fmt.Fprintf(stdout, "relaid out: %s was full and grew to %#x bytes; what follows it in the file moved\n", g.Name, g.Cap)
		}
		return nil
	}()
	return report(stderr, "update", err)
}

// verifyUpdate is `update -verify`: the invariants (3 to 7, the value and
// the fresh-link diff) of the output just written; when one fails, the
// output is linked from scratch and checked again. A failure after a link
// from scratch is a finding (exit 1).
func verifyUpdate(out string, f obj.Format, m *ir.Module, src string, pol incr.Policy, res *pipeline.UpdateResult, stderr io.Writer) (*pipeline.UpdateResult, error) {
	tmp, err := os.MkdirTemp("", "linkcheck-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	runner := exec.NewRunner()
	defer runner.Close()
	ctx, cancel := interruptible()
	defer cancel()
	check := func() error {
		return pipeline.CheckIncremental(ctx, out, m, pipeline.IncrCheck{Format: f, Policy: pol, Runner: runner, Fresh: true, Dir: tmp})
	}
	err = check()
	if err == nil {
		return res, nil
	}
	if res.Relinked {
		return nil, failed(fmt.Errorf("verify: a link from scratch violates the invariants:\n%w", err))
	}
	fmt.Fprintf(stderr, "linkcheck update: verify: the updated output violates the invariants; linking from scratch:\n%v\n", err)
	if err := os.Remove(out + incr.SidecarSuffix); err != nil {
		return nil, err
	}
	res, err = pipeline.Update(out, f, m, src, pol)
	if err != nil {
		return nil, failed(err)
	}
	res.Reason = "verify failed"
	if err := check(); err != nil {
		return nil, failed(fmt.Errorf("verify: a link from scratch violates the invariants:\n%w", err))
	}
	return res, nil
}

// loadIncremental reads an incremental output's state and its current
// version; the output's format is told by its magic bytes.
func loadIncremental(path string) (*incr.State, *ir.Module, error) {
	data, err := input.ReadFile(path, input.MaxObject)
	if err != nil {
		return nil, nil, err
	}
	f, err := obj.DetectExecutable(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	t := target.MustLookup(f)
	if err := t.Need(target.CanIncr); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	st, err := incr.LoadState(path, t.Image)
	if err != nil {
		return nil, nil, err
	}
	m, err := ir.Parse(path+incr.SidecarSuffix+":source", []byte(st.Source))
	if err != nil {
		return nil, nil, fmt.Errorf("the sidecar's source does not parse: %w", err)
	}
	return st, m, nil
}

// runCheck implements `linkcheck check OUT`: every invariant of an
// incrementally linked file, against the version its sidecar records.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("check", "[-exec auto|native|unicorn] OUT", stderr)
	mode := fs.String("exec", "auto", "execution oracle for invariant 1")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() != 1 {
			fs.Usage()
			return bad(errors.New("want one incrementally linked output"))
		}
		if _, err := exec.ParseMode(*mode, false); err != nil {
			return bad(err)
		}
		path := fs.Arg(0)
		if isGoldOutput(path) {
			return goldCheck(stdout, path, exec.Mode(*mode))
		}
		st, m, err := loadIncremental(path)
		if err != nil {
			return bad(err)
		}
		tmp, err := os.MkdirTemp("", "linkcheck-check-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		runner := exec.NewRunner()
		defer runner.Close()
		ctx, cancel := interruptible()
		defer cancel()
		err = pipeline.CheckIncremental(ctx, path, m, pipeline.IncrCheck{
			Format: st.Format, Policy: st.Policy, Runner: runner, Mode: exec.Mode(*mode), LLVM: true, Fresh: true, Dir: tmp,
		})
		if err != nil {
			return failed(err)
		}
		if st.Format == obj.Wasm {
			fmt.Fprintf(stdout, "%s: all invariants hold (%d atoms, %d table slots)\n", path, len(st.Atoms), st.GOT.Len())
			return nil
		}
		fmt.Fprintf(stdout, "%s: all invariants hold (%d atoms, %d GOT slots, %s policy)\n", path, len(st.Atoms), st.GOT.Len(), st.Policy)
		return nil
	}()
	return report(stderr, "check", err)
}

// runDump implements `linkcheck dump OUT [OBJ...]`: the canonical image of
// an ELF executable as text; for an incremental output, also its GOT slots,
// trampolines and error table.
func runDump(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("dump", "EXE [OBJ...]", stderr)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	err := func() error {
		if fs.NArg() < 1 {
			fs.Usage()
			return bad(errors.New("want an executable"))
		}
		path := fs.Arg(0)
		data, err := input.ReadFile(path, input.MaxObject)
		if err != nil {
			return bad(err)
		}
		if f, err := obj.DetectExecutable(data); err == nil && f == obj.Wasm {
			// a Wasm module: the objects are ref/wasm's model
			wobjs, err := target.ReadWasmObjects(fs.Args()[1:])
			if err != nil {
				return bad(err)
			}
			var st *incr.State
			if _, statErr := os.Stat(path + incr.SidecarSuffix); statErr == nil && fs.NArg() == 1 {
				// an incremental module: its version's object
				var m *ir.Module
				if st, m, err = loadIncremental(path); err != nil {
					return bad(err)
				}
				if wobjs, err = pipeline.WasmIncrObjects(m); err != nil {
					return bad(err)
				}
			}
			im, err := canon.ReadWasm(data, wobjs)
			if err != nil {
				return bad(fmt.Errorf("%s: %w", path, err))
			}
			fmt.Fprint(stdout, im.Text())
			if st != nil {
				dumpIncremental(stdout, st)
			}
			return nil
		}
		var objs []*obj.Object
		var st *incr.State
		if fs.NArg() > 1 {
			f, err := obj.DetectExecutable(data)
			if err != nil {
				return bad(fmt.Errorf("%s: %w", path, err))
			}
			t := target.MustLookup(f)
			if err := t.Need(target.CanRead); err != nil {
				return bad(err)
			}
			if objs, err = link.ReadObjectFiles(fs.Args()[1:], t.ReadObject); err != nil {
				return bad(err)
			}
		} else if _, statErr := os.Stat(path + incr.SidecarSuffix); statErr == nil {
			var m *ir.Module
			if st, m, err = loadIncremental(path); err != nil {
				return bad(err)
			}
			p, err := pipeline.CompileIncr(m, st.Format, st.Policy, 0)
			if err != nil {
				return bad(err)
			}
			if objs, err = obj.Objects(p, ir.Partition(m, 1), 1, target.MustLookup(st.Format).UnitName); err != nil {
				return bad(err)
			}
		}
		im, err := canon.Read(data, objs)
		if err != nil {
			return bad(fmt.Errorf("%s: %w", path, err))
		}
		fmt.Fprint(stdout, im.Text())
		if st != nil {
			dumpIncremental(stdout, st)
		}
		return nil
	}()
	return report(stderr, "dump", err)
}

func dumpIncremental(w io.Writer, st *incr.State) {
	fmt.Fprintf(w, "\nincremental state (%s policy)\n", st.Policy)
	fmt.Fprintln(w, "GOT slots:")
	for i, s := range st.GOT.Slots {
		if s == "" {
			fmt.Fprintf(w, "  [%d] %#x free\n", i, st.GOTAddr(i))
			continue
		}
		fmt.Fprintf(w, "  [%d] %#x -> %s (%#x)\n", i, st.GOTAddr(i), s, st.Atoms[s].Addr)
	}
	var names []string
	for n, a := range st.Atoms {
		if a.First != 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	fmt.Fprintln(w, "trampolines:")
	for _, n := range names {
		a := st.Atoms[n]
		fmt.Fprintf(w, "  %s: jmp at %#x -> %#x\n", n, a.First, a.Addr)
	}
	if a, ok := st.Atoms[obj.ErrTabSymbol]; ok {
		fmt.Fprintf(w, "error table: %s at %#x, %d bytes (slot %d)\n", obj.ErrTabSymbol, a.Addr, a.Size, a.Slot)
	}
	fmt.Fprintln(w, "regions:")
	for _, n := range incr.RegionOrder {
		r := st.Regions[n]
		fmt.Fprintf(w, "  %-8s %#x used %#x of %#x, %d free holes\n", n, r.Base, r.High, r.Cap, len(r.Free))
	}
}
