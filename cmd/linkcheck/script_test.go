package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"linkcheck": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// passEnv lists the variables that scenarios see from the test's environment.
var passEnv = []string{"LINKCHECK_LLVM_BIN", "LINKCHECK_REQUIRE_TOOLS", "LINKCHECK_UNICORN_LIB", "HOME", "TMPDIR"}

// TestScripts runs every scenario in scripts/*.txtar with linkcheck
// registered as a command. Scenarios that need external tools start with
// `[!tools:NAME,NAME...] skip`: the condition is false when a tool is
// missing, and with LINKCHECK_REQUIRE_TOOLS=1 a missing tool is an error
// that fails the scenario instead, so no scenario passes without its oracle.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("../../scripts", ""))
}

// TestIncrScripts runs the incremental linker's scenarios,
// scripts/incr/*.txtar, once for every format that has an incremental
// linker, with $FORMAT set to it and $EXEC to its execution oracle. A line that holds for one format only
// (a deterministic address, say) is guarded by `[format:NAME]`.
func TestIncrScripts(t *testing.T) {
	ran := 0
	for _, tg := range target.All() {
		if tg.Need(target.CanIncr) != nil {
			continue
		}
		ran++
		t.Run(string(tg.Format), func(t *testing.T) {
			p := scriptParams("../../scripts/incr", tg.Format)
			p.Dir, p.Files = "", incrScripts(t, "../../scripts/incr", tg.Format)
			testscript.Run(t, p)
		})
	}
	if ran == 0 {
		t.Fatal("no format has an incremental linker")
	}
}

// wasmGenericScripts are the scenarios of scripts/incr, not Wasm's own,
// that hold for Wasm modules as written (the others name trampolines, GOT
// slots, addresses or a symbol table).
var wasmGenericScripts = map[string]bool{
	"bad_input.txtar": true, "delete_reuse.txtar": true, "kind_change.txtar": true,
	"rename_error.txtar": true, "section_grows.txtar": true,
}

// incrScripts lists the scenarios of dir that format f runs: Wasm's own,
// wasm_*.txtar, only for Wasm, which also runs wasmGenericScripts; the
// x86_64 formats every other one.
func incrScripts(t *testing.T, dir string, f obj.Format) []string {
	all, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range all {
		own := strings.HasPrefix(filepath.Base(p), "wasm_")
		if f == obj.Wasm && (own || wasmGenericScripts[filepath.Base(p)]) || f != obj.Wasm && !own {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no scenario in %s for %s", dir, f)
	}
	return files
}

// scriptParams are the testscript parameters of the scenarios in dir, for
// format f ("" when they take none).
func scriptParams(dir string, f obj.Format) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			for _, k := range passEnv {
				if v, ok := os.LookupEnv(k); ok {
					env.Setenv(k, v)
				}
			}
			if f != "" {
				env.Setenv("FORMAT", string(f))
				env.Setenv("EXEC", scriptOracle(f))
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if name, ok := strings.CutPrefix(cond, "format:"); ok {
				if _, err := obj.ParseFormat(name); err != nil {
					return false, fmt.Errorf("condition %q: %w", cond, err)
				}
				return f == obj.Format(name), nil
			}
			return toolsCondition(cond)
		},
	}
}

// scriptOracle is $EXEC, the execution oracle of `linkcheck run` and
// `check` in the format's scenarios: auto (native) for ELF, unicorn for
// the others. Under wine every command would create its own prefix (6-8 s
// each); wine runs the PE outputs in the Go end-to-end tests instead,
// which reuse one prefix.
func scriptOracle(f obj.Format) string {
	switch f {
	case obj.ELF:
		return "auto"
	case obj.Wasm:
		return "wazero"
	}
	return "unicorn"
}

// toolsCondition implements the scenario condition `tools:NAME,NAME...`.
func toolsCondition(cond string) (bool, error) {
	names, ok := strings.CutPrefix(cond, "tools:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	env := tools.FromEnvironment()
	for _, name := range strings.Split(names, ",") {
		if _, err := env.Find(name); err != nil {
			if env.RequireAll {
				return false, fmt.Errorf("required tool missing (LINKCHECK_REQUIRE_TOOLS=1): %w", err)
			}
			return false, nil
		}
	}
	return true, nil
}
