// Package arch is an instruction set's part of linking: how a relocation's
// value is computed and stored (with range checks), which GOT loads may be
// relaxed into direct references and how, the pointer size, the byte that
// fills free code, and the trampoline an incremental linker leaves where a
// function used to be. The full linker (ref/link) and the incremental
// linker (ref/incr) both go through it, so relocation arithmetic exists once
// in the reference implementation; the canonical-image oracle keeps its own
// independent copy on purpose.
package arch

import (
	"fmt"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Arch is one instruction set's linking rules.
type Arch interface {
	// Name names the architecture ("x86_64").
	Name() string
	// PtrSize is the size in bytes of an address (a GOT slot, a data
	// pointer).
	PtrSize() uint64
	// CodeFill is the byte that fills code no function occupies, so that
	// a stray jump traps (int3 on x86_64).
	CodeFill() byte
	// Apply stores the value of a relocation of kind k into field, which
	// starts at the relocated offset. A value that does not fit the field
	// is a *RangeError; a kind the architecture does not know is an error
	// wrapping ErrUnsupported.
	Apply(k obj.RelocKind, field []byte, in Inputs) error
	// Relaxation says whether the GOT load of kind k at offset off of
	// code (the field's offset; the instruction precedes it) with addend
	// a can become a direct reference, and how. The caller decides
	// whether the symbol allows it (it must have a link-time address).
	Relaxation(k obj.RelocKind, code []byte, off uint64, a int64) Relax
	// ApplyRelaxed rewrites the instruction of a relaxable GOT load (how
	// from Relaxation) into its direct form and stores v = S + A - P.
	ApplyRelaxed(how Relax, code []byte, off uint64, v uint64)
	// TrampolineSize is the room an incremental linker keeps at a moved
	// function's first address for its trampoline; 0 when code has no
	// addresses (Wasm) and nothing is ever left behind.
	TrampolineSize() uint64
	// Trampoline encodes a jump at address site to target, padded with
	// CodeFill to TrampolineSize bytes.
	Trampoline(site, target uint64) ([]byte, error)
}

// Inputs are the operands of a relocation's value: S the symbol's address,
// A the addend, P the address of the relocated field, G the address of the
// symbol's GOT slot (for GOT kinds) and Base the image base (for
// image-relative kinds).
type Inputs struct {
	S, P, G, Base uint64
	A             int64
	// Z is the symbol's size (Size32, Size64), GOT the GOT base
	// (GOTOff64, GOTPC32, GOTPC64) and TP the thread pointer: the
	// address TLS offsets are relative to (TPOff, DTPOff, relaxed TLS
	// sequences).
	Z, GOT, TP uint64
}

// TLSRelaxer is an optional interface of an Arch that rewrites the
// initial-exec, general-dynamic and local-dynamic TLS sequences into
// local-exec code, as a linker does for a static executable.
type TLSRelaxer interface {
	// RelaxTLS rewrites the sequence whose relocation of kind k
	// (obj.GOTTPOff, obj.TLSGD, obj.TLSLD) has its field at offset off
	// of code, and stores v = S + A - TP where the new code needs it. It
	// reports whether the relocation that follows belongs to the sequence
	// (the call of __tls_get_addr) and is consumed with it. An
	// instruction it does not know is an error.
	RelaxTLS(k obj.RelocKind, code []byte, off uint64, v uint64) (skipNext bool, err error)
}

// AbsoluteRelaxer is an optional interface of an Arch some of whose GOT
// relaxations store the symbol's absolute address (S + A) rather than S +
// A - P.
type AbsoluteRelaxer interface {
	// RelaxesToAbsolute reports whether how stores S + A.
	RelaxesToAbsolute(how Relax) bool
}

// Relax is what a relaxable GOT load becomes; RelaxNone keeps it.
type Relax uint8

// ErrUnsupported is wrapped by Apply for a relocation kind the
// architecture does not implement.
var ErrUnsupported = fmt.Errorf("relocation kind not supported")

// RangeError is a relocation value that does not fit its field.
type RangeError struct {
	Kind      obj.RelocKind
	Value     int64
	Low, High int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s value %d is not in [%d, %d]", e.Kind, e.Value, e.Low, e.High)
}
