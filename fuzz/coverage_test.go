package fuzz

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The incremental linker's mechanismNames, as the coverage test counts them
// per update.
const (
	mechMove          = "move"
	mechInPlace       = "in-place rewrite"
	mechAdd           = "atom added"
	mechDelete        = "atom deleted"
	mechTrampoline    = "trampoline written"
	mechRetarget      = "trampoline retargeted"
	mechGOTWrite      = "GOT slot written"
	mechGOTReuse      = "GOT slot reused"
	mechRepatch       = "field re-patched"
	mechGrow          = "region grown"
	mechErrTab        = "error table regenerated"
	mechAlignedMove   = "over-aligned move"
	mechPointerTarget = "pointer's target moved"
	mechLastAtom      = "last atom of .text grown"
)

var mechanismNames = []string{mechMove, mechInPlace, mechAdd, mechDelete, mechTrampoline, mechRetarget, mechGOTWrite,
	mechGOTReuse, mechRepatch, mechGrow, mechErrTab, mechAlignedMove, mechPointerTarget, mechLastAtom}

// coverageFloor is how many updates of each target, over its seeds and
// the random inputs, must exercise each mechanism (1 with -short, which
// draws a fifth of the inputs).
const coverageFloor = 3

// impossible lists the mechanisms a target cannot reach by design: the got
// policy leaves no trampolines.
var impossible = map[string][]string{
	targetGOT.name: {mechTrampoline, mechRetarget},
}

// countMechanisms runs one input's versions through an in-memory output
// (no checks: the state alone says what happened) and adds the
// mechanismNames each update exercised, and the edit kinds applied, to counts.
func countMechanisms(tg incrTarget, in incrInput, counts map[string]int) error {
	m := ir.GenerateRand(rand.New(rand.NewSource(in.Seed)), tg.genConfig(in))
	if _, err := ir.Interp(m, ir.InterpOptions{Fuel: filterFuel}); err != nil {
		return nil
	}
	mods, _, _, log := versions(tg, in, m)
	for _, l := range log {
		if _, desc, ok := strings.Cut(l, ": "); ok && !strings.HasPrefix(desc, "skipped") {
			kind, _, _ := strings.Cut(desc, ":")
			counts["edit "+strings.Fields(kind)[0]]++
		}
	}
	policy := tg.policyOf(in)
	c := codegen.NewCompiler(obj.ELF, codegen.Options{CallsViaGOT: policy == incr.ThroughGOT})
	prog, err := c.Compile(mods[0])
	if err != nil {
		return err
	}
	o, err := incr.NewMemOutput(elf.IncrImage{}, prog, "", incr.Options{Policy: policy})
	if err != nil {
		return err
	}
	freed := map[int]bool{}
	for _, next := range mods[1:] {
		st := o.State
		before := map[string]incr.AtomState{}
		for n, a := range st.Atoms {
			before[n] = *a
		}
		last := ""
		for n, a := range st.Atoms {
			if a.Kind == obj.Text && (last == "" || a.Addr > st.Atoms[last].Addr) {
				last = n
			}
		}
		slotsBefore := append([]string(nil), st.GOT.Slots...)
		p, err := c.Compile(next)
		if err != nil {
			return err
		}
		errtabOld := prog.Atom(obj.ErrTabSymbol)
		pt, err := o.Update(p, "")
		if err != nil {
			return err
		}
		s := pt.Stats
		add := func(mech string, ok bool) {
			if ok {
				counts[mech]++
			}
		}
		add(mechMove, s.Moved > 0)
		add(mechInPlace, s.InPlace > 0)
		add(mechAdd, s.Added > 0)
		add(mechDelete, s.Deleted > 0)
		add(mechTrampoline, s.Trampolines > 0)
		add(mechGOTWrite, s.GOTWrites > 0)
		add(mechRepatch, s.Repatched > 0)
		add(mechGrow, len(pt.Grown) > 0)
		if e := p.Atom(obj.ErrTabSymbol); e != nil && errtabOld != nil {
			add(mechErrTab, string(e.Data) != string(errtabOld.Data))
		}
		retarget, aligned, pointer := false, false, false
		for n, a := range st.Atoms {
			b, ok := before[n]
			if !ok || b.Addr == a.Addr {
				continue
			}
			retarget = retarget || b.First != 0
			aligned = aligned || a.Align > 16
			for _, q := range p.Atoms {
				for _, r := range q.Relocs {
					pointer = pointer || (r.Kind == obj.Abs64 && r.Sym == n)
				}
			}
		}
		add(mechRetarget, retarget)
		add(mechAlignedMove, aligned)
		add(mechPointerTarget, pointer)
		if b, ok := before[last]; ok {
			a := st.Atoms[last]
			add(mechLastAtom, a != nil && a.Addr == b.Addr && a.Size > b.Size)
		}
		for i, sym := range slotsBefore {
			if sym != "" && (i >= len(st.GOT.Slots) || st.GOT.Slots[i] != sym) {
				freed[i] = true
			}
		}
		reused := false
		for i, sym := range st.GOT.Slots {
			if sym != "" && freed[i] && (i >= len(slotsBefore) || slotsBefore[i] != sym) {
				reused = true
			}
		}
		add(mechGOTReuse, reused)
		prog = p
		counts["updates"]++
	}
	return nil
}

// TestMechanismCoverage counts, for every incremental target over its seeds
// and 1,000 random inputs (200 with -short), how many updates exercise each
// mechanism of the incremental linker and how often each edit kind is
// applied, logs the table, and fails when a mechanism stays below the
// floor for a target: every target must reach every mechanism now and
// then, so that a defect in one is not left to a single target.
func TestMechanismCoverage(t *testing.T) {
	n, floor := 1000, coverageFloor
	if testing.Short() {
		n, floor = 200, 1
	}
	targets := []incrTarget{targetIncrementalELF, targetErrorTable, targetTrampoline, targetGOT}
	table := map[string]map[string]int{}
	for _, tg := range targets {
		counts := map[string]int{}
		inputs := incrSeeds(t, tg)
		r := rand.New(rand.NewSource(1))
		for i := 0; i < n; i++ {
			b := make([]byte, 64+r.Intn(512))
			r.Read(b)
			inputs = append(inputs, b)
		}
		for _, data := range inputs {
			require.NoError(t, countMechanisms(tg, decodeIncr(data), counts), tg.name)
		}
		table[tg.name] = counts
	}
	var b strings.Builder
	rows := append([]string{"updates"}, mechanismNames...)
	var edits []string
	for _, c := range table {
		for k := range c {
			if strings.HasPrefix(k, "edit ") && !contains(edits, k) {
				edits = append(edits, k)
			}
		}
	}
	sort.Strings(edits)
	rows = append(rows, edits...)
	fmt.Fprintf(&b, "%-26s", "")
	for _, tg := range targets {
		fmt.Fprintf(&b, "%20s", tg.name)
	}
	b.WriteString("\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "%-26s", row)
		for _, tg := range targets {
			fmt.Fprintf(&b, "%20d", table[tg.name][row])
		}
		b.WriteString("\n")
	}
	t.Logf("updates exercising each mechanism, and edits applied, over seeds + %d random inputs:\n%s", n, b.String())
	for _, tg := range targets {
		for _, mech := range mechanismNames {
			if contains(impossible[tg.name], mech) {
				require.Zero(t, table[tg.name][mech], "%s: %q cannot happen under its policy", tg.name, mech)
				continue
			}
			require.GreaterOrEqual(t, table[tg.name][mech], floor, "%s: mechanism %q below the floor", tg.name, mech)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
