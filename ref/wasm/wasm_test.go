package wasm

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

// clangSources are C programs compiled by clang-16 for the reader tests:
// calls, function pointers in code and data, data pointers, bss, strings,
// constructors, an external function and global.
var clangSources = map[string]string{
	"basic.c": `typedef unsigned long long u64;
u64 g = 7;
const u64 k = 5;
u64 *pg = &g;
static u64 dbl(u64 x) { return x * 2; }
u64 (*fp)(u64) = dbl;
extern u64 ext(u64);
u64 big(u64 a) { volatile u64 arr[4]; arr[0] = a; return arr[0] + ext(a); }
u64 run(void) { return dbl(g) + fp(3) + *pg + k + big(2); }
`,
	"table.c": `typedef unsigned long long u64;
static u64 f1(u64 x) { return x + 1; }
u64 f2(u64 x) { return x + 2; }
extern u64 f3(u64);
u64 (*tab[3])(u64) = {f1, f2, f3};
u64 (*get(int i))(u64) { return i ? f2 : f3; }
u64 run(int i) { return tab[i](5); }
`,
	"misc.c": `extern int ext_data;
static int counter;
int zeros[100];
const char *msg = "hello";
__attribute__((constructor)) static void init(void) { counter = 1; }
__attribute__((export_name("exported_fn"))) int exported(void) { return counter + ext_data + zeros[3]; }
int strlen_(const char *s) { int n = 0; while (s[n]) n++; return n; }
int run(void) { return strlen_(msg) + exported(); }
`,
}

// clangObjects compiles clangSources with each flag set and returns the
// objects' paths.
func clangObjects(t *testing.T) []string {
	t.Helper()
	clang := tools.Require(t, "clang")
	dir := t.TempDir()
	var out []string
	for name, src := range clangSources {
		c := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(c, []byte(src), 0o644))
		for i, flags := range [][]string{{"-O1"}, {"-O1", "-g"}, {"-O1", "-mreference-types"}, {"-O0"}} {
			o := filepath.Join(dir, strings.TrimSuffix(name, ".c")+"-"+string(rune('a'+i))+".o")
			args := append([]string{"--target=wasm32", "-c", "-o", o, c}, flags...)
			msg, err := exec.Command(clang.Path, args...).CombinedOutput()
			require.NoError(t, err, "clang %v: %s", args, msg)
			out = append(out, o)
		}
	}
	return out
}

// TestReadClangObjects: every clang object is read, and writing the model
// back gives the same bytes (the writer lays objects out as LLVM does).
func TestReadClangObjects(t *testing.T) {
	for _, p := range clangObjects(t) {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		o, err := ReadObject(p, data)
		require.NoError(t, err, p)
		require.NotEmpty(t, o.Symbols, p)
		out, err := WriteObject(o)
		require.NoError(t, err, p)
		require.True(t, bytes.Equal(data, out), "%s: written object differs from clang's (%d vs %d bytes)", p, len(out), len(data))
	}
}

// sampleObject is a hand-built object with every kind of symbol and
// every relocation type wasmgen uses.
func sampleObject() *Object {
	i64 := []ValType{I64}
	code := func(b ...byte) []byte { return b }
	var body []byte
	var relocs []Reloc
	add := func(t RelocType, index uint32, addend int32, prefix ...byte) {
		body = append(body, prefix...)
		relocs = append(relocs, Reloc{Type: t, Offset: uint32(len(body)), Index: index, Addend: addend})
		if t == RTableIndexSLEB || t == RMemoryAddrSLEB {
			body = AppendPaddedSLEB(body, 0)
		} else {
			body = AppendPaddedULEB(body, 0)
		}
	}
	// global.get __stack_pointer; drop
	add(RGlobalIndexLEB, 5, 0, 0x23)
	body = append(body, 0x1a)
	// i32.const &g; i64.load offset=g; drop
	add(RMemoryAddrSLEB, 3, 0, 0x41)
	body = append(body, 0x29, 3)
	body = AppendPaddedULEB(body, 0)
	relocs = append(relocs, Reloc{Type: RMemoryAddrLEB, Offset: uint32(len(body) - 5), Index: 3, Addend: 8})
	body = append(body, 0x1a)
	// i64.const 1; call ext; drop
	body = append(body, 0x42, 1)
	add(RFunctionIndexLEB, 4, 0, 0x10)
	body = append(body, 0x1a)
	// i64.const 1; i32.const &f; call_indirect type 0; drop
	body = append(body, 0x42, 1)
	add(RTableIndexSLEB, 0, 0, 0x41)
	add(RTypeIndexLEB, 0, 0, 0x11)
	body = append(body, 0, 0x1a)
	body = append(body, 0x42, 0, 0x0b)
	data := make([]byte, 16)
	return &Object{
		Name:  "sample.o",
		Types: []FuncType{{Params: i64, Results: i64}, {Results: i64}},
		Imports: []Import{
			{Module: "env", Name: "__linear_memory", Kind: ExternMemory, Memory: Limits{Min: 1}},
			{Module: "env", Name: "ext", Kind: ExternFunc, Type: 0},
			{Module: "env", Name: "__stack_pointer", Kind: ExternGlobal, Global: GlobalType{Type: I32, Mutable: true}},
			{Module: "env", Name: "__indirect_function_table", Kind: ExternTable, Table: TableType{Elem: FuncRef, Limits: Limits{Min: 1}}},
		},
		Funcs: []Function{
			{Type: 0, Code: code(0x20, 0, 0x0b)},
			{Type: 1, Locals: []LocalGroup{{Count: 2, Type: I64}, {Count: 1, Type: I32}}, Code: body, Relocs: relocs},
		},
		Elems:     []Elem{{Offset: 1, Funcs: []uint32{1}}},
		DataCount: true,
		Segments: []Segment{
			{Name: ".data.g", Align: 3, Offset: 0, Data: data, Relocs: []Reloc{
				{Type: RTableIndexI32, Offset: 0, Index: 0},
				{Type: RMemoryAddrI32, Offset: 8, Index: 3, Addend: 4},
			}},
			{Name: ".rodata.str", Align: 0, Offset: 16, Flags: SegmentStrings, Data: []byte("hi\x00")},
		},
		Symbols: []Symbol{
			{Kind: SymFunction, Name: "f", Flags: SymBindingLocal, Index: 1},
			{Kind: SymFunction, Name: "run", Flags: SymVisibilityHidden | SymExported | SymNoStrip, Index: 2},
			{Kind: SymData, Name: "str", Flags: SymBindingLocal, Segment: 1, Size: 3},
			{Kind: SymData, Name: "g", Flags: SymVisibilityHidden, Segment: 0, Size: 16},
			{Kind: SymFunction, Name: "ext", Flags: SymUndefined, Index: 0},
			{Kind: SymGlobal, Name: "__stack_pointer", Flags: SymUndefined, Index: 0},
			{Kind: SymTable, Name: "__indirect_function_table", Flags: SymUndefined | SymNoStrip, Index: 0},
			{Kind: SymData, Name: "extern_data", Flags: SymUndefined | SymBindingWeak},
			{Kind: SymFunction, Name: "renamed", Flags: SymUndefined | SymExplicitName, Index: 0},
		},
		InitFuncs: []InitFunc{{Priority: 65535, Symbol: 0}},
		Customs: []Custom{
			{Name: ".debug_str", Data: []byte("abc\x00"), Early: true},
			{Name: "producers", Data: []byte{0}},
		},
	}
}

// TestWriteRead: the sample object passes wasm-validate, wasm-objdump,
// llvm-objdump and llvm-readobj without a warning, and reads back to the
// same bytes.
func TestWriteRead(t *testing.T) {
	o := sampleObject()
	o.Symbols = append(o.Symbols, Symbol{Kind: SymSection, Flags: SymBindingLocal, Index: 0})
	b, err := WriteObject(o)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sample.o")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	checkWithTools(t, path)

	back, err := ReadObject(path, b)
	require.NoError(t, err)
	again, err := WriteObject(back)
	require.NoError(t, err)
	require.Equal(t, b, again)
	require.Equal(t, len(o.Symbols), len(back.Symbols))
	for i := range o.Symbols {
		require.Equal(t, o.Symbols[i], back.Symbols[i], "symbol %d", i)
	}
	for i := range o.Funcs {
		require.Equal(t, o.Funcs[i].Code, back.Funcs[i].Code)
		require.Equal(t, len(o.Funcs[i].Relocs), len(back.Funcs[i].Relocs))
		for j := range o.Funcs[i].Relocs {
			require.Equal(t, o.Funcs[i].Relocs[j], back.Funcs[i].Relocs[j])
		}
	}
	require.Equal(t, o.Segments[0].Relocs, back.Segments[0].Relocs)
	require.Equal(t, o.InitFuncs, back.InitFuncs)
	require.Equal(t, o.Customs[0].Name, back.Customs[0].Name)
	require.True(t, back.Customs[0].Early)
	require.False(t, back.Customs[1].Early)
}

// checkWithTools runs wasm-validate, wasm-objdump -x -r, llvm-objdump -d
// -r and llvm-readobj on an object: each must succeed without a warning.
func checkWithTools(t *testing.T, path string) {
	t.Helper()
	validate := tools.Require(t, "wasm-validate")
	wobjdump := tools.Require(t, "wasm-objdump")
	objdump := tools.Require(t, "llvm-objdump")
	readobj := tools.Require(t, "llvm-readobj")
	for _, cmd := range [][]string{
		{validate.Path, path},
		{wobjdump.Path, "-x", "-r", path},
		{objdump.Path, "-d", "-r", "-t", path},
		{readobj.Path, "--all", path},
	} {
		c := exec.Command(cmd[0], cmd[1:]...)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		require.NoError(t, err, "%v: %s", cmd, stderr.String())
		require.Empty(t, stderr.String(), "%v", cmd)
		require.NotContains(t, strings.ToLower(string(out)), "warning", "%v", cmd)
	}
}

// find returns the offset of the first occurrence of sub in b after from.
func find(t *testing.T, b, sub []byte, from int) int {
	t.Helper()
	i := bytes.Index(b[from:], sub)
	require.GreaterOrEqual(t, i, 0, "% x not found", sub)
	return from + i
}

// TestReadMalformed: corrupted objects are refused with an error naming
// the file, the offset and what is wrong, wrapping ErrMalformed or
// ErrUnsupported.
func TestReadMalformed(t *testing.T) {
	good, err := WriteObject(sampleObject())
	require.NoError(t, err)
	linking := find(t, good, []byte("\x07linking"), 0)
	relocCode := find(t, good, []byte("\x0areloc.CODE"), 0)
	cases := []struct {
		name    string
		mutate  func(b []byte) []byte
		want    string
		wantErr error
	}{
		{"empty", func(b []byte) []byte { return nil }, "too short", ErrMalformed},
		{"magic", func(b []byte) []byte { b[0] = 1; return b }, "bad magic", ErrMalformed},
		{"version", func(b []byte) []byte { b[4] = 2; return b }, "version 2", ErrMalformed},
		{"truncated", func(b []byte) []byte { return b[:len(b)-3] }, "only", ErrMalformed},
		{"section order", func(b []byte) []byte {
			// Make the function section (id 3) a type section (id 1) again.
			i := find(t, b, []byte{3, 0x83, 0x80, 0x80, 0x80, 0}, 8)
			b[i] = 1
			return b
		}, "out of order", ErrMalformed},
		{"unknown section", func(b []byte) []byte { b[8] = 42; return b }, "unknown section id 42", ErrMalformed},
		{"huge count", func(b []byte) []byte {
			// The type section's count (after id and 5-byte size).
			copy(b[14:], []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
			return b
		}, "does not fit", ErrMalformed},
		{"bad leb", func(b []byte) []byte {
			copy(b[9:], []byte{0x80, 0x80, 0x80, 0x80, 0x80})
			return b
		}, "LEB128", ErrMalformed},
		{"no linking", func(b []byte) []byte { b[linking+1] = 'X'; return b }, "no linking section", ErrMalformed},
		{"linking version", func(b []byte) []byte { b[linking+8] = 1; return b }, "linking section version 1", ErrUnsupported},
		{"reloc target", func(b []byte) []byte { b[relocCode+11] = 0x7f; return b }, "does not precede", ErrMalformed},
		{"reloc symbol", func(b []byte) []byte {
			// First entry: type, offset, index -> make the index huge.
			p := relocCode + 11 + 1 + 1
			require.Equal(t, byte(RGlobalIndexLEB), b[p])
			b[p+2] = 0x7e
			return b
		}, "symbol index 126 out of range", ErrMalformed},
		{"reloc kind", func(b []byte) []byte {
			p := relocCode + 11 + 1 + 1
			b[p] = byte(RFunctionIndexLEB)
			return b
		}, "is a global symbol, want function", ErrMalformed},
		{"reloc outside code", func(b []byte) []byte {
			p := relocCode + 11 + 1 + 1
			b[p+1] = 0 // offset 0: the body count
			return b
		}, "not inside a function's code", ErrMalformed},
		{"unpadded leb", func(b []byte) []byte {
			// global.get's padded index 80 80 80 80 00 -> 00 80 80 80 00
			i := find(t, b, []byte{0x23, 0x80, 0x80, 0x80, 0x80, 0}, 8)
			b[i+1] = 0
			return b
		}, "not a 5-byte padded LEB128", ErrMalformed},
		{"reloc type", func(b []byte) []byte {
			p := relocCode + 11 + 1 + 1
			b[p] = 99
			return b
		}, "unknown relocation type 99", ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(append([]byte(nil), good...))
			_, err := ReadObject("bad.o", b)
			require.Error(t, err)
			require.True(t, errors.Is(err, c.wantErr), "%v", err)
			require.Contains(t, err.Error(), c.want)
			require.True(t, strings.HasPrefix(err.Error(), "bad.o: "), "%v", err)
			if len(b) >= 8 {
				require.Contains(t, err.Error(), "offset 0x", "%v", err)
			}
		})
	}
}

// TestValidateRejects: the writer refuses inconsistent models.
func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(o *Object)
		want   string
	}{
		{"type index", func(o *Object) { o.Funcs[0].Type = 9 }, "type index 9 out of range"},
		{"no end", func(o *Object) { o.Funcs[0].Code = []byte{0x20, 0} }, "does not end with the end opcode"},
		{"unsorted relocs", func(o *Object) {
			r := o.Funcs[1].Relocs
			r[0], r[1] = r[1], r[0]
		}, "not sorted"},
		{"reloc past end", func(o *Object) { o.Segments[0].Relocs[1].Offset = 14 }, "past the end"},
		{"addend on index", func(o *Object) { o.Funcs[1].Relocs[0].Addend = 1 }, "addend 1 on a type without addend"},
		{"unpadded", func(o *Object) { o.Funcs[1].Code[1] = 0 }, "not a 5-byte padded LEB128"},
		{"data symbol range", func(o *Object) { o.Symbols[3].Size = 17 }, "past the end of segment"},
		{"undefined defined", func(o *Object) { o.Symbols[4].Index = 1 }, "undefined, but func 1 is not an import"},
		{"import name", func(o *Object) { o.Symbols[4].Name = "other" }, "differs from its import"},
		{"local undefined", func(o *Object) { o.Symbols[4].Flags |= SymBindingLocal }, "undefined and local"},
		{"weak local", func(o *Object) { o.Symbols[0].Flags |= SymBindingWeak }, "both weak and local"},
		{"flags", func(o *Object) { o.Symbols[0].Flags |= 0x8000 }, "unknown flags"},
		{"elem", func(o *Object) { o.Elems[0].Funcs[0] = 7 }, "function index 7 out of range"},
		{"utf8", func(o *Object) { o.Symbols[0].Name = "\xff" }, "not valid UTF-8"},
		{"reserved custom", func(o *Object) { o.Customs[1].Name = "reloc.X" }, "reserved"},
		{"init func", func(o *Object) { o.InitFuncs[0].Symbol = 2 }, "not a function symbol"},
		{"type reloc", func(o *Object) { o.Funcs[1].Relocs[5].Index = 5 }, "type index 5 out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := sampleObject()
			c.mutate(o)
			_, err := WriteObject(o)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrMalformed), "%v", err)
			require.Contains(t, err.Error(), c.want)
			require.True(t, strings.HasPrefix(err.Error(), "sample.o: "), "%v", err)
		})
	}
	// The unpadded field is written when the check is relaxed.
	o := sampleObject()
	o.Funcs[1].Code[1] = 0
	_, err := WriteObjectWith(o, CheckOptions{AllowUnpaddedLEB: true})
	require.NoError(t, err)
}

func TestLEB(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 127, 128, 1 << 31, -(1 << 31), 1<<63 - 1, -1 << 63} {
		b := AppendSLEB(nil, v)
		got, n, err := readSLEB(b, 64)
		require.NoError(t, err)
		require.Equal(t, v, got)
		require.Equal(t, len(b), n)
	}
	for _, v := range []uint64{0, 1, 127, 128, 1<<32 - 1, 1<<64 - 1} {
		b := AppendULEB(nil, v)
		got, n, err := readULEB(b, 64)
		require.NoError(t, err)
		require.Equal(t, v, got)
		require.Equal(t, len(b), n)
	}
	for _, v := range []int32{0, 1, -1, 1<<31 - 1, -1 << 31, 8388608} {
		b := AppendPaddedSLEB(nil, v)
		require.Len(t, b, 5)
		got, _, err := readSLEB(b, 32)
		require.NoError(t, err)
		require.Equal(t, int64(v), got)
	}
	for _, v := range []uint32{0, 1, 1<<32 - 1} {
		b := AppendPaddedULEB(nil, v)
		require.Len(t, b, 5)
		require.True(t, isPaddedLEB(b, 5))
		got, _, err := readULEB(b, 32)
		require.NoError(t, err)
		require.Equal(t, uint64(v), got)
	}
	// Overlong and overflowing encodings.
	_, _, err := readULEB([]byte{0x80, 0x80, 0x80, 0x80, 0x10}, 32)
	require.Error(t, err)
	_, _, err = readULEB([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0}, 32)
	require.Error(t, err)
	_, _, err = readSLEB([]byte{0xff, 0xff, 0xff, 0xff, 0x4f}, 32)
	require.Error(t, err)
	_, _, err = readULEB([]byte{0x80}, 32)
	require.Error(t, err)
}
