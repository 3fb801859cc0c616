package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/linkcheck/linkcheck/ref/x86"
)

// runEncode implements "linkcheck encode 'INSN' ...": each argument is one
// instruction in Intel syntax (as llvm-mc -x86-asm-syntax=intel accepts it);
// the output is one line per instruction with its bytes as space-separated
// lowercase hex pairs. If any instruction is bad, the message naming it goes
// to stderr, nothing is written to stdout and the status is 2.
func runEncode(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: linkcheck encode 'INSN' ...")
		fmt.Fprintln(stderr, "  encodes x86_64 instructions in Intel syntax, e.g. 'mov rax, qword ptr [rip + 0]'")
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprintln(stdout, "usage: linkcheck encode 'INSN' ...")
		fmt.Fprintln(stdout, "  encodes x86_64 instructions in Intel syntax (as llvm-mc -x86-asm-syntax=intel),")
		fmt.Fprintln(stdout, "  one line of hex bytes each; see docs/x86.md for the subset and branch targets")
		return 0
	}
	lines := make([]string, 0, len(args))
	for _, s := range args {
		in, err := x86.Parse(s)
		if err == nil {
			var e x86.Encoding
			if e, err = x86.Encode(in); err == nil {
				lines = append(lines, hexBytes(e.Bytes))
				continue
			}
		}
		fmt.Fprintf(stderr, "linkcheck encode: bad instruction %q: %v\n", s, err)
		return 2
	}
	fmt.Fprintln(stdout, strings.Join(lines, "\n"))
	return 0
}

// hexBytes formats b as "48 8b 05 00 00 00 00".
func hexBytes(b []byte) string { return fmt.Sprintf("% x", b) }
