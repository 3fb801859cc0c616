package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// goldUpdate implements `linkcheck update -linker gold -o OUT PROG.lir`:
// the program's objects are compiled beside OUT (OUT.lcgold.d/, rewritten
// in place) and `ld.gold --incremental -z norelro` links them with the
// same command line every time, updating OUT in place when gold can. What
// gold did is printed; a gold failure is a finding (exit 1) reported with
// the version sequence.
func goldUpdate(stdout io.Writer, name string, f obj.Format, units int, prog, out string) error {
	if name != linker.Gold {
		return bad(fmt.Errorf("-linker %q: update drives ref or gold", name))
	}
	if f != obj.ELF {
		return bad(fmt.Errorf("-linker gold: gold links elf only, not %s", f))
	}
	if units < 1 {
		return bad(fmt.Errorf("-units %d: need at least 1", units))
	}
	if _, err := os.Stat(out + incr.SidecarSuffix); err == nil {
		return bad(fmt.Errorf("%s is the reference incremental linker's output (%s%s): use another -o for gold", out, out, incr.SidecarSuffix))
	}
	src, err := os.ReadFile(prog)
	if err != nil {
		return bad(err)
	}
	m, err := loadProgram(prog)
	if err != nil {
		return err
	}
	ctx, cancel := interruptible()
	defer cancel()
	step, err := pipeline.GoldUpdate(ctx, out, m, string(src), units)
	var gf *pipeline.GoldFailure
	if errors.As(err, &gf) {
		return failed(err)
	}
	if err != nil {
		return bad(err)
	}
	switch step.Outcome {
	case linker.IncrInPlace:
		fmt.Fprintf(stdout, "updated %s in place (gold, version %d)\n", out, step.Version)
	default:
		fmt.Fprintf(stdout, "linked %s (gold, version %d): full link: %s\n", out, step.Version, step.Reason)
	}
	return nil
}

// isGoldOutput reports whether path was written by `update -linker gold`.
func isGoldOutput(path string) bool {
	_, err := os.Stat(path + pipeline.GoldSidecarSuffix)
	return err == nil
}

// goldCheck implements `linkcheck check OUT` for a gold output: the
// invariants that need no linker state (pipeline.GoldCheck).
func goldCheck(stdout io.Writer, path string, mode exec.Mode) error {
	tmp, err := os.MkdirTemp("", "linkcheck-check-gold-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	runner := exec.NewRunner()
	defer runner.Close()
	ctx, cancel := interruptible()
	defer cancel()
	if mode == "auto" {
		mode = exec.Native
	}
	st, err := pipeline.GoldCheck(ctx, path, runner, nil, mode, tmp)
	if err != nil {
		if st == nil {
			return bad(err)
		}
		return failed(err)
	}
	last := st.History[len(st.History)-1]
	fmt.Fprintf(stdout, "%s: the value, the fresh-link image and LLVM's tools agree (gold, version %d, last link %s)\n", path, len(st.Sources), last.Outcome)
	return nil
}
