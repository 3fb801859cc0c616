package diff

import "github.com/linkcheck/linkcheck/oracle/canon"

// Rules for linkers under test (oracle/linker): known, intended
// differences between a correct output of mold, GNU ld or gold and lld's
// that canon does not see through. Each names its linker, lists the keys
// it may apply to (never a code or data key) and decides per difference.
// See docs/linkers.md.
var linkerRules = []Rule{
	{
		Name: "mold-local-globals",
		Reason: "mold 1.x writes every global symbol that is not exported to the dynamic symbol table as " +
			"STB_LOCAL in .symtab (mold issue #906; mold 2.42 no longer does). .symtab is informative in an " +
			"executable and nothing at run time resolves through it. Applies only where one side is local " +
			"and the other global or weak; the symbol's kind, size, section, code and data are still compared.",
		Keys:  []string{KeySymbolBinding},
		match: demotedBinding,
	},
	{
		Name: "mold-eh-frame-hdr",
		Reason: "mold 1.x writes .eh_frame_hdr (and PT_GNU_EH_FRAME) by default, ld.lld only with --eh-frame-hdr; " +
			"with no .eh_frame at all mold still writes an empty table whose eh_frame_ptr points at address 0, " +
			"which an unwinder reads as no FDEs. Applies only where one side has no .eh_frame_hdr and the " +
			"other's table is right or empty; the FDEs themselves are still compared.",
		Keys:  []string{KeyFrameHdr},
		match: hdrOnOneSide,
	},
}

// hdrOnOneSide reports whether a frame.hdr difference is an .eh_frame_hdr
// on one side only whose table is right or has no entries.
func hdrOnOneSide(c *comparer, d *Difference) bool {
	ha, hb := frameHdr(c.a), frameHdr(c.b)
	if (ha == nil) == (hb == nil) {
		return false
	}
	h := ha
	if h == nil {
		h = hb
	}
	return h.Err == "" || h.Count == 0
}

func frameHdr(im *canon.Image) *canon.FrameHdr {
	if im.Frames == nil {
		return nil
	}
	return im.Frames.Hdr
}

// demotedBinding reports whether a binding difference is a global or
// weak symbol on one side written as local on the other.
func demotedBinding(c *comparer, d *Difference) bool {
	sides := []string{d.A, d.B}
	if sa, sb := c.a.Lookup(d.Symbol), c.b.Lookup(d.Symbol); sa != nil && sb != nil {
		sides = []string{sa.Bind, sb.Bind}
	}
	local, other := 0, 0
	for _, b := range sides {
		switch b {
		case canon.BindLocal:
			local++
		case canon.BindGlobal, canon.BindWeak:
			other++
		}
	}
	return local == 1 && other == 1
}
