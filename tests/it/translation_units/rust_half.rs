// The Rust half of a library whose other half is C (c_half.c).
#![no_std]
extern "C" { fn c_scale(x: i64) -> i64; static mut c_counter: i64; }
#[no_mangle] pub static mut RUST_STATE: i64 = 3;
#[no_mangle] pub extern "C" fn rust_fold(n: i64) -> i64 {
    let mut acc: i64 = 0;
    for i in 0..n { acc = acc.wrapping_mul(31).wrapping_add(unsafe { c_scale(i) }); }
    unsafe { c_counter += 1; RUST_STATE += acc & 7; }
    acc
}
#[no_mangle] pub extern "C" fn rust_checked(a: i64, b: i64) -> i64 { a.checked_div(b).unwrap_or(-1) }
#[panic_handler] fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
