package exec

// WasmMaxPages bounds a module's linear memory (64 KiB pages): 256 MiB.
const WasmMaxPages = 4096
