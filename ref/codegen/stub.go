package codegen

import (
	"fmt"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/x86"
)

// Syscall numbers used by the entry stubs.
const (
	linuxWrite  = 1
	linuxExit   = 60
	darwinWrite = 0x2000004
	darwinExit  = 0x2000001
)

// EntryStub returns the entry stub for a format. It calls main and hands the
// 64-bit result to the outside world so that every execution oracle sees the
// same value:
//
//   - elf: write(1, &result, 8) then exit(0), with Linux syscall numbers;
//   - macho: the same with Darwin's syscall numbers;
//   - coff: return the result from the entry point (the process exit code
//     is its low 32 bits; an emulator reads all of RAX).
func EntryStub(format obj.Format) (*obj.Atom, error) { return entryStub(format, Options{}) }

func entryStub(format obj.Format, opts Options) (*obj.Atom, error) {
	g := &fn{name: EntrySymbol, env: &Env{CallsViaGOT: opts.CallsViaGOT}}
	switch format {
	case obj.ELF, obj.MachO:
		write, exit := int64(linuxWrite), int64(linuxExit)
		if format == obj.MachO {
			write, exit = darwinWrite, darwinExit
		}
		g.stubCall(MainSymbol)
		g.emit("push", x86.RAX)
		g.emit("mov", x86.EAX, x86.Imm(write))
		g.emit("mov", x86.EDI, x86.Imm(1))
		g.emit("mov", x86.RSI, x86.RSP)
		g.emit("mov", x86.EDX, x86.Imm(8))
		g.emit("syscall")
		g.emit("mov", x86.EAX, x86.Imm(exit))
		g.emit("xor", x86.EDI, x86.EDI)
		g.emit("syscall")
		g.emit("ud2")
	case obj.COFF:
		// Keep the Windows x64 ABI's 32-byte shadow space and 16-byte
		// alignment at the call, as a C entry point would.
		g.emit("sub", x86.RSP, x86.Imm(40))
		g.stubCall(MainSymbol)
		g.emit("add", x86.RSP, x86.Imm(40))
		g.emit("ret")
	default:
		return nil, fmt.Errorf("codegen: no x86_64 entry stub for format %q", format)
	}
	if g.err != nil {
		return nil, fmt.Errorf("codegen: entry stub: %w", g.err)
	}
	return &obj.Atom{Name: EntrySymbol, Kind: obj.Text, Align: DefaultFuncAlign, Data: g.code, Size: uint64(len(g.code)), Relocs: g.relocs}, nil
}

// Build compiles m and splits it into units objects named by names, the
// whole path from a checked module to relocatable objects; unitOf assigns
// every function and global to a unit (ir.Partition).
func Build(m *ir.Module, format obj.Format, unitOf map[string]int, units int, names func(unit int) string) ([]*obj.Object, error) {
	p, err := Compile(m, format)
	if err != nil {
		return nil, err
	}
	return obj.Objects(p, unitOf, units, names)
}
