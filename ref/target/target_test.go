package target

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
)

// TestReadBack: every format that compiles and reads objects gives back
// units objects, named by UnitName, with the program's functions defined
// across them.
func TestReadBack(t *testing.T) {
	for _, tg := range All() {
		t.Run(string(tg.Format), func(t *testing.T) {
			if tg.Need(CanCompile) != nil || tg.Need(CanRead) != nil {
				t.Skipf("%s has no code generator or object reader", tg.Format)
			}
			m := ir.Generate(ir.GenConfig{Seed: 3, Funcs: 12})
			objs, err := tg.ReadBack(m, 3, CompileOptions{})
			require.NoError(t, err)
			require.Len(t, objs, 3)
			defined := map[string]bool{}
			for u, o := range objs {
				require.Equal(t, tg.UnitName(u), o.Name)
				for _, s := range o.Symbols {
					if s.Section >= 0 {
						defined[s.Name] = true
					}
				}
			}
			for _, f := range m.Funcs {
				require.True(t, defined[f.Name], "%s is defined in no object", f.Name)
			}
		})
	}
}

// TestLinkObjectFiles: Link of object files (link.LinkFiles) gives the
// bytes and errors of reading them with ReadInputs and linking with
// link.Link, for every format of the shared core.
func TestLinkObjectFiles(t *testing.T) {
	for _, tg := range All() {
		t.Run(string(tg.Format), func(t *testing.T) {
			if tg.SelfContained() || tg.Need(CanCompile) != nil || tg.Need(CanRead) != nil {
				t.Skipf("%s does not link through ref/link's shared core", tg.Format)
			}
			dir := t.TempDir()
			names, files, err := tg.Objects(ir.Generate(ir.GenConfig{Seed: 5, Funcs: 30}), 3, CompileOptions{})
			require.NoError(t, err)
			var paths []string
			for i, n := range names {
				p := filepath.Join(dir, n)
				require.NoError(t, os.WriteFile(p, files[i], 0o644))
				paths = append(paths, p)
			}
			bad := filepath.Join(dir, "bad"+tg.ObjectExt)
			require.NoError(t, os.WriteFile(bad, files[0][:len(files[0])/2], 0o644))
			for _, tc := range []struct {
				name  string
				paths []string
			}{
				{"objects", paths},
				{"duplicates", append(slices.Clone(paths), paths[0])},
				{"truncated", append(slices.Clone(paths[:1]), bad)},
				{"missing", []string{paths[0], filepath.Join(dir, "missing.o")}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got, _, gotErr := tg.Link(tc.paths, link.Options{})
					var want []byte
					in, wantErr := tg.ReadInputs(tc.paths)
					if wantErr == nil {
						want, _, wantErr = link.Link(in, tg.Platform, link.Options{})
					}
					if wantErr != nil {
						require.EqualError(t, gotErr, wantErr.Error())
						return
					}
					require.NoError(t, gotErr)
					require.Equal(t, want, got)
				})
			}
		})
	}
}
