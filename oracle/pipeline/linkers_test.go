package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// requireLinker returns the named linker, skipping (or failing, with
// LINKCHECK_REQUIRE_TOOLS=1) when its program is missing.
func requireLinker(t *testing.T, name string) *linker.Linker {
	t.Helper()
	l, err := linker.Lookup(name)
	require.NoError(t, err)
	if tn := l.ToolName(obj.ELF); tn != "" {
		tools.Require(t, tn)
	}
	return l
}

// tally counts outcomes for the closing log line of a test.
type tally struct {
	mu     sync.Mutex
	n      int
	ignore map[string]int // rule/key -> suppressed differences
}

func (c *tally) add(rep *diff.Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.ignore == nil {
		c.ignore = map[string]int{}
	}
	for _, ig := range rep.Ignored {
		c.ignore[ig.Rule+" "+ig.Key] += ig.Count
	}
}

func (c *tally) String() string {
	var ks []string
	for k, n := range c.ignore {
		ks = append(ks, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(ks)
	return fmt.Sprintf("%d links equal to lld's; suppressed: %s", c.n, strings.Join(ks, ", "))
}

// testLinkerPrograms is the Must show for one linker: every corpus program
// and 200 generated ones, split into 1 to 4 units, linked by the linker
// under test, run natively to the interpreter's value, and equal to
// ld.lld's link as canonical images with only that linker's rules.
func testLinkerPrograms(t *testing.T, name string) {
	l := requireLinker(t, name)
	lldL := requireLinker(t, linker.LLD)
	n := 200
	if testing.Short() {
		n = 30
	}
	progs := append(corpusPrograms(t), generatedPrograms(n, 0)...)
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	var c tally
	t.Run("all", func(t *testing.T) {
		for i, p := range progs {
			units := 1 + i%4
			t.Run(fmt.Sprintf("%s/units=%d", p.name, units), func(t *testing.T) {
				t.Parallel()
				want, err := Expected(p.m)
				require.NoError(t, err)
				dir := t.TempDir()
				objs, err := BuildDir(p.m, obj.ELF, units, filepath.Join(dir, "obj"))
				require.NoError(t, err)
				res, err := DiffLinkers(context.Background(), obj.ELF, lldL, l, objs, dir, diff.Options{Ignore: l.Rules})
				require.NoError(t, err)
				require.True(t, res.Report.Equal(), "%s", res.Report.Text())
				require.Greater(t, res.Report.Coverage.CodeCompared, uint64(0))
				require.Equal(t, res.Report.Coverage.CodeBytes, res.Report.Coverage.CodeCompared, "all code compared: %s", res.Report.Text())
				got, err := runner.Run(context.Background(), res.ExeB, oexec.Options{Mode: oexec.Native})
				require.NoError(t, err)
				require.True(t, got.Matches(want), "%s's executable computed %s, the interpreter says %d", name, got, want)
				c.add(res.Report)
			})
		}
	})
	t.Logf("%s (%s): %d programs: %s", name, linkerVersion(t, l), len(progs), &c)
}

func linkerVersion(t *testing.T, l *linker.Linker) string {
	v, err := l.Version(obj.ELF)
	require.NoError(t, err)
	return v
}

func TestMoldAgainstLLD(t *testing.T) { testLinkerPrograms(t, linker.Mold) }
func TestBFDAgainstLLD(t *testing.T)  { testLinkerPrograms(t, linker.BFD) }
func TestGoldAgainstLLD(t *testing.T) { testLinkerPrograms(t, linker.Gold) }

// TestLinkersCCorpus links clang's objects of corpus/c under the five flag
// sets with mold, GNU ld and gold: each equals ld.lld's link with that
// linker's rules, every code byte is compared, nothing is left unnamed,
// and the executables exit with lld's status.
func TestLinkersCCorpus(t *testing.T) {
	lldL := requireLinker(t, linker.LLD)
	dirs, err := filepath.Glob("../../corpus/c/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	for _, name := range []string{linker.Mold, linker.BFD, linker.Gold} {
		t.Run(name, func(t *testing.T) {
			l := requireLinker(t, name)
			var c tally
			for _, d := range dirs {
				if st, err := os.Stat(d); err != nil || !st.IsDir() {
					continue
				}
				if filepath.Base(d) == "tls" {
					// Not for TLS: canon names every TLS access of the
					// four linkers' outputs alike (tpoff(x)). What it
					// cannot name yet are the linker-defined symbols
					// this program reads: __init_array_end, which
					// ld.lld writes as a local at the end of
					// .init_array and GNU ld and gold place at the
					// address of the next data symbol (scale), and
					// __ehdr_start (the ELF header, in no section),
					// reached directly, through GOT slots or as
					// immediates (docs/linkers.md). The differences
					// would be canon's, not the linkers'.
					continue
				}
				for _, flags := range cFlagSets {
					t.Run(filepath.Base(d)+"/"+strings.ReplaceAll(flags, " ", "_"), func(t *testing.T) {
						work := t.TempDir()
						objs := compileCorpusC(t, d, flags, work)
						res, err := DiffLinkers(context.Background(), obj.ELF, lldL, l, objs, work, diff.Options{Ignore: l.Rules})
						require.NoError(t, err)
						require.True(t, res.Report.Equal(), "%s", res.Report.Text())
						require.Equal(t, res.Report.Coverage.CodeBytes, res.Report.Coverage.CodeCompared, "%s", res.Report.Text())
						im, err := readImage(res.ExeB, res.Objects)
						require.NoError(t, err)
						require.Empty(t, im.Notes, "everything is named")
						gotOut, gotErr := exec.Command(res.ExeB).Output()
						lldOut, lldErr := exec.Command(res.ExeA).Output()
						require.GreaterOrEqual(t, exitCode(lldErr), 0)
						require.Equal(t, exitCode(lldErr), exitCode(gotErr))
						require.Equal(t, lldOut, gotOut)
						c.add(res.Report)
					})
				}
			}
			t.Logf("%s: corpus/c: %s", name, &c)
		})
	}
}

// TestLinkerRulesAreNeeded checks that each rule a linker names suppresses
// something on a program where that linker's output differs from lld's:
// no rule is listed without a reason found in practice.
func TestLinkerRulesAreNeeded(t *testing.T) {
	lldL := requireLinker(t, linker.LLD)
	progs := corpusPrograms(t)
	for _, name := range []string{linker.Mold, linker.BFD, linker.Gold} {
		t.Run(name, func(t *testing.T) {
			l := requireLinker(t, name)
			used := map[string]bool{}
			for _, p := range progs[:4] {
				dir := t.TempDir()
				objs, err := BuildDir(p.m, obj.ELF, 2, filepath.Join(dir, "obj"))
				require.NoError(t, err)
				res, err := DiffLinkers(context.Background(), obj.ELF, lldL, l, objs, dir, diff.Options{Ignore: l.Rules})
				require.NoError(t, err)
				for _, ig := range res.Report.Ignored {
					used[ig.Rule] = true
				}
			}
			for _, r := range l.Rules {
				if r == "padding" {
					continue // only functions without st_size (assembly) have padding
				}
				require.True(t, used[r], "rule %s of %s suppressed nothing", r, name)
			}
		})
	}
}

// brokenLinker is a linker that is wrong on purpose: it links with ld.lld
// and then, with MODE=call, points main's first call at the function the
// symbol `other` names, or, with MODE=data, the 8-byte pointer `ptr` at
// `other`. It uses only the shell, dd and LLVM's tools.
const brokenLinker = `#!/bin/sh
# broken-linker.sh MODE OUT OBJ...: ld.lld, then one deliberate defect.
set -e
mode=$1; out=$2; shift 2
B=
for d in "$LINKCHECK_LLVM_BIN" /usr/lib/llvm-16/bin; do
  if [ -n "$d" ] && [ -x "$d/ld.lld" ]; then B=$d; break; fi
done
[ -n "$B" ] || { echo "broken-linker: no ld.lld" >&2; exit 1; }
"$B/ld.lld" -e _start -o "$out" "$@"
addr() { "$B/llvm-nm" "$out" | awk -v s="$1" '$3 == s { print $1 }'; }
# file offset of an address: the loadable segment that holds it
off() {
  a=$(( 0x$1 ))
  "$B/llvm-readobj" --elf-output-style=GNU -l --wide "$out" | awk '$1 == "LOAD" { print $2, $3, $5 }' |
  while read o v fs; do
    if [ $a -ge $((v)) ] && [ $a -lt $((v + fs)) ]; then echo $((a - v + o)); break; fi
  done
}
# put32 OFFSET VALUE: 4 little-endian bytes; put64 likewise 8
putbytes() {
  o=$1; v=$2; n=$3; i=0; s=
  while [ $i -lt $n ]; do s="$s$(printf '\\%03o' $(( (v >> (8*i)) & 255 )))"; i=$((i+1)); done
  printf "$s" | dd of="$out" bs=1 seek="$o" conv=notrunc status=none
}
other=$(addr other)
case $mode in
call)
  line=$("$B/llvm-objdump" -d --no-show-raw-insn --disassemble-symbols=main "$out" | grep -m1 -E '^ *[0-9a-f]+:[[:space:]]+call')
  at=$(echo "$line" | awk -F: '{ gsub(/ /, "", $1); print $1 }')
  putbytes $(( $(off "$at") + 1 )) $(( 0x$other - (0x$at + 5) )) 4 ;;
data)
  putbytes $(off "$(addr ptr)") $(( 0x$other )) 8 ;;
esac
`

// brokenProgram calls f and holds a pointer to f; other is a function of
// the same shape the defects redirect to.
const brokenProgram = `
const ptr = &f
func f(x) { return x + 1 }
func other(x) { return x + 2 }
func main() { return f(40) + call load ptr(0) + other(0) }
`

// TestBrokenCommandLinker: a cmd: linker that links with ld.lld and then
// breaks one call displacement or one data pointer is reported under
// text.operand or data.pointer, with both sides, and only there.
func TestBrokenCommandLinker(t *testing.T) {
	lldL := requireLinker(t, linker.LLD)
	for _, tool := range []string{"llvm-nm", "llvm-objdump", "llvm-readobj"} {
		tools.Require(t, tool)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "broken-linker.sh")
	require.NoError(t, os.WriteFile(script, []byte(brokenLinker), 0o755))
	p, err := ir.Parse("broken.lir", []byte(brokenProgram))
	require.NoError(t, err)
	objs, err := BuildDir(p, obj.ELF, 2, filepath.Join(dir, "obj"))
	require.NoError(t, err)
	for _, tc := range []struct {
		mode, key, symbol, a, b string
	}{
		{"call", diff.KeyTextOperand, "main", "call f", "call other"},
		{"data", diff.KeyDataPointer, "ptr", "abs64 &f", "abs64 &other"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			l, err := linker.Lookup("cmd:" + script + " " + tc.mode + " {out} {objs}")
			require.NoError(t, err)
			work := t.TempDir()
			res, err := DiffLinkers(context.Background(), obj.ELF, lldL, l, objs, work, diff.Options{})
			require.NoError(t, err)
			rep := res.Report
			require.Equal(t, []string{tc.key}, rep.Keys(), "%s", rep.Text())
			ds := rep.Find(tc.key)
			require.Len(t, ds, 1, "%s", rep.Text())
			require.Equal(t, tc.symbol, ds[0].Symbol)
			require.Contains(t, ds[0].A, tc.a)
			require.Contains(t, ds[0].B, tc.b)
			require.Contains(t, rep.Text(), "lld: "+ds[0].A)
		})
	}
}

// goldTable counts what gold did with the updates of many sequences.
type goldTable struct {
	mu                         sync.Mutex
	sequences, first, inPlace  int
	refused, failed, checkFail int
	staleGOT                   int            // check failures that are finding 3 (knownStaleGOT)
	reasons                    map[string]int // refusal and failure reasons
	firstFailure, firstCheck   string
}

func (g *goldTable) add(step *GoldStep, checkErr error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reasons == nil {
		g.reasons = map[string]int{}
	}
	switch {
	case step.Version == 1 && step.Outcome == linker.IncrFull:
		g.first++
	case step.Outcome == linker.IncrInPlace:
		g.inPlace++
	case step.Outcome == linker.IncrFull:
		g.refused++
		g.reasons["refused: "+step.Reason]++
	default:
		g.failed++
		g.reasons["failed: "+step.Reason]++
	}
	if checkErr != nil {
		g.checkFail++
		if GoldKnownFinding(checkErr) == FindingGoldStaleGOT {
			g.staleGOT++
			g.reasons["wrong output (finding 3): a GOT slot keeps a moved function's old address"]++
		} else {
			g.reasons["check: "+firstLine(checkErr.Error())]++
		}
	}
}

// merge adds o's counts to g.
func (g *goldTable) merge(o *goldTable) {
	g.sequences += o.sequences
	g.first += o.first
	g.inPlace += o.inPlace
	g.refused += o.refused
	g.failed += o.failed
	g.checkFail += o.checkFail
	g.staleGOT += o.staleGOT
	if g.reasons == nil {
		g.reasons = map[string]int{}
	}
	for k, n := range o.reasons {
		g.reasons[k] += n
	}
	for _, s := range []string{o.firstFailure} {
		if g.firstFailure == "" {
			g.firstFailure = s
		}
	}
	if g.firstCheck == "" {
		g.firstCheck = o.firstCheck
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (g *goldTable) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d sequences: %d first links, %d updates in place, %d refused (full link), %d failed, %d checks failed after a successful link (%d of them finding 3)\n",
		g.sequences, g.first, g.inPlace, g.refused, g.failed, g.checkFail, g.staleGOT)
	var ks []string
	for k := range g.reasons {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		fmt.Fprintf(&b, "  %4d  %s\n", g.reasons[k], k)
	}
	return b.String()
}

// runGoldSequence drives gold's incremental mode over mods in a fresh
// output and checks every successful link (GoldCheck).
func runGoldSequence(t *testing.T, g *goldTable, r *oexec.Runner, label string, mods []*ir.Module, units int) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for i, m := range mods {
		step, err := GoldUpdate(context.Background(), out, m, string(ir.Print(m)), units)
		var gf *GoldFailure
		if err != nil && !errors.As(err, &gf) {
			require.NoError(t, err, "version %d", i+1)
		}
		var checkErr error
		if gf == nil {
			_, checkErr = GoldCheck(context.Background(), out, r, nil, oexec.Native, t.TempDir())
		}
		g.add(step, checkErr)
		if checkErr != nil {
			g.mu.Lock()
			if g.firstCheck == "" {
				g.firstCheck = fmt.Sprintf("%s, units %d, version %d: %v", label, units, i+1, checkErr)
			}
			g.mu.Unlock()
		}
		if gf != nil {
			g.mu.Lock()
			if g.firstFailure == "" {
				g.firstFailure = gf.Error()
			}
			g.mu.Unlock()
		}
	}
	g.mu.Lock()
	g.sequences++
	g.mu.Unlock()
}

// TestGoldIncremental is the Must show for gold's incremental mode: the
// update sequences of corpus/updates/ and 100 random ones (units 1 to 3)
// are linked by `ld.gold --incremental`, version by version, each
// successful link checked (the value, the image against a fresh ld.lld
// link, LLVM's tools); the table of what gold did is logged. A check that
// fails after gold reported success would be a wrong output: the test
// requires none. gold's own failures are findings (docs/findings.md) and
// are counted, not failed on.
func TestGoldIncremental(t *testing.T) {
	requireLinker(t, linker.Gold)
	requireLinker(t, linker.LLD)
	n := 100
	if testing.Short() {
		n = 10
	}
	r := oexec.NewRunner()
	t.Cleanup(func() { r.Close() })
	var g, gc, gr goldTable
	dirs, err := filepath.Glob("../../corpus/updates/*")
	require.NoError(t, err)
	t.Run("corpus", func(t *testing.T) {
		for _, d := range dirs {
			vs, err := filepath.Glob(filepath.Join(d, "v*.lir"))
			require.NoError(t, err)
			sort.Slice(vs, func(i, j int) bool { return len(vs[i]) < len(vs[j]) || len(vs[i]) == len(vs[j]) && vs[i] < vs[j] })
			var mods []*ir.Module
			for _, v := range vs {
				m, err := Load(v)
				require.NoError(t, err)
				mods = append(mods, m)
			}
			for units := 1; units <= 2; units++ {
				t.Run(fmt.Sprintf("%s/units=%d", filepath.Base(d), units), func(t *testing.T) { runGoldSequence(t, &gc, r, d, mods, units) })
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		for seed := 1; seed <= n; seed++ {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel()
				mods, _ := ir.SequenceEdits(int64(seed), 3+seed%10, 3+seed%4)
				runGoldSequence(t, &gr, r, fmt.Sprintf("ir.SequenceEdits(%d, %d, %d)", seed, 3+seed%10, 3+seed%4), mods, 1+seed%3)
			})
		}
	})
	g.merge(&gc)
	g.merge(&gr)
	t.Logf("gold (%s) incremental:\ncorpus/updates: %s\nrandom: %s\nall: %s", linkerVersion(t, requireLinker(t, linker.Gold)), &gc, &gr, &g)
	if g.firstFailure != "" {
		t.Logf("first failure:\n%s", g.firstFailure)
	}
	require.Zero(t, g.checkFail-g.staleGOT, "a gold link that succeeded produced a wrong output not known yet:\n%s\nfirst:\n%s", &g, g.firstCheck)
}
