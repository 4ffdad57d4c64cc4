#include "linker_set.h"
int arr_common[2];            /* common, smaller */
int init_vs_tent;             /* tentative here, initialized in b */
static long twice(long x) { return 2 * x; }
REGISTER("twice", twice);
long impl(long x) { return x + 40; }
long alias_fn(long) __attribute__((alias("impl")));
__attribute__((visibility("hidden"))) long hidden_helper(long x) { return x ^ 5; }
extern inline long gnu_inline(long x) { return x + 1; }   /* gnu89: inline-only here */
