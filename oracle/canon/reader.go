package canon

import (
	"fmt"
	"sort"
	"sync"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The neutral reader: from a loaded file (file.go) and the input objects
// to the canonical image. Nothing here depends on the file format; the
// instruction set is behind the file's decoder (decode.go).

// Bounds on untrusted input.
const (
	maxSymbols    = 1 << 20
	maxSites      = 1 << 22
	maxNotes      = 200
	maxChain      = 8       // indirection hops followed from one operand
	maxCandidates = 64      // overlapping symbols examined per address lookup
	decodeFactor  = 4       // decoded bytes may be at most this many times the file size
	decodeSlack   = 1 << 20 // ... plus this
	maxErrNames   = 1 << 20 // error table entries
)

// reader holds the state of one readFile call.
type reader struct {
	tls     *tlsBlock // the file's TLS block (file.tls)
	format  string
	decoder decoder
	secs    []*section // allocated sections, sorted by addr
	syms    []*Symbol  // every canonical symbol
	ranges  []*Symbol  // non-synthetic symbols with an extent, sorted by addr
	// rangeEnd[j] is the highest end of the extents of ranges[:j+1]
	// (sortRanges): a lookup going down the ranges stops where it is
	// at or below the address.
	rangeEnd []uint64
	starts   map[uint64][]*Symbol
	// startSlab is where addStart cuts the lists of starts from.
	startSlab []*Symbol
	// sites collects the pointer fields (address, relocation kind and
	// addend) while the file is read; siteList is them sorted by address,
	// one per address.
	sites    siteSet
	siteList []site
	budget   int // bytes that may be decoded
	// input is what the input objects say about data without symbols
	// (merged strings and constants); nil without objects.
	input *inputData
	// inputBSS are the names the input objects define once, in a BSS
	// section, for a file with mergedBSS; nil otherwise.
	inputBSS map[string]bool
	notes    []string
	dropped  int
	// names caches the names of addresses in no symbol (merged strings
	// and constants), which are built from the bytes; guarded by mu, as
	// functions may be decoded concurrently.
	mu    sync.Mutex
	names map[uint64]cachedName
}

// cachedName is nameAt's answer for an address in no symbol.
type cachedName struct {
	name string
	off  int64
	ok   bool
}

func (r *reader) note(format string, args ...any) {
	if len(r.notes) >= maxNotes {
		r.dropped++
		return
	}
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// readFile canonicalizes a loaded executable. objs are the input objects
// it was linked from, nil when unknown (see ReadELF).
// With lazy set, functions whose size is known are left undecoded (see
// Open).
func readFile(f *file, objs []*obj.Object, lazy bool) (*Image, error) {
	r := &reader{
		format:  f.format,
		decoder: f.decoder,
		starts:  map[uint64][]*Symbol{},
		budget:  decodeFactor*f.size + decodeSlack,
	}
	r.tls = &f.tls
	im := &Image{Format: f.format}
	r.readSections(f, im)
	r.readSymbols(f, objs)
	switch {
	case len(objs) > 0:
		im.PointerSource = PointersFromObjects
		r.objectSites(objs)
		r.input = collectInputData(objs)
		r.locateAnon(objs)
	default:
		for _, n := range f.siteNotes {
			r.note("%s", n)
		}
		im.PointerSource = PointersUnknown
		if f.ownSource != "" {
			im.PointerSource = f.ownSource
			for _, s := range f.ownSites {
				r.sites.add(site{addr: s.addr, kind: s.kind})
			}
		}
	}
	r.siteList = r.sites.list()

	if err := r.checkBudget(); err != nil {
		return nil, err
	}
	var fn Func
	for _, s := range r.syms {
		if s.ext == 0 {
			continue
		}
		if !s.IsCode() {
			r.readData(s)
			continue
		}
		if lazy && !s.SizeInferred {
			continue // decoded on demand (Image.Decode); its size is final
		}
		code := r.codeOf(s, r.note)
		r.decodeInto(s, code, &fn, nil, nil)
		for _, n := range fn.notes {
			r.note("%s", n)
		}
		r.dropped += fn.dropped
		if fn.padding > 0 {
			s.Padding = fn.padding
			s.Size -= fn.padding
		}
		if !lazy {
			s.Insns = fn.Insns()
		}
	}
	r.readFrames(im)
	im.Entry = r.symbolize(f.entry)
	im.Symbols = r.syms
	sort.Slice(im.Symbols, func(i, j int) bool { return im.Symbols[i].Name < im.Symbols[j].Name })
	if s := im.Lookup(ErrTabSymbol); s != nil {
		im.ErrTab = r.errTab(s)
	}
	sort.Strings(r.notes)
	if r.dropped > 0 {
		r.notes = append(r.notes, fmt.Sprintf("(%d more notes dropped)", r.dropped))
	}
	im.Notes = r.notes
	if lazy {
		im.r, im.lazy = r, true
	}
	return im, nil
}

// readSections lists f's sections in the image, by name, and for address
// lookups by address.
func (r *reader) readSections(f *file, im *Image) {
	for _, s := range f.sections {
		r.secs = append(r.secs, s)
		im.Sections = append(im.Sections, Section{Name: s.name, Flags: s.flags})
	}
	sort.SliceStable(r.secs, func(i, j int) bool { return r.secs[i].addr < r.secs[j].addr })
	sort.SliceStable(im.Sections, func(i, j int) bool {
		if im.Sections[i].Name != im.Sections[j].Name {
			return im.Sections[i].Name < im.Sections[j].Name
		}
		return im.Sections[i].Flags < im.Sections[j].Flags
	})
}

// sectionAt returns the allocated section holding addr, or nil.
func (r *reader) sectionAt(addr uint64) *section {
	i := sort.Search(len(r.secs), func(i int) bool { return r.secs[i].addr > addr })
	// Sections may overlap in a corrupt file; look back a few.
	for j := i - 1; j >= 0 && j >= i-maxCandidates; j-- {
		if r.secs[j].contains(addr) {
			return r.secs[j]
		}
	}
	return nil
}

// bytesAt returns n file bytes at addr, or nil when they are not all in one
// section with file contents.
func (r *reader) bytesAt(addr uint64, n uint64) []byte {
	s := r.sectionAt(addr)
	if s == nil || s.nobits {
		return nil
	}
	off := addr - s.addr
	if s.size-off < n {
		return nil
	}
	return s.data[off : off+n]
}

// tpoffRef names the TLS variable at TP offset v (tlsBlock.name).
func (r *reader) tpoffRef(v int64) ref { return r.tls.name(v) }
