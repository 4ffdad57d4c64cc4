//! Running a [`Build`]: read the inputs (checked in a child process), codegen, dump with the
//! shard stores, archives, then link, seal and sign. The steps are the pipeline's; this file
//! sequences them and turns their results into a [`BuildReport`].

use std::cell::RefCell;
use std::path::Path;
use std::time::Instant;

use aotload::ImageKind;

use super::builder::{Build, CacheLocation, LinkSettings};
use super::checked_inputs;
use super::error::BuildError;
use super::memo;
use super::rebuild::{self, RecordFacts};
use super::report::{BuildReport, Phase, Rebuild, Timings};
use crate::cache::remote::{RemoteCache, RemoteStats};
use crate::cache::ShardCache;
use crate::codegen::function_texts::FunctionTexts;
use crate::codegen::{self, CodegenError, CodegenOptions, Input, InputBytes};
use crate::dump::{self, DumpError, DumpOptions, OutputKind, ShardStore};
use crate::link::{self, Cc, Linker};
use crate::llvm::Disposal;
use crate::phase::PhaseName;
use crate::target::{CpuTarget, Platform, Triple};

impl Build {
    /// The shard cache this build uses, opened (`None` when off). A cache directory that
    /// cannot be created is an error: the user asked for it.
    pub fn open_cache(&self) -> Result<Option<ShardCache>, BuildError> {
        let dir = match &self.cache.location {
            CacheLocation::Off => return Ok(None),
            CacheLocation::Dir(dir) => dir.clone(),
            CacheLocation::Default => match ShardCache::default_dir() {
                Some(dir) => dir,
                None => return Ok(None),
            },
        };
        ShardCache::open(&dir, self.cache.max_size)
            .map(Some)
            .map_err(|e| {
                BuildError::Invalid(format!(
                    "{}: cannot use as the shard cache: {e}",
                    dir.display()
                ))
            })
    }

    /// IR to image: dump into a private directory, link, seal (and sign); bitcode and assembly
    /// archives, when asked for, go beside the image (`x.so` -> `x.bc.a`, `x.s.a`).
    pub fn build(&self, output: &Path) -> Result<BuildReport, BuildError> {
        if !self.emission.emit.obj {
            return Err(BuildError::Invalid(
                "--emit must include obj to build an image (use `aotlink dump` for bc/asm only)"
                    .into(),
            ));
        }
        let linker = self.linker()?;
        output_folder_exists(output)?;
        let scratch = tempfile::tempdir()
            .map_err(|e| BuildError::Invalid(format!("cannot create a temp dir: {e}")))?;
        let archive = scratch.path().join("image.a");
        // The program is freed, and the record written, beside the archive and the link.
        let background = RefCell::new(Background::default());
        // What the link looks up on this machine is found beside the dump, once the program's
        // triple is known (the thread is joined when the dump returns).
        let mut report = std::thread::scope(|scope| {
            let warming = std::cell::OnceCell::new();
            let on_triple = |triple: &str| {
                warming.get_or_init(|| {
                    let platform = Triple::parse(triple).ok()?;
                    let platform = Platform::for_triple(&platform);
                    let linker = &*linker;
                    Some(scope.spawn(move || linker.warm_up(&platform)))
                });
            };
            self.dump_leaving(&archive, &background, &on_triple)
        })?;
        if self.emission.emit.bc || self.emission.emit.asm {
            copy_side_archives(&archive, output)?;
        }
        let linked = self.link_with(&*linker, &archive, output)?;
        report.timings.phases.extend(linked.timings.phases);
        report.timings.total += linked.timings.total;
        report.image = linked.image;
        report.flat_lookup = linked.flat_lookup;
        background.into_inner().finish(&mut report.timings);
        Ok(report)
    }

    /// IR to archives: objects at `archive`, bitcode and assembly beside it.
    pub fn dump(&self, archive: &Path) -> Result<BuildReport, BuildError> {
        let background = RefCell::new(Background::default());
        let mut report = self.dump_leaving(archive, &background, &|_| {})?;
        background.into_inner().finish(&mut report.timings);
        Ok(report)
    }

    /// [`Build::dump`], leaving in `background` the programs still being freed and the
    /// record still being written (waited for when it is dropped); `on_triple` is told the
    /// program's triple once it is parsed.
    fn dump_leaving(
        &self,
        archive: &Path,
        background: &RefCell<Background>,
        on_triple: &dyn Fn(&str),
    ) -> Result<BuildReport, BuildError> {
        output_folder_exists(archive)?;
        let started = Instant::now();
        let mut timings = Timings::default();
        let cache = self.open_cache()?;
        // Read once: the child checks these bytes and this process parses the same ones.
        let inputs = self.inputs_in_memory()?;
        let memo = cache.as_ref().and_then(|_| memo::memo_key(self, &inputs));
        timings.lap(PhaseName::ReadInputs);
        if let (Some(cache), Some(memo)) = (&cache, &memo) {
            if let Some(dumped) = memo::recall(cache, &memo.key) {
                timings.lap(PhaseName::ReuseDump);
                if let Some(f) = &self.progress {
                    f(dumped.records.len(), dumped.records.len());
                }
                return self.finish_dump(&dumped, None, archive, timings, started);
            }
        }
        let session = DumpSession {
            cache: cache.as_ref(),
            memo: memo.as_ref(),
            archive,
            started,
            background,
            on_triple,
        };
        // A rebuild that parses only what changed (rebuild.rs): one text input, and a cache to
        // keep the record in.
        let record_keys = (cache.is_some() && inputs.len() == 1)
            .then(|| memo::rebuild_keys(self, &inputs))
            .flatten();
        let texts = record_keys
            .as_ref()
            .filter(|_| !codegen::is_bitcode(&inputs[0].bytes))
            .and_then(|_| std::str::from_utf8(&inputs[0].bytes).ok())
            .and_then(FunctionTexts::cut);
        // Known before parsing, so that a build of the default targets neither records nor
        // tries (dump refuses such a rebuild too).
        let several_targets = texts.as_ref().is_some_and(|t| self.several_cpu_targets(t));
        let recording = match (&record_keys, &texts) {
            (Some(keys), Some(texts)) if !several_targets => Some(Recording { keys, texts }),
            _ => None,
        };
        if record_keys.is_some() {
            timings.lap(PhaseName::Cut);
        }
        let mut whole_because = several_targets.then(|| {
            "more than one CPU target: which functions get versions follows every body".into()
        });
        if let (Some(cache), Some(recording)) = (&cache, &recording) {
            match self.rebuild_from_stubs(cache, &inputs[0], &session, recording, &timings) {
                Ok(report) => return Ok(report),
                Err(why) => {
                    // A try that failed late left a record being written: it goes first.
                    session.background.borrow_mut().wait_for_record();
                    whole_because = Some(why);
                    timings.lap(PhaseName::StubsRefused);
                }
            }
        }
        let parse_inputs = self.parse_inputs(&inputs, cache.as_ref(), &mut timings)?;
        let mut report =
            self.dump_program(&parse_inputs, &session, None, recording.as_ref(), timings)?;
        report.rebuild = match (&cache, inputs.len(), &texts, whole_because) {
            (Some(_), 1, _, Some(why)) => Some(Rebuild::Whole { why }),
            (Some(_), 1, None, None) => Some(Rebuild::Whole {
                why: "the input is bitcode, or text whose function bodies cannot be told apart by its lines".into(),
            }),
            _ => None,
        };
        Ok(report)
    }

    /// What codegen parses: with an input checker, the child's bitcode of each text input
    /// once it checked them (recorded in `cache`, when given); the inputs themselves without.
    fn parse_inputs(
        &self,
        inputs: &[InputBytes],
        cache: Option<&ShardCache>,
        timings: &mut Timings,
    ) -> Result<Vec<Input>, BuildError> {
        Ok(match &self.checker {
            Some(checker) => {
                let checked = checked_inputs::check_once(checker, inputs, cache)?;
                timings.lap(PhaseName::CheckInputs);
                checked.into_iter().map(Input::from).collect()
            }
            None => inputs.iter().cloned().map(Input::from).collect(),
        })
    }

    /// Whether the image gets versions for more than one CPU target: the `--cpu-target` list,
    /// or the default for the triple `texts` names (true when that cannot be told).
    fn several_cpu_targets(&self, texts: &FunctionTexts) -> bool {
        let targets = match &self.image.cpu_targets {
            Some(targets) => Some(targets.len()),
            None => (texts.triple())
                .and_then(|t| Triple::parse(t).ok())
                .and_then(|t| CpuTarget::parse_list(&CpuTarget::default_string(&t)).ok())
                .map(|targets| targets.len()),
        };
        targets.is_none_or(|n| n > 1)
    }

    /// The dump of `input` parsed with the unchanged bodies stubbed, from the record
    /// `recording` names; why not, when it cannot be made (the caller then parses
    /// everything).
    fn rebuild_from_stubs(
        &self,
        cache: &ShardCache,
        input: &InputBytes,
        session: &DumpSession,
        recording: &Recording,
        timings: &Timings,
    ) -> Result<BuildReport, String> {
        let mut timings = timings.clone();
        let attempt = rebuild::attempt(cache, &recording.keys(), input, recording.texts)?;
        timings.lap(PhaseName::Stub);
        // A checking child parses only the stubbed text too (not recorded: no other build
        // has this text).
        let parse_inputs = self
            .parse_inputs(std::slice::from_ref(&attempt.input), None, &mut timings)
            .map_err(|e| e.to_string())?;
        let mut report = self
            .dump_program(
                &parse_inputs,
                session,
                Some(&attempt),
                Some(recording),
                timings,
            )
            .map_err(|e| e.to_string())?;
        report.rebuild = Some(Rebuild::Partial {
            parsed: attempt.parsed,
            stubbed: attempt.stubbed,
        });
        Ok(report)
    }

    /// Codegen and dump of `parse_inputs`: whole, or with `attempt`'s stubs. With
    /// `recording`, what a later rebuild needs is recorded.
    fn dump_program(
        &self,
        parse_inputs: &[Input],
        session: &DumpSession,
        attempt: Option<&rebuild::Attempt>,
        recording: Option<&Recording>,
        mut timings: Timings,
    ) -> Result<BuildReport, BuildError> {
        let cache = session.cache;
        // The program lives only until its shards' jobs are made: emission parses each job's
        // bitcode in a context of its own, so the program's module and context go first.
        let (prepared, options, remote, mut warnings, remembering, open_gate) = {
            let context = crate::llvm::ProgramContext::create();
            let mut program = codegen::codegen(
                &context,
                &CodegenOptions {
                    inputs: parse_inputs.to_vec(),
                    trace: self.selection.trace.clone(),
                    exports: self.selection.exports.clone(),
                    export_all: self.selection.export_all,
                    method_tables: self.selection.method_tables.clone(),
                    inputs_verified: self.checker.is_some(),
                    record_references: recording.is_some(),
                },
            )?;
            timings.absorb(&program.phases);
            if let Some(attempt) = attempt {
                attempt
                    .complete(&mut program)
                    .map_err(BuildError::Invalid)?;
            }
            if let Some(target) = &self.image.target {
                check_target(target, &program.triple, self.inputs[0].name())?;
            }
            (session.on_triple)(&program.triple);
            let common = program.printed.as_ref().map(|p| p.common);
            let mut warnings = Vec::new();
            let remote = self.connect_remote(&mut warnings);
            if self.cache.remote.is_some() {
                timings.lap(PhaseName::RemoteConnect);
            }
            let options = DumpOptions {
                kind: self.image.kind,
                shards: self.emission.shards,
                threads: self.emission.threads,
                emit: self.emission.emit,
                image_data: self.image.data.clone(),
                cpu_targets: self.image.cpu_targets.clone(),
            };
            let mut prepared = dump::prepare(
                &mut program,
                &options,
                &stores(cache, &remote),
                attempt.map(|a| &a.reuse),
            )?;
            // Written beside the emission: a record is of the facts made before it, and a
            // build that fails after leaves one whose shards the next build will not all find
            // (it then parses everything).
            let remembering = match (cache, recording, common) {
                (Some(cache), Some(recording), Some(common))
                    if recording.keys[0].files_unchanged(self) =>
                {
                    let (sizes, shards) = prepared.take_reusable_facts();
                    RecordFacts::take(recording.texts, common, &mut program, sizes, shards).map(
                        |facts| {
                            let (cache, keys) = (cache.clone(), recording.keys());
                            std::thread::spawn(move || {
                                if let Some(record) = facts.record() {
                                    rebuild::remember(&cache, &keys, &record)
                                }
                            })
                        },
                    )
                }
                _ => None,
            };
            // Freed beside the emission, which needs nothing of it; the memory goes back to
            // the system after it (the emission threads would not reuse it). When no more
            // shards than threads are emitted (a rebuild after an edit), only once they are:
            // freeing it then runs beside the archive and the link (`build` waits for it after
            // the link), which leave a core idle, not beside the emission on the build's
            // critical path; a clean build frees it at once, before the emission's memory adds
            // to it.
            let (open_gate, gate) = std::sync::mpsc::channel();
            let gated = prepared.shards_to_emit() <= prepared.threads();
            session
                .background
                .borrow_mut()
                .disposals
                .push(context.dispose_in_background(
                    program.module,
                    gated.then_some(gate),
                    release_freed_memory,
                ));
            (prepared, options, remote, warnings, remembering, open_gate)
        };
        let stores = stores(cache, &remote);
        let progress = self.progress.clone();
        let dumped = prepared
            .emit(&options, &stores, &move |done, total| {
                if let Some(f) = &progress {
                    f(done, total)
                }
            })
            .map_err(|e| name_the_input(e, parse_inputs));
        drop(open_gate);
        // Written beside the archive and the link too, and waited for by whoever holds the
        // background (the record goes whole or not at all, even when this build fails).
        if let Some(record) = remembering {
            session.background.borrow_mut().keep_writing(record);
        }
        let mut dumped = dumped?;
        warnings.append(&mut dumped.warnings);
        timings.absorb(&dumped.phases);
        let remote = remote.map(|remote| {
            remote.finish();
            timings.lap(PhaseName::RemoteUpload);
            let stats = remote.stats();
            if let Some(why) = &stats.failure {
                warnings.push(format!(
                    "remote cache {}: {why}; the remaining shards were built locally",
                    remote.url()
                ));
            }
            stats
        });
        if let Some(cache) = cache {
            if let Err(e) = cache.evict() {
                warnings.push(format!(
                    "cannot trim the shard cache at {}: {e}",
                    cache.root().display()
                ));
            }
            timings.lap(PhaseName::CacheEvict);
        }
        dumped.warnings = warnings;
        if let (Some(cache), Some(memo)) = (cache, session.memo) {
            if memo.files_unchanged(self) {
                memo::remember(cache, &memo.key, &dumped);
            }
        }
        self.finish_dump(&dumped, remote, session.archive, timings, session.started)
    }

    fn finish_dump(
        &self,
        dumped: &dump::Dumped,
        remote: Option<RemoteStats>,
        archive: &Path,
        mut timings: Timings,
        started: Instant,
    ) -> Result<BuildReport, BuildError> {
        dump::write_archives(dumped, archive)?;
        timings.lap(PhaseName::Archive);
        timings.total = started.elapsed();
        Ok(BuildReport::new(archive, dumped, remote, timings))
    }

    /// The remote cache, connected; `None` without one, or (with a warning) when it cannot
    /// be reached.
    fn connect_remote(&self, warnings: &mut Vec<String>) -> Option<RemoteCache> {
        let url = self.cache.remote.as_deref()?;
        if url.is_empty() {
            return None;
        }
        match RemoteCache::connect(url, &self.cache.remote_instance) {
            Ok(remote) => Some(remote),
            Err(why) => {
                warnings.push(format!("remote cache {url}: {why}; building locally"));
                None
            }
        }
    }

    /// Every input's bytes, files read now.
    fn inputs_in_memory(&self) -> Result<Vec<InputBytes>, BuildError> {
        if self.inputs.is_empty() {
            return Err(CodegenError::NoInputs.into());
        }
        (self.inputs.iter())
            .map(|input| {
                input.read().map_err(|e| {
                    CodegenError::Input {
                        path: input.name().to_path_buf(),
                        cause: format!("cannot read: {e}"),
                    }
                    .into()
                })
            })
            .collect()
    }

    /// Archive to image, with this build's linker, libraries and key.
    pub fn link(&self, archive: &Path, output: &Path) -> Result<BuildReport, BuildError> {
        output_folder_exists(output)?;
        self.link_with(&*self.linker()?, archive, output)
    }

    fn link_with(
        &self,
        linker: &dyn Linker,
        archive: &Path,
        output: &Path,
    ) -> Result<BuildReport, BuildError> {
        let mut timings = Timings::default();
        // The archive's header says which triple (and so which platform) it is for.
        let info = link::read_archive(archive)?;
        if let Some(target) = &self.image.target {
            check_target(target, &info.meta.triple, archive)?;
        }
        let triple = Triple::parse(&info.meta.triple)
            .map_err(|e| BuildError::Invalid(format!("{}: {e}", archive.display())))?;
        let platform = Platform::for_triple(&triple);
        let linked = link::link_checked_archive(
            linker,
            &info,
            output,
            &platform,
            &self.link.libraries,
            self.link.key.as_ref(),
            self.link.verbose,
        )?;
        // Sealing and signing happen inside: one phase, as the user sees it.
        timings.lap(PhaseName::LinkAndSeal);
        timings.total = timings.phases.iter().map(|p| p.time).sum();
        Ok(BuildReport {
            image: linked.path,
            timings,
            flat_lookup: linked.flat_lookup,
            ..BuildReport::default()
        })
    }

    /// The embedded LLD for package images, the C compiler driver for system images.
    fn linker(&self) -> Result<Box<dyn Linker>, BuildError> {
        let LinkSettings { cc, lld, .. } = &self.link;
        Ok(match self.image.kind {
            ImageKind::Pkg => {
                if cc.is_some() {
                    return Err(BuildError::Invalid("--cc only applies to --kind sysimg (package images are linked by the embedded LLD)".into()));
                }
                Box::new(lld.clone())
            }
            ImageKind::Sysimg => {
                if lld.compiler_runtime.is_some() {
                    return Err(BuildError::Invalid("--rtlib only applies to --kind pkg (the C compiler driver adds its own runtime)".into()));
                }
                if lld.crt.is_some() {
                    return Err(BuildError::Invalid("--crt only applies to --kind pkg (the C compiler driver links its own C runtime)".into()));
                }
                if lld.sysroot.is_some() {
                    return Err(BuildError::Invalid("--sysroot only applies to --kind pkg (give the C compiler driver its own --sysroot)".into()));
                }
                Box::new(Cc::find(cc.as_deref())?)
            }
        })
    }
}

/// What a dump leaves running when it returns: the programs being freed, the record being
/// written. Dropping it waits for both: LLVM must not be working on a detached thread while
/// the process exits, and a record is written whole or not at all.
#[derive(Default)]
struct Background {
    disposals: Vec<Disposal>,
    record: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Leaves `record` being written (after the one before it, if any).
    fn keep_writing(&mut self, record: std::thread::JoinHandle<()>) {
        self.wait_for_record();
        self.record = Some(record);
    }

    fn wait_for_record(&mut self) {
        if let Some(record) = self.record.take() {
            let _ = record.join();
        }
    }

    /// Waits for all of it; the wait for the record, when there was one, is the `remember`
    /// phase of `timings` (freeing the program is not timed).
    fn finish(mut self, timings: &mut Timings) {
        if let Some(record) = self.record.take() {
            let waited = Instant::now();
            record.join().expect("writing the record does not panic");
            let time = waited.elapsed();
            timings.phases.push(Phase {
                name: PhaseName::Remember,
                time,
            });
            timings.total += time;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.wait_for_record();
    }
}

/// What every try at a dump shares.
struct DumpSession<'a> {
    cache: Option<&'a ShardCache>,
    memo: Option<&'a memo::MemoKey>,
    archive: &'a Path,
    started: Instant,
    /// The programs being freed and the record being written, waited for by whoever holds
    /// it.
    background: &'a RefCell<Background>,
    /// Told the program's triple once it is parsed (maybe more than once).
    on_triple: &'a dyn Fn(&str),
}

/// A build whose record a later rebuild will use (rebuild.rs): under `keys` (`memo::rebuild_keys`),
/// of the input cut as `texts`.
struct Recording<'a> {
    keys: &'a [memo::MemoKey; 2],
    texts: &'a FunctionTexts<'a>,
}

impl Recording<'_> {
    fn keys(&self) -> [crate::cache::Key; 2] {
        [self.keys[0].key, self.keys[1].key]
    }
}

/// The folder `output` goes in must exist, said before any work (the image is written
/// there, through a temp file, only at the end of the build).
fn output_folder_exists(output: &Path) -> Result<(), BuildError> {
    let folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match folder.is_dir() {
        true => Ok(()),
        false => Err(BuildError::Invalid(format!(
            "{}: cannot write it: the folder {} does not exist",
            output.display(),
            folder.display()
        ))),
    }
}

/// `--target` must name the same architecture and OS as the IR.
fn check_target(wanted: &Triple, ir_triple: &str, source: &Path) -> Result<(), BuildError> {
    let have = Triple::parse(ir_triple)
        .map_err(|e| BuildError::Invalid(format!("{}: {e}", source.display())))?;
    if (wanted.arch, wanted.os) != (have.arch, have.os) {
        return Err(BuildError::Invalid(format!(
            "{}: the IR is for {have}, not for --target {wanted}",
            source.display()
        )));
    }
    Ok(())
}

/// The bitcode/assembly archives of a build go beside the image (`x.so` -> `x.bc.a`, `x.s.a`).
fn copy_side_archives(archive: &Path, output: &Path) -> Result<(), BuildError> {
    for kind in [OutputKind::Bitcode, OutputKind::Assembly] {
        let from = dump::archive_path(archive, kind);
        let to = dump::archive_path(&output.with_extension("a"), kind);
        if from.exists() {
            std::fs::read(&from)
                .and_then(|bytes| dump::write_atomically(&to, &bytes))
                .map_err(|e| BuildError::Invalid(format!("{}: cannot write: {e}", to.display())))?;
        }
    }
    Ok(())
}

/// Gives memory freed by this thread back to the system. glibc keeps what the main thread
/// frees in its arena, where the emission threads (each allocating from an arena of its own)
/// never reuse it: without this the dropped program would stay in the peak.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the heap to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// An LLVM error on a function's code names the input that defines it (the build's first line
/// of an error is `FILE: problem`); with no function, or none found, every input.
fn name_the_input(error: DumpError, inputs: &[Input]) -> BuildError {
    let DumpError::Llvm { diagnostic, .. } = error else {
        return error.into();
    };
    let all = || {
        let names: Vec<String> = inputs
            .iter()
            .map(|i| i.name().display().to_string())
            .collect();
        names.join(", ")
    };
    let input = match &diagnostic.function {
        Some(function) => codegen::input_defining(inputs, function)
            .map(|i| i.name().display().to_string())
            .unwrap_or_else(all),
        None => all(),
    };
    BuildError::Llvm { input, diagnostic }
}

/// The build's shard stores: the local cache first (a shard the remote gives is kept there
/// too), then the remote one.
fn stores<'a>(
    cache: Option<&'a ShardCache>,
    remote: &'a Option<RemoteCache>,
) -> Vec<&'a dyn ShardStore> {
    (cache.into_iter().map(|c| c as &dyn ShardStore))
        .chain(remote.iter().map(|r| r as &dyn ShardStore))
        .collect()
}
