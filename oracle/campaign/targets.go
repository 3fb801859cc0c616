package campaign

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Target is one Go native fuzz target of the fuzz package.
type Target struct {
	// Name is the function's name, e.g. FuzzIncrementalELF.
	Name string `json:"name"`
	// File is the test file that declares it, relative to the fuzz package.
	File string `json:"file"`
	// Formats are the object formats the target is about: the format its
	// name names (ELF, MachO, COFF, Wasm), all four for a target that
	// reads LINKCHECK_FORMATS, elf for the incremental targets (their
	// sessions link ELF), none for a format-agnostic one (the IR, the
	// encoder).
	Formats []string `json:"formats,omitempty"`
	// Incremental is set for the targets whose input is fuzz.IncrInput
	// (the campaign reduces their findings structurally).
	Incremental bool `json:"incremental,omitempty"`
	// LinkerUnderTest is set for targets that read LINKCHECK_LINKER.
	LinkerUnderTest bool `json:"linker_under_test,omitempty"`
}

// AllFormats are the formats a campaign can select, in order.
var AllFormats = []string{"elf", "macho", "coff", "wasm"}

// formatWords map the spelling of a format in a target's name to it.
var formatWords = []struct{ word, format string }{
	{"ELF", "elf"}, {"MachO", "macho"}, {"COFF", "coff"}, {"Wasm", "wasm"},
	{"Gold", "elf"}, // gold links ELF only
}

var fuzzFunc = regexp.MustCompile(`^func (Fuzz[A-Za-z0-9_]*)\(\s*\w+\s+\*testing\.F\s*\)`)

// incrementalTargets are the targets whose input is fuzz.IncrInput
// (fuzz.IncrTargets, repeated here so that this package does not link the
// fuzz package's gofuzz dependency into every user).
var incrementalTargets = map[string]bool{"FuzzErrorTable": true, "FuzzGOT": true, "FuzzIncrementalCOFF": true, "FuzzIncrementalELF": true, "FuzzIncrementalMachO": true, "FuzzIncrementalWasm": true, "FuzzTrampoline": true}

// Targets lists the fuzz targets declared in dir's *_test.go files (a
// `func FuzzX(f *testing.F)` at the start of a line), sorted by name.
func Targets(dir string) ([]Target, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Target
	seen := map[string]string{}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("listing fuzz targets: %w", err)
		}
		src := string(data)
		sc := bufio.NewScanner(strings.NewReader(src))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			m := fuzzFunc.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			name := m[1]
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("listing fuzz targets: %s declared in %s and %s", name, prev, path)
			}
			seen[name] = path
			t := Target{Name: name, File: filepath.Base(path), Incremental: incrementalTargets[name]}
			for _, fw := range formatWords {
				if strings.Contains(name, fw.word) {
					t.Formats = append(t.Formats, fw.format)
				}
			}
			if t.Formats == nil && t.Incremental {
				// The incremental targets without a format in their
				// name link ELF outputs.
				t.Formats = []string{"elf"}
			}
			if t.Formats == nil && strings.Contains(src, "LINKCHECK_FORMATS") {
				t.Formats = append([]string(nil), AllFormats...)
			}
			t.LinkerUnderTest = strings.Contains(src, "LINKCHECK_LINKER")
			out = append(out, t)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("listing fuzz targets: %s: %w", path, err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Select returns the targets named in names (comma-separated names, or
// "all" or "" for every target) that are about one of formats (none: any
// format); format-agnostic targets are always kept. Unknown names and
// formats are errors.
func Select(all []Target, names string, formats []string) ([]Target, error) {
	for _, f := range formats {
		if !contains(AllFormats, f) {
			return nil, fmt.Errorf("unknown format %q (want %s)", f, strings.Join(AllFormats, ", "))
		}
	}
	byName := map[string]Target{}
	for _, t := range all {
		byName[t.Name] = t
	}
	var picked []Target
	if names == "" || names == "all" {
		picked = append(picked, all...)
	} else {
		seen := map[string]bool{}
		for _, n := range strings.Split(names, ",") {
			n = strings.TrimSpace(n)
			t, ok := byName[n]
			if !ok {
				known := make([]string, 0, len(all))
				for _, t := range all {
					known = append(known, t.Name)
				}
				return nil, fmt.Errorf("unknown fuzz target %q (fuzz/ declares %s)", n, strings.Join(known, ", "))
			}
			if !seen[n] {
				seen[n] = true
				picked = append(picked, t)
			}
		}
		sort.Slice(picked, func(i, j int) bool { return picked[i].Name < picked[j].Name })
	}
	if len(formats) == 0 {
		return picked, nil
	}
	var out []Target
	for _, t := range picked {
		if len(t.Formats) == 0 || overlaps(t.Formats, formats) {
			out = append(out, t)
		}
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if contains(b, x) {
			return true
		}
	}
	return false
}
