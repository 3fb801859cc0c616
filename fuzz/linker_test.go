package fuzz

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gofuzz "github.com/google/gofuzz"
	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
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
//
// Its objects are not disguised (pipeline.Disguise): the canonical image
// names a local and a global of the same name apart by the STT_FILE
// symbol before the local or else by symbol-table order, and GNU ld
// (which adds an STT_FILE per object), mold 1.x (which writes globals as
// STB_LOCAL, rule mold-local-globals) and lld order and qualify them
// differently, so every program with a shadowed local would differ by
// name alone; and its findings are reduced and replayed as `linkcheck
// diff` scenarios, which compile without rewrites.
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
		err := checkLinker(context.Background(), l, lldL, in, runner, t.TempDir(), linkerCheck{tally: tally})
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

// refLinkerInput is one FuzzRefLinker input as gofuzz decodes it: a
// FuzzLinker input and how its calls are compiled.
type refLinkerInput struct {
	Seed  int64
	Funcs uint8 // 1 + Funcs%40 functions, main included
	Units uint8 // 1 + Units%4 objects
	// GOT compiles every call as `call [rip+GOT(f)]` with a plain
	// GOTPCRel32 (R_X86_64_GOTPCREL), which no linker may relax.
	GOT bool
}

func (in refLinkerInput) base() linkerInput {
	return linkerInput{Seed: in.Seed, Funcs: in.Funcs, Units: in.Units}
}

// refLinkerSeeds are FuzzRefLinker's seed inputs: small and large
// programs in 1 to 4 units, direct calls and calls through the GOT.
var refLinkerSeeds = []refLinkerInput{{1, 3, 0, false}, {2, 8, 1, false}, {3, 15, 2, false}, {4, 39, 3, false}, {34, 7, 1, false},
	{6, 12, 3, true}, {9, 20, 2, false}, {13, 25, 2, true}}

// encodeRefLinker returns bytes that decode to in: EncodeLinker's, then
// the word gofuzz draws the bool from (randBool: Int31()&(1<<30) == 0).
func encodeRefLinker(in refLinkerInput) []byte {
	got := uint64(1) << 63
	if in.GOT {
		got = 0
	}
	return binary.BigEndian.AppendUint64(EncodeLinker(in.base()), got)
}

// FuzzRefLinker checks the reference full linker (ref/link) against ld.lld
// with the defects of LINKCHECK_FAULTS planted in it: the full-link target
// of `linkcheck selftest`, for the defects that only a link of several
// units with disguised objects (pipeline.Disguise: locals shadowed by
// globals of other units, integer globals given their values by absolute
// symbols) and calls through the GOT reaches. Beyond FuzzLinker's diff and
// value, the reference linker's loaded image must be ld.lld's byte for
// byte (pipeline.SameLoadedELF), as it promises.
func FuzzRefLinker(f *testing.F) {
	tools.Require(f, "ld.lld")
	l, err := linker.Lookup(linker.Ref)
	if err != nil {
		f.Fatal(err)
	}
	lldL, err := linker.Lookup(linker.LLD)
	if err != nil {
		f.Fatal(err)
	}
	faults, err := envFaults()
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range refLinkerSeeds {
		f.Add(encodeRefLinker(in))
	}
	runner := exec.NewRunner()
	f.Cleanup(func() { runner.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		var in refLinkerInput
		gofuzz.NewFromGoFuzz(data).NilChance(0).Fuzz(&in)
		c := linkerCheck{faults: faults, got: in.GOT, disguise: true, sameLoaded: true}
		if err := checkLinker(context.Background(), l, lldL, in.base(), runner, t.TempDir(), c); err != nil {
			t.Fatal(err)
		}
	})
}

// linkerCheck is how checkLinker builds, links and checks.
type linkerCheck struct {
	// tally, when not nil, counts the checks evaluated (the image
	// comparison as invariant 2, its diff keys, the run as invariant 1).
	tally  checkTally
	faults fault.Set // planted in the reference linker
	got    bool      // calls through the GOT (codegen's CallsViaGOT)
	// disguise rewrites the objects (pipeline.Disguise).
	disguise bool
	// sameLoaded requires the loaded bytes to be ld.lld's
	// (pipeline.SameLoadedELF): the reference linker's promise.
	sameLoaded bool
}

// checkLinker generates in's program, links its objects with l (with
// c's faults planted when l is the reference linker) and with ld.lld, and
// checks l's output against the interpreter and lld's image.
func checkLinker(ctx context.Context, l, lldL *linker.Linker, in linkerInput, r *exec.Runner, dir string, c linkerCheck) error {
	funcs, units := 1+int(in.Funcs)%40, 1+int(in.Units)%4
	m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), ir.GenConfig{Funcs: funcs})
	want, err := ir.Interp(m, ir.InterpOptions{Fuel: filterFuel})
	if err != nil {
		return nil // too slow to be worth linking: not a failure
	}
	var rewrites []string
	fail := func(format string, args ...any) error {
		v, _ := l.Version(obj.ELF)
		return fmt.Errorf("linker %s (%s), seed %d, %d functions, %d units, calls via GOT %v: %s\n%s\nprogram:\n%s",
			l.Name, v, in.Seed, funcs, units, c.got, fmt.Sprintf(format, args...), obj.RewriteNote(rewrites), ir.Print(m))
	}
	opts := target.CompileOptions{CallsViaGOT: c.got}
	if c.disguise {
		opts.Rewrite = pipeline.Disguise(in.Seed, &rewrites)
	}
	objs, err := pipeline.BuildDirWith(m, obj.ELF, units, filepath.Join(dir, "obj"), opts)
	if err != nil {
		return fail("build: %v", err)
	}
	res, err := pipeline.DiffLinkersWith(ctx, obj.ELF, lldL, l, objs, dir, diff.Options{Ignore: l.Rules}, linker.Options{Faults: c.faults})
	if err != nil {
		return fail("%v", err)
	}
	tally := c.tally
	tally.inv(2)
	tally.image(moduleSubjects(m))
	if len(l.Rules) > 0 {
		tally.keys(diff.KeyUnknownIgnore)
	}
	if !res.Report.Equal() {
		return fail("its image differs from ld.lld's:\n%s", res.Report.Text())
	}
	if c.sameLoaded {
		a, aerr := os.ReadFile(res.ExeA)
		b, berr := os.ReadFile(res.ExeB)
		if err := errors.Join(aerr, berr); err != nil {
			return fail("%v", err)
		}
		if err := pipeline.SameLoadedELF(a, b); err != nil {
			return fail("its loaded image is not ld.lld's byte for byte: %v", err)
		}
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
	for _, in := range append([]refLinkerInput{{-5, 200, 7, true}, {1 << 40, 39, 3, false}}, refLinkerSeeds...) {
		var got refLinkerInput
		gofuzz.NewFromGoFuzz(encodeRefLinker(in)).NilChance(0).Fuzz(&got)
		if got != in {
			t.Fatalf("encodeRefLinker(%+v) decodes to %+v", in, got)
		}
	}
}

// Full-link mechanisms, as TestFullLinkCoverage counts them per input.
const (
	mechMultiUnit  = "several units"
	mechShadowed   = "local shadowed by a global"
	mechAbsolute   = "absolute symbol"
	mechGOTCalls   = "calls through the GOT"
	mechCrossShade = "shadowed local called"
)

// fullLinkFloor is the share (in percent) of FuzzRefLinker's inputs, over
// its seeds and the random inputs, that must exercise each full-link
// mechanism.
const fullLinkFloor = 15

// TestFullLinkCoverage counts, over FuzzRefLinker's seeds and 1,000 random
// inputs (200 with -short), how many inputs reach each input the full-link
// defects need (several units, a local shadowed by a global of another
// unit and called, an absolute symbol, calls through the GOT), logs the
// table and fails when one falls below fullLinkFloor percent: the seeded
// defects of scope link (ref/fault) depend on them.
func TestFullLinkCoverage(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	var inputs [][]byte
	for _, in := range refLinkerSeeds {
		inputs = append(inputs, encodeRefLinker(in))
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < n; i++ {
		b := make([]byte, 8+r.Intn(64))
		r.Read(b)
		inputs = append(inputs, b)
	}
	counts := map[string]int{}
	for _, data := range inputs {
		var in refLinkerInput
		gofuzz.NewFromGoFuzz(data).NilChance(0).Fuzz(&in)
		funcs, units := 1+int(in.Funcs)%40, 1+int(in.Units)%4
		m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), ir.GenConfig{Funcs: funcs})
		var objs []*obj.Object
		_, _, err := target.MustLookup(obj.ELF).Objects(m, units, target.CompileOptions{CallsViaGOT: in.GOT, Rewrite: func(o []*obj.Object) {
			pipeline.Disguise(in.Seed, nil)(o)
			objs = o
		}})
		require.NoError(t, err)
		seen := map[string]bool{}
		if units > 1 {
			seen[mechMultiUnit] = true
		}
		if in.GOT {
			seen[mechGOTCalls] = true
		}
		for _, o := range objs {
			defined := map[string]bool{}
			for _, s := range o.Symbols {
				if s.Defined() && s.Bind != obj.Local {
					defined[s.Name] = true
				}
			}
			for k, s := range o.Symbols {
				switch {
				case s.Section == obj.Abs:
					seen[mechAbsolute] = true
				case s.Bind == obj.Local && s.Kind == obj.SymFunc && !defined[s.Name] && globalElsewhere(objs, o, s.Name):
					seen[mechShadowed] = true
					for _, sec := range o.Sections {
						for _, rel := range sec.Relocs {
							if rel.Sym == k {
								seen[mechCrossShade] = true
							}
						}
					}
				}
			}
		}
		for m := range seen {
			counts[m]++
		}
	}
	mechs := []string{mechMultiUnit, mechShadowed, mechCrossShade, mechAbsolute, mechGOTCalls}
	var b strings.Builder
	for _, m := range mechs {
		fmt.Fprintf(&b, "%-28s %5d of %d inputs\n", m, counts[m], len(inputs))
	}
	t.Logf("FuzzRefLinker inputs exercising each full-link mechanism:\n%s", b.String())
	for _, m := range mechs {
		require.GreaterOrEqual(t, 100*counts[m], fullLinkFloor*len(inputs), "%q below the floor of %d%%", m, fullLinkFloor)
	}
}

// globalElsewhere reports whether an object other than o defines a
// global named name.
func globalElsewhere(objs []*obj.Object, o *obj.Object, name string) bool {
	for _, p := range objs {
		if p == o {
			continue
		}
		if i := p.Lookup(name); i >= 0 && p.Symbols[i].Defined() && p.Symbols[i].Bind != obj.Local {
			return true
		}
	}
	return false
}
