package coff

import (
	"bytes"
	"context"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	lcexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/obj/objtest"
	"github.com/stretchr/testify/require"
)

// symbolLines renders every symbol with its section by index, so that two
// objects compare equal whatever the symbol order and section names.
func symbolLines(o *obj.Object) []string {
	var out []string
	for _, s := range o.Symbols {
		sec := "UNDEF"
		switch s.Section {
		case obj.Undef:
		case obj.Abs:
			sec = "ABS"
		default:
			sec = fmt.Sprintf("#%d", s.Section)
		}
		name := s.Name
		if s.Kind == obj.SymSection {
			name = "(section)"
		}
		out = append(out, fmt.Sprintf("%s %s %s+%#x size=%d %s", name, s.Kind, sec, s.Value, s.Size, s.Bind))
	}
	sort.Strings(out)
	return out
}

// relocLines renders relocations with target names (sections by index).
func relocLines(o *obj.Object) []string {
	var out []string
	for i, s := range o.Sections {
		for _, r := range s.Relocs {
			t := o.Symbols[r.Sym]
			name := t.Name
			if t.Kind == obj.SymSection {
				name = fmt.Sprintf("#%d", t.Section)
			}
			out = append(out, fmt.Sprintf("#%d+%#x %s %s%+d", i, r.Offset, r.Kind, name, r.Addend))
		}
	}
	return out
}

// requireEquivalent checks that got is want as COFF can carry it: the
// same sections (kind, alignment, size, bytes; COFF names sections by
// kind), symbols and relocations.
func requireEquivalent(t *testing.T, want, got *obj.Object) {
	t.Helper()
	require.Len(t, got.Sections, len(want.Sections))
	for i, s := range want.Sections {
		g := got.Sections[i]
		require.Equal(t, s.Kind, g.Kind, "section %d", i)
		require.Equal(t, s.Align, g.Align, "section %d", i)
		require.Equal(t, s.Size, g.Size, "section %d", i)
		require.Equal(t, len(s.Data), len(g.Data), "section %d", i)
		if len(s.Data) > 0 {
			require.Equal(t, s.Data, g.Data, "section %d", i)
		}
	}
	require.Equal(t, symbolLines(want), symbolLines(got))
	require.Equal(t, relocLines(want), relocLines(got))
}

func noName() *obj.Object {
	return &obj.Object{Name: "noname.obj", Symbols: []*obj.Symbol{{Name: "", Section: obj.Abs, Value: 1, Bind: obj.Global}}}
}

// corpusObjects compiles corpus programs for COFF and splits them into
// units, as `linkcheck build -format coff` does.
func corpusObjects(t *testing.T) []*obj.Object {
	t.Helper()
	var out []*obj.Object
	for _, prog := range []string{"design_example", "data_pointers", "indirect_calls", "locals_units", "over_aligned", "errors_one"} {
		path := filepath.Join("..", "..", "corpus", "programs", prog+".lir")
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		m, err := ir.Parse(path, src)
		require.NoError(t, err)
		require.NoError(t, ir.Check(m))
		const units = 3
		objs, err := codegen.Build(m, obj.COFF, ir.Partition(m, units), units, func(u int) string { return fmt.Sprintf("%s.%d.obj", prog, u) })
		require.NoError(t, err)
		out = append(out, objs...)
	}
	return out
}

// TestReadRoundTrip reads what WriteObject wrote: the writer's fixtures
// and corpus programs compiled for COFF. The model comes back up to what
// COFF cannot carry, and writing it again gives the same bytes.
func TestReadRoundTrip(t *testing.T) {
	lib := objtest.Library("b.obj")
	// COFF has no symbol types or sizes: str, a label in read-only data,
	// comes back as a data symbol reaching to its section's end.
	libWant := objtest.Library("b.obj")
	libWant.Symbols[2].Kind, libWant.Symbols[2].Size = obj.SymData, 3
	tests := []struct{ in, want *obj.Object }{
		{fixtureA(), fixtureA()},
		{lib, libWant},
		{&obj.Object{Name: "empty.obj"}, &obj.Object{Name: "empty.obj"}},
		// An empty name is an all-zero name field, which is string-table
		// offset 0 (FuzzReadCOFF found the writer's output refused).
		{noName(), noName()},
	}
	for _, o := range corpusObjects(t) {
		tests = append(tests, struct{ in, want *obj.Object }{o, o})
	}
	for _, tt := range tests {
		t.Run(tt.in.Name, func(t *testing.T) {
			b, err := WriteObject(tt.in)
			require.NoError(t, err)
			f, err := Read(tt.in.Name, b)
			require.NoError(t, err)
			requireEquivalent(t, tt.want, f.Object)
			require.Empty(t, f.Comdats)
			for i, s := range f.Object.Sections {
				require.Equal(t, i+1, f.SectionNumber[i])
				require.Equal(t, map[obj.SectionKind]string{obj.Text: ".text", obj.ROData: ".rdata", obj.Data: ".data", obj.BSS: ".bss"}[s.Kind], s.Name)
			}
			b2, err := WriteObject(f.Object)
			require.NoError(t, err)
			require.Equal(t, b, b2)
		})
	}
}

// assemble runs llvm-mc for x86_64-pc-windows-msvc on src.
func assemble(t *testing.T, src string) []byte {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	p := writeFile(t, dir, "x.s", []byte(src))
	out := filepath.Join(dir, "x.obj")
	run(t, dir, mc.Path, "-triple", "x86_64-pc-windows-msvc", "-filetype=obj", "-o", out, p)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

func assembleFile(t *testing.T, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return assemble(t, string(src))
}

// compile runs clang -O2 for target on testdata/name.
func compile(t *testing.T, target, name string, flags ...string) []byte {
	t.Helper()
	clang := tools.Require(t, "clang")
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	out := filepath.Join(dir, "x.obj")
	run(t, dir, clang.Path, append([]string{"--target=" + target, "-c", "-O2", "-o", out, src}, flags...)...)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

// readobjSection is a section as llvm-readobj --sections prints it.
type readobjSection struct {
	name  string
	size  uint64
	flags uint32
}

// llvmView is what llvm-readobj and llvm-objdump say of an object.
type llvmView struct {
	sections map[int]readobjSection // by number
	relocs   map[int][]llvmReloc    // by section number
	symbols  map[int]llvmSymbol     // by index
	secdefs  map[int]llvmSecdef     // by section number
}

type llvmReloc struct {
	offset uint64
	typ    string
	sym    string
	index  int
}

type llvmSymbol struct {
	name         string
	section      int
	typ, class   int
	value        uint64
	aux, weakTag int
}

type llvmSecdef struct{ assoc, comdat int }

var (
	roSection = regexp.MustCompile(`(?s)Section \{\s*Number: (\d+)\s*Name: (\S*) \(.*?RawDataSize: (\d+).*?Characteristics \[ \(0x([0-9A-F]+)\)`)
	roRelocSe = regexp.MustCompile(`^\s*Section \((\d+)\) \S* \{$`)
	roReloc   = regexp.MustCompile(`^\s*0x([0-9A-F]+) (IMAGE_REL_AMD64_\S+) (.*) \((\d+)\)$`)
	odSymbol  = regexp.MustCompile(`^\[\s*(\d+)\]\(sec\s+(-?\d+)\)\(fl 0x[0-9a-f]+\)\(ty\s+([0-9a-f]+)\)\(scl\s+([0-9a-f]+)\) \(nx (\d+)\) 0x([0-9a-f]+) (.*)$`)
	odWeak    = regexp.MustCompile(`^AUX indx (\d+) srch \d+$`)
	odSecdef  = regexp.MustCompile(`^AUX scnlen 0x[0-9a-f]+ nreloc \d+ nlnno \d+ checksum 0x[0-9a-f]+ assoc (\d+) comdat (\d+)$`)
)

// llvmRead runs llvm-readobj and llvm-objdump on data.
func llvmRead(t *testing.T, data []byte) llvmView {
	t.Helper()
	readobj := tools.Require(t, "llvm-readobj")
	objdump := tools.Require(t, "llvm-objdump")
	dir := t.TempDir()
	p := writeFile(t, dir, "x.obj", data)
	v := llvmView{sections: map[int]readobjSection{}, relocs: map[int][]llvmReloc{}, symbols: map[int]llvmSymbol{}, secdefs: map[int]llvmSecdef{}}
	out, stderr := run(t, dir, readobj.Path, "--sections", "--relocations", p)
	require.Empty(t, stderr)
	for _, m := range roSection.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		size, _ := strconv.ParseUint(m[3], 10, 64)
		flags, _ := strconv.ParseUint(m[4], 16, 32)
		v.sections[n] = readobjSection{name: m[2], size: size, flags: uint32(flags)}
	}
	cur := -1
	for _, line := range strings.Split(out, "\n") {
		if m := roRelocSe.FindStringSubmatch(line); m != nil {
			cur, _ = strconv.Atoi(m[1])
		} else if m := roReloc.FindStringSubmatch(line); m != nil {
			off, _ := strconv.ParseUint(m[1], 16, 64)
			idx, _ := strconv.Atoi(m[4])
			v.relocs[cur] = append(v.relocs[cur], llvmReloc{offset: off, typ: m[2], sym: m[3], index: idx})
		}
	}
	out, stderr = run(t, dir, objdump.Path, "-t", p)
	require.Empty(t, stderr)
	last := -1
	for _, line := range strings.Split(out, "\n") {
		if m := odSymbol.FindStringSubmatch(line); m != nil {
			var s llvmSymbol
			idx, _ := strconv.Atoi(m[1])
			s.section, _ = strconv.Atoi(m[2])
			typ, _ := strconv.ParseInt(m[3], 16, 32)
			class, _ := strconv.ParseInt(m[4], 16, 32)
			s.typ, s.class = int(typ), int(class)
			s.aux, _ = strconv.Atoi(m[5])
			s.value, _ = strconv.ParseUint(m[6], 16, 64)
			s.name = m[7]
			s.weakTag = -1
			v.symbols[idx] = s
			last = idx
		} else if m := odWeak.FindStringSubmatch(line); m != nil {
			s := v.symbols[last]
			s.weakTag, _ = strconv.Atoi(m[1])
			v.symbols[last] = s
		} else if m := odSecdef.FindStringSubmatch(line); m != nil {
			s := v.symbols[last]
			var d llvmSecdef
			d.assoc, _ = strconv.Atoi(m[1])
			d.comdat, _ = strconv.Atoi(m[2])
			if _, ok := v.secdefs[s.section]; !ok {
				v.secdefs[s.section] = d
			}
		}
	}
	return v
}

// isSecdef reports whether an llvm-objdump symbol is a section definition.
func (s llvmSymbol) isSecdef() bool {
	return s.class == classStatic && s.value == 0 && s.typ == 0 && s.aux > 0 && s.section > 0
}

// crossCheck compares f, read from data, with what LLVM's tools print:
// every kept section's name, size, kind and alignment; every dropped
// section has a reason; every relocation's offset, type, target and
// addend; every symbol's section, value, binding and kind.
func crossCheck(t *testing.T, data []byte, f *File) {
	t.Helper()
	v := llvmRead(t, data)
	o := f.Object
	modelOf := map[int]int{}
	for i, n := range f.SectionNumber {
		modelOf[n] = i
	}
	pf, err := pe.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	// Sections.
	for n, rs := range v.sections {
		i, kept := modelOf[n]
		if !kept {
			cell := false
			for _, s := range v.symbols {
				if s.section == n && strings.HasPrefix(s.name, RefptrPrefix) {
					cell = true
				}
			}
			dropped := rs.name == ".llvm_addrsig" || rs.name == ".drectve" || strings.HasPrefix(rs.name, ".debug$") || rs.flags&scnLnkRemove != 0
			require.True(t, cell || dropped, "section %d %s is missing from the model", n, rs.name)
			continue
		}
		s := o.Sections[i]
		require.Equal(t, rs.name, s.Name)
		require.Equal(t, rs.size, s.Size, s.Name)
		want := obj.ROData
		switch {
		case rs.flags&scnCntUninitialized != 0:
			want = obj.BSS
		case rs.flags&scnCntCode != 0:
			want = obj.Text
		case rs.flags&scnMemWrite != 0:
			want = obj.Data
		}
		require.Equal(t, want, s.Kind, s.Name)
		if shift := (rs.flags >> 20) & 0xf; shift > 0 {
			require.Equal(t, uint64(1)<<(shift-1), s.Align, s.Name)
		}
	}
	// Relocations.
	cellTarget := map[string]string{} // cell symbol -> target
	for n, rels := range v.relocs {
		if _, kept := modelOf[n]; !kept && len(rels) == 1 {
			for _, s := range v.symbols {
				if s.section == n && strings.HasPrefix(s.name, RefptrPrefix) {
					cellTarget[s.name] = rels[0].sym
				}
			}
		}
	}
	for n, rels := range v.relocs {
		i, kept := modelOf[n]
		if !kept {
			continue
		}
		s := o.Sections[i]
		raw, err := pf.Sections[n-1].Data()
		require.NoError(t, err)
		require.Len(t, s.Relocs, len(rels), "section %d %s", n, s.Name)
		for _, lr := range rels {
			j := sort.Search(len(s.Relocs), func(j int) bool { return s.Relocs[j].Offset >= lr.offset })
			require.Less(t, j, len(s.Relocs), "%s+%#x", s.Name, lr.offset)
			r := s.Relocs[j]
			require.Equal(t, lr.offset, r.Offset)
			where := fmt.Sprintf("%s+%#x %s %s", s.Name, lr.offset, lr.typ, lr.sym)
			target := o.Symbols[r.Sym]
			wantName := lr.sym
			if ls := v.symbols[lr.index]; strings.HasPrefix(ls.name, ".weak.") {
				for _, w := range v.symbols {
					if w.weakTag == lr.index {
						wantName = w.name // LLVM's default stands for its weak external
					}
				}
			}
			field := int64(int32(binary.LittleEndian.Uint32(raw[lr.offset:])))
			switch lr.typ {
			case "IMAGE_REL_AMD64_ADDR64":
				require.Equal(t, obj.Abs64, r.Kind, where)
				field = int64(binary.LittleEndian.Uint64(raw[lr.offset:]))
				require.Equal(t, field, r.Addend, where)
			case "IMAGE_REL_AMD64_ADDR32":
				require.Equal(t, obj.Abs32, r.Kind, where)
				require.Equal(t, field, r.Addend, where)
			case "IMAGE_REL_AMD64_ADDR32NB":
				require.Equal(t, obj.ImageRel32, r.Kind, where)
				require.Equal(t, field, r.Addend, where)
			default:
				n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(lr.typ, "IMAGE_REL_AMD64_REL32"), "_"))
				if lr.typ == "IMAGE_REL_AMD64_REL32" {
					n, err = 0, nil
				}
				require.NoError(t, err, where)
				require.True(t, r.Kind.PCRelative(), where)
				require.Equal(t, field-4-int64(n), r.Addend, where)
				if c, ok := cellTarget[lr.sym]; ok {
					require.True(t, r.Kind.UsesGOT(), where)
					wantName = c
				} else {
					require.False(t, r.Kind.UsesGOT(), where)
				}
			}
			if target.Kind == obj.SymSection {
				require.Equal(t, o.Sections[target.Section].Name, wantName, where)
			} else {
				require.Equal(t, wantName, target.Name, where)
			}
			// The field is cleared: the addend lives in the model.
			require.Equal(t, make([]byte, r.Kind.Size()), s.Data[r.Offset:r.Offset+uint64(r.Kind.Size())], where)
		}
	}
	// Symbols.
	byName := map[string][]*obj.Symbol{}
	for _, s := range o.Symbols {
		byName[s.Name] = append(byName[s.Name], s)
	}
	for idx, ls := range v.symbols {
		if ls.isSecdef() || (ls.class != classExternal && ls.class != classStatic && ls.class != classWeakExternal) || ls.section == symDebug {
			continue
		}
		if ls.section > 0 {
			if _, kept := modelOf[ls.section]; !kept {
				continue // a cell or a dropped section
			}
		}
		if strings.HasPrefix(ls.name, ".weak.") {
			continue // stands for its weak external
		}
		where := fmt.Sprintf("symbol %d %s", idx, ls.name)
		cands := byName[ls.name]
		require.NotEmpty(t, cands, where)
		var ms *obj.Symbol
		for _, c := range cands {
			if ls.class == classWeakExternal || ls.section <= 0 || (c.Section == modelOf[ls.section] && c.Value == ls.value) {
				ms = c
			}
		}
		require.NotNil(t, ms, where)
		switch ls.class {
		case classExternal:
			require.Equal(t, obj.Global, ms.Bind, where)
		case classStatic:
			require.Equal(t, obj.Local, ms.Bind, where)
		case classWeakExternal:
			require.Equal(t, obj.Weak, ms.Bind, where)
			def := v.symbols[ls.weakTag]
			if def.section > 0 {
				require.Equal(t, modelOf[def.section], ms.Section, where)
				require.Equal(t, def.value, ms.Value, where)
			} else {
				require.Equal(t, obj.Undef, ms.Section, where)
			}
			continue
		}
		switch {
		case ls.section == 0:
			require.Equal(t, obj.Undef, ms.Section, where)
		case ls.section < 0:
			require.Equal(t, obj.Abs, ms.Section, where)
			require.Equal(t, ls.value, ms.Value, where)
		default:
			if ls.typ == 0x20 {
				require.Equal(t, obj.SymFunc, ms.Kind, where)
			}
		}
	}
	// Every model symbol is one LLVM printed.
	names := map[string]bool{}
	for _, ls := range v.symbols {
		names[ls.name] = true
	}
	for _, s := range o.Symbols {
		require.True(t, names[s.Name], "model symbol %q", s.Name)
	}
}

func TestReadLLVMMC(t *testing.T) {
	data := assembleFile(t, "basic.s")
	f, err := Read("basic.obj", data)
	require.NoError(t, err)
	crossCheck(t, data, f)
	o := f.Object
	require.Equal(t, "basic.c", o.File)
	lines := relocLines(o)
	sec := func(name string) int {
		for i, s := range o.Sections {
			if s.Name == name {
				return i
			}
		}
		t.Fatalf("no section %s", name)
		return -1
	}
	text, data0 := sec(".text"), sec(".data")
	want := []string{
		"#%[1]d+0x1 branch32 helper-4",
		"#%[1]d+0x6 branch32 ext_func-4",
		"#%[1]d+0xd gotload32 ext_var-4",
		"#%[1]d+0x14 gotpcrel32 ext_var-4",
		"#%[1]d+0x1b gotload32 counter-4",
		"#%[1]d+0x22 pcrel32 msg-4",
		"#%[1]d+0x28 pcrel32 msg-4",
		"#%[1]d+0x2f pcrel32 table+4",
		"#%[1]d+0x34 branch32 wundef-4",
		"#%[1]d+0x39 branch32 wdef-4",
		"#%[1]d+0x41 branch32 ext_func-4",
		"#%[1]d+0x46 branch32 helper-4",
		"#%[2]d+0x0 abs64 _start+0",
		"#%[2]d+0x8 abs64 helper+0",
		"#%[2]d+0x10 abs64 ext_func+16",
		"#%[2]d+0x20 imagerel32 helper+0",
		"#%[2]d+0x24 abs32 ext_var+4",
	}
	for i := range want {
		want[i] = fmt.Sprintf(want[i], text, data0)
	}
	require.Equal(t, want, lines)

	sym := func(name string) *obj.Symbol {
		i := o.Lookup(name)
		require.GreaterOrEqual(t, i, 0, name)
		return o.Symbols[i]
	}
	require.Equal(t, obj.SymFunc, sym("_start").Kind)
	require.Equal(t, uint64(0x4a), sym("_start").Size, "_start ends where wdef starts")
	require.Equal(t, obj.Weak, sym("wdef").Bind)
	require.Equal(t, uint64(0x4a), sym("wdef").Value)
	require.Equal(t, obj.Weak, sym("wundef").Bind)
	require.Equal(t, obj.Undef, sym("wundef").Section)
	require.Equal(t, obj.Local, sym("counter").Bind)
	require.Equal(t, obj.SymData, sym("counter").Kind)
	require.Equal(t, obj.BSS, o.Sections[sym("buf").Section].Kind)
	require.Equal(t, uint64(64), sym("buf").Size)
	require.Equal(t, uint64(16), sym("lbuf").Size)
	require.Equal(t, ".data$zz", o.Sections[sym("grouped").Section].Name)
	require.Equal(t, ".rdata$averyveryverylongsectionname", o.Sections[sym("longname").Section].Name)
	require.Equal(t, -1, o.Lookup(".refptr.ext_var"), "cells are dropped")
	require.Equal(t, -1, o.Lookup(".refptr.counter"), "cells are dropped")
	require.Empty(t, f.Comdats, "the only COMDAT was a cell")
}

func TestReadComdat(t *testing.T) {
	data := assembleFile(t, "comdat.s")
	f, err := Read("comdat.obj", data)
	require.NoError(t, err)
	crossCheck(t, data, f)
	o := f.Object
	var got []string
	for _, c := range f.Comdats {
		leader := "-"
		if c.Leader >= 0 {
			leader = o.Symbols[c.Leader].Name
		}
		assoc := "-"
		if c.Associate >= 0 {
			assoc = o.Sections[c.Associate].Name
		}
		got = append(got, fmt.Sprintf("%s sel=%d leader=%s assoc=%s", o.Sections[c.Section].Name, c.Selection, leader, assoc))
	}
	require.Equal(t, []string{
		".text$a sel=1 leader=a assoc=-",
		".text$b sel=2 leader=b assoc=-",
		".rdata$c sel=3 leader=c assoc=-",
		".rdata$d sel=4 leader=d assoc=-",
		".rdata$e sel=6 leader=e assoc=-",
		".rdata$s sel=2 leader=s assoc=-",
		".xdata$b sel=5 leader=- assoc=.text$b", // llvm-mc puts associative sections last

	}, got)
	require.Equal(t, obj.Local, o.Symbols[o.Lookup("s")].Bind, "a static leader")
}

// TestReadClang reads clang's objects for the MSVC and MinGW targets and
// cross-checks them with LLVM's tools.
func TestReadClang(t *testing.T) {
	for _, tt := range []struct {
		target string
		flags  []string
	}{
		{"x86_64-pc-windows-msvc", nil},
		{"x86_64-pc-windows-msvc", []string{"-g"}}, // CodeView in .debug$S/.debug$T, with SECREL and SECTION relocations
		{"x86_64-w64-windows-gnu", nil},            // .refptr cells
	} {
		t.Run(tt.target+strings.Join(tt.flags, ""), func(t *testing.T) {
			data := compile(t, tt.target, "table.c", tt.flags...)
			f, err := Read("table.obj", data)
			require.NoError(t, err)
			crossCheck(t, data, f)
			o := f.Object
			for _, name := range []string{"pick", "run"} {
				s := o.Symbols[o.Lookup(name)]
				require.Equal(t, obj.SymFunc, s.Kind, name)
				require.Equal(t, obj.Global, s.Bind, name)
				require.NotZero(t, s.Size, name)
			}
			require.Equal(t, obj.Local, o.Symbols[o.Lookup("twice")].Bind)
			require.Equal(t, obj.Undef, o.Symbols[o.Lookup("ext")].Section)
			require.Equal(t, obj.BSS, o.Sections[o.Symbols[o.Lookup("zeros")].Section].Kind)
			require.Equal(t, obj.ROData, o.Sections[o.Symbols[o.Lookup("table")].Section].Kind)
			require.Equal(t, obj.Data, o.Sections[o.Symbols[o.Lookup("counter")].Section].Kind)
			// The function-pointer table holds ADDR64s to both functions.
			tab := o.Symbols[o.Lookup("table")]
			var targets []string
			for _, r := range o.Sections[tab.Section].Relocs {
				if r.Offset >= tab.Value && r.Offset < tab.Value+16 {
					require.Equal(t, obj.Abs64, r.Kind)
					targets = append(targets, o.Symbols[r.Sym].Name)
				}
			}
			require.Equal(t, []string{"twice", "thrice"}, targets)
			// ext is reached through a cell on MinGW, directly on MSVC.
			var extKinds []obj.RelocKind
			for _, s := range o.Sections {
				for _, r := range s.Relocs {
					if o.Symbols[r.Sym].Name == "ext" {
						extKinds = append(extKinds, r.Kind)
					}
				}
			}
			if strings.Contains(tt.target, "gnu") {
				require.Equal(t, []obj.RelocKind{obj.GOTLoad32}, extKinds)
				require.Equal(t, -1, o.Lookup(".refptr.ext"))
			} else {
				require.Equal(t, []obj.RelocKind{obj.PCRel32}, extKinds)
			}
			// selectany: a COMDAT whose leader is shared.
			var shared bool
			for _, c := range f.Comdats {
				if c.Leader >= 0 && o.Symbols[c.Leader].Name == "shared" {
					shared = true
					require.Equal(t, uint8(ComdatAny), c.Selection)
				}
			}
			require.True(t, shared, "comdats: %+v", f.Comdats)
		})
	}
}

// TestReadRel32N checks the implicit-addend arithmetic of REL32_1..5
// (S + field - (P + 4 + N)) on objects patched from our writer's, which
// writes plain REL32 with the bias folded into the field.
func TestReadRel32N(t *testing.T) {
	for n := 1; n <= 5; n++ {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			text := objtest.Code([]byte{0x48, 0x8d, 0x05, 0, 0, 0, 0}, make([]byte, n), []byte{0xc3})
			o := &obj.Object{
				Name: "n.obj",
				Sections: []*obj.Section{{Name: ".text", Kind: obj.Text, Align: 16, Data: text, Size: uint64(len(text)),
					Relocs: []obj.Reloc{{Offset: 3, Kind: obj.PCRel32, Sym: 0, Addend: 10 - 4 - int64(n)}}}},
				Symbols: []*obj.Symbol{{Name: "x", Section: obj.Undef, Bind: obj.Global}},
			}
			b, err := WriteObject(o)
			require.NoError(t, err)
			// Patch the relocation to REL32_n and the field to 10.
			le := binary.LittleEndian
			relOff := le.Uint32(b[fileHeaderSize+24:])
			dataOff := le.Uint32(b[fileHeaderSize+20:])
			require.Equal(t, uint16(RelAMD64Rel32), le.Uint16(b[relOff+8:]))
			le.PutUint16(b[relOff+8:], uint16(RelAMD64Rel32+n))
			le.PutUint32(b[dataOff+3:], 10)
			got, err := ReadObject("n.obj", b)
			require.NoError(t, err)
			require.Equal(t, o.Sections[0].Relocs, got.Sections[0].Relocs)
			crossCheck(t, b, &File{Object: got, SectionNumber: []int{1}})
		})
	}
}

func TestReadUnsupported(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"secrel", ".text\nf: ret\n.data\n.secrel32 f\n", "x.obj: offset 0x91: section 2 (.data): relocation 0 at 0x0: IMAGE_REL_AMD64_SECREL is not supported"},
		{"section", ".text\nf: ret\n.data\n.secidx f\n", "section 2 (.data): relocation 0 at 0x0: IMAGE_REL_AMD64_SECTION is not supported"},
		{"common", ".comm c, 8, 3\n", "symbol 6 (c): common symbol (size 8) is not supported"},
		{"tls", ".section .tls$,\"dw\"\nx: .long 1\n", "section 4 (.tls$): thread-local storage is not supported"},
		{"newest", ".section .rdata$n,\"dr\",newest,n\nn: .byte 1\n", "section 4 (.rdata$n): COMDAT selection IMAGE_COMDAT_SELECT_NEWEST is not supported"},
		{"alias", ".weak w\nw = other\n.data\n.quad w\n", "weak external whose default \"other\" is undefined"},
		{"export", ".section .drectve,\"yn\"\n.ascii \" /EXPORT:f\"\n", "section 4 (.drectve): linker directive \"/EXPORT:f\" is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadObject("x.obj", assemble(t, tt.src))
			require.Error(t, err)
			require.ErrorContains(t, err, tt.want)
			require.True(t, errors.Is(err, ErrUnsupported), "%v", err)
			require.False(t, errors.Is(err, ErrMalformed), "%v", err)
		})
	}
	// Accepted directives are dropped.
	o, err := ReadObject("x.obj", assemble(t, ".section .drectve,\"yn\"\n.ascii \" /DEFAULTLIB:libcmt /include:f -failifmismatch:\\\"a=b c\\\"\"\n.text\nf: ret\n"))
	require.NoError(t, err)
	for _, s := range o.Sections {
		require.NotEqual(t, ".drectve", s.Name)
	}
}

// TestReadMalformed mutates our writer's output of fixtureA (4 sections
// ... see layout below) and checks each error's text.
func TestReadMalformed(t *testing.T) {
	good, err := WriteObject(fixtureA())
	require.NoError(t, err)
	le := binary.LittleEndian
	nsec := int(le.Uint16(good[2:]))
	symOff := le.Uint32(good[8:])
	nsym := le.Uint32(good[12:])
	strOff := symOff + nsym*symbolSize
	shOff := func(i int) int { return fileHeaderSize + (i-1)*sectionHeaderSize } // section i (1-based)
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	symAt := func(k int) int { return int(symOff) + k*symbolSize }
	// Find the symbol "_start" (after the section symbols: 2 records each).
	startSym := 2 * 5 // five model sections + the cell come first; _start is the first model symbol
	require.Equal(t, "_start", cstring(good[symAt(startSym):symAt(startSym)+8]))
	relOff1 := le.Uint32(good[shOff(1)+24:])
	gSym := 16 // the undefined g, before the cell's symbols
	require.Equal(t, "g", cstring(good[symAt(gSym):symAt(gSym)+8]))

	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "x.obj: offset 0x0: file of 0 bytes is too short for a COFF file header"},
		{"short header", good[:19], "x.obj: offset 0x0: file of 19 bytes is too short"},
		{"machine", mutate(func(b []byte) { le.PutUint16(b[0:], 0x14c) }), "x.obj: offset 0x0: machine 0x14c is not supported"},
		{"image", append([]byte("MZ"), good[2:]...), "a PE image (MZ header), not a COFF object"},
		{"bigobj", mutate(func(b []byte) { le.PutUint32(b[0:], 0xffff0000) }), "/bigobj"},
		{"section table", good[:shOff(nsec)+10], fmt.Sprintf("x.obj: offset 0x14: section table of %d sections runs past the end of the file", nsec)},
		{"section count", mutate(func(b []byte) { le.PutUint16(b[2:], 0xfffe) }), "x.obj: offset 0x14: section table of 65534 sections runs past the end of the file"},
		{"symbol table", mutate(func(b []byte) { le.PutUint32(b[12:], 1<<30) }), fmt.Sprintf("x.obj: offset %#x: symbol table of 1073741824 symbols runs past the end of the file", symOff)},
		{"symbol pointer", mutate(func(b []byte) { le.PutUint32(b[8:], 0) }), "x.obj: offset 0x8: 20 symbols but no symbol table pointer"},
		{"string table size", mutate(func(b []byte) { le.PutUint32(b[strOff:], 1<<20) }), fmt.Sprintf("x.obj: offset %#x: string table of 1048576 bytes runs past the end of the file", strOff)},
		{"truncated string table", good[:len(good)-1], fmt.Sprintf("x.obj: offset %#x: string table of", strOff)},
		{"section data", mutate(func(b []byte) { le.PutUint32(b[shOff(1)+20:], uint32(len(good))) }), "x.obj: offset 0x14: section 1 (.text): data [0x"},
		{"section size", mutate(func(b []byte) { le.PutUint32(b[shOff(1)+16:], 1<<31) }), "x.obj: offset 0x14: section 1 (.text): data ["},
		{"relocation table", mutate(func(b []byte) { le.PutUint32(b[shOff(1)+24:], uint32(len(good)-5)) }), fmt.Sprintf("x.obj: offset %#x: section 1 (.text): relocation table runs past the end of the file", len(good)-5)},
		{"relocation count", mutate(func(b []byte) { le.PutUint16(b[shOff(1)+32:], 0xfff0) }), fmt.Sprintf("x.obj: offset %#x: section 1 (.text): relocation table runs past the end of the file", relOff1)},
		{"relocation overflow count", mutate(func(b []byte) {
			le.PutUint32(b[shOff(1)+36:], le.Uint32(b[shOff(1)+36:])|scnLnkNRelocOvfl)
			le.PutUint16(b[shOff(1)+32:], 0xffff)
			le.PutUint32(b[relOff1:], 1<<28)
		}), fmt.Sprintf("x.obj: offset %#x: section 1 (.text): relocation table runs past the end of the file", relOff1+relocSize)},
		{"relocation symbol", mutate(func(b []byte) { le.PutUint32(b[relOff1+4:], 999) }), fmt.Sprintf("x.obj: offset %#x: section 1 (.text): relocation 0: symbol index 999 out of range (20 symbols)", relOff1)},
		{"relocation aux", mutate(func(b []byte) { le.PutUint32(b[relOff1+4:], 1) }), "section 1 (.text): relocation 0: symbol index 1 is an auxiliary record"},
		{"relocation offset", mutate(func(b []byte) { le.PutUint32(b[relOff1:], 0x1000) }), fmt.Sprintf("x.obj: offset %#x: section 1 (.text): relocation 0 at 0x1000: IMAGE_REL_AMD64_REL32 field outside the section (size 0x32)", relOff1)},
		{"bss relocations", mutate(func(b []byte) { le.PutUint16(b[shOff(5)+32:], 1) }), "section 5 (.bss): relocations in an uninitialized-data section"},
		{"long section name", mutate(func(b []byte) { copy(b[shOff(1)+0:shOff(1)+8], "/9999\x00\x00\x00") }), "x.obj: offset 0x14: section 1: long name \"/9999\": string table offset 0x270f is outside the string table"},
		{"bad long section name", mutate(func(b []byte) { copy(b[shOff(1)+0:shOff(1)+8], "/x\x00\x00\x00\x00\x00\x00") }), "section 1: bad long name \"/x\""},
		{"base64 section name", mutate(func(b []byte) { copy(b[shOff(1)+0:shOff(1)+8], "//AAAAAB") }), "section 1: long name \"//AAAAAB\": string table offset 0x1 is outside"},
		{"symbol name", mutate(func(b []byte) {
			le.PutUint32(b[symAt(startSym):], 0)
			le.PutUint32(b[symAt(startSym)+4:], 1<<20)
		}), fmt.Sprintf("x.obj: offset %#x: symbol %d: name offset 0x100000 is outside the string table", symAt(startSym), startSym)},
		{"aux count", mutate(func(b []byte) { b[symAt(int(nsym)-1)+17] = 3 }), fmt.Sprintf("x.obj: offset %#x: symbol 19 (.refptr.g): 3 auxiliary records run past the end of the symbol table (20 symbols)", symAt(int(nsym)-1))},
		{"symbol section", mutate(func(b []byte) { le.PutUint16(b[symAt(startSym)+12:], 40) }), "symbol 10 (_start): section number 40 out of range (6 sections)"},
		{"symbol value", mutate(func(b []byte) { le.PutUint32(b[symAt(startSym)+8:], 0x1000) }), "symbol 10 (_start): value 0x1000 past the end of section 1 (.text) (size 0x32)"},
		{"storage class", mutate(func(b []byte) { b[symAt(startSym)+16] = 107 }), "symbol 10 (_start): storage class 107 is not supported"},
		{"undefined static", mutate(func(b []byte) { b[symAt(gSym)+16] = classStatic }), "symbol 16 (g): undefined symbol of storage class 3 (want external)"},
		{"weak without aux", mutate(func(b []byte) {
			b[symAt(gSym)+16] = classWeakExternal
		}), "symbol 16 (g): weak external without an auxiliary record"},
		{"comdat selection", mutate(func(b []byte) {
			le.PutUint32(b[shOff(1)+36:], le.Uint32(b[shOff(1)+36:])|scnLnkComdat)
			b[symAt(1)+14] = 9
		}), "section 1 (.text): unknown COMDAT selection 9"},
		{"associative", mutate(func(b []byte) {
			le.PutUint32(b[shOff(1)+36:], le.Uint32(b[shOff(1)+36:])|scnLnkComdat)
			b[symAt(1)+14] = ComdatAssociative
			le.PutUint16(b[symAt(1)+12:], 77)
		}), "section 1 (.text): associative COMDAT refers to section 77 (of 6)"},
		{"associative cycle", mutate(func(b []byte) {
			for i := 1; i <= 2; i++ {
				le.PutUint32(b[shOff(i)+36:], le.Uint32(b[shOff(i)+36:])|scnLnkComdat)
				b[symAt(2*(i-1)+1)+14] = ComdatAssociative
				le.PutUint16(b[symAt(2*(i-1)+1)+12:], uint16(3-i))
			}
		}), "associative COMDAT sections form a cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadObject("x.obj", tt.data)
			require.Error(t, err)
			require.ErrorContains(t, err, tt.want)
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnsupported), "%v", err)
		})
	}
}

func TestSplitGroupedName(t *testing.T) {
	for _, tt := range []struct{ in, out, group string }{
		{".text", ".text", ""},
		{".text$mn", ".text", "mn"},
		{".text$", ".text", ""},
		{".CRT$XCU", ".CRT", "XCU"},
		{".text$a$b", ".text", "a$b"},
	} {
		o, g := SplitGroupedName(tt.in)
		require.Equal(t, tt.out, o, tt.in)
		require.Equal(t, tt.group, g, tt.in)
	}
}

// TestGroupedOrder checks the order SplitGroupedName documents against
// lld-link's map file.
func TestGroupedOrder(t *testing.T) {
	lld := tools.Require(t, "lld-link")
	dir := t.TempDir()
	a := writeFile(t, dir, "a.obj", assemble(t, `.section .text$zz,"xr"
.globl zz1
zz1: ret
.section .text,"xr"
.globl _start
_start: ret
.section .text$a,"xr"
.globl a1
a1: ret
.section .text$,"xr"
.globl empty1
empty1: ret
.section .text$B,"xr"
.globl B1
B1: ret
`))
	b := writeFile(t, dir, "b.obj", assemble(t, `.section .text$a,"xr"
.globl a2
a2: ret
.section .text,"xr"
.globl t2
t2: ret
.section .text$a$b,"xr"
.globl ab2
ab2: ret
`))
	run(t, dir, lld.Path, "/entry:_start", "/subsystem:console", "/nodefaultlib", "/out:"+filepath.Join(dir, "o.exe"), "/map:"+filepath.Join(dir, "o.map"), a, b)
	m, err := os.ReadFile(filepath.Join(dir, "o.map"))
	require.NoError(t, err)
	var order []string
	for _, line := range strings.Split(string(m), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && strings.HasPrefix(f[0], "0001:") && strings.HasSuffix(f[3], ".obj") {
			order = append(order, f[1])
		}
	}
	require.Equal(t, []string{"_start", "t2", "empty1", "B1", "a1", "a2", "ab2", "zz1"}, order)
}

// tableValue is the value of testdata/table.c and main.c, computed as C
// on LLP64 Windows does (long is 32 bits).
func tableValue() uint64 {
	counter, shared, ext := int32(7), int32(5), int32(1000)
	msg := "hello, world"
	names := []string{"zero", "one", "two", "three"}
	pick := func(k, v int32) int32 {
		switch k {
		case 0:
			return v + 1
		case 1:
			return v * 7
		case 2:
			return v - 3
		case 3:
			return v ^ 5
		case 4:
			return int32(int8(msg[v&3]))
		case 5:
			return int32(int8(names[v&3][0]))
		}
		return 0
	}
	var s int64
	for i := int32(0); i < 12; i++ {
		if i&1 == 0 {
			counter += 2 * i
		} else {
			counter += 3 * i
		}
		s = s*31 + int64(counter+ext+shared+pick(i, i))
	}
	return uint64(s)
}

// TestReadLinkRun links clang's objects with lld-link twice, as compiled
// and after Read and WriteObject, and runs both images under unicorn: the
// model must keep the program's meaning (addends, GOT cells, data
// pointers, switch tables, statics).
func TestReadLinkRun(t *testing.T) {
	lld := tools.Require(t, "lld-link")
	tools.Require(t, "libunicorn")
	for _, target := range []string{"x86_64-pc-windows-msvc", "x86_64-w64-windows-gnu"} {
		t.Run(target, func(t *testing.T) {
			dir := t.TempDir()
			objs := map[string][]byte{
				"table.obj": compile(t, target, "table.c"),
				"main.obj":  compile(t, target, "main.c"),
			}
			link := func(kind string, files map[string][]byte) uint64 {
				var args []string
				for _, name := range []string{"main.obj", "table.obj"} {
					args = append(args, writeFile(t, dir, kind+"."+name, files[name]))
				}
				exe := filepath.Join(dir, kind+".exe")
				stdout, stderr := run(t, dir, lld.Path, append([]string{"/entry:_start", "/subsystem:console", "/nodefaultlib", "/out:" + exe}, args...)...)
				require.Empty(t, stdout+stderr)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				res, err := lcexec.Run(ctx, exe, lcexec.Options{Mode: lcexec.Unicorn})
				require.NoError(t, err)
				return res.Value
			}
			want := link("clang", objs)
			require.Equal(t, tableValue(), want, "clang's own program")
			rewritten := map[string][]byte{}
			for name, data := range objs {
				o, err := ReadObject(name, data)
				require.NoError(t, err)
				b, err := WriteObject(o)
				require.NoError(t, err)
				rewritten[name] = b
			}
			require.Equal(t, want, link("ref", rewritten))
		})
	}
}

// TestReadMutations overwrites every byte of several objects (ours,
// llvm-mc's, clang's) with a few values, and every 2- and 4-byte window
// with boundary values: the reader must never panic, and what it accepts
// must validate. This reaches the checks behind valid headers, which
// FuzzReadCOFF's byte-level mutations find slowly.
func TestReadMutations(t *testing.T) {
	seeds := map[string][]byte{}
	for _, o := range []*obj.Object{fixtureA(), objtest.Library("b.obj")} {
		b, err := WriteObject(o)
		require.NoError(t, err)
		seeds[o.Name] = b
	}
	seeds["basic.s"] = assembleFile(t, "basic.s")
	seeds["comdat.s"] = assembleFile(t, "comdat.s")
	seeds["table.c"] = compile(t, "x86_64-w64-windows-gnu", "table.c")
	le := binary.LittleEndian
	for name, seed := range seeds {
		t.Run(name, func(t *testing.T) {
			b := append([]byte(nil), seed...)
			try := func(at int) {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic with byte %d changed: %v", at, p)
					}
				}()
				f, err := Read("m.obj", b)
				if err == nil {
					require.NoError(t, f.Object.Validate())
				}
			}
			n := len(b)
			for i := 0; i < n; i++ { // every truncation
				_, err := Read("m.obj", seed[:i])
				require.Error(t, err, "truncated to %d bytes", i)
			}
			for i := 0; i < n; i++ {
				orig := b[i]
				for _, v := range []byte{0, 1, 2, 5, 0x7f, 0x80, 0xff, orig + 1, orig - 1} {
					b[i] = v
					try(i)
				}
				b[i] = orig
				if i+4 <= n {
					o32 := le.Uint32(b[i:])
					for _, v := range []uint32{0, 0xffff, 0xffffffff, uint32(n), uint32(n - 4), o32 + 18, o32 - 18} {
						le.PutUint32(b[i:], v)
						try(i)
					}
					le.PutUint32(b[i:], o32)
				}
				if i+2 <= n {
					o16 := le.Uint16(b[i:])
					for _, v := range []uint16{0xffff, 0xfffe, 0x8000, o16 + 1} {
						le.PutUint16(b[i:], v)
						try(i)
					}
					le.PutUint16(b[i:], o16)
				}
			}
		})
	}
}

// TestReadBase64Name rewrites a "/N" section name of llvm-mc's object in
// the "//BASE64" form LLVM uses for large string-table offsets.
func TestReadBase64Name(t *testing.T) {
	data := assembleFile(t, "basic.s")
	want, err := ReadObject("basic.obj", data)
	require.NoError(t, err)
	nsec := int(binary.LittleEndian.Uint16(data[2:]))
	patched := 0
	for i := 0; i < nsec; i++ {
		h := data[fileHeaderSize+i*sectionHeaderSize:]
		name := cstring(h[:8])
		if !strings.HasPrefix(name, "/") {
			continue
		}
		off, err := strconv.Atoi(name[1:])
		require.NoError(t, err)
		const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		enc := make([]byte, 6)
		for j := 5; j >= 0; j-- {
			enc[j] = digits[off%64]
			off /= 64
		}
		copy(h[:8], "//"+string(enc))
		patched++
	}
	require.Equal(t, 2, patched)
	got, err := ReadObject("basic.obj", data)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// TestReadManyRelocations reads a section with more than 65,535
// relocations (IMAGE_SCN_LNK_NRELOC_OVFL, the count in the first record).
func TestReadManyRelocations(t *testing.T) {
	const n = 70000
	data := assemble(t, fmt.Sprintf(".data\n.rept %d\n.quad x+3\n.endr\n", n))
	f, err := Read("big.obj", data)
	require.NoError(t, err)
	var s *obj.Section
	for _, sec := range f.Object.Sections {
		if sec.Name == ".data" {
			s = sec
		}
	}
	require.Len(t, s.Relocs, n)
	for i, r := range s.Relocs {
		require.Equal(t, obj.Reloc{Offset: uint64(8 * i), Kind: obj.Abs64, Sym: f.Object.Lookup("x"), Addend: 3}, r)
	}
	v := llvmRead(t, data)
	require.NotZero(t, v.sections[2].flags&scnLnkNRelocOvfl, "llvm-mc used the extended count")
}
