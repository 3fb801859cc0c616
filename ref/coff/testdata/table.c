/* Compiled by the tests with clang --target=x86_64-pc-windows-msvc -c -O2
   (and -windows-gnu): a function-pointer table, strings, statics and a
   switch. */
static long twice(long x) { return 2 * x; }
static long thrice(long x) { return 3 * x; }
long (*const table[])(long) = {twice, thrice};
static long counter = 7;
static const char *const names[] = {"zero", "one", "two", "three"};
long zeros[4];
const char *msg = "hello, world";
extern long ext;
__declspec(selectany) long shared = 5;

long pick(int k, long v) {
	switch (k) {
	case 0: return v + 1;
	case 1: return v * 7;
	case 2: return v - 3;
	case 3: return v ^ 5;
	case 4: return msg[v & 3];
	case 5: return names[v & 3][0];
	default: return 0;
	}
}

long run(long v) {
	counter += table[v & 1](v);
	zeros[v & 3] = counter;
	return counter + ext + shared + pick((int)v, v);
}
