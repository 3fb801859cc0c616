package pipeline

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestAsmELFCorpusDiff links each feature directory of corpus/asm/elf
// (issue 18) with the reference linker and ld.lld: no difference, with no
// ignore rule, and where the case is a program (its first line does not
// say "not a program") the reference output runs like lld's. The err_*
// cases are refused by the reference linker (ref/elf's tests check the
// messages).
func TestAsmELFCorpusDiff(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "ld.lld")
	dirs, err := filepath.Glob("../../corpus/asm/elf/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	linked := 0
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() || strings.HasPrefix(filepath.Base(d), "err_") {
			continue
		}
		linked++
		t.Run(filepath.Base(d), func(t *testing.T) {
			srcs, err := filepath.Glob(filepath.Join(d, "*.s"))
			require.NoError(t, err)
			require.NotEmpty(t, srcs)
			sort.Strings(srcs)
			work := t.TempDir()
			var objs []string
			program := true
			for _, s := range srcs {
				if src, err := os.ReadFile(s); err == nil && filepath.Base(s) == "main.s" {
					first, _, _ := bytes.Cut(src, []byte("\n"))
					program = !bytes.Contains(first, []byte("not a program"))
				}
				o := filepath.Join(work, strings.TrimSuffix(filepath.Base(s), ".s")+".o")
				out, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-unknown-linux-gnu", "-o", o, s).CombinedOutput()
				require.NoError(t, err, "%s", out)
				objs = append(objs, o)
			}
			res, err := DiffLLD(context.Background(), obj.ELF, objs, work, diff.Options{})
			require.NoError(t, err)
			require.True(t, res.Report.Equal(), "%s", res.Report.Text())
			if !program {
				return
			}
			require.Greater(t, res.Report.Coverage.Ratio(), 0.9, "%s", res.Report.Text())
			refOut, refErr := exec.Command(res.RefExe).Output()
			lldOut, lldErr := exec.Command(res.LLDExe).Output()
			require.Equal(t, exitCode(lldErr), exitCode(refErr))
			require.Equal(t, lldOut, refOut)
		})
	}
	require.Greater(t, linked, 2)
}
