/* A "package image" calling methods of the system image (f, g), directly, through an
 * internal helper, through a function-pointer table and in a recursive cycle. */
long f(long);
long g(long);

__attribute__((noinline)) static long helper(long x) { return g(x) + 1; }

long uses_f(long x) { return f(x) * 2; }
long uses_g(long x) { return g(x) - 1; }
long via_helper(long x) { return helper(x) * 5; }
long uses_both(long x) { return f(x) + g(x); }
long independent(long x) { return x + 100; }

/* g's address stored in data: the method depends on g without a direct call. */
long (*const by_pointer[2])(long) = { f, g };
long via_table(long i) { return by_pointer[i & 1](i); }

/* Mutually recursive pair reaching g only through each other. */
long ping(long n);
__attribute__((noinline)) long pong(long n) { return n <= 0 ? g(n) : ping(n - 1) + 1; }
__attribute__((noinline)) long ping(long n) { return n <= 0 ? 0 : pong(n - 1) + 1; }
