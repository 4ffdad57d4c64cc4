extern int order[8];
extern int count;
__attribute__((constructor)) static void second(void) { order[count++] = 2; }
long constructed(long i) { return i < 0 ? count : order[i]; }
