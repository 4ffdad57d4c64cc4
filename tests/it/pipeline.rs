//! IR -> image -> loader -> call: results, globals, image data, trace selection, shards.

use aotload::call::{call, Signature, Value};
use aotload::{Image, ImageKind};

use crate::common::*;

#[test]
fn pkg_image_linked_by_lld_matches_the_c_compiler() {
    let path = example_image("pkg", &["--export-all", "--kind", "pkg"]);
    let image = open(&path);
    assert_eq!(image.kind(), ImageKind::Pkg);
    assert_matches_reference(&image, 300);
}

#[test]
fn sysimg_linked_by_cc_matches_the_c_compiler() {
    let path = example_image("sysimg", &["--export-all", "--kind", "sysimg"]);
    let image = open(&path);
    assert_eq!(image.kind(), ImageKind::Sysimg);
    assert_matches_reference(&image, 300);
}

#[test]
fn bitcode_input_gives_the_same_functions_as_text_ir() {
    let dir = scratch("bitcode-input");
    let out = dir.join("bc.so");
    aotlink_ok([
        "build".as_ref(),
        kernels_bc().as_os_str(),
        "--export-all".as_ref(),
        "--image-data".as_ref(),
        data_file().as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let from_bc = open(&out);
    let from_ll = open(&example_image("pkg", &["--export-all", "--kind", "pkg"]));
    let names = |i: &Image| {
        i.meta()
            .methods
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&from_bc), names(&from_ll));
    assert_matches_reference(&from_bc, 20);
}

#[test]
fn stateful_functions_share_the_global_the_loader_exposes() {
    let path = example_image("globals", &["--export-all"]);
    let image = open(&path);
    let gvar = |name: &str| {
        let i = image
            .meta()
            .gvars
            .iter()
            .position(|g| g.name == name)
            .unwrap_or_else(|| panic!("no gvar {name}"));
        image.gvars()[i]
    };
    // The global table and the initialized globals read back through the merged gvar table.
    let primes = unsafe { std::slice::from_raw_parts(gvar("primes") as *const i64, 32) };
    assert_eq!(&primes[..6], &[2, 3, 5, 7, 11, 13]);
    assert_eq!(primes[31], 131);
    assert_eq!(unsafe { *(gvar("scale_factor") as *const f64) }, 2.5);
    let counter = gvar("aot_counter") as *const i64;
    assert_eq!(unsafe { *counter }, 42);
    // A function of the image and the gvar pointer see the same variable.
    let sig = Signature::parse("i64 (i64)").unwrap();
    let add = image.lookup("counter_add").unwrap();
    let out = unsafe { call(add, &sig, &[Value::Int(5)]) }.unwrap();
    assert_eq!(out, Some(Value::Int(47)));
    assert_eq!(unsafe { *counter }, 47);
}

#[test]
fn image_data_round_trips_to_the_loader_and_to_c_code() {
    let path = example_image("data", &["--export-all"]);
    let image = open(&path);
    let data = std::fs::read(data_file()).unwrap();
    assert_eq!(image.image_data(), &data[..]);
    let sig = Signature::parse("i64 ()").unwrap();
    let size = unsafe { call(image.lookup("image_data_size").unwrap(), &sig, &[]) }.unwrap();
    assert_eq!(size, Some(Value::Int(data.len() as i64)));
    let fnv = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let hashed = unsafe { call(image.lookup("image_data_fnv1a").unwrap(), &sig, &[]) }.unwrap();
    assert_eq!(hashed, Some(Value::Int(fnv as i64)));
}

#[test]
fn trace_drops_untraced_unreachable_functions_and_keeps_what_they_reach() {
    let path = example_image(
        "traced",
        &[
            "--trace",
            &trace_file().display().to_string(),
            "--export-all",
        ],
    );
    let traced = open(&path);
    let names: Vec<&str> = traced
        .meta()
        .methods
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    for dropped in ["unused_fib", "unused_norm"] {
        assert!(!names.contains(&dropped), "{dropped} should be dropped");
    }
    // Traced functions, and static helpers / table entries reached only through them.
    for kept in [
        "dot_product",
        "apply_op",
        "call_twice",
        "pow_mod_rec",
        "op_add",
        "cb_rot",
    ] {
        assert!(names.contains(&kept), "{kept} should be kept: {names:?}");
    }
    let untraced = open(&example_image("untraced", &["--export-all"]));
    assert!(untraced
        .meta()
        .methods
        .iter()
        .any(|m| m.name == "unused_fib"));
    assert_matches_reference(&traced, 20);
}

#[test]
fn one_two_and_eight_shards_all_work() {
    for shards in ["1", "2", "8"] {
        let path = example_image(
            &format!("shards{shards}"),
            &["--export-all", "--shards", shards],
        );
        let report = aotlink_ok(["inspect".as_ref(), path.as_os_str(), "--json".as_ref()]);
        let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        assert_eq!(
            json["shards"].as_array().unwrap().len(),
            shards.parse::<usize>().unwrap()
        );
        assert_matches_reference(&open(&path), 20);
    }
}

#[test]
fn plain_dlopen_runs_exports_and_function_pointer_tables() {
    let path = example_image("plain", &["--export-all"]);
    let lib = unsafe { libloading::Library::new(&path) }.unwrap();
    let apply: libloading::Symbol<unsafe extern "C" fn(i64, i64, i64) -> i64> =
        unsafe { lib.get(b"apply_op") }.unwrap();
    assert_eq!(unsafe { apply(0, 40, 2) }, 42);
    assert_eq!(unsafe { apply(2, 6, 7) }, 42);
    let twice: libloading::Symbol<unsafe extern "C" fn(i64, i64) -> i64> =
        unsafe { lib.get(b"call_twice") }.unwrap();
    assert_eq!(unsafe { twice(1, 3) }, 12);
}

#[test]
fn image_exports_only_the_root_and_the_requested_functions() {
    let dir = scratch("exports");
    let out = dir.join("two.so");
    aotlink_ok([
        "build".as_ref(),
        kernels_ll().as_os_str(),
        "--export".as_ref(),
        "dot_product".as_ref(),
        "--export".as_ref(),
        "prime_at".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let bytes = std::fs::read(&out).unwrap();
    aotload::ImageFile::parse(&bytes).unwrap();
    assert_eq!(
        aotload::exported_symbols(&bytes).unwrap(),
        vec!["aotlink_image", "dot_product", "prime_at"]
    );
    // Everything else is still reachable through the loader.
    assert!(open(&out).lookup("unused_fib").is_some());
}

#[test]
fn run_prints_the_result_alone_on_the_last_line() {
    let path = example_image("run", &["--export-all"]);
    let out = aotlink_ok([
        "run".as_ref(),
        path.as_os_str(),
        "apply_op".as_ref(),
        "2".as_ref(),
        "6".as_ref(),
        "-7".as_ref(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("-42")
    );
    let out = aotlink_ok([
        "run".as_ref(),
        path.as_os_str(),
        "clamp_lerp".as_ref(),
        "0".as_ref(),
        "10".as_ref(),
        "0.25".as_ref(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("2.5")
    );
    let verbose = aotlink_ok([
        "run".as_ref(),
        path.as_os_str(),
        "-v".as_ref(),
        "prime_at".as_ref(),
        "3".as_ref(),
    ]);
    let chosen = open(&path).target_name().to_string();
    assert!(String::from_utf8_lossy(&verbose.stderr).contains(&format!("target: {chosen} ")));
    assert_eq!(String::from_utf8_lossy(&verbose.stdout).trim(), "7");
}

#[test]
fn exported_names_are_taken_literally() {
    // A name with a space, and one that would be a glob pattern in a version script.
    let dir = scratch("literal-exports");
    let ll = dir.join("names.ll");
    std::fs::write(
        &ll,
        "target triple = \"x86_64-unknown-linux-gnu\"\n\
         define i64 @\"two words\"(i64 %x) {\n  ret i64 %x\n}\n\
         define i64 @\"any*\"(i64 %x) {\n  %y = add i64 %x, 1\n  ret i64 %y\n}\n\
         define i64 @anything(i64 %x) {\n  %y = add i64 %x, 2\n  ret i64 %y\n}\n",
    )
    .unwrap();
    let out = dir.join("names.so");
    aotlink_ok([
        "build".as_ref(),
        ll.as_os_str(),
        "--export".as_ref(),
        "two words".as_ref(),
        "--export".as_ref(),
        "any*".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(
        aotload::exported_symbols(&std::fs::read(&out).unwrap()).unwrap(),
        ["any*", "aotlink_image", "two words"]
    );
    let run = aotlink_ok([
        "run".as_ref(),
        out.as_os_str(),
        "two words".as_ref(),
        "41".as_ref(),
    ]);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "41");
}

/// `--verbose` prints the exact link line, for LLD in the process and for the C driver.
#[test]
fn verbose_builds_print_the_link_line() {
    let dir = scratch("verbose-link");
    for (kind, program) in [("pkg", "ld.lld (in process)"), ("sysimg", "cc")] {
        let out = dir.join(format!("v-{kind}.so"));
        let result = aotlink_ok([
            "build".as_ref(),
            kernels_ll().as_os_str(),
            "--export-all".as_ref(),
            "--kind".as_ref(),
            kind.as_ref(),
            "--verbose".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("aotlink: link: ") && l.contains(&format!("v-{kind}.so")))
            .unwrap_or_else(|| panic!("no link line: {stderr}"));
        assert!(
            line.contains(program) && line.contains("--version-script"),
            "{line}"
        );
    }
}
