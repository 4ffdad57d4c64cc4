/* Three C files: `static` functions and data of one name in each, tentative definitions of
   one variable in two (-fcommon), weak definitions a strong one in another file overrides, a
   C99 inline function with its external definition in one file, constructors of several
   priorities in several files. */
struct point { int x, y; };
inline int sq(int v) { return v * v; }   /* C99 inline: external def in exactly one TU */
static inline int cube(int v) { return v * v * v; }
extern int log_[32]; extern int nlog;
