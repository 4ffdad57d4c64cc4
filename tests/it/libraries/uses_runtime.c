/* Package code that calls its runtime's library. */
long long rt_scale(long long x);
long long pkg_uses_runtime(long long x) { return rt_scale(x) + 1; }
