#include "linker_set.h"
int arr_common[4];
int init_vs_tent = 42;
static long square(long x) { return x * x; }
REGISTER("square", square);
long gnu_inline(long x) { return x + 1000; }               /* the out-of-line definition */
