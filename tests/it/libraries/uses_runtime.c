/* Package code that calls its runtime's library and reads its data. */
long long rt_scale(long long x);
extern long long rt_bias;
long long pkg_uses_runtime(long long x) { return rt_scale(x) + rt_bias; }
