//! Package images against a method table: a system image provides f and g, a package image
//! calls them (directly, through an internal helper, through a table of function pointers, in a
//! recursive pair). Redefinitions, missing methods and signature changes invalidate exactly the
//! methods that reach them; nothing calls a null or stale pointer.

use std::collections::BTreeSet;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::OnceLock;

use aotload::{Image, InvalidReason, LoadCause, LoadOptions, MethodTable};

use crate::common::*;

const SIG: &str = "i64 (i64)";

fn f(x: i64) -> i64 {
    x * 3 + 1
}

fn g(x: i64) -> i64 {
    x ^ 0x5a
}

/// What each package function computes from `x`, given the f and g it calls.
fn expected(name: &str, x: i64) -> i64 {
    let ping = |mut n: i64| {
        // ping(n) = pong(n-1)+1, pong(n) = n <= 0 ? g(n) : ping(n-1)+1
        let mut depth = 0;
        let mut is_ping = true;
        loop {
            if is_ping && n <= 0 {
                return depth;
            }
            if !is_ping && n <= 0 {
                return depth + g(n);
            }
            depth += 1;
            n -= 1;
            is_ping = !is_ping;
        }
    };
    match name {
        "uses_f" => f(x) * 2,
        "uses_g" => g(x) - 1,
        "via_helper" => (g(x) + 1) * 5,
        "uses_both" => f(x) + g(x),
        "independent" => x + 100,
        "via_table" => [f, g][(x & 1) as usize](x),
        "ping" => ping(x),
        other => panic!("no expectation for {other}"),
    }
}

struct Images {
    sys: PathBuf,
    pkg: PathBuf,
    /// pkg.c built as a system image (trusted, so unresolved externals are an error).
    pkg_as_sysimg: PathBuf,
}

/// sys.c as a system image, its method table, and pkg.c built against it.
fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let dir = scratch("methods");
        let ir = |name: &str| {
            let out = dir.join(format!("{name}.ll"));
            let src = repo().join(format!("tests/it/methods/{name}.c"));
            let status = std::process::Command::new(crate::common::CLANG)
                .args(["-O2", "-S", "-emit-llvm", "-o"])
                .arg(&out)
                .arg(src)
                .status()
                .unwrap();
            assert!(status.success());
            out
        };
        let (sys_ll, pkg_ll) = (ir("sys"), ir("pkg"));
        let sys = dir.join("sys.so");
        aotlink_ok([
            "build".as_ref(),
            sys_ll.as_os_str(),
            "--export-all".as_ref(),
            "--kind".as_ref(),
            "sysimg".as_ref(),
            "-o".as_ref(),
            sys.as_os_str(),
        ]);
        let table = aotlink_ok([
            "inspect".as_ref(),
            "--method-table".as_ref(),
            sys.as_os_str(),
        ]);
        let table_file = dir.join("sys.methods.json");
        std::fs::write(&table_file, &table.stdout).unwrap();
        let pkg = dir.join("pkg.so");
        let build_pkg = |out: &PathBuf, kind: &str| {
            aotlink_ok([
                "build".as_ref(),
                pkg_ll.as_os_str(),
                "--export-all".as_ref(),
                "--kind".as_ref(),
                kind.as_ref(),
                "--method-table".as_ref(),
                table_file.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
            ]);
        };
        build_pkg(&pkg, "pkg");
        let pkg_as_sysimg = dir.join("pkg-sysimg.so");
        build_pkg(&pkg_as_sysimg, "sysimg");
        Images {
            sys,
            pkg,
            pkg_as_sysimg,
        }
    })
}

/// The system and package images, for other test modules.
pub fn system_and_package() -> (&'static PathBuf, &'static PathBuf) {
    (&images().sys, &images().pkg)
}

fn call(image: &Image, name: &str, x: i64) -> i64 {
    let p = image
        .lookup(name)
        .unwrap_or_else(|| panic!("{name} has no address"));
    let fun: extern "C" fn(i64) -> i64 = unsafe { std::mem::transmute(p) };
    fun(x)
}

fn invalidated(image: &Image) -> BTreeSet<&str> {
    image
        .invalidated()
        .iter()
        .map(|i| i.method.as_str())
        .collect()
}

fn load_system(table: &mut MethodTable) -> Image {
    Image::open_in(&images().sys, &LoadOptions::default(), table).unwrap()
}

#[test]
fn a_package_calls_the_system_image_through_its_slots() {
    let mut table = MethodTable::new();
    let _sys = load_system(&mut table);
    assert_eq!(table.len(), 3, "the system image's exports enter the table");
    let pkg = Image::open_in(&images().pkg, &LoadOptions::default(), &mut table).unwrap();
    assert!(pkg.invalidated().is_empty(), "{:?}", pkg.invalidated());
    for name in [
        "uses_f",
        "uses_g",
        "via_helper",
        "uses_both",
        "independent",
        "via_table",
        "ping",
    ] {
        for x in [-3, 0, 5, 17, 1000] {
            assert_eq!(call(&pkg, name, x), expected(name, x), "{name}({x})");
        }
    }
    assert!(
        table.get("uses_f", SIG).is_some(),
        "the package's exports enter the table too"
    );
}

extern "C" fn new_g(x: i64) -> i64 {
    x + 1000
}

#[test]
fn redefining_g_invalidates_exactly_what_reaches_it() {
    let mut table = MethodTable::new();
    let _sys = load_system(&mut table);
    let old = table.get("g", SIG).unwrap().hash;
    table.redefine("g", SIG, old ^ 1, new_g as *const c_void);
    let pkg = Image::open_in(&images().pkg, &LoadOptions::default(), &mut table).unwrap();
    let expected_invalid: BTreeSet<&str> = [
        "helper",
        "uses_g",
        "via_helper",
        "uses_both",
        "via_table",
        "pong",
        "ping",
    ]
    .into();
    assert_eq!(invalidated(&pkg), expected_invalid);
    for inv in pkg.invalidated() {
        assert_eq!(inv.culprit, "g", "{inv}");
    }
    let direct = pkg
        .invalidated()
        .iter()
        .find(|i| i.method == "uses_g")
        .unwrap();
    assert_eq!(
        direct.reason,
        InvalidReason::Redefined {
            was: old,
            now: old ^ 1
        }
    );
    let through = pkg
        .invalidated()
        .iter()
        .find(|i| i.method == "via_helper")
        .unwrap();
    assert_eq!(
        through.reason,
        InvalidReason::CalleeInvalid {
            callee: "helper".into()
        }
    );
    // The rest still runs; the invalid ones have no address to call.
    assert_eq!(call(&pkg, "uses_f", 5), expected("uses_f", 5));
    assert_eq!(call(&pkg, "independent", 5), 105);
    for name in &expected_invalid {
        assert!(pkg.lookup(name).is_none(), "{name} must not be callable");
    }
    // Invalid methods stay out of the table.
    assert!(table.get("uses_g", SIG).is_none() && table.get("uses_f", SIG).is_some());
}

extern "C" fn recompile(_: i64) -> i64 {
    -1
}

#[test]
fn invalid_methods_get_the_runtimes_recompile_stub() {
    let mut table = MethodTable::new();
    let _sys = load_system(&mut table);
    table.redefine("f", SIG, 7, new_g as *const c_void);
    table.set_recompile_stub(Some(recompile as *const c_void));
    let pkg = Image::open_in(&images().pkg, &LoadOptions::default(), &mut table).unwrap();
    assert_eq!(
        invalidated(&pkg),
        ["uses_f", "uses_both", "via_table"].into()
    );
    assert_eq!(
        call(&pkg, "uses_f", 5),
        -1,
        "the stub answers for the invalid method"
    );
    assert_eq!(call(&pkg, "uses_g", 5), expected("uses_g", 5));
}

#[test]
fn a_missing_method_or_a_changed_signature_invalidates_its_callers() {
    let mut table = MethodTable::new();
    let _sys = load_system(&mut table);
    assert!(table.remove("f", SIG));
    table.remove("g", SIG);
    table
        .define("g", "i32 (i32)", 1, new_g as *const c_void)
        .unwrap();
    let pkg = Image::open_in(&images().pkg, &LoadOptions::default(), &mut table).unwrap();
    let reason = |m: &str| {
        pkg.invalidated()
            .iter()
            .find(|i| i.method == m)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(reason("uses_f"), InvalidReason::Missing);
    assert_eq!(
        reason("uses_g"),
        InvalidReason::SignatureChanged {
            now: vec!["i32 (i32)".into()]
        }
    );
    assert_eq!(call(&pkg, "independent", 1), 101);
}

#[test]
fn a_package_whose_dependency_was_never_loaded() {
    // Alone, every method that reaches f or g is invalid; the others run.
    let pkg = Image::open(&images().pkg, &LoadOptions::default()).unwrap();
    assert_eq!(
        invalidated(&pkg),
        [
            "helper",
            "uses_f",
            "uses_g",
            "via_helper",
            "uses_both",
            "via_table",
            "pong",
            "ping"
        ]
        .into()
    );
    assert!(pkg
        .invalidated()
        .iter()
        .all(|i| i.reason == InvalidReason::Missing
            || matches!(i.reason, InvalidReason::CalleeInvalid { .. })));
    assert_eq!(call(&pkg, "independent", 2), 102);
    // A system image is trusted, not validated: an unresolved method is an error instead.
    let err = Image::open(&images().pkg_as_sysimg, &LoadOptions::default())
        .err()
        .expect("must not load");
    assert!(matches!(err.cause, LoadCause::Unresolved { .. }), "{err}");
    assert!(err.to_string().contains("calls `f`"), "{err}");
}

#[test]
fn loading_the_same_methods_twice_is_an_error_before_anything_runs() {
    let mut table = MethodTable::new();
    let _sys = load_system(&mut table);
    let copy = scratch("methods-conflict").join("sys-copy.so");
    std::fs::copy(&images().sys, &copy).unwrap();
    let err = Image::open_in(&copy, &LoadOptions::default(), &mut table)
        .err()
        .expect("conflict");
    assert!(matches!(err.cause, LoadCause::Conflict(_)), "{err}");
    assert!(
        err.to_string()
            .contains("`f` (i64 (i64)) is already defined by"),
        "{err}"
    );
}

#[test]
fn the_cli_loads_images_in_order_and_reports_invalidations() {
    let (sys, pkg) = (&images().sys, &images().pkg);
    let out = aotlink_ok([
        "run".as_ref(),
        "--load".as_ref(),
        sys.as_os_str(),
        pkg.as_os_str(),
        "via_helper".as_ref(),
        "5".as_ref(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        expected("via_helper", 5).to_string()
    );
    let out = run_aotlink([
        "run".as_ref(),
        pkg.as_os_str(),
        "via_helper".as_ref(),
        "5".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("invalidated via_helper: calls `helper`, which is invalid (culprit: g)"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains("`via_helper` was invalidated"),
        "{stderr}"
    );
    let edges = aotlink_ok([
        "inspect".as_ref(),
        "--edges".as_ref(),
        "--json".as_ref(),
        pkg.as_os_str(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&edges.stdout).unwrap();
    let externals: Vec<&str> = json["externals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(externals, ["f", "g"]);
    let via_helper = json["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "via_helper")
        .unwrap();
    assert_eq!(via_helper["callees"], serde_json::json!(["helper"]));
    // f and g are reached through the table, which holds their addresses once.
    let via_table = (json["methods"].as_array().unwrap().iter())
        .find(|m| m["name"] == "via_table")
        .unwrap();
    assert_eq!(via_table["data"], serde_json::json!(["by_pointer"]));
    assert_eq!(via_table["externals"], serde_json::json!([]));
}

#[test]
fn bad_method_tables_are_clear_errors() {
    let dir = scratch("methods-bad-table");
    let pkg_ll = scratch("methods-bad-ir").join("pkg.ll");
    let status = std::process::Command::new(crate::common::CLANG)
        .args(["-O2", "-S", "-emit-llvm", "-o"])
        .arg(&pkg_ll)
        .arg(repo().join("tests/it/methods/pkg.c"))
        .status()
        .unwrap();
    assert!(status.success());
    let build = |table: &str| {
        let path = dir.join("table.json");
        std::fs::write(&path, table).unwrap();
        run_aotlink([
            "build".as_ref(),
            pkg_ll.as_os_str(),
            "--method-table".as_ref(),
            path.as_os_str(),
            "-o".as_ref(),
            dir.join("out.so").as_os_str(),
        ])
    };
    assert_clean_failure(&build("not json"), "table.json: not a method table");
    let wrong_type = r#"{"format":"aotlink-method-table","version":1,"methods":[{"name":"f","signature":"double (double)","hash":"0000000000000001"}]}"#;
    assert_clean_failure(
        &build(wrong_type),
        "`f` is declared as `i64 (i64)` in the IR but the method table has `double (double)`",
    );
    let bad_hash = r#"{"format":"aotlink-method-table","version":1,"methods":[{"name":"f","signature":"i64 (i64)","hash":"xyz"}]}"#;
    assert_clean_failure(&build(bad_hash), "hash `xyz` is not 16 hex digits");
    let twice = r#"{"format":"aotlink-method-table","version":1,"methods":[{"name":"f","signature":"i64 (i64)","hash":"0000000000000001"},{"name":"g","signature":"i64 (i64)","hash":"0000000000000002"},{"name":"f","signature":"i64 (i64)","hash":"0000000000000003"}]}"#;
    assert_clean_failure(
        &build(twice),
        "table.json: method `f` with signature `i64 (i64)` is listed twice",
    );
    // Two tables providing the same method: two images could not both define it at load time.
    let one = r#"{"format":"aotlink-method-table","version":1,"methods":[{"name":"f","signature":"i64 (i64)","hash":"0000000000000001"}]}"#;
    std::fs::write(dir.join("table.json"), one).unwrap();
    std::fs::write(dir.join("other.json"), one).unwrap();
    let both = run_aotlink([
        "build".as_ref(),
        pkg_ll.as_os_str(),
        "--method-table".as_ref(),
        dir.join("table.json").as_os_str(),
        "--method-table".as_ref(),
        dir.join("other.json").as_os_str(),
        "-o".as_ref(),
        dir.join("out.so").as_os_str(),
    ]);
    assert_clean_failure(
        &both,
        "other.json: method `f` with signature `i64 (i64)` is also in ",
    );
    assert_only_files(&dir, &["table.json", "other.json"]);
}
