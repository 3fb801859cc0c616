package elf

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// elfCorpusDir is corpus/asm/elf: one directory per ELF feature (issue 18).
const elfCorpusDir = "elf"

// TestLinkELFCorpus links each case of corpus/asm/elf with the reference
// linker and ld.lld and requires identical allocated sections, symbol
// values, program headers and entry (exact), and the same exit status
// where the case is a program (status >= 0).
func TestLinkELFCorpus(t *testing.T) {
	cases := []struct {
		name   string
		status int // -1: not a program
		exact  bool
	}{
		{"empty_merge", 42, true},
		{"empty_text", -1, true},
		{"empty_sections", -1, true},
		{"hidden", 42, true},
		{"linker_defined", 42, true},
		{"init_array", 42, true},
		{"comdat", 42, true},
		{"common", 42, true},
		{"notes", 42, true},
		{"rodata_nobits", 42, true},
		{"tls", 42, true},
		{"gotpcrelx_imm", 0, true},
		{"symver", 42, true},
		{"relocs", 42, true},
		{"writable_code", 42, true},
		{"got_base", 42, true},
		{"ifunc", 42, true},
		{"eh_frame", 42, true},
		{"array_names", 42, true},
		{"exec_nobits", 42, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			objs := assembleCorpus(t, dir, filepath.Join(elfCorpusDir, tc.name))
			ref, ld, _ := linkBoth(t, dir, objs)
			checkLLVMReads(t, ref)
			if tc.status >= 0 {
				require.Equal(t, tc.status, runNative(t, ref).status, "ref exit status")
				require.Equal(t, tc.status, runNative(t, ld).status, "lld exit status")
			}
			compareWithLLD(t, ref, ld, tc.exact)
			require.Equal(t, symbolOthers(t, ld), symbolOthers(t, ref), "symbol bindings and visibilities")
		})
	}
}

// TestLinkELFCorpusErrors: the err_* cases of corpus/asm/elf are refused
// with the given message, as ld.lld refuses them.
func TestLinkELFCorpusErrors(t *testing.T) {
	cases := []struct {
		name, want string
	}{
		{"err_ifunc_address", "main.o:(.text+0x3): relocation R_X86_64_PC32 against the indirect function f (only calls, R_X86_64_PLT32) is not supported"},
		{"err_linkorder_merge", "main.o: section .lo: SHF_LINK_ORDER section linked to the merge section .rodata.str1.1 is not supported (ld.lld refuses it too)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			objs := assembleCorpus(t, dir, filepath.Join(elfCorpusDir, tc.name))
			var err error
			for _, p := range objs {
				data, rerr := os.ReadFile(p)
				require.NoError(t, rerr)
				if _, err = ReadObject(filepath.Base(p), data); err != nil {
					break
				}
			}
			if err == nil {
				_, _, err = LinkFiles(objs, link.Options{})
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrUnsupported)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// symbolOthers lists every symbol's name, binding and st_other.
func symbolOthers(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	syms, err := f.Symbols()
	require.NoError(t, err)
	var out []string
	for _, s := range syms {
		out = append(out, fmt.Sprintf("%s %v %d", s.Name, elf.ST_BIND(s.Info), s.Other))
	}
	return out
}

// TestEntry: -e names the entry (ld.lld --entry), and a missing entry
// symbol is a warning with entry address 0, as in ld.lld.
func TestEntry(t *testing.T) {
	cases := []struct {
		dir, entry, warning string
		status              int
	}{
		{"entry", "begin", "", 42},
		{"noentry", "", "cannot find entry symbol _start; not setting start address", -1},
		{"entry", "nosuch", "cannot find entry symbol nosuch; not setting start address", -1},
	}
	for _, tc := range cases {
		t.Run(tc.dir+"/"+tc.entry, func(t *testing.T) {
			tools.Require(t, "ld.lld")
			dir := t.TempDir()
			objs := assembleCorpus(t, dir, filepath.Join(elfCorpusDir, tc.dir))
			out, l, err := Link(readObjects(t, objs), link.Options{Entry: tc.entry})
			require.NoError(t, err)
			if tc.warning == "" {
				require.Empty(t, l.Warnings)
			} else {
				require.Equal(t, []string{tc.warning}, l.Warnings)
			}
			ref := filepath.Join(dir, "ref.out")
			require.NoError(t, os.WriteFile(ref, out, 0o755))
			ld := filepath.Join(dir, "lld.out")
			var extra []string
			if tc.entry != "" {
				extra = []string{"--entry=" + tc.entry}
			}
			res, err := lld.Link(context.Background(), obj.ELF, objs, ld, lld.Options{Extra: extra})
			require.NoError(t, err)
			if tc.warning != "" {
				require.Contains(t, res.Stderr, "warning: "+tc.warning)
			}
			compareWithLLD(t, ref, ld, true)
			if tc.status >= 0 {
				require.Equal(t, tc.status, runNative(t, ref).status)
				require.Equal(t, tc.status, runNative(t, ld).status)
			}
		})
	}
}
