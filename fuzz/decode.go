package fuzz

import (
	"encoding/binary"

	gofuzz "github.com/google/gofuzz"
)

// MaxIncrEdits bounds the edits of one update sequence (the incremental
// targets' maxIncrEdits).
const MaxIncrEdits = 20

// IncrEdit is one edit of an update sequence, as the incremental fuzz
// targets (FuzzIncrementalELF, FuzzIncrementalMachO, FuzzErrorTable,
// FuzzTrampoline, FuzzGOT)
// decode it: Kind picks the edit from the target's menu, A, B and C pick its
// targets, Size is its size or value. Its fields mirror the targets'
// incrEdit, in the same order and types, so that gofuzz decodes the same
// bytes to the same values.
type IncrEdit struct {
	Kind    uint8
	A, B, C uint8
	Size    uint16
}

// IncrInput is an update sequence as the incremental fuzz targets decode it
// from the fuzzer's bytes: a generated program (Seed, 1 + Funcs%40
// functions, FuzzErrorTable's 1 + Errors%300 errors, the got policy when
// GOT is set and the target does not fix the policy) and up to MaxIncrEdits
// edits. It mirrors the targets' incrInput field for field; the campaign's
// reducer (oracle/campaign) decodes a finding with DecodeIncr, simplifies
// the structure and encodes candidates back with EncodeIncr.
type IncrInput struct {
	Seed   int64
	Funcs  uint8
	Errors uint16
	GOT    bool
	Edits  []IncrEdit
}

// DecodeIncr decodes a fuzz input of an incremental target exactly as the
// target does.
func DecodeIncr(data []byte) IncrInput {
	var in IncrInput
	gofuzz.NewFromGoFuzz(data).NilChance(0).NumElements(0, MaxIncrEdits).Fuzz(&in)
	if len(in.Edits) == 0 {
		in.Edits = nil
	}
	return in
}

// EncodeIncr returns bytes that DecodeIncr (and the targets) decode to in
// (at most MaxIncrEdits edits are encoded). It inverts how gofuzz draws
// from its byte source: every random word is the next 8 bytes
// (big-endian), the first 8 seed a fallback source; rand.Uint32 is a word's
// high half and rand.Int31 its top 31 bits.
func EncodeIncr(in IncrInput) []byte {
	edits := in.Edits
	if len(edits) > MaxIncrEdits {
		edits = edits[:MaxIncrEdits]
	}
	words := []uint64{0} // the fallback's seed
	u32 := func(v uint32) { words = append(words, uint64(v)<<32) }
	u64 := func(v uint64) { u32(uint32(v >> 32)); u32(uint32(v)) }
	i31 := func(v int32) { words = append(words, uint64(v)<<33) }
	u64(uint64(in.Seed))
	u64(uint64(in.Funcs))
	u64(uint64(in.Errors))
	if in.GOT { // randBool: Int31()&(1<<30) == 0
		i31(0)
	} else {
		i31(1 << 30)
	}
	words = append(words, 1<<63) // Float64() = 0.5: fill the slice
	i31(int32(len(edits)))       // Intn(MaxIncrEdits+1)
	for _, e := range edits {
		u64(uint64(e.Kind))
		u64(uint64(e.A))
		u64(uint64(e.B))
		u64(uint64(e.C))
		u64(uint64(e.Size))
	}
	data := make([]byte, 8*len(words))
	for i, w := range words {
		binary.BigEndian.PutUint64(data[8*i:], w)
	}
	return data
}

// IncrTargets lists the fuzz targets whose input is an IncrInput.
var IncrTargets = []string{"FuzzErrorTable", "FuzzGOT", "FuzzIncrementalCOFF", "FuzzIncrementalELF", "FuzzIncrementalMachO", "FuzzIncrementalWasm", "FuzzTrampoline"}

// LinkerInput is a FuzzLinker input as the target decodes it: a generated
// program (Seed, 1 + Funcs%40 functions) split into 1 + Units%4 objects.
// The campaign's reducer decodes a finding with DecodeLinker and encodes
// candidates with EncodeLinker.
type LinkerInput struct {
	Seed  int64
	Funcs uint8
	Units uint8
}

// DecodeLinker decodes a FuzzLinker input exactly as the target does.
func DecodeLinker(data []byte) LinkerInput {
	var in LinkerInput
	gofuzz.NewFromGoFuzz(data).NilChance(0).Fuzz(&in)
	return in
}

// EncodeLinker returns bytes that DecodeLinker decodes to in (see
// EncodeIncr for how gofuzz draws from its byte source).
func EncodeLinker(in LinkerInput) []byte {
	words := []uint64{0, uint64(uint32(uint64(in.Seed)>>32)) << 32, uint64(uint32(in.Seed)) << 32,
		0, uint64(in.Funcs) << 32, 0, uint64(in.Units) << 32}
	data := make([]byte, 8*len(words))
	for i, w := range words {
		binary.BigEndian.PutUint64(data[8*i:], w)
	}
	return data
}
