package pipeline

import (
	"bytes"
	"debug/elf"
	"fmt"
)

// LoadedKey names the check of SameLoadedELF in failure reports.
const LoadedKey = "image.loaded"

// elfHeaderUnloaded are the ELF header fields that describe what is not
// loaded (the section header table: e_shoff, e_shnum, e_shstrndx), as
// byte ranges of the header: the one part of the first segment in which
// two linkers' equal images may differ.
var elfHeaderUnloaded = [][2]int{{40, 48}, {60, 62}, {62, 64}}

// SameLoadedELF checks that two ELF x86_64 executables load the same
// bytes: the same program headers, and the same file bytes in every
// PT_LOAD segment, ELF header included but for the fields that describe
// the section header table, which is not loaded. The reference linker
// lays out a static executable exactly as ld.lld does, so its loaded
// image is ld.lld's byte for byte; unlike the canonical diff, which sees
// through indirections (a call through a GOT slot and the same call
// relaxed compare equal), this names any byte a linker wrote differently.
// The error names the segment, the file offset, the address and the
// section of a (ld.lld's side) that holds the first differing byte.
func SameLoadedELF(a, b []byte) error {
	fa, err := elf.NewFile(bytes.NewReader(a))
	if err != nil {
		return fmt.Errorf("%s: side A: %w", LoadedKey, err)
	}
	fb, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: side B: %w", LoadedKey, err)
	}
	// Bytes first, segment by segment at the same address, so that the
	// report names the first byte written differently; then the headers.
	for i, p := range fa.Progs {
		pa := p.ProgHeader
		if pa.Type != elf.PT_LOAD {
			continue
		}
		var pb *elf.ProgHeader
		for _, q := range fb.Progs {
			if q.Type == elf.PT_LOAD && q.Vaddr == pa.Vaddr {
				pb = &q.ProgHeader
				break
			}
		}
		if pb == nil {
			return fmt.Errorf("%s: segment %d (%s) at %#x: the other side has no segment there", LoadedKey, i, pa.Flags, pa.Vaddr)
		}
		n := min(pa.Filesz, pb.Filesz)
		sa, err := segmentBytes(a, pa, n)
		if err != nil {
			return err
		}
		sb, err := segmentBytes(b, *pb, n)
		if err != nil {
			return err
		}
		if bytes.Equal(sa, sb) {
			continue
		}
		k := 0
		for sa[k] == sb[k] {
			k++
		}
		addr := pa.Vaddr + uint64(k)
		where := "no section"
		for _, s := range fa.Sections {
			if s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr-s.Addr < s.Size {
				where = fmt.Sprintf("%s+%#x", s.Name, addr-s.Addr)
				break
			}
		}
		if pa.Off == 0 && k < 64 {
			where = "ELF header"
		}
		hi := min(k+8, len(sa))
		return fmt.Errorf("%s: segment %d (%s) differs at file offset %#x, address %#x (%s): % x, the other side has % x",
			LoadedKey, i, pa.Flags, pa.Off+uint64(k), addr, where, sa[k:hi], sb[k:hi])
	}
	if len(fa.Progs) != len(fb.Progs) {
		return fmt.Errorf("%s: %d program headers, the other side has %d", LoadedKey, len(fa.Progs), len(fb.Progs))
	}
	for i := range fa.Progs {
		if pa, pb := fa.Progs[i].ProgHeader, fb.Progs[i].ProgHeader; pa != pb {
			return fmt.Errorf("%s: program header %d (%s): %+v, the other side has %+v", LoadedKey, i, pa.Type, pa, pb)
		}
	}
	return nil
}

// segmentBytes returns the first n file bytes of segment p of file d, the
// ELF header fields of elfHeaderUnloaded cleared when the segment starts
// the file.
func segmentBytes(d []byte, p elf.ProgHeader, n uint64) ([]byte, error) {
	end := p.Off + n
	if end > uint64(len(d)) || end < p.Off {
		return nil, fmt.Errorf("%s: segment at %#x: file range %#x..%#x past the end of the file", LoadedKey, p.Vaddr, p.Off, end)
	}
	out := bytes.Clone(d[p.Off:end])
	if p.Off == 0 {
		for _, r := range elfHeaderUnloaded {
			if uint64(r[1]) <= n {
				clear(out[r[0]:r[1]])
			}
		}
	}
	return out, nil
}
