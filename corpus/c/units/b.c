/* The other half of units: see a.c. */
static int counter = 7;

__attribute__((noinline)) static int twice(int x) { return 2 * x; }
__attribute__((noinline)) static int thrice(int x) { return 3 * x; }
int negate(int x) { return -x; }

int (*const ops[])(int) = {twice, thrice, negate};
int nops = 3;
const char *greeting = "hello";

__attribute__((noinline)) int scale(int x) {
	counter++;
	return x * counter;
}
