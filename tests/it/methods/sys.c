/* A "system image" library: the methods package images call. */
long f(long x) { return x * 3 + 1; }
long g(long x) { return x ^ 0x5a; }
long sys_only(long x) { return x - 7; }
