package macho

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// decodeRebases runs rebase opcodes (the forms encodeRebases writes) over
// the segments and returns the rebased addresses.
func decodeRebases(t *testing.T, ops []byte, segs []*macho.Segment) []uint64 {
	t.Helper()
	var sites []uint64
	p := 0
	uleb := func() uint64 {
		var v uint64
		for shift := uint(0); ; shift += 7 {
			require.Less(t, p, len(ops), "truncated ULEB128")
			b := ops[p]
			p++
			v |= uint64(b&0x7f) << shift
			if b&0x80 == 0 {
				return v
			}
		}
	}
	var addr uint64
	do := func(n, step uint64) {
		for ; n > 0; n-- {
			sites = append(sites, addr)
			addr += step
		}
	}
	for p < len(ops) {
		op := ops[p]
		p++
		imm := uint64(op & rebaseImmMask)
		switch op &^ rebaseImmMask {
		case 0:
			return sites
		case rebaseSetTypeImm:
			require.Equal(t, uint64(rebaseTypePointer), imm)
		case rebaseSetSegOffULEB:
			addr = segs[imm].Addr + uleb()
		case rebaseAddAddrULEB:
			addr += uleb()
		case rebaseAddAddrImmScal:
			addr += 8 * imm
		case rebaseDoImmTimes:
			do(imm, 8)
		case rebaseDoULEBTimes:
			do(uleb(), 8)
		case rebaseDoAddAddrULEB:
			do(1, uleb()+8)
		case rebaseDoULEBSkipULEB:
			n := uleb()
			do(n, uleb()+8)
		default:
			t.Fatalf("unknown rebase opcode %#x", op)
		}
	}
	t.Fatal("no REBASE_OPCODE_DONE")
	return nil
}

// TestIncrImage links corpus/updates/mechanisms incrementally, in memory,
// under both policies, and reads every version back with debug/macho:
// the segments in region order with __LINKEDIT right after the last
// region in the file, the entry, every atom's symbol at its address in
// its region's section, and rebase opcodes that list exactly the absolute
// pointer fields and used GOT slots of the state.
func TestIncrImage(t *testing.T) {
	var srcs [][]byte
	for i := 1; ; i++ {
		b, err := os.ReadFile(filepath.Join("../../corpus/updates/mechanisms", fmt.Sprintf("v%d.lir", i)))
		if os.IsNotExist(err) {
			break
		}
		require.NoError(t, err)
		srcs = append(srcs, b)
	}
	require.Greater(t, len(srcs), 2)
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			var o *incr.Output
			for i, src := range srcs {
				m, err := ir.Parse("v.lir", src)
				require.NoError(t, err)
				p, err := codegen.CompileWith(m, obj.MachO, codegen.Options{CallsViaGOT: policy == incr.ThroughGOT})
				require.NoError(t, err)
				if i == 0 {
					o, err = incr.NewMemOutput(IncrImage{}, p, "", incr.Options{Policy: policy})
				} else {
					_, err = o.Update(p, "")
				}
				require.NoError(t, err, "v%d", i+1)
				checkIncrFile(t, o.Bytes(), o.State)
			}
		})
	}
}

func checkIncrFile(t *testing.T, data []byte, st *incr.State) {
	t.Helper()
	f, err := macho.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	var segs []*macho.Segment
	var ldyld []byte
	var entry uint64
	for _, l := range f.Loads {
		switch l := l.(type) {
		case *macho.Segment:
			segs = append(segs, l)
		default:
			raw := l.Raw()
			switch binary.LittleEndian.Uint32(raw) {
			case lcDyldInfoOnly:
				ldyld = raw
			case lcMain:
				entry = ExeImageBase + binary.LittleEndian.Uint64(raw[8:])
			}
		}
	}
	names := []string{segPageZero}
	for _, n := range incr.RegionOrder {
		names = append(names, incrRegions[n].seg)
	}
	names = append(names, segLinkEdit)
	require.Len(t, segs, len(names))
	var fileEnd uint64
	for i, s := range segs {
		require.Equal(t, names[i], s.Name)
		if s.Filesz > 0 && s.Name != segLinkEdit {
			fileEnd = max(fileEnd, s.Offset+s.Filesz)
		}
	}
	link := segs[len(segs)-1]
	require.Equal(t, fileEnd, link.Offset, "__LINKEDIT follows the last region")
	require.Equal(t, uint64(len(data)), link.Offset+link.Filesz, "the file ends with __LINKEDIT")
	require.Equal(t, st.Atoms[st.Entry].Addr, entry)

	// Symbols: every atom at its address, in its region's section.
	got := map[string]macho.Symbol{}
	for _, s := range f.Symtab.Syms {
		got[s.Name] = s
	}
	require.Len(t, got, len(st.Atoms)+1, "the atoms and __mh_execute_header")
	for n, a := range st.Atoms {
		s, ok := got["_"+n]
		require.True(t, ok, n)
		require.Equal(t, a.Addr, s.Value, n)
		require.Equal(t, sectionOrdinal(incr.RegionFor(a.Kind)), s.Sect, n)
		sec := f.Sections[s.Sect-1]
		require.True(t, a.Addr >= sec.Addr && a.Addr+a.Size <= sec.Addr+sec.Size, "%s in %s", n, sec.Name)
	}

	// Rebase opcodes: exactly the pointer fields and used GOT slots.
	var want []uint64
	for _, a := range st.Atoms {
		for _, r := range a.Relocs {
			if r.Kind == obj.Abs64 {
				want = append(want, a.Addr+r.Offset)
			}
		}
	}
	for i, s := range st.GOT.Slots {
		if s != "" {
			want = append(want, st.GOTAddr(i))
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	require.NotNil(t, ldyld)
	off, size := binary.LittleEndian.Uint32(ldyld[8:]), binary.LittleEndian.Uint32(ldyld[12:])
	var sites []uint64
	if size > 0 {
		sites = decodeRebases(t, data[off:off+size], segs)
	}
	require.Equal(t, want, sites)
}
