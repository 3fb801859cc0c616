/* Floating-point and vector constants (.rodata.cst8, .rodata.cst16, merged
   by entry) and a loop the optimizer vectorizes over .bss arrays. */
#include "../sys.h"

static const double coeffs[4] = {0.5, 1.25, -3.0, 4.75};
int in[256], outv[256];

__attribute__((noinline)) static double poly(double x) {
	return 1.5 * x * x - 2.25 * x + 0.125;
}

__attribute__((noinline)) static void vmix(int *restrict out, const int *restrict a, int n) {
	for (int i = 0; i < n; i++)
		out[i] = a[i] * 3 + 17;
}

ENTRY {
	double acc = 0;
	for (int i = 0; i < 8; i++)
		acc += poly(i * 0.5) * coeffs[i & 3];
	for (int i = 0; i < 256; i++)
		in[i] = i ^ 0x55;
	vmix(outv, in, 256);
	long s = (long)acc;
	for (int i = 0; i < 256; i += 17)
		s += outv[i];
	sys_exit(s & 0xff);
}
