/* unused.c: nothing refers to it; from the archive, no linker extracts it. */
_Thread_local int unused_tls = 9;
int unused_function(void) { return unused_tls; }
