package ir

import (
	"fmt"
	"math/bits"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tKeyword
	tPunct
)

// token is one lexical token. For tPunct and tKeyword, text is the
// operator or the keyword itself.
type token struct {
	kind tokKind
	pos  Pos
	text string
	val  uint64 // for tInt
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tIdent:
		return "identifier " + t.text
	case tInt:
		return "integer " + t.text
	case tKeyword:
		return "keyword " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// keywords are the reserved words of the language.
var keywords = map[string]bool{
	"errors": true, "global": true, "const": true, "local": true, "func": true,
	"align": true, "let": true, "store": true, "if": true, "else": true,
	"while": true, "return": true, "pad": true, "call": true, "load": true,
	"errlen": true, "errbyte": true, "error": true,
}

// IsKeyword reports whether s is a reserved word of the language.
func IsKeyword(s string) bool { return keywords[s] }

// ValidIdent reports whether s is a valid user identifier:
// [A-Za-z][A-Za-z0-9_]* and not a keyword.
func ValidIdent(s string) bool {
	if s == "" || !isLetter(s[0]) || keywords[s] {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// lexer turns source bytes into tokens. Errors stop lexing: the lexer
// then returns tEOF forever and err holds the first error.
type lexer struct {
	src       []byte
	off       int
	line, col int
	err       *Error
	file      string
}

func (lx *lexer) fail(pos Pos, format string, args ...any) {
	if lx.err == nil {
		lx.err = &Error{File: lx.file, Pos: pos, Msg: msgf(format, args...)}
	}
}

func (lx *lexer) adv() {
	if lx.src[lx.off] == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
	lx.off++
}

var puncts2 = [...]string{"<<", ">>", "<=", ">=", "==", "!="}

func (lx *lexer) next() token {
	if lx.err != nil {
		return token{kind: tEOF, pos: Pos{lx.line, lx.col}}
	}
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			lx.adv()
			continue
		}
		if c == '#' {
			for lx.off < len(lx.src) && lx.src[lx.off] != '\n' {
				lx.adv()
			}
			continue
		}
		break
	}
	pos := Pos{lx.line, lx.col}
	if lx.off >= len(lx.src) {
		return token{kind: tEOF, pos: pos}
	}
	start := lx.off
	c := lx.src[lx.off]
	switch {
	case isLetter(c) || c == '_':
		for lx.off < len(lx.src) && (isLetter(lx.src[lx.off]) || isDigit(lx.src[lx.off]) || lx.src[lx.off] == '_') {
			lx.adv()
		}
		s := string(lx.src[start:lx.off])
		if c == '_' {
			lx.fail(pos, "identifier %s: a leading underscore is reserved", s)
			return token{kind: tEOF, pos: pos}
		}
		if keywords[s] {
			return token{kind: tKeyword, pos: pos, text: s}
		}
		return token{kind: tIdent, pos: pos, text: s}
	case isDigit(c):
		for lx.off < len(lx.src) && (isLetter(lx.src[lx.off]) || isDigit(lx.src[lx.off]) || lx.src[lx.off] == '_') {
			lx.adv()
		}
		s := string(lx.src[start:lx.off])
		v, ok, bad := parseInt(s)
		if bad {
			lx.fail(pos, "malformed integer literal %s", s)
			return token{kind: tEOF, pos: pos}
		}
		if !ok {
			lx.fail(pos, "integer literal %s overflows u64", s)
			return token{kind: tEOF, pos: pos}
		}
		return token{kind: tInt, pos: pos, text: s, val: v}
	}
	if lx.off+1 < len(lx.src) {
		two := string(lx.src[lx.off : lx.off+2])
		for _, p := range puncts2 {
			if two == p {
				lx.adv()
				lx.adv()
				return token{kind: tPunct, pos: pos, text: p}
			}
		}
	}
	switch c {
	case '(', ')', '{', '}', ',', '=', '&', '.', '+', '-', '*', '/', '%', '^', '|', '~', '<', '>':
		lx.adv()
		return token{kind: tPunct, pos: pos, text: string(c)}
	}
	if c >= 0x20 && c < 0x7f {
		lx.fail(pos, "unexpected character %q", c)
	} else {
		lx.fail(pos, "unexpected byte 0x%02x", c)
	}
	return token{kind: tEOF, pos: pos}
}

// parseInt parses a decimal or 0x-hex literal. ok is false on overflow,
// bad is true when s is not a well-formed literal.
func parseInt(s string) (v uint64, ok, bad bool) {
	digits, base := s, uint64(10)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits, base = s[2:], 16
	}
	overflow := false
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d uint64
		switch {
		case isDigit(c):
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false, true
		}
		hi, lo := bits.Mul64(v, base)
		sum, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			overflow = true
		}
		v = sum
	}
	return v, !overflow, false
}
