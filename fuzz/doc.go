// Package fuzz holds linkcheck's Go native fuzz targets (func FuzzX(f
// *testing.F)) and the structure-aware generators they use: gofuzz turns
// the fuzzer's bytes into a structured value (an instruction, a program, an
// update sequence) which is then checked against the oracles.
package fuzz
