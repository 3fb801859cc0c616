/* twice.h: an inline function and a constant that every file including it
 * defines, each in a COMDAT group, so that the linker keeps one copy.
 * clang emits a COMDAT group for a selectany variable; C has no linkage
 * that makes a compiler put a function in one, so the function's group is
 * written as C++ compilers emit an inline function's. */
__attribute__((selectany)) int scale = 2;
__asm__(".section .text.twice,\"axG\",@progbits,twice,comdat\n"
	".globl twice\n.type twice,@function\n"
	"twice: leal (%rdi,%rdi), %eax\nret\n"
	".size twice, .-twice\n.text\n");
int twice(int x);
