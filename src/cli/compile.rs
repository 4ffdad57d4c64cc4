//! `build`, `dump`, `pkg`, `sysimg`: IR to archive (codegen + dump) and archive to image (link,
//! seal, and sign with `--sign`).

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use aotload::ImageKind;

use aotlink::codegen::{codegen, CodegenOptions};
use aotlink::dump::{self, DumpOptions, EmitKinds, OutputKind};
use aotlink::link::{self, Cc, Linker, Lld};
use aotlink::sign::SecretKey;
use aotlink::target::{CpuTarget, Platform, Triple};

use super::args::{CompileArgs, Emit, Kind};

/// `build`: IR to archive in a temp dir, then the image (bitcode/assembly archives beside it).
pub fn build(
    compile: &CompileArgs,
    output: &Path,
    kind: Kind,
    cc: Option<&str>,
    lld: Lld,
    libraries: &link::Libraries,
    key: Option<&SecretKey>,
) -> Result<()> {
    let linker = linker_for(kind, cc, lld)?;
    let scratch = tempfile::tempdir().context("cannot create a temp dir")?;
    let archive = scratch.path().join("image.a");
    let emit = compile_emit(compile);
    if !emit.obj {
        bail!("--emit must include obj to build an image (use `aotlink dump` for bc/asm only)");
    }
    compile_to_archive(compile, kind, &archive)?;
    if emit.bc || emit.asm {
        copy_side_archives(&archive, output)?;
    }
    link_archive(
        &*linker,
        &archive,
        output,
        compile.target.as_deref(),
        libraries,
        key,
    )
}

/// The linker for `kind`: `lld` (with the `--rtlib` and `--sysroot` it was given) for
/// package images, the C compiler driver for system images.
fn linker_for(kind: Kind, cc: Option<&str>, lld: Lld) -> Result<Box<dyn Linker>> {
    Ok(match kind {
        Kind::Pkg => {
            if cc.is_some() {
                bail!("--cc only applies to --kind sysimg (package images are linked by the embedded LLD)");
            }
            Box::new(lld)
        }
        Kind::Sysimg => {
            if lld.compiler_runtime.is_some() {
                bail!("--rtlib only applies to --kind pkg (the C compiler driver adds its own runtime)");
            }
            if lld.sysroot.is_some() {
                bail!("--sysroot only applies to --kind pkg (give the C compiler driver its own --sysroot)");
            }
            Box::new(Cc::find(cc)?)
        }
    })
}

fn compile_emit(compile: &CompileArgs) -> EmitKinds {
    EmitKinds {
        obj: compile.emit.contains(&Emit::Obj),
        bc: compile.emit.contains(&Emit::Bc),
        asm: compile.emit.contains(&Emit::Asm),
    }
}

/// codegen + dump + archives.
pub fn compile_to_archive(compile: &CompileArgs, kind: Kind, output: &Path) -> Result<()> {
    // Grammar errors come before any work; names are checked with LLVM once the IR's triple is known.
    let cpu_targets = compile
        .cpu_target
        .as_deref()
        .map(CpuTarget::parse_list)
        .transpose()?;
    let image_data = match &compile.image_data {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("{}: cannot read image data", path.display()))?,
        None => Vec::new(),
    };
    // LLVM can crash on damaged bitcode: a child process reads the inputs first.
    let executable = std::env::current_exe().context("cannot find the aotlink executable")?;
    aotlink::codegen::isolated::check_in_child(&executable, &compile.inputs)?;
    let context = inkwell::context::Context::create();
    let program = codegen(
        &context,
        &CodegenOptions {
            inputs: compile.inputs.clone(),
            trace: compile.trace.clone(),
            exports: compile.exports.clone(),
            export_all: compile.export_all,
            method_tables: compile.method_tables.clone(),
        },
    )?;
    if let Some(target) = &compile.target {
        check_target(target, &program.triple, &compile.inputs[0])?;
    }
    let options = DumpOptions {
        kind: match kind {
            Kind::Pkg => ImageKind::Pkg,
            Kind::Sysimg => ImageKind::Sysimg,
        },
        shards: compile.shards,
        threads: compile.threads,
        emit: compile_emit(compile),
        image_data,
        cpu_targets,
    };
    let progress = progress_bar();
    let dumped = dump::dump(&program, &options, &|done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })?;
    progress.finish_and_clear();
    dump::write_archives(&dumped, output)?;
    Ok(())
}

/// A progress bar on a terminal, nothing otherwise.
fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("emitting shards {bar:30} {pos}/{len} {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}

/// The bitcode/assembly archives of a build go beside the image (`x.so` -> `x.bc.a`, `x.s.a`).
fn copy_side_archives(archive: &Path, output: &Path) -> Result<()> {
    for kind in [OutputKind::Bitcode, OutputKind::Assembly] {
        let from = dump::archive_path(archive, kind);
        let to = dump::archive_path(&output.with_extension("a"), kind);
        if from.exists() {
            let bytes = std::fs::read(&from)?;
            dump::write_atomically(&to, &bytes)
                .with_context(|| format!("{}: cannot write", to.display()))?;
        }
    }
    Ok(())
}

pub fn link_archive(
    linker: &dyn Linker,
    archive: &Path,
    output: &Path,
    target: Option<&str>,
    libraries: &link::Libraries,
    key: Option<&SecretKey>,
) -> Result<()> {
    // The archive's header says which triple (and so which platform) it is for.
    let info = link::read_archive(archive)?;
    if let Some(target) = target {
        check_target(target, &info.meta.triple, archive)?;
    }
    let triple = Triple::parse(&info.meta.triple)
        .map_err(|e| anyhow::anyhow!("{}: {e}", archive.display()))?;
    let platform = Platform::for_triple(&triple);
    link::link_checked_archive(linker, &info, output, &platform, libraries, key)?;
    Ok(())
}

/// `--target` must name the same architecture and OS as the IR.
fn check_target(target: &str, ir_triple: &str, source: &Path) -> Result<()> {
    let wanted = Triple::parse(target).map_err(|e| anyhow::anyhow!("--target: {e}"))?;
    let have =
        Triple::parse(ir_triple).map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
    if (wanted.arch, wanted.os) != (have.arch, have.os) {
        bail!(
            "{}: the IR is for {have}, not for --target {wanted}",
            source.display()
        );
    }
    Ok(())
}
