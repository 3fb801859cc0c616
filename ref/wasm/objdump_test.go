package wasm_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/ir"
	. "github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// dumped is what wasm-objdump -x -r says about an object's symbols and
// relocations, in the words of wabt, an independent reader.
type dumped struct {
	symbols []string            // "F func=1 binding=local vis=default", normalized
	names   []string            // the symbol names as printed (imports as module.field)
	relocs  map[string][]string // by target section ("Code", "Data", ".debug_info"): "R_WASM_X 0x10 sym=2 +0"
}

var (
	// Offsets and addends: wabt prints %#x, which writes zero without 0x.
	reSection = regexp.MustCompile(`^\s+- relocations for section: \d+ \(([^)]*)\) \[\d+\]$`)
	reReloc   = regexp.MustCompile(`^\s+- (R_WASM_\w+) offset=(0x[0-9a-f]+|0+)\(file=0x[0-9a-f]+\) (?:symbol=(\d+) <.*?>([+-]0x[0-9a-f]+)?|type=(\d+))$`)
	reSymbol  = regexp.MustCompile(`^\s+- (\d+): ([FDGSTE]) <(.*)> (.*?) ?\[ (.*) \]$`)
)

func objdumpObject(t *testing.T, path string) dumped {
	t.Helper()
	wobjdump := tools.Require(t, "wasm-objdump")
	out, err := exec.Command(wobjdump.Path, "-x", "-r", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	d := dumped{relocs: map[string][]string{}}
	section := ""
	inSymtab := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "- symbol table [count=") {
			inSymtab = true
			continue
		}
		if m := reSection.FindStringSubmatch(line); m != nil {
			section = m[1]
			inSymtab = false
			continue
		}
		if m := reReloc.FindStringSubmatch(line); m != nil {
			// printf's %#x prints zero as 00000000.
			off, _ := strconv.ParseUint(strings.TrimPrefix(m[2], "0x"), 16, 32)
			idx := m[3] + m[5]
			add := int64(0)
			if m[4] != "" {
				v, _ := strconv.ParseInt(m[4][3:], 16, 64)
				if m[4][0] == '-' {
					v = -v
				}
				add = v
			}
			d.relocs[section] = append(d.relocs[section], fmt.Sprintf("%s %#x %s %+d", m[1], off, idx, add))
			continue
		}
		if inSymtab {
			if m := reSymbol.FindStringSubmatch(line); m != nil {
				fields := m[4]
				if m[2] == "S" {
					fields = "" // a file section index: layout, compared by name
				}
				d.symbols = append(d.symbols, strings.Join(strings.Fields(m[2]+" "+fields+" "+m[5]), " "))
				d.names = append(d.names, m[3])
			} else if !strings.HasPrefix(line, "   - ") {
				inSymtab = false
			}
		}
	}
	return d
}

// describe renders the model's symbols and relocations as wasm-objdump
// prints them.
func describe(o *Object) dumped {
	d := dumped{relocs: map[string][]string{}}
	for _, s := range o.Symbols {
		var b strings.Builder
		b.WriteString(map[SymKind]string{SymFunction: "F", SymData: "D", SymGlobal: "G", SymSection: "S", SymTable: "T"}[s.Kind])
		switch s.Kind {
		case SymFunction:
			fmt.Fprintf(&b, " func=%d", s.Index)
		case SymGlobal:
			fmt.Fprintf(&b, " global=%d", s.Index)
		case SymTable:
			fmt.Fprintf(&b, " table=%d", s.Index)
		case SymData:
			if !s.Undefined() {
				fmt.Fprintf(&b, " segment=%d offset=%d size=%d", s.Segment, s.Offset, s.Size)
			}
		}
		for _, f := range []struct {
			bit  uint32
			name string
		}{{SymUndefined, "undefined"}, {SymExported, "exported"}, {SymExplicitName, "explicit_name"}, {SymNoStrip, "no_strip"}, {SymTLS, "tls"}, {SymAbsolute, "absolute"}} {
			if s.Flags&f.bit != 0 {
				b.WriteString(" " + f.name)
			}
		}
		switch {
		case s.Flags&SymBindingLocal != 0:
			b.WriteString(" binding=local")
		case s.Flags&SymBindingWeak != 0:
			b.WriteString(" binding=weak")
		default:
			b.WriteString(" binding=global")
		}
		if s.Flags&SymVisibilityHidden != 0 {
			b.WriteString(" vis=hidden")
		} else {
			b.WriteString(" vis=default")
		}
		d.symbols = append(d.symbols, b.String())
		name := s.Name
		if s.Kind == SymSection {
			name = o.Customs[s.Index].Name
		}
		d.names = append(d.names, name)
	}
	entry := func(r Reloc, off uint32) string {
		return fmt.Sprintf("%s %#x %d %+d", r.Type, off, r.Index, r.Addend)
	}
	pos := len(AppendULEB(nil, uint64(len(o.Funcs))))
	for _, f := range o.Funcs {
		locals := AppendULEB(nil, uint64(len(f.Locals)))
		for _, l := range f.Locals {
			locals = append(AppendULEB(locals, uint64(l.Count)), byte(l.Type))
		}
		n := len(locals) + len(f.Code)
		pos += len(AppendULEB(nil, uint64(n)))
		for _, r := range f.Relocs {
			d.relocs["Code"] = append(d.relocs["Code"], entry(r, uint32(pos+len(locals))+r.Offset))
		}
		pos += n
	}
	pos = len(AppendULEB(nil, uint64(len(o.Segments))))
	for _, s := range o.Segments {
		if s.Passive {
			pos++
		} else {
			pos += 1 + 1 + len(AppendSLEB(nil, int64(int32(s.Offset)))) + 1
		}
		pos += len(AppendULEB(nil, uint64(len(s.Data))))
		for _, r := range s.Relocs {
			d.relocs["Data"] = append(d.relocs["Data"], entry(r, uint32(pos)+r.Offset))
		}
		pos += len(s.Data)
	}
	for _, c := range o.Customs {
		for _, r := range c.Relocs {
			d.relocs[c.Name] = append(d.relocs[c.Name], entry(r, r.Offset))
		}
	}
	return d
}

// crossCheck compares ReadObject's view of an object with wasm-objdump's.
// It returns how many symbols and relocations it compared.
func crossCheck(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	o, err := ReadObject(path, data)
	require.NoError(t, err)
	want := objdumpObject(t, path)
	got := describe(o)
	require.Equal(t, want.symbols, got.symbols, "%s: symbols", path)
	require.Len(t, got.names, len(want.names))
	for i, n := range want.names {
		// wabt names undefined imports module.field, and names an index
		// that several symbols share after one of them.
		ok := n == got.names[i] || strings.HasSuffix(n, "."+got.names[i])
		for j, s := range o.Symbols {
			me := o.Symbols[i]
			if j != i && s.Kind == me.Kind && s.Kind != SymData && s.Index == me.Index && (n == s.Name || strings.HasSuffix(n, "."+s.Name)) {
				ok = true
			}
		}
		require.True(t, ok, "%s: symbol %d: wasm-objdump says %q, the reader %q", path, i, n, got.names[i])
	}
	require.Equal(t, want.relocs, got.relocs, "%s: relocations", path)
	n := 0
	for _, rs := range want.relocs {
		n += len(rs)
	}
	return len(want.symbols) + n
}

// TestCrossCheckObjdump: for clang's objects, the sample object and
// wasmgen's objects of every corpus program (3 units), the reader's symbols
// and relocations are wabt's.
func TestCrossCheckObjdump(t *testing.T) {
	paths := ClangObjects(t)
	progs, err := filepath.Glob("../../corpus/programs/*.lir")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, p := range progs {
		src, err := os.ReadFile(p)
		require.NoError(t, err)
		m, err := ir.Parse(p, src)
		require.NoError(t, err)
		base := strings.TrimSuffix(filepath.Base(p), ".lir")
		name := func(u int) string { return filepath.Join(dir, fmt.Sprintf("%s-u%d.o", base, u)) }
		files, err := wasmgen.BuildFiles(m, ir.Partition(m, 3), 3, name, wasmgen.Options{})
		require.NoError(t, err)
		for u, b := range files {
			require.NoError(t, os.WriteFile(name(u), b, 0o644))
			paths = append(paths, name(u))
		}
	}
	b, err := WriteObject(SampleObject())
	require.NoError(t, err)
	p := t.TempDir() + "/sample.o"
	require.NoError(t, os.WriteFile(p, b, 0o644))
	n := 0
	for _, p := range append(paths, p) {
		n += crossCheck(t, p)
	}
	require.Greater(t, n, 1000, "too few symbols and relocations compared: is wasm-objdump's output still parsed?")
	t.Logf("%d objects, %d symbols and relocations compared", len(paths)+1, n)
}
