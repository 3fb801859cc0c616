#!/bin/bash -eu
# build.sh builds every Go native fuzz target of fuzz/ for ClusterFuzzLite
# (or OSS-Fuzz) with compile_native_go_fuzzer: PACKAGE FUNCTION FUZZER.
# The list must name exactly the `func FuzzX(f *testing.F)` of fuzz/*_test.go:
# oracle/campaign's TestClusterFuzzLiteBuildListsEveryTarget checks it (add a
# line here when you add a target).
cd "$SRC/linkcheck"
go mod download
pkg=github.com/linkcheck/linkcheck/fuzz
compile_native_go_fuzzer $pkg FuzzCanonELF fuzz_canon_elf
compile_native_go_fuzzer $pkg FuzzCanonMachO fuzz_canon_macho
compile_native_go_fuzzer $pkg FuzzCanonPE fuzz_canon_pe
compile_native_go_fuzzer $pkg FuzzCanonWasm fuzz_canon_wasm
compile_native_go_fuzzer $pkg FuzzEncode fuzz_encode
compile_native_go_fuzzer $pkg FuzzErrorTable fuzz_error_table
compile_native_go_fuzzer $pkg FuzzGOT fuzz_got
compile_native_go_fuzzer $pkg FuzzGenEdit fuzz_gen_edit
compile_native_go_fuzzer $pkg FuzzIncrementalCOFF fuzz_incremental_coff
compile_native_go_fuzzer $pkg FuzzIncrementalELF fuzz_incremental_elf
compile_native_go_fuzzer $pkg FuzzIncrementalGold fuzz_incremental_gold
compile_native_go_fuzzer $pkg FuzzIncrementalMachO fuzz_incremental_mach_o
compile_native_go_fuzzer $pkg FuzzIncrementalWasm fuzz_incremental_wasm
compile_native_go_fuzzer $pkg FuzzLinker fuzz_linker
compile_native_go_fuzzer $pkg FuzzLinkWasm fuzz_link_wasm
compile_native_go_fuzzer $pkg FuzzLoadImage fuzz_load_image
compile_native_go_fuzzer $pkg FuzzParse fuzz_parse
compile_native_go_fuzzer $pkg FuzzReadCOFF fuzz_read_coff
compile_native_go_fuzzer $pkg FuzzReadELF fuzz_read_elf
compile_native_go_fuzzer $pkg FuzzReadMachO fuzz_read_mach_o
compile_native_go_fuzzer $pkg FuzzReadWasmObject fuzz_read_wasm_object
compile_native_go_fuzzer $pkg FuzzRefLinker fuzz_ref_linker
compile_native_go_fuzzer $pkg FuzzSidecar fuzz_sidecar
compile_native_go_fuzzer $pkg FuzzStateJSON fuzz_state_json
compile_native_go_fuzzer $pkg FuzzTrampoline fuzz_trampoline
compile_native_go_fuzzer $pkg FuzzWasmObjectModel fuzz_wasm_object_model
compile_native_go_fuzzer $pkg FuzzWasmProgram fuzz_wasm_program
