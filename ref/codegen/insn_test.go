package codegen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// compileEncodeEach is CompileWith with every instruction encoded by the
// x86 encoder, one function at a time: the reference of the templates.
func compileEncodeEach(t *testing.T, m *ir.Module, format obj.Format, opts Options) *obj.Program {
	env := NewEnv(m)
	env.encodeEach = true
	p, err := compileWith(m, format, opts, env, CompileFunc, nil)
	require.NoError(t, err)
	return p
}

// TestTemplatesEqualEncoder: the program compiled from instruction
// templates (on every core) equals, byte for byte, the program whose every
// instruction the x86 encoder encoded, over generated programs and edit
// sequences, with each option; frame slots on both sides of the disp8
// range and constants of every size included.
func TestTemplatesEqualEncoder(t *testing.T) {
	var mods []*ir.Module
	for seed := int64(1); seed <= 4; seed++ {
		mods = append(mods, ir.Generate(ir.GenConfig{Seed: seed, Funcs: 300}))
		mods = append(mods, ir.Sequence(seed, 10, 20)...)
	}
	src := `errors Oops, Bad
global g = 0
global p = &h
local func h(a) align 32 {
  pad 23
  return errlen(a) + errbyte(error.Bad, a)
}
func f(a, b, c, d) {
  let x1 = 1
  let x2 = 0x80000000
  let x3 = 0xffffffffffffffff
  let x4 = 0x7fffffff
  let x5 = 0xffffffff80000000
  let x6 = x1 + x2 + x3 + x4 + x5 + a + b + c + d
  let x7 = x6 / a % b
  let x8 = x7 << 3 >> 1
  let x9 = x8 < x7
  let x10 = x8 <= x7
  let x11 = x8 > x7
  let x12 = x8 >= x7
  let x13 = x8 == x7
  let x14 = x8 != x7
  let x15 = -x14 & ~x13 | x12 ^ x11
  let x16 = x15 * x10
  let x17 = x16 + x9
  store g, x17
  let fp = &h
  let y = call fp(x17) + call load p(2) + h(3)
  while x17 > 0 { x17 = x17 - 1 }
  if x1 { return load g } else { return x17 }
}
func main() { return f(1, 2, 3, 4) }
`
	m, err := ir.Parse("slots.lir", []byte(src))
	require.NoError(t, err)
	mods = append(mods, m)
	for _, opts := range []Options{{}, {CallsViaGOT: true}, {Faults: fault.Of(fault.SeedErrTab)}} {
		for i, m := range mods {
			for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF} {
				got, err := CompileWith(m, f, opts)
				require.NoError(t, err)
				require.Equal(t, compileEncodeEach(t, m, f, opts), got, "module %d, %s, %+v", i, f, opts)
			}
		}
	}
}
