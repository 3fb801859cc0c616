package campaign

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const sampleOutput = `fuzz: elapsed: 0s, gathering baseline coverage: 0/3 completed
fuzz: elapsed: 0s, gathering baseline coverage: 3/3 completed, now fuzzing with 1 workers
fuzz: elapsed: 3s, execs: 76 (25/sec), new interesting: 50 (total: 53)
--- FAIL: FuzzErrorTable (17.45s)
    --- FAIL: FuzzErrorTable (0.31s)
        incr_test.go:778: FuzzErrorTable, policy trampoline, seed 3, 1 functions: after update 4: invariant 4 (trampoline) at 0x1000040: trampoline jumps to 0x1000105, which is no function's start: a chained or stale trampoline
            invariant 4 (trampoline): main at 0x1000040: trampoline jumps to 0x1000105, the symbol's current address is 0x1000100
            invariant 2 (fresh link): the canonical image differs from a fresh link's:
            text.operand     _start+0x0 insn 0
                fresh: call main
                incr: call main+0x5 ; via trampoline
            1 differences (text.operand)
            
            edits:
              1: rename-error Overflow E1_aaa
              2: add-error E2_ at 0
              4: align-move: main aligned to 64, grow main pad 769
            version checked:
            errors E3_, E2_
            func main() { return 1 }
    
    Failing input written to testdata/fuzz/FuzzErrorTable/42e349b2eca1e851
    To re-run:
    go test -run=FuzzErrorTable/42e349b2eca1e851
FAIL
`

func TestParseOutput(t *testing.T) {
	p, ok := ParseProgress("fuzz: elapsed: 3s, execs: 76 (25/sec), new interesting: 50 (total: 53)")
	require.True(t, ok)
	require.Equal(t, Progress{Elapsed: 3e9, Execs: 76, ExecsPerSec: 25, NewInteresting: 50, Corpus: 53, HasExecs: true, HasInteresting: true, HasCorpusTotals: true}, p)
	p, ok = ParseProgress("fuzz: elapsed: 0s, gathering baseline coverage: 0/3 completed")
	require.True(t, ok)
	require.True(t, p.Baseline)
	require.Equal(t, 3, p.Total)
	p, ok = ParseProgress("fuzz: elapsed: 1s, gathering baseline coverage: 3/3 completed, now fuzzing with 2 workers")
	require.True(t, ok)
	require.False(t, p.Baseline)
	require.Equal(t, 2, p.Workers)
	p, ok = ParseProgress("fuzz: elapsed: 1h2m54s, execs: 854 (10/sec), new interesting: 257 (total: 260)")
	require.True(t, ok)
	require.Equal(t, time.Hour+2*time.Minute+54*time.Second, p.Elapsed)
	require.Equal(t, int64(854), p.Execs)
	_, ok = ParseProgress("PASS")
	require.False(t, ok)

	f, ok := ParseFailure(sampleOutput)
	require.True(t, ok)
	require.Equal(t, "testdata/fuzz/FuzzErrorTable/42e349b2eca1e851", f.Input)
	require.Equal(t, "FuzzErrorTable/42e349b2eca1e851", f.Rerun)
	require.Empty(t, f.Seed)
	require.Contains(t, f.Message, "\nedits:\n  1: rename-error")
	require.True(t, len(f.Message) > 0 && f.Message[:15] == "FuzzErrorTable,", f.Message)

	s := ParseSignature(f.Message)
	require.Equal(t, Signature{Check: "invariant 4 (trampoline)", Mechanism: "align-move", SymbolKind: "func"}, s)
	require.Equal(t, "invariant 4 (trampoline) | align-move | func", s.String())

	seed := "failure while testing seed corpus entry: FuzzTrampoline/seed#0\nfuzz: elapsed: 0s, gathering baseline coverage: 0/2 completed\n--- FAIL: FuzzTrampoline (0.46s)\n    --- FAIL: FuzzTrampoline (0.27s)\n        incr_test.go:778: FuzzTrampoline, policy trampoline, seed 1, 4 functions: after update 1: invariant 4 (trampoline): f2 at 0x1000230: trampoline jumps to 0x1000725\n            edits:\n              1: grow f2 pad 201\n            version checked:\n            func f2() { return 2 }\n            func main() { return f2() }\nFAIL\n"
	f, ok = ParseFailure(seed)
	require.True(t, ok)
	require.Equal(t, "seed#0", f.Seed)
	require.Equal(t, "invariant 4 (trampoline) | grow | func", ParseSignature(f.Message).String())
}

func TestSignatures(t *testing.T) {
	for _, tt := range []struct{ msg, want string }{
		{"FuzzGOT, policy got, seed 2, 4 functions: after update 1: invariant 3 (GOT slot): _lc_errtab at 0x31000000: GOT slot holds 0x1\nedits:\n  1: grow f1 pad 3\nversion checked:\nfunc main() { return 1 }\n", "invariant 3 (GOT slot) | grow | error table"},
		{"FuzzX, policy trampoline, seed 1, 2 functions: after update 0: invariant 6 (symbol): g1 at 0x10: wrong\nedits:\nversion checked:\nglobal g1 = 1\nfunc main() { return load g1 }\n", "invariant 6 (symbol) | first link | global"},
		{"FuzzX, policy trampoline, seed 1, 2 functions: after update 2: invariant 2 (fresh link): the canonical image differs from a fresh link's:\ntext.operand     f+0x0 insn 0\ndata.pointer g\n\nedits:\n  1: grow f pad 1\n  2: retarget-call in main: f -> g\nversion checked:\n", "invariant 2 (fresh link) [data.pointer,text.operand] | retarget-call"},
		{"parse: unexpected \"}\" at 3:14 (offset 0x20)", `parse: unexpected "…" at N:N (offset 0x…)`},
	} {
		require.Equal(t, tt.want, ParseSignature(tt.msg).String(), tt.msg)
	}
}

func TestCorpusFile(t *testing.T) {
	data := []byte("a\x00\"b\xff")
	got, err := ParseCorpusFile(FormatCorpusFile(data))
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = ParseCorpusFile([]byte("go test fuzz v1\n[]byte(\"abc"))
	require.Error(t, err)
	_, err = ParseCorpusFile(nil)
	require.Error(t, err)
}

func TestSelect(t *testing.T) {
	all := []Target{{Name: "FuzzA"}, {Name: "FuzzReadMachO", Formats: []string{"macho"}}, {Name: "FuzzTrampoline", Formats: []string{"elf"}}}
	got, err := Select(all, "all", []string{"elf"})
	require.NoError(t, err)
	require.Equal(t, []Target{all[0], all[2]}, got)
	got, err = Select(all, "FuzzTrampoline,FuzzA", nil)
	require.NoError(t, err)
	require.Equal(t, []Target{all[0], all[2]}, got)
	_, err = Select(all, "FuzzNope", nil)
	require.ErrorContains(t, err, `unknown fuzz target "FuzzNope"`)
	_, err = Select(all, "", []string{"pdp11"})
	require.ErrorContains(t, err, `unknown format "pdp11"`)
}

// TestFullLinkSignatures checks that the full-link targets' messages sign
// by the failure, not by the linker, program and split they name first.
func TestFullLinkSignatures(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"FuzzLinker: linker cmd:/tmp/l.sh {out} {objs} (unknown (a command)), seed 7, 4 functions, 2 units: its image differs from ld.lld's:\ntext.operand     _start+0x0 insn 0\n    lld: call main\n    cmd: call main+0x4\nprogram:\nfunc main() { return 1 }\n",
			"FuzzLinker: its image differs from ld.lld's: [text.operand]"},
		{"FuzzLinker: linker mold (mold 1.10.1), seed -3, 1 functions, 1 units: its executable computed 3, the interpreter says 4\nprogram:\nfunc main() { return 4 }\n",
			"FuzzLinker: its executable computed N, the interpreter says N"},
		{"FuzzIncrementalGold, seed 2, 9 functions, 3 units: version 2 of 4: gold --incremental: exit status 1\nedits:\n  1: add-func f9\n",
			"FuzzIncrementalGold: gold --incremental: exit status N"},
		{"FuzzWasmProgram: seed 6, 31 functions, 3 units: wazero: exec: /tmp/FuzzWasmProgram1610580559/001/a.wasm (wasm, wazero): wazero compiler: _start trapped: wasm error: unreachable\nprogram:\nfunc main() { return 1 }\n",
			"FuzzWasmProgram: wazero: exec: … (wasm, wazero): wazero compiler: _start trapped: wasm error: unreachable"},
	} {
		require.Equal(t, tc.want, ParseSignature(tc.msg).String())
	}
}

// TestCorpusValues checks the corpus files of fuzz functions of any arity
// (FuzzWasmProgram's int64, uint8, uint8; FuzzCanonELF's []byte, bool),
// and that a campaign's recovery keeps them and sets aside only the
// entries a kill cut.
func TestCorpusValues(t *testing.T) {
	for _, tc := range []struct {
		file string
		n    int // values; -1: an error
	}{
		{"go test fuzz v1\nint64(3)\nuint8(15)\nuint8(3)\n", 3},
		{"go test fuzz v1\n[]byte(\"\\x7fELF\")\nbool(true)\n", 2},
		{"go test fuzz v1\n[]byte(\"abc\")\n", 1},
		{"go test fuzz v1\nfloat64(-1.5)\nstring(\"a\\\"b\")\nrune('x')\n", 3},
		{"go test fuzz v1\nint64(3)\nuint8(1", -1},
		{"go test fuzz v1\n[]byte(\"\\x7fEL", -1},
		{"go test fuzz v1\nint64()\n", -1},
		{"go test fuzz v1\nchan(1)\n", -1},
		{"go test fuzz v1\n", -1},
		{"", -1},
	} {
		v, err := CorpusValues([]byte(tc.file))
		if tc.n < 0 {
			require.Error(t, err, "%q", tc.file)
			continue
		}
		require.NoError(t, err, "%q", tc.file)
		require.Len(t, v, tc.n, "%q", tc.file)
	}

	out := t.TempDir()
	dir := filepath.Join(out, "corpus", "FuzzWasmProgram")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	files := map[string]string{
		"a": "go test fuzz v1\nint64(1)\nuint8(5)\nuint8(1)\n",
		"b": "go test fuzz v1\nint64(2)\nuint8(9)\nuint8(0)\n",
		"c": "go test fuzz v1\nint64(7)\nuint8(3)\n",    // cut between two lines
		"d": "go test fuzz v1\nint64(7)\nuint8(3)\nuin", // cut inside one
	}
	for n, d := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(d), 0o644))
	}
	c := &campaign{cfg: Config{Out: out}}
	require.NoError(t, c.checkCorpus("FuzzWasmProgram"))
	for n, kept := range map[string]bool{"a": true, "b": true, "c": false, "d": false} {
		_, err := os.Stat(filepath.Join(dir, n))
		require.Equal(t, kept, err == nil, "%s kept", n)
		_, err = os.Stat(filepath.Join(out, "quarantine", "FuzzWasmProgram", n))
		require.Equal(t, !kept, err == nil, "%s quarantined", n)
	}
	require.Equal(t, 3, c.arity("FuzzWasmProgram"))
}
