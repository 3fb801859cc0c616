// Package linker is linkcheck's registry of linkers under test: the
// reference linker, LLVM's lld, mold, GNU ld (ld.bfd), gold (ld.gold), and
// any other linker given as a command template. Each has how it is found
// (an oracle/tools name), the formats it links, its fixed command line per
// format, its version, and the names of the diff rules (oracle/diff) that
// suppress its known, intended differences from lld's output.
//
// Every external link is run with a timeout, writes to a temporary name
// beside the output and is renamed into place only on success, so that a
// failed link never leaves a partial executable under the output's name.
//
// The fixed command lines, for the neutral entry symbol _start and no
// system libraries (so objects from linkcheck's code generator, llvm-mc
// and freestanding clang code link without a libc):
//
//	lld:  as oracle/lld (ld.lld, ld64.lld, lld-link, wasm-ld)
//	mold: mold --no-fork -e _start -o OUT OBJ...
//	bfd:  ld.bfd -e _start -o OUT OBJ...
//	gold: ld.gold -e _start -o OUT OBJ...
//	ref:  the reference linker of ref/target, in process
//	cmd:TEMPLATE  the template's words, {out}, {objs} and {entry} replaced
package linker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/oracle/tools/measure"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// DefaultTimeout bounds an external link when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// CmdPrefix starts the name of a linker given as a command template.
const CmdPrefix = "cmd:"

// Names of the built-in linkers.
const (
	Ref  = "ref"
	LLD  = "lld"
	Mold = "mold"
	BFD  = "bfd"
	Gold = "gold"
)

// Linker is one linker under test.
type Linker struct {
	// Name is the registry name ("mold") or "cmd:TEMPLATE".
	Name string
	// Description says what it is, for listings.
	Description string
	// Tool is the oracle/tools name of its program ("mold", "ld.bfd");
	// "" for lld (one tool per format, see oracle/lld.Tool), the reference
	// linker and commands.
	Tool string
	// Rules are the names of the oracle/diff rules that suppress this
	// linker's known, intended differences from lld's output (see
	// docs/linkers.md for each reason).
	Rules []string

	formats  []obj.Format // nil: any format (commands)
	args     func(f obj.Format, objs []string, out string) ([]string, error)
	template *Template // for commands
}

// Options tune a link.
type Options struct {
	// Timeout kills an external linker after this long; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Faults plants deliberate defects in the reference linker
	// (fault-injection tests and `linkcheck selftest` only); other
	// linkers ignore it.
	Faults fault.Set
	// MeasurePeak measures an external linker's own peak memory
	// (Result.MaxRSSKB) through the intermediary of oracle/tools/measure,
	// a few milliseconds more per link; benchmarks set it.
	MeasurePeak bool
}

// Result describes a finished link, successful or not.
type Result struct {
	// Cmd is the exact argv, the linker's path first; for the reference
	// linker, a descriptive word list.
	Cmd      []string
	Stdout   string
	Stderr   string
	Duration time.Duration
	// MaxRSSKB is the linker's peak resident set size in KiB (with
	// Options.MeasurePeak), CPU its user and system time (external linkers
	// only).
	MaxRSSKB int64
	CPU      time.Duration
}

// Reproducer is the command line as one shell-quoted string.
func (r *Result) Reproducer() string {
	q := make([]string, len(r.Cmd))
	for i, a := range r.Cmd {
		q[i] = lld.ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// elfOnly is the command line of a GNU-compatible ELF linker: entry
// _start, output, objects.
func elfOnly(extra ...string) func(obj.Format, []string, string) ([]string, error) {
	return func(f obj.Format, objs []string, out string) ([]string, error) {
		args := append(append([]string(nil), extra...), "-e", lld.EntrySymbol, "-o", out)
		return append(args, objs...), nil
	}
}

// builtins returns the built-in linkers, in listing order.
func builtins() []*Linker {
	var refFormats []obj.Format
	for _, t := range target.All() {
		if t.Need(target.CanLink) == nil && (t.SelfContained() || t.Need(target.CanRead) == nil) {
			refFormats = append(refFormats, t.Format)
		}
	}
	return []*Linker{
		{Name: Ref, Description: "linkcheck's reference linker (ref/link), in process", formats: refFormats},
		{Name: LLD, Description: "LLVM lld 16: ld.lld, ld64.lld, lld-link, wasm-ld (oracle/lld)", formats: obj.Formats,
			args: func(f obj.Format, objs []string, out string) ([]string, error) { return lld.Args(f, objs, out, nil) }},
		{Name: Mold, Description: "mold (Debian mold)", Tool: "mold", formats: []obj.Format{obj.ELF},
			args: elfOnly("--no-fork"), Rules: MoldRules},
		{Name: BFD, Description: "GNU ld (ld.bfd, Debian binutils)", Tool: "ld.bfd", formats: []obj.Format{obj.ELF},
			args: elfOnly(), Rules: BFDRules},
		{Name: Gold, Description: "gold (ld.gold, Debian binutils)", Tool: "ld.gold", formats: []obj.Format{obj.ELF},
			args: elfOnly(), Rules: GoldRules},
	}
}

// Rule sets of the built-in linkers: names of oracle/diff rules. They are
// listed here rather than in oracle/diff so that the diff knows nothing of
// linkers; TestRulesExist checks that every name is registered there.
var (
	// MoldRules are mold's rules.
	MoldRules = []string{"padding", "synthetic-symbols", "mold-local-globals", "mold-eh-frame-hdr"}
	// BFDRules are GNU ld's rules.
	BFDRules = []string{"padding", "synthetic-symbols"}
	// GoldRules are gold's rules.
	GoldRules = []string{"padding", "synthetic-symbols"}
)

// All returns the built-in linkers, in listing order (ref, lld, mold, bfd,
// gold).
func All() []*Linker { return builtins() }

// Names returns the built-in linkers' names, in listing order.
func Names() []string {
	var n []string
	for _, l := range builtins() {
		n = append(n, l.Name)
	}
	return n
}

// Lookup returns the linker named name: a built-in one, or "cmd:TEMPLATE"
// for a command (the template is parsed here, so a bad one is reported
// before anything is linked).
func Lookup(name string) (*Linker, error) {
	if strings.HasPrefix(name, CmdPrefix) {
		tpl, err := ParseTemplate(strings.TrimPrefix(name, CmdPrefix))
		if err != nil {
			return nil, fmt.Errorf("linker %q: %w", name, err)
		}
		return &Linker{Name: name, Description: "a command: " + tpl.String(), template: tpl}, nil
	}
	for _, l := range builtins() {
		if l.Name == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("unknown linker %q (want %s, or %sTEMPLATE with {out}, {objs} and {entry})",
		name, strings.Join(Names(), ", "), CmdPrefix)
}

// IsCommand reports whether the linker is a command template.
func (l *Linker) IsCommand() bool { return l.template != nil }

// Formats returns the formats the linker links; nil for a command, which
// is tried on any format.
func (l *Linker) Formats() []obj.Format { return append([]obj.Format(nil), l.formats...) }

// Supports returns nil when the linker links format f, else an error that
// says which formats it does link.
func (l *Linker) Supports(f obj.Format) error {
	if l.template != nil {
		return nil
	}
	for _, g := range l.formats {
		if g == f {
			return nil
		}
	}
	var names []string
	for _, g := range l.formats {
		names = append(names, string(g))
	}
	if len(names) == 0 {
		return fmt.Errorf("linker %s links no format yet", l.Name)
	}
	why := ""
	if l.Name == Ref {
		why = ": " + target.MustLookup(f).Need(target.CanLink).Error()
	}
	return fmt.Errorf("linker %s does not link %s (it links %s)%s", l.Name, f, strings.Join(names, ", "), why)
}

// ToolName is the oracle/tools name of the program that links format f,
// "" for the reference linker and commands.
func (l *Linker) ToolName(f obj.Format) string {
	if l.Name == LLD {
		n, _ := lld.Tool(f)
		return n
	}
	return l.Tool
}

// Version returns the version line of the linker's program for format f
// (tools.Find's), "linkcheck" for the reference linker and "unknown" for a
// command, whose program is not asked.
func (l *Linker) Version(f obj.Format) (string, error) {
	if l.template != nil {
		return "unknown (a command)", nil
	}
	name := l.ToolName(f)
	if name == "" {
		return "linkcheck reference linker", nil
	}
	t, err := tools.Find(name)
	if err != nil {
		return "", err
	}
	return t.Version, nil
}

// Command returns the argv (program path first) that links objs into out
// in format f. The reference linker has none.
func (l *Linker) Command(f obj.Format, objs []string, out string) ([]string, error) {
	if err := l.Supports(f); err != nil {
		return nil, err
	}
	if l.template != nil {
		return l.template.Expand(objs, out, Entry(f))
	}
	if l.args == nil {
		return nil, fmt.Errorf("linker %s runs in process and has no command line", l.Name)
	}
	path, err := tools.Path(l.ToolName(f))
	if err != nil {
		return nil, fmt.Errorf("linker %s: %w", l.Name, err)
	}
	args, err := l.args(f, objs, out)
	if err != nil {
		return nil, err
	}
	return append([]string{path}, args...), nil
}

// Entry is the entry symbol's name as a linker of format f is given it:
// _start, spelled __start in Mach-O, where C names carry an underscore.
func Entry(f obj.Format) string {
	if f == obj.MachO {
		return "_" + lld.EntrySymbol
	}
	return lld.EntrySymbol
}

// Link links the object files objs into out in format f. The output is
// written under a temporary name in out's directory and renamed into
// place only when the linker succeeded and wrote it. On failure the error
// carries the linker's stderr and the reproducer command line, and the
// Result is returned whenever the linker ran.
func (l *Linker) Link(ctx context.Context, f obj.Format, objs []string, out string, opts Options) (*Result, error) {
	if len(objs) == 0 {
		return nil, fmt.Errorf("linker %s: %s link of %s: no input objects", l.Name, f, out)
	}
	if err := l.Supports(f); err != nil {
		return nil, err
	}
	if l.Name == Ref {
		return linkRef(f, objs, out, opts.Faults)
	}
	tmp := filepath.Join(filepath.Dir(out), ".tmp-"+l.safeName()+"-"+filepath.Base(out))
	os.Remove(tmp)
	argv, err := l.Command(f, objs, tmp)
	if err != nil {
		return nil, err
	}
	res, err := Run(ctx, argv, opts.Timeout, opts.MeasurePeak)
	if err == nil {
		if st, serr := os.Stat(tmp); serr != nil {
			err = fmt.Errorf("it exited 0 but wrote no output (%v)", serr)
		} else if st.Size() == 0 {
			err = errors.New("it exited 0 but its output is empty")
		}
	}
	if err != nil {
		os.Remove(tmp)
		msg := strings.TrimSpace(res.Stderr)
		if msg == "" {
			msg = "(no output on stderr)"
		}
		return res, fmt.Errorf("linker %s: %s link failed (%v):\n%s\ncommand: %s", l.Name, f, err, msg, res.Reproducer())
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("linker %s: %w", l.Name, err)
	}
	return res, nil
}

// safeName is the linker's name as a file name part.
func (l *Linker) safeName() string {
	if l.template != nil {
		return "cmd"
	}
	return l.Name
}

// Run runs argv with a timeout (zero: DefaultTimeout) and returns what it
// printed, its duration and CPU time (and its own peak memory when peak is
// set: see measure.Options.Peak). The error says why it failed: an exit
// status, a signal, or the timeout.
func Run(ctx context.Context, argv []string, timeout time.Duration, peak bool) (*Result, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	res := &Result{Cmd: append([]string(nil), argv...)}
	run, err := measure.Run(ctx, argv, measure.Options{Timeout: timeout, Peak: peak})
	if run != nil {
		res.Stdout, res.Stderr = run.Stdout, run.Stderr
		res.Duration, res.MaxRSSKB, res.CPU = run.Usage.Wall, run.Usage.MaxRSSKB, run.Usage.CPU
	}
	return res, err
}

// linkRef links with the reference linker of format f, writing out
// atomically and executable.
func linkRef(f obj.Format, objs []string, out string, faults fault.Set) (*Result, error) {
	t, err := target.Lookup(f)
	if err != nil {
		return nil, err
	}
	res := &Result{Cmd: append([]string{"linkcheck", "link", "-format", string(f), "-linker", Ref, "-o", out}, objs...)}
	start := time.Now()
	image, _, err := t.Link(objs, link.Options{Faults: faults})
	if err != nil {
		return res, fmt.Errorf("linker ref: %w", err)
	}
	res.Duration = time.Since(start)
	tmp, err := os.CreateTemp(filepath.Dir(out), ".tmp-ref-*")
	if err != nil {
		return res, err
	}
	_, werr := tmp.Write(image)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o755)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), out)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return res, fmt.Errorf("linker ref: writing %s: %w", out, werr)
	}
	return res, nil
}
