package canon

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestLoadELF checks the ELF loader's neutral model of real ld.lld links:
// sections with their flags and hints, symbols with their kinds, sections
// and source files, and the sites --emit-relocs keeps.
func TestLoadELF(t *testing.T) {
	l := link(t, "--no-relax", "--emit-relocs")
	f, err := loadELF(l.exe)
	require.NoError(t, err)
	require.Equal(t, "elf", f.format)
	require.Equal(t, len(l.exe), f.size)
	require.Equal(t, canontest.Addr(t, l.exe, "_start"), f.entry)

	secs := map[string]*section{}
	for _, s := range f.sections {
		secs[s.name] = s
	}
	require.Equal(t, "AX", secs[".text"].flags)
	require.Equal(t, "AW", secs[".got"].flags)
	require.True(t, secs[".got"].got, "--no-relax keeps a .got")
	require.False(t, secs[".text"].got)
	require.True(t, secs[".bss"].nobits)
	require.Nil(t, secs[".bss"].data)
	require.Len(t, secs[".text"].data, int(secs[".text"].size))

	syms := map[string]fileSymbol{}
	for _, s := range f.symbols {
		syms[s.name] = s
	}
	main := syms["main"]
	require.Equal(t, KindFunc, main.kind)
	require.Equal(t, BindGlobal, main.bind)
	require.Same(t, secs[".text"], main.sec)
	require.Equal(t, canontest.Addr(t, l.exe, "main"), main.value)
	require.Equal(t, BindLocal, syms["twice"].bind)
	require.Empty(t, syms["twice"].file, "llvm-mc writes no STT_FILE without .file")
	require.Equal(t, KindNone, syms["helper"].kind)
	require.Zero(t, syms["helper"].size)
	require.False(t, main.reserved)
	for name, want := range map[string]bool{"_GLOBAL_OFFSET_TABLE_": true, "_end": true, "__start_sec": true, "__stop_sec": true, "main": false, "_start": false} {
		require.Equal(t, want, elfReserved(name), name)
	}

	require.Equal(t, PointersFromEmitRelocs, f.ownSource)
	require.Empty(t, f.siteNotes)
	require.True(t, sort.SliceIsSorted(f.ownSites, func(i, j int) bool { return f.ownSites[i].addr < f.ownSites[j].addr }))
	kinds := map[obj.RelocKind]int{}
	for i, s := range f.ownSites {
		if i > 0 {
			require.NotEqual(t, f.ownSites[i-1].addr, s.addr, "sites are unique")
		}
		kinds[s.kind]++
	}
	require.Positive(t, kinds[obj.Abs64], "ptrs and table hold absolute pointers")
	require.Positive(t, kinds[obj.Branch32], "calls")
	require.Positive(t, kinds[obj.GOTLoad32], "GOT loads")

	// clang writes STT_FILE, and each file's counter is its own.
	units, err := loadELF(readGoldenInputs(t)["c-units-f1/lld.exe"])
	require.NoError(t, err)
	var counters []string
	for _, s := range units.symbols {
		if s.name == "counter" {
			require.Equal(t, BindLocal, s.bind)
			counters = append(counters, s.file)
		}
	}
	require.Equal(t, []string{"a.c", "b.c"}, counters)

	plain, err := loadELF(link(t).exe)
	require.NoError(t, err)
	require.Empty(t, plain.ownSource, "without --emit-relocs the file records no sites")
	require.Empty(t, plain.ownSites)
}
