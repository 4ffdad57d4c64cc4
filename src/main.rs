//! The `aotlink` command line: parses options and calls the pipeline's layers.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use aotload::call::Signature;
use aotload::{Image, ImageKind, LoadOptions, MethodTable};
use clap::{Args, Parser, Subcommand, ValueEnum};

use aotlink::codegen::{codegen, CodegenOptions};
use aotlink::dump::{self, DumpOptions, EmitKinds, OutputKind};
use aotlink::link::{self, Cc, Linker, Lld};
use aotlink::target::{CpuTarget, Platform, Triple};

#[derive(Parser)]
#[command(
    name = "aotlink",
    version,
    about = "LLVM IR in, loadable shared-library images out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// IR to image in one step (codegen, dump, link).
    Build {
        #[command(flatten)]
        compile: CompileArgs,
        /// The image to write.
        #[arg(short, long)]
        output: PathBuf,
        /// pkg: linked by the embedded LLD; sysimg: linked by the C compiler driver.
        #[arg(long, value_enum, default_value_t = Kind::Pkg)]
        kind: Kind,
        /// C compiler driver for --kind sysimg (default: $CC, then cc).
        #[arg(long, value_name = "CC")]
        cc: Option<String>,
    },
    /// IR to an archive of objects (and bitcode/assembly archives with --emit).
    Dump {
        #[command(flatten)]
        compile: CompileArgs,
        /// The object archive to write; bitcode and assembly go beside it (x.bc.a, x.s.a).
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, value_enum, default_value_t = Kind::Pkg)]
        kind: Kind,
    },
    /// Link an archive into a package image with the LLD inside aotlink.
    Pkg {
        archive: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Target triple (default: the archive's own).
        #[arg(long)]
        target: Option<String>,
    },
    /// Link an archive into a system image with the C compiler driver.
    Sysimg {
        archive: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// C compiler driver (default: $CC, then cc).
        #[arg(long, value_name = "CC", num_args = 0..=1, default_missing_value = "")]
        cc: Option<String>,
        #[arg(long)]
        target: Option<String>,
    },
    /// Show what an image holds (any format, without loading it).
    Inspect {
        image: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Also list each method's callees and external methods.
        #[arg(long)]
        edges: bool,
        /// Print the image's exported methods as a method table file (JSON) instead, for
        /// `--method-table` of the images that will call them.
        #[arg(long, conflicts_with_all = ["json", "edges"])]
        method_table: bool,
    },
    /// Load an image with the loader and call one of its functions with integer or floating
    /// point arguments; the result is printed alone on the last line.
    Run {
        image: PathBuf,
        function: String,
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
        /// Use the CPU target of this name instead of the best one for this machine.
        #[arg(long)]
        target: Option<String>,
        /// Say which target was chosen (on stderr).
        #[arg(short, long)]
        verbose: bool,
        /// Images to load first, in order, into the same method table (a system image, then
        /// the package images IMAGE depends on). Invalidations are reported on stderr.
        #[arg(long = "load", value_name = "IMAGE")]
        load: Vec<PathBuf>,
    },
}

#[derive(Args)]
struct CompileArgs {
    /// LLVM IR files (.ll or .bc); several are merged.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Functions to keep (one per line); they and what they reach are kept. Default: all.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Export this function as a C entry point (repeatable).
    #[arg(long = "export", value_name = "NAME")]
    exports: Vec<String>,
    /// Export every kept function that is externally visible in the inputs.
    #[arg(long)]
    export_all: bool,
    /// File whose bytes the image carries and the loader hands back.
    #[arg(long)]
    image_data: Option<PathBuf>,
    /// Number of shards (default: from the module's size; independent of --threads).
    #[arg(long)]
    shards: Option<u32>,
    /// Emission threads (default: half the cores).
    #[arg(long, env = "AOTLINK_IMAGE_THREADS")]
    threads: Option<usize>,
    /// Outputs: any of obj, bc, asm (only obj archives can be linked).
    #[arg(long, value_delimiter = ',', value_enum, default_value = "obj")]
    emit: Vec<Emit>,
    /// Target triple; must agree with the IR's (default: the IR's own).
    #[arg(long)]
    target: Option<String>,
    /// Method table (JSON, from `aotlink inspect --method-table`) of an image this one will be
    /// loaded with: calls to its methods are resolved and validated at load time (repeatable).
    #[arg(long = "method-table", value_name = "FILE")]
    method_tables: Vec<PathBuf>,
    /// CPU targets to compile for, in Julia's JULIA_CPU_TARGET grammar
    /// (default for x86_64: generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1);x86-64-v4,-rdrnd,base(1)).
    #[arg(long, env = "AOTLINK_CPU_TARGET")]
    cpu_target: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Pkg,
    Sysimg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    Obj,
    Bc,
    Asm,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aotlink: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Build {
            compile,
            output,
            kind,
            cc,
        } => {
            let linker = linker_for(kind, cc.as_deref())?;
            let scratch = tempfile::tempdir().context("cannot create a temp dir")?;
            let archive = scratch.path().join("image.a");
            let (triple, emit) = (compile.target.clone(), compile_emit(&compile));
            if !emit.obj {
                bail!("--emit must include obj to build an image (use `aotlink dump` for bc/asm only)");
            }
            compile_to_archive(&compile, kind, &archive)?;
            if emit.bc || emit.asm {
                copy_side_archives(&archive, &output)?;
            }
            link_archive(&*linker, &archive, &output, triple.as_deref())
        }
        Command::Dump {
            compile,
            output,
            kind,
        } => compile_to_archive(&compile, kind, &output),
        Command::Pkg {
            archive,
            output,
            target,
        } => link_archive(&Lld, &archive, &output, target.as_deref()),
        Command::Sysimg {
            archive,
            output,
            cc,
            target,
        } => {
            let linker = Cc::find(cc.as_deref().filter(|c| !c.is_empty()))?;
            link_archive(&linker, &archive, &output, target.as_deref())
        }
        Command::Inspect {
            image,
            json,
            edges,
            method_table,
        } => {
            let bytes = std::fs::read(&image)
                .with_context(|| format!("{}: cannot read", image.display()))?;
            let report = aotlink::inspect::inspect(&bytes, edges).map_err(|e| e.at(&image))?;
            if method_table {
                let file = aotload::ImageFile::parse(&bytes).map_err(|e| e.at(&image))?;
                let name = image
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let table =
                    aotlink::method_table_file::MethodTableFile::from_image(&file.meta, &name);
                return print_stdout(&format!("{}\n", serde_json::to_string_pretty(&table)?));
            }
            match json {
                true => print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?)),
                false => print_stdout(&report.to_string()),
            }
        }
        Command::Run {
            image,
            function,
            args,
            target,
            verbose,
            load,
        } => run_function(&image, &function, &args, target, verbose, &load),
    }
}

fn linker_for(kind: Kind, cc: Option<&str>) -> Result<Box<dyn Linker>> {
    Ok(match kind {
        Kind::Pkg => {
            if cc.is_some() {
                bail!("--cc only applies to --kind sysimg (package images are linked by the embedded LLD)");
            }
            Box::new(Lld)
        }
        Kind::Sysimg => Box::new(Cc::find(cc)?),
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
fn compile_to_archive(compile: &CompileArgs, kind: Kind, output: &Path) -> Result<()> {
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

fn link_archive(
    linker: &dyn Linker,
    archive: &Path,
    output: &Path,
    target: Option<&str>,
) -> Result<()> {
    let triple = archive_triple(archive)?;
    if let Some(target) = target {
        check_target(target, &triple, archive)?;
    }
    let triple =
        Triple::parse(&triple).map_err(|e| anyhow::anyhow!("{}: {e}", archive.display()))?;
    let platform = Platform::for_triple(&triple);
    link::link_image(linker, archive, output, &platform)?;
    Ok(())
}

/// The triple the archive's header records.
fn archive_triple(archive: &Path) -> Result<String> {
    Ok(link::read_archive(archive)?.meta.triple)
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

fn run_function(
    image: &Path,
    function: &str,
    args: &[String],
    target: Option<String>,
    verbose: bool,
    load: &[PathBuf],
) -> Result<()> {
    let options = LoadOptions {
        target,
        ..Default::default()
    };
    let mut table = MethodTable::new();
    let mut loaded = Vec::new();
    for path in load.iter().map(PathBuf::as_path).chain([image]) {
        let image = Image::open_in(path, &options, &mut table)?;
        for invalid in image.invalidated() {
            eprintln!("aotlink: {}: invalidated {invalid}", path.display());
        }
        loaded.push(image);
    }
    let image = loaded.last().expect("IMAGE is always loaded");
    if verbose {
        eprintln!(
            "target: {} (of {})",
            image.target_name(),
            image.meta().targets.len()
        );
    }
    if let Some(invalid) = image.invalidated().iter().find(|i| i.method == function) {
        bail!(
            "{}: `{function}` was invalidated: it {} (culprit: {})",
            image.path().display(),
            invalid.reason,
            invalid.culprit
        );
    }
    let index = image.fvar_index(function).with_context(|| {
        format!(
            "{}: no function `{function}` in the image",
            image.path().display()
        )
    })?;
    let method = &image.meta().methods[index as usize];
    let signature =
        Signature::parse(&method.signature).map_err(|e| anyhow::anyhow!("{function}: {e}"))?;
    if args.len() != signature.params.len() {
        bail!(
            "{function} takes {} arguments ({}), got {}",
            signature.params.len(),
            method.signature,
            args.len()
        );
    }
    let values = args
        .iter()
        .enumerate()
        .map(|(i, a)| signature.parse_arg(i, a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{function}: {e}"))?;
    // SAFETY: the signature comes from the verified image's manifest.
    let result = unsafe { aotload::call::call(image.fvars()[index as usize], &signature, &values) }
        .map_err(|e| anyhow::anyhow!("{function}: {e}"))?;
    match result {
        Some(value) => print_stdout(&format!("{value}\n")),
        None => print_stdout("(void)\n"),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
