package elf

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The incremental output's file layout: the ELF header and program headers
// in the first page, then the regions of incr.RegionOrder (but .bss) at
// page-aligned file offsets, each as large as its capacity, then the symbol
// table, string tables and section headers, rewritten when symbols change.
const (
	incrPage    = 0x1000
	incrHdrSize = incrPage
	numPhdrs    = 6 // PT_LOAD per region + PT_GNU_STACK
)

// Section header indexes of the incremental output.
const (
	shText = 1 + iota
	shROData
	shData
	shGOT
	shBSS
	shSymtab
	shStrtab
	shShstrtab
	numShdrs
)

var regionShndx = map[string]int{incr.RegText: shText, incr.RegROData: shROData, incr.RegData: shData, incr.RegGOT: shGOT, incr.RegBSS: shBSS}

// SidecarSuffix is appended to the output's path to name the sidecar file
// that holds the incremental state between runs.
const SidecarSuffix = ".lcstate"

// ErrStale is wrapped when the sidecar does not describe the output file
// (missing, corrupt, or the output changed behind the linker's back).
var ErrStale = errors.New("stale or corrupt incremental state")

// IncrOutput is an ELF executable kept up to date in place by the
// incremental linker.
type IncrOutput struct {
	Path  string
	State *incr.State
	f     *os.File
	// fileOff is each region's file offset (derived from capacities).
	fileOff map[string]uint64
	tailOff uint64
	size    uint64
	// Stats of the last update.
	Last incr.Stats
	// Faults injects known bugs of the file glue (tests only).
	Faults IncrFaults
	// tail describes the symbol table and section headers as last
	// written, for UpdateAtoms to patch them in place; nil when unknown.
	tail *tailLayout
}

// tailLayout is where writeHeadersAndTail put the symbol table, the string
// tables and the section headers, and the index of every symbol.
type tailLayout struct {
	symOff, strOff, shstrOff, shOff uint64
	symLen, strLen                  uint64
	locals                          int
	// symIdx maps an atom's name to its symbol table entry: entries are
	// sorted by name, locals first, so an index is stable while the set
	// of symbols (and their bindings) does not change.
	symIdx map[string]int
}

// IncrFaults are deliberate bugs of the incremental file glue, for
// fault-injection tests.
type IncrFaults struct {
	// StaleSymbols does not rewrite the symbol table when only symbol
	// addresses changed.
	StaleSymbols bool
	// GrowWithoutMove grows a region without moving the regions after it
	// in the file.
	GrowWithoutMove bool
}

// fileOffsets computes the region file offsets from their capacities.
func fileOffsets(st *incr.State) (map[string]uint64, uint64) {
	offs := map[string]uint64{}
	off := uint64(incrHdrSize)
	for _, n := range incr.RegionOrder {
		offs[n] = off
		if n == incr.RegBSS {
			continue
		}
		off += alignUp(st.Regions[n].Cap, incrPage)
	}
	return offs, off
}

// CreateIncr links prog from scratch into a new incremental output at path
// (written to a temporary file and renamed into place) and writes the
// sidecar.
func CreateIncr(path string, prog *codegen.Program, policy incr.Policy, source string) (*IncrOutput, error) {
	st := incr.NewState(obj.ELF, policy)
	st.Source = source
	pt, err := st.Update(prog)
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return nil, err
	}
	o := &IncrOutput{Path: path, State: st, f: f, Last: pt.Stats}
	o.fileOff, o.tailOff = fileOffsets(st)
	if err := o.writeFresh(pt); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := o.SaveSidecar(); err != nil {
		return nil, err
	}
	return o, nil
}

// writeFresh writes a whole new file: fill every region, apply the patch,
// write headers and the tail.
func (o *IncrOutput) writeFresh(pt *incr.Patch) error {
	if err := o.f.Truncate(0); err != nil {
		return err
	}
	for _, n := range incr.RegionOrder {
		if n == incr.RegBSS {
			continue
		}
		r := o.State.Regions[n]
		fillByte := byte(0)
		if n == incr.RegText {
			fillByte = incr.CodeFill
		}
		if _, err := o.f.WriteAt(bytes.Repeat([]byte{fillByte}, int(alignUp(r.Cap, incrPage))), int64(o.fileOff[n])); err != nil {
			return err
		}
	}
	if err := o.apply(pt.Writes); err != nil {
		return err
	}
	return o.writeHeadersAndTail()
}

// Update brings the output to prog in place: positioned writes of what
// changed, file contents moved when a region grew, headers and symbols
// rewritten when they changed. The sidecar is saved afterwards.
func (o *IncrOutput) Update(prog *codegen.Program, source string) (*incr.Patch, error) {
	pt, err := o.patch(func() (*incr.Patch, error) { return o.State.Update(prog) })
	if err != nil {
		return nil, err
	}
	o.State.Source = source
	if len(pt.Grown) > 0 || pt.SymbolSet || (pt.Symbols && !o.Faults.StaleSymbols) {
		if err := o.writeHeadersAndTail(); err != nil {
			return nil, err
		}
	}
	return pt, o.SaveSidecar()
}

// UpdateAtoms is the in-process fast path of Update (incr.State.UpdateAtoms):
// it applies the change set (atoms compiled anew, names deleted) with
// positioned writes. When only symbol addresses or sizes changed, it
// patches those symbol table entries in place (their indexes are stable
// while the set of symbols is) and rewrites the headers, a constant amount;
// the whole tail is rewritten only when the symbol set changed or a region
// grew. The sidecar is not saved (call SaveSidecar before handing the
// output to another process); the output file is the same, byte for byte,
// as Update of the resulting program makes.
func (o *IncrOutput) UpdateAtoms(changed []*codegen.Atom, deleted []string) (*incr.Patch, error) {
	pt, err := o.patch(func() (*incr.Patch, error) { return o.State.UpdateAtoms(changed, deleted) })
	if err != nil {
		return nil, err
	}
	switch {
	case len(pt.Grown) > 0 || pt.SymbolSet || o.tail == nil:
		if len(pt.Grown) > 0 || pt.SymbolSet || (pt.Symbols && !o.Faults.StaleSymbols) {
			if err := o.writeHeadersAndTail(); err != nil {
				return nil, err
			}
		}
	case pt.Symbols && !o.Faults.StaleSymbols:
		if err := o.patchSymbols(pt.SymbolsChanged); err != nil {
			return nil, err
		}
	}
	return pt, nil
}

// patch runs one update of the state and writes its patch: region contents
// moved to their new file offsets when regions grew, then the positioned
// writes. Headers and symbols are the caller's.
func (o *IncrOutput) patch(update func() (*incr.Patch, error)) (*incr.Patch, error) {
	oldOff := o.fileOff
	oldCap := make(map[string]uint64, len(o.State.Regions))
	for n, r := range o.State.Regions {
		oldCap[n] = r.Cap
	}
	pt, err := update()
	if err != nil {
		return nil, err
	}
	o.Last = pt.Stats
	if len(pt.Grown) > 0 {
		if o.Faults.GrowWithoutMove {
			o.fileOff, o.tailOff = fileOffsets(o.State)
		} else if err := o.relayout(oldOff, oldCap); err != nil {
			return nil, err
		}
	}
	return pt, o.apply(pt.Writes)
}

// patchSymbols rewrites the value and size of the named atoms' symbol
// table entries, and the headers (entry, section sizes), in place.
func (o *IncrOutput) patchSymbols(names []string) error {
	t := o.tail
	le := binary.LittleEndian
	for _, n := range names {
		i, ok := t.symIdx[n]
		a := o.State.Atoms[n]
		if !ok || a == nil {
			return fmt.Errorf("elf: incremental: symbol %s has no symbol table entry", n)
		}
		var e [16]byte
		le.PutUint64(e[0:], a.Addr)
		le.PutUint64(e[8:], a.Size)
		if _, err := o.f.WriteAt(e[:], int64(t.symOff+uint64(i)*24+8)); err != nil {
			return err
		}
	}
	head, sh, err := o.headerAndShdrs(t.symOff, t.symLen, t.strOff, t.strLen, t.shstrOff, t.shOff, t.locals)
	if err != nil {
		return err
	}
	if _, err := o.f.WriteAt(head, 0); err != nil {
		return err
	}
	_, err = o.f.WriteAt(sh, int64(t.shOff))
	return err
}

// relayout moves region contents to their new file offsets after growth,
// last region first so nothing is overwritten before it is moved, and fills
// the new capacity.
func (o *IncrOutput) relayout(oldOff map[string]uint64, oldCap map[string]uint64) error {
	newOff, tail := fileOffsets(o.State)
	for i := len(incr.RegionOrder) - 1; i >= 0; i-- {
		n := incr.RegionOrder[i]
		if n == incr.RegBSS {
			continue
		}
		oldSize := alignUp(oldCap[n], incrPage)
		buf := make([]byte, oldSize)
		if _, err := o.f.ReadAt(buf, int64(oldOff[n])); err != nil && err != io.EOF {
			return fmt.Errorf("elf: incremental: moving %s: %w", n, err)
		}
		newSize := alignUp(o.State.Regions[n].Cap, incrPage)
		if newSize > oldSize {
			fillByte := byte(0)
			if n == incr.RegText {
				fillByte = incr.CodeFill
			}
			buf = append(buf, bytes.Repeat([]byte{fillByte}, int(newSize-oldSize))...)
		}
		if _, err := o.f.WriteAt(buf, int64(newOff[n])); err != nil {
			return err
		}
	}
	o.fileOff, o.tailOff = newOff, tail
	return nil
}

// apply performs positioned writes of virtual-address patches.
func (o *IncrOutput) apply(ws []incr.Write) error {
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
func (o *IncrOutput) offsetOf(addr, n uint64) (uint64, error) {
	for _, name := range incr.RegionOrder {
		r := o.State.Regions[name]
		if addr >= r.Base && addr+n <= r.Base+r.Cap {
			if name == incr.RegBSS {
				return 0, fmt.Errorf("elf: incremental: write of %d bytes at %#x in .bss", n, addr)
			}
			return o.fileOff[name] + (addr - r.Base), nil
		}
	}
	return 0, fmt.Errorf("elf: incremental: write of %d bytes at %#x outside every region", n, addr)
}

// writeHeadersAndTail writes the ELF header, program headers, symbol table,
// string tables and section headers, and truncates the file after them.
func (o *IncrOutput) writeHeadersAndTail() error {
	st := o.State
	// Symbols: locals first (sorted), then globals (sorted).
	type sym struct {
		name string
		a    *incr.AtomState
	}
	var locals, globals []sym
	for _, n := range sortedAtomNames(st) {
		a := st.Atoms[n]
		if a.Local {
			locals = append(locals, sym{n, a})
		} else {
			globals = append(globals, sym{n, a})
		}
	}
	strtab := []byte{0}
	symtab := make([]byte, symSize) // null symbol
	symIdx := make(map[string]int, len(locals)+len(globals))
	for _, s := range append(locals, globals...) {
		symIdx[s.name] = len(symtab) / symSize
		name := uint32(len(strtab))
		strtab = append(append(strtab, s.name...), 0)
		bind, kind := obj.Global, obj.SymData
		if s.a.Local {
			bind = obj.Local
		}
		if s.a.Kind == obj.Text {
			kind = obj.SymFunc
		}
		symtab = symbolEntry{name: name, info: symInfo(bind, kind), shndx: uint16(regionShndx[incr.RegionFor(s.a.Kind)]),
			value: s.a.Addr, size: s.a.Size}.appendTo(symtab)
	}
	names := []string{"", ".text", ".rodata", ".data", ".got", ".bss", ".symtab", ".strtab", ".shstrtab"}
	shstrtab := []byte{}
	nameOff := make([]uint32, len(names))
	for i, n := range names {
		nameOff[i] = uint32(len(shstrtab))
		shstrtab = append(append(shstrtab, n...), 0)
	}
	symOff := alignUp(o.tailOff, 8)
	strOff := symOff + uint64(len(symtab))
	shstrOff := strOff + uint64(len(strtab))
	shOff := alignUp(shstrOff+uint64(len(shstrtab)), 8)
	end := shOff + numShdrs*64

	head, sh, err := o.headerAndShdrs(symOff, uint64(len(symtab)), strOff, uint64(len(strtab)), shstrOff, shOff, len(locals))
	if err != nil {
		return err
	}
	for _, w := range []struct {
		off  uint64
		data []byte
	}{{0, head}, {symOff, symtab}, {strOff, strtab}, {shstrOff, shstrtab}, {shOff, sh}} {
		if _, err := o.f.WriteAt(w.data, int64(w.off)); err != nil {
			return err
		}
	}
	// Zero the gap between the last region and the symbol table.
	if symOff > o.tailOff {
		if _, err := o.f.WriteAt(make([]byte, symOff-o.tailOff), int64(o.tailOff)); err != nil {
			return err
		}
	}
	o.size = end
	o.tail = &tailLayout{symOff: symOff, strOff: strOff, shstrOff: shstrOff, shOff: shOff,
		symLen: uint64(len(symtab)), strLen: uint64(len(strtab)), locals: len(locals), symIdx: symIdx}
	return o.f.Truncate(int64(end))
}

// shstrtab returns the section name table and each name's offset in it.
func shstrtab() ([]byte, []uint32) {
	names := []string{"", ".text", ".rodata", ".data", ".got", ".bss", ".symtab", ".strtab", ".shstrtab"}
	tab := []byte{}
	nameOff := make([]uint32, len(names))
	for i, n := range names {
		nameOff[i] = uint32(len(tab))
		tab = append(append(tab, n...), 0)
	}
	return tab, nameOff
}

// headerAndShdrs returns the ELF header with the program headers, and the
// section header table, for the current state and the given places of the
// tables in the tail of the file.
func (o *IncrOutput) headerAndShdrs(symOff, symLen, strOff, strLen, shstrOff, shOff uint64, locals int) (head, sh []byte, err error) {
	st := o.State
	shstrtab, nameOff := shstrtab()
	entry, ok := st.Atoms[st.Entry]
	if !ok {
		return nil, nil, fmt.Errorf("elf: incremental: no entry symbol %s", st.Entry)
	}
	var hdr [ehdrSize]byte
	fileHeader{typ: elf.ET_EXEC, entry: entry.Addr, phoff: ehdrSize, shoff: shOff, phnum: numPhdrs, shnum: numShdrs, shstrIndex: shShstrtab}.put(hdr[:])
	phdrs := make([]byte, 0, numPhdrs*phdrSize)
	flags := map[string]elf.ProgFlag{incr.RegText: elf.PF_R | elf.PF_X, incr.RegROData: elf.PF_R, incr.RegData: elf.PF_R | elf.PF_W, incr.RegGOT: elf.PF_R | elf.PF_W, incr.RegBSS: elf.PF_R | elf.PF_W}
	var ph [phdrSize]byte
	for _, n := range incr.RegionOrder {
		r := st.Regions[n]
		filesz := r.Cap
		if n == incr.RegBSS {
			filesz = 0
		}
		progHeader{typ: elf.PT_LOAD, flags: flags[n], off: o.fileOff[n], addr: r.Base, filesz: filesz, memsz: r.Cap, align: incrPage}.put(ph[:])
		phdrs = append(phdrs, ph[:]...)
	}
	progHeader{typ: elf.PT_GNU_STACK, flags: elf.PF_R | elf.PF_W, align: 16}.put(ph[:])
	phdrs = append(phdrs, ph[:]...)

	sh = make([]byte, numShdrs*shdrSize)
	put := func(i int, name uint32, typ elf.SectionType, flags elf.SectionFlag, addr, off, size uint64, link, info uint32, align, entsize uint64) {
		sectionHeader{name, typ, flags, addr, off, size, link, info, align, entsize}.put(sh[i*shdrSize:])
	}
	secFlags := map[string]elf.SectionFlag{incr.RegText: elf.SHF_ALLOC | elf.SHF_EXECINSTR, incr.RegROData: elf.SHF_ALLOC, incr.RegData: elf.SHF_ALLOC | elf.SHF_WRITE, incr.RegGOT: elf.SHF_ALLOC | elf.SHF_WRITE, incr.RegBSS: elf.SHF_ALLOC | elf.SHF_WRITE}
	for _, n := range incr.RegionOrder {
		r := st.Regions[n]
		typ := elf.SHT_PROGBITS
		if n == incr.RegBSS {
			typ = elf.SHT_NOBITS
		}
		i := regionShndx[n]
		align := uint64(16)
		if n == incr.RegGOT {
			align = 8
		}
		put(i, nameOff[i], typ, secFlags[n], r.Base, o.fileOff[n], r.High, 0, 0, align, 0)
	}
	put(shSymtab, nameOff[shSymtab], elf.SHT_SYMTAB, 0, 0, symOff, symLen, shStrtab, uint32(1+locals), 8, 24)
	put(shStrtab, nameOff[shStrtab], elf.SHT_STRTAB, 0, 0, strOff, strLen, 0, 0, 1, 0)
	put(shShstrtab, nameOff[shShstrtab], elf.SHT_STRTAB, 0, 0, shstrOff, uint64(len(shstrtab)), 0, 0, 1, 0)

	return append(hdr[:], phdrs...), sh, nil
}

func sortedAtomNames(st *incr.State) []string {
	names := make([]string, 0, len(st.Atoms))
	for n := range st.Atoms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close closes the output file.
func (o *IncrOutput) Close() error { return o.f.Close() }

// sidecar is the JSON form of the state and the output it describes. The
// state is kept as the exact bytes that were hashed into StateSHA256, so a
// sidecar whose state was changed after it was written (a flipped digit
// still parses) is refused rather than trusted.
type sidecar struct {
	Version      int             `json:"version"`
	OutputSize   int64           `json:"output_size"`
	OutputSHA256 string          `json:"output_sha256"`
	StateSHA256  string          `json:"state_sha256"`
	State        json.RawMessage `json:"state"`
}

// sidecarVersion 2 added StateSHA256; a version 1 sidecar is stale.
const sidecarVersion = 2

// SaveSidecar writes the state next to the output (atomically), with the
// output's size and SHA-256 so that a changed output is detected, and the
// state's own SHA-256 so that a changed state is detected.
func (o *IncrOutput) SaveSidecar() error {
	if err := o.f.Sync(); err != nil {
		return err
	}
	sum, size, err := hashFile(o.f)
	if err != nil {
		return err
	}
	state, err := json.Marshal(o.State)
	if err != nil {
		return err
	}
	stateSum := sha256.Sum256(state)
	data, err := json.Marshal(sidecar{Version: sidecarVersion, OutputSize: size, OutputSHA256: sum, StateSHA256: hex.EncodeToString(stateSum[:]), State: state})
	if err != nil {
		return err
	}
	path := o.Path + SidecarSuffix
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-sidecar-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func hashFile(f *os.File) (string, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// OpenIncr opens an incremental output and its sidecar for an update. It
// returns an error wrapping ErrStale when the sidecar is missing, corrupt,
// of another policy, or does not describe the output byte for byte; the
// caller then links from scratch.
func OpenIncr(path string, policy incr.Policy) (*IncrOutput, error) {
	st, f, size, err := openVerified(path, policy, os.O_RDWR)
	if err != nil {
		return nil, err
	}
	o := &IncrOutput{Path: path, State: st, f: f, size: uint64(size)}
	o.fileOff, o.tailOff = fileOffsets(st)
	return o, nil
}

// openVerified reads the sidecar of the output at path, checks that its
// state has the given policy ("" accepts any), is consistent, and describes
// the output byte for byte, and returns the state and the output opened
// with flag. Every refusal wraps ErrStale.
func openVerified(path string, policy incr.Policy, flag int) (*incr.State, *os.File, int64, error) {
	sc, st, err := readSidecar(path)
	if err != nil {
		return nil, nil, 0, err
	}
	if policy != "" && st.Policy != policy {
		return nil, nil, 0, fmt.Errorf("%s: %w: linked with policy %s, now %s", path, ErrStale, st.Policy, policy)
	}
	if err := validateState(st); err != nil {
		return nil, nil, 0, fmt.Errorf("%s%s: %w: %v", path, SidecarSuffix, ErrStale, err)
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w: %v", path, ErrStale, err)
	}
	sum, size, err := hashFile(f)
	if err != nil || sum != sc.OutputSHA256 || size != sc.OutputSize {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s: %w: the output changed since the sidecar was written", path, ErrStale)
	}
	return st, f, size, nil
}

// readSidecar reads and decodes the sidecar of the output at path: a
// missing, unparsable, other-version or altered sidecar is an error
// wrapping ErrStale.
func readSidecar(path string) (*sidecar, *incr.State, error) {
	data, err := os.ReadFile(path + SidecarSuffix)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrStale, err)
	}
	var sc sidecar
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, nil, fmt.Errorf("%s%s: %w: %v", path, SidecarSuffix, ErrStale, err)
	}
	if sc.Version != sidecarVersion || len(sc.State) == 0 {
		return nil, nil, fmt.Errorf("%s%s: %w: version %d", path, SidecarSuffix, ErrStale, sc.Version)
	}
	if sum := sha256.Sum256(sc.State); hex.EncodeToString(sum[:]) != sc.StateSHA256 {
		return nil, nil, fmt.Errorf("%s%s: %w: the state does not match its checksum (changed since it was written)", path, SidecarSuffix, ErrStale)
	}
	var st *incr.State
	if err := json.Unmarshal(sc.State, &st); err != nil || st == nil {
		return nil, nil, fmt.Errorf("%s%s: %w: state: %v", path, SidecarSuffix, ErrStale, err)
	}
	return &sc, st, nil
}

// LoadState reads the sidecar of an incremental output without opening it
// for writing (for checks).
func LoadState(path string) (*incr.State, error) {
	st, f, _, err := openVerified(path, "", os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return st, f.Close()
}

// validateState checks a decoded state's internal consistency, so that a
// corrupt sidecar is refused rather than trusted.
func validateState(st *incr.State) error {
	if st.Format != obj.ELF {
		return fmt.Errorf("format %q", st.Format)
	}
	for _, n := range incr.RegionOrder {
		r, ok := st.Regions[n]
		if !ok || r == nil {
			return fmt.Errorf("region %s missing", n)
		}
		if r.High > r.Cap || r.Cap > incr.RegionSpan {
			return fmt.Errorf("region %s: used %#x, capacity %#x", n, r.High, r.Cap)
		}
	}
	if st.GOT == nil {
		return errors.New("no GOT")
	}
	if err := st.GOT.Rebuild(); err != nil {
		return err
	}
	for n, a := range st.Atoms {
		if a == nil || a.Name != n {
			return fmt.Errorf("atom %q malformed", n)
		}
		r := st.Regions[incr.RegionFor(a.Kind)]
		if a.Addr < r.Base || a.Addr+a.Slot > r.Base+r.High || a.Size > a.Slot {
			return fmt.Errorf("atom %s at %#x (+%#x) outside region %s", n, a.Addr, a.Slot, r.Name)
		}
	}
	if _, ok := st.Atoms[st.Entry]; !ok {
		return fmt.Errorf("no entry %s", st.Entry)
	}
	return nil
}
