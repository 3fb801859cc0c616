package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/linkcheck/linkcheck/oracle/tools"
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
	testscript.Run(t, testscript.Params{
		Dir: "../../scripts",
		Setup: func(env *testscript.Env) error {
			for _, k := range passEnv {
				if v, ok := os.LookupEnv(k); ok {
					env.Setenv(k, v)
				}
			}
			return nil
		},
		Condition: toolsCondition,
	})
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
