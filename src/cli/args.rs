//! The command line's options (clap). Those of `build` and `dump` are the library's
//! (`aotlink::build::options`), which the C API parses too.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use aotlink::build::options::{BuildArgs, CompileArgs, Kind, LinkArgs, LldArgs, TimingsFormat};

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
    CheckIr {
        /// Where to write each text input's module as bitcode (`<index>.bc`).
        #[arg(long)]
        bitcode_dir: Option<PathBuf>,
        /// The name each input goes by, in order (the staged copies' own names otherwise): a
        /// text module without `source_filename` is named after it.
        #[arg(long = "input-name")]
        input_names: Vec<PathBuf>,
        inputs: Vec<PathBuf>,
    },
    /// IR to image in one step (codegen, dump, link).
    Build {
        /// LLVM IR files (.ll or .bc); several are merged.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The image to write.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        options: BuildArgs,
    },
    /// IR to an archive of objects (and bitcode/assembly archives with --emit).
    Dump {
        /// LLVM IR files (.ll or .bc); several are merged.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
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
        #[command(flatten)]
        lld: LldArgs,
        #[command(flatten)]
        link: LinkArgs,
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
        #[command(flatten)]
        link: LinkArgs,
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
