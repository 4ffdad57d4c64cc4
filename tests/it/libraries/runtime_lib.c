/* A runtime's own shared library (a libjulia-like one) that package images call into, and
   whose data they read (as Julia's code reads jl_nothing). */
long long rt_scale(long long x) { return x * 7 + 3; }
long long rt_bias = 1;
