package codegen_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// programs exercise every construct and the corners of the semantics; the
// interpreter says what each must compute.
var programs = map[string]string{
	"arith": `func main() { return (7 * 6 + 100 / 7 - 100 % 7) ^ (0xff & ~0x0f) | 1 }`,
	"wrap": `func main() {
  let x = 0xffffffffffffffff
  return x + 2 + (0 - 1) * 3
}`,
	"neg": `func main() { return -5 + 0x7fffffff + 0x80000000 + 0x8000000000000000 }`,
	"divzero": `func main() {
  let z = 0
  return 10 / z + 10 % z + 1
}`,
	"shifts": `func main() {
  let a = 1 << 65
  let b = 0x8000000000000000 >> 63
  let c = 3 << 64
  return a + b * 10 + c * 100
}`,
	"compare": `func main() {
  let m = 0xffffffffffffffff
  return (1 < m) + (m > 1) * 2 + (m <= m) * 4 + (2 >= 3) * 8 + (5 == 5) * 16 + (5 != 5) * 32
}`,
	"calls": `func add3(a, b, c) { return a * 100 + b * 10 + c }
func four(a, b, c, d) { return a - b - c - d }
func main() { return add3(1, 2, 3) + four(100, 1, 2, 3) }`,
	"recursion": `func fib(n) {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
func main() { return fib(20) }`,
	"deep": `func down(n) {
  if n == 0 { return 0 }
  return 1 + down(n - 1)
}
func main() { return down(9998) }`,
	"globals": `global counter = 7
global zero = 0
const k = 0x1122334455667788
func bump(n) {
  store counter, load counter + n
  return load counter
}
func main() {
  bump(5)
  store zero, load zero + 1
  return bump(1) + load zero + load k
}`,
	"indirect": `const table = &double
global ptr = &triple
local func triple(x) { return x * 3 }
func double(x) { return x * 2 }
func main() {
  let f = load table
  let y = call f(21)
  store ptr, &double
  let g = &triple
  return y + call (load ptr)(5) + call g(1) + call &double(100)
}`,
	"errors": `errors OutOfMemory, FileNotFound, X
func main() {
  let n = errlen(error.FileNotFound) * 1000 + errbyte(error.OutOfMemory, 0)
  let oob = errlen(0) + errlen(4) + errlen(0xffffffffffffffff) + errbyte(error.X, 1) + errbyte(error.X, 0xffffffff)
  let e = error.X
  return n + oob * 7 + errbyte(e, 0) * 100000 + errlen(e - 1)
}`,
	"noerrors": `func main() { return errlen(1) + errbyte(1, 0) + 9 }`,
	"loops": `func main() {
  let i = 0
  let s = 0
  while i < 100 {
    if i % 3 == 0 { s = s + i } else { if i % 5 == 0 { s = s + 1 } }
    i = i + 1
  }
  return s
}`,
	"pad_align": `func f() align 64 {
  pad 100
  return 3
}
func g() align 4096 {
  pad 4096
  return 4
}
func main() {
  pad 17
  return f() * 10 + g()
}`,
	"nested_calls": `func id(x) { return x }
func main() { return id(id(1) + id(2) * id(id(3))) + id(4) - id(id(5)) }`,
	"fallthrough": `func nothing() { let x = 5 }
func main() {
  nothing()
  return nothing() + 42
}`,
}

func parse(t *testing.T, name, src string) *ir.Module {
	t.Helper()
	m, err := ir.Parse(name+".lir", []byte(src))
	require.NoError(t, err)
	return m
}

func TestAtomsDecode(t *testing.T) {
	for name, src := range programs {
		t.Run(name, func(t *testing.T) {
			m := parse(t, name, src)
			for _, format := range []obj.Format{obj.ELF, obj.MachO, obj.COFF} {
				p, err := codegen.CompileWith(m, format, codegen.Options{CallsViaGOT: format == obj.ELF})
				require.NoError(t, err)
				for _, a := range p.Atoms {
					if !a.IsFunc() {
						continue
					}
					checkDecode(t, a)
				}
			}
		})
	}
}

// checkDecode decodes the whole atom with x86asm and checks that every
// relocation is the last 4 bytes of an instruction of the expected shape.
func checkDecode(t *testing.T, a *obj.Atom) {
	t.Helper()
	ends := map[int]x86asm.Inst{}
	for off := 0; off < len(a.Data); {
		inst, err := x86asm.Decode(a.Data[off:], 64)
		require.NoError(t, err, "%s+%#x: % x", a.Name, off, a.Data[off:min(off+15, len(a.Data))])
		off += inst.Len
		ends[off] = inst
	}
	for _, r := range a.Relocs {
		inst, ok := ends[int(r.Offset)+4]
		require.True(t, ok, "%s: reloc %s at %#x is not at the end of an instruction", a.Name, r.Kind, r.Offset)
		require.Equal(t, int64(-4), r.Addend)
		switch r.Kind {
		case obj.Branch32, obj.GOTPCRel32:
			require.Equal(t, x86asm.CALL, inst.Op, "%s+%#x", a.Name, r.Offset)
		case obj.GOTLoad32:
			require.Equal(t, x86asm.MOV, inst.Op, "%s+%#x", a.Name, r.Offset)
			mem, ok := inst.Args[1].(x86asm.Mem)
			require.True(t, ok)
			require.Equal(t, x86asm.RIP, mem.Base)
			// The REX.W prefix must sit 3 bytes before the field, for
			// R_X86_64_REX_GOTPCRELX.
			require.Equal(t, byte(0x48), a.Data[r.Offset-3]&0xf8)
		case obj.PCRel32:
			require.Equal(t, x86asm.LEA, inst.Op)
		default:
			t.Fatalf("%s: unexpected relocation kind %s in code", a.Name, r.Kind)
		}
	}
}

func TestErrorTable(t *testing.T) {
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprintf("E%d_%s", i, strings.Repeat("x", i%7))
	}
	for _, names := range [][]string{nil, {"A"}, {"OutOfMemory", "FileNotFound"}, many} {
		a := obj.ErrorTable(names, 0)
		require.Equal(t, codegen.ErrTabSymbol, a.Name)
		require.Equal(t, obj.ROData, a.Kind)
		n := len(names)
		off := func(i int) int { return int(binary.LittleEndian.Uint32(a.Data[4*i:])) }
		require.Equal(t, 4*(n+1), off(0), "off[0] tells N")
		for k := 1; k <= n; k++ {
			name := string(a.Data[off(k-1) : off(k)-1])
			require.Equal(t, names[k-1], name)
			require.Equal(t, byte(0), a.Data[off(k)-1], "NUL after %s", name)
		}
		require.Equal(t, len(a.Data), off(n))
	}
}

func TestObjectsSplitUnits(t *testing.T) {
	m := parse(t, "indirect", programs["indirect"])
	p, err := codegen.Compile(m, obj.ELF)
	require.NoError(t, err)
	unitOf := map[string]int{"triple": 1, "double": 0, "main": 1, "table": 0, "ptr": 1}
	objs, err := obj.Objects(p, unitOf, 2, func(u int) string { return fmt.Sprintf("u%d.o", u) })
	require.NoError(t, err)
	require.Len(t, objs, 2)
	names := func(o *obj.Object, defined bool) []string {
		var out []string
		for _, s := range o.Symbols {
			if s.Defined() == defined {
				out = append(out, s.Name)
			}
		}
		return out
	}
	require.Equal(t, []string{"_start", "double", "table"}, names(objs[0], true))
	require.Equal(t, []string{"main"}, names(objs[0], false))
	require.Equal(t, []string{"triple", "main", "ptr"}, names(objs[1], true))
	require.Equal(t, []string{"double", "table"}, names(objs[1], false))
	require.Equal(t, obj.Local, objs[1].Symbols[0].Bind)

	_, err = obj.Objects(p, map[string]int{}, 2, func(int) string { return "x" })
	require.ErrorContains(t, err, `no unit for "triple"`)
	_, err = obj.Objects(p, unitOf, 0, func(int) string { return "x" })
	require.ErrorContains(t, err, "need at least 1")
}

func TestCompileErrors(t *testing.T) {
	m := parse(t, "arith", programs["arith"])
	_, err := codegen.Compile(m, obj.Wasm)
	require.ErrorContains(t, err, "wasm")
	_, err = codegen.EntryStub("pdp11")
	require.ErrorContains(t, err, `no x86_64 entry stub for format "pdp11"`)
	m.Funcs = nil
	_, err = codegen.Compile(m, obj.ELF)
	require.ErrorContains(t, err, "no main")
}

// TestRunNative compiles each program to ELF objects (1 and 3 units), links
// them with ld.lld and runs the executable on this CPU: its value must be
// the interpreter's.
func TestRunNative(t *testing.T) {
	lld := tools.Require(t, "ld.lld")
	for name, src := range programs {
		for _, units := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/units=%d", name, units), func(t *testing.T) {
				m := parse(t, name, src)
				want, err := ir.Interp(m, ir.InterpOptions{})
				require.NoError(t, err)
				p, err := codegen.CompileWith(m, obj.ELF, codegen.Options{CallsViaGOT: units == 3})
				require.NoError(t, err)
				unitOf := map[string]int{}
				for i, f := range m.Funcs {
					unitOf[f.Name] = i % units
				}
				for i, g := range m.Globals {
					unitOf[g.Name] = (i + 1) % units
				}
				// Local functions stay with their referrers: put them all in
				// unit 0 with everything that references them.
				for _, f := range m.Funcs {
					if f.Local {
						for n := range unitOf {
							unitOf[n] = 0
						}
					}
				}
				objs, err := obj.Objects(p, unitOf, units, func(u int) string { return fmt.Sprintf("u%d.o", u) })
				require.NoError(t, err)
				dir := t.TempDir()
				args := []string{"-e", codegen.EntrySymbol, "-o", filepath.Join(dir, "a.out")}
				for _, o := range objs {
					b, err := elf.WriteObject(o)
					require.NoError(t, err)
					path := filepath.Join(dir, o.Name)
					require.NoError(t, os.WriteFile(path, b, 0o644))
					args = append(args, path)
				}
				out, err := exec.Command(lld.Path, args...).CombinedOutput()
				require.NoError(t, err, "%s", out)
				require.Empty(t, string(out), "ld.lld warnings")
				cmd := exec.Command(filepath.Join(dir, "a.out"))
				var stderr strings.Builder
				cmd.Stderr = &stderr
				stdout, err := cmd.Output()
				require.NoError(t, err, "stderr: %s", stderr.String())
				require.Len(t, stdout, 8)
				require.Equal(t, want, binary.LittleEndian.Uint64(stdout), "interpreter says %d", want)
			})
		}
	}
}
