package invariant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The Mach-O reading of the invariants: segments from LC_SEGMENT_64 (the
// one at file offset 0 holds the headers before its first section;
// __LINKEDIT holds only tables), sections (S_NON_LAZY_SYMBOL_POINTERS
// hold GOT slots, zerofill ones no bytes), symbols from LC_SYMTAB without
// the leading underscore and no sizes, the entry from LC_MAIN. Its own
// checks: LC_DYSYMTAB's groups (locals, then defined externals), each
// symbol's n_sect, the indirect symbols of the GOT, every table inside
// __LINKEDIT, and the rebase opcodes, which must list exactly the
// absolute pointer fields of the version's atoms and the GOT slots its
// references use — a pointer missing from them keeps its value only
// while the image is loaded where it was linked.

// Mach-O values read here.
const (
	machoMagic64       = 0xfeedfacf
	machoCPUX86_64     = 0x01000007
	machoExecute       = 2
	machoLCSegment64   = 0x19
	machoLCSymtab      = 0x2
	machoLCDysymtab    = 0xb
	machoLCDyldInfo    = 0x22
	machoLCDyldInfoOnl = 0x80000022
	machoLCMain        = 0x80000028
	machoSectionType   = 0xff
	machoZerofill      = 0x1
	machoGBZerofill    = 0xc
	machoNonLazyPtrs   = 0x6
	machoNStab         = 0xe0
	machoNType         = 0x0e
	machoNSect         = 0x0e
	machoNExt          = 0x01
	machoNPext         = 0x10
	machoIndirectLocal = 0x80000000
	machoIndirectAbs   = 0x40000000
	machoNlistSize     = 16
	// machoMaxSymbols bounds the symbol table read.
	machoMaxSymbols = 1 << 24
)

// machoSection is a section header with its ordinal's data.
type machoSection struct {
	section
	typ       uint32
	reserved1 uint32
	seg       string
}

// machoFile is what the Mach-O checks need beyond the neutral image.
type machoFile struct {
	sects                         []machoSection // by ordinal - 1
	segs                          []segment      // every LC_SEGMENT_64, in order (rebase segment indexes)
	nlocal, iext, next, iund, nun uint32
	nsyms                         uint32
	haveDysymtab                  bool
	indirect                      []uint32
	rebase                        []byte
	rebaseOff, rebaseSize         uint64
	symOff, strOff, strSize       uint64
	indirectOff                   uint64
	syms                          []machoSym // every entry, in table order
	badNames                      int        // entries whose name is past the strings
}

type machoSym struct {
	name  string
	typ   uint8
	sect  uint8
	value uint64
}

// readMachO reads an x86_64 MH_EXECUTE.
func readMachO(exe []byte) (*image, error) {
	le := binary.LittleEndian
	if len(exe) < 32 || le.Uint32(exe) != machoMagic64 {
		return nil, errors.New("not a little-endian 64-bit Mach-O file")
	}
	if le.Uint32(exe[4:]) != machoCPUX86_64 || le.Uint32(exe[12:]) != machoExecute {
		return nil, errors.New("not an x86_64 MH_EXECUTE")
	}
	ncmds, sizeofcmds := le.Uint32(exe[16:]), uint64(le.Uint32(exe[20:]))
	if 32+sizeofcmds > uint64(len(exe)) {
		return nil, fmt.Errorf("load commands (%#x bytes) run past the end of the file", sizeofcmds)
	}
	im := &image{data: exe, linkerNames: map[string]bool{"_mh_execute_header": true}}
	mf := &machoFile{}
	var textAddr, entryOff uint64
	haveMain, haveSymtab := false, false
	off, end := uint64(32), 32+sizeofcmds
	for i := uint32(0); i < ncmds; i++ {
		if off+8 > end {
			return nil, fmt.Errorf("load command %d at %#x runs past sizeofcmds", i, off)
		}
		cmd, size := le.Uint32(exe[off:]), uint64(le.Uint32(exe[off+4:]))
		if size < 8 || off+size > end {
			return nil, fmt.Errorf("load command %d at %#x: cmdsize %d out of bounds", i, off, size)
		}
		c := exe[off : off+size]
		switch cmd {
		case machoLCSegment64:
			if len(c) < 72 {
				return nil, fmt.Errorf("load command %d: LC_SEGMENT_64 of %d bytes", i, len(c))
			}
			name := string(bytes.TrimRight(c[8:24], "\x00"))
			s := segment{name: name, vaddr: le.Uint64(c[24:]), memsz: le.Uint64(c[32:]), off: le.Uint64(c[40:]), filesz: le.Uint64(c[48:])}
			prot := le.Uint32(c[60:])
			s.exec = prot&4 != 0
			s.tables = name == "__LINKEDIT"
			nsects := uint64(le.Uint32(c[64:]))
			if 72+nsects*80 > uint64(len(c)) {
				return nil, fmt.Errorf("segment %s: %d section headers do not fit its command", name, nsects)
			}
			s.body = s.vaddr
			for k := uint64(0); k < nsects; k++ {
				h := c[72+k*80:]
				ms := machoSection{seg: name, typ: le.Uint32(h[64:]) & machoSectionType, reserved1: le.Uint32(h[68:])}
				ms.name = string(bytes.TrimRight(h[16:32], "\x00")) + "," + string(bytes.TrimRight(h[0:16], "\x00"))
				ms.addr, ms.size, ms.off = le.Uint64(h[32:]), le.Uint64(h[40:]), uint64(le.Uint32(h[48:]))
				ms.nobits = ms.typ == machoZerofill || ms.typ == machoGBZerofill
				ms.got = ms.typ == machoNonLazyPtrs
				if k == 0 && s.off == 0 && s.filesz > 0 {
					s.body = ms.addr // the headers come first
				}
				mf.sects = append(mf.sects, ms)
				if prot != 0 {
					im.secs = append(im.secs, ms.section)
				}
			}
			if s.off == 0 && s.filesz > 0 && nsects == 0 {
				s.body = 0 // headers only
			}
			if name == "__TEXT" {
				textAddr = s.vaddr
			}
			mf.segs = append(mf.segs, s)
			if prot != 0 || s.tables {
				im.segs = append(im.segs, s)
			}
		case machoLCSymtab:
			if len(c) < 24 {
				return nil, fmt.Errorf("load command %d: LC_SYMTAB of %d bytes", i, len(c))
			}
			mf.symOff, mf.nsyms = uint64(le.Uint32(c[8:])), le.Uint32(c[12:])
			mf.strOff, mf.strSize = uint64(le.Uint32(c[16:])), uint64(le.Uint32(c[20:]))
			haveSymtab = true
		case machoLCDysymtab:
			if len(c) < 80 {
				return nil, fmt.Errorf("load command %d: LC_DYSYMTAB of %d bytes", i, len(c))
			}
			u := func(k int) uint32 { return le.Uint32(c[8+4*k:]) }
			if u(0) != 0 {
				mf.nlocal = 1 << 31 // reported by checkMachO
			} else {
				mf.nlocal = u(1)
			}
			mf.iext, mf.next, mf.iund, mf.nun = u(2), u(3), u(4), u(5)
			mf.indirectOff = uint64(u(12))
			n := uint64(u(13))
			if mf.indirectOff+4*n > uint64(len(exe)) || n > machoMaxSymbols {
				return nil, fmt.Errorf("LC_DYSYMTAB: %d indirect symbols at %#x run past the end of the file", n, mf.indirectOff)
			}
			for k := uint64(0); k < n; k++ {
				mf.indirect = append(mf.indirect, le.Uint32(exe[mf.indirectOff+4*k:]))
			}
			mf.haveDysymtab = true
		case machoLCDyldInfo, machoLCDyldInfoOnl:
			if len(c) < 48 {
				return nil, fmt.Errorf("load command %d: LC_DYLD_INFO of %d bytes", i, len(c))
			}
			mf.rebaseOff, mf.rebaseSize = uint64(le.Uint32(c[8:])), uint64(le.Uint32(c[12:]))
			if mf.rebaseOff+mf.rebaseSize > uint64(len(exe)) {
				return nil, fmt.Errorf("rebase opcodes [%#x, +%#x) run past the end of the file", mf.rebaseOff, mf.rebaseSize)
			}
			mf.rebase = exe[mf.rebaseOff : mf.rebaseOff+mf.rebaseSize]
		case machoLCMain:
			if len(c) < 24 {
				return nil, fmt.Errorf("load command %d: LC_MAIN of %d bytes", i, len(c))
			}
			entryOff, haveMain = le.Uint64(c[8:]), true
		}
		off += size
	}
	if !haveMain {
		return nil, errors.New("no LC_MAIN")
	}
	im.entry = textAddr + entryOff
	if !haveSymtab {
		return nil, errors.New("no LC_SYMTAB")
	}
	if mf.nsyms > machoMaxSymbols || mf.symOff+uint64(mf.nsyms)*machoNlistSize > uint64(len(exe)) || mf.strOff+mf.strSize > uint64(len(exe)) {
		return nil, fmt.Errorf("symbol table (%d entries at %#x) or strings [%#x, +%#x) run past the end of the file", mf.nsyms, mf.symOff, mf.strOff, mf.strSize)
	}
	strs := exe[mf.strOff : mf.strOff+mf.strSize]
	for k := uint64(0); k < uint64(mf.nsyms); k++ {
		e := exe[mf.symOff+k*machoNlistSize:]
		strx := uint64(le.Uint32(e))
		if strx >= uint64(len(strs)) {
			// A table read from the wrong place (stale LC_SYMTAB
			// offsets): what it names is reported as missing.
			mf.badNames++
			mf.syms = append(mf.syms, machoSym{typ: machoNStab})
			continue
		}
		name := strs[strx:]
		if n := bytes.IndexByte(name, 0); n >= 0 {
			name = name[:n]
		}
		ms := machoSym{name: string(name), typ: e[4], sect: e[5], value: le.Uint64(e[8:])}
		mf.syms = append(mf.syms, ms)
		if ms.typ&machoNStab != 0 || ms.typ&machoNType != machoNSect || ms.name == "" {
			continue
		}
		n := ms.name
		if n[0] == '_' {
			n = n[1:]
		}
		local := ms.typ&machoNExt == 0 || ms.typ&machoNPext != 0
		im.list = append(im.list, symbol{name: n, value: ms.value, local: local, index: int(k)})
	}
	im.check = func(im *image, atoms map[string]*obj.Atom, pointers, gotSlots map[uint64]string, add addFunc) {
		checkMachO(im, mf, pointers, gotSlots, add)
	}
	return im, nil
}

// checkMachO runs the Mach-O checks.
func checkMachO(im *image, mf *machoFile, pointers, gotSlots map[uint64]string, add addFunc) {
	// Every table lies inside __LINKEDIT.
	var link *segment
	for i := range mf.segs {
		if mf.segs[i].tables {
			link = &mf.segs[i]
		}
	}
	tables := []struct {
		what     string
		off, len uint64
	}{
		{"the rebase opcodes", mf.rebaseOff, mf.rebaseSize},
		{"the symbol table", mf.symOff, uint64(mf.nsyms) * machoNlistSize},
		{"the strings", mf.strOff, mf.strSize},
		{"the indirect symbols", mf.indirectOff, 4 * uint64(len(mf.indirect))},
	}
	for _, t := range tables {
		if t.len == 0 {
			continue
		}
		if link == nil {
			add(5, "", 0, "%s [%#x, +%#x) and no __LINKEDIT segment", t.what, t.off, t.len)
			continue
		}
		if t.off < link.off || t.off+t.len > link.off+link.filesz {
			add(5, "", 0, "%s [%#x, +%#x) are not inside __LINKEDIT [%#x, +%#x)", t.what, t.off, t.len, link.off, link.filesz)
		}
	}

	if mf.badNames > 0 {
		add(6, "", 0, "%d of the %d symbol table entries at %#x have names past the strings [%#x, +%#x)", mf.badNames, mf.nsyms, mf.symOff, mf.strOff, mf.strSize)
	}

	// LC_DYSYMTAB: the locals, then the defined externals, then the
	// undefined ones (none in a static executable).
	if !mf.haveDysymtab {
		add(6, "", 0, "no LC_DYSYMTAB")
	} else {
		switch {
		case mf.nlocal == 1<<31:
			add(6, "", 0, "LC_DYSYMTAB: the locals do not start at index 0")
		case mf.iext != mf.nlocal || mf.iund != mf.iext+mf.next || uint64(mf.iund)+uint64(mf.nun) != uint64(mf.nsyms):
			add(6, "", 0, "LC_DYSYMTAB groups (locals %d, externals %d at %d, undefined %d at %d) do not cover the %d symbols in order",
				mf.nlocal, mf.next, mf.iext, mf.nun, mf.iund, mf.nsyms)
		default:
			for k, s := range mf.syms {
				if s.typ&machoNStab != 0 {
					continue
				}
				ext := s.typ&machoNExt != 0
				if uint32(k) < mf.nlocal && ext && s.typ&machoNPext == 0 {
					add(6, s.name, s.value, "an external symbol among LC_DYSYMTAB's locals (index %d)", k)
				}
				if uint32(k) >= mf.iext && uint32(k) < mf.iund && !ext {
					add(6, s.name, s.value, "a local symbol among LC_DYSYMTAB's defined externals (index %d)", k)
				}
			}
		}
	}
	// n_sect names the section holding the symbol.
	for _, s := range mf.syms {
		if s.typ&machoNStab != 0 || s.typ&machoNType != machoNSect || im.reserved(trimUnderscore(s.name)) {
			continue
		}
		if s.sect == 0 || int(s.sect) > len(mf.sects) {
			add(6, s.name, s.value, "n_sect %d: no such section", s.sect)
			continue
		}
		sec := mf.sects[s.sect-1]
		if s.value < sec.addr || s.value > sec.addr+sec.size {
			add(6, s.name, s.value, "n_sect %d is %s [%#x, %#x), which does not hold the symbol", s.sect, sec.name, sec.addr, sec.addr+sec.size)
		}
	}
	// The GOT's indirect symbols: each used slot's entry names its
	// symbol (or is INDIRECT_SYMBOL_LOCAL).
	for _, sec := range mf.sects {
		if !sec.got {
			continue
		}
		n := sec.size / 8
		if uint64(sec.reserved1)+n > uint64(len(mf.indirect)) {
			add(3, "", sec.addr, "%s: %d slots from indirect symbol %d, the table has %d", sec.name, n, sec.reserved1, len(mf.indirect))
			continue
		}
		for k := uint64(0); k < n; k++ {
			slot := sec.addr + 8*k
			want, used := gotSlots[slot]
			v := mf.indirect[uint64(sec.reserved1)+k]
			if !used || v&machoIndirectLocal != 0 {
				continue
			}
			if v >= uint32(len(mf.syms)) || trimUnderscore(mf.syms[v].name) != want {
				add(3, want, slot, "the slot's indirect symbol is entry %d, not %s", v, want)
			}
		}
	}
	checkRebases(mf, pointers, gotSlots, add)
}

// checkRebases runs the rebase opcodes and compares what they rebase with
// the pointer fields and used GOT slots.
func checkRebases(mf *machoFile, pointers, gotSlots map[uint64]string, add addFunc) {
	sites, err := machoRebaseSites(mf)
	if err != nil {
		add(5, "", 0, "rebase opcodes: %v", err)
	}
	listed := make(map[uint64]bool, len(sites))
	for _, a := range sites {
		listed[a] = true
	}
	var missing []uint64
	for a := range pointers {
		if !listed[a] {
			missing = append(missing, a)
		}
	}
	for a := range gotSlots {
		if !listed[a] {
			missing = append(missing, a)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	for _, a := range missing {
		if where, ok := pointers[a]; ok {
			add(6, "", a, "%s holds a pointer that the rebase opcodes do not list", where)
		} else {
			add(3, gotSlots[a], a, "GOT slot of %s is not in the rebase opcodes", gotSlots[a])
		}
	}
	for _, a := range sites {
		if _, ok := pointers[a]; !ok {
			if _, ok := gotSlots[a]; !ok {
				add(5, "", a, "rebased, but no atom holds a pointer there and no reference uses a GOT slot there")
			}
		}
	}
}

// machoRebaseSites runs the rebase opcodes: every address they rebase, in
// order. An opcode that cannot be followed is an error.
func machoRebaseSites(mf *machoFile) ([]uint64, error) {
	ops := mf.rebase
	var sites []uint64
	p := 0
	uleb := func() (uint64, error) {
		var v uint64
		for shift := uint(0); p < len(ops); shift += 7 {
			b := ops[p]
			p++
			if shift < 64 {
				v |= uint64(b&0x7f) << shift
			}
			if b&0x80 == 0 {
				return v, nil
			}
		}
		return 0, errors.New("truncated ULEB128")
	}
	seg := -1
	var addr uint64
	limit := 1 << 24
	rebase := func(n, step uint64) error {
		for ; n > 0; n-- {
			if seg < 0 {
				return errors.New("a rebase before SET_SEGMENT_AND_OFFSET")
			}
			s := mf.segs[seg]
			if addr < s.vaddr || addr+8 > s.vaddr+s.filesz {
				return fmt.Errorf("a rebase at %#x outside segment %s's contents", addr, s.name)
			}
			if len(sites) >= limit {
				return errors.New("too many rebases")
			}
			sites = append(sites, addr)
			addr += step
		}
		return nil
	}
	for p < len(ops) {
		op := ops[p]
		p++
		imm := uint64(op & 0x0f)
		var err error
		switch op & 0xf0 {
		case 0x00: // DONE
			return sites, nil
		case 0x10: // SET_TYPE_IMM
			if imm != 1 {
				return sites, fmt.Errorf("rebase type %d is not a pointer", imm)
			}
		case 0x20: // SET_SEGMENT_AND_OFFSET_ULEB
			var v uint64
			if v, err = uleb(); err == nil {
				if imm >= uint64(len(mf.segs)) {
					return sites, fmt.Errorf("segment %d of %d", imm, len(mf.segs))
				}
				seg, addr = int(imm), mf.segs[imm].vaddr+v
			}
		case 0x30: // ADD_ADDR_ULEB
			var v uint64
			if v, err = uleb(); err == nil {
				addr += v
			}
		case 0x40: // ADD_ADDR_IMM_SCALED
			addr += imm * 8
		case 0x50: // DO_REBASE_IMM_TIMES
			err = rebase(imm, 8)
		case 0x60: // DO_REBASE_ULEB_TIMES
			var n uint64
			if n, err = uleb(); err == nil {
				err = rebase(n, 8)
			}
		case 0x70: // DO_REBASE_ADD_ADDR_ULEB
			var v uint64
			if v, err = uleb(); err == nil {
				err = rebase(1, v+8)
			}
		case 0x80: // DO_REBASE_ULEB_TIMES_SKIPPING_ULEB
			var n, skip uint64
			if n, err = uleb(); err == nil {
				if skip, err = uleb(); err == nil {
					err = rebase(n, skip+8)
				}
			}
		default:
			err = fmt.Errorf("unknown opcode %#x at %d", op, p-1)
		}
		if err != nil {
			return sites, err
		}
	}
	if len(ops) > 0 {
		return sites, errors.New("no REBASE_OPCODE_DONE")
	}
	return sites, nil
}

func trimUnderscore(s string) string {
	if len(s) > 0 && s[0] == '_' {
		return s[1:]
	}
	return s
}
