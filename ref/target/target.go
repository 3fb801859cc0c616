// Package target is linkcheck's registry of formats: one descriptor per
// format, holding what the reference implementation has for it — the code
// generator that targets it, the object writer and reader, the full
// linker's platform and the incremental linker's image. A capability that
// is not built yet is nil, and callers say so by name instead of switching
// on the format. Only oracle/ and cmd/ import this package: it is where the
// code generators meet the format packages, which never import each other
// or a code generator.
package target

import (
	"errors"
	"fmt"
	"strings"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/coff"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/macho"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/par"
	"github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// CompileOptions change how a program is compiled.
type CompileOptions struct {
	// CallsViaGOT makes every call go through a GOT slot (the incremental
	// linker's got policy).
	CallsViaGOT bool
	// Faults plants deliberate defects (fault-injection tests only).
	Faults fault.Set
	// Rewrite, when not nil, changes the unit objects that Objects makes
	// before they are serialized: an object-level transform of the
	// full-link tests that keeps the program's meaning (obj.ShadowLocals).
	// The x86_64 formats apply it; Wasm's back end, with its own object
	// model, does not.
	Rewrite func(objs []*obj.Object)
}

// Target is what linkcheck has for one format. Nil fields are not built
// yet; Need reports them by name.
type Target struct {
	Format obj.Format
	// ObjectExt is the file name extension of relocatable objects (".o").
	ObjectExt string
	// ExeName is a conventional executable name ("a.out").
	ExeName string
	// Compile lowers a checked module to the format's atoms (nil for Wasm,
	// whose back end makes its own object model: Objects serves it).
	Compile func(m *ir.Module, opts CompileOptions) (*obj.Program, error)
	// NewCompiler returns a compiler of successive versions of one
	// program that relowers only what changed (a compiler server); each
	// program equals Compile's for the same version.
	NewCompiler func(opts CompileOptions) func(m *ir.Module) (*obj.Program, error)
	// CompileFunc lowers one function of a checked module alone, as a
	// compiler server recompiles what changed; the atom equals the one
	// Compile makes for it.
	CompileFunc func(m *ir.Module, name string, opts CompileOptions) (*obj.Atom, error)
	// Objects compiles a checked module into units relocatable objects,
	// serialized, named by UnitName, in unit order.
	Objects func(m *ir.Module, units int, opts CompileOptions) (names []string, files [][]byte, err error)
	// WriteObject serializes a neutral object in the format.
	WriteObject func(o *obj.Object) ([]byte, error)
	// ReadObject reads a relocatable object of the format (name is used in
	// messages).
	ReadObject func(name string, data []byte) (*obj.Object, error)
	// Archives reads the relocatable objects and static archives at
	// paths into the objects to link, in the linker's order (nil when the
	// format reads objects only: ReadInputs then reads each path as one).
	Archives func(paths []string) ([]*obj.Object, error)
	// AnyArchive reports whether a file at paths is a static archive of
	// the format (nil when the format has none): Link then reads the
	// inputs with Archives; objects alone go through link.LinkFiles.
	AnyArchive func(paths []string) bool
	// Platform is the reference full linker's description of the format.
	Platform link.Platform
	// LinkFiles is the reference full linker of a format that does not go
	// through ref/link's shared core (Wasm: code has no addresses, functions
	// are numbered): it reads the relocatable objects at paths and returns
	// the executable. Nil when Platform serves the format.
	LinkFiles func(paths []string, opts link.Options) ([]byte, error)
	// Image is the incremental linker's description of the format.
	Image incr.Image
}

// UnitName is the file name of unit u's object.
func (t *Target) UnitName(u int) string { return fmt.Sprintf("u%d%s", u, t.ObjectExt) }

// ErrNotBuilt is wrapped by Need's errors: what the command needs for the
// format does not exist yet (bad usage, not a finding).
var ErrNotBuilt = errors.New("not built yet")

// Capability names what Need asks for.
type Capability string

// Capabilities of a target.
const (
	CanCompile  Capability = "code generator"
	CanRead     Capability = "object reader"
	CanLink     Capability = "reference linker"
	CanIncr     Capability = "incremental linker"
	CanWriteObj Capability = "object writer"
)

// Need returns an error naming the capability when the target does not
// have it yet ("the reference linker for macho is not built yet").
func (t *Target) Need(c Capability) error {
	have := false
	switch c {
	case CanCompile:
		have = t.Objects != nil
	case CanRead:
		have = t.ReadObject != nil
	case CanLink:
		have = t.Platform != nil || t.LinkFiles != nil
	case CanIncr:
		have = t.Image != nil && t.Compile != nil && t.NewCompiler != nil
	case CanWriteObj:
		have = t.WriteObject != nil
	}
	if !have {
		return fmt.Errorf("the %s for %s is %w", c, t.Format, ErrNotBuilt)
	}
	return nil
}

// x86 returns the descriptor of a format the x86_64 code generator
// targets.
func x86(f obj.Format, ext, exe string, write func(*obj.Object) ([]byte, error)) *Target {
	t := &Target{Format: f, ObjectExt: ext, ExeName: exe, WriteObject: write}
	t.Compile = func(m *ir.Module, opts CompileOptions) (*obj.Program, error) {
		return codegen.CompileWith(m, f, codegen.Options{CallsViaGOT: opts.CallsViaGOT, Faults: opts.Faults})
	}
	t.NewCompiler = func(opts CompileOptions) func(m *ir.Module) (*obj.Program, error) {
		return codegen.NewCompiler(f, codegen.Options{CallsViaGOT: opts.CallsViaGOT, Faults: opts.Faults}).Compile
	}
	t.CompileFunc = func(m *ir.Module, name string, opts CompileOptions) (*obj.Atom, error) {
		f := m.Func(name)
		if f == nil {
			return nil, fmt.Errorf("no function %s", name)
		}
		env := codegen.NewEnv(m)
		env.CallsViaGOT = opts.CallsViaGOT
		return codegen.CompileFunc(f, env)
	}
	t.Objects = func(m *ir.Module, units int, opts CompileOptions) ([]string, [][]byte, error) {
		if units < 1 {
			return nil, nil, fmt.Errorf("-units %d: need at least 1", units)
		}
		// The partition reads m as the code generator does: the two run
		// side by side.
		unitOf := make(chan map[string]int, 1)
		go func() { unitOf <- ir.Partition(m, units) }()
		p, err := t.Compile(m, opts)
		parts := <-unitOf
		if err != nil {
			return nil, nil, err
		}
		if opts.Rewrite == nil {
			// Each unit's object is serialized as soon as it is made
			// and dropped: the program is private to this call, so the
			// objects may share its bytes.
			names, files := make([]string, units), make([][]byte, units)
			if err := obj.EachObject(p, parts, units, t.UnitName, func(u int, o *obj.Object) error {
				b, err := write(o)
				if err != nil {
					return fmt.Errorf("%s: %w", o.Name, err)
				}
				names[u], files[u] = o.Name, b
				return nil
			}); err != nil {
				return nil, nil, err
			}
			return names, files, nil
		}
		objs, err := obj.Objects(p, parts, units, t.UnitName)
		if err != nil {
			return nil, nil, err
		}
		opts.Rewrite(objs)
		return serialize(objs, write)
	}
	return t
}

// ReadBack compiles a checked module into units objects as Objects does
// and reads each serialized object back with ReadObject: the objects a
// linker reading those files would see.
func (t *Target) ReadBack(m *ir.Module, units int, opts CompileOptions) ([]*obj.Object, error) {
	if err := t.Need(CanCompile); err != nil {
		return nil, err
	}
	if err := t.Need(CanRead); err != nil {
		return nil, err
	}
	names, files, err := t.Objects(m, units, opts)
	if err != nil {
		return nil, err
	}
	objs := make([]*obj.Object, len(names))
	for i, n := range names {
		if objs[i], err = t.ReadObject(n, files[i]); err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
	}
	return objs, nil
}

// ReadInputs reads the linker inputs at paths: with Archives when the
// format has static archives, else each path as one object, in parallel.
func (t *Target) ReadInputs(paths []string) ([]*obj.Object, error) {
	if err := t.Need(CanRead); err != nil {
		return nil, err
	}
	if t.Archives != nil {
		return t.Archives(paths)
	}
	return link.ReadObjectFiles(paths, t.ReadObject)
}

// Link links the object files (and, where the format has them, static
// archives) at paths with the format's reference linker: ref/link's shared
// core with Platform, or LinkFiles. The layout is nil for LinkFiles.
// Objects alone are read and linked by link.LinkFiles (mapped, read in
// parallel, their symbols resolved beside the readers), with the result
// and errors of ReadInputs and link.Link.
func (t *Target) Link(paths []string, opts link.Options) ([]byte, *link.Layout, error) {
	if err := t.Need(CanLink); err != nil {
		return nil, nil, err
	}
	if t.LinkFiles != nil {
		image, err := t.LinkFiles(paths, opts)
		return image, nil, err
	}
	if err := t.Need(CanRead); err != nil {
		return nil, nil, err
	}
	if t.Archives == nil || (t.AnyArchive != nil && !t.AnyArchive(paths)) {
		return link.LinkFiles(paths, t.ReadObject, t.Platform, opts)
	}
	in, err := t.ReadInputs(paths)
	if err != nil {
		return nil, nil, err
	}
	return link.Link(in, t.Platform, opts)
}

// SelfContained reports whether the reference linker of the format reads
// its objects itself (LinkFiles) rather than through ReadObject.
func (t *Target) SelfContained() bool { return t.LinkFiles != nil }

// linkWasm is the Wasm target's LinkFiles: ref/wasm's linker, as wasm-ld
// 16 links with --no-entry --export=_start.
func linkWasm(paths []string, opts link.Options) ([]byte, error) {
	if opts.Entry != "" && opts.Entry != wasm.EntryName {
		return nil, fmt.Errorf("link: wasm: the entry is always the export %s, not %s", wasm.EntryName, opts.Entry)
	}
	objs, err := ReadWasmObjects(paths)
	if err != nil {
		return nil, err
	}
	l, err := wasm.Link(objs, wasm.LinkOptions{Faults: opts.Faults})
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	return l.Module, nil
}

// ReadWasmObjects reads the Wasm relocatable objects at paths.
func ReadWasmObjects(paths []string) ([]*wasm.Object, error) {
	objs := make([]*wasm.Object, len(paths))
	for i, p := range paths {
		data, err := input.ReadFile(p, input.MaxObject)
		if err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		if objs[i], err = wasm.ReadObject(p, data); err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
	}
	return objs, nil
}

// serialize writes objects with write, keeping their names.
func serialize(objs []*obj.Object, write func(*obj.Object) ([]byte, error)) (names []string, files [][]byte, err error) {
	names, files = make([]string, len(objs)), make([][]byte, len(objs))
	if err := par.Each(len(objs), func(i int) error {
		b, err := write(objs[i])
		if err != nil {
			return fmt.Errorf("%s: %w", objs[i].Name, err)
		}
		names[i], files[i] = objs[i].Name, b
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return names, files, nil
}

// All returns every format's descriptor, in obj.Formats order.
func All() []*Target {
	e := x86(obj.ELF, ".o", "a.out", elf.WriteObject)
	e.ReadObject, e.Platform, e.Image = elf.ReadObject, elf.Exe{}, elf.IncrImage{}
	e.Archives = elf.ReadInputs // members extracted as ld.lld 16 does
	e.AnyArchive = elf.AnyArchive
	m := x86(obj.MachO, ".o", "a.out", macho.WriteObject)
	m.ReadObject, m.Platform, m.Image = macho.ReadObject, macho.Exe{}, macho.IncrImage{}
	c := x86(obj.COFF, ".obj", "a.exe", coff.WriteObject)
	c.ReadObject, c.Platform = coff.ReadObject, coff.Exe{}
	c.Image = coff.IncrImage{}
	w := &Target{Format: obj.Wasm, ObjectExt: ".o", ExeName: "a.wasm", LinkFiles: linkWasm}
	w.Objects = func(m *ir.Module, units int, opts CompileOptions) ([]string, [][]byte, error) {
		if units < 1 {
			return nil, nil, fmt.Errorf("-units %d: need at least 1", units)
		}
		if opts.CallsViaGOT {
			return nil, nil, fmt.Errorf("wasm has no GOT: calls are by function index")
		}
		files, err := wasmgen.BuildFiles(m, ir.Partition(m, units), units, w.UnitName, wasmgen.Options{Faults: opts.Faults})
		if err != nil {
			return nil, nil, err
		}
		names := make([]string, len(files))
		for u := range files {
			names[u] = w.UnitName(u)
		}
		return names, files, nil
	}
	w.Image = wasm.IncrImage{}
	// A Wasm program for the incremental linker is its one-unit object's.
	incrProgram := func(m *ir.Module, opts CompileOptions, compile func(*ir.Module) (*wasmgen.Program, error)) (*obj.Program, error) {
		if opts.CallsViaGOT {
			return nil, fmt.Errorf("wasm has no GOT: calls are by function index (no -policy got)")
		}
		p, err := compile(m)
		if err != nil {
			return nil, err
		}
		objs, err := p.Objects(ir.Partition(m, 1), 1, w.UnitName)
		if err != nil {
			return nil, err
		}
		return wasm.IncrProgram(objs[0])
	}
	w.Compile = func(m *ir.Module, opts CompileOptions) (*obj.Program, error) {
		return incrProgram(m, opts, func(m *ir.Module) (*wasmgen.Program, error) {
			return wasmgen.Compile(m, wasmgen.Options{Faults: opts.Faults})
		})
	}
	w.NewCompiler = func(opts CompileOptions) func(m *ir.Module) (*obj.Program, error) {
		c := wasmgen.NewCompiler(wasmgen.Options{Faults: opts.Faults})
		return func(m *ir.Module) (*obj.Program, error) { return incrProgram(m, opts, c.Compile) }
	}
	w.CompileFunc = func(m *ir.Module, name string, opts CompileOptions) (*obj.Atom, error) {
		// wasmgen lowers whole programs: the function's atom is picked
		// from the program's (its bytes do not depend on the others')
		p, err := w.Compile(m, opts)
		if err != nil {
			return nil, err
		}
		if a := p.Atom(name); a != nil && a.Kind == obj.Text {
			return a, nil
		}
		return nil, fmt.Errorf("compile %s: no such function", name)
	}
	return []*Target{e, m, c, w}
}

// Lookup returns the descriptor of format f.
func Lookup(f obj.Format) (*Target, error) {
	for _, t := range All() {
		if t.Format == f {
			return t, nil
		}
	}
	names := make([]string, len(obj.Formats))
	for i, f := range obj.Formats {
		names[i] = string(f)
	}
	return nil, fmt.Errorf("unknown format %q (want %s)", f, strings.Join(names, ", "))
}

// MustLookup is Lookup for a format known to exist (obj.ELF, ...); it
// panics on an unknown one, a programming error.
func MustLookup(f obj.Format) *Target {
	t, err := Lookup(f)
	if err != nil {
		panic(err)
	}
	return t
}
