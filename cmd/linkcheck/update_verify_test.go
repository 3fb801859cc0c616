package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/incr"
)

// TestUpdateVerifyRelinks: an output whose symbol table was damaged behind
// the linker's back, with a sidecar that claims the damaged file (its
// checksums recomputed), is updated in place; -verify finds the damage
// through the invariants and links from scratch, and the result is right.
func TestUpdateVerifyRelinks(t *testing.T) {
	tools.Require(t, "ld.lld")
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.lir")
	v2 := filepath.Join(dir, "v2.lir")
	require.NoError(t, os.WriteFile(v1, []byte("func f(x) { return x + 1 }\nfunc g(x) { return x * 3 }\nfunc main() { return f(41) + g(1) }\n"), 0o644))
	require.NoError(t, os.WriteFile(v2, []byte("func f(x) { return x + 2 }\nfunc g(x) { return x * 3 }\nfunc main() { return f(41) + g(1) }\n"), 0o644))
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, runUpdate([]string{"-format", "elf", "-o", out, v1}, &stdout, &stderr), stderr.String())

	// Damage g's symbol table entry: the sidecar's check against the file
	// looks at the regions (every atom's bytes and relocated fields), not
	// at the symbol table, so the damage survives into the update.
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	ef, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	syms, err := ef.Symbols()
	require.NoError(t, err)
	idx := -1
	for i, s := range syms {
		if s.Name == "g" {
			idx = i + 1 // debug/elf drops the null symbol
		}
	}
	require.Positive(t, idx)
	symtab := ef.Section(".symtab")
	data[symtab.Offset+uint64(idx)*24+8] ^= 0x10 // st_value
	require.NoError(t, os.WriteFile(out, data, 0o755))
	var sc struct {
		Version      int             `json:"version"`
		OutputSize   int64           `json:"output_size"`
		OutputSHA256 string          `json:"output_sha256"`
		StateSHA256  string          `json:"state_sha256"`
		State        json.RawMessage `json:"state"`
	}
	side, err := os.ReadFile(out + incr.SidecarSuffix)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(side, &sc))
	sum := sha256.Sum256(data)
	sc.OutputSHA256 = hex.EncodeToString(sum[:])
	side, err = json.Marshal(sc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(out+incr.SidecarSuffix, side, 0o644))

	stdout.Reset()
	stderr.Reset()
	code := runUpdate([]string{"-format", "elf", "-verify", "-o", out, v2}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	require.Contains(t, stderr.String(), "violates the invariants; linking from scratch")
	require.Contains(t, stdout.String(), "linked "+out)
	stdout.Reset()
	stderr.Reset()
	require.Equal(t, exitOK, runCheck([]string{out}, &stdout, &stderr), stderr.String())
}
