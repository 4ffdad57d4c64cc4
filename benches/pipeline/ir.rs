//! The generated module: deterministic IR shaped like a runtime's compiled code (integer and
//! float arithmetic, short loops, global arrays, calls between functions, a table of function
//! pointers and a dispatcher calling through it). No RNG: the same IR every run.

use std::fmt::Write as _;

/// The host target the module is generated for (the cross section swaps in others): the first
/// of the supported targets, x86_64 Linux.
pub const TRIPLE: &str = aotlink::target::SUPPORTED_TARGETS[0].llvm;
pub const DATALAYOUT: &str = aotlink::target::SUPPORTED_TARGETS[0].datalayout;
/// Entries of the global function-pointer table.
const TABLE_LEN: usize = 64;
/// Global data arrays, and the length of each.
const DATA_ARRAYS: usize = 4;
const DATA_LEN: usize = 64;

/// A deterministic scramble of `i`, for constants and call targets (no RNG: same IR every run).
fn mix(i: usize) -> usize {
    let x = (i as u64 ^ 0x9e37_79b9).wrapping_mul(0x2545_f491_4f6c_dd1d);
    (x >> 33) as usize
}

fn function_name(i: usize) -> String {
    format!("julia_kernel_{i}")
}

/// The functions exported as C entry points: the dispatcher and a few spread over the module.
pub fn export_names(functions: usize) -> Vec<String> {
    let mut names = vec!["julia_dispatch".to_string()];
    let picks = [
        0,
        functions / 4,
        functions / 2,
        3 * functions / 4,
        functions - 1,
    ];
    names.extend(picks.iter().map(|&i| function_name(i)));
    names.dedup();
    names
}

pub fn generate_ir(functions: usize) -> String {
    generate_ir_for(functions, TRIPLE, DATALAYOUT)
}

/// The module for another target: only the `target triple` and `target datalayout` differ.
pub fn generate_ir_for(functions: usize, triple: &str, datalayout: &str) -> String {
    let mut ir = String::with_capacity(functions * 700);
    let _ = writeln!(ir, "; aotlink pipeline benchmark: {functions} functions");
    let _ = writeln!(ir, "source_filename = \"aotlink_bench\"");
    let _ = writeln!(ir, "target datalayout = \"{datalayout}\"");
    let _ = writeln!(ir, "target triple = \"{triple}\"\n");
    write_data_globals(&mut ir);
    write_function_table(&mut ir, functions);
    for i in 0..functions {
        write_function(&mut ir, i);
    }
    write_dispatcher(&mut ir);
    ir
}

/// Constant-ish arrays the functions read, plus a counter some of them bump.
fn write_data_globals(ir: &mut String) {
    for a in 0..DATA_ARRAYS {
        let values: Vec<String> = (0..DATA_LEN)
            .map(|k| format!("i64 {}", mix(a * DATA_LEN + k) % 100_000))
            .collect();
        let _ = writeln!(
            ir,
            "@julia_data_{a} = global [{DATA_LEN} x i64] [{}], align 16",
            values.join(", ")
        );
    }
    let _ = writeln!(ir, "@julia_counter = global i64 0, align 8\n");
}

/// A method table of sorts: pointers to functions spread over the module.
fn write_function_table(ir: &mut String, functions: usize) {
    let entries: Vec<String> = (0..TABLE_LEN)
        .map(|k| format!("ptr @{}", function_name(k * functions / TABLE_LEN)))
        .collect();
    let _ = writeln!(
        ir,
        "@julia_fn_table = global [{TABLE_LEN} x ptr] [{}], align 16\n",
        entries.join(", ")
    );
}

/// One small function: integer and float arithmetic, then by `i`: a loop, an array read, a
/// counter update, and calls to one or two earlier functions (about a third of them).
fn write_function(ir: &mut String, i: usize) {
    let (c1, c2, c3) = (mix(i) % 97 + 3, mix(i + 1) % 1013 + 1, mix(i + 2) % 64);
    let _ = writeln!(ir, "define i64 @{}(i64 %a, double %b) {{", function_name(i));
    let _ = writeln!(ir, "entry:");
    let _ = writeln!(ir, "  %x0 = mul i64 %a, {c1}");
    let _ = writeln!(ir, "  %x1 = add i64 %x0, {c2}");
    let _ = writeln!(ir, "  %x2 = xor i64 %x1, {}", mix(i + 3) % 65_536);
    let _ = writeln!(ir, "  %f0 = sitofp i64 %x2 to double");
    let _ = writeln!(ir, "  %f1 = fmul double %f0, %b");
    let _ = writeln!(ir, "  %f2 = fadd double %f1, {c3}.5");
    let _ = writeln!(ir, "  %y0 = fptosi double %f2 to i64");
    let mut value = "%y0".to_string();
    if i.is_multiple_of(4) {
        value = write_loop(ir, &value, c1);
    }
    if i % 5 == 2 {
        value = write_array_read(ir, &value, i % DATA_ARRAYS);
    }
    if i % 16 == 3 {
        let _ = writeln!(
            ir,
            "  %cnt = atomicrmw add ptr @julia_counter, i64 1 monotonic"
        );
    }
    if i % 3 == 1 && i >= 2 {
        value = write_calls(ir, &value, i);
    }
    let _ = writeln!(ir, "  ret i64 {value}\n}}\n");
}

/// A counted loop of 8..24 trips folding a multiply-add; returns the result's name.
fn write_loop(ir: &mut String, start: &str, factor: usize) -> String {
    let trips = 8 + factor % 17;
    let _ = writeln!(ir, "  br label %loop");
    let _ = writeln!(ir, "loop:");
    let _ = writeln!(ir, "  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]");
    let _ = writeln!(
        ir,
        "  %acc = phi i64 [ {start}, %entry ], [ %acc.next, %loop ]"
    );
    let _ = writeln!(ir, "  %m = mul i64 %acc, {factor}");
    let _ = writeln!(ir, "  %acc.next = add i64 %m, %i");
    let _ = writeln!(ir, "  %i.next = add i64 %i, 1");
    let _ = writeln!(ir, "  %done = icmp eq i64 %i.next, {trips}");
    let _ = writeln!(ir, "  br i1 %done, label %exit, label %loop");
    let _ = writeln!(ir, "exit:");
    "%acc.next".to_string()
}

/// Reads `@julia_data_{array}[value & 63]` and adds it; returns the result's name.
fn write_array_read(ir: &mut String, value: &str, array: usize) -> String {
    let ty = format!("[{DATA_LEN} x i64]");
    let _ = writeln!(ir, "  %idx = and i64 {value}, {}", DATA_LEN - 1);
    let _ = writeln!(
        ir,
        "  %slot = getelementptr inbounds {ty}, ptr @julia_data_{array}, i64 0, i64 %idx"
    );
    let _ = writeln!(ir, "  %elt = load i64, ptr %slot, align 8");
    let _ = writeln!(ir, "  %read = add i64 {value}, %elt");
    "%read".to_string()
}

/// Calls one earlier function (two for every other caller); returns the result's name.
fn write_calls(ir: &mut String, value: &str, i: usize) -> String {
    let first = function_name(mix(i + 5) % i);
    let _ = writeln!(ir, "  %c0 = call i64 @{first}(i64 {value}, double %f2)");
    if i % 6 != 1 {
        return "%c0".to_string();
    }
    let second = function_name(mix(i + 7) % i);
    let _ = writeln!(ir, "  %c1 = call i64 @{second}(i64 %c0, double %b)");
    "%c1".to_string()
}

/// Calls through the pointer table, like a runtime's dynamic dispatch.
fn write_dispatcher(ir: &mut String) {
    let table = format!("[{TABLE_LEN} x ptr]");
    let _ = writeln!(
        ir,
        "define i64 @julia_dispatch(i64 %k, i64 %a, double %b) {{"
    );
    let _ = writeln!(ir, "entry:");
    let _ = writeln!(ir, "  %idx = and i64 %k, {}", TABLE_LEN - 1);
    let _ = writeln!(
        ir,
        "  %slot = getelementptr inbounds {table}, ptr @julia_fn_table, i64 0, i64 %idx"
    );
    let _ = writeln!(ir, "  %fn = load ptr, ptr %slot, align 8");
    let _ = writeln!(ir, "  %r = call i64 %fn(i64 %a, double %b)");
    let _ = writeln!(ir, "  ret i64 %r\n}}");
}
