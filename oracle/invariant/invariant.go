// Package invariant checks an incrementally linked ELF executable against
// the invariants of linkcheck's design, from the file and the program's
// current source alone: it does not trust the linker's sidecar state. The
// version is compiled again, and every atom's bytes, every relocated field,
// GOT slot, trampoline, symbol, section and segment is checked against it.
//
// The invariants (DESIGN.md numbering): (1) the output computes the
// interpreter's value — checked by the caller with an execution oracle;
// (2) its canonical image equals a fresh link's — checked by the caller
// with oracle/canon and oracle/diff; (3) every GOT slot holds the current
// address of its symbol; (4) every trampoline is a `jmp` to its symbol's
// current address; (5) no two atoms overlap, every atom lies inside its
// section, every section inside its segment, every segment inside the file;
// (6) the symbol table gives every symbol its current address (the address
// where its current code or data is); (7) the error table decodes to exactly
// the current error names; (8) LLVM's tools read the file without a warning
// — CheckLLVM.
package invariant

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/oracle/toolsrv"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// Violation is one broken invariant.
type Violation struct {
	Invariant int    // 1..8 as numbered in DESIGN.md
	Symbol    string // the symbol concerned, if any
	Addr      uint64 // where
	Msg       string // what is wrong, with the expected value
}

func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invariant %d (%s)", v.Invariant, Names[v.Invariant])
	if v.Symbol != "" {
		fmt.Fprintf(&b, ": %s", v.Symbol)
	}
	if v.Addr != 0 {
		fmt.Fprintf(&b, " at %#x", v.Addr)
	}
	fmt.Fprintf(&b, ": %s", v.Msg)
	return b.String()
}

// Names are short names of the invariants.
var Names = map[int]string{
	1: "value", 2: "fresh link", 3: "GOT slot", 4: "trampoline", 5: "layout",
	6: "symbol", 7: "error table", 8: "LLVM tools",
}

// Error is the list of violations found.
type Error []Violation

func (e Error) Error() string {
	lines := make([]string, len(e))
	for i, v := range e {
		lines[i] = v.String()
	}
	return strings.Join(lines, "\n")
}

// image is the parsed executable in the terms the checks use; elf.go and
// macho.go read it.
type image struct {
	data []byte
	syms map[string]symbol
	// list is the symbol table in its order (named entries only).
	list []symbol
	// sized says the symbol table gives symbol sizes (Mach-O's does not).
	sized bool
	segs  []segment
	secs  []section
	entry uint64
	// placed are the symbols of the checked program's atoms, in the
	// program's order (CheckProgram looks each up once).
	placed []placed
	last   lastLookup
	// linkerNames are the symbols the format's linker defines itself
	// (Mach-O's __mh_execute_header): allowed in the symbol table.
	linkerNames map[string]bool
	// check runs the format's own checks of the symbol table and
	// headers; pointers maps every absolute pointer field of the
	// version's atoms to where it is ("atom+0x8"), gotSlots every GOT
	// slot that references use to its symbol.
	check func(im *image, atoms map[string]*obj.Atom, pointers, gotSlots map[uint64]string, add addFunc)
}

// placed is an atom's symbol, when the symbol table has one.
type placed struct {
	symbol
	ok bool
}

// lookup is im.syms[name], remembering the last name asked (a function
// refers to one symbol many times, often in a row).
func (im *image) lookup(name string) (symbol, bool) {
	if im.last.valid && im.last.name == name {
		return im.last.s, im.last.ok
	}
	s, ok := im.syms[name]
	im.last = lastLookup{name: name, s: s, ok: ok, valid: true}
	return s, ok
}

// lastLookup is image.lookup's memory.
type lastLookup struct {
	name      string
	s         symbol
	ok, valid bool
}

// reserved reports whether name is one the format's linker defines.
func (im *image) reserved(name string) bool { return im.linkerNames[name] }

// addFunc reports a violation.
type addFunc func(inv int, sym string, addr uint64, format string, args ...any)

// symbol is a named symbol table entry.
type symbol struct {
	name  string
	value uint64
	size  uint64 // when image.sized
	local bool
	index int // in the symbol table
}

// segment is a loadable segment (or, kind linkEdit, a part of the file
// that only tables live in).
type segment struct {
	name         string
	vaddr, memsz uint64
	off, filesz  uint64
	exec         bool
	// body is the first address whose free space is checked: past the
	// headers of the segment that holds them (ELF's whole first
	// segment, Mach-O's __TEXT up to __text); 0 checks none of it.
	body uint64
	// tables marks a segment of tables (Mach-O's __LINKEDIT): inside
	// the file and apart from the others, but no atom's.
	tables bool
}

// section is an allocated section.
type section struct {
	name      string
	addr      uint64
	size, off uint64
	nobits    bool
	got       bool // holds GOT slots
}

// read returns n bytes at virtual address addr from a loaded segment's
// file contents, or false.
func (im *image) read(addr, n uint64) ([]byte, bool) {
	for _, p := range im.segs {
		if p.tables || addr < p.vaddr || addr+n > p.vaddr+p.filesz || addr+n < addr {
			continue
		}
		off := p.off + addr - p.vaddr
		if off+n > uint64(len(im.data)) {
			return nil, false
		}
		return im.data[off : off+n], true
	}
	return nil, false
}

// Options say how the output was linked.
type Options struct {
	// Format is the output's format; "" means ELF.
	Format obj.Format
	// CallsViaGOT is set for outputs linked with the `got` policy.
	CallsViaGOT bool
}

// Check checks invariants 3 to 7 of the executable exe against the program
// m (its current version), which it compiles itself. It returns an Error
// listing every violation, or nil.
func Check(exe []byte, m *ir.Module, opts Options) error {
	if opts.Format == "" {
		opts.Format = obj.ELF
	}
	t, err := target.Lookup(opts.Format)
	if err != nil {
		return fmt.Errorf("invariant: %w", err)
	}
	if err := t.Need(target.CanCompile); err != nil {
		return fmt.Errorf("invariant: %w", err)
	}
	prog, err := t.Compile(m, target.CompileOptions{CallsViaGOT: opts.CallsViaGOT})
	if err != nil {
		return fmt.Errorf("invariant: compiling the current version: %w", err)
	}
	return CheckProgram(exe, prog, m, opts)
}

// CheckProgram is Check with the version already compiled (prog, as the
// code generator makes it for opts), so that a caller that compiled it
// for the update and the fresh link compiles it once.
func CheckProgram(exe []byte, prog *obj.Program, m *ir.Module, opts Options) error {
	if opts.Format == "" {
		opts.Format = obj.ELF
	}
	var im *image
	var err error
	switch opts.Format {
	case obj.ELF:
		im, err = readELF(exe)
	case obj.MachO:
		im, err = readMachO(exe)
	case obj.COFF:
		im, err = readPE(exe)
	case obj.Wasm:
		return checkWasm(exe, prog, m)
	default:
		return fmt.Errorf("invariant: the invariant checks of %s outputs are not built yet", opts.Format)
	}
	if err != nil {
		return fmt.Errorf("invariant: reading the output: %w", err)
	}
	var errs Error
	add := func(inv int, sym string, addr uint64, format string, args ...any) {
		errs = append(errs, Violation{Invariant: inv, Symbol: sym, Addr: addr, Msg: fmt.Sprintf(format, args...)})
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	im.syms = sc.reset()
	for _, s := range im.list {
		if _, dup := im.syms[s.name]; dup {
			add(6, s.name, s.value, "defined twice in the symbol table")
		}
		im.syms[s.name] = s
	}
	im.placed = sc.placed[:0]
	for _, a := range prog.Atoms {
		s, ok := im.syms[a.Name]
		im.placed = append(im.placed, placed{s, ok})
	}
	sc.placed = im.placed

	checkLayout(im, prog, add)
	atoms := sc.atoms
	for _, a := range prog.Atoms {
		atoms[a.Name] = a
	}
	checkStructure(im, prog, atoms, sc, add)

	var fields []span       // firstForeignByte's scratch
	gotSlots := sc.gotSlots // slot address -> the symbol a reference says it holds
	pointers := sc.pointers // absolute pointer field -> where
	// gotOK says a slot passed its check for the symbol gotSlots holds:
	// the other references to it (every load of a global is one) need
	// not read it again.
	gotOK := sc.gotOK
	for i, a := range prog.Atoms {
		s, ok := im.placed[i].symbol, im.placed[i].ok
		if !ok {
			add(6, a.Name, 0, "missing from the symbol table")
			continue
		}
		if im.sized && s.size != a.Size {
			add(6, a.Name, s.value, "symbol size %d, the atom's is %d", s.size, a.Size)
		}
		if s.local != a.Local {
			add(6, a.Name, s.value, "binding %s, want %s", bindName(s.local), bindName(a.Local))
		}
		if a.Kind == obj.BSS {
			continue
		}
		got, ok := im.read(s.value, a.Size)
		if !ok {
			add(5, a.Name, s.value, "its %d bytes are not inside a loaded segment's file contents", a.Size)
			continue
		}
		// Bytes outside relocated fields must be the atom's own.
		if i, ok := firstForeignByte(got, a, &fields); ok {
			add(6, a.Name, s.value+uint64(i), "byte %d is %#02x, the current version's is %#02x: the symbol does not point at the current contents", i, got[i], a.Data[i])
		}
		for _, r := range a.Relocs {
			if r.Kind == obj.Abs64 {
				pointers[s.value+r.Offset] = fmt.Sprintf("%s+%#x", a.Name, r.Offset)
			}
			checkReloc(im, a, s.value, r, got, gotSlots, gotOK, add)
		}
	}
	if im.check != nil {
		im.check(im, atoms, pointers, gotSlots, add)
	}
	checkErrorTable(im, prog, m, add)
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Invariant < errs[j].Invariant })
	return errs
}

// span is a byte range [lo, hi).
type span struct{ lo, hi int }

// firstForeignByte returns the first byte of got, the bytes of atom a in
// the output, that lies in no relocated field of a and differs from a's
// own, and whether there is one. The fields are merged in offset order
// and the bytes between them compared as runs. fields is scratch space.
func firstForeignByte(got []byte, a *obj.Atom, fields *[]span) (int, bool) {
	fs := (*fields)[:0]
	for _, r := range a.Relocs {
		lo := int(r.Offset)
		fs = append(fs, span{lo, lo + r.Kind.Size()})
	}
	if !slices.IsSortedFunc(fs, func(x, y span) int { return x.lo - y.lo }) {
		slices.SortFunc(fs, func(x, y span) int { return x.lo - y.lo })
	}
	*fields = fs
	data := a.Data
	at := 0 // bytes before at are compared or in a field
	for k := 0; k <= len(fs); k++ {
		end := len(data)
		if k < len(fs) {
			end = min(fs[k].lo, len(data))
		}
		if at < end && !bytes.Equal(got[at:end], data[at:end]) {
			for i := at; i < end; i++ {
				if got[i] != data[i] {
					return i, true
				}
			}
		}
		if k < len(fs) {
			at = max(at, fs[k].hi)
		}
	}
	return 0, false
}

// bindName names a binding as the messages do.
func bindName(local bool) string {
	if local {
		return "local"
	}
	return "global"
}

// fieldAt names a relocated field as the messages do, "atom+0xoff", when
// it is formatted.
type fieldAt struct {
	atom string
	off  uint64
}

func (f fieldAt) String() string { return fmt.Sprintf("%s+%#x", f.atom, f.off) }

// checkReloc checks one relocated field of atom a (at address base).
// gotOK is the set of GOT slots that passed their check for the symbol
// gotSlots holds (a check found nothing to report, so checking the slot
// again for the same symbol would find nothing either).
func checkReloc(im *image, a *obj.Atom, base uint64, r obj.SymReloc, got []byte, gotSlots map[uint64]string, gotOK map[uint64]bool, add addFunc) {
	target, ok := im.lookup(r.Sym)
	if !ok {
		add(6, r.Sym, 0, "referenced by %s+%#x but missing from the symbol table", a.Name, r.Offset)
		return
	}
	p := base + r.Offset
	le := binary.LittleEndian
	var v uint64
	if r.Kind == obj.Abs64 {
		v = le.Uint64(got[r.Offset:])
	} else {
		v = uint64(int64(int32(le.Uint32(got[r.Offset:]))))
	}
	where := fieldAt{a.Name, r.Offset} // formatted only in a message
	switch r.Kind {
	case obj.Abs64, obj.Abs32, obj.Abs32S:
		if v != target.value+uint64(r.Addend) {
			add(6, r.Sym, p, "%s holds %#x, the symbol's current address is %#x", where, v, target.value+uint64(r.Addend))
		}
	case obj.PCRel32:
		if dest := p + v - uint64(r.Addend); dest != target.value {
			add(6, r.Sym, p, "%s refers to %#x, the symbol's current address is %#x", where, dest, target.value)
		}
	case obj.Branch32:
		dest := p + v - uint64(r.Addend)
		if dest == target.value {
			return
		}
		// Not the symbol: it must be a trampoline to it.
		code, ok := im.read(dest, 16)
		if !ok {
			add(4, r.Sym, dest, "call at %s lands at %#x, outside the code (the symbol is at %#x)", where, dest, target.value)
			return
		}
		inst, err := x86asm.Decode(code, 64)
		rel, isRel := inst.Args[0].(x86asm.Rel)
		if err != nil || inst.Op != x86asm.JMP || !isRel || inst.Len != 5 {
			add(4, r.Sym, dest, "call at %s lands at %#x, which is neither the symbol (%#x) nor a jmp rel32 trampoline", where, dest, target.value)
			return
		}
		if jt := dest + 5 + uint64(int64(rel)); jt != target.value {
			add(4, r.Sym, dest, "trampoline jumps to %#x, the symbol's current address is %#x", jt, target.value)
		}
	case obj.GOTLoad32, obj.GOTPCRel32:
		slot := p + v - uint64(r.Addend)
		prev, seen := gotSlots[slot]
		if seen && prev == r.Sym && gotOK[slot] {
			return
		}
		if seen && prev != r.Sym {
			add(3, r.Sym, slot, "GOT slot also used for %s: a slot handed out while still referenced", prev)
		}
		if !seen || prev != r.Sym {
			gotSlots[slot] = r.Sym
			gotOK[slot] = false
		}
		if sec := im.sectionOf(slot); sec == nil || !sec.got {
			add(3, r.Sym, slot, "%s refers to %#x, which is not in the GOT (%s)", where, slot, im.gotName())
			return
		}
		cell, ok := im.read(slot, 8)
		if !ok {
			add(3, r.Sym, slot, "GOT slot outside the file contents")
			return
		}
		if val := le.Uint64(cell); val != target.value {
			add(3, r.Sym, slot, "GOT slot holds %#x, the symbol's current address is %#x", val, target.value)
			return
		}
		gotOK[slot] = true
	default:
		add(6, r.Sym, p, "%s: unexpected relocation kind %s", where, r.Kind)
	}
}

// sectionOf returns the allocated section holding addr, or nil.
func (im *image) sectionOf(addr uint64) *section {
	for i := range im.secs {
		if s := &im.secs[i]; addr >= s.addr && addr < s.addr+s.size {
			return s
		}
	}
	return nil
}

// gotName names the GOT sections, for messages.
func (im *image) gotName() string {
	for _, s := range im.secs {
		if s.got {
			return s.name
		}
	}
	return "none"
}

// checkLayout checks invariant 5.
func checkLayout(im *image, prog *obj.Program, add addFunc) {
	size := uint64(len(im.data))
	var inFile []segment
	for _, p := range im.segs {
		if p.filesz == 0 {
			continue
		}
		if p.off+p.filesz > size || p.off+p.filesz < p.off {
			add(5, "", p.vaddr, "segment %s [%#x, +%#x) extends past the end of the file (%#x bytes)", p.name, p.off, p.filesz, size)
		}
		inFile = append(inFile, p)
	}
	// Segments must not share file bytes.
	sort.Slice(inFile, func(i, j int) bool { return inFile[i].off < inFile[j].off })
	for i := 1; i < len(inFile); i++ {
		if inFile[i-1].off+inFile[i-1].filesz > inFile[i].off {
			add(5, "", inFile[i].vaddr, "segment %s at file offset %#x overlaps the previous one %s [%#x, +%#x)", inFile[i].name, inFile[i].off, inFile[i-1].name, inFile[i-1].off, inFile[i-1].filesz)
		}
	}
	for _, s := range im.secs {
		if s.size == 0 {
			continue
		}
		inside := false
		for _, p := range im.segs {
			if p.tables || s.addr < p.vaddr || s.addr+s.size > p.vaddr+p.memsz {
				continue
			}
			inside = s.nobits || (s.off == p.off+(s.addr-p.vaddr) && s.addr+s.size <= p.vaddr+p.filesz)
		}
		switch {
		case !inside && !s.nobits:
			add(5, s.name, s.addr, "section is not inside a loaded segment at the matching file offset")
		case !inside:
			add(5, s.name, s.addr, "section is not inside a loaded segment")
		}
	}
	type span struct {
		name   string
		lo, hi uint64
	}
	var spans []span
	for i, a := range prog.Atoms {
		s, ok := im.placed[i].symbol, im.placed[i].ok
		if !ok {
			continue
		}
		spans = append(spans, span{a.Name, s.value, s.value + a.Size})
		sec := im.sectionOf(s.value)
		if sec == nil || s.value+a.Size > sec.addr+sec.size {
			add(5, a.Name, s.value, "atom [%#x, %#x) is not inside one section", s.value, s.value+a.Size)
		}
	}
	slices.SortFunc(spans, func(x, y span) int { return cmp.Compare(x.lo, y.lo) })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			add(5, spans[i].name, spans[i].lo, "overlaps %s [%#x, %#x)", spans[i-1].name, spans[i-1].lo, spans[i-1].hi)
		}
	}
}

// checkErrorTable checks invariant 7: the table decodes to exactly the
// current error names.
// The table's size is its symbol's, or where the symbol table gives no
// sizes the current version's table's.
func checkErrorTable(im *image, prog *obj.Program, m *ir.Module, add addFunc) {
	s, ok := im.syms[obj.ErrTabSymbol]
	if !codegen.NeedsErrorTable(m) {
		return
	}
	if !ok {
		add(7, obj.ErrTabSymbol, 0, "no error table in the symbol table")
		return
	}
	size := s.size
	if !im.sized {
		if a := prog.Atom(obj.ErrTabSymbol); a != nil {
			size = a.Size
		}
	}
	names, err := DecodeErrorTable(func(addr, n uint64) ([]byte, bool) { return im.read(addr, n) }, s.value, size)
	if err != nil {
		add(7, obj.ErrTabSymbol, s.value, "%v", err)
		return
	}
	if len(names) != len(m.Errors) {
		add(7, obj.ErrTabSymbol, s.value, "decodes to %d names %q, the program declares %d %q", len(names), names, len(m.Errors), m.Errors)
		return
	}
	for i := range names {
		if names[i] != m.Errors[i] {
			add(7, obj.ErrTabSymbol, s.value, "error %d is %q, want %q", i+1, names[i], m.Errors[i])
		}
	}
}

// DecodeErrorTable decodes the error-name table of size bytes at addr:
// N+1 little-endian u32 offsets (off[0] = 4(N+1)), then the NUL-terminated
// names, error k spanning [off[k-1], off[k]-1). A malformed table is an
// error, never a guess.
func DecodeErrorTable(read func(addr, n uint64) ([]byte, bool), addr, size uint64) ([]string, error) {
	tab, ok := read(addr, size)
	if !ok || size < 4 {
		return nil, fmt.Errorf("table of %d bytes at %#x is not readable", size, addr)
	}
	le := binary.LittleEndian
	off0 := uint64(le.Uint32(tab))
	if off0%4 != 0 || off0 < 4 || off0 > size {
		return nil, fmt.Errorf("off[0] = %d: not 4(N+1) inside the %d-byte table", off0, size)
	}
	n := off0/4 - 1
	names := make([]string, 0, n)
	prev := off0
	for k := uint64(1); k <= n; k++ {
		end := uint64(le.Uint32(tab[4*k:]))
		if end <= prev || end > size {
			return nil, fmt.Errorf("off[%d] = %d after off[%d] = %d in a %d-byte table", k, end, k-1, prev, size)
		}
		if tab[end-1] != 0 {
			return nil, fmt.Errorf("name %d is not NUL-terminated at offset %d", k, end-1)
		}
		name := tab[prev : end-1]
		if bytes.IndexByte(name, 0) >= 0 {
			return nil, fmt.Errorf("name %d has a NUL inside", k)
		}
		names = append(names, string(name))
		prev = end
	}
	if prev != size {
		return nil, fmt.Errorf("names end at %d, the table is %d bytes", prev, size)
	}
	return names, nil
}

// llvmRun is one LLVM tool run of invariant 8.
type llvmRun struct {
	tool string
	args []string
}

// llvmRuns are the runs of invariant 8 for the file at path: llvm-readobj
// and llvm-objdump; for Mach-O, llvm-objdump's Mach-O listings (load
// commands, rebase opcodes, indirect symbols, disassembly, symbols).
// llvm-otool is not run: it is llvm-objdump under another name (the same
// binary), and its -l -I -t are the Mach-O listing's --private-headers and
// --indirect-symbols and a dump of __text's bytes, which the listing's
// disassembly reads too: one more process (a quarter of the Mach-O
// invariant's CPU) that parses the same file with the same code.
func llvmRuns(path string) []llvmRun {
	runs := []llvmRun{
		{"llvm-readobj", []string{"--all", path}},
		{"llvm-objdump", []string{"-d", "-t", path}},
	}
	if head, err := readHead(path, 4); err == nil && len(head) == 4 && binary.LittleEndian.Uint32(head) == machoMagic64 {
		runs = append(runs,
			llvmRun{"llvm-objdump", []string{"--macho", "--private-headers", "--rebase", "--indirect-symbols", "-d", "-t", path}})
	}
	if head, err := readHead(path, 4); err == nil && string(head) == wasm.Magic {
		// Wasm: wabt's validator and its disassembler of every section.
		return []llvmRun{
			{"wasm-validate", []string{path}},
			{"wasm-objdump", []string{"-d", "-x", path}},
		}
	}
	if head, err := readHead(path, 2); err == nil && string(head) == "MZ" {
		// PE: the base relocations and the PE headers too.
		runs = []llvmRun{
			{"llvm-readobj", []string{"--all", "--coff-basereloc", path}},
			{"llvm-objdump", []string{"-d", "-t", "-p", path}},
		}
	}
	return runs
}

// readHead returns the first n bytes of the file at path.
func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	k, err := io.ReadFull(f, b)
	return b[:k], err
}

// CheckLLVM checks invariant 8: llvm-readobj and llvm-objdump (for
// Mach-O also llvm-objdump --macho; for PE with the base
// relocations and private headers) read the file without
// a warning or error. Each tool runs as a process of its own; the checked
// update loop uses CheckLLVMWith and a pool of fork servers.
func CheckLLVM(path string) error { return CheckLLVMWith(nil, path) }

// CheckLLVMWith is CheckLLVM with the tools found and run through pool
// (toolsrv: a fork server per tool, the same runs without each one's
// start); a nil pool runs them as CheckLLVM does.
func CheckLLVMWith(pool *toolsrv.Pool, path string) error {
	var errs Error
	for _, tc := range llvmRuns(path) {
		t, err := pool.Find(tc.tool)
		if err != nil {
			return err
		}
		v, err := runLLVM(pool, t.Path, tc)
		if errors.Is(err, toolsrv.ErrServer) {
			// The server died or could not fork: the run's verdict is
			// unknown, not a violation. The tool runs again by itself.
			v, err = runLLVM(nil, t.Path, tc)
		}
		if err != nil {
			return err
		}
		if v != nil {
			errs = append(errs, *v)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// runLLVM runs one of invariant 8's tools (at path tool; the file is in
// tc.args) and returns the violation it shows (a warning or an error on
// either stream, a failed exit), or nil; err is a failure to run it.
func runLLVM(pool *toolsrv.Pool, tool string, tc llvmRun) (*Violation, error) {
	var stderr bytes.Buffer
	// The listing can be large: it is scanned as it streams, line by
	// line, for a warning, never held whole.
	run, err := pool.Start(tool, tc.args, &stderr)
	if err != nil {
		return nil, fmt.Errorf("invariant: %s: %w", tc.tool, err)
	}
	warned := ""
	sc := bufio.NewScanner(run.Stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if warned == "" && containsFold(sc.Bytes(), "warning:") {
			warned = sc.Text()
		}
	}
	scanErr := sc.Err()
	if scanErr != nil {
		io.Copy(io.Discard, run.Stdout) // let the tool finish
	}
	err = run.Wait()
	if errors.Is(err, toolsrv.ErrServer) {
		return nil, err
	}
	if err == nil && scanErr == nil && warned == "" && !containsFold(stderr.Bytes(), "warning") && !containsFold(stderr.Bytes(), "error") {
		return nil, nil
	}
	msg := strings.TrimSpace(stderr.String())
	if warned != "" {
		msg = strings.TrimSpace(msg + " " + warned)
	}
	return &Violation{Invariant: 8, Msg: fmt.Sprintf("%s %s: %v %s", tc.tool, strings.Join(tc.args, " "), firstError(err, scanErr), msg)}, nil
}

// containsFold reports whether b contains the lowercase ASCII word w in
// any case, without copying b.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
