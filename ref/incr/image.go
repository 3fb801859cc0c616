package incr

import (
	"io"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Image is what a format supplies to the incremental core: where the
// regions start, how the file is aligned, and the bytes of everything that
// is not region contents (headers, symbol table, string tables, section
// headers, load commands, relocation lists). The core owns the file: it
// lays the regions out from HeaderSize on, each at a multiple of FileAlign
// and as large as its capacity (the .bss region takes no file space), puts
// the tail after the last region, and writes what the image returns.
type Image interface {
	// Format names the output format.
	Format() obj.Format
	// Arch is the instruction set of the code the image holds.
	Arch() arch.Arch
	// BaseAddr is the address of the first region; the others follow at
	// RegionSpan intervals (or the image's own, RegionSpanner).
	BaseAddr() uint64
	// HeaderSize is the room at the start of the file for the headers: the
	// first region's file offset.
	HeaderSize() uint64
	// FileAlign is the alignment of every region's file offset and of its
	// size in the file.
	FileAlign() uint64
	// Tail lays out and encodes what follows the regions for the state,
	// from file offset fl.TailOff on.
	Tail(st *State, fl *FileLayout) (Tail, error)
}

// RegionSpanner is implemented by an image whose regions must sit closer
// than RegionSpan apart (an emulator that maps a bounded image, say).
type RegionSpanner interface {
	RegionSpan() uint64
}

// PointerLister is implemented by an image whose tail lists the absolute
// pointer sites (Mach-O rebase information, PE base relocations): the
// tail is then rewritten whenever an update adds, moves or removes one
// (Patch.Pointers).
type PointerLister interface {
	ListsPointers() bool
}

// HeaderSizer is implemented by an image whose headers grow with the
// program (Wasm's function and element sections list every function): the
// room before the first region is HeaderSizeFor(st) instead of HeaderSize.
// It may depend only on region capacities, so that it changes only when a
// region grows (and the regions are moved anyway).
type HeaderSizer interface {
	HeaderSizeFor(st *State) uint64
}

// Indexer is implemented by an image with indexed regions
// (Region.Indexed): Wasm's Code section, whose i-th body is function i.
type Indexer interface {
	IndexedRegion(name string) bool
}

// WholeTail is implemented by a Tail some of whose symbol entries cannot be
// patched in place (Wasm's name section, in function index order): when
// Symbol reports false for a changed symbol, the tail is rewritten whole
// (an empty chunk is a symbol with nothing to patch).
type WholeTail interface {
	WholeTail()
}

// FileTail is implemented by a Tail that reads the output's regions to
// make its headers (Wasm's element segment copies the table's cells, the
// GOT region): the Output hands it the file before asking for them.
type FileTail interface {
	SetFile(f io.ReaderAt)
}

// headerSize is the room of img's headers for st.
func headerSize(img Image, st *State) uint64 {
	if h, ok := img.(HeaderSizer); ok {
		return h.HeaderSizeFor(st)
	}
	return img.HeaderSize()
}

// regionSpan is img's distance between region bases.
func regionSpan(img Image) uint64 {
	if s, ok := img.(RegionSpanner); ok && s.RegionSpan() > 0 {
		return s.RegionSpan()
	}
	return RegionSpan
}

// listsPointers reports whether img's tail lists pointer sites.
func listsPointers(img Image) bool {
	p, ok := img.(PointerLister)
	return ok && p.ListsPointers()
}

// Tail is what an Image wrote after the regions, kept by the Output so that
// an update that changes only symbol addresses and sizes patches entries in
// place instead of rewriting it.
type Tail interface {
	// Bytes returns the tail, written at FileLayout.TailOff; the file ends
	// after it.
	Bytes() []byte
	// Headers returns the positioned writes that depend on region sizes,
	// the entry point and the places of the tail's tables, but not on the
	// symbol set: the file header at offset 0, and section headers where
	// the format keeps them.
	Headers(st *State, fl *FileLayout) ([]Chunk, error)
	// Symbol returns the write that updates the symbol table entry of the
	// atom name in place (its index is stable while the symbol set is),
	// false when it has none.
	Symbol(st *State, name string) (Chunk, bool)
}

// Chunk is bytes at a file offset.
type Chunk struct {
	Off  uint64
	Data []byte
}

// FileLayout is where the regions are in the file, derived from their
// capacities.
type FileLayout struct {
	// Off is each region's file offset (the .bss region's is where it
	// would start: it has no bytes in the file).
	Off map[string]uint64
	// Size is each region's size in the file (capacity rounded up to the
	// file alignment; 0 for .bss).
	Size map[string]uint64
	// TailOff is the first byte after the last region.
	TailOff uint64
}

// fileLayout lays out the regions of st for img.
func fileLayout(img Image, st *State) *FileLayout {
	fl := &FileLayout{Off: make(map[string]uint64, len(RegionOrder)), Size: make(map[string]uint64, len(RegionOrder))}
	off := alignUp(headerSize(img, st), img.FileAlign())
	for _, n := range RegionOrder {
		fl.Off[n] = off
		if n == RegBSS {
			continue
		}
		fl.Size[n] = alignUp(st.Regions[n].Cap, img.FileAlign())
		off += fl.Size[n]
	}
	fl.TailOff = off
	return fl
}
