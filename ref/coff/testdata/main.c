/* The entry of table.c's test program: its value is the entry point's
   return value (RAX), as linkcheck's Windows entry stubs return it. */
long ext = 1000;
long run(long v);

long long _start(void) {
	long long s = 0;
	for (long i = 0; i < 12; i++)
		s = s * 31 + run(i);
	return s;
}
