package incr

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// fakeFormat is the format of fakeImage's outputs.
const fakeFormat obj.Format = "fake"

// fakeImage is a minimal format for testing the core without ELF: a 64-byte
// header (magic, tail offset, entry, then each region's file offset and
// size), regions aligned to 256 bytes, and a tail that is a symbol table of
// 32-byte records (name padded to 16 bytes, address, size), sorted by name.
type fakeImage struct{}

func (fakeImage) Format() obj.Format { return fakeFormat }
func (fakeImage) Arch() arch.Arch    { return arch.X86_64{} }
func (fakeImage) BaseAddr() uint64   { return 0x400000 }
func (fakeImage) HeaderSize() uint64 { return 64 + 16*uint64(len(RegionOrder)) }
func (fakeImage) FileAlign() uint64  { return 256 }

func (fakeImage) Tail(st *State, fl *FileLayout) (Tail, error) {
	names := sortedKeys(st.Atoms)
	t := &fakeTail{off: fl.TailOff, idx: map[string]int{}}
	for i, n := range names {
		if len(n) > 16 {
			return nil, fmt.Errorf("name %s too long", n)
		}
		t.idx[n] = i
		var rec [32]byte
		copy(rec[:], n)
		binary.LittleEndian.PutUint64(rec[16:], st.Atoms[n].Addr)
		binary.LittleEndian.PutUint64(rec[24:], st.Atoms[n].Size)
		t.bytes = append(t.bytes, rec[:]...)
	}
	return t, nil
}

type fakeTail struct {
	off   uint64
	bytes []byte
	idx   map[string]int
}

func (t *fakeTail) Bytes() []byte { return t.bytes }

func (t *fakeTail) Headers(st *State, fl *FileLayout) ([]Chunk, error) {
	h := make([]byte, fakeImage{}.HeaderSize())
	copy(h, "FAKE")
	le := binary.LittleEndian
	le.PutUint64(h[8:], t.off)
	le.PutUint64(h[16:], uint64(len(t.bytes)/32))
	if a, ok := st.Atoms[st.Entry]; ok {
		le.PutUint64(h[24:], a.Addr)
	}
	for i, n := range RegionOrder {
		le.PutUint64(h[64+16*i:], fl.Off[n])
		le.PutUint64(h[72+16*i:], fl.Size[n])
	}
	return []Chunk{{Off: 0, Data: h}}, nil
}

func (t *fakeTail) Symbol(st *State, name string) (Chunk, bool) {
	i, ok := t.idx[name]
	if !ok {
		return Chunk{}, false
	}
	var e [16]byte
	binary.LittleEndian.PutUint64(e[:], st.Atoms[name].Addr)
	binary.LittleEndian.PutUint64(e[8:], st.Atoms[name].Size)
	return Chunk{Off: t.off + uint64(i)*32 + 16, Data: e[:]}, true
}

// fakeFile is a fake output decoded independently of the core: the
// regions by their header entries, the symbols by the tail.
type fakeFile struct {
	data    []byte
	entry   uint64
	regions map[string][2]uint64 // file offset, size
	syms    map[string][2]uint64 // address, size
}

func decodeFake(t *testing.T, data []byte) *fakeFile {
	t.Helper()
	require.True(t, bytes.HasPrefix(data, []byte("FAKE")), "magic")
	le := binary.LittleEndian
	f := &fakeFile{data: data, entry: le.Uint64(data[24:]), regions: map[string][2]uint64{}, syms: map[string][2]uint64{}}
	for i, n := range RegionOrder {
		f.regions[n] = [2]uint64{le.Uint64(data[64+16*i:]), le.Uint64(data[72+16*i:])}
	}
	off, n := le.Uint64(data[8:]), le.Uint64(data[16:])
	require.Equal(t, off+32*n, uint64(len(data)), "the file ends after the symbol table")
	for i := uint64(0); i < n; i++ {
		rec := data[off+32*i:]
		name := string(bytes.TrimRight(rec[:16], "\x00"))
		f.syms[name] = [2]uint64{le.Uint64(rec[16:]), le.Uint64(rec[24:])}
	}
	return f
}

// read returns n bytes at address addr, through the header's region table,
// or false when they are in no region's file contents.
func (f *fakeFile) read(st *State, addr, n uint64) ([]byte, bool) {
	for _, name := range RegionOrder {
		r := st.Regions[name]
		if addr >= r.Base && addr+n <= r.Base+r.Cap {
			reg := f.regions[name]
			if addr-r.Base+n > reg[1] {
				return nil, false
			}
			return f.data[reg[0]+addr-r.Base : reg[0]+addr-r.Base+n], true
		}
	}
	return nil, false
}

// checkFake checks a fake output against the program it should hold:
// every atom's bytes (relocated fields recomputed from the symbol table),
// every symbol, every GOT slot and trampoline. It returns the problems.
func checkFake(t *testing.T, st *State, data []byte, p *obj.Program) []string {
	t.Helper()
	f := decodeFake(t, data)
	var problems []string
	le := binary.LittleEndian
	for _, a := range p.Atoms {
		s, ok := f.syms[a.Name]
		if !ok {
			problems = append(problems, a.Name+": no symbol")
			continue
		}
		if s[1] != a.Size {
			problems = append(problems, fmt.Sprintf("%s: size %d, want %d", a.Name, s[1], a.Size))
		}
		if a.Kind == obj.BSS {
			continue
		}
		got, ok := f.read(st, s[0], a.Size)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: %#x is not in the file", a.Name, s[0]))
			continue
		}
		want := append([]byte(nil), a.Data...)
		for _, r := range a.Relocs {
			target := f.syms[r.Sym][0]
			var v uint64
			switch {
			case r.Kind == obj.Abs64:
				le.PutUint64(want[r.Offset:], target+uint64(r.Addend))
				continue
			case r.Kind.UsesGOT():
				slot := le.Uint32(got[r.Offset:]) + uint32(s[0]+r.Offset) - uint32(r.Addend)
				if held, ok := f.read(st, uint64(slot), 8); !ok || le.Uint64(held) != target {
					problems = append(problems, fmt.Sprintf("%s+%#x: GOT slot %#x holds % x, want %s at %#x", a.Name, r.Offset, slot, held, r.Sym, target))
				}
				copy(want[r.Offset:], got[r.Offset:r.Offset+4])
				continue
			default:
				v = target + uint64(r.Addend) - (s[0] + r.Offset)
			}
			if r.Kind == obj.Branch32 {
				// A call may land on the callee's trampoline.
				dest := uint64(int64(s[0]+r.Offset+4) + int64(int32(le.Uint32(got[r.Offset:]))))
				if dest != target {
					jmp, ok := f.read(st, dest, 5)
					if !ok || jmp[0] != 0xe9 || uint64(int64(dest+5)+int64(int32(le.Uint32(jmp[1:])))) != target {
						problems = append(problems, fmt.Sprintf("%s+%#x: call lands at %#x, neither %s (%#x) nor a jump to it", a.Name, r.Offset, dest, r.Sym, target))
					}
				}
				copy(want[r.Offset:], got[r.Offset:r.Offset+4])
				continue
			}
			le.PutUint32(want[r.Offset:], uint32(v))
		}
		if !bytes.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("%s at %#x: bytes % x, want % x", a.Name, s[0], got, want))
		}
	}
	if e := f.syms[obj.EntrySymbol]; f.entry != e[0] {
		problems = append(problems, fmt.Sprintf("entry %#x, want %#x", f.entry, e[0]))
	}
	return problems
}

// fakeProgram builds a program of n functions f0..f(n-1), each calling the
// next and loading a global's address through the GOT, a global holding
// a pointer to f0, and the entry; grow[i] pads function i.
func fakeProgram(n int, grow map[int]int) *obj.Program {
	p := &obj.Program{Format: fakeFormat}
	call := func(name, target string, pad int) *obj.Atom {
		code := []byte{0xe8, 0, 0, 0, 0, 0x48, 0x8b, 0x05, 0, 0, 0, 0}
		code = append(code, bytes.Repeat([]byte{0x90}, pad)...)
		code = append(code, 0xc3)
		return &obj.Atom{Name: name, Kind: obj.Text, Align: 16, Data: code, Size: uint64(len(code)),
			Relocs: []obj.SymReloc{{Offset: 1, Kind: obj.Branch32, Sym: target, Addend: -4}, {Offset: 8, Kind: obj.GOTLoad32, Sym: "g", Addend: -4}}}
	}
	p.Atoms = append(p.Atoms, call(obj.EntrySymbol, "f0", 0))
	for i := 0; i < n; i++ {
		p.Atoms = append(p.Atoms, call(fmt.Sprintf("f%d", i), fmt.Sprintf("f%d", (i+1)%n), grow[i]))
	}
	p.Atoms = append(p.Atoms, &obj.Atom{Name: "g", Kind: obj.Data, Align: 8, Data: make([]byte, 8), Size: 8,
		Relocs: []obj.SymReloc{{Offset: 0, Kind: obj.Abs64, Sym: "f0"}}})
	return p
}

// bigGlobal makes p's global g 200 bytes, so that it moves.
func bigGlobal(p *obj.Program) *obj.Program {
	g := p.Atom("g")
	g.Data, g.Size = make([]byte, 200), 200
	return p
}

// TestOutputOnFakeFormat drives the core through a format that is not ELF:
// in-place rewrites, moves with trampolines, deletions, region growth that
// moves the file's contents, each checked by decoding the file
// independently.
func TestOutputOnFakeFormat(t *testing.T) {
	for _, policy := range []Policy{Trampoline, ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			steps := []struct {
				name string
				prog *obj.Program
			}{
				{"first link", fakeProgram(10, nil)},
				{"f3 grows in place", fakeProgram(10, map[int]int{3: 2})},
				{"f3 moves", fakeProgram(10, map[int]int{3: 200})},
				{"f3 moves again", fakeProgram(10, map[int]int{3: 2000})},
				{"text grows past its capacity", fakeProgram(10, map[int]int{3: 2000, 5: 40000})},
				{"functions deleted", fakeProgram(4, map[int]int{3: 2000})},
				{"functions added", fakeProgram(30, map[int]int{3: 2000})},
				{"the global moves", bigGlobal(fakeProgram(30, map[int]int{3: 2000}))},
			}
			o, err := NewMemOutput(fakeImage{}, steps[0].prog, "", Options{Policy: policy})
			require.NoError(t, err)
			require.Empty(t, checkFake(t, o.State, o.Bytes(), steps[0].prog))
			grew := false
			for _, s := range steps[1:] {
				pt, err := o.Update(s.prog, "")
				require.NoError(t, err, s.name)
				grew = grew || len(pt.Grown) > 0
				require.Empty(t, checkFake(t, o.State, o.Bytes(), s.prog), s.name)
			}
			require.True(t, grew, "no step grew a region")
			if policy == Trampoline {
				require.NotZero(t, o.State.Atoms["f3"].First, "f3 moved and left a trampoline")
			}
		})
	}
}

// TestOutputFaultsCaught plants each file-level fault and asserts that the
// independent decoding of the fake format sees the damage.
func TestOutputFaultsCaught(t *testing.T) {
	tests := []struct {
		fault fault.Fault
		prog  *obj.Program
	}{
		{fault.StaleSymbols, fakeProgram(10, map[int]int{3: 200})},
		{fault.GrowWithoutMove, fakeProgram(10, map[int]int{5: 40000})},
		{fault.SkipGOTRewrite, bigGlobal(fakeProgram(10, nil))},
		{fault.TrampolineBase, fakeProgram(10, map[int]int{3: 200})},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			o, err := NewMemOutput(fakeImage{}, fakeProgram(10, nil), "", Options{Faults: fault.Of(tt.fault)})
			require.NoError(t, err)
			_, err = o.Update(tt.prog, "")
			require.NoError(t, err)
			require.NotEmpty(t, checkFake(t, o.State, o.Bytes(), tt.prog), "fault %s not visible", tt.fault)
		})
	}
}

// TestUpdateAtomsPatchesSymbolsInPlace: a move changes a symbol's address
// only; the fast path patches its entry and the headers and leaves the
// rest of the tail alone, with the same bytes as a full rewrite.
func TestUpdateAtomsPatchesSymbolsInPlace(t *testing.T) {
	p1, p2 := fakeProgram(10, nil), fakeProgram(10, map[int]int{3: 200})
	a, err := NewMemOutput(fakeImage{}, p1, "", Options{})
	require.NoError(t, err)
	b, err := NewMemOutput(fakeImage{}, p1, "", Options{})
	require.NoError(t, err)
	b.tail = nil // as after Open: the whole tail is rewritten
	pt, err := a.UpdateAtoms([]*obj.Atom{p2.Atom("f3")}, nil)
	require.NoError(t, err)
	require.True(t, pt.Symbols)
	require.False(t, pt.SymbolSet)
	require.Equal(t, []string{"f3"}, pt.SymbolsChanged)
	_, err = b.Update(p2, "")
	require.NoError(t, err)
	require.Equal(t, a.Bytes(), b.Bytes())
}

// TestPointersFlag: the patch says when absolute pointer sites changed, for
// formats that list them (rebase information, base relocations).
func TestPointersFlag(t *testing.T) {
	o, err := NewMemOutput(fakeImage{}, fakeProgram(10, nil), "", Options{})
	require.NoError(t, err)
	pt, err := o.Update(fakeProgram(10, map[int]int{3: 2}), "")
	require.NoError(t, err)
	require.False(t, pt.Pointers, "a function without pointers grew in place")
	p := fakeProgram(10, map[int]int{3: 2})
	g := p.Atom("g")
	g.Data = make([]byte, 16)
	g.Size = 16
	g.Relocs = append(g.Relocs, obj.SymReloc{Offset: 8, Kind: obj.Abs64, Sym: "f1"})
	pt, err = o.Update(p, "")
	require.NoError(t, err)
	require.True(t, pt.Pointers, "a data atom gained a pointer")
	require.Empty(t, checkFake(t, o.State, o.Bytes(), p))
}

// TestSidecarOnDisk: Create, Open and Update through the sidecar, and every
// kind of stale or tampered state refused with ErrStale.
func TestSidecarOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	o, err := Create(path, fakeImage{}, fakeProgram(10, nil), "v1", Options{})
	require.NoError(t, err)
	require.NoError(t, o.Close())
	_, err = os.Stat(path + ".tmp")
	require.True(t, os.IsNotExist(err), "the temporary file is gone")

	o, err = Open(path, fakeImage{}, Options{})
	require.NoError(t, err)
	p := fakeProgram(10, map[int]int{3: 200})
	_, err = o.Update(p, "v2")
	require.NoError(t, err)
	require.NoError(t, o.Close())
	st, err := LoadState(path, fakeImage{})
	require.NoError(t, err)
	require.Equal(t, "v2", st.Source)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Empty(t, checkFake(t, st, data, p))

	_, err = Open(path, fakeImage{}, Options{Policy: ThroughGOT})
	require.ErrorIs(t, err, ErrStale)
	require.ErrorContains(t, err, "policy")

	sidecar, err := os.ReadFile(path + SidecarSuffix)
	require.NoError(t, err)
	tamper := bytes.Replace(sidecar, []byte(`"Source":"v2"`), []byte(`"Source":"v3"`), 1)
	require.NotEqual(t, sidecar, tamper)
	require.NoError(t, os.WriteFile(path+SidecarSuffix, tamper, 0o644))
	_, err = Open(path, fakeImage{}, Options{})
	require.ErrorIs(t, err, ErrStale)
	require.ErrorContains(t, err, "checksum")

	require.NoError(t, os.WriteFile(path+SidecarSuffix, sidecar, 0o644))
	require.NoError(t, os.WriteFile(path, append(data, 0), 0o755))
	_, err = Open(path, fakeImage{}, Options{})
	require.ErrorIs(t, err, ErrStale)
	require.ErrorContains(t, err, "the output changed")

	require.NoError(t, os.Remove(path+SidecarSuffix))
	_, err = Open(path, fakeImage{}, Options{})
	require.ErrorIs(t, err, ErrStale)
}

func TestMemFile(t *testing.T) {
	var m MemFile
	n, err := m.WriteAt([]byte("abc"), 4)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, []byte("\x00\x00\x00\x00abc"), m.Bytes())
	buf := make([]byte, 4)
	n, err = m.ReadAt(buf, 5)
	require.Equal(t, 2, n)
	require.Error(t, err)
	require.NoError(t, m.Truncate(2))
	require.NoError(t, m.Truncate(5))
	require.Equal(t, make([]byte, 5), m.Bytes(), "truncation zero-fills what it grows")
	_, err = m.WriteAt([]byte("x"), -1)
	require.Error(t, err)
}

// TestTamperedSidecarRefused: a sidecar whose state was edited and its
// checksum recomputed no longer describes the output; Open refuses it
// (ErrStale, so the caller relinks) before anything is written.
func TestTamperedSidecarRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	o, err := Create(path, fakeImage{}, fakeProgram(10, nil), "", Options{})
	require.NoError(t, err)
	_, err = o.Update(fakeProgram(10, map[int]int{3: 200}), "") // f3 moves: a trampoline
	require.NoError(t, err)
	require.NoError(t, o.Close())
	orig, err := os.ReadFile(path + SidecarSuffix)
	require.NoError(t, err)
	outBefore, err := os.ReadFile(path)
	require.NoError(t, err)

	tamper := func(edit func(st *State)) {
		var sc sidecar
		require.NoError(t, json.Unmarshal(orig, &sc))
		var st State
		require.NoError(t, json.Unmarshal(sc.State, &st))
		edit(&st)
		state, err := json.Marshal(&st)
		require.NoError(t, err)
		sum := sha256.Sum256(state)
		sc.State, sc.StateSHA256 = state, hex.EncodeToString(sum[:])
		data, err := json.Marshal(sc)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path+SidecarSuffix, data, 0o644))
	}
	tests := []struct {
		name string
		edit func(st *State)
		msg  string
	}{
		{"atom shifted", func(st *State) { st.Atoms["f5"].Addr += 16 }, ""},
		{"atoms overlap", func(st *State) { st.Atoms["f5"].Addr = st.Atoms["f4"].Addr }, "overlaps"},
		{"GOT slots swapped", func(st *State) {
			st.GOT.Slots = append(st.GOT.Slots, "f1")
			st.GOT.Slots[0], st.GOT.Slots[1] = st.GOT.Slots[1], st.GOT.Slots[0]
		}, ""},
		{"capacity changed", func(st *State) { st.Regions[RegText].Cap *= 4 }, ""},
		{"region moved", func(st *State) { st.Regions[RegText].Base += 0x1000; st.Regions[RegText].Cap = 0x4000 }, ""},
		{"trampoline out of range", func(st *State) { st.Atoms["f3"].First = 0x10 }, "trampoline of f3"},
		{"GOT slot names no atom", func(st *State) { st.GOT.Slots[0] = "nosuch" }, "no atom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tamper(tt.edit)
			_, err := Open(path, fakeImage{}, Options{})
			require.ErrorIs(t, err, ErrStale)
			require.ErrorContains(t, err, tt.msg)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, outBefore, after, "nothing written")
		})
	}
	require.NoError(t, os.WriteFile(path+SidecarSuffix, orig, 0o644))
	o, err = Open(path, fakeImage{}, Options{})
	require.NoError(t, err, "the untampered sidecar still opens")
	require.NoError(t, o.Close())

	// Not a regular file: refused, not read.
	require.NoError(t, os.Remove(path+SidecarSuffix))
	require.NoError(t, os.Mkdir(path+SidecarSuffix, 0o755))
	_, err = Open(path, fakeImage{}, Options{})
	require.ErrorIs(t, err, ErrStale)
	require.ErrorContains(t, err, "not a regular file")
}

// ptrImage is fakeImage with its regions 1 MiB apart and a tail that
// lists the absolute pointer sites, as Mach-O rebase information and PE
// base relocations do: the tail then follows every pointer that moves.
type ptrImage struct{ fakeImage }

func (ptrImage) RegionSpan() uint64  { return 1 << 20 }
func (ptrImage) ListsPointers() bool { return true }

func (ptrImage) Tail(st *State, fl *FileLayout) (Tail, error) {
	t, err := fakeImage{}.Tail(st, fl)
	if err != nil {
		return nil, err
	}
	ft := t.(*fakeTail)
	sites := pointerSites(st)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(sites)))
	ft.bytes = append(ft.bytes, b[:]...)
	for _, s := range sites {
		binary.LittleEndian.PutUint64(b[:], s)
		ft.bytes = append(ft.bytes, b[:]...)
	}
	return &ptrTail{ft}, nil
}

// ptrTail's symbol count excludes the pointer list after the records.
type ptrTail struct{ *fakeTail }

func (t *ptrTail) Headers(st *State, fl *FileLayout) ([]Chunk, error) {
	hs, err := t.fakeTail.Headers(st, fl)
	if err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint64(hs[0].Data[16:], uint64(len(t.idx)))
	return hs, nil
}

// pointerSites lists the addresses of every Abs64 field and used GOT slot.
func pointerSites(st *State) []uint64 {
	var sites []uint64
	for _, n := range sortedKeys(st.Atoms) {
		a := st.Atoms[n]
		for _, r := range a.Relocs {
			if r.Kind == obj.Abs64 {
				sites = append(sites, a.Addr+r.Offset)
			}
		}
	}
	for i, s := range st.GOT.Slots {
		if s != "" {
			sites = append(sites, st.GOTAddr(i))
		}
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i] < sites[j] })
	return sites
}

// TestPointerListingImage: with an image that lists pointer sites, a move
// of an atom holding a pointer rewrites the tail, so the listed sites are
// the state's after every update; and the image's region span is used.
func TestPointerListingImage(t *testing.T) {
	o, err := NewMemOutput(ptrImage{}, fakeProgram(10, nil), "", Options{})
	require.NoError(t, err)
	require.Equal(t, uint64(1<<20), o.State.Regions[RegROData].Base-o.State.Regions[RegText].Base)
	listed := func() []uint64 {
		data := o.Bytes()
		le := binary.LittleEndian
		off, n := le.Uint64(data[8:]), le.Uint64(data[16:])
		p := off + 32*n
		k := le.Uint64(data[p:])
		var sites []uint64
		for i := uint64(0); i < k; i++ {
			sites = append(sites, le.Uint64(data[p+8+8*i:]))
		}
		return sites
	}
	require.Equal(t, pointerSites(o.State), listed())
	pt, err := o.Update(bigGlobal(fakeProgram(10, nil)), "") // g, which holds &f0, moves
	require.NoError(t, err)
	require.True(t, pt.Pointers)
	require.Equal(t, pointerSites(o.State), listed(), "the listed sites follow the moved pointer")
}
