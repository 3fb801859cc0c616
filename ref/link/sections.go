package link

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/par"
)

// outKey identifies an output section: the platform's name and the kind.
type outKey struct {
	name string
	kind obj.SectionKind
}

// mergeKey identifies a group of SHF_MERGE input sections whose pieces are
// deduplicated together, as ld.lld groups them: same output section, same
// entry size, strings or not, same alignment.
type mergeKey struct {
	out     int
	entSize uint64
	strings bool
	align   uint64
}

// mergeGroup is a merged chunk under construction.
type mergeGroup struct {
	out   int
	chunk int
	data  []byte
	seen  map[string]uint64
	align uint64
}

// assignSections collects input sections into output sections in input
// order. Output sections are created in order of first appearance; the
// layout phase then sorts them by rank. Each input section becomes a chunk
// at its aligned offset, except that SHF_MERGE sections without
// relocations are split into pieces (NUL-terminated strings, or EntSize
// entries) and equal pieces of one group are stored once, in a merged
// chunk that sits where the group's first section would have.
func (l *Layout) assignSections(p Platform, opts Options) error {
	ehInputs, err := l.placeInputs(p, opts)
	if err != nil {
		return err
	}
	return l.finishSections(p, opts, ehInputs)
}

// placeInputs is the part of assignSections that does not read the symbol
// table: every input section but .eh_frame's placed in its output section
// (chunks, merged pieces). It returns the .eh_frame inputs, (object,
// section), for finishSections.
func (l *Layout) placeInputs(p Platform, opts Options) ([][2]int32, error) {
	var keys []outKey // few: searched linearly, then by map
	byKey := make(map[outKey]int)
	lookup := func(k outKey) (int, bool) {
		if len(keys) <= 16 {
			for i, x := range keys {
				if x == k {
					return i, true
				}
			}
			return 0, false
		}
		i, ok := byKey[k]
		return i, ok
	}
	// Pass 1: the output section of every input section, and the number
	// of chunks of each, so that chunk lists are allocated once.
	l.Placements = make([][]Placement, len(l.Objects))
	var counts []int
	var ehInputs [][2]int32
	for oi, o := range l.Objects {
		pls := make([]Placement, len(o.Sections))
		l.Placements[oi] = pls
		for si, s := range o.Sections {
			if s.EHFrame {
				ehInputs = append(ehInputs, [2]int32{int32(oi), int32(si)})
				continue // merged into one synthesized .eh_frame (ehframe.go)
			}
			key := outKey{p.OutputSectionName(s), s.Kind}
			idx, ok := lookup(key)
			if !ok {
				idx = len(keys)
				keys = append(keys, key)
				byKey[key] = idx
				counts = append(counts, 0)
				l.Sections = append(l.Sections, &Section{Name: key.name, Kind: s.Kind, Align: 1, Merge: s.Merge, Strings: s.Strings, EntSize: s.EntSize, Note: s.Note})
			}
			if s.TLS {
				l.Sections[idx].TLS = true
			}
			if s.Writable {
				l.Sections[idx].Writable = true
			}
			if s.ArrayType != 0 {
				l.Sections[idx].ArrayType = s.ArrayType
			}
			if out := l.Sections[idx]; out.Note && !s.Note {
				out.Note = false
			}
			if out := l.Sections[idx]; counts[idx] == 0 {
				out.ReadOnly, out.Exec = s.ReadOnly, s.Exec
			} else {
				out.ReadOnly = out.ReadOnly && s.ReadOnly
				out.Exec = out.Exec && s.Exec
			}
			if out := l.Sections[idx]; out.Merge && (!s.Merge || s.Strings != out.Strings || s.EntSize != out.EntSize) {
				out.Merge, out.Strings, out.EntSize = false, false, 0
			}
			pls[si].Out = int32(idx)
			counts[idx]++
		}
	}
	for i, s := range l.Sections {
		s.Chunks = make([]Chunk, 0, counts[i])
	}
	merges := make(map[mergeKey]*mergeGroup)
	var errs []error
	for oi, o := range l.Objects {
		pls := l.Placements[oi]
		for si, s := range o.Sections {
			if s.EHFrame {
				continue
			}
			idx := int(pls[si].Out)
			out := l.Sections[idx]
			out.Align = max(out.Align, s.Align)
			if s.Merge && !opts.NoMergeStrings && len(s.Relocs) == 0 {
				mk := mergeKey{idx, s.EntSize, s.Strings, s.Align}
				g := merges[mk]
				if g == nil {
					g = &mergeGroup{out: idx, chunk: len(out.Chunks), seen: make(map[string]uint64), align: s.Align}
					merges[mk] = g
					out.Chunks = append(out.Chunks, Chunk{Obj: -1, Sec: -1, Align: s.Align})
				}
				pieces, err := g.add(s)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s:(%s): %w", o.Name, s.Name, err))
					continue
				}
				pls[si].Pieces = pieces
				pls[si].Chunk = int32(g.chunk)
				continue
			}
			pls[si].Chunk = int32(len(out.Chunks))
			out.Chunks = appendChunk(out.Chunks, int32(oi), int32(si), s.Size, s.Align)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, g := range merges {
		c := &l.Sections[g.out].Chunks[g.chunk]
		c.Data = g.data
		c.Size = uint64(len(g.data))
		if c.Data == nil {
			c.Data = []byte{}
		}
	}
	return ehInputs, nil
}

// finishSections ends assignSections after placeInputs: the .eh_frame
// inputs merged (which reads the symbol table), RELRO marked, inputs
// sorted, chunk offsets and section sizes.
func (l *Layout) finishSections(p Platform, opts Options, ehInputs [][2]int32) error {
	if len(ehInputs) > 0 {
		// Synthesized after every input section, as ld.lld adds its
		// synthetic sections: the output .eh_frame comes after the
		// other read-only sections of its rank.
		if err := l.mergeEHFrames(p, ehInputs, opts); err != nil {
			return err
		}
	}
	if rn, ok := p.(RelroNamer); ok {
		for _, s := range l.Sections {
			s.Relro = rn.RelroSection(s)
		}
	}
	if io, ok := p.(InputOrderer); ok {
		l.sortInputs(io)
	}
	for _, s := range l.Sections {
		var off uint64
		for ci := range s.Chunks {
			c := &s.Chunks[ci]
			off = alignUp(off, c.Align)
			c.Off = off
			off += c.Size
		}
		s.Size = off
	}
	return nil
}

// appendChunk appends the chunk of input section (oi, si) to cs, whose
// capacity (allocated in assignSections' first pass, zero past its
// length) it fits in: by plain stores only, as no pointer field is set
// (see newSymbol).
func appendChunk(cs []Chunk, oi, si int32, size, align uint64) []Chunk {
	n := len(cs)
	if n == cap(cs) {
		return append(cs, Chunk{Obj: oi, Sec: si, Size: size, Align: align})
	}
	cs = cs[:n+1]
	c := &cs[n]
	c.Obj, c.Sec, c.Off, c.Size, c.Align = oi, si, 0, size, align
	return cs
}

// add splits s into pieces, appends the pieces not seen before to the
// group and returns the piece map of s.
func (g *mergeGroup) add(s *obj.Section) ([]Piece, error) {
	d := s.Data
	es := s.EntSize
	if es == 0 {
		es = 1
	}
	if uint64(len(d))%es != 0 {
		return nil, fmt.Errorf("SHF_MERGE section size (%d) must be a multiple of sh_entsize (%d)", len(d), es)
	}
	pieces := make([]Piece, 0, 8)
	for start := uint64(0); start < uint64(len(d)); {
		end := start + es
		if s.Strings {
			end = nulEnd(d, start, es)
			if end == 0 {
				return nil, errors.New("string is not null terminated")
			}
		}
		piece := d[start:end]
		outOff, ok := g.seen[string(piece)]
		if !ok {
			n := alignUp(uint64(len(g.data)), g.align)
			for uint64(len(g.data)) < n {
				g.data = append(g.data, 0)
			}
			outOff = n
			g.data = append(g.data, piece...)
			g.seen[string(piece)] = outOff
		}
		pieces = append(pieces, Piece{InOff: start, OutOff: outOff})
		start = end
	}
	return pieces, nil
}

// nulEnd returns the end (past the terminator) of the string of es-byte
// characters starting at start, or 0 when it is not terminated.
func nulEnd(d []byte, start, es uint64) uint64 {
	if es == 1 {
		i := bytes.IndexByte(d[start:], 0)
		if i < 0 {
			return 0
		}
		return start + uint64(i) + 1
	}
	for i := start; i+es <= uint64(len(d)); i += es {
		zero := true
		for _, b := range d[i : i+es] {
			if b != 0 {
				zero = false
				break
			}
		}
		if zero {
			return i + es
		}
	}
	return 0
}

// sortInputs orders the chunks of every output section whose input
// sections the platform sorts (InputOrderer), stably, and updates the
// placements.
func (l *Layout) sortInputs(io InputOrderer) {
	// Each output section on its own (they share no input section, so no
	// placement), in parallel.
	_ = par.Each(len(l.Sections), func(i int) error {
		l.sortSectionInputs(io, l.Sections[i])
		return nil
	})
}

// sortSectionInputs is sortInputs for output section s.
func (l *Layout) sortSectionInputs(io InputOrderer, s *Section) {
	sorted := false
	key := make([]int, len(s.Chunks))
	for ci, c := range s.Chunks {
		if c.Obj < 0 {
			continue
		}
		if k, ok := io.InputPriority(l.Objects[c.Obj].Sections[c.Sec]); ok {
			key[ci], sorted = k, true
		}
	}
	if !sorted {
		return
	}
	idx := make([]int, len(s.Chunks))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return key[idx[a]] < key[idx[b]] })
	chunks := make([]Chunk, len(s.Chunks))
	for to, from := range idx {
		chunks[to] = s.Chunks[from]
		if c := chunks[to]; c.Obj >= 0 {
			l.Placements[c.Obj][c.Sec].Chunk = int32(to)
		}
	}
	s.Chunks = chunks
}
