//! A generated C code base of small kernels, the kind a runtime's system image holds in the
//! tens of thousands (issue 29): integer loops, float math, switch dispatch, struct updates,
//! calls through a function-pointer table and vectorizable array loops. `kernels_run(seed)`
//! calls every kernel once through the table and folds what they return and leave behind into
//! one number, which a test compares with gcc's build of the same source. Shared by tests/it
//! and benches/pipeline (`#[path]` modules).

use std::fmt::Write as _;

/// The compiler flags both compilers get. `-ffp-contract=off`: clang fuses `a * b + c` into an
/// FMA where the target has one and gcc does not on its default target, which would make an
/// FMA target's results differ from gcc's in the last bit.
pub const C_FLAGS: &[&str] = &["-O2", "-fPIC", "-ffp-contract=off"];

/// How many kinds of kernel there are (kernel `k` is of kind `k % KINDS`).
const KINDS: usize = 6;
/// The kind that calls another kernel through the table (one of kinds 0 to 3 below it).
const CALLER: usize = 4;

/// The C source of `n` kernels (`n` ≥ 8). `edit`: a kernel whose body differs from the
/// unedited source (its first constant plus one), for rebuilds after a one-function edit.
pub fn generate_c(n: usize, edit: Option<usize>) -> String {
    assert!(
        n >= 8,
        "the table calls need a few kernels below the first caller"
    );
    let mut c = String::with_capacity(n * 400);
    let _ = writeln!(
        c,
        "#include <math.h>\n#include <stdint.h>\n\n\
         struct state {{ uint64_t a; double x; uint32_t n; uint32_t flags; }};\n\
         typedef uint64_t (*kernel_fn)(struct state *, uint64_t);\n\
         extern kernel_fn const kernel_table[{n}];\n"
    );
    for k in 0..n {
        let mut constants = Constants(k as u64 ^ 0x9e37_79b9_7f4a_7c15);
        let mut c1 = constants.next();
        if edit == Some(k) {
            c1 = c1.wrapping_add(1);
        }
        let (c2, c3) = (constants.next(), constants.next());
        let _ = writeln!(c, "uint64_t kernel_{k}(struct state *s, uint64_t v) {{");
        let body = match k % KINDS {
            0 => format!(
                "  uint64_t acc = v + {c1}ull;\n\
                 \x20 for (uint32_t i = 0; i < (s->n & 31u) + 1u; i++) acc = acc * {c2}ull + (i ^ {c3}ull);\n\
                 \x20 return acc;\n"
            ),
            1 => format!(
                "  double x = s->x + (double)(v & 1023u) * {:.6};\n\
                 \x20 for (int i = 0; i < 6; i++) x = x * 0.5 + sqrt(fabs(x) + {:.6});\n\
                 \x20 s->x = x;\n\
                 \x20 return (uint64_t)(int64_t)(x * 4096.0) + {c3}ull;\n",
                (c1 % 1000) as f64 / 100_000.0,
                (c2 % 1000) as f64 / 100.0,
            ),
            2 => format!(
                "  switch ((v + {k}u) % 7u) {{\n\
                 \x20 case 0: return v * {c1}ull;\n\
                 \x20 case 1: return v ^ {c2}ull;\n\
                 \x20 case 2: return (v >> 3) + {c3}ull;\n\
                 \x20 case 3: s->flags ^= (uint32_t)v; return s->flags;\n\
                 \x20 case 4: return v + s->a;\n\
                 \x20 case 5: return (v << 2) - {c1}ull;\n\
                 \x20 default: return {c2}ull;\n\
                 \x20 }}\n"
            ),
            3 => format!(
                "  s->a += v ^ {c1}ull;\n\
                 \x20 s->flags = (s->flags << 1) | (uint32_t)(v & 1u);\n\
                 \x20 s->n = (s->n + {}u) & 255u;\n\
                 \x20 return s->a + s->n + {c3}ull;\n",
                c2 % 251
            ),
            // One of the four kernels just below, none of them a caller (kinds 0 to 3): a
            // chain of table calls is one call long.
            CALLER => format!(
                "  uint64_t j = {}u - (v & 3u);\n\
                 \x20 return kernel_table[j](s, v >> 1) + {c1}ull;\n",
                k - 1
            ),
            _ => format!(
                "  uint32_t buf[32];\n\
                 \x20 for (int i = 0; i < 32; i++) buf[i] = (uint32_t)(v >> (i & 7)) * {}u + (uint32_t)i;\n\
                 \x20 uint32_t sum = {}u;\n\
                 \x20 for (int i = 0; i < 32; i++) sum += buf[i] ^ (buf[31 - i] >> 1);\n\
                 \x20 return sum + s->n;\n",
                c1 as u32, c2 as u32
            ),
        };
        let _ = writeln!(c, "{body}}}\n");
    }
    let _ = writeln!(c, "kernel_fn const kernel_table[{n}] = {{");
    for k in 0..n {
        let _ = writeln!(c, "  kernel_{k},");
    }
    let _ = writeln!(
        c,
        "}};\n\n\
         uint64_t kernels_run(uint64_t seed) {{\n\
         \x20 struct state s = {{ seed, 1.0, 17u, 0u }};\n\
         \x20 uint64_t h = seed;\n\
         \x20 for (uint32_t i = 0; i < {n}u; i++) {{\n\
         \x20   h = h * 1099511628211ull + kernel_table[i](&s, h);\n\
         \x20   h ^= s.a + s.n + s.flags;\n\
         \x20 }}\n\
         \x20 return h ^ (uint64_t)(int64_t)(s.x * 1e6);\n\
         }}"
    );
    c
}

/// A splitmix64 stream: each kernel's constants, the same on every run.
struct Constants(u64);

impl Constants {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
