/* sys.h: the one system call the corpus programs make. */
#if defined(__wasm__)
/* Wasm (clang --target=wasm32): _start returns the status, which the
   runner (wazero, which wants () -> i64) reports as the value. */
#define sys_exit(code) return (code)
#define ENTRY long long _start(void)
#else
static inline __attribute__((noreturn)) void sys_exit(long code) {
	__asm__ volatile("syscall" : : "a"(60), "D"(code) : "rcx", "r11", "memory");
	__builtin_unreachable();
}
#define ENTRY __attribute__((force_align_arg_pointer, noreturn)) void _start(void)
#endif
