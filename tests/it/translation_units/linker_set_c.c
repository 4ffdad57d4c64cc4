#include "linker_set.h"
#include <string.h>
extern int arr_common[]; extern int init_vs_tent;
extern const struct entry __start_aot_reg[], __stop_aot_reg[];
long alias_fn(long); long hidden_helper(long);
extern inline long gnu_inline(long x) { return x + 1; }
static long neg(long x) { return -x; }
REGISTER("neg", neg);
long count_reg(long i) { return __stop_aot_reg - __start_aot_reg; }
long call_reg(long x) { long s = 0; for (const struct entry *e = __start_aot_reg; e < __stop_aot_reg; e++) s = s * 7 + e->fn(x) + strlen(e->name); return s; }
long misc(long x) { arr_common[3] = (int)x; return arr_common[3] + init_vs_tent + alias_fn(x) + hidden_helper(x) + gnu_inline(x); }
