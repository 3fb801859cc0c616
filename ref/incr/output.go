package incr

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Options configure an Output.
type Options struct {
	// Policy is how callers reach moved functions (default Trampoline).
	Policy Policy
	// Faults plants deliberate defects in the updates of the state and in
	// the file writes (fault-injection tests only).
	Faults fault.Set
}

// Output is an executable kept up to date in place by the incremental
// linker: the State, the File it describes and the Image of its format.
// An Output on disk keeps its state in a sidecar file (path +
// SidecarSuffix) between processes; one in memory (NewMemOutput) has none.
type Output struct {
	// Path is the output's path ("" in memory).
	Path  string
	State *State
	// Last holds the statistics of the last update.
	Last Stats

	img    Image
	f      File
	fl     *FileLayout
	faults fault.Set
	// tail is the tail as last written, for in-place symbol patches; nil
	// when unknown (an output opened from disk).
	tail Tail
}

// Create links prog from scratch into a new output at path (written to a
// temporary file and renamed into place, so a failed link leaves no
// output) and writes the sidecar.
func Create(path string, img Image, prog *obj.Program, source string, opts Options) (*Output, error) {
	// Refuse before writing anything: neither the output nor its sidecar
	// may replace something that is not a regular file.
	for _, p := range []string{path, path + SidecarSuffix} {
		if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w", p, ErrBadPath)
		}
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return nil, err
	}
	o, err := create(f, img, prog, source, opts)
	if err == nil {
		o.Path = path
		err = os.Rename(tmp, path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := o.SaveSidecar(); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// NewMemOutput links prog from scratch into an output held in memory: the
// in-process session of fuzz targets and tests, with no sidecar and no
// file system (Bytes returns the file).
func NewMemOutput(img Image, prog *obj.Program, source string, opts Options) (*Output, error) {
	return create(&MemFile{}, img, prog, source, opts)
}

func create(f File, img Image, prog *obj.Program, source string, opts Options) (*Output, error) {
	if prog.Format != img.Format() {
		return nil, fmt.Errorf("incr: program for %s, output is %s", prog.Format, img.Format())
	}
	policy := opts.Policy
	if policy == "" {
		policy = Trampoline
	}
	st := newState(img.Format(), img.Arch(), img.BaseAddr(), regionSpan(img), policy)
	if ix, ok := img.(Indexer); ok {
		for _, n := range RegionOrder {
			st.Regions[n].Indexed = ix.IndexedRegion(n)
		}
	}
	st.Source = source
	// A link from scratch has no previous layout to get wrong: faults
	// apply to later updates only.
	pt, err := st.Update(prog)
	if err != nil {
		return nil, err
	}
	st.faults = opts.Faults
	o := &Output{State: st, Last: pt.Stats, img: img, f: f, faults: opts.Faults}
	o.fl = fileLayout(img, st)
	if err := f.Truncate(0); err != nil {
		return nil, err
	}
	if m, ok := f.(*MemFile); ok {
		// Room for the regions, the tail and later growth at once.
		var end uint64
		for _, n := range RegionOrder {
			if n != RegBSS {
				end = max(end, o.fl.Off[n]+o.fl.Size[n])
			}
		}
		m.reserve(int64(end + end/4))
	}
	for _, n := range RegionOrder {
		if n == RegBSS {
			continue
		}
		if err := o.writeFill(n, o.fl.Size[n], o.fl.Off[n]); err != nil {
			return nil, err
		}
	}
	if err := o.apply(pt.Writes); err != nil {
		return nil, err
	}
	if err := o.writeTail(); err != nil {
		return nil, err
	}
	return o, nil
}

// Bytes returns the contents of an output held in memory, nil for one on
// disk.
func (o *Output) Bytes() []byte {
	if m, ok := o.f.(*MemFile); ok {
		return m.Bytes()
	}
	return nil
}

// Image returns the output's format image.
func (o *Output) Image() Image { return o.img }

// Update brings the output to prog in place: positioned writes of what
// changed, file contents moved when a region grew, headers and symbols
// rewritten when they changed. An output on disk saves its sidecar
// afterwards.
func (o *Output) Update(prog *obj.Program, source string) (*Patch, error) {
	if prog.Format != o.State.Format {
		return nil, fmt.Errorf("incr: program for %s, output is %s", prog.Format, o.State.Format)
	}
	changed, deleted := o.State.Changes(prog)
	pt, err := o.UpdateAtoms(changed, deleted)
	if err != nil {
		return nil, err
	}
	pt.Stats.Unchanged += len(prog.Atoms) - len(changed)
	o.Last = pt.Stats
	o.State.Source = source
	if o.Path == "" {
		return pt, nil
	}
	return pt, o.SaveSidecar()
}

// UpdateAtoms applies a change set (State.UpdateAtoms: atoms compiled
// anew, names deleted) with positioned writes. When only symbol addresses
// or sizes changed and the tail is known, it patches those symbol table
// entries and the headers in place, a constant amount; the whole tail is
// rewritten when the symbol set changed or a region grew. The sidecar is
// not saved (SaveSidecar does, before the output is handed to another
// process).
func (o *Output) UpdateAtoms(changed []*obj.Atom, deleted []string) (*Patch, error) {
	oldOff := o.fl
	oldHigh := make(map[string]uint64, len(o.State.Regions))
	for n, r := range o.State.Regions {
		oldHigh[n] = r.High
	}
	pt, err := o.State.UpdateAtoms(changed, deleted)
	if err != nil {
		return nil, err
	}
	o.Last = pt.Stats
	if len(pt.Grown) > 0 {
		if o.faults.Has(fault.GrowWithoutMove) {
			o.fl = fileLayout(o.img, o.State)
		} else if err := o.relayout(oldOff, oldHigh); err != nil {
			return nil, err
		}
	}
	if err := o.apply(pt.Writes); err != nil {
		return nil, err
	}
	symbols := pt.Symbols && !o.faults.Has(fault.StaleSymbols)
	switch {
	case len(pt.Grown) > 0 || pt.SymbolSet || (symbols && o.tail == nil) || (pt.Pointers && listsPointers(o.img) && !o.faults.Has(fault.StalePointerList)):
		err = o.writeTail()
	case symbols:
		err = o.patchSymbols(pt.SymbolsChanged)
	case highMoved(o.State.Regions, oldHigh):
		// A region's used size changed with no symbol change (a GOT
		// slot acquired for an existing symbol): the section sizes in
		// the headers follow it.
		err = o.rewriteHeaders(!pt.Symbols)
	}
	return pt, err
}

// rewriteHeaders writes the headers for the current state. Without a
// known tail (after Open) it lays the tail out to compute them but writes
// only the headers; current says the file's tail bytes are that layout's
// (no symbol changed), so it becomes the known tail.
func (o *Output) rewriteHeaders(current bool) error {
	if o.tail != nil {
		return o.writeHeaders(o.tail)
	}
	t, err := o.newTail()
	if err != nil {
		return err
	}
	if err := o.writeHeaders(t); err != nil {
		return err
	}
	if current {
		o.tail = t
	}
	return nil
}

// highMoved reports whether any region's High differs from old.
func highMoved(regions map[string]*Region, old map[string]uint64) bool {
	for n, r := range regions {
		if r.High != old[n] {
			return true
		}
	}
	return false
}

// writeFill writes n bytes of region name's free space at file offset
// off: in place in a MemFile.
func (o *Output) writeFill(name string, n, off uint64) error {
	m, ok := o.f.(*MemFile)
	if !ok {
		_, err := o.f.WriteAt(o.regionFill(name, n), int64(off))
		return err
	}
	end := int64(off + n)
	if end > int64(len(m.data)) {
		m.grow(end)
	}
	b := m.data[off:end]
	fill := byte(0)
	if name == RegText {
		fill = o.State.arch.CodeFill()
	}
	if fill == 0 || len(b) == 0 {
		clear(b)
		return nil
	}
	b[0] = fill
	for k := 1; k < len(b); k *= 2 {
		copy(b[k:], b[:k])
	}
	return nil
}

// regionFill is n bytes of free space of region name.
func (o *Output) regionFill(name string, n uint64) []byte {
	if name == RegText {
		return bytes.Repeat([]byte{o.State.arch.CodeFill()}, int(n))
	}
	return make([]byte, n)
}

// relayout moves region contents to their new file offsets after growth,
// last region first so nothing is overwritten before it is moved, and fills
// the new capacity. oldHigh is each region's used space before the update.
func (o *Output) relayout(old *FileLayout, oldHigh map[string]uint64) error {
	fl := fileLayout(o.img, o.State)
	for i := len(RegionOrder) - 1; i >= 0; i-- {
		n := RegionOrder[i]
		if n == RegBSS {
			continue
		}
		// Only the space used before the update moves: past it a region
		// holds free space (and what an image keeps there, its own
		// framing, is written again with the headers); what the update
		// places beyond it is in its writes.
		used := min(old.Size[n], oldHigh[n])
		buf := make([]byte, used)
		if _, err := o.f.ReadAt(buf, int64(old.Off[n])); err != nil && err != io.EOF {
			return fmt.Errorf("incr: moving region %s: %w", n, err)
		}
		if fl.Size[n] > used {
			buf = append(buf, o.regionFill(n, fl.Size[n]-used)...)
		}
		if _, err := o.f.WriteAt(buf, int64(fl.Off[n])); err != nil {
			return fmt.Errorf("incr: moving region %s: %w", n, err)
		}
	}
	o.fl = fl
	return nil
}

// apply performs positioned writes of virtual-address patches.
func (o *Output) apply(ws []Write) error {
	for _, w := range ws {
		off, err := o.offsetOf(w.Addr, uint64(len(w.Data)))
		if err != nil {
			return err
		}
		if _, err := o.f.WriteAt(w.Data, int64(off)); err != nil {
			return err
		}
	}
	return nil
}

// offsetOf maps [addr, addr+n) to the file.
func (o *Output) offsetOf(addr, n uint64) (uint64, error) {
	for _, name := range RegionOrder {
		r := o.State.Regions[name]
		if addr >= r.Base && addr+n <= r.Base+r.Cap {
			if name == RegBSS {
				return 0, fmt.Errorf("incr: write of %d bytes at %#x in .bss", n, addr)
			}
			return o.fl.Off[name] + (addr - r.Base), nil
		}
	}
	return 0, fmt.Errorf("incr: write of %d bytes at %#x outside every region", n, addr)
}

// writeTail has the image lay out and encode the tail, writes it and the
// headers, and truncates the file after it.
func (o *Output) writeTail() error {
	t, err := o.newTail()
	if err != nil {
		return err
	}
	b := t.Bytes()
	if _, err := o.f.WriteAt(b, int64(o.fl.TailOff)); err != nil {
		return err
	}
	if err := o.writeHeaders(t); err != nil {
		return err
	}
	o.tail = t
	return o.f.Truncate(int64(o.fl.TailOff) + int64(len(b)))
}

// newTail has the image lay out and encode the tail for the current state.
func (o *Output) newTail() (Tail, error) {
	t, err := o.img.Tail(o.State, o.fl)
	if err != nil {
		return nil, fmt.Errorf("incr: %s tail: %w", o.img.Format(), err)
	}
	if ft, ok := t.(FileTail); ok {
		ft.SetFile(o.f)
	}
	return t, nil
}

// writeHeaders writes the headers of tail t for the current state.
func (o *Output) writeHeaders(t Tail) error {
	hs, err := t.Headers(o.State, o.fl)
	if err != nil {
		return fmt.Errorf("incr: %s headers: %w", o.img.Format(), err)
	}
	for _, h := range hs {
		if _, err := o.f.WriteAt(h.Data, int64(h.Off)); err != nil {
			return err
		}
	}
	return nil
}

// patchSymbols rewrites the symbol table entries of the named atoms, and
// the headers (entry, section sizes), in place.
func (o *Output) patchSymbols(names []string) error {
	_, whole := o.tail.(WholeTail)
	for _, n := range names {
		c, ok := o.tail.Symbol(o.State, n)
		if !ok && whole {
			return o.writeTail()
		}
		if !ok {
			return fmt.Errorf("incr: symbol %s has no symbol table entry", n)
		}
		if len(c.Data) == 0 {
			continue
		}
		if _, err := o.f.WriteAt(c.Data, int64(c.Off)); err != nil {
			return err
		}
	}
	return o.writeHeaders(o.tail)
}

// Close closes the output file.
func (o *Output) Close() error { return o.f.Close() }
