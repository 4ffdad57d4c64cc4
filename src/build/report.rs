//! What a build did: its shards (emitted or taken from the cache, on which thread, how long)
//! and where the time went. `aotlink build --timings` prints it; `--timings=json` writes it
//! for tools.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cache::remote::RemoteStats;
use crate::dump::{Dumped, ShardRecord, ShardSource};
use crate::phase::PhaseName;

/// Durations in reports are milliseconds (a float), for people and tools alike.
fn as_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// One phase of a build and its wall time.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    pub name: PhaseName,
    #[serde(rename = "ms", serialize_with = "as_ms")]
    pub time: Duration,
}

/// Phases in order, each with its wall time.
#[derive(Clone, Debug, Serialize)]
pub struct Timings {
    pub phases: Vec<Phase>,
    /// The whole step (dump, link or build).
    #[serde(rename = "total_ms", serialize_with = "as_ms")]
    pub total: Duration,
    #[serde(skip)]
    clock: Instant,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            phases: Vec::new(),
            total: Duration::ZERO,
            clock: Instant::now(),
        }
    }
}

impl Timings {
    /// The time of the phases named `name` (zero if none ran).
    pub fn phase(&self, name: PhaseName) -> Duration {
        (self.phases.iter())
            .filter(|p| p.name == name)
            .map(|p| p.time)
            .sum()
    }

    /// Ends the phase `name`, which began at the last lap.
    pub(super) fn lap(&mut self, name: PhaseName) {
        self.phases.push(Phase {
            name,
            time: self.clock.elapsed(),
        });
        self.clock = Instant::now();
    }

    /// Takes phases timed elsewhere (dump's), which ended just now.
    pub(super) fn absorb(&mut self, phases: &[(PhaseName, Duration)]) {
        self.phases
            .extend(phases.iter().map(|&(name, time)| Phase { name, time }));
        self.clock = Instant::now();
    }
}

/// Shards taken from the cache and not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheCounts {
    pub hits: usize,
    /// Emitted, because no entry had their key.
    pub misses: usize,
    /// Emitted, because the entry with their key failed its check (and was removed).
    pub damaged: usize,
    /// Whether a cache was used at all.
    pub enabled: bool,
    /// Shards taken from the remote cache.
    pub remote_hits: usize,
    /// Whether the whole dump was reused: the build's inputs were those of an earlier build,
    /// so nothing was parsed or emitted (every shard counts as a hit).
    pub dump_reused: bool,
}

/// Where a shard (or the shard tables' object) came from, as the report names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Emitted,
    Cached,
    Remote,
    /// The cache entry was damaged; emitted again.
    Damaged,
}

impl From<&ShardSource> for Origin {
    fn from(source: &ShardSource) -> Origin {
        match source {
            ShardSource::Emitted => Origin::Emitted,
            ShardSource::Cached => Origin::Cached,
            ShardSource::Remote => Origin::Remote,
            ShardSource::Damaged(_) => Origin::Damaged,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Emitted => "emitted",
            Origin::Cached => "cached",
            Origin::Remote => "remote",
            Origin::Damaged => "damaged",
        })
    }
}

/// One shard as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ShardReport {
    pub index: u32,
    pub thread: usize,
    #[serde(rename = "ms", serialize_with = "as_ms")]
    pub time: Duration,
    pub source: Origin,
    /// Why the entry was damaged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
    pub key: String,
    pub functions: usize,
}

/// What [`super::Build::build`] (or `dump`, `link`) did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BuildReport {
    /// The image (for `build` and `link`) or the object archive (for `dump`).
    pub image: PathBuf,
    pub shards: Vec<ShardReport>,
    pub threads: usize,
    pub cache: CacheCounts,
    /// The remote cache's hits, misses, uploads and bytes moved, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteStats>,
    pub timings: Timings,
    /// What went wrong without failing the build (a cache that could not be written).
    pub warnings: Vec<String>,
    /// macOS: the names the image binds at load time by flat lookup, not to libSystem (they
    /// are not libSystem's: a runtime's own functions, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flat_lookup: Vec<String>,
    /// Whether the build parsed only what changed since the build before (`rebuild.rs`);
    /// `None` where it could not have (no shard cache, bitcode, several inputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuild: Option<Rebuild>,
    /// Where the shard tables' object came from, when the tables are not in the shards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_tables: Option<Origin>,
}

/// How much of the input a build with a shard cache parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rebuild {
    /// Only the changed functions and their shards' others; the rest stood in from the
    /// build before.
    Partial { parsed: usize, stubbed: usize },
    /// Everything, and why.
    Whole { why: String },
}

impl BuildReport {
    pub(super) fn new(
        archive: &Path,
        dumped: &Dumped,
        remote: Option<RemoteStats>,
        timings: Timings,
    ) -> BuildReport {
        let mut cache = CacheCounts::default();
        let shards = (dumped.records.iter())
            .map(|r: &ShardRecord| {
                let damage = match &r.source {
                    ShardSource::Emitted => {
                        cache.misses += 1;
                        None
                    }
                    ShardSource::Cached => {
                        cache.hits += 1;
                        None
                    }
                    ShardSource::Remote => {
                        cache.remote_hits += 1;
                        None
                    }
                    ShardSource::Damaged(why) => {
                        cache.damaged += 1;
                        Some(why.clone())
                    }
                };
                let source = Origin::from(&r.source);
                ShardReport {
                    index: r.index,
                    thread: r.thread,
                    time: r.time,
                    source,
                    damage,
                    key: r.key.hex(),
                    functions: r.functions,
                }
            })
            .collect();
        cache.enabled = dumped.cache_used;
        cache.dump_reused = dumped.reused;
        BuildReport {
            image: archive.to_path_buf(),
            shards,
            threads: dumped.threads,
            cache,
            remote,
            timings,
            warnings: dumped.warnings.clone(),
            flat_lookup: Vec::new(),
            rebuild: None,
            shard_tables: (dumped.tables.as_ref()).map(|t| Origin::from(&t.source)),
        }
    }

    /// Shards emitted (not taken from the cache), damaged ones included.
    pub fn emitted(&self) -> usize {
        self.cache.misses + self.cache.damaged
    }

    /// The report as people read it: phases, then shards by time, then the cache.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let _ = writeln!(out, "timings (wall, ms):");
        for phase in &self.timings.phases {
            let _ = writeln!(
                out,
                "  {:<14} {:>10.1}",
                phase.name.as_str(),
                ms(phase.time)
            );
        }
        let _ = writeln!(out, "  {:<14} {:>10.1}", "total", ms(self.timings.total));
        match self.cache.dump_reused {
            true => {
                let _ = writeln!(out, "shards: {}, all from the cache:", self.shards.len());
            }
            false => {
                let _ = writeln!(
                    out,
                    "shards: {} on {} thread(s); slowest first:",
                    self.shards.len(),
                    self.threads
                );
            }
        }
        let mut by_time: Vec<&ShardReport> = self.shards.iter().collect();
        by_time.sort_by(|a, b| b.time.cmp(&a.time).then(a.index.cmp(&b.index)));
        for s in by_time {
            let _ = writeln!(
                out,
                "  shard {:>3}  thread {}  {:>9.1} ms  {:>5} functions  {}",
                s.index,
                s.thread,
                ms(s.time),
                s.functions,
                s.source
            );
        }
        match self.cache.enabled {
            true => {
                let _ = writeln!(
                    out,
                    "cache: {} hit(s), {} miss(es), {} damaged{}",
                    self.cache.hits,
                    self.cache.misses,
                    self.cache.damaged,
                    match self.cache.dump_reused {
                        true => " (inputs unchanged: the whole dump reused)",
                        false => "",
                    }
                );
            }
            false => {
                let _ = writeln!(out, "cache: off");
            }
        }
        if let (true, Some(source)) = (self.cache.enabled, self.shard_tables) {
            let _ = writeln!(out, "shard tables: {source}");
        }
        match &self.rebuild {
            Some(Rebuild::Partial { parsed, stubbed }) => {
                let _ = writeln!(
                    out,
                    "rebuild: {parsed} function(s) parsed, {stubbed} taken from the build before"
                );
            }
            Some(Rebuild::Whole { why }) => {
                let _ = writeln!(out, "rebuild: every function parsed ({why})");
            }
            None => {}
        }
        if let Some(r) = &self.remote {
            let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
            let _ = writeln!(
                out,
                "remote cache {}: {} hit(s), {} miss(es), {} stored, {:.1} MiB down, {:.1} MiB up{}",
                r.url,
                r.hits,
                r.misses,
                r.stored,
                mib(r.bytes_downloaded),
                mib(r.bytes_uploaded),
                match &r.failure {
                    Some(why) => format!(" (turned off: {why})"),
                    None => String::new(),
                }
            );
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serializes")
    }
}
