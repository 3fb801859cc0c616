package macho

// The export trie of LC_DYLD_INFO_ONLY, built as ld64.lld 16 builds it so
// that the bytes match: a three-way radix quicksort of the exported names
// (pivot the middle element's character at the current position) makes
// the nodes in a fixed order, and node offsets are iterated until their
// ULEB128 sizes settle.

// Export flags.
const (
	exportFlagsWeak = exportWeakDef
	exportFlagsAbs  = exportAbsolute
)

// exported is one symbol of the trie.
type exported struct {
	name    string
	address uint64 // from the image base
	flags   uint64
}

// trieEdge leads to a child, labelled with a substring of a name.
type trieEdge struct {
	label string
	child *trieNode
}

// trieNode is a node of the trie; info is set on a terminal node.
type trieNode struct {
	edges  []trieEdge
	info   *exported
	offset uint64
}

// trieBuilder builds one trie.
type trieBuilder struct {
	nodes []*trieNode
}

func (t *trieBuilder) node() *trieNode {
	n := &trieNode{}
	t.nodes = append(t.nodes, n)
	return n
}

// charAt returns byte pos of s, or -1 past its end.
func charAt(s string, pos int) int {
	if pos < len(s) {
		return int(s[pos])
	}
	return -1
}

// build partitions syms (whose names agree up to pos) around the middle
// one's character at pos, as ld64.lld does: a node is started when the
// names diverge or one ends, the lesser and greater groups are built on
// the same node, and the equal group continues one character further.
func (t *trieBuilder) build(syms []exported, n *trieNode, lastPos, pos int) {
	for len(syms) > 0 {
		pivotName := syms[len(syms)/2].name
		pivot := charAt(pivotName, pos)
		i, j := 0, len(syms)
		for k := 0; k < j; {
			c := charAt(syms[k].name, pos)
			switch {
			case c < pivot:
				syms[i], syms[k] = syms[k], syms[i]
				i++
				k++
			case c > pivot:
				j--
				syms[j], syms[k] = syms[k], syms[j]
			default:
				k++
			}
		}
		terminal := pivot == -1
		diverge := i != 0 || j != len(syms)
		if lastPos != pos && (terminal || diverge) {
			child := t.node()
			n.edges = append(n.edges, trieEdge{pivotName[lastPos:pos], child})
			n = child
			lastPos = pos
		}
		t.build(syms[:i], n, lastPos, pos)
		t.build(syms[j:], n, lastPos, pos)
		if terminal {
			e := syms[i]
			n.info = &e
			return
		}
		syms = syms[i:j]
		pos++
	}
}

// size of a node at its current children's offsets.
func (n *trieNode) size() uint64 {
	var sz uint64
	if n.info != nil {
		term := uint64(ulebSize(n.info.flags) + ulebSize(n.info.address))
		sz = term + uint64(ulebSize(term))
	} else {
		sz = 1
	}
	sz++ // number of edges
	for _, e := range n.edges {
		sz += uint64(len(e.label)) + 1 + uint64(ulebSize(e.child.offset))
	}
	return sz
}

// exportTrieOf returns the serialized trie of syms (which it reorders).
func exportTrieOf(syms []exported) []byte {
	if len(syms) == 0 {
		return nil
	}
	t := &trieBuilder{}
	root := t.node()
	t.build(syms, root, 0, 0)
	var total uint64
	for more := true; more; {
		more = false
		total = 0
		for _, n := range t.nodes {
			if n.offset != total {
				more = true
			}
			n.offset = total
			total += n.size()
		}
	}
	b := make([]byte, 0, total)
	for _, n := range t.nodes {
		if n.info != nil {
			term := uint64(ulebSize(n.info.flags) + ulebSize(n.info.address))
			b = appendULEB(b, term)
			b = appendULEB(b, n.info.flags)
			b = appendULEB(b, n.info.address)
		} else {
			b = append(b, 0)
		}
		b = append(b, byte(len(n.edges)))
		for _, e := range n.edges {
			b = append(append(b, e.label...), 0)
			b = appendULEB(b, e.child.offset)
		}
	}
	return b
}

// exportTrie is the trie of the executable's external symbols, in the
// symbol table's order (which decides the pivots).
func (w *exeWriter) exportTrie() []byte {
	syms := make([]exported, 0, len(w.externals))
	for _, s := range w.externals {
		e := exported{name: s.name, address: s.value - ExeImageBase}
		if s.desc&nWeakDef != 0 {
			e.flags |= exportFlagsWeak
		}
		if s.typ&nTypeMask == nAbs {
			e.flags |= exportFlagsAbs
		}
		syms = append(syms, e)
	}
	return exportTrieOf(syms)
}
