/* The C half of a library whose other half is Rust (rust_half.rs): each calls the other, and
   each reads the other's data. */
long c_counter;
extern long RUST_STATE;
long rust_fold(long); long rust_checked(long, long);
long c_scale(long x) { return x * 3 + 1; }
long entry(long n) { return rust_fold(n) + rust_checked(n, n - 5) * 1000 + c_counter * 100000 + RUST_STATE * 10000000; }
