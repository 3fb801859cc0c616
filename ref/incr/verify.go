package incr

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// verifyAgainstFile checks that a state read from a sidecar describes the
// output f (size bytes) before anything is written to it: the regions are
// where the image puts them and inside the file, every atom and trampoline
// is inside its region's used space, no two overlap, every GOT slot names
// a live atom and lies in the GOT's used space, and every relocated field
// of every atom in the file holds what the relocation computes from the
// state's addresses. A sidecar edited with its checksum recomputed
// (addresses shifted, slots swapped, capacities changed) fails here, and
// the caller links from scratch instead of patching a file it does not
// describe.
//
// f is a wholeFile when the output was read whole: the regions are then
// read in place.
func verifyAgainstFile(st *State, img Image, f io.ReaderAt, size int64) error {
	for i, n := range RegionOrder {
		if want := img.BaseAddr() + uint64(i)*regionSpan(img); st.Regions[n].Base != want {
			return fmt.Errorf("region %s at %#x, the format puts it at %#x", n, st.Regions[n].Base, want)
		}
	}
	fl := fileLayout(img, st)
	if fl.TailOff > uint64(size) {
		return fmt.Errorf("the regions end at file offset %#x, the file has %#x bytes", fl.TailOff, size)
	}
	type span struct {
		lo, hi uint64
		what   string
	}
	var spans []span
	for _, a := range st.Atoms {
		spans = append(spans, span{a.Addr, a.Addr + a.Slot, a.Name})
		if a.First != 0 {
			r := st.Regions[RegText]
			ts := st.arch.TrampolineSize()
			if a.Kind != obj.Text || ts == 0 || a.First < r.Base || a.First+ts > r.Base+r.High {
				return fmt.Errorf("trampoline of %s at %#x outside the used code", a.Name, a.First)
			}
			spans = append(spans, span{a.First, a.First + ts, "the trampoline of " + a.Name})
		}
	}
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].lo < spans[j].lo || spans[i].lo == spans[j].lo && spans[i].what < spans[j].what
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return fmt.Errorf("%s [%#x, %#x) overlaps %s [%#x, %#x)", spans[i].what, spans[i].lo, spans[i].hi, spans[i-1].what, spans[i-1].lo, spans[i-1].hi)
		}
	}
	got := st.Regions[RegGOT]
	if uint64(st.GOT.Len())*st.arch.PtrSize() > got.High {
		return fmt.Errorf("%d GOT slots, the GOT's used space holds %d", st.GOT.Len(), got.High/st.arch.PtrSize())
	}
	for i, s := range st.GOT.Slots {
		if s != "" && st.Atoms[s] == nil {
			return fmt.Errorf("GOT slot %d names %s, which is no atom", i, s)
		}
	}
	// Every relocated field, read from the file region by region.
	regions := map[string][]byte{}
	read := func(addr, n uint64) ([]byte, error) {
		for _, name := range RegionOrder {
			r := st.Regions[name]
			if name == RegBSS || addr < r.Base || addr+n > r.Base+r.High {
				continue
			}
			b, ok := regions[name]
			if !ok {
				if whole, isWhole := f.(wholeFile); isWhole && r.High <= uint64(len(whole)) && fl.Off[name] <= uint64(len(whole))-r.High {
					b = whole[fl.Off[name] : fl.Off[name]+r.High]
				} else {
					b = make([]byte, r.High)
					if _, err := f.ReadAt(b, int64(fl.Off[name])); err != nil && err != io.EOF {
						return nil, err
					}
				}
				regions[name] = b
			}
			return b[addr-r.Base : addr-r.Base+n], nil
		}
		return nil, fmt.Errorf("[%#x, +%#x) is in no region's used space", addr, n)
	}
	field := make([]byte, 8)
	var buf, hbuf []byte // an atom's bytes, the hash's input: reused
	for _, n := range sortedKeys(st.Atoms) {
		a := st.Atoms[n]
		// The atom's bytes, with its relocated fields cleared as the code
		// generator leaves them, must hash to what the state records: a
		// changed size, alignment, binding or swapped hash is caught.
		var data []byte
		if a.Kind != obj.BSS {
			b, err := read(a.Addr, a.Size)
			if err != nil {
				return fmt.Errorf("%s: %v", n, err)
			}
			buf = append(buf[:0], b...)
			data = buf
			for _, r := range a.Relocs {
				if end := r.Offset + uint64(r.Kind.Size()); end <= uint64(len(data)) {
					clear(data[r.Offset:end])
				}
			}
		}
		if hashAtomBuf(&obj.Atom{Name: n, Kind: a.Kind, Align: a.Align, Data: data, Size: a.Size, Relocs: a.Relocs, Local: a.Local}, &hbuf) != a.Hash {
			return fmt.Errorf("%s: its bytes in the file do not hash to what the state records", n)
		}
		if a.Kind == obj.BSS {
			continue
		}
		for _, r := range a.Relocs {
			w := uint64(r.Kind.Size())
			if r.Offset+w > a.Size {
				return fmt.Errorf("%s+%#x: relocation past the atom's %d bytes", n, r.Offset, a.Size)
			}
			have, err := read(a.Addr+r.Offset, w)
			if err != nil {
				return fmt.Errorf("%s+%#x: %v", n, r.Offset, err)
			}
			if err := st.applyReloc(r, a.Addr+r.Offset, field[:w]); err != nil {
				return fmt.Errorf("%s+%#x: %v", n, r.Offset, err)
			}
			if !bytes.Equal(have, field[:w]) {
				return fmt.Errorf("%s+%#x: the file holds % x, the state computes % x", n, r.Offset, have, field[:w])
			}
		}
	}
	return nil
}

// wholeFile is an output read whole, for verifyAgainstFile.
type wholeFile []byte

// ReadAt implements io.ReaderAt.
func (w wholeFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= int64(len(w)) {
		return 0, io.EOF
	}
	n := copy(p, w[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
