//! Several CPU targets in one image: the loader picks the best one this CPU runs, every
//! target gives the same results, fake hosts select each target, wide targets get wide code.

use std::collections::HashSet;

use aotload::features::{names_of, X86_FEATURES};
use aotload::{HostCpu, Image, LoadCause, LoadOptions};

use crate::common::*;

/// /proc/cpuinfo's name for each LLVM feature of aotload's x86 list.
fn cpuinfo_name(llvm: &str) -> &str {
    match llvm {
        "sse3" => "pni",
        "sse4.1" => "sse4_1",
        "sse4.2" => "sse4_2",
        "sahf" => "lahf_lm",
        "lzcnt" => "abm",
        "prfchw" => "3dnowprefetch",
        "bmi" => "bmi1",
        "rdrnd" => "rdrand",
        "pclmul" => "pclmulqdq",
        "sha" => "sha_ni",
        "avx512vnni" => "avx512_vnni",
        "avx512bf16" => "avx512_bf16",
        "avx512vbmi2" => "avx512_vbmi2",
        "avx512bitalg" => "avx512_bitalg",
        "avx512vpopcntdq" => "avx512_vpopcntdq",
        "avxvnni" => "avx_vnni",
        "x87" => "fpu",
        "64bit" => "lm",
        "crc32" => "sse4_2",
        "evex512" => "avx512f",
        "avx512fp16" => "avx512_fp16",
        "avx512vp2intersect" => "avx512_vp2intersect",
        "amx-tile" => "amx_tile",
        "amx-int8" => "amx_int8",
        "amx-bf16" => "amx_bf16",
        "amx-fp16" => "amx_fp16",
        "avxifma" => "avx_ifma",
        "avxvnniint8" => "avx_vnni_int8",
        "avxneconvert" => "avx_ne_convert",
        "shstk" => "user_shstk",
        "kl" | "widekl" | "avxvnniint16" | "prefetchi" | "usermsr" | "sha512" | "sm3" | "sm4"
        | "amx-complex" | "hreset" | "cmpccxadd" | "uintr" | "pconfig" | "tsxldtrk" => {
            "(not in /proc/cpuinfo)"
        }
        // Feature list version 4 (LLVM 22): APX, AVX10 and Diamond Rapids' additions, which
        // kernels name differently or not at all.
        "egpr" | "push2pop2" | "ppx" | "ndd" | "ccmp" | "nf" | "cf" | "zu" | "avx10.1"
        | "avx10.2" | "movrs" | "amx-fp8" | "amx-tf32" | "amx-avx512" | "amx-movrs" => {
            "(not in /proc/cpuinfo)"
        }
        other => other,
    }
}

fn cpuinfo_flags() -> HashSet<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("flags"))
        .expect("flags line");
    line.split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn default_image() -> std::path::PathBuf {
    example_image("multiversion", &["--export-all"])
}

#[test]
fn host_detection_agrees_with_proc_cpuinfo() {
    let flags = cpuinfo_flags();
    let host = HostCpu::detect();
    let detected = names_of(&host.features, aotload::Arch::X86_64);
    // The kernel may hide a feature the CPU reports (Linux turns off RDSEED on some Zen CPUs);
    // such a feature must not be one that any default target requires.
    let required: HashSet<&str> = aotlink_default_target_features();
    for f in X86_FEATURES {
        let (cpu, kernel) = (detected.contains(f), flags.contains(cpuinfo_name(f)));
        if kernel {
            assert!(cpu, "/proc/cpuinfo has {f}, the loader did not detect it");
        } else if cpu {
            eprintln!("note: the CPU reports {f}, the kernel hides it");
            assert!(
                !required.contains(f),
                "{f} is hidden by the kernel but a default target needs it"
            );
        }
    }
}

/// Every feature some target of the default x86_64 image requires.
fn aotlink_default_target_features() -> HashSet<&'static str> {
    let image = open(&default_image());
    let meta = image.meta();
    meta.targets
        .iter()
        .flat_map(|t| names_of(&t.features, meta.arch().unwrap()))
        .collect()
}

/// What holds on any x86_64 machine, whatever its model: the chosen target runs here (by
/// /proc/cpuinfo, not by the loader's own detection), and no target that runs here is
/// strictly better (all the chosen one's features and more). The rule itself is pinned by
/// the faked hosts below.
#[test]
fn default_targets_pick_a_target_this_cpu_runs_and_none_strictly_better() {
    let image = open(&default_image());
    let flags = cpuinfo_flags();
    let meta = image.meta();
    assert_eq!(meta.targets.len(), 4);
    let runs = |t: &aotload::meta::TargetRecord| {
        names_of(&t.features, meta.arch().unwrap())
            .iter()
            .all(|f| flags.contains(cpuinfo_name(f)))
    };
    let chosen = &meta.targets[image.target_index()];
    assert_eq!(image.target_name(), chosen.name);
    assert!(
        runs(chosen),
        "{} needs features this CPU lacks",
        chosen.name
    );
    let chosen_features: HashSet<&str> = names_of(&chosen.features, meta.arch().unwrap())
        .into_iter()
        .collect();
    for t in meta.targets.iter().filter(|t| runs(t)) {
        let features: HashSet<&str> = names_of(&t.features, meta.arch().unwrap())
            .into_iter()
            .collect();
        assert!(
            !(features.is_superset(&chosen_features) && features.len() > chosen_features.len()),
            "{} runs here and has every feature of the chosen {} and more",
            t.name,
            chosen.name
        );
    }
}

/// Feature sets of real CPUs, as /proc/cpuinfo shows them (LLVM's spelling), kept to the
/// names of the loader's list.
fn cpu_features(names: &[&str]) -> Vec<u64> {
    let known: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| X86_FEATURES.contains(n))
        .collect();
    aotload::features::mask_of(X86_FEATURES, known).unwrap()
}

const NEHALEM: &[&str] = &[
    "x87", "cx8", "cmov", "mmx", "64bit", "fxsr", "sse", "sse2", "sse3", "ssse3", "sse4.1",
    "sse4.2", "crc32", "popcnt", "cx16", "sahf",
];
const HASWELL_EXTRA: &[&str] = &[
    "pclmul", "aes", "avx", "xsave", "xsaveopt", "f16c", "rdrnd", "avx2", "fma", "bmi", "bmi2",
    "lzcnt", "movbe", "fsgsbase", "invpcid",
];
const SKYLAKE_AVX512_EXTRA: &[&str] = &[
    "prfchw",
    "rdseed",
    "adx",
    "xsavec",
    "xsaves",
    "clflushopt",
    "avx512f",
    "evex512",
    "avx512cd",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "clwb",
    "pku",
];

fn host(name: &str, parts: &[&[&str]]) -> HostCpu {
    let names: Vec<&str> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    HostCpu {
        name: name.into(),
        features: cpu_features(&names),
    }
}

fn chosen_name(meta: &aotload::meta::MetaView, host: &HostCpu) -> String {
    let i = aotload::choose_target(meta, host, None).unwrap();
    meta.targets[i].name.clone()
}

#[test]
fn an_unknown_model_is_chosen_for_by_its_features() {
    let image = open(&default_image());
    let meta = image.meta_view();
    // Detection names a model it does not know `generic`: that name is no preference.
    let haswell_like = host("generic", &[NEHALEM, HASWELL_EXTRA]);
    assert_eq!(chosen_name(meta, &haswell_like), "haswell");
    let avx512_like = host("generic", &[NEHALEM, HASWELL_EXTRA, SKYLAKE_AVX512_EXTRA]);
    assert_eq!(chosen_name(meta, &avx512_like), "x86-64-v4");
}

#[test]
fn a_known_model_prefers_the_target_of_its_own_name() {
    let image = open(&default_image());
    let meta = image.meta_view();
    // A Haswell runs sandybridge and haswell; named sandybridge, it takes its own name.
    let named = host("sandybridge", &[NEHALEM, HASWELL_EXTRA]);
    assert_eq!(chosen_name(meta, &named), "sandybridge");
    let named = host("haswell", &[NEHALEM, HASWELL_EXTRA]);
    assert_eq!(chosen_name(meta, &named), "haswell");
    // A name the image has no target for is no preference.
    let named = host("skylake", &[NEHALEM, HASWELL_EXTRA]);
    assert_eq!(chosen_name(meta, &named), "haswell");
}

#[test]
fn a_host_without_avx_runs_generic() {
    let image = open(&default_image());
    let meta = image.meta_view();
    assert_eq!(chosen_name(meta, &host("nehalem", &[NEHALEM])), "generic");
    // AVX state the OS does not save counts as no AVX: detection leaves the bits out.
    let mut no_avx: Vec<&str> = HASWELL_EXTRA.to_vec();
    no_avx.retain(|f| !f.starts_with("avx") && *f != "fma" && *f != "f16c");
    assert_eq!(
        chosen_name(meta, &host("generic", &[NEHALEM, &no_avx])),
        "generic"
    );
}

#[test]
fn an_avx512_host_runs_the_512_bit_target() {
    let image = open(&default_image());
    let meta = image.meta_view();
    let skx = host(
        "skylake-avx512",
        &[NEHALEM, HASWELL_EXTRA, SKYLAKE_AVX512_EXTRA],
    );
    assert_eq!(chosen_name(meta, &skx), "x86-64-v4");
    // Without the AVX-512 BW/DQ/VL subsets x86-64-v4 is out of reach; haswell remains.
    let knl_like = host(
        "generic",
        &[NEHALEM, HASWELL_EXTRA, &["avx512f", "evex512", "avx512cd"]],
    );
    assert_eq!(chosen_name(meta, &knl_like), "haswell");
}

#[test]
fn every_target_this_cpu_runs_gives_the_same_results() {
    let tried = on_each_runnable_target(&default_image(), |image| {
        assert_matches_reference(image, 60)
    });
    assert!(
        tried >= 2,
        "this CPU should run generic and sandybridge at least"
    );
}

#[test]
fn fake_hosts_select_each_target_in_turn() {
    let path = default_image();
    let image = open(&path);
    let meta = image.meta_view();
    for (i, target) in meta.targets.iter().enumerate() {
        // A CPU with exactly this target's features, and an unknown name.
        let host = HostCpu {
            name: "fake".into(),
            features: target.features.clone(),
        };
        let chosen = aotload::choose_target(meta, &host, None).unwrap();
        assert_eq!(
            chosen, i,
            "host with {}'s features chose {}",
            target.name, meta.targets[chosen].name
        );
    }
    // The host's own CPU name wins over wider vectors.
    let v4 = meta
        .targets
        .iter()
        .position(|t| t.name == "x86-64-v4")
        .unwrap();
    let haswell = meta
        .targets
        .iter()
        .position(|t| t.name == "haswell")
        .unwrap();
    let mut both = meta.targets[v4].features.clone();
    for (w, h) in both.iter_mut().zip(&meta.targets[haswell].features) {
        *w |= h;
    }
    let host = HostCpu {
        name: "haswell".into(),
        features: both.clone(),
    };
    assert_eq!(aotload::choose_target(meta, &host, None).unwrap(), haswell);
    let host = HostCpu {
        name: "other".into(),
        features: both,
    };
    assert_eq!(aotload::choose_target(meta, &host, None).unwrap(), v4);
}

#[test]
fn a_host_missing_base_features_gets_the_error_and_nothing_runs() {
    let path = default_image();
    let host = HostCpu {
        name: "i486".into(),
        features: Vec::new(),
    };
    let err = match Image::open(
        &path,
        &LoadOptions {
            host: Some(host),
            ..Default::default()
        },
    ) {
        Err(e) => e,
        Ok(_) => panic!("opened on a CPU without SSE2"),
    };
    assert!(matches!(err.cause, LoadCause::NoCompatibleTarget(_)));
    let message = err.to_string();
    for needle in [
        "unable to find a compatible target",
        "i486",
        "generic: host lacks sse,sse2",
        "x86-64-v4: host lacks",
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    // Forcing a target this CPU cannot run is refused the same way.
    let host = HostCpu::detect();
    let meta = open(&path).meta().clone();
    if let Some(t) = meta.targets.iter().find(|t| {
        aotload::features::missing(&t.features, &host.features)
            .iter()
            .any(|w| *w != 0)
    }) {
        let options = LoadOptions {
            target: Some(t.name.clone()),
            ..Default::default()
        };
        assert!(Image::open(&path, &options).is_err());
    }
    let options = LoadOptions {
        target: Some("pentium9000".into()),
        ..Default::default()
    };
    let err = Image::open(&path, &options)
        .err()
        .expect("unknown target name")
        .to_string();
    assert!(err.contains("no target named `pentium9000`"), "{err}");
}

/// The assembly of function `name` in an assembly archive member.

#[test]
fn wide_vector_targets_get_wide_vector_code() {
    let dir = scratch("mv-asm");
    let asm = one_shard_asm(kernels_ll(), &dir.join("k.a"), "asm");
    // targets: 0 generic, 1 sandybridge, 2 haswell, 3 x86-64-v4
    for kernel in ["saxpy_checksum", "i32_sum"] {
        let base = function_asm(&asm, &format!("{kernel}.aotlink.base"));
        let haswell = function_asm(&asm, &format!("{kernel}.aotlink.t2"));
        let v4 = function_asm(&asm, &format!("{kernel}.aotlink.t3"));
        assert!(
            !base.contains("%ymm") && !base.contains("%zmm"),
            "{kernel}: generic code uses AVX"
        );
        assert!(
            haswell.contains("%ymm") && !haswell.contains("%zmm"),
            "{kernel}: haswell code is not 256-bit"
        );
        assert!(
            v4.contains("%zmm"),
            "{kernel}: x86-64-v4 code is not 512-bit"
        );
        // The exported symbol is a thunk through the dispatch slot.
        let thunk = function_asm(&asm, kernel);
        assert!(
            thunk.contains(&format!("{kernel}.aotlink.slot")),
            "{kernel} is not a thunk: {thunk}"
        );
    }
}

#[test]
fn cpu_target_errors_come_before_any_work() {
    let dir = scratch("mv-bad-targets");
    for (spec, expect) in [
        ("generic;;haswell", "target 1 is empty"),
        ("generic;haswell,base(3)", "base(3)"),
        ("generic;pentium9000", "unknown CPU `pentium9000`"),
        (
            "generic;haswell,+warp-drive",
            "unknown feature `warp-drive`",
        ),
        ("generic;haswell,turbo", "`turbo` is not a feature"),
    ] {
        let out = run_aotlink([
            "build".as_ref(),
            kernels_ll().as_os_str(),
            "--cpu-target".as_ref(),
            spec.as_ref(),
            "-o".as_ref(),
            dir.join("x.so").as_os_str(),
        ]);
        assert_clean_failure(&out, expect);
    }
    assert_only_files(&dir, &[]);
}

#[test]
fn a_single_target_image_has_no_clones_or_slots() {
    let path = example_image(
        "single-target",
        &["--export-all", "--cpu-target", "generic"],
    );
    let report = aotlink_ok(["inspect".as_ref(), path.as_os_str(), "--json".as_ref()]);
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["targets"].as_array().unwrap().len(), 1);
    assert!(json["shards"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["dispatch_slots"] == 0));
    assert_matches_reference(&open(&path), 20);
}

#[test]
fn inspect_shows_targets_features_and_clone_counts() {
    let report = aotlink_ok([
        "inspect".as_ref(),
        default_image().as_os_str(),
        "--json".as_ref(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let targets = json["targets"].as_array().unwrap();
    let names: Vec<&str> = targets
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["generic", "sandybridge", "haswell", "x86-64-v4"]);
    assert_eq!(targets[1]["flags"], serde_json::json!(["clone_all"]));
    assert_eq!(targets[1]["clones"], json["fvars"]);
    assert_eq!(targets[2]["base"], 1);
    let haswell_clones = targets[2]["clones"].as_u64().unwrap();
    assert!(haswell_clones > 10 && haswell_clones < json["fvars"].as_u64().unwrap());
    let features: Vec<&str> = targets[2]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(features.contains(&"avx2") && !features.contains(&"rdrnd"));
}

/// Targets of CPUs with AMX, AVX512-FP16 or FMA4 are refused on a host that lacks them, with
/// the missing features named (feature list version 2 dropped them and accepted such hosts).
#[test]
fn a_target_implying_features_the_host_lacks_is_refused_naming_them() {
    let dir = scratch("mv-implied");
    for (cpu, lacking, missing) in [
        (
            "sapphirerapids",
            &["amx-tile", "amx-int8", "amx-bf16"][..],
            "amx-tile",
        ),
        ("sapphirerapids", &["avx512fp16"][..], "avx512fp16"),
        ("bdver1", &["fma4", "xop"][..], "fma4"),
    ] {
        let image = dir.join(format!("{cpu}.so"));
        aotlink_ok([
            "build".as_ref(),
            kernels_ll().as_os_str(),
            "--export-all".as_ref(),
            "--cpu-target".as_ref(),
            format!("generic;{cpu}").as_ref(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
        let image = open(&image);
        let meta = image.meta_view();
        let target = &meta.targets[1];
        let names = names_of(&target.features, meta.arch().unwrap());
        for f in lacking {
            assert!(names.contains(f), "{cpu} should require {f}: {names:?}");
        }
        // A host with every feature of the target but the lacking ones.
        let kept: Vec<&str> = names
            .iter()
            .copied()
            .filter(|f| !lacking.contains(f))
            .collect();
        let host = HostCpu {
            name: cpu.into(),
            features: aotload::features::mask_of(X86_FEATURES, kept).unwrap(),
        };
        let err = aotload::choose_target(meta, &host, Some(cpu))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{cpu}: host lacks")) && err.contains(missing),
            "{err}"
        );
        // Without forcing, the same host falls back to generic.
        assert_eq!(aotload::choose_target(meta, &host, None).unwrap(), 0);
    }
}

/// A function without versions (varargs: no thunk can forward it) calls a versioned one
/// through the dispatch slot directly, not through the thunk, and the result is what gcc
/// computes.
#[test]
fn single_version_callers_call_through_the_slot() {
    let dir = scratch("mv-slot-calls");
    let c = dir.join("calls.c");
    std::fs::write(
        &c,
        "#include <stdarg.h>\n\
         __attribute__((noinline)) long sum_to(long n) { long s = 0; for (long i = 0; i < n; i++) s += i * i; return s; }\n\
         long sum_args(int n, ...) { va_list ap; va_start(ap, n); long s = 0;\n\
           for (int i = 0; i < n; i++) s += sum_to(va_arg(ap, long)); va_end(ap); return s; }\n\
         long entry(long a) { return sum_args(3, a, a + 1, a * 2); }\n",
    )
    .unwrap();
    let ll = dir.join("calls.ll");
    let status = std::process::Command::new(CLANG)
        .args(IR_FLAGS)
        .arg("-S")
        .arg(&c)
        .arg("-o")
        .arg(&ll)
        .status()
        .unwrap();
    assert!(status.success());
    let archive = dir.join("calls.a");
    let asm = one_shard_asm(&ll, &archive, "obj,asm");
    let caller = function_asm(&asm, "sum_args");
    assert!(
        caller.contains("*sum_to.aotlink.slot(%rip)"),
        "sum_args should call through the slot: {caller}"
    );
    assert!(!caller.contains("call\tsum_to\n") && !caller.contains("callq\tsum_to\n"));
    // And it computes what gcc's build computes, on every target this CPU runs.
    let image = dir.join("calls.so");
    aotlink_ok([
        "pkg".as_ref(),
        archive.as_os_str(),
        "-o".as_ref(),
        image.as_os_str(),
    ]);
    let reference = dir.join("libcalls-gcc.so");
    let status = std::process::Command::new("gcc")
        .args(["-O2", "-fPIC", "-shared", "-o"])
        .arg(&reference)
        .arg(&c)
        .status()
        .unwrap();
    assert!(status.success());
    // SAFETY: gcc's build of the same C.
    let lib = unsafe { libloading::Library::new(&reference) }.unwrap();
    let expected: extern "C" fn(i64) -> i64 = unsafe { *lib.get(b"entry").unwrap() };
    let meta = open(&image).meta().clone();
    for target in meta.targets.iter().filter(|t| host_runs(t)) {
        let copy = dir.join(format!("calls-{}.so", target.name));
        std::fs::copy(&image, &copy).unwrap();
        let options = LoadOptions {
            target: Some(target.name.clone()),
            ..Default::default()
        };
        let loaded = Image::open(&copy, &options).unwrap();
        let entry: extern "C" fn(i64) -> i64 =
            unsafe { std::mem::transmute(loaded.lookup("entry").unwrap()) };
        for a in [0, 1, 17, 1000] {
            assert_eq!(entry(a), expected(a), "{}: entry({a})", target.name);
        }
    }
}
