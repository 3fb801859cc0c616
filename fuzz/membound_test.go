package fuzz

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// The memory bound of the readers (issue 17): reading an input of n bytes
// allocates at most perByte*n + allocConst bytes in all (TotalAlloc,
// garbage included), whatever the input claims in its headers. Every
// reader target checks it on every input it runs (seed corpus, stored
// corpus and fuzzing), through boundedRead; a violation is an allocation
// sized by a field of the input rather than by the input's size.
//
// Measured (docs/robustness.md): the ELF object reader allocates at most
// 2.7 bytes per input byte on objects of 5,000 sections, 20,000 symbols or
// 20,000 relocations, canon.ReadELF up to 30 on its seeds; the .lir parser
// 143 on a flat chain of 50,000 "+1" (a tree node per 2 bytes), 62 on
// 20,000 lets.
const (
	objPerByte = 64  // object and executable readers
	lirPerByte = 512 // the .lir parser
	allocConst = 1 << 20
)

// canonConst is canon.ReadELF's constant: it reads through debug/elf,
// which reads a table whose size a header claims in one allocation of up
// to 10 MiB before it finds the file too short (internal/saferio); a
// 64-byte input claiming a large program header table allocated 10.1 MiB
// (the seed fuzz/testdata/fuzz/FuzzCanonELF/7c2c1aac25876c30). A failing
// read ends the call, so this happens at most once per input.
const canonConst = 12 << 20

// fataler is what boundedRead needs of a test: a small interface rather
// than testing.TB, so that the targets still build where a fuzzing engine
// substitutes its own T (ClusterFuzzLite's compile_native_go_fuzzer).
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// boundedRead runs read, which reads n bytes of input, and fails t when it
// allocated more than perByte*n + allocConst bytes.
func boundedRead[T any](t fataler, what string, n int, perByte uint64, read func() (T, error)) (T, error) {
	t.Helper()
	return boundedReadConst(t, what, n, perByte, allocConst, read)
}

// boundedReadConst is boundedRead with another constant.
func boundedReadConst[T any](t fataler, what string, n int, perByte, constant uint64, read func() (T, error)) (T, error) {
	t.Helper()
	got, v, err := measureAllocs(read)
	if limit := perByte*uint64(n) + constant; got > limit {
		t.Fatalf("%s of %d bytes allocated %d bytes, more than the bound %d*n+%d = %d", what, n, got, perByte, constant, limit)
	}
	return v, err
}

// measureAllocs returns the bytes read allocated, and what it returned.
func measureAllocs[T any](read func() (T, error)) (uint64, T, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v, err := read()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, v, err
}

// fatalRecorder is a fataler whose Fatalf records instead of stopping.
type fatalRecorder struct{ msg string }

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
}

// TestBoundedReadCatchesOverallocation shows the bound can fail: a reader
// that sizes a buffer by a 32-bit count from its 8-byte input is caught,
// one that sizes it by the input is not.
func TestBoundedReadCatchesOverallocation(t *testing.T) {
	in := []byte{0, 0x40, 0, 0, 0, 0, 0, 0} // claims 4 Mi entries of 16 bytes
	sink := 0
	byHeader := func() ([]byte, error) {
		b := make([]byte, int(binary.BigEndian.Uint32(in))*16)
		sink += len(b)
		return b, nil
	}
	bySize := func() ([]byte, error) {
		b := make([]byte, len(in)*objPerByte/2)
		sink += len(b)
		return b, nil
	}
	r := &fatalRecorder{}
	_, _ = boundedRead(r, "byHeader", len(in), objPerByte, byHeader)
	require.Contains(t, r.msg, "byHeader of 8 bytes allocated")
	r = &fatalRecorder{}
	_, _ = boundedRead(r, "bySize", len(in), objPerByte, bySize)
	require.Empty(t, r.msg)
	require.Positive(t, sink)
}
