//! The command line's options (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "aotlink",
    version,
    about = "LLVM IR in, loadable shared-library images out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Parses and verifies IR files, nothing else: run by aotlink itself in a child process
    /// before it reads untrusted IR (`codegen::isolated`).
    #[command(name = "__check-ir", hide = true)]
    CheckIr { inputs: Vec<PathBuf> },
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
        /// Compiler-runtime archive (libgcc.a, libclang_rt.builtins) for --kind pkg
        /// (default: found from the target's gcc or clang).
        #[arg(long, value_name = "PATH")]
        rtlib: Option<PathBuf>,
        /// Where the target's C runtime is, for --kind pkg (Windows: a MinGW-w64 sysroot,
        /// DIR/lib or DIR/x86_64-w64-mingw32/lib; default: where x86_64-w64-mingw32-gcc has it).
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Print the exact link command line.
        #[arg(short, long)]
        verbose: bool,
        /// Sign the sealed image with the secret key in KEYFILE (from `aotlink keygen`).
        #[arg(long = "sign", value_name = "KEYFILE")]
        sign: Option<PathBuf>,
        #[command(flatten)]
        libraries: LibraryArgs,
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
        /// Compiler-runtime archive (libgcc.a, libclang_rt.builtins) (default: found from the
        /// target's gcc or clang).
        #[arg(long, value_name = "PATH")]
        rtlib: Option<PathBuf>,
        /// Where the target's C runtime is, for --kind pkg (Windows: a MinGW-w64 sysroot,
        /// DIR/lib or DIR/x86_64-w64-mingw32/lib; default: where x86_64-w64-mingw32-gcc has it).
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Print the exact link command line.
        #[arg(short, long)]
        verbose: bool,
        /// Sign the sealed image with the secret key in KEYFILE (from `aotlink keygen`).
        #[arg(long = "sign", value_name = "KEYFILE")]
        sign: Option<PathBuf>,
        #[command(flatten)]
        libraries: LibraryArgs,
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
        /// Print the exact link command line.
        #[arg(short, long)]
        verbose: bool,
        /// Sign the sealed image with the secret key in KEYFILE (from `aotlink keygen`).
        #[arg(long = "sign", value_name = "KEYFILE")]
        sign: Option<PathBuf>,
        #[command(flatten)]
        libraries: LibraryArgs,
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
        /// Accept images signed with the public key in PUBFILE (repeatable); every image loaded
        /// must then carry a valid signature by one of these keys.
        #[arg(long = "trusted-key", value_name = "PUBFILE")]
        trusted_keys: Vec<PathBuf>,
    },
    /// Sign an image (replacing any signature it has): ed25519 over a BLAKE3 hash of the file,
    /// appended as a trailer that `run --trusted-key` and the loader check.
    Sign {
        image: PathBuf,
        /// The secret key file (from `aotlink keygen`).
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
    },
    /// The targets aotlink builds images for, in aotlink's, clang's and LLVM's spellings.
    Targets {
        /// As JSON (with each target's data layout), for tools.
        #[arg(long)]
        json: bool,
    },
    /// Show or empty the shard cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
        /// The cache's directory (default: as for `build`).
        #[arg(long, value_name = "DIR", global = true)]
        cache_dir: Option<PathBuf>,
    },
    /// Make a signing key pair: NAME.key (secret, mode 0600) and NAME.pub.
    Keygen {
        #[arg(long, value_name = "NAME")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Clone, Copy)]
pub enum CacheAction {
    /// Where the cache is, how many shards it holds, its size and bound.
    Stats,
    /// Delete every cached shard.
    Clear,
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
    pub fn libraries(&self) -> aotlink::link::Libraries {
        aotlink::link::Libraries {
            dirs: self.library_dir.clone(),
            names: self.library.clone(),
            paths: self.link_lib.clone(),
        }
    }
}

#[derive(Args)]
pub struct CompileArgs {
    /// LLVM IR files (.ll or .bc); several are merged.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Functions to keep (one per line); they and what they reach are kept. Default: all.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Export this function as a C entry point (repeatable).
    #[arg(long = "export", value_name = "NAME")]
    pub exports: Vec<String>,
    /// Export every kept function that is externally visible in the inputs.
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
    /// CPU targets to compile for, in Julia's JULIA_CPU_TARGET grammar
    /// (default for x86_64: generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1);x86-64-v4,-rdrnd,base(1)).
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
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
    #[arg(long, env = "AOTLINK_CACHE_MAX_SIZE", value_name = "SIZE", value_parser = aotlink::cache::parse_size)]
    pub cache_max_size: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Pkg,
    Sysimg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    Obj,
    Bc,
    Asm,
}
