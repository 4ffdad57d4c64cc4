extern int order[8];
extern int count;
__attribute__((constructor)) static void third(void) { order[count++] = 3; }
