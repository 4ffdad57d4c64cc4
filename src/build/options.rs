//! The options of `aotlink build` (and `dump`), as clap defines them, made into a [`Build`].
//! They live in the library, not in the command line, because the C API
//! (`aotlink_build_set(build, "cpu-target", "...")`) parses the very same definitions: an
//! option added here is an option of both, and neither can name one the other lacks.
//!
//! Inputs and the output are not options: the command line takes them as arguments, the C API
//! as calls of their own (`aotlink_build_add_bitcode`, `aotlink_build_run`).

use std::path::{Path, PathBuf};

use aotload::ImageKind;
use clap::{Args, ValueEnum};

use super::builder::{Build, CacheLocation};
use crate::cache::DEFAULT_MAX_SIZE;
use crate::dump::EmitKinds;
use crate::link::Libraries;
use crate::sign::{KeyError, SecretKey};
use crate::target::{CpuTarget, CpuTargetError, Crt, Triple, TripleError};

/// An option's value that names a file which cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("{}: cannot read image data: {cause}", path.display())]
    ImageData { path: PathBuf, cause: String },
    /// The key's own message names the file.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Not `#[from]`: the message includes the cause, which must not be printed twice as its
    /// source too.
    #[error("--target: {0}")]
    Target(TripleError),
    /// Grammar errors come before any work; names are checked once the triple is known.
    #[error(transparent)]
    CpuTargets(#[from] CpuTargetError),
}

/// The options of `aotlink build`: what `dump` takes, plus how the image is linked.
#[derive(Args, Clone, Debug)]
pub struct BuildArgs {
    #[command(flatten)]
    pub compile: CompileArgs,
    /// pkg: linked by the embedded LLD; sysimg: linked by the C compiler driver.
    #[arg(long, value_enum, default_value_t = Kind::Pkg)]
    pub kind: Kind,
    /// C compiler driver for --kind sysimg (default: $CC, then cc).
    #[arg(long, value_name = "CC")]
    pub cc: Option<String>,
    #[command(flatten)]
    pub lld: LldArgs,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// How the embedded LLD finds what a package image links besides the archive.
#[derive(Args, Clone, Debug, Default)]
pub struct LldArgs {
    /// Compiler-runtime archive (libgcc.a, libclang_rt.builtins) for --kind pkg
    /// (default: found from the target's gcc or clang).
    #[arg(long, value_name = "PATH")]
    pub rtlib: Option<PathBuf>,
    /// Where the target's C runtime is, for --kind pkg (Windows: a MinGW-w64 sysroot,
    /// DIR/lib or DIR/x86_64-w64-mingw32/lib; default: where x86_64-w64-mingw32-gcc has it;
    /// macOS: an SDK, whose usr/lib/libSystem.tbd replaces the built-in libSystem stub).
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// The Microsoft C runtime a Windows DLL links, for --kind pkg: the same as the program's
    /// that loads it (default: the one x86_64-w64-mingw32-gcc links).
    #[arg(long, value_enum, value_name = "CRT")]
    pub crt: Option<Crt>,
}

/// What every link takes, whichever linker: libraries, the signing key, `--verbose`.
#[derive(Args, Clone, Debug, Default)]
pub struct LinkArgs {
    /// Print the exact link command line (macOS: and the names bound by flat lookup).
    #[arg(short, long)]
    pub verbose: bool,
    /// Sign the sealed image with the secret key in KEYFILE (from `aotlink keygen`).
    #[arg(long = "sign", value_name = "KEYFILE")]
    pub sign: Option<PathBuf>,
    #[command(flatten)]
    pub libraries: LibraryArgs,
}

impl LldArgs {
    /// `build` with these settings.
    pub fn apply(&self, mut build: Build) -> Build {
        if let Some(rtlib) = &self.rtlib {
            build = build.rtlib(rtlib);
        }
        if let Some(sysroot) = &self.sysroot {
            build = build.sysroot(sysroot);
        }
        if let Some(crt) = self.crt {
            build = build.crt(crt);
        }
        build
    }
}

impl LinkArgs {
    /// `build` with these libraries, key (read now, so that a bad key fails before any work)
    /// and `--verbose`.
    pub fn apply(&self, mut build: Build) -> Result<Build, OptionsError> {
        build = build
            .libraries(self.libraries.libraries())
            .verbose(self.verbose);
        if let Some(path) = &self.sign {
            build = build.sign(SecretKey::read(path)?);
        }
        Ok(build)
    }
}

/// Shared libraries the image depends on (a runtime's own library).
#[derive(Args, Clone, Debug, Default)]
pub struct LibraryArgs {
    /// Link against library NAME (libNAME.so, libNAME.dylib/.tbd, NAME.lib/libNAME.dll.a/NAME.dll).
    #[arg(short = 'l', value_name = "NAME")]
    pub library: Vec<String>,
    /// Search DIR for -l libraries.
    #[arg(short = 'L', value_name = "DIR")]
    pub library_dir: Vec<PathBuf>,
    /// Link against the library file PATH (.so, .dylib, .tbd, .lib, .dll.a, .dll).
    #[arg(long = "link-lib", value_name = "PATH")]
    pub link_lib: Vec<PathBuf>,
}

impl LibraryArgs {
    pub fn libraries(&self) -> Libraries {
        Libraries {
            dirs: self.library_dir.clone(),
            names: self.library.clone(),
            paths: self.link_lib.clone(),
        }
    }
}

/// The options `build` and `dump` share: what is kept, for which CPUs, in how many shards.
#[derive(Args, Clone, Debug)]
pub struct CompileArgs {
    /// Functions to keep (one per line); they and what they reach are kept. Default: all.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Export this function, variable, alias or ifunc (repeatable).
    #[arg(long = "export", value_name = "NAME")]
    pub exports: Vec<String>,
    /// Export every kept definition that is externally visible in the inputs, as gcc -shared
    /// does (functions, variables, aliases, ifuncs).
    #[arg(long)]
    pub export_all: bool,
    /// File whose bytes the image carries and the loader hands back.
    #[arg(long)]
    pub image_data: Option<PathBuf>,
    /// Number of shards (default: from the module's size; independent of --threads).
    #[arg(long)]
    pub shards: Option<u32>,
    /// Emission threads (default: half the cores).
    #[arg(long, env = "AOTLINK_IMAGE_THREADS")]
    pub threads: Option<usize>,
    /// Outputs: any of obj, bc, asm (only obj archives can be linked).
    #[arg(long, value_delimiter = ',', value_enum, default_value = "obj")]
    pub emit: Vec<Emit>,
    /// Target triple; must agree with the IR's (default: the IR's own).
    #[arg(long)]
    pub target: Option<String>,
    /// Method table (JSON, from `aotlink inspect --method-table`) of an image this one will be
    /// loaded with: calls to its methods are resolved and validated at load time (repeatable).
    #[arg(long = "method-table", value_name = "FILE")]
    pub method_tables: Vec<PathBuf>,
    /// CPU targets to compile for, in Julia's JULIA_CPU_TARGET grammar (default: the
    /// platform's, starting from its baseline, `aotlink targets --json`; x86_64 Linux:
    /// generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1);x86-64-v4,-rdrnd,base(1);
    /// arm64 macOS: apple-m1;apple-m2).
    #[arg(long, env = "AOTLINK_CPU_TARGET")]
    pub cpu_target: Option<String>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Print where the time went (phases, each shard with its thread, cache hits) on stderr;
    /// `--timings=json` prints it as JSON.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text",
        value_name = "FORMAT"
    )]
    pub timings: Option<TimingsFormat>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimingsFormat {
    Text,
    Json,
}

/// The shard cache.
#[derive(Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// The shard cache's directory (default: $AOTLINK_CACHE_DIR, $XDG_CACHE_HOME/aotlink or
    /// ~/.cache/aotlink).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Emit every shard; neither read nor write the cache (nor the remote cache).
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// A Remote Execution API server whose CAS and action cache hold shards behind the local
    /// cache, like grpc://127.0.0.1:50051: shards are fetched from it, and those emitted here
    /// are uploaded. A server that fails costs one warning; the build goes on locally.
    #[arg(long, env = "AOTLINK_REMOTE_CACHE", value_name = "URL")]
    pub remote_cache: Option<String>,
    /// The remote cache's instance name (default: the empty one).
    #[arg(long, env = "AOTLINK_REMOTE_INSTANCE", value_name = "NAME")]
    pub remote_instance: Option<String>,
    /// The cache's size bound (like 5G or 500M); least recently used shards go first.
    #[arg(long, env = "AOTLINK_CACHE_MAX_SIZE", value_name = "SIZE", value_parser = crate::cache::parse_size)]
    pub cache_max_size: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Pkg,
    Sysimg,
}

impl From<Kind> for ImageKind {
    fn from(kind: Kind) -> ImageKind {
        match kind {
            Kind::Pkg => ImageKind::Pkg,
            Kind::Sysimg => ImageKind::Sysimg,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    Obj,
    Bc,
    Asm,
}

impl BuildArgs {
    /// A build with these options and no inputs yet. Files the options name (image data,
    /// key) are read now, so that a bad one fails before any work. `--timings` is left to the
    /// caller: it says what to print, not what to build.
    pub fn to_build(&self) -> Result<Build, OptionsError> {
        let mut build = self.compile.to_build(self.kind)?;
        if let Some(cc) = &self.cc {
            build = build.cc(cc);
        }
        build = self.lld.apply(build);
        self.link.apply(build)
    }
}

impl CompileArgs {
    /// A build of `kind` with these options and no inputs yet.
    pub fn to_build(&self, kind: Kind) -> Result<Build, OptionsError> {
        let mut build = Build::new()
            .kind(kind.into())
            .export_all(self.export_all)
            .emit(EmitKinds {
                obj: self.emit.contains(&Emit::Obj),
                bc: self.emit.contains(&Emit::Bc),
                asm: self.emit.contains(&Emit::Asm),
            })
            .cache(self.cache.location())
            .cache_max_size(self.cache.cache_max_size.unwrap_or(DEFAULT_MAX_SIZE));
        for export in &self.exports {
            build = build.export(export);
        }
        for table in &self.method_tables {
            build = build.method_table(table);
        }
        if let Some(trace) = &self.trace {
            build = build.trace(trace);
        }
        if let Some(path) = &self.image_data {
            build = build.image_data(read_image_data(path)?);
        }
        if let Some(shards) = self.shards {
            build = build.shards(shards);
        }
        if let Some(threads) = self.threads {
            build = build.threads(threads);
        }
        if let Some(target) = &self.target {
            build = build.target(Triple::parse(target).map_err(OptionsError::Target)?);
        }
        if let Some(spec) = &self.cpu_target {
            build = build.cpu_targets(CpuTarget::parse_list(spec)?);
        }
        // --no-cache is a build from nothing: no remote cache either.
        if let (Some(url), false) = (&self.cache.remote_cache, self.cache.no_cache) {
            build = build.remote_cache(url);
            if let Some(name) = &self.cache.remote_instance {
                build = build.remote_instance(name);
            }
        }
        Ok(build)
    }
}

impl CacheArgs {
    pub fn location(&self) -> CacheLocation {
        match (&self.cache_dir, self.no_cache) {
            (_, true) => CacheLocation::Off,
            (Some(dir), false) => CacheLocation::Dir(dir.clone()),
            (None, false) => CacheLocation::Default,
        }
    }
}

fn read_image_data(path: &Path) -> Result<Vec<u8>, OptionsError> {
    std::fs::read(path).map_err(|e| OptionsError::ImageData {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })
}
