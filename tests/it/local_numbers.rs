//! Local values numbered in the text before LLVM parses it (src/codegen/local_numbers.rs), on
//! real IR with its values named: clang's at -O0 with debug records and at -O2 (SQLite, Lua),
//! rustc's debug IR, numba's. Each file renumbered parses into the module the file gives
//! after dropping its local names (the same bitcode; for SQLite with its use-list orders too),
//! and only what the rewrite must leave alone (`blockaddress`, Lua's computed gotos) or has
//! nothing to gain from is left alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// Each of `files` renumbered to its own module, or left as it is, which only a
/// `blockaddress`, no function or no named result excuse; the names of those left alone.
fn renumber_each(files: &[PathBuf]) -> Vec<String> {
    let mut left = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let named_result = text.lines().any(|l| {
            let rest = l.trim_start();
            rest.len() < l.len()
                && rest.starts_with('%')
                && !rest[1..].starts_with(|c: char| c.is_ascii_digit())
        });
        let excused =
            text.contains("blockaddress(") || !text.contains("\ndefine ") || !named_result;
        match aotlink::codegen::renumbering_keeps_the_module(&text) {
            Ok(()) if !excused => {}
            Err(why) if why == "left as it is" && excused => {
                left.push(file.file_name().unwrap().to_string_lossy().into_owned())
            }
            other => panic!("{}: {other:?}", file.display()),
        }
    }
    left
}

/// The bitcode `opt` writes of `ir` with its use-list orders, read back into a context that
/// discards local names: the module and the order of every value's uses.
fn bitcode_with_use_lists(ir: &Path, dir: &Path) -> Vec<u8> {
    let (named, unnamed) = (dir.join("named.bc"), dir.join("unnamed.bc"));
    check(
        Command::new("opt-22")
            .arg("--preserve-bc-uselistorder")
            .arg(ir)
            .arg("-o")
            .arg(&named),
    );
    check(
        Command::new("opt-22")
            .args(["--discard-value-names", "--preserve-bc-uselistorder"])
            .arg(&named)
            .arg("-o")
            .arg(&unnamed),
    );
    std::fs::read(unnamed).unwrap()
}

fn clang_named(source: &Path, out: &Path, flags: &[&str]) -> PathBuf {
    let mut args = vec!["-S", "-emit-llvm", "-fno-discard-value-names"];
    args.extend(flags);
    clang_ir(source, out, &args);
    out.to_path_buf()
}

#[test]
fn sqlite_and_lua_from_clang_renumber_to_the_modules_they_name() {
    let dir = scratch("local-numbers-c");
    let sqlite = crate::sqlite::amalgamation(&dir.join("fetch")).join("sqlite3.c");
    let mut files = vec![
        clang_named(&sqlite, &dir.join("sqlite-O0-g.ll"), &["-O0", "-g"]),
        clang_named(&sqlite, &dir.join("sqlite-O2.ll"), &["-O2"]),
    ];
    // Uses too come in the order they did (the parser meets them in the same order, names or
    // numbers): what the bitcode above leaves out, and what some passes follow.
    for named in &files {
        let text = std::fs::read_to_string(named).unwrap();
        let numbered = dir.join("numbered.ll");
        std::fs::write(
            &numbered,
            aotlink::codegen::without_local_names(&text).unwrap(),
        )
        .unwrap();
        assert!(
            bitcode_with_use_lists(named, &dir) == bitcode_with_use_lists(&numbered, &dir),
            "{}: other use-list orders",
            named.display()
        );
    }
    let lua = crate::lua::library_sources(&crate::lua::lua_sources());
    for (flags, tag) in [(&["-O0", "-g"][..], "O0-g"), (&["-O2"][..], "O2")] {
        for source in &lua {
            let stem = source.file_stem().unwrap().to_string_lossy();
            files.push(clang_named(
                source,
                &dir.join(format!("lua-{stem}-{tag}.ll")),
                flags,
            ));
        }
    }
    // Left alone: Lua's interpreter loop (lvm.c), which jumps through a table of label
    // addresses, lctype.c and lopcodes.c, tables without functions, and linit.c at -O2, whose
    // one function names only its argument and block (nothing to gain).
    assert_eq!(
        renumber_each(&files),
        [
            "lua-lctype-O0-g.ll",
            "lua-lopcodes-O0-g.ll",
            "lua-lvm-O0-g.ll",
            "lua-lctype-O2.ll",
            "lua-linit-O2.ll",
            "lua-lopcodes-O2.ll",
            "lua-lvm-O2.ll",
        ],
        "of {} files",
        files.len()
    );
}

const RUST: &str = r#"
use std::collections::HashMap;

pub struct Counter<T> { counts: HashMap<T, usize>, order: Vec<T> }

impl<T: std::hash::Hash + Eq + Clone + std::fmt::Debug> Counter<T> {
    pub fn new() -> Self { Counter { counts: HashMap::new(), order: Vec::new() } }
    pub fn add(&mut self, item: T) -> usize {
        let n = self.counts.entry(item.clone()).or_insert(0);
        *n += 1;
        if *n == 1 { self.order.push(item); }
        *n
    }
    pub fn report(&self) -> String {
        self.order.iter().map(|k| format!("{k:?}={}", self.counts[k])).collect::<Vec<_>>().join(",")
    }
}

pub fn words(text: &str) -> String {
    let mut c = Counter::new();
    for w in text.split_whitespace() { c.add(w.to_lowercase()); }
    c.report()
}

pub fn checked(values: &[i64]) -> Option<i64> {
    values.iter().try_fold(0i64, |acc, v| acc.checked_mul(3)?.checked_add(*v))
}

pub fn may_panic(v: Vec<String>, i: usize) -> usize {
    let s = std::panic::catch_unwind(|| v[i].len());
    s.unwrap_or(0)
}
"#;

#[test]
fn rustc_debug_ir_renumbers_to_the_module_it_names() {
    let dir = scratch("local-numbers-rust");
    let source = dir.join("counter.rs");
    std::fs::write(&source, RUST).unwrap();
    let ir = dir.join("counter.ll");
    check(
        Command::new("rustc")
            .args([
                "--crate-type=lib",
                "--emit=llvm-ir",
                "-C",
                "opt-level=0",
                "-g",
            ])
            .arg("-o")
            .arg(&ir)
            .arg(&source),
    );
    let text = std::fs::read_to_string(&ir).unwrap();
    assert!(text.contains("landingpad") && text.contains("#dbg_declare"));
    assert_eq!(renumber_each(&[ir]), Vec::<String>::new());
}

#[test]
fn numba_ir_renumbers_to_the_modules_it_names() {
    let dir = scratch("local-numbers-numba");
    let files = crate::numba::emit_ir(&dir);
    assert_eq!(renumber_each(&files), Vec::<String>::new());
}
