//! What a build is: [`Build`], in typed parts (what goes in, what is kept, what the image is
//! for, how shards are emitted, how it is linked, where shards are cached), and its setters.
//! Running it is `run.rs`'s; this file holds no pipeline step.

use std::path::PathBuf;
use std::sync::Arc;

use aotload::ImageKind;

use crate::cache::DEFAULT_MAX_SIZE;
use crate::codegen::Input;
use crate::dump::EmitKinds;
use crate::link::{Libraries, Lld};
use crate::sign::SecretKey;
use crate::target::{CpuTarget, Crt, Triple};

/// Where emitted shards are cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheLocation {
    /// [`crate::cache::ShardCache::default_dir`]: `$AOTLINK_CACHE_DIR`, `$XDG_CACHE_HOME/aotlink` or
    /// `~/.cache/aotlink`.
    Default,
    Dir(PathBuf),
    /// No cache: every shard is emitted.
    Off,
}

type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// One image build, in the parts that say what it is: what goes in, what is kept, what the
/// image is for, how shards are emitted, how the image is linked and where shards are cached.
/// Setters take and return the builder; [`Build::build`] runs it.
#[derive(Clone)]
pub struct Build {
    pub(super) inputs: Vec<Input>,
    pub(super) selection: Selection,
    pub(super) image: ImageSpec,
    pub(super) emission: Emission,
    pub(super) link: LinkSettings,
    pub(super) cache: CacheSettings,
    /// The executable that checks inputs in a child process (`None`: inputs are trusted).
    pub(super) checker: Option<PathBuf>,
    pub(super) progress: Option<Progress>,
}

/// What codegen keeps and exports.
#[derive(Clone, Debug, Default)]
pub(super) struct Selection {
    pub(super) trace: Option<PathBuf>,
    pub(super) exports: Vec<String>,
    pub(super) export_all: bool,
    pub(super) method_tables: Vec<PathBuf>,
}

/// What the image is: its kind, the triple it must be for, its CPU targets and the bytes it
/// carries.
#[derive(Clone, Debug)]
pub(super) struct ImageSpec {
    pub(super) kind: ImageKind,
    /// `None`: the IR's own triple.
    pub(super) target: Option<Triple>,
    /// `None`: the platform's default targets.
    pub(super) cpu_targets: Option<Vec<CpuTarget>>,
    pub(super) data: std::sync::Arc<[u8]>,
}

/// How shards are emitted: never what they hold.
#[derive(Clone, Debug, Default)]
pub(super) struct Emission {
    /// `None`: half the cores.
    pub(super) threads: Option<usize>,
    /// `None`: from the module's size.
    pub(super) shards: Option<u32>,
    pub(super) emit: EmitKinds,
}

/// How the archive becomes an image.
#[derive(Clone, Default)]
pub(super) struct LinkSettings {
    /// The C compiler driver of a system image (`None`: `$CC`, then `cc`).
    pub(super) cc: Option<String>,
    /// The embedded LLD's settings, for package images.
    pub(super) lld: Lld,
    pub(super) libraries: Libraries,
    pub(super) key: Option<SecretKey>,
    /// Print each command line the link runs (`--verbose`).
    pub(super) verbose: bool,
}

/// Where shards are cached, locally and remotely.
#[derive(Clone, Debug)]
pub(super) struct CacheSettings {
    pub(super) location: CacheLocation,
    pub(super) max_size: u64,
    /// A REAPI server's URL (`None`: no remote cache).
    pub(super) remote: Option<String>,
    pub(super) remote_instance: String,
}

impl Default for Build {
    fn default() -> Self {
        Build::new()
    }
}

impl Build {
    /// A package image for the IR's own triple and the default CPU targets, with the shard
    /// cache in its default place.
    pub fn new() -> Build {
        Build {
            inputs: Vec::new(),
            selection: Selection::default(),
            image: ImageSpec {
                kind: ImageKind::Pkg,
                target: None,
                cpu_targets: None,
                data: std::sync::Arc::new([]),
            },
            emission: Emission::default(),
            link: LinkSettings::default(),
            cache: CacheSettings {
                location: CacheLocation::Default,
                max_size: DEFAULT_MAX_SIZE,
                remote: None,
                remote_instance: String::new(),
            },
            checker: None,
            progress: None,
        }
    }

    /// An IR file (`.ll` or `.bc`); several are merged.
    pub fn input(mut self, path: impl Into<PathBuf>) -> Build {
        self.inputs.push(Input::File(path.into()));
        self
    }

    /// IR in memory (bitcode or text), named `name` in messages.
    pub fn bitcode(mut self, name: impl Into<PathBuf>, bytes: impl Into<Arc<[u8]>>) -> Build {
        self.inputs.push(Input::Memory {
            name: name.into(),
            bytes: bytes.into(),
        });
        self
    }

    /// Functions to keep, one per line (they and what they reach).
    pub fn trace(mut self, path: impl Into<PathBuf>) -> Build {
        self.selection.trace = Some(path.into());
        self
    }

    /// Export `name`: a function, variable, alias or ifunc the inputs define.
    pub fn export(mut self, name: impl Into<String>) -> Build {
        self.selection.exports.push(name.into());
        self
    }

    /// Export every kept definition that is externally visible in the inputs (external
    /// linkage, default or protected visibility): what `gcc -shared` exports.
    pub fn export_all(mut self, yes: bool) -> Build {
        self.selection.export_all = yes;
        self
    }

    /// Bytes the image carries and the loader hands back.
    pub fn image_data(mut self, bytes: Vec<u8>) -> Build {
        self.image.data = bytes.into();
        self
    }

    /// The method table (JSON) of an image this one will be loaded with.
    pub fn method_table(mut self, path: impl Into<PathBuf>) -> Build {
        self.selection.method_tables.push(path.into());
        self
    }

    /// CPU targets, parsed from Julia's `JULIA_CPU_TARGET` grammar by
    /// [`CpuTarget::parse_list`] (their names are checked once the triple is known).
    pub fn cpu_targets(mut self, targets: Vec<CpuTarget>) -> Build {
        self.image.cpu_targets = Some(targets);
        self
    }

    /// The target triple; must agree with the IR's.
    pub fn target(mut self, triple: Triple) -> Build {
        self.image.target = Some(triple);
        self
    }

    /// Package image (linked by the embedded LLD) or system image (the C compiler driver).
    pub fn kind(mut self, kind: ImageKind) -> Build {
        self.image.kind = kind;
        self
    }

    /// The C compiler driver of a system image (default: `$CC`, then `cc`).
    pub fn cc(mut self, driver: impl Into<String>) -> Build {
        self.link.cc = Some(driver.into());
        self
    }

    /// The compiler-runtime archive a package image links (default: found per target).
    pub fn rtlib(mut self, path: impl Into<PathBuf>) -> Build {
        self.link.lld.compiler_runtime = Some(path.into());
        self
    }

    /// Where the target's C runtime is, for a package image (MinGW-w64).
    pub fn sysroot(mut self, dir: impl Into<PathBuf>) -> Build {
        self.link.lld.sysroot = Some(dir.into());
        self
    }

    /// The Microsoft C runtime a Windows package DLL links (default: the one the target's
    /// MinGW-w64 gcc links); the program that loads the DLL must use the same one.
    pub fn crt(mut self, crt: Crt) -> Build {
        self.link.lld.crt = Some(crt);
        self
    }

    /// Libraries the image links against (a runtime's own).
    pub fn libraries(mut self, libraries: Libraries) -> Build {
        self.link.libraries = libraries;
        self
    }

    /// Emission threads (default: half the cores).
    pub fn threads(mut self, threads: usize) -> Build {
        self.emission.threads = Some(threads);
        self
    }

    /// Shard count (default: from the module's size).
    pub fn shards(mut self, shards: u32) -> Build {
        self.emission.shards = Some(shards);
        self
    }

    /// Which outputs to emit (objects, bitcode, assembly).
    pub fn emit(mut self, kinds: EmitKinds) -> Build {
        self.emission.emit = kinds;
        self
    }

    /// Where the shard cache is, or [`CacheLocation::Off`].
    pub fn cache(mut self, location: CacheLocation) -> Build {
        self.cache.location = location;
        self
    }

    /// The cache's size bound in bytes (least recently used entries go first).
    pub fn cache_max_size(mut self, bytes: u64) -> Build {
        self.cache.max_size = bytes;
        self
    }

    /// A REAPI v2 server (`grpc://host:port`) whose CAS and action cache hold shards behind
    /// the local cache: shards are fetched from it, and those emitted here are uploaded.
    /// A server that fails costs one warning and the build goes on locally.
    pub fn remote_cache(mut self, url: impl Into<String>) -> Build {
        self.cache.remote = Some(url.into());
        self
    }

    /// The remote cache's instance name (default: the empty one).
    pub fn remote_instance(mut self, name: impl Into<String>) -> Build {
        self.cache.remote_instance = name.into();
        self
    }

    /// Print each command line the link runs on stderr (and, on macOS, the names bound by
    /// flat lookup).
    pub fn verbose(mut self, yes: bool) -> Build {
        self.link.verbose = yes;
        self
    }

    /// Sign the sealed image with `key`.
    pub fn sign(mut self, key: SecretKey) -> Build {
        self.link.key = Some(key);
        self
    }

    /// Parse and verify the inputs first in a child process, `executable __check-ir` (the
    /// aotlink executable), so that damaged bitcode that crashes LLVM costs the child only.
    /// Without it, inputs are parsed in this process: only for IR the caller trusts.
    pub fn check_inputs_with(mut self, executable: impl Into<PathBuf>) -> Build {
        self.checker = Some(executable.into());
        self
    }

    /// Called with (shards done, shards in all) after each shard.
    pub fn progress(mut self, f: impl Fn(usize, usize) + Send + Sync + 'static) -> Build {
        self.progress = Some(Arc::new(f));
        self
    }
}
