package fuzz

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/invariant"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// checkTally counts the checks one input evaluated on a subject, for the
// campaign's measured coverage (StatsRecorder): an invariant is counted
// when the output had something for it to check (invariant 3 a GOT
// reference, 4 a trampoline, 7 an error table; 5 and 6 every checked
// link), a diff key when the compared images had its subject.
type checkTally map[string]int64

// inv counts invariant n; a nil tally counts nothing.
func (c checkTally) inv(n int) {
	if c != nil {
		c[CheckInvariant(n, invariant.Names[n])]++
	}
}

func (c checkTally) keys(ks ...string) {
	if c == nil {
		return
	}
	for _, k := range ks {
		c[CheckDiffKey(k)]++
	}
}

// subjects is what a linked version holds for the checks to look at.
type subjects struct {
	got, trampoline, data, pointer, bss, errtab bool
}

// subjectsOf reads them from the incremental state and the version.
func subjectsOf(st *incr.State, m *ir.Module) subjects {
	var s subjects
	for _, a := range st.Atoms {
		s.trampoline = s.trampoline || a.First != 0
		switch a.Kind {
		case obj.BSS:
			s.bss = true
		case obj.Data, obj.ROData:
			s.data = true
		}
		for _, r := range a.Relocs {
			switch {
			case r.Kind == obj.GOTLoad32 || r.Kind == obj.GOTPCRel32:
				s.got = true
			case r.Kind == obj.Abs64 && a.Kind != obj.Text:
				s.pointer = true
			}
		}
	}
	s.errtab = len(m.Errors) > 0
	return s
}

// moduleSubjects reads them from a version alone, as the code generator
// lowers it (codegen.CompileGlobal): zero mutable globals in BSS, other
// globals and consts as data, address initializers as pointers.
func moduleSubjects(m *ir.Module) subjects {
	s := subjects{errtab: len(m.Errors) > 0}
	for _, g := range m.Globals {
		switch {
		case !g.Const && g.Init.Addr == "" && g.Init.Value == 0:
			s.bss = true
		default:
			s.data = true
			s.pointer = s.pointer || g.Init.Addr != ""
		}
	}
	return s
}

// session counts the checks of one checked link of an incremental
// session: the invariants after every link; with full, execution (when
// run), the fresh-link diff and its keys.
func (c checkTally) session(s subjects, full, run bool) {
	if c == nil {
		return
	}
	c.inv(5)
	c.inv(6)
	if s.got {
		c.inv(3)
	}
	if s.trampoline {
		c.inv(4)
	}
	if s.errtab {
		c.inv(7)
	}
	if !full {
		return
	}
	if run {
		c.inv(1)
	}
	c.inv(2)
	c.image(s)
}

// image counts the diff keys of one comparison of canonical images.
func (c checkTally) image(s subjects) {
	c.keys(diff.KeyEntry, diff.KeySymbolMissing, diff.KeySymbolExtra, diff.KeySymbolKind, diff.KeySymbolSize,
		diff.KeySymbolBinding, diff.KeySectionFlags, diff.KeyTextLength, diff.KeyTextInsn, diff.KeyTextOperand,
		diff.KeyPointerSource)
	if s.data {
		c.keys(diff.KeyDataBytes)
	}
	if s.pointer {
		c.keys(diff.KeyDataPointer)
	}
	if s.bss {
		c.keys(diff.KeyDataBSS)
	}
	if s.errtab {
		c.keys(diff.KeyErrtabName, diff.KeyErrtabCount, diff.KeyErrtabBad)
	}
}

// TestStatsRecorder checks that the records of two processes add up and
// that a recorder without StatsEnv records nothing.
func TestStatsRecorder(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(StatsEnv, "")
	require.Nil(t, NewStatsRecorder("FuzzX"))
	var none *StatsRecorder
	none.Add(1, nil)
	require.NoError(t, none.Flush())

	t.Setenv(StatsEnv, dir)
	for i := 0; i < 2; i++ {
		r := NewStatsRecorder("FuzzX")
		require.NotNil(t, r)
		c := checkTally{}
		c.session(subjects{trampoline: true, errtab: true}, i == 1, true)
		r.Add(3, c)
		require.NoError(t, r.Flush())
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "FuzzX", "cut.json"), []byte(`{"target":"FuzzX","inp`), 0o644))
	s := ReadStats(dir, "FuzzX")
	require.Equal(t, int64(2), s.Inputs)
	require.Equal(t, int64(6), s.Updates)
	require.Equal(t, int64(2), s.Checks["invariant 4 (trampoline)"])
	require.Equal(t, int64(1), s.Checks["invariant 2 (fresh link)"])
	require.Equal(t, int64(1), s.Checks["diff key errtab.name"])
	require.Zero(t, s.Checks["invariant 3 (GOT slot)"])
}
