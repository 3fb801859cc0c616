package wasm

// For the external tests (package wasm_test), which may import packages
// that import this one (ref/wasmgen).
var (
	ClangObjects = clangObjects
	SampleObject = sampleObject
)
