//! The example's loop kernels (examples/kernels/kernels.c) as the multiversion section calls
//! them: each through its C signature, with arguments that give it its maximum work.

use std::ffi::c_void;
use std::hint::black_box;

/// Calls one kernel through its C signature with fixed arguments; returns the result's bits.
///
/// Safety: the pointer must be that kernel's code, in an image that is still open.
type KernelCall = unsafe fn(*const c_void) -> u64;

pub struct Kernel {
    pub name: &'static str,
    /// The work, for the report (`n=1024`).
    pub work: &'static str,
    /// A control that wider vectors should not speed up (a libm call per iteration, or a
    /// serial chain); reported, but left out of the geometric mean.
    pub control: bool,
    pub call: KernelCall,
}

/// A result as bits, to compare results exactly.
trait ResultBits {
    fn bits(self) -> u64;
}

impl ResultBits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl ResultBits for i64 {
    fn bits(self) -> u64 {
        self as u64
    }
}

impl ResultBits for u64 {
    fn bits(self) -> u64 {
        self
    }
}

/// A [`Kernel`] that calls the example's `$name` as `extern "C" fn($ty, ...) -> $ret` (its C
/// signature, kernels.c) with the arguments `$arg, ...`.
macro_rules! kernel {
    ($name:literal, $work:literal, $control:expr,
     fn($($ty:ty),*) -> $ret:ty, ($($arg:expr),*)) => {
        Kernel {
            name: $name,
            work: $work,
            control: $control,
            call: |code: *const c_void| -> u64 {
                type Signature = unsafe extern "C" fn($($ty),*) -> $ret;
                // SAFETY: the caller passes the code of `$name`, which has this C signature.
                let f = unsafe { std::mem::transmute::<*const c_void, Signature>(code) };
                // SAFETY: as above; the kernels are total for any arguments.
                unsafe { f($(black_box($arg)),*) }.bits()
            },
        }
    };
}

/// The example's loop kernels, with arguments that make each do its maximum work
/// (n = NMAX = 1024 elements, 4096 bytes for `bytes_memops`, 512 for `crc32_bytes`).
pub fn kernels() -> Vec<Kernel> {
    vec![
        kernel!(
            "dot_product",
            "n=1024",
            false,
            fn(i64, f64, f64, f64, f64) -> f64,
            (1024, 0.5, 1e-3, 1.0, -2e-3)
        ),
        kernel!(
            "saxpy_checksum",
            "n=1024",
            false,
            fn(i64, f64, i64) -> f64,
            (1024, 1.5, 12345)
        ),
        kernel!(
            "sum_squares",
            "n=1024",
            false,
            fn(i64, f64, f64) -> f64,
            (1024, 0.5, 1e-3)
        ),
        kernel!(
            "scaled_mean",
            "n=1024",
            false,
            fn(i64, f64, f64) -> f64,
            (1024, 0.5, 1e-3)
        ),
        kernel!(
            "horner_poly",
            "n=1024",
            false,
            fn(i64, f64, f64, f64, f64, f64, f64, f64) -> f64,
            (1024, 1.0, -0.5, 0.25, -0.125, 0.0625, -1.0, 2.0 / 1024.0)
        ),
        kernel!(
            "stencil_blur",
            "n=1024, 4 passes",
            false,
            fn(i64, i64, f64, f64) -> f64,
            (1024, 4, 0.5, 1e-3)
        ),
        kernel!(
            "matmul16_checksum",
            "16x16",
            false,
            fn(i64, f64) -> f64,
            (12345, 0.75)
        ),
        kernel!(
            "i32_sum",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "i32_minmax",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "i32_abs_diff_sum",
            "n=1024",
            false,
            fn(i64, i64, i64) -> i64,
            (1024, 12345, 67890)
        ),
        kernel!(
            "popcount_sum",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "prefix_sum_checksum",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "histogram_checksum",
            "n=1024, 64 bins",
            false,
            fn(i64, i64, i64) -> i64,
            (1024, 12345, 63)
        ),
        kernel!(
            "bytes_memops",
            "n=4096 bytes",
            false,
            fn(i64, i64, i64) -> i64,
            (4096, 0x5a, 12345)
        ),
        kernel!(
            "crc32_bytes",
            "n=512 bytes",
            false,
            fn(i64, i64) -> u64,
            (512, 12345)
        ),
        kernel!(
            "exp_sum",
            "n=256 exp calls",
            true,
            fn(i64, f64, f64) -> f64,
            (256, -1.0, 1.0 / 256.0)
        ),
        kernel!(
            "collatz_steps",
            "524 steps",
            true,
            fn(i64) -> i64,
            (837_798)
        ),
    ]
}
