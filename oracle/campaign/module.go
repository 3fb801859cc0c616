package campaign

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// ModulePath is the module whose fuzz targets campaigns run.
const ModulePath = "github.com/linkcheck/linkcheck"

// ErrNoSource says that the source tree of the module is not where the
// campaign looked: campaigns build and run the fuzz package from source.
var ErrNoSource = errors.New("the linkcheck source tree is not there")

// FindModule returns the root of the source tree of ModulePath: explicit
// (when not ""), else the directory the binary was built from (a source
// file path of the build, recorded in the binary unless it was built with
// -trimpath), else the nearest enclosing module of the executable or of
// the working directory. Each candidate must have a go.mod declaring
// ModulePath and a fuzz/ directory; the error lists what was tried.
func FindModule(explicit, builtFile string) (string, error) {
	var tried []string
	try := func(dir string) (string, bool) {
		if dir == "" {
			return "", false
		}
		dir = filepath.Clean(dir)
		for d := dir; ; d = filepath.Dir(d) {
			if isModuleRoot(d) {
				return d, true
			}
			if filepath.Dir(d) == d || explicit != "" {
				break
			}
		}
		tried = append(tried, dir)
		return "", false
	}
	if explicit != "" {
		if root, ok := try(explicit); ok && root == filepath.Clean(explicit) {
			return root, nil
		}
		return "", fmt.Errorf("%w: %s has no go.mod of %s with a fuzz/ directory", ErrNoSource, explicit, ModulePath)
	}
	if filepath.IsAbs(builtFile) {
		if root, ok := try(filepath.Dir(builtFile)); ok {
			return root, nil
		}
	}
	if exe, err := os.Executable(); err == nil {
		if root, ok := try(filepath.Dir(exe)); ok {
			return root, nil
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if root, ok := try(wd); ok {
			return root, nil
		}
	}
	what := "the binary"
	if bi, ok := debug.ReadBuildInfo(); ok {
		what = fmt.Sprintf("this binary (%s %s", bi.Main.Path, bi.Main.Version)
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				what += ", revision " + s.Value
			}
		}
		what += ")"
	}
	return "", fmt.Errorf("%w: campaigns build and run the fuzz targets of %s from source, and no module %s was found where %s was built nor above %s (tried %s); run linkcheck from a checkout or pass -src DIR",
		ErrNoSource, ModulePath, ModulePath, what, "the executable or the working directory", strings.Join(tried, ", "))
}

// isModuleRoot reports whether dir holds go.mod of ModulePath and fuzz/.
func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	mod := false
	for sc.Scan() {
		if p, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			mod = strings.Trim(strings.TrimSpace(p), `"`) == ModulePath
			break
		}
	}
	if !mod {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, "fuzz"))
	return err == nil && st.IsDir()
}
