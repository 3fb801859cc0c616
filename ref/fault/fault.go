// Package fault is the catalogue of deliberate defects that linkcheck can
// plant in its own reference implementation, to prove that every judge
// catches the bug it exists for (fault injection). A Set of faults travels
// in the options of the code generator, the full linker and the
// incremental linker; it is never part of saved state, and the zero Set
// plants nothing.
package fault

import (
	"fmt"
	"sort"
	"strings"
)

// Fault is one seeded defect.
type Fault uint8

// The defects. Each names the component it breaks and what it gets wrong.
const (
	// SeedErrTab is the defect of seed 000 (Zig's "implement error name"
	// commit): the error table stores one offset per name, and the
	// lowering reads the end of error k from offset k, so the last name's
	// end is read from the first bytes of the name blob (ref/obj's
	// ErrorTable and ref/codegen).
	SeedErrTab Fault = iota + 1
	// TrampolineBase computes a trampoline's displacement from the start of
	// the jmp instead of its end (off by 5; ref/incr).
	TrampolineBase
	// SkipGOTRewrite leaves a moved symbol's GOT slot stale (ref/incr).
	SkipGOTRewrite
	// FreeTrampolineSite hands a moved function's whole old slot back to
	// the free list although callers still jump to its trampoline there
	// (ref/incr).
	FreeTrampolineSite
	// StaleSymbols does not rewrite the symbol table when only symbol
	// addresses changed (ref/incr's output file).
	StaleSymbols
	// GrowWithoutMove grows a region without moving the regions after it
	// in the file (ref/incr's output file).
	GrowWithoutMove
	// ChainTrampolines, on a second move, leaves a new trampoline at the
	// previous address and points the first one at it, instead of
	// retargeting the first one (ref/incr). Every value stays right.
	ChainTrampolines
	// KeepTrampolineTarget does not retarget a moved function's trampoline
	// on a later move: it still jumps to a freed slot (ref/incr).
	KeepTrampolineTarget
	// LastAtomOverflow grows the region's last atom in place past its slot
	// when the room after it happens to be free, without reserving it
	// (ref/incr). Every value stays right until something else is placed
	// there.
	LastAtomOverflow
	// LoseAlignment moves an over-aligned function to an address aligned
	// only to 16 bytes (ref/incr). Every value stays right.
	LoseAlignment
	// StaleErrorTable does not regenerate the error table when the error
	// set changes (ref/incr).
	StaleErrorTable
	// PCRelBias computes RIP-relative data references (PCRel32) one byte
	// off in the incremental linker (ref/incr).
	PCRelBias
	// SkipPointerRepatch leaves data pointers (Abs64) whose target moved
	// unpatched (ref/incr). Every value stays right while the pointer is
	// not used.
	SkipPointerRepatch
	// ShrinkNoFill leaves the old bytes past the end of a function that
	// shrank in place instead of filling them with int3 (ref/incr). Every
	// value stays right.
	ShrinkNoFill
	// KeepDeletedSymbol leaves a deleted atom in the symbol table
	// (ref/incr). Every value stays right.
	KeepDeletedSymbol
	// SymtabInfoOffByOne writes the symbol table's sh_info (the index of
	// the first global) one too high (ref/elf). Every value stays right.
	SymtabInfoOffByOne
	// StaleFreeGOTSlot leaves a released GOT slot holding its old
	// symbol's address instead of clearing it (ref/incr). Every value
	// stays right.
	StaleFreeGOTSlot
	// StaleSegmentSize leaves a grown region's program header at its old
	// size (ref/elf).
	StaleSegmentSize
	// LinkBranchBias computes direct calls (Branch32) in the full linker
	// without the addend (ref/link).
	LinkBranchBias
	// LinkPCRelSign computes RIP-relative data references (PCRel32) in the
	// full linker as P - S - A (ref/link).
	LinkPCRelSign
	// WasmWrongCallSymbol points the first direct call's
	// R_WASM_FUNCTION_INDEX_LEB at another function of the same arity
	// (ref/wasmgen).
	WasmWrongCallSymbol
	// WasmUnpaddedLEB writes the first direct call's function index as a
	// 1-byte LEB128 where its relocation claims 5 bytes (ref/wasmgen).
	WasmUnpaddedLEB
	// WasmErrLenOffByOne stores every error-name slice's length one too
	// large (ref/wasmgen).
	WasmErrLenOffByOne
	// WasmTableIndexOffByOne adds 1 to every function address computed in
	// code, the table index (ref/wasmgen).
	WasmTableIndexOffByOne
	// PEMissingBaseReloc leaves the first absolute pointer of a PE image
	// out of its base relocations (ref/coff). Every value stays right
	// while the image is loaded at its preferred base.
	PEMissingBaseReloc
	// PEStaleSizeOfImage writes a SizeOfImage that misses the image's
	// last section (ref/coff).
	PEStaleSizeOfImage
	// MachOMissingRebase leaves the last absolute pointer (or GOT slot) of
	// a Mach-O executable out of its rebase opcodes (ref/macho). Every
	// value stays right while the image is loaded at its preferred address.
	MachOMissingRebase
	// MachOEntryOffset writes LC_MAIN's entryoff without the room of the
	// header pad, 32 bytes before the entry function (ref/macho).
	MachOEntryOffset
	// PEStaleCell leaves the first .refptr cell (GOT slot) of a PE image
	// holding 0 instead of its symbol's address (ref/coff).
	PEStaleCell
	// StalePointerList does not rewrite the tail of an image that lists
	// pointer sites (Mach-O rebase opcodes) when an update adds, moves or
	// removes one (ref/incr's output file). Every value stays right while
	// the image is loaded at its preferred address.
	StalePointerList
	// MachOStaleLinkEdit leaves __LINKEDIT's load commands (its segment,
	// and the rebase, symbol and string tables' offsets) where the regions'
	// first capacities put it: a segment grown without moving __LINKEDIT
	// (ref/macho's incremental image; Zig #9812).
	MachOStaleLinkEdit
	// WasmLinkTableSlot leaves the last slot of the element segment naming
	// the function of the slot before it, a stale table slot (ref/wasm's
	// linker).
	WasmLinkTableSlot
	// WasmLinkDataPointer writes every MEMORY_ADDR_I32 data pointer 4
	// bytes past its target, a wrong relocation bias (ref/wasm's linker).
	WasmLinkDataPointer
	// LinkTPOffUnaligned computes TP offsets in the full linker from the
	// TLS block's end not aligned up to its alignment (ref/link): every
	// TLS access lands off its variable when the block's size is not a
	// multiple of its alignment.
	LinkTPOffUnaligned
	// LinkLocalAsGlobal binds a local symbol's references to a global of
	// the same name that another object defines, when there is one
	// (ref/link's symbol resolution).
	LinkLocalAsGlobal
	// LinkRelaxGOTPCRel relaxes a plain GOTPCRel32 (R_X86_64_GOTPCREL,
	// which only the ...X kinds allow) as if it were a relaxable GOT load:
	// `call [rip+GOT(f)]` becomes `addr32 call f` and loses its slot
	// (ref/link). Every value stays right in a static link.
	LinkRelaxGOTPCRel
	// LinkAbsoluteRebased gives an absolute symbol (SHN_ABS) the image
	// base plus its value as its address, as if it were relative to the
	// image (ref/link).
	LinkAbsoluteRebased
	// LinkFDEPCBias writes every FDE's initial location in the merged
	// .eh_frame one byte past its function's start (ref/link): the
	// unwinder then finds no frame for the function's first byte and a
	// wrong one elsewhere. Every value a program computes stays right.
	LinkFDEPCBias
	// LinkEHFrameHdrUnsorted writes .eh_frame_hdr's search table in
	// .eh_frame's order instead of sorted by initial location (ref/link):
	// the unwinder's binary search misses FDEs. Every value stays right.
	LinkEHFrameHdrUnsorted
	numFaults
)

var names = [...]string{
	SeedErrTab:             "seed-errtab",
	TrampolineBase:         "trampoline-base",
	SkipGOTRewrite:         "skip-got-rewrite",
	FreeTrampolineSite:     "free-trampoline-site",
	StaleSymbols:           "stale-symbols",
	GrowWithoutMove:        "grow-without-move",
	ChainTrampolines:       "chain-trampolines",
	KeepTrampolineTarget:   "keep-trampoline-target",
	LastAtomOverflow:       "last-atom-overflow",
	LoseAlignment:          "lose-alignment",
	StaleErrorTable:        "stale-error-table",
	PCRelBias:              "pcrel-bias",
	SkipPointerRepatch:     "skip-pointer-repatch",
	ShrinkNoFill:           "shrink-no-fill",
	KeepDeletedSymbol:      "keep-deleted-symbol",
	SymtabInfoOffByOne:     "symtab-info-off-by-one",
	StaleFreeGOTSlot:       "stale-free-got-slot",
	StaleSegmentSize:       "stale-segment-size",
	LinkBranchBias:         "link-branch-bias",
	LinkPCRelSign:          "link-pcrel-sign",
	WasmWrongCallSymbol:    "wasm-wrong-call-symbol",
	WasmUnpaddedLEB:        "wasm-unpadded-leb",
	WasmErrLenOffByOne:     "wasm-errlen-off-by-one",
	WasmTableIndexOffByOne: "wasm-table-index-off-by-one",
	PEMissingBaseReloc:     "pe-missing-base-reloc",
	PEStaleSizeOfImage:     "pe-stale-size-of-image",
	MachOMissingRebase:     "macho-missing-rebase",
	MachOEntryOffset:       "macho-entry-offset",
	PEStaleCell:            "pe-stale-cell",
	StalePointerList:       "stale-pointer-list",
	MachOStaleLinkEdit:     "macho-stale-linkedit",
	WasmLinkTableSlot:      "wasm-link-table-slot",
	WasmLinkDataPointer:    "wasm-link-data-pointer",
	LinkTPOffUnaligned:     "link-tpoff-unaligned",
	LinkLocalAsGlobal:      "link-local-as-global",
	LinkRelaxGOTPCRel:      "link-relax-gotpcrel",
	LinkAbsoluteRebased:    "link-absolute-rebased",
	LinkFDEPCBias:          "link-fde-pc-bias",
	LinkEHFrameHdrUnsorted: "link-eh-frame-hdr-unsorted",
}

var descriptions = [...]string{
	SeedErrTab:             "error table: the end of the last name read past the offsets (seed 000)",
	TrampolineBase:         "trampoline displacement computed from the start of the jmp",
	SkipGOTRewrite:         "GOT slot left stale after its symbol moved",
	FreeTrampolineSite:     "a moved function's trampoline site freed while callers still jump to it",
	StaleSymbols:           "symbol table not rewritten when only addresses changed",
	GrowWithoutMove:        "region grown without moving the regions after it in the file",
	ChainTrampolines:       "trampolines chained through a second one instead of retargeted",
	KeepTrampolineTarget:   "trampoline not retargeted after a second move",
	LastAtomOverflow:       "the region's last atom grown past its slot without reserving the room",
	LoseAlignment:          "over-aligned function moved to a 16-byte-aligned address",
	StaleErrorTable:        "error table not regenerated when the error set changed",
	PCRelBias:              "RIP-relative data reference one byte off (incremental)",
	SkipPointerRepatch:     "data pointer not re-patched after its target moved",
	ShrinkNoFill:           "stale code left after a function shrank in place",
	KeepDeletedSymbol:      "a deleted atom's symbol left in the symbol table",
	SymtabInfoOffByOne:     "symbol table sh_info (first global) off by one",
	StaleFreeGOTSlot:       "a released GOT slot left holding its old symbol's address",
	StaleSegmentSize:       "a grown region's program header left at its old size",
	LinkBranchBias:         "full linker: direct calls computed without the addend",
	LinkPCRelSign:          "full linker: RIP-relative references with the sign flipped",
	WasmWrongCallSymbol:    "wasm: a call's function-index relocation names the wrong function",
	WasmUnpaddedLEB:        "wasm: an unpadded LEB where a relocation sits",
	WasmErrLenOffByOne:     "wasm: error-name slice lengths one too large",
	WasmTableIndexOffByOne: "wasm: function addresses (table indexes) one too large",
	PEMissingBaseReloc:     "pe: an absolute pointer missing from the base relocations",
	PEStaleSizeOfImage:     "pe: SizeOfImage misses the last section",
	MachOMissingRebase:     "macho: a pointer missing from the rebase opcodes",
	MachOEntryOffset:       "macho: LC_MAIN's entry offset 32 bytes short (the header pad)",
	PEStaleCell:            "pe: a .refptr cell (GOT slot) left holding 0",
	StalePointerList:       "rebase opcodes not rewritten when a pointer moved, was added or removed",
	MachOStaleLinkEdit:     "macho: a segment grown without moving __LINKEDIT",
	WasmLinkTableSlot:      "wasm linker: the last table slot names the function of the slot before it",
	WasmLinkDataPointer:    "wasm linker: MEMORY_ADDR_I32 data pointers 4 bytes past their target",
	LinkTPOffUnaligned:     "full linker: TP offsets from the unaligned end of the TLS block",
	LinkLocalAsGlobal:      "full linker: a local resolved to a same-named global of another object",
	LinkRelaxGOTPCRel:      "full linker: GOT relaxation of a plain GOTPCREL, where it must not happen",
	LinkAbsoluteRebased:    "full linker: an absolute symbol's value taken relative to the image base",
	LinkFDEPCBias:          "full linker: every FDE's initial location one byte past its function",
	LinkEHFrameHdrUnsorted: "full linker: .eh_frame_hdr's search table not sorted by initial location",
}

// Description says in one line what the defect gets wrong.
func (f Fault) Description() string {
	if f > 0 && f < numFaults {
		return descriptions[f]
	}
	return ""
}

// keepsValues lists the faults after which every computed value stays
// right: only the structural invariants can catch them.
var keepsValues = map[Fault]bool{
	ChainTrampolines: true, LastAtomOverflow: true, LoseAlignment: true, SkipPointerRepatch: true,
	ShrinkNoFill: true, KeepDeletedSymbol: true, SymtabInfoOffByOne: true, StaleFreeGOTSlot: true,
	StaleSymbols: true, PEMissingBaseReloc: true, MachOMissingRebase: true, StalePointerList: true,
	LinkRelaxGOTPCRel: true, LinkFDEPCBias: true, LinkEHFrameHdrUnsorted: true,
}

// KeepsValues reports whether every value a program computes stays right
// under f: only structural checks can catch it.
func (f Fault) KeepsValues() bool { return keepsValues[f] }

// scopes names the format a defect lives in when it is not the x86_64
// formats' shared machinery (code generator, ELF, incremental core, full
// linker), which the incremental ELF fuzz targets exercise.
var scopes = map[Fault]string{
	WasmWrongCallSymbol: "wasm", WasmUnpaddedLEB: "wasm", WasmErrLenOffByOne: "wasm", WasmTableIndexOffByOne: "wasm",
	PEMissingBaseReloc: "coff", PEStaleSizeOfImage: "coff",
	MachOMissingRebase: "macho", MachOEntryOffset: "macho",
	PEStaleCell: "coff", StalePointerList: "macho", MachOStaleLinkEdit: "macho",
	WasmLinkTableSlot: "wasm", WasmLinkDataPointer: "wasm",
	LinkTPOffUnaligned: "elf-tls", LinkFDEPCBias: "elf-eh", LinkEHFrameHdrUnsorted: "elf-eh",
	LinkLocalAsGlobal: "link", LinkRelaxGOTPCRel: "link", LinkAbsoluteRebased: "link",
}

// Scope is where the defect lives: "elf" for the x86_64 code generator,
// the ELF formats and the shared linkers (what the incremental ELF fuzz
// targets exercise), "link" for the full linker on inputs that only the
// full-link fuzz target makes (several units with disguised objects:
// shadowed locals, absolute symbols; calls through the GOT;
// FuzzRefLinker), both of which `linkcheck selftest` tries by default, a
// format name ("wasm", "macho", "coff") whose own tests catch it, or
// "elf-tls" for the static ELF linker's thread-local storage, which no
// .lir program has (oracle/pipeline's TLS tests catch it), or "elf-eh"
// for its .eh_frame and .eh_frame_hdr, which no .lir program has either
// (oracle/pipeline's .eh_frame tests catch it).
func (f Fault) Scope() string {
	if s, ok := scopes[f]; ok {
		return s
	}
	return "elf"
}

// String returns the fault's catalogue name.
func (f Fault) String() string {
	if f > 0 && f < numFaults {
		return names[f]
	}
	return fmt.Sprintf("fault(%d)", uint8(f))
}

// All lists every fault of the catalogue, in order.
func All() []Fault {
	fs := make([]Fault, 0, numFaults-1)
	for f := Fault(1); f < numFaults; f++ {
		fs = append(fs, f)
	}
	return fs
}

// Parse returns the fault with the given catalogue name.
func Parse(name string) (Fault, error) {
	for _, f := range All() {
		if f.String() == name {
			return f, nil
		}
	}
	known := make([]string, 0, numFaults)
	for _, f := range All() {
		known = append(known, f.String())
	}
	sort.Strings(known)
	return 0, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(known, ", "))
}

// Set is a set of faults; the zero value is empty.
type Set uint64

// Of returns the set of the given faults.
func Of(fs ...Fault) Set {
	var s Set
	for _, f := range fs {
		s |= 1 << f
	}
	return s
}

// Has reports whether f is in the set.
func (s Set) Has(f Fault) bool { return s&(1<<f) != 0 }

// String lists the set's faults by name, comma-separated ("" when empty).
func (s Set) String() string {
	var parts []string
	for _, f := range All() {
		if s.Has(f) {
			parts = append(parts, f.String())
		}
	}
	return strings.Join(parts, ",")
}
