// Package diff compares two canonical images (oracle/canon) and reports
// keyed differences: a missing symbol, a call to the wrong function, a data
// pointer to the wrong place, a different error table. Each difference
// carries both sides and its location; the report is sorted, so that two
// runs print the same text, and ends with the command that reproduces the
// comparison.
//
// Known, intended differences between linkers are suppressed only by named
// rules from a fixed registry (Rules), each with a written reason; a rule
// applies to specific keys and symbols and no rule applies to a code or
// data target (text.insn, text.operand, data.pointer, data.bytes). What a
// rule suppressed is counted in the report. See docs/canon.md.
package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/linkcheck/linkcheck/oracle/canon"
)

// Difference keys.
const (
	KeySymbolMissing = "symbol.missing"   // in A, not in B
	KeySymbolExtra   = "symbol.extra"     // in B, not in A
	KeySymbolKind    = "symbol.kind"      // func / object / notype
	KeySymbolSize    = "symbol.size"      // st_size (or inferred extent)
	KeySymbolBinding = "symbol.binding"   // local / global / weak
	KeySectionFlags  = "section.flags"    // flags of the section holding a symbol, or of a same-named section
	KeyEntry         = "entry"            // the entry point's symbol
	KeyTextLength    = "text.length"      // number of instructions in a function
	KeyTextInsn      = "text.insn"        // the operation at an instruction index
	KeyTextOperand   = "text.operand"     // an operand, e.g. a call's target
	KeyTextPadding   = "text.padding"     // trailing fill of a function without st_size
	KeyDataBytes     = "data.bytes"       // non-pointer bytes of a data symbol
	KeyDataPointer   = "data.pointer"     // a pointer field's target, or a field that is a pointer on one side only
	KeyDataBSS       = "data.bss"         // a symbol in a NOBITS section on one side only
	KeyErrtabName    = "errtab.name"      // the k-th error name
	KeyErrtabCount   = "errtab.count"     // number of errors, or a table on one side only
	KeyErrtabBad     = "errtab.malformed" // a table that does not decode
	KeyPointerSource = "image.pointers"   // the images know pointer locations from different sources
	KeyFrameFDE      = "frame.fde"        // a function's FDEs (.eh_frame): on one side only, or their range, instructions or augmentation
	KeyFrameCIE      = "frame.cie"        // the CIE fields of a function's FDE
	KeyFrameBad      = "frame.malformed"  // an .eh_frame that does not decode
	KeyFrameHdr      = "frame.hdr"        // .eh_frame_hdr on one side only, or a search table that is wrong
	KeyUnknownIgnore = "options.ignore"   // an --ignore name that is not a rule
)

// Keys lists every difference key, sorted.
func Keys() []string {
	k := []string{KeySymbolMissing, KeySymbolExtra, KeySymbolKind, KeySymbolSize, KeySymbolBinding,
		KeySectionFlags, KeyEntry, KeyTextLength, KeyTextInsn, KeyTextOperand, KeyTextPadding,
		KeyDataBytes, KeyDataPointer, KeyDataBSS, KeyErrtabName, KeyErrtabCount, KeyErrtabBad,
		KeyPointerSource, KeyUnknownIgnore, KeyFrameFDE, KeyFrameCIE, KeyFrameBad, KeyFrameHdr}
	sort.Strings(k)
	return k
}

// Options tune a comparison.
type Options struct {
	// Ignore names rules from Rules() to apply.
	Ignore []string
	// NameA and NameB label the two sides in the report ("lld", "ref");
	// empty means "a" and "b".
	NameA, NameB string
	// Reproduce is the command line that reproduces the comparison,
	// printed at the end of the report.
	Reproduce string
	// Cache, when not nil, keeps the decodings of functions of images from
	// canon.Open by their bytes across comparisons — the updates of an
	// incremental sequence, where most functions do not change — so that
	// unchanged functions are not decoded again. The report is the same
	// with or without it (see canon.DecodeCache).
	Cache *canon.DecodeCache
}

// Difference is one keyed difference.
type Difference struct {
	Key string `json:"key"`
	// Symbol is the symbol it concerns, "" for image-wide differences.
	Symbol string `json:"symbol,omitempty"`
	// Offset is the byte offset in the symbol (in A), Index the
	// instruction index (-1 when not about an instruction).
	Offset uint64 `json:"offset"`
	Index  int    `json:"index"`
	// A and B are the two sides as text.
	A string `json:"a"`
	B string `json:"b"`
}

// Where is the location as text: "main+0x9 insn 3", "ptrs+0x8", "main".
func (d *Difference) Where() string {
	switch {
	case d.Symbol == "":
		return "(image)"
	case d.Index >= 0:
		return fmt.Sprintf("%s+%#x insn %d", d.Symbol, d.Offset, d.Index)
	case d.Offset > 0:
		return fmt.Sprintf("%s+%#x", d.Symbol, d.Offset)
	}
	return d.Symbol
}

// Ignored counts what one rule suppressed under one key.
type Ignored struct {
	Rule  string `json:"rule"`
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Coverage is the share of code and data that was actually compared, so
// that a vacuous comparison (no functions decoded, everything missing)
// shows.
type Coverage struct {
	// CodeBytes is the size of every function in A or B (the larger side
	// when in both); CodeCompared the bytes of instructions compared at
	// the same index on both sides.
	CodeBytes    uint64 `json:"code_bytes"`
	CodeCompared uint64 `json:"code_compared"`
	// DataBytes and DataCompared are the same for data symbols.
	DataBytes    uint64 `json:"data_bytes"`
	DataCompared uint64 `json:"data_compared"`
	// Insns, Pointers and Symbols count what was compared.
	Insns    int `json:"insns"`
	Pointers int `json:"pointers"`
	Symbols  int `json:"symbols"`
}

// Ratio is the share of all bytes (code and data) that was compared, in
// [0, 1]; 0 when there was nothing.
func (c Coverage) Ratio() float64 {
	total := c.CodeBytes + c.DataBytes
	if total == 0 {
		return 0
	}
	return float64(c.CodeCompared+c.DataCompared) / float64(total)
}

// Report is the result of a comparison.
type Report struct {
	NameA       string       `json:"a"`
	NameB       string       `json:"b"`
	Differences []Difference `json:"differences"`
	Ignored     []Ignored    `json:"ignored,omitempty"`
	Coverage    Coverage     `json:"coverage"`
	Reproduce   string       `json:"reproduce,omitempty"`
}

// Equal reports whether no difference remains after the ignore rules.
func (r *Report) Equal() bool { return len(r.Differences) == 0 }

// Keys returns the distinct keys of the remaining differences, sorted.
func (r *Report) Keys() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range r.Differences {
		if !seen[d.Key] {
			seen[d.Key] = true
			out = append(out, d.Key)
		}
	}
	sort.Strings(out)
	return out
}

// Find returns the remaining differences with the given key.
func (r *Report) Find(key string) []Difference {
	var out []Difference
	for _, d := range r.Differences {
		if d.Key == key {
			out = append(out, d)
		}
	}
	return out
}

// JSON renders the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	rep := *r
	if rep.Differences == nil {
		rep.Differences = []Difference{}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("diff: encoding report: %w", err)
	}
	return append(b, '\n'), nil
}

// Text renders the report for people: one line per difference, then what
// the rules suppressed, the coverage and the reproducer.
func (r *Report) Text() string {
	var b bytes.Buffer
	for _, d := range r.Differences {
		fmt.Fprintf(&b, "%-16s %s\n    %s: %s\n    %s: %s\n", d.Key, d.Where(), r.NameA, d.A, r.NameB, d.B)
	}
	for _, ig := range r.Ignored {
		fmt.Fprintf(&b, "ignored %d %s by rule %s\n", ig.Count, ig.Key, ig.Rule)
	}
	c := r.Coverage
	fmt.Fprintf(&b, "coverage %.1f%%: code %d/%d bytes (%d insns), data %d/%d bytes (%d pointers), %d symbols\n",
		100*c.Ratio(), c.CodeCompared, c.CodeBytes, c.Insns, c.DataCompared, c.DataBytes, c.Pointers, c.Symbols)
	if r.Equal() {
		fmt.Fprintf(&b, "%s and %s are equal\n", r.NameA, r.NameB)
	} else {
		fmt.Fprintf(&b, "%d differences (%s)\n", len(r.Differences), strings.Join(r.Keys(), ", "))
	}
	if r.Reproduce != "" {
		fmt.Fprintf(&b, "reproduce: %s\n", r.Reproduce)
	}
	return b.String()
}

// comparer accumulates differences.
type comparer struct {
	a, b  *canon.Image
	rules []Rule
	rep   *Report
	ign   map[[2]string]int
	cache *canon.DecodeCache
}

// Compare compares image a (the reference, e.g. lld's output) with image b
// (the subject). symbol.missing means in a but not in b.
//
// Images from canon.Open are compared as they are decoded, one function
// at a time (and by several goroutines for large images), so that memory
// is bounded by the largest function; the report is exactly that of the
// same images from canon.Read.
func Compare(a, b *canon.Image, opts Options) *Report {
	c := &comparer{a: a, b: b, ign: map[[2]string]int{}, cache: opts.Cache}
	c.rep = &Report{NameA: opts.NameA, NameB: opts.NameB, Reproduce: opts.Reproduce}
	if c.rep.NameA == "" {
		c.rep.NameA = "a"
	}
	if c.rep.NameB == "" {
		c.rep.NameB = "b"
	}
	for _, name := range opts.Ignore {
		rule, ok := LookupRule(name)
		if !ok {
			c.add(Difference{Key: KeyUnknownIgnore, Index: -1, A: name, B: "not a rule (known: " + strings.Join(RuleNames(), ", ") + ")"})
			continue
		}
		c.rules = append(c.rules, rule)
	}
	c.image()
	c.symbols()
	c.errtab()
	c.frames()
	for k, n := range c.ign {
		c.rep.Ignored = append(c.rep.Ignored, Ignored{Rule: k[0], Key: k[1], Count: n})
	}
	sort.Slice(c.rep.Ignored, func(i, j int) bool {
		x, y := c.rep.Ignored[i], c.rep.Ignored[j]
		if x.Rule != y.Rule {
			return x.Rule < y.Rule
		}
		return x.Key < y.Key
	})
	sort.SliceStable(c.rep.Differences, func(i, j int) bool { return less(&c.rep.Differences[i], &c.rep.Differences[j]) })
	return c.rep
}

func less(x, y *Difference) bool {
	if x.Symbol != y.Symbol {
		return x.Symbol < y.Symbol
	}
	if x.Offset != y.Offset {
		return x.Offset < y.Offset
	}
	if x.Index != y.Index {
		return x.Index < y.Index
	}
	return x.Key < y.Key // ties keep the order of discovery, which is deterministic
}

// add records d unless a rule suppresses it.
func (c *comparer) add(d Difference) {
	for _, r := range c.rules {
		if r.applies(c, &d) {
			c.ign[[2]string{r.Name, d.Key}]++
			return
		}
	}
	c.rep.Differences = append(c.rep.Differences, d)
}

func (c *comparer) image() {
	if c.a.Entry != c.b.Entry {
		c.add(Difference{Key: KeyEntry, Index: -1, A: c.a.Entry, B: c.b.Entry})
	}
	if c.a.PointerSource != c.b.PointerSource {
		c.add(Difference{Key: KeyPointerSource, Index: -1, A: c.a.PointerSource, B: c.b.PointerSource})
	}
	// Sections are matched by name; names that exist on one side only are
	// layout (lld merges .text.*, another linker may not) and covered by
	// the per-symbol flags.
	// Several sections may share a name (a file may say anything): a
	// name's flags are the sorted set of its sections' flags.
	flagsA, flagsB := sectionFlags(c.a.Sections), sectionFlags(c.b.Sections)
	var names []string
	for name := range flagsB {
		if _, ok := flagsA[name]; ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if fa, fb := flagsA[name], flagsB[name]; fa != fb {
			c.add(Difference{Key: KeySectionFlags, Index: -1, A: name + " " + fa, B: name + " " + fb})
		}
	}
}

// sectionFlags maps each section name to the sorted, comma-separated set
// of the flags of the sections of that name.
func sectionFlags(secs []canon.Section) map[string]string {
	sets := map[string][]string{}
	for _, s := range secs {
		sets[s.Name] = append(sets[s.Name], s.Flags)
	}
	out := make(map[string]string, len(sets))
	for name, fl := range sets {
		sort.Strings(fl)
		out[name] = strings.Join(slices.Compact(fl), ",")
	}
	return out
}

// pair is a symbol of A and B matched by name; one is nil when the name
// is on one side only.
type pair struct{ a, b *canon.Symbol }

// pairs matches the symbols of the two images by name, in name order.
func (c *comparer) pairs() []pair {
	var out []pair
	i, j := 0, 0
	for i < len(c.a.Symbols) || j < len(c.b.Symbols) {
		switch {
		case j >= len(c.b.Symbols) || i < len(c.a.Symbols) && c.a.Symbols[i].Name < c.b.Symbols[j].Name:
			out = append(out, pair{a: c.a.Symbols[i]})
			i++
		case i >= len(c.a.Symbols) || c.b.Symbols[j].Name < c.a.Symbols[i].Name:
			out = append(out, pair{b: c.b.Symbols[j]})
			j++
		default:
			out = append(out, pair{a: c.a.Symbols[i], b: c.b.Symbols[j]})
			i++
			j++
		}
	}
	return out
}

// chunkPairs is the number of symbol pairs one worker compares at a time.
var chunkPairs = 256

// symbols compares the symbols pair by pair. Images from canon.Open have
// their functions decoded here, one pair at a time into reused buffers;
// large images are compared by several workers, each on consecutive
// chunks of pairs, whose results are joined in order, so that the report
// is the same as one worker's.
func (c *comparer) symbols() {
	ps := c.pairs()
	workers := min(runtime.GOMAXPROCS(0), (len(ps)+chunkPairs-1)/chunkPairs)
	if workers <= 1 {
		w := getWorker()
		defer putWorker(w)
		for _, p := range ps {
			c.pair(w, p)
		}
		return
	}
	chunks := (len(ps) + chunkPairs - 1) / chunkPairs
	parts := make([]*comparer, chunks)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := getWorker()
			defer putWorker(w)
			for k := range next {
				sub := &comparer{a: c.a, b: c.b, rules: c.rules, rep: &Report{}, ign: map[[2]string]int{}, cache: c.cache}
				for _, p := range ps[k*chunkPairs : min(len(ps), (k+1)*chunkPairs)] {
					sub.pair(w, p)
				}
				parts[k] = sub
			}
		}()
	}
	for k := range chunks {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, sub := range parts {
		c.rep.Differences = append(c.rep.Differences, sub.rep.Differences...)
		for k, n := range sub.ign {
			c.ign[k] += n
		}
		cov, s := &c.rep.Coverage, sub.rep.Coverage
		cov.CodeBytes += s.CodeBytes
		cov.CodeCompared += s.CodeCompared
		cov.DataBytes += s.DataBytes
		cov.DataCompared += s.DataCompared
		cov.Insns += s.Insns
		cov.Pointers += s.Pointers
		cov.Symbols += s.Symbols
	}
}

// worker holds one goroutine's decoding buffers, kept across comparisons
// (the fuzz loop compares many small images).
type worker struct{ fa, fb canon.Func }

var workerPool = sync.Pool{New: func() any { return new(worker) }}

func getWorker() *worker { return workerPool.Get().(*worker) }

// putWorker returns w to the pool, keeping its buffers but not the
// images' bytes.
func putWorker(w *worker) {
	w.fa.Clear()
	w.fb.Clear()
	workerPool.Put(w)
}

// pair compares one pair of symbols.
func (c *comparer) pair(w *worker, p pair) {
	sa, sb := p.a, p.b
	switch {
	case sb == nil:
		c.count(sa, nil)
		c.add(Difference{Key: KeySymbolMissing, Symbol: sa.Name, Index: -1, A: describe(sa), B: "(none)"})
	case sa == nil:
		c.count(nil, sb)
		c.add(Difference{Key: KeySymbolExtra, Symbol: sb.Name, Index: -1, A: "(none)", B: describe(sb)})
	default:
		c.count(sa, sb)
		c.rep.Coverage.Symbols++
		c.symbol(w, sa, sb)
	}
}

// count adds a symbol's bytes to the coverage totals.
func (c *comparer) count(sa, sb *canon.Symbol) {
	var size uint64
	code := false
	for _, s := range []*canon.Symbol{sa, sb} {
		if s != nil {
			size = max(size, s.Size)
			code = code || s.IsCode()
		}
	}
	if code {
		c.rep.Coverage.CodeBytes += size
	} else {
		c.rep.Coverage.DataBytes += size
	}
}

func describe(s *canon.Symbol) string {
	return fmt.Sprintf("%s %s size %#x in %s", s.Kind, s.Bind, s.Size, s.Flags)
}

func (c *comparer) symbol(w *worker, sa, sb *canon.Symbol) {
	d := func(key, a, b string) {
		c.add(Difference{Key: key, Symbol: sa.Name, Index: -1, A: a, B: b})
	}
	if sa.Kind != sb.Kind {
		d(KeySymbolKind, sa.Kind, sb.Kind)
	}
	if sa.Bind != sb.Bind {
		d(KeySymbolBinding, sa.Bind, sb.Bind)
	}
	if sa.Size != sb.Size {
		d(KeySymbolSize, fmt.Sprintf("%#x", sa.Size), fmt.Sprintf("%#x", sb.Size))
	}
	if sa.Flags != sb.Flags {
		d(KeySectionFlags, sa.Section+" "+sa.Flags, sb.Section+" "+sb.Flags)
	}
	switch {
	case sa.IsCode() && sb.IsCode() && (c.a.Lazy() || c.b.Lazy()):
		c.decodedText(w, sa, sb)
	case sa.IsCode() && sb.IsCode():
		c.text(sa, sb)
	case !sa.IsCode() && !sb.IsCode():
		c.data(sa, sb)
	}
}

func (c *comparer) text(sa, sb *canon.Symbol) {
	if sa.Padding != sb.Padding {
		c.add(Difference{Key: KeyTextPadding, Symbol: sa.Name, Index: -1, A: fmt.Sprintf("%d bytes", sa.Padding), B: fmt.Sprintf("%d bytes", sb.Padding)})
	}
	if len(sa.Insns) != len(sb.Insns) {
		c.add(Difference{Key: KeyTextLength, Symbol: sa.Name, Index: -1,
			A: fmt.Sprintf("%d insns", len(sa.Insns)), B: fmt.Sprintf("%d insns", len(sb.Insns))})
	}
	n := min(len(sa.Insns), len(sb.Insns))
	for k := 0; k < n; k++ {
		x, y := &sa.Insns[k], &sb.Insns[k]
		c.rep.Coverage.Insns++
		c.rep.Coverage.CodeCompared += uint64(min(x.Len, y.Len))
		loc := Difference{Symbol: sa.Name, Offset: x.Off, Index: k}
		switch {
		case x.Op != y.Op:
			loc.Key, loc.A, loc.B = KeyTextInsn, x.Text(), y.Text()
			c.add(loc)
		case !equalStrings(x.Args, y.Args):
			loc.Key, loc.A, loc.B = KeyTextOperand, x.Text(), y.Text()
			c.add(loc)
		}
		// Via (got, stub, trampoline) is not compared: the final target
		// is, and indirections are how a correct linker may reach it.
	}
}

// decodedText compares two functions of which at least one is in an
// image from canon.Open: both are decoded (B reusing A's decoding where
// the bytes are the same) and compared in compact form, text built only
// for what differs. The differences are those text reports.
func (c *comparer) decodedText(w *worker, sa, sb *canon.Symbol) {
	if !c.a.Lazy() || !c.b.Lazy() {
		// One side only: materialize the other's instructions.
		x, y := *sa, *sb
		if c.a.Lazy() {
			c.a.Decode(sa, &w.fa, canon.DecodeOptions{NoNotes: true})
			x.Insns = w.fa.Insns()
		}
		if c.b.Lazy() {
			c.b.Decode(sb, &w.fb, canon.DecodeOptions{NoNotes: true})
			y.Insns = w.fb.Insns()
		}
		c.text(&x, &y)
		return
	}
	fa, fb := &w.fa, &w.fb
	if c.cache != nil {
		// Each side's previous decoding of the symbol is its hint.
		fa = c.cache.Decode(c.a, sa, 0, &w.fa, canon.DecodeOptions{NoNotes: true})
		fb = c.cache.Decode(c.b, sb, 1, &w.fb, canon.DecodeOptions{NoNotes: true, Hint: fa})
	} else {
		c.a.Decode(sa, fa, canon.DecodeOptions{NoNotes: true})
		c.b.Decode(sb, fb, canon.DecodeOptions{NoNotes: true, Hint: fa})
	}
	if sa.Padding != sb.Padding {
		c.add(Difference{Key: KeyTextPadding, Symbol: sa.Name, Index: -1, A: fmt.Sprintf("%d bytes", sa.Padding), B: fmt.Sprintf("%d bytes", sb.Padding)})
	}
	if fa.Len() != fb.Len() {
		c.add(Difference{Key: KeyTextLength, Symbol: sa.Name, Index: -1,
			A: fmt.Sprintf("%d insns", fa.Len()), B: fmt.Sprintf("%d insns", fb.Len())})
	}
	each := func(d canon.CodeDiff) {
		loc := Difference{Key: KeyTextOperand, Symbol: sa.Name, Offset: d.A.Off, Index: d.Index, A: d.A.Text(), B: d.B.Text()}
		if d.OpDiffers {
			loc.Key = KeyTextInsn
		}
		c.add(loc)
	}
	var insns int
	var bytes uint64
	if c.cache != nil {
		// Two kept decodings compared before without a difference,
		// neither changed since: not compared again.
		insns, bytes = c.cache.CompareCode(fa, fb, each)
	} else {
		insns, bytes = canon.CompareCode(fa, fb, each)
	}
	c.rep.Coverage.Insns += insns
	c.rep.Coverage.CodeCompared += bytes
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (c *comparer) data(sa, sb *canon.Symbol) {
	if sa.BSS != sb.BSS {
		c.add(Difference{Key: KeyDataBSS, Symbol: sa.Name, Index: -1, A: fmt.Sprint("bss=", sa.BSS), B: fmt.Sprint("bss=", sb.BSS)})
	}
	n := min(sa.Size, sb.Size)
	c.rep.Coverage.DataCompared += n
	// Bytes past the stored Data read as zero on both sides (BSS), so only
	// the stored bytes need a look; this also bounds the work by the files'
	// sizes, not by a NOBITS size from an untrusted header.
	limit := min(n, uint64(max(len(sa.Data), len(sb.Data))))
	pa, pb := pointerMap(sa), pointerMap(sb)
	inPtr := make([]bool, limit)
	offs := map[uint64]bool{}
	for o := range pa {
		offs[o] = true
	}
	for o := range pb {
		offs[o] = true
	}
	for o := range offs {
		x, okx := pa[o]
		y, oky := pb[o]
		for _, p := range []canon.Pointer{x, y} {
			for k := o; k < o+uint64(p.Size) && k < limit; k++ {
				inPtr[k] = true
			}
		}
		if o >= n {
			continue // past the shorter side: reported as symbol.size
		}
		c.rep.Coverage.Pointers++
		switch {
		case okx && oky && (x.Target != y.Target || x.Size != y.Size):
			c.add(Difference{Key: KeyDataPointer, Symbol: sa.Name, Offset: o, Index: -1, A: x.Kind + " " + x.Target, B: y.Kind + " " + y.Target})
		case !oky:
			c.add(Difference{Key: KeyDataPointer, Symbol: sa.Name, Offset: o, Index: -1, A: x.Kind + " " + x.Target, B: "not a pointer: " + hexAt(sb, o, x.Size)})
		case !okx:
			c.add(Difference{Key: KeyDataPointer, Symbol: sa.Name, Offset: o, Index: -1, A: "not a pointer: " + hexAt(sa, o, y.Size), B: y.Kind + " " + y.Target})
		}
	}
	// Runs of differing non-pointer bytes, one difference per run.
	for o := uint64(0); o < limit; {
		if inPtr[o] || byteAt(sa, o) == byteAt(sb, o) {
			o++
			continue
		}
		start := o
		for o < limit && !inPtr[o] && byteAt(sa, o) != byteAt(sb, o) {
			o++
		}
		c.add(Difference{Key: KeyDataBytes, Symbol: sa.Name, Offset: start, Index: -1,
			A: hexAt(sa, start, int(o-start)), B: hexAt(sb, start, int(o-start))})
	}
}

func pointerMap(s *canon.Symbol) map[uint64]canon.Pointer {
	m := make(map[uint64]canon.Pointer, len(s.Pointers))
	for _, p := range s.Pointers {
		m[p.Off] = p
	}
	return m
}

// byteAt is a data symbol's byte; BSS and missing bytes read as zero.
func byteAt(s *canon.Symbol, o uint64) byte {
	if o < uint64(len(s.Data)) {
		return s.Data[o]
	}
	return 0
}

const maxHex = 32

func hexAt(s *canon.Symbol, o uint64, n int) string {
	var b strings.Builder
	for k := 0; k < n && k < maxHex; k++ {
		if k > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%02x", byteAt(s, o+uint64(k)))
	}
	if n > maxHex {
		fmt.Fprintf(&b, " ... (%d bytes)", n)
	}
	return b.String()
}

func (c *comparer) errtab() {
	ta, tb := c.a.ErrTab, c.b.ErrTab
	if ta == nil && tb == nil {
		return
	}
	sym := canon.ErrTabSymbol
	if ta == nil || tb == nil {
		c.add(Difference{Key: KeyErrtabCount, Symbol: sym, Index: -1, A: tabCount(ta), B: tabCount(tb)})
		return
	}
	if ta.Err != "" || tb.Err != "" {
		if ta.Err != tb.Err {
			c.add(Difference{Key: KeyErrtabBad, Symbol: sym, Index: -1, A: orOK(ta.Err), B: orOK(tb.Err)})
		}
		return
	}
	if len(ta.Names) != len(tb.Names) {
		c.add(Difference{Key: KeyErrtabCount, Symbol: sym, Index: -1, A: tabCount(ta), B: tabCount(tb)})
	}
	for k := 0; k < len(ta.Names) || k < len(tb.Names); k++ {
		x, y := nameAt(ta, k), nameAt(tb, k)
		if x != y {
			c.add(Difference{Key: KeyErrtabName, Symbol: sym, Offset: 0, Index: -1, A: fmt.Sprintf("error %d %s", k+1, x), B: fmt.Sprintf("error %d %s", k+1, y)})
		}
	}
}

func tabCount(t *canon.ErrTab) string {
	if t == nil {
		return "no error table"
	}
	if t.Err != "" {
		return "malformed: " + t.Err
	}
	return fmt.Sprintf("%d errors", len(t.Names))
}

func orOK(s string) string {
	if s == "" {
		return "well-formed"
	}
	return s
}

func nameAt(t *canon.ErrTab, k int) string {
	if k < len(t.Names) {
		return fmt.Sprintf("%q", t.Names[k])
	}
	return "(none)"
}

// frames compares the call frame information: each function's FDEs
// (matched by the function's name), the CIE fields they use, and the
// .eh_frame_hdr search table's check.
func (c *comparer) frames() {
	fa, fb := c.a.Frames, c.b.Frames
	if fa == nil && fb == nil {
		return
	}
	empty := &canon.Frames{}
	if fa == nil {
		fa = empty
	}
	if fb == nil {
		fb = empty
	}
	if fa.Err != fb.Err {
		c.add(Difference{Key: KeyFrameBad, Symbol: ".eh_frame", Index: -1, A: orOK(fa.Err), B: orOK(fb.Err)})
	}
	byFunc := func(fr *canon.Frames) map[string][]*canon.FDE {
		m := map[string][]*canon.FDE{}
		for i := range fr.FDEs {
			f := &fr.FDEs[i]
			m[f.Func] = append(m[f.Func], f)
		}
		return m
	}
	ma, mb := byFunc(fa), byFunc(fb)
	var names []string
	for n := range ma {
		names = append(names, n)
	}
	for n := range mb {
		if _, ok := ma[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	body := func(f *canon.FDE) string {
		s := fmt.Sprintf("range %#x insns [%s]", f.Range, f.Insns)
		if f.Aug != "" {
			s += " aug [" + f.Aug + "]"
		}
		return s
	}
	list := func(fs []*canon.FDE, text func(*canon.FDE) string) string {
		if len(fs) == 0 {
			return "no FDE"
		}
		parts := make([]string, len(fs))
		for i, f := range fs {
			parts[i] = text(f)
		}
		return "fde " + strings.Join(parts, "; fde ")
	}
	for _, n := range names {
		la, lb := ma[n], mb[n]
		if x, y := list(la, body), list(lb, body); x != y {
			c.add(Difference{Key: KeyFrameFDE, Symbol: n, Index: -1, A: x, B: y})
			continue
		}
		cie := func(f *canon.FDE) string { return f.CIE }
		if x, y := list(la, cie), list(lb, cie); x != y {
			c.add(Difference{Key: KeyFrameCIE, Symbol: n, Index: -1, A: x, B: y})
		}
	}
	hdr := func(h *canon.FrameHdr) string {
		if h == nil {
			return "no .eh_frame_hdr"
		}
		if h.Err != "" {
			return fmt.Sprintf(".eh_frame_hdr of %d entries, wrong: %s", h.Count, h.Err)
		}
		return fmt.Sprintf(".eh_frame_hdr of %d entries, right", h.Count)
	}
	if x, y := hdr(fa.Hdr), hdr(fb.Hdr); x != y {
		c.add(Difference{Key: KeyFrameHdr, Symbol: ".eh_frame_hdr", Index: -1, A: x, B: y})
	}
}
