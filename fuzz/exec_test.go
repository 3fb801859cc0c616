package fuzz

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// execSeeds links the value programs of oracle/lld's tests with llvm-mc and
// lld when they are installed; without them the fuzz target still runs on
// the magic-number seeds. With the tools there, a program that fails to
// assemble or link is an error, not a silently lost seed.
func execSeeds(f *testing.F) [][]byte {
	f.Helper()
	dir := f.TempDir()
	var seeds [][]byte
	for _, c := range []struct{ format, triple string }{
		{"elf", "x86_64-linux-gnu"},
		{"macho", "x86_64-apple-macos11"},
		{"coff", "x86_64-pc-windows-msvc"},
	} {
		src := filepath.Join("..", "oracle", "lld", "testdata", c.format+".s")
		data := assembleFile(f, c.triple, src)
		if data == nil {
			return nil // no llvm-mc
		}
		o := filepath.Join(dir, c.format+".o")
		if err := os.WriteFile(o, data, 0o644); err != nil {
			f.Fatal(err)
		}
		out := filepath.Join(dir, c.format+".out")
		if _, err := lld.Link(context.Background(), obj.Format(c.format), []string{o}, out, lld.Options{}); err != nil {
			f.Fatalf("seed %s: %v", src, err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzLoadImage feeds arbitrary bytes to the execution oracle's image
// parsers (Detect, LoadImage, Regions) without executing anything: they
// must never panic, never allocate from untrusted sizes, and what they
// accept must satisfy the loader's bounds.
func FuzzLoadImage(f *testing.F) {
	for _, s := range execSeeds(f) {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0, 2, 0, 0, 0})
	f.Add([]byte("MZ"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = obj.DetectExecutable(data)
		img, err := exec.LoadImage(data)
		if err != nil {
			return
		}
		if len(img.Segments) == 0 || len(img.Segments) > exec.MaxSegments {
			t.Fatalf("accepted %d segments", len(img.Segments))
		}
		var total uint64
		for _, s := range img.Segments {
			if uint64(len(s.Data)) > s.MemSize {
				t.Fatalf("segment %s: %d file bytes > memory size %d", s.Name, len(s.Data), s.MemSize)
			}
			if s.Addr >= exec.UserTop || s.MemSize > exec.UserTop-s.Addr {
				t.Fatalf("segment %s outside the user address space", s.Name)
			}
			total += s.MemSize
		}
		if total > exec.MaxImageMemory {
			t.Fatalf("accepted %d bytes of segments", total)
		}
		var end uint64
		for i, r := range img.Regions() {
			if r.Addr%exec.PageSize != 0 || r.Size%exec.PageSize != 0 || r.Size == 0 {
				t.Fatalf("region %d %#x+%#x not page aligned", i, r.Addr, r.Size)
			}
			if r.Addr < end {
				t.Fatalf("region %d at %#x overlaps or is out of order", i, r.Addr)
			}
			end = r.Addr + r.Size
		}
	})
}
