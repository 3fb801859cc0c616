package linker

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

func TestParseTemplate(t *testing.T) {
	for _, tc := range []struct {
		src   string
		words []string
		err   string
	}{
		{src: "ld.lld -e {entry} -o {out} {objs}", words: []string{"ld.lld", "-e", "{entry}", "-o", "{out}", "{objs}"}},
		{src: `lld-link "/out:{out}" '/entry:{entry}' {objs}`, words: []string{"lld-link", "/out:{out}", "/entry:{entry}", "{objs}"}},
		{src: `my\ linker -o {out} {objs} "a \"b\" c"`, words: []string{"my linker", "-o", "{out}", "{objs}", `a "b" c`}},
		{src: "  ld  -o{out}\t{objs}  ", words: []string{"ld", "-o{out}", "{objs}"}},
		{src: "", err: "empty command template"},
		{src: "ld -o {out}", err: "has no {objs}"},
		{src: "ld {objs}", err: "has no {out}"},
		{src: "ld -o {out} {obj}", err: "unknown placeholder {obj}"},
		{src: "ld -o {out} x{objs}", err: "must be a word of its own"},
		{src: "ld -o {out} {objs} | tee log", err: "shell syntax"},
		{src: "ld -o {out} {objs} > log", err: "shell syntax"},
		{src: "ld -o $OUT {objs}", err: "shell syntax"},
		{src: "ld -o {out} *.o {objs}", err: "shell syntax"},
		{src: "ld -o '{out} {objs}", err: "unterminated single quote"},
		{src: `ld -o "{out} {objs}`, err: "unterminated double quote"},
		{src: `ld -o {out} {objs} \`, err: "trailing backslash"},
		{src: "{out} {objs}", err: "may not be a placeholder"},
		{src: "ld -o {out} {objs} '$HOME|x'", words: []string{"ld", "-o", "{out}", "{objs}", "$HOME|x"}},
	} {
		t.Run(tc.src, func(t *testing.T) {
			tpl, err := ParseTemplate(tc.src)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.words, tpl.Words())
		})
	}
}

func TestExpand(t *testing.T) {
	tpl, err := ParseTemplate(`/bin/ld -e {entry} -o {out} --map={out}.map {objs} -z now`)
	require.NoError(t, err)
	argv, err := tpl.Expand([]string{"a b.o", "c.o"}, "/t/o ut", "_start")
	require.NoError(t, err)
	require.Equal(t, []string{"/bin/ld", "-e", "_start", "-o", "/t/o ut", "--map=/t/o ut.map", "a b.o", "c.o", "-z", "now"}, argv)
	argv, err = tpl.Expand([]string{"{out}.o"}, "/t/{entry}", "_start")
	require.NoError(t, err)
	require.Equal(t, []string{"/bin/ld", "-e", "_start", "-o", "/t/{entry}", "--map=/t/{entry}.map", "{out}.o", "-z", "now"}, argv, "values are not expanded again")

	tpl, err = ParseTemplate(`sh -c true {out} {objs}`)
	require.NoError(t, err)
	argv, err = tpl.Expand(nil, "o", "e")
	require.NoError(t, err)
	require.True(t, filepath.IsAbs(argv[0]), "the program is found on PATH: %s", argv[0])

	tpl, err = ParseTemplate(`no-such-linker-here {out} {objs}`)
	require.NoError(t, err)
	_, err = tpl.Expand(nil, "o", "e")
	require.ErrorContains(t, err, "no-such-linker-here")
}

func TestLookup(t *testing.T) {
	require.Equal(t, []string{"ref", "lld", "mold", "bfd", "gold"}, Names())
	for _, tc := range []struct {
		name    string
		formats []obj.Format
		err     string
	}{
		{name: "lld", formats: obj.Formats},
		{name: "mold", formats: []obj.Format{obj.ELF}},
		{name: "bfd", formats: []obj.Format{obj.ELF}},
		{name: "gold", formats: []obj.Format{obj.ELF}},
		{name: "ld.lld", err: `unknown linker "ld.lld" (want ref, lld, mold, bfd, gold, or cmd:TEMPLATE`},
		{name: "cmd:ld -o {out}", err: "has no {objs}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Lookup(tc.name)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.formats, l.Formats())
			for _, f := range obj.Formats {
				if contains(tc.formats, f) {
					require.NoError(t, l.Supports(f))
				} else {
					require.ErrorContains(t, l.Supports(f), "does not link "+string(f))
				}
			}
		})
	}
	// ref links exactly the formats whose target has a reference linker.
	ref, err := Lookup("ref")
	require.NoError(t, err)
	for _, tg := range target.All() {
		if tg.Need(target.CanLink) == nil {
			require.NoError(t, ref.Supports(tg.Format))
		} else {
			require.ErrorContains(t, ref.Supports(tg.Format), "reference linker for "+string(tg.Format)+" is not built yet")
		}
	}
	c, err := Lookup("cmd:ld.lld -o {out} {objs}")
	require.NoError(t, err)
	require.True(t, c.IsCommand())
	require.NoError(t, c.Supports(obj.Wasm), "a command is tried on any format")
}

// TestRulesExist checks that every rule a linker names is registered in
// oracle/diff, and that none of them may suppress a code or data key.
func TestRulesExist(t *testing.T) {
	forbidden := []string{diff.KeyTextInsn, diff.KeyTextOperand, diff.KeyTextLength, diff.KeyDataBytes,
		diff.KeyDataPointer, diff.KeyEntry, diff.KeyErrtabName, diff.KeyErrtabCount, diff.KeyErrtabBad}
	for _, l := range All() {
		for _, name := range l.Rules {
			r, ok := diff.LookupRule(name)
			require.True(t, ok, "linker %s: rule %s is not registered in oracle/diff", l.Name, name)
			require.NotEmpty(t, r.Reason)
			for _, k := range r.Keys {
				require.NotContains(t, forbidden, k, "rule %s", name)
			}
		}
	}
}

func contains(fs []obj.Format, f obj.Format) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

const prog = `
global g = 5
const p = &g
func f(x) { return x + 1 }
func main() { return f(load g) * 7 }
`

// objects builds prog for ELF in units objects in dir.
func objects(t *testing.T, units int, dir string) []string {
	t.Helper()
	m, err := ir.Parse("p.lir", []byte(prog))
	require.NoError(t, err)
	names, files, err := target.MustLookup(obj.ELF).Objects(m, units, target.CompileOptions{})
	require.NoError(t, err)
	var paths []string
	for i, n := range names {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, files[i], 0o644))
		paths = append(paths, p)
	}
	return paths
}

// runValue runs an ELF executable of linkcheck's (it writes the 8-byte
// value to stdout) and returns the value.
func runValue(t *testing.T, exe string) uint64 {
	t.Helper()
	out, err := exec.Command(exe).Output()
	require.NoError(t, err)
	require.Len(t, out, 8)
	return binary.LittleEndian.Uint64(out)
}

// TestLinkEveryLinker links one program in two units with every built-in
// linker and a command, and runs each output natively.
func TestLinkEveryLinker(t *testing.T) {
	dir := t.TempDir()
	objs := objects(t, 2, dir)
	lldPath := tools.Require(t, "ld.lld").Path
	for _, name := range append(Names(), "cmd:"+lldPath+" -e {entry} -o {out} {objs}") {
		t.Run(name, func(t *testing.T) {
			l, err := Lookup(name)
			require.NoError(t, err)
			if tn := l.ToolName(obj.ELF); tn != "" {
				tools.Require(t, tn)
			}
			v, err := l.Version(obj.ELF)
			require.NoError(t, err)
			require.NotEmpty(t, v)
			out := filepath.Join(dir, strings.NewReplacer(":", "_", "/", "_", " ", "_").Replace(name)+".out")
			res, err := l.Link(context.Background(), obj.ELF, objs, out, Options{})
			require.NoError(t, err)
			require.NotEmpty(t, res.Cmd)
			require.Equal(t, uint64(42), runValue(t, out))
			leftovers, err := filepath.Glob(filepath.Join(dir, ".tmp-*"))
			require.NoError(t, err)
			require.Empty(t, leftovers)
		})
	}
}

// TestLinkFailures checks that a failing, silent or hanging command is an
// error that names the command, and leaves no output behind.
func TestLinkFailures(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
		return p
	}
	objs := []string{filepath.Join(dir, "a.o")}
	require.NoError(t, os.WriteFile(objs[0], []byte("x"), 0o644))
	for _, tc := range []struct {
		name, body, err string
	}{
		{"fails", `echo "fatal: no good" >&2; exit 3`, "fatal: no good"},
		{"silent", `exit 0`, "wrote no output"},
		{"empty", `: > "$1"; exit 0`, "output is empty"},
		{"hangs", `sleep 30`, "timed out after 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Lookup("cmd:" + script(tc.name+".sh", tc.body) + " {out} {objs}")
			require.NoError(t, err)
			out := filepath.Join(dir, tc.name+".out")
			start := time.Now()
			res, err := l.Link(context.Background(), obj.ELF, objs, out, Options{Timeout: 300 * time.Millisecond})
			require.ErrorContains(t, err, tc.err)
			require.ErrorContains(t, err, "command: "+res.Reproducer())
			require.Less(t, time.Since(start), 10*time.Second)
			require.NoFileExists(t, out)
		})
	}
	l, err := Lookup("mold")
	require.NoError(t, err)
	_, err = l.Link(context.Background(), obj.MachO, objs, filepath.Join(dir, "x"), Options{})
	require.ErrorContains(t, err, "linker mold does not link macho (it links elf)")
}
