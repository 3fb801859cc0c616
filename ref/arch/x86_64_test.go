package arch

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/x86"
)

func TestApply(t *testing.T) {
	a := X86_64{}
	tests := []struct {
		kind obj.RelocKind
		in   Inputs
		want uint64 // the stored field, zero-extended
		size int
		err  string
	}{
		{obj.Abs64, Inputs{S: 0x1234_5678_9abc, A: 8}, 0x1234_5678_9ac4, 8, ""},
		{obj.Abs32, Inputs{S: 0xffff_fff0, A: 0xf}, 0xffff_ffff, 4, ""},
		{obj.Abs32, Inputs{S: 0xffff_fff0, A: 0x10}, 0, 4, "abs32 value 4294967296 is not in [0, 4294967295]"},
		{obj.Abs32S, Inputs{S: 0x7fff_ffff}, 0x7fff_ffff, 4, ""},
		{obj.Abs32S, Inputs{S: 0x8000_0000}, 0, 4, "abs32s value 2147483648 is not in [-2147483648, 2147483647]"},
		{obj.PCRel32, Inputs{S: 0x1000, A: -4, P: 0x2000}, uint64(uint32(0x1000 - 4 - 0x2000 + (1 << 32))), 4, ""},
		{obj.Branch32, Inputs{S: 0x2000, A: -4, P: 0x1000}, 0xffc, 4, ""},
		{obj.Branch32, Inputs{S: 0x1_0000_0000, A: -4, P: 0}, 0, 4, "branch32 value 4294967292 is not in [-2147483648, 2147483647]"},
		{obj.GOTPCRel32, Inputs{S: 0xdead, G: 0x3000, A: -4, P: 0x1000}, 0x1ffc, 4, ""},
		{obj.GOTLoad32, Inputs{S: 0xdead, G: 0x3000, A: 0, P: 0x1000}, 0x2000, 4, ""},
		{obj.ImageRel32, Inputs{S: 0x140001000, Base: 0x140000000}, 0x1000, 4, ""},
		{obj.ImageRel32, Inputs{S: 0x1000, Base: 0x140000000}, 0, 4, "imagerel32 value"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.err, func(t *testing.T) {
			field := make([]byte, 8)
			err := a.Apply(tt.kind, field, tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				var re *RangeError
				require.True(t, errors.As(err, &re))
				return
			}
			require.NoError(t, err)
			got := binary.LittleEndian.Uint64(field)
			if tt.size == 4 {
				require.Zero(t, got>>32, "Apply wrote past a 4-byte field")
			}
			require.Equal(t, tt.want, got)
		})
	}
	require.ErrorIs(t, a.Apply(obj.RelocKind(200), make([]byte, 8), Inputs{}), ErrUnsupported)
	require.Error(t, a.Apply(obj.Abs64, make([]byte, 4), Inputs{}))
}

// TestRelaxations decodes every relaxed form with x86asm.
func TestRelaxations(t *testing.T) {
	a := X86_64{}
	tests := []struct {
		name string
		code []byte // the instruction with a zero disp32 field at offset len-4
		how  Relax
		want string
	}{
		{"mov", []byte{0x48, 0x8b, 0x05, 0, 0, 0, 0}, RelaxMovToLea, "LEA RAX, [RIP+0x100]"},
		{"call", []byte{0xff, 0x15, 0, 0, 0, 0}, RelaxCall, "CALL .+256"},
		{"jmp", []byte{0xff, 0x25, 0, 0, 0, 0}, RelaxJmp, "JMP .+257"},
		{"push is not relaxed", []byte{0xff, 0x35, 0, 0, 0, 0}, RelaxNone, ""},
		// ApplyRelaxed gets S + A for these (RelaxesToAbsolute): S is 0x104.
		{"cmp", []byte{0x48, 0x3b, 0x1d, 0, 0, 0, 0}, RelaxBinopToImm, "CMP RBX, 0x104"},
		{"add r10", []byte{0x4c, 0x03, 0x15, 0, 0, 0, 0}, RelaxBinopToImm, "ADD R10, 0x104"},
		{"test r9", []byte{0x4c, 0x85, 0x0d, 0, 0, 0, 0}, RelaxTestToImm, "TEST R9, 0x104"},
		{"binop without REX", []byte{0x90, 0x3b, 0x05, 0, 0, 0, 0}, RelaxNone, ""},
		{"binop not RIP-relative", []byte{0x48, 0x3b, 0x43, 0, 0, 0, 0}, RelaxNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off := uint64(len(tt.code) - 4)
			how := a.Relaxation(obj.GOTLoad32, tt.code, off, -4)
			require.Equal(t, tt.how, how)
			require.Equal(t, RelaxNone, a.Relaxation(obj.GOTLoad32, tt.code, off, 0), "addend other than -4")
			require.Equal(t, RelaxNone, a.Relaxation(obj.GOTPCRel32, tt.code, off, -4), "GOTPCRel32 is never relaxed")
			if how == RelaxNone {
				return
			}
			require.Equal(t, how == RelaxBinopToImm || how == RelaxTestToImm, a.RelaxesToAbsolute(how))
			a.ApplyRelaxed(how, tt.code, off, 0x100)
			inst, err := x86asm.Decode(tt.code, 64)
			require.NoError(t, err)
			require.Equal(t, len(tt.code), inst.Len+map[Relax]int{RelaxJmp: 1}[how])
			require.Contains(t, inst.String(), tt.want)
		})
	}
	require.Equal(t, RelaxNone, a.Relaxation(obj.GOTLoad32, []byte{0x8b}, 1, -4), "field too close to the start")
}

// TestTrampoline compares the trampoline with ref/x86's encoding of jmp
// rel32 and checks the range limit.
func TestTrampoline(t *testing.T) {
	a := X86_64{}
	for _, tc := range []struct{ site, target uint64 }{{0x1000, 0x2000}, {0x2000, 0x1000}, {0x1000, 0x1005}} {
		b, err := a.Trampoline(tc.site, tc.target)
		require.NoError(t, err)
		require.Len(t, b, int(a.TrampolineSize()))
		e, err := x86.Encode(x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Rel{Disp: int32(int64(tc.target) - int64(tc.site+5)), Size: 4}}})
		require.NoError(t, err)
		require.Equal(t, e.Bytes, b[:5])
		for _, c := range b[5:] {
			require.Equal(t, a.CodeFill(), c)
		}
	}
	_, err := a.Trampoline(0, math.MaxInt32+10)
	require.ErrorContains(t, err, "out of rel32 range")
}

// TestApplyOtherKinds: the 1-, 2- and 8-byte kinds, sizes and TP offsets,
// with ld.lld's ranges (R_X86_64_8/16 signed or unsigned, PC8/PC16 signed).
func TestApplyOtherKinds(t *testing.T) {
	a := X86_64{}
	tests := []struct {
		kind obj.RelocKind
		in   Inputs
		want []byte // nil: a range error
	}{
		{obj.Abs8, Inputs{S: 255}, []byte{0xff}},
		{obj.Abs8, Inputs{S: 0, A: -128}, []byte{0x80}},
		{obj.Abs8, Inputs{S: 256}, nil},
		{obj.Abs16, Inputs{S: 0xfffe, A: 1}, []byte{0xff, 0xff}},
		{obj.Abs16, Inputs{S: 0x10000}, nil},
		{obj.PCRel8, Inputs{S: 0x1000, P: 0x1080}, []byte{0x80}},
		{obj.PCRel8, Inputs{S: 0x1080, P: 0x1000}, nil},
		{obj.PCRel16, Inputs{S: 0x1000, P: 0x9000}, []byte{0x00, 0x80}},
		{obj.PCRel16, Inputs{S: 0x9000, P: 0x1000}, nil},
		{obj.PCRel64, Inputs{S: 0x1000, P: 0x2000}, []byte{0x00, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{obj.Size32, Inputs{S: 0x9999, Z: 24, A: 1}, []byte{25, 0, 0, 0}},
		{obj.Size64, Inputs{Z: 24}, []byte{24, 0, 0, 0, 0, 0, 0, 0}},
		{obj.TPOff32, Inputs{S: 0x2000, TP: 0x2010, A: 4}, []byte{0xf4, 0xff, 0xff, 0xff}},
		{obj.DTPOff64, Inputs{S: 0x2000, TP: 0x2010}, []byte{0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		field := make([]byte, tt.kind.Size())
		err := a.Apply(tt.kind, field, tt.in)
		if tt.want == nil {
			var re *RangeError
			require.ErrorAs(t, err, &re, "%s %+v", tt.kind, tt.in)
			continue
		}
		require.NoError(t, err, "%s %+v", tt.kind, tt.in)
		require.Equal(t, tt.want, field, "%s %+v", tt.kind, tt.in)
	}
}

// TestRelaxTLS: each TLS sequence becomes ld.lld's local-exec code (the
// bytes ld.lld 16 writes for them).
func TestRelaxTLS(t *testing.T) {
	a := X86_64{}
	tests := []struct {
		name string
		kind obj.RelocKind
		code []byte
		off  uint64
		skip bool
		want []byte
	}{
		{"ie mov", obj.GOTTPOff, []byte{0x48, 0x8b, 0x05, 0, 0, 0, 0}, 3, false, []byte{0x48, 0xc7, 0xc0, 0xf0, 0xff, 0xff, 0xff}},
		{"ie mov r10", obj.GOTTPOff, []byte{0x4c, 0x8b, 0x15, 0, 0, 0, 0}, 3, false, []byte{0x49, 0xc7, 0xc2, 0xf0, 0xff, 0xff, 0xff}},
		{"ie add r9", obj.GOTTPOff, []byte{0x4c, 0x03, 0x0d, 0, 0, 0, 0}, 3, false, []byte{0x4d, 0x8d, 0x89, 0xf0, 0xff, 0xff, 0xff}},
		{"ie add rsp", obj.GOTTPOff, []byte{0x48, 0x03, 0x25, 0, 0, 0, 0}, 3, false, []byte{0x48, 0x81, 0xc4, 0xf0, 0xff, 0xff, 0xff}},
		{"gd", obj.TLSGD, []byte{0x66, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0x66, 0x66, 0x48, 0xe8, 0, 0, 0, 0}, 4, true,
			[]byte{0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x48, 0x8d, 0x80, 0xf0, 0xff, 0xff, 0xff}},
		{"ld", obj.TLSLD, []byte{0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xe8, 0, 0, 0, 0}, 3, true,
			[]byte{0x66, 0x66, 0x66, 0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0}},
		{"ld through GOT", obj.TLSLD, []byte{0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xff, 0x15, 0, 0, 0, 0}, 3, true,
			[]byte{0x66, 0x66, 0x66, 0x66, 0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			skip, err := a.RelaxTLS(tt.kind, tt.code, tt.off, uint64(0xffffffffffffffec)) // -0x14: -0x10 with the -4 addend
			require.NoError(t, err)
			require.Equal(t, tt.skip, skip)
			require.Equal(t, tt.want, tt.code)
		})
	}
	_, err := a.RelaxTLS(obj.GOTTPOff, []byte{0x48, 0x3b, 0x05, 0, 0, 0, 0}, 3, 0)
	require.ErrorContains(t, err, "MOVQ or ADDQ instructions only")
	_, err = a.RelaxTLS(obj.TLSLD, []byte{0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0x90, 0, 0, 0, 0}, 3, 0)
	require.ErrorContains(t, err, "expected R_X86_64_PLT32 or R_X86_64_GOTPCRELX after R_X86_64_TLSLD")
}
