//! The same inputs give the same bytes, whatever the thread count; --emit kinds.

use crate::common::*;

/// Builds `image.so` in `dir/run`: the same file name every time, since the image records its
/// own name (soname, install name, DLL name).
fn build(dir: &std::path::Path, run: &str, extra: &[&str]) -> Vec<u8> {
    let dir = dir.join(run);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("image.so");
    let mut args = vec![
        "build".to_string(),
        kernels_ll().display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    args.extend(
        ["--export-all", "--image-data"]
            .iter()
            .map(|s| s.to_string()),
    );
    args.push(data_file().display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    aotlink_ok(&args);
    std::fs::read(out).unwrap()
}

#[test]
fn image_bytes_do_not_depend_on_thread_count_or_run() {
    let dir = scratch("determinism");
    let one = build(&dir, "t1.so", &["--shards", "4", "--threads", "1"]);
    let two = build(&dir, "t2.so", &["--shards", "4", "--threads", "2"]);
    let again = build(&dir, "t2-again.so", &["--shards", "4", "--threads", "2"]);
    assert!(
        one == two,
        "--threads 1 and --threads 2 gave different images"
    );
    assert!(two == again, "two runs gave different images");
    let sysimg_one = build(
        &dir,
        "s1.so",
        &["--shards", "3", "--threads", "1", "--kind", "sysimg"],
    );
    let sysimg_two = build(
        &dir,
        "s2.so",
        &["--shards", "3", "--threads", "2", "--kind", "sysimg"],
    );
    assert!(
        sysimg_one == sysimg_two,
        "sysimg differs between thread counts"
    );
}

#[test]
fn threads_come_from_the_environment_when_not_given() {
    let dir = scratch("threads-env");
    let out = dir.join("env.so");
    let status = std::process::Command::new(aotlink())
        .env("AOTLINK_IMAGE_THREADS", "2")
        .args([
            "build".as_ref(),
            kernels_ll().as_os_str(),
            "--shards".as_ref(),
            "2".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let bad = std::process::Command::new(aotlink())
        .env("AOTLINK_IMAGE_THREADS", "many")
        .args([
            "build".as_ref(),
            kernels_ll().as_os_str(),
            "-o".as_ref(),
            dir.join("bad.so").as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("many"));
}

#[test]
fn dump_writes_object_bitcode_and_assembly_archives() {
    let dir = scratch("emit-kinds");
    let archive = dir.join("image.a");
    aotlink_ok([
        "dump".as_ref(),
        kernels_ll().as_os_str(),
        "--shards".as_ref(),
        "2".as_ref(),
        "--emit".as_ref(),
        "obj,bc,asm".as_ref(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    let members = |path: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let bytes = std::fs::read(path).unwrap();
        let archive = object::read::archive::ArchiveFile::parse(&*bytes).unwrap();
        archive
            .members()
            .map(|m| {
                let m = m.unwrap();
                (
                    String::from_utf8_lossy(m.name()).into_owned(),
                    m.data(&*bytes).unwrap().to_vec(),
                )
            })
            .collect()
    };
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|m| m.0.clone()).collect::<Vec<_>>();
    let objects = members(&archive);
    assert_eq!(
        names(&objects),
        ["shard_0.o", "shard_1.o", "tables.o", "header.o"]
    );
    let bitcode = members(&dir.join("image.bc.a"));
    assert_eq!(
        names(&bitcode),
        ["shard_0.bc", "shard_1.bc", "tables.bc", "header.bc"]
    );
    assert!(bitcode.iter().all(|(_, b)| b.starts_with(b"BC\xc0\xde")));
    let assembly = members(&dir.join("image.s.a"));
    // Assembly text: each member names its source file; shards hold code, the tables and the
    // header data only (LLVM 22 no longer opens an empty .text section for them).
    for (name, text) in &assembly {
        let text = String::from_utf8_lossy(text);
        assert!(text.trim_start().starts_with(".file"), "{name}: {text:.80}");
        assert_eq!(
            text.contains(".text"),
            name.starts_with("shard_"),
            "{name}: code only in shards"
        );
    }
    // The object archive links; the bitcode one is refused with a reason.
    let image = dir.join("image.so");
    aotlink_ok([
        "pkg".as_ref(),
        archive.as_os_str(),
        "-o".as_ref(),
        image.as_os_str(),
    ]);
    let refused = run_aotlink([
        "pkg".as_ref(),
        dir.join("image.bc.a").as_os_str(),
        "-o".as_ref(),
        dir.join("bc.so").as_os_str(),
    ]);
    assert_clean_failure(&refused, "only archives of objects");
}

/// Text IR with named local values: `names` gives the names of the arguments, the blocks and
/// the instructions (the code is the same for any names).
fn named_locals_ir(names: [&str; 5]) -> String {
    let [n, acc, head, body, done] = names;
    let triple = "x86_64-unknown-linux-gnu";
    format!(
        "target triple = \"{triple}\"\n\
         define i64 @sum_to(i64 %{n}) {{\n\
         entry:\n  br label %{head}\n\
         {head}:\n  %i.{head} = phi i64 [ 0, %entry ], [ %i.next.{body}, %{body} ]\n  \
           %{acc} = phi i64 [ 0, %entry ], [ %{acc}.next, %{body} ]\n  \
           %cmp.{done} = icmp slt i64 %i.{head}, %{n}\n  \
           br i1 %cmp.{done}, label %{body}, label %{done}\n\
         {body}:\n  %{acc}.next = add i64 %{acc}, %i.{head}\n  \
           %i.next.{body} = add i64 %i.{head}, 1\n  br label %{head}\n\
         {done}:\n  ret i64 %{acc}\n}}\n\
         define i64 @twice_sum(i64 %{acc}) {{\n\
         {head}:\n  %{n} = call i64 @sum_to(i64 %{acc})\n  %{body} = shl i64 %{n}, 1\n  \
           ret i64 %{body}\n}}\n"
    )
}

/// Local value names change no byte of an image: the same IR with other names for its
/// arguments, blocks and instructions, built by the command line (parsed in its build
/// process), by the library with a checker (checked in a child, handed over as bitcode
/// without the names) or without one (parsed in-process), gives one image, and it computes
/// what the IR says.
#[test]
fn local_value_names_change_no_byte_of_the_image() {
    let dir = scratch("local-names");
    let named = |run: &str, names| {
        let run_dir = dir.join(run);
        std::fs::create_dir_all(&run_dir).unwrap();
        let ir = run_dir.join("sums.ll");
        std::fs::write(&ir, named_locals_ir(names)).unwrap();
        (ir, run_dir.join("image.so"))
    };
    let (ir_a, image_a) = named("a", ["n", "acc", "loop", "step", "exit"]);
    let (ir_b, image_b) = named("b", ["count", "total", "header", "latch", "out"]);
    for (ir, image) in [(&ir_a, &image_a), (&ir_b, &image_b)] {
        aotlink_ok([
            "build".as_ref(),
            ir.as_os_str(),
            "--export-all".as_ref(),
            "--shards".as_ref(),
            "2".as_ref(),
            "--no-cache".as_ref(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
    }
    let library = |name: &str, checked: bool| {
        let image = dir.join(name).join("image.so");
        std::fs::create_dir_all(image.parent().unwrap()).unwrap();
        let mut build = aotlink::Build::new()
            .input(&ir_b)
            .export_all(true)
            .shards(2)
            .cache(aotlink::CacheLocation::Off);
        if checked {
            build = build.check_inputs_with(aotlink());
        }
        build.build(&image).unwrap();
        image
    };
    let bytes = |path: &std::path::Path| std::fs::read(path).unwrap();
    assert!(
        bytes(&image_a) == bytes(&image_b),
        "other local names, another image"
    );
    assert!(
        bytes(&image_b) == bytes(&library("library", false)),
        "the library's image differs from the command line's"
    );
    assert!(
        bytes(&image_b) == bytes(&library("library-checked", true)),
        "the image from the checking child's bitcode differs from the command line's"
    );
    let out = aotlink_ok([
        "run".as_ref(),
        image_b.as_os_str(),
        "twice_sum".as_ref(),
        "10".as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().last(), Some("90"), "{stdout}");
}

/// An input in memory goes by any name, one starting with `-` too: the input check (a child
/// process) is given it as one argument, and the image is the one the library builds without
/// the check (the module of text without `source_filename` is named after it either way).
#[test]
fn an_input_named_like_an_option_is_checked_under_its_name() {
    let dir = scratch("dash-name");
    let text = named_locals_ir(["n", "acc", "loop", "step", "exit"]);
    let build = |run: &str, checked: bool| {
        let out = dir.join(run).join("image.so");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut build = aotlink::Build::new()
            .bitcode("-sums.ll", text.clone().into_bytes())
            .export_all(true)
            .cache(aotlink::CacheLocation::Off);
        if checked {
            build = build.check_inputs_with(aotlink());
        }
        build.build(&out).unwrap_or_else(|e| panic!("{run}: {e}"));
        std::fs::read(out).unwrap()
    };
    assert!(
        build("checked", true) == build("unchecked", false),
        "the checked build's image differs"
    );
}

/// Local values numbered in the text before LLVM parses it give the image of the same IR
/// without names: kernels.c from clang with its values named (`-fno-discard-value-names`,
/// renumbered in the text) and without (clang's default, parsed as it is) build one image.
#[test]
fn renumbered_named_ir_gives_the_image_of_unnamed_ir() {
    let dir = scratch("renumbered-names");
    let image = |run: &str, flags: &[&str]| {
        let run_dir = dir.join(run);
        std::fs::create_dir_all(&run_dir).unwrap();
        let ir = run_dir.join("kernels.ll");
        let mut args = IR_FLAGS.to_vec();
        args.extend(["-S"].iter().chain(flags));
        clang_ir(&kernels_c(), &ir, &args);
        let out = run_dir.join("image.so");
        build_image(
            &ir,
            &out,
            &["--shards".into(), "3".into(), "--no-cache".into()],
        );
        (
            std::fs::read_to_string(ir).unwrap(),
            std::fs::read(out).unwrap(),
        )
    };
    let (named_ir, named) = image("named", &["-fno-discard-value-names"]);
    let (unnamed_ir, unnamed) = image("unnamed", &[]);
    // The named text takes the new way, the unnamed one the old (nothing to renumber).
    assert_eq!(
        aotlink::codegen::renumbering_keeps_the_module(&named_ir),
        Ok(())
    );
    assert_eq!(
        aotlink::codegen::renumbering_keeps_the_module(&unnamed_ir),
        Err("left as it is".into())
    );
    assert!(named == unnamed, "named and unnamed IR gave two images");
}
