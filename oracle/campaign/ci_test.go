package campaign

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClusterFuzzLiteBuildListsEveryTarget checks that
// .clusterfuzzlite/build.sh builds exactly the fuzz targets of fuzz/, each
// once, so that ClusterFuzzLite and OSS-Fuzz fuzz what `linkcheck fuzz`
// fuzzes.
func TestClusterFuzzLiteBuildListsEveryTarget(t *testing.T) {
	root, err := FindModule("", "")
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, ".clusterfuzzlite", "build.sh"))
	require.NoError(t, err)
	line := regexp.MustCompile(`(?m)^compile_native_go_fuzzer\s+(\S+)\s+(Fuzz\w+)\s+(\S+)\s*$`)
	var listed, names []string
	seen := map[string]bool{}
	for _, m := range line.FindAllStringSubmatch(string(data), -1) {
		require.Contains(t, []string{"$pkg", ModulePath + "/fuzz"}, m[1], "build.sh: %s is not in the fuzz package", m[2])
		require.False(t, seen[m[3]], "build.sh: fuzzer name %s used twice", m[3])
		seen[m[3]] = true
		listed = append(listed, m[2])
	}
	sort.Strings(listed)
	targets, err := Targets(filepath.Join(root, "fuzz"))
	require.NoError(t, err)
	for _, tg := range targets {
		names = append(names, tg.Name)
	}
	require.Equal(t, names, listed, "the fuzz targets of fuzz/*_test.go and the compile_native_go_fuzzer lines of .clusterfuzzlite/build.sh differ: add or remove lines there")
}

// TestWorkflows checks the CI entry points that are not run here: ci.yml
// runs make test, nightly.yml runs linkcheck fuzz -time 1h per shard from
// `linkcheck fuzz -list` and uploads the report and the findings.
func TestWorkflows(t *testing.T) {
	root, err := FindModule("", "")
	require.NoError(t, err)
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(root, p))
		require.NoError(t, err)
		return string(data)
	}
	require.Contains(t, read(".github/workflows/ci.yml"), "make test")
	nightly := read(".github/workflows/nightly.yml")
	for _, want := range []string{"linkcheck fuzz -list", `fuzz -targets "$SHARD_TARGET" $formats -time "$FUZZ_TIME"`, "|| '1h'", "fuzz-out/report.html", "fuzz-out/findings/", "upload-artifact"} {
		require.Contains(t, nightly, want)
	}
	require.Contains(t, read("ci/nightly.sh"), "linkcheck fuzz")
	require.Contains(t, read(".clusterfuzzlite/project.yaml"), "language: go")
	require.Contains(t, read(".clusterfuzzlite/Dockerfile"), "base-builder-go")
}
