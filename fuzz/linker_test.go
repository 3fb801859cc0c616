package fuzz

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	gofuzz "github.com/google/gofuzz"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// LinkerEnv names the linker FuzzLinker tests: a registry name (mold, bfd,
// gold, lld, ref) or cmd:TEMPLATE. The default is mold when it is
// installed, else GNU ld or gold.
const LinkerEnv = "LINKCHECK_LINKER"

// linkerInput is one FuzzLinker input as gofuzz decodes it: a generated
// program and how many objects it is split into (LinkerInput, which the
// campaign's reducer shares).
type linkerInput = LinkerInput

// linkerUnderTest returns the linker named by LINKCHECK_LINKER (when
// unset, mold if installed, else ld.bfd or ld.gold), skipping the target (failing under LINKCHECK_REQUIRE_TOOLS=1)
// when its program is missing.
func linkerUnderTest(tb testing.TB) *linker.Linker {
	tb.Helper()
	name := os.Getenv(LinkerEnv)
	if name == "" {
		// mold when installed, else the first GNU linker that is.
		name = linker.Mold
		for _, n := range []string{linker.Mold, linker.BFD, linker.Gold} {
			if l, err := linker.Lookup(n); err == nil {
				if _, err := tools.Find(l.Tool); err == nil {
					name = n
					break
				}
			}
		}
	}
	l, err := linker.Lookup(name)
	if err != nil {
		tb.Fatalf("%s=%s: %v", LinkerEnv, name, err)
	}
	if err := l.Supports(obj.ELF); err != nil {
		tb.Fatalf("%s=%s: %v", LinkerEnv, name, err)
	}
	if tn := l.ToolName(obj.ELF); tn != "" {
		tools.Require(tb, tn)
	}
	tools.Require(tb, "ld.lld")
	return l
}

// FuzzLinker checks a linker under test (LINKCHECK_LINKER, default mold)
// on generated programs split into 1 to 4 objects: its output must run to
// the interpreter's value and its canonical image must equal ld.lld's link
// of the same objects, with only that linker's rules. A failure prints the
// program, the split and the diff, so that it can be reduced and kept as a
// scenario.
func FuzzLinker(f *testing.F) {
	l := linkerUnderTest(f)
	lldL, err := linker.Lookup(linker.LLD)
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range linkerSeeds() {
		f.Add(encodeLinker(in))
	}
	runner := exec.NewRunner()
	f.Cleanup(func() { runner.Close() })
	stats := NewStatsRecorder("FuzzLinker")
	f.Cleanup(func() { _ = stats.Flush() })
	f.Fuzz(func(t *testing.T, data []byte) {
		in := DecodeLinker(data)
		var tally checkTally
		if stats != nil {
			tally = checkTally{}
		}
		err := checkLinker(context.Background(), l, lldL, in, runner, t.TempDir(), tally)
		if stats != nil {
			stats.Add(tally[CheckInvariant(2, "fresh link")], tally)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
}

// linkerSeeds are FuzzLinker's seed inputs.
func linkerSeeds() []linkerInput {
	return []linkerInput{{1, 3, 0}, {2, 8, 1}, {3, 15, 2}, {4, 39, 3}, {34, 7, 1}}
}

// encodeLinker returns bytes that decode to in.
func encodeLinker(in linkerInput) []byte { return EncodeLinker(in) }

// checkLinker generates in's program, links its objects with l and with
// ld.lld, and checks l's output against the interpreter and lld's image.
// When tally is not nil it counts the checks evaluated (the image
// comparison as invariant 2, its diff keys, the run as invariant 1).
func checkLinker(ctx context.Context, l, lldL *linker.Linker, in linkerInput, r *exec.Runner, dir string, tally checkTally) error {
	funcs, units := 1+int(in.Funcs)%40, 1+int(in.Units)%4
	m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), ir.GenConfig{Funcs: funcs})
	want, err := ir.Interp(m, ir.InterpOptions{Fuel: filterFuel})
	if err != nil {
		return nil // too slow to be worth linking: not a failure
	}
	fail := func(format string, args ...any) error {
		v, _ := l.Version(obj.ELF)
		return fmt.Errorf("FuzzLinker: linker %s (%s), seed %d, %d functions, %d units: %s\nprogram:\n%s",
			l.Name, v, in.Seed, funcs, units, fmt.Sprintf(format, args...), ir.Print(m))
	}
	objs, err := pipeline.BuildDir(m, obj.ELF, units, filepath.Join(dir, "obj"))
	if err != nil {
		return fail("build: %v", err)
	}
	res, err := pipeline.DiffLinkers(ctx, obj.ELF, lldL, l, objs, dir, diff.Options{Ignore: l.Rules})
	if err != nil {
		return fail("%v", err)
	}
	tally.inv(2)
	tally.image(moduleSubjects(m))
	if len(l.Rules) > 0 {
		tally.keys(diff.KeyUnknownIgnore)
	}
	if !res.Report.Equal() {
		return fail("its image differs from ld.lld's:\n%s", res.Report.Text())
	}
	tally.inv(1)
	got, err := r.Run(ctx, res.ExeB, exec.Options{Mode: exec.Native})
	if err != nil {
		return fail("run: %v", err)
	}
	if !got.Matches(want) {
		return fail("its executable computed %s, the interpreter says %d", got, want)
	}
	return nil
}

// TestEncodeLinker checks that the seeds decode to what they say.
func TestEncodeLinker(t *testing.T) {
	for _, in := range []linkerInput{{1, 3, 0}, {-5, 200, 7}, {1 << 40, 39, 3}} {
		var got linkerInput
		gofuzz.NewFromGoFuzz(encodeLinker(in)).NilChance(0).Fuzz(&got)
		if got != in {
			t.Fatalf("encodeLinker(%+v) decodes to %+v", in, got)
		}
	}
}
