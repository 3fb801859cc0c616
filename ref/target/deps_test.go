package target

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/linkcheck/linkcheck/"

// TestDependencyRules asserts the shape of DESIGN.md ("Shape for four
// formats") on the packages' transitive dependencies (go list -deps; tests
// may use more): the incremental core and the full linker reach code
// generators and formats only through ref/obj and ref/arch; a format
// package holds only its format; nothing in ref/ reaches oracle/ or cmd/;
// and this registry, where code generators meet formats, is imported only
// by oracle/ and cmd/.
func TestDependencyRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"...").CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		for _, d := range f[1:] {
			if strings.HasPrefix(d, module) {
				deps[pkg] = append(deps[pkg], strings.TrimPrefix(d, module))
			}
		}
		if _, ok := deps[pkg]; !ok {
			deps[pkg] = nil
		}
	}
	formats := []string{"ref/elf", "ref/macho", "ref/coff", "ref/wasm"}
	generators := []string{"ref/codegen", "ref/wasmgen", "ref/ir", "ref/x86"}
	forbid := map[string][]string{
		"ref/incr": append(append([]string{"ref/target", "ref/link"}, generators...), formats...),
		"ref/link": append(append([]string{"ref/target", "ref/incr"}, generators...), formats...),
		"ref/arch": append(append([]string{"ref/target", "ref/incr", "ref/link"}, generators...), formats...),
		"ref/obj":  append(append([]string{"ref/target", "ref/incr", "ref/link", "ref/arch"}, generators...), formats...),
	}
	for _, f := range formats {
		others := []string{"ref/target"}
		for _, g := range formats {
			if g != f {
				others = append(others, g)
			}
		}
		forbid[f] = append(others, generators...)
	}
	checked := 0
	for pkg, ds := range deps {
		for _, d := range ds {
			if strings.HasPrefix(pkg, "ref/") && (strings.HasPrefix(d, "oracle/") || strings.HasPrefix(d, "cmd/")) {
				t.Errorf("%s depends on %s: nothing in ref/ may reach oracle/ or cmd/", pkg, d)
			}
			if d == "ref/target" && !strings.HasPrefix(pkg, "oracle/") && !strings.HasPrefix(pkg, "cmd/") {
				t.Errorf("%s depends on ref/target: only oracle/ and cmd/ may", pkg)
			}
			for _, bad := range forbid[pkg] {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
		if _, ok := forbid[pkg]; ok {
			checked++
		}
	}
	require.GreaterOrEqual(t, checked, 6, "the rules checked too few packages: %v", deps)
}
