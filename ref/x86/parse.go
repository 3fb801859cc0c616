package x86

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parse parses one instruction in the Intel syntax that llvm-mc accepts
// with -x86-asm-syntax=intel (".intel_syntax noprefix"), for the subset
// that Encode supports:
//
//	mov rax, qword ptr [rbx + 4*rcx - 8]
//	lea rdi, [rip + 16]
//	add dword ptr [rsp], 0x10
//	movabs r11, 0x1122334455667788
//
// Branch targets are written against a numeric label defined on the same
// instruction ("1: jmp 1b+7", offset from the start of the instruction, as
// Inst.String prints them), as ".+N" or "$+N" (the same meaning), or as a
// symbol ("call foo", "jmp foo+8"), which encodes a zero rel32 placeholder for
// a relocation. A jmp or jcc whose target fits rel8 gets the short form
// unless it carries the {disp32} pseudo-prefix; {disp8} forces the short form.
//
// "imul r, imm" is accepted as the alias of "imul r, r, imm", "sal" as
// "shl", a shift without a count as a shift by 1, and "div acc, r/m" /
// "idiv acc, r/m" (the accumulator of the operand's size named) as
// "div r/m", and "test r, m" as "test m, r", as llvm-mc does.
func Parse(s string) (Inst, error) {
	in, err := parse(s)
	if err != nil {
		return Inst{}, fmt.Errorf("x86: parse %q: %w", s, err)
	}
	return in, nil
}

func parse(s string) (Inst, error) {
	rest := strings.TrimSpace(s)
	if i := strings.IndexAny(rest, "#;"); i >= 0 { // comment
		rest = strings.TrimSpace(rest[:i])
	}
	label := ""
	if i := strings.IndexByte(rest, ':'); i > 0 && isDigits(strings.TrimSpace(rest[:i])) {
		label = strings.TrimSpace(rest[:i])
		rest = strings.TrimSpace(rest[i+1:])
	}
	pseudo := 0
	for strings.HasPrefix(rest, "{") {
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return Inst{}, fmt.Errorf("unterminated pseudo-prefix")
		}
		switch p := strings.ToLower(rest[1:end]); p {
		case "disp8":
			pseudo = 1
		case "disp32":
			pseudo = 4
		default:
			return Inst{}, fmt.Errorf("unsupported pseudo-prefix {%s}", p)
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	if rest == "" {
		return Inst{}, fmt.Errorf("no instruction")
	}
	op, opnds, _ := strings.Cut(rest, " ")
	op = strings.ToLower(strings.TrimSpace(op))
	if t := strings.IndexByte(op, '\t'); t >= 0 {
		opnds = op[t+1:] + " " + opnds
		op = op[:t]
	}
	if !isIdent(op) {
		return Inst{}, fmt.Errorf("bad mnemonic %q", op)
	}
	if _, ok := forms[op]; !ok && op != "sal" {
		return Inst{}, fmt.Errorf("unknown mnemonic %q", op)
	}
	if op == "sal" {
		op = "shl"
	}
	in := Inst{Op: op}
	opnds = strings.TrimSpace(opnds)
	if opnds == "" {
		if pseudo != 0 {
			return Inst{}, fmt.Errorf("{disp%d} needs a branch target", pseudo*8)
		}
		return in, nil
	}
	parts := strings.Split(opnds, ",")
	if isBranch(op) && len(parts) == 1 {
		if a, ok, err := parseTarget(op, strings.TrimSpace(parts[0]), label, pseudo); ok || err != nil {
			if err != nil {
				return Inst{}, err
			}
			in.Args = []Operand{a}
			return in, nil
		}
	}
	if pseudo != 0 {
		return Inst{}, fmt.Errorf("{disp%d} is only supported on relative branches", pseudo*8)
	}
	for i, p := range parts {
		a, err := parseOperand(strings.TrimSpace(p))
		if err != nil {
			return Inst{}, fmt.Errorf("operand %d: %w", i+1, err)
		}
		in.Args = append(in.Args, a)
	}
	switch {
	case (in.Op == "div" || in.Op == "idiv") && len(in.Args) == 2:
		// llvm-mc takes the accumulator as an explicit first operand:
		// "div rax, rcx" is "div rcx".
		if r, ok := in.Args[0].(Reg); ok && r.Num() == 0 && !r.IsHigh8() && operandSize(in.Args[1], r.Size()) == r.Size() {
			if m, ok := in.Args[1].(Mem); ok && m.Size == 0 {
				m.Size = r.Size()
				in.Args[1] = m
			}
			in.Args = in.Args[1:]
		}
	case in.Op == "test" && len(in.Args) == 2:
		// llvm-mc takes "test r, r/m" for "test r/m, r".
		if r, ok := in.Args[0].(Reg); ok {
			if m, ok := in.Args[1].(Mem); ok {
				in.Args = []Operand{m, r}
			}
		}
	case (in.Op == "shl" || in.Op == "shr" || in.Op == "sar") && len(in.Args) == 1:
		// A shift without a count shifts by one, as in llvm-mc.
		in.Args = append(in.Args, Imm(1))
	}
	if op == "imul" && len(in.Args) == 2 {
		if r, ok := in.Args[0].(Reg); ok {
			if _, ok := in.Args[1].(Imm); ok {
				in.Args = []Operand{r, r, in.Args[1]}
			}
		}
	}
	return in, nil
}

// isBranch reports whether op takes a relative branch target.
func isBranch(op string) bool {
	if op == "call" || op == "jmp" {
		return true
	}
	fs := forms[op]
	return len(fs) > 0 && fs[0].args != nil && fs[0].args[0].c == cRel
}

// parseTarget parses a branch target. ok is false when s is not a target
// (a register or memory operand of an indirect branch).
func parseTarget(op, s, label string, pseudo int) (Operand, bool, error) {
	if s == "" {
		return nil, false, fmt.Errorf("missing branch target")
	}
	if _, isReg := regByName(s); isReg || strings.Contains(s, "[") || strings.Contains(strings.ToLower(s), "ptr") {
		return nil, false, nil
	}
	head, off, err := splitOffset(s)
	if err != nil {
		return nil, true, err
	}
	size := pseudo
	if size == 0 && op == "call" {
		size = 4
	}
	if pseudo == 1 && op == "call" {
		return nil, true, fmt.Errorf("call has no rel8 form")
	}
	switch {
	case head == "." || head == "$" || (label != "" && head == label+"b"):
		if size == 0 {
			size = 4
			if d := off - 2; d >= math.MinInt8 && d <= math.MaxInt8 {
				size = 1
			}
		}
		d := off - int64(branchLen(op, size))
		if size == 1 && (d < math.MinInt8 || d > math.MaxInt8) {
			return nil, true, fmt.Errorf("branch target %s is out of rel8 range", s)
		}
		if d < math.MinInt32 || d > math.MaxInt32 {
			return nil, true, fmt.Errorf("branch target %s is out of rel32 range", s)
		}
		return Rel{Disp: int32(d), Size: size}, true, nil
	case isDigits(strings.TrimSuffix(strings.TrimSuffix(head, "b"), "f")) && len(head) > 1:
		return nil, true, fmt.Errorf("numeric label %s is not defined on this instruction", head)
	case isIdent(head):
		if size == 0 {
			size = 4
		}
		return Rel{Disp: 0, Size: size}, true, nil
	}
	return nil, true, fmt.Errorf("bad branch target %q", s)
}

// splitOffset splits "head+N" or "head-N" (head may be empty).
func splitOffset(s string) (string, int64, error) {
	i := strings.LastIndexAny(s, "+-")
	if i <= 0 {
		return strings.TrimSpace(s), 0, nil
	}
	head := strings.TrimSpace(s[:i])
	v, err := parseInt(strings.TrimSpace(s[i:]))
	if err != nil {
		return "", 0, err
	}
	return head, v, nil
}

var sizeWords = map[string]int{"byte": 1, "word": 2, "dword": 4, "qword": 8}

func parseOperand(s string) (Operand, error) {
	if s == "" {
		return nil, fmt.Errorf("empty operand")
	}
	low := strings.ToLower(s)
	if r, ok := regByName(low); ok {
		return r, nil
	}
	size := 0
	if w, rest, ok := strings.Cut(low, " "); ok {
		if n, isSize := sizeWords[w]; isSize {
			size = n
			rest = strings.TrimSpace(rest)
			if p, after, ok := strings.Cut(rest, "ptr"); ok && strings.TrimSpace(p) == "" {
				rest = strings.TrimSpace(after)
			}
			low = rest
		}
	}
	if strings.HasPrefix(low, "[") {
		m, err := parseMem(low)
		if err != nil {
			return nil, err
		}
		m.Size = size
		return m, nil
	}
	if size != 0 {
		return nil, fmt.Errorf("%q: size keyword without a memory operand", s)
	}
	v, err := parseInt(low)
	if err != nil {
		return nil, fmt.Errorf("%q is not a register, memory operand or immediate", s)
	}
	return Imm(v), nil
}

// parseMem parses "[base + scale*index + disp]" in any term order.
func parseMem(s string) (Mem, error) {
	if !strings.HasSuffix(s, "]") {
		return Mem{}, fmt.Errorf("%q: missing ]", s)
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	if body == "" {
		return Mem{}, fmt.Errorf("empty memory operand")
	}
	var m Mem
	var disp int64
	regs := 0
	for len(body) > 0 {
		neg := false
		if body[0] == '+' || body[0] == '-' {
			neg = body[0] == '-'
			body = strings.TrimSpace(body[1:])
		}
		end := strings.IndexAny(body, "+-")
		term := body
		if end >= 0 {
			term, body = strings.TrimSpace(body[:end]), strings.TrimSpace(body[end:])
		} else {
			body = ""
		}
		if term == "" {
			return Mem{}, fmt.Errorf("%q: empty term", s)
		}
		if term == "rip" {
			if neg || m.RIP || regs > 0 {
				return Mem{}, fmt.Errorf("%q: bad use of rip", s)
			}
			m.RIP = true
			continue
		}
		if a, b, ok := strings.Cut(term, "*"); ok {
			a, b = strings.TrimSpace(a), strings.TrimSpace(b)
			r, rok := regByName(a)
			num := b
			if !rok {
				r, rok = regByName(b)
				num = a
			}
			sc, err := parseInt(num)
			if !rok || err != nil || neg {
				return Mem{}, fmt.Errorf("%q: bad scaled index %q", s, term)
			}
			if m.Index != NoReg {
				return Mem{}, fmt.Errorf("%q: two index registers", s)
			}
			if sc != 1 && sc != 2 && sc != 4 && sc != 8 {
				return Mem{}, fmt.Errorf("%q: scale %d (want 1, 2, 4 or 8)", s, sc)
			}
			m.Index, m.Scale = r, uint8(sc)
			regs++
			continue
		}
		if r, ok := regByName(term); ok {
			if neg {
				return Mem{}, fmt.Errorf("%q: register %s cannot be subtracted", s, term)
			}
			switch {
			case m.Base == NoReg && m.Index == NoReg:
				m.Base = r
			case m.Base == NoReg:
				m.Base = r
			case m.Index == NoReg:
				m.Index, m.Scale = r, 1
			default:
				return Mem{}, fmt.Errorf("%q: too many registers", s)
			}
			regs++
			continue
		}
		v, err := parseInt(term)
		if err != nil {
			return Mem{}, fmt.Errorf("%q: bad term %q", s, term)
		}
		if neg {
			v = -v
		}
		disp += v
	}
	if m.RIP && regs > 0 {
		return Mem{}, fmt.Errorf("%q: rip-relative operand cannot have other registers", s)
	}
	// llvm-mc swaps an unscaled rsp index into the base.
	if m.Index == RSP && m.Scale <= 1 && m.Base != NoReg && m.Base != RSP {
		m.Base, m.Index = m.Index, m.Base
	}
	if disp < math.MinInt32 || disp > math.MaxInt32 {
		return Mem{}, fmt.Errorf("%q: displacement %d does not fit 32 bits", s, disp)
	}
	m.Disp = int32(disp)
	return m, nil
}

// parseInt parses a decimal, 0x hex, 0o octal or 0b binary integer with an
// optional sign. Magnitudes up to 2^64-1 are accepted (and wrap), as
// "movabs rax, 0xffffffffffffffff" needs.
func parseInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, strings.TrimSpace(s[1:])
	case strings.HasPrefix(s, "+"):
		s = strings.TrimSpace(s[1:])
	}
	if s == "" || strings.Contains(s, "_") || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("bad number %q", s)
	}
	u, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if neg {
		if u > 1<<63 {
			return 0, fmt.Errorf("number -%s out of range", s)
		}
		return -int64(u), nil
	}
	return int64(u), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c == '.' || c == '$' || c == '@':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// operandSize is a register's or sized memory operand's size; an unsized
// memory operand takes def.
func operandSize(a Operand, def int) int {
	switch a := a.(type) {
	case Reg:
		return a.Size()
	case Mem:
		if a.Size != 0 {
			return a.Size
		}
		return def
	}
	return 0
}
