//! Section `validate`: what loading a package image into a method table costs (resolving its
//! external methods, validating its edges, adding its methods) against a bare dlopen, on the
//! images of `packages`: the table holds the system image, and either every edge holds or one
//! system method was redefined, invalidating a third of the package.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use aotload::{Image, ImageFile, LoadOptions, Meta, MetaView, MethodTable};

use crate::cpu::{print_other_cpu_use, CpuSample};
use crate::packages::{
    build_images, package_callees, package_name, reaching_redefined, system_name, system_value,
    PackageImages, EDGES, PACKAGE_FUNCTIONS, REDEFINED, SIGNATURE, SYSTEM_FUNCTIONS,
};
use crate::per_open::{min_mean, per_open_on_copies, time_dlopen, LOAD_COPIES};
use crate::report::Table;
use crate::timing::{human, millis, min_reported, ratio};
use crate::Config;

/// The state of the method table a package image is opened into.
#[derive(Clone, Copy)]
enum TableState {
    /// Just the system image: every edge of the package holds.
    Valid,
    /// The system image, then [`REDEFINED`] redefined (new hash, same code).
    Redefined,
}

/// Per-open figures: the mean over [`LOAD_COPIES`] fresh copies (opens) or calls (in memory),
/// minimum over the repeats.
struct ValidateTimes {
    open_valid: Duration,
    open_redefined: Duration,
    validate_valid: Duration,
    validate_redefined: Duration,
    /// `Resolution::invalidations` after the redefinition: every invalid method spelled out.
    spell_out: Duration,
    parse_checksum: Duration,
    meta_decode: Duration,
    dlopen: Duration,
}

pub fn bench_validate(config: &Config, dir: &Path, table: &mut Table) -> Result<()> {
    println!(
        "\n[validate] a package image of {PACKAGE_FUNCTIONS} methods opened into a method table \
         holding a system image of {SYSTEM_FUNCTIONS}, vs a bare dlopen; {LOAD_COPIES} fresh \
         copies per repeat (min of {})",
        config.repeat
    );
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let dir = dir.join("validate");
    std::fs::create_dir_all(&dir)?;
    let images = build_images(&dir)?;
    let bytes = std::fs::read(&images.package)?;
    let meta = ImageFile::parse(&bytes)?.meta;
    print_images(&images, &meta, bytes.len())?;
    // The system image stays open, so rebuilding the table for each open only bumps its
    // reference count.
    let _system = Image::open(&images.system, &LoadOptions::default())?;
    let invalidated = check_opens(&images)?;
    println!(
        "  redefining {} invalidates {invalidated} of {PACKAGE_FUNCTIONS} methods",
        system_name(REDEFINED)
    );

    let times = measure(config, &images, &bytes)?;
    print_times(&times);
    let others = print_other_cpu_use(cpu_start, start.elapsed());
    table.sections.push(markdown(
        config,
        &times,
        &meta,
        bytes.len(),
        invalidated,
        others,
    ));
    Ok(())
}

/// Prints the images and the package's edges, which must number [`EDGES`].
fn print_images(images: &PackageImages, meta: &Meta, package_size: usize) -> Result<()> {
    let (callees, external) = edge_counts(meta);
    for (name, path, built) in [
        ("system ", &images.system, &images.system_build),
        ("package", &images.package, &images.package_build),
    ] {
        println!(
            "  {name} image: {} bytes (codegen {} + dump {}, targets: {})",
            std::fs::metadata(path)?.len(),
            human(built.codegen),
            human(built.dump),
            built.target_names()
        );
    }
    println!(
        "  method table: {} ({} bytes)",
        images.method_table.display(),
        std::fs::metadata(&images.method_table)?.len()
    );
    println!(
        "  package: {} methods, {} edges: {callees} to package methods + {external} to {} \
         system methods ({package_size} bytes)",
        meta.methods.len(),
        callees + external,
        meta.externals.len()
    );
    if meta.methods.len() != PACKAGE_FUNCTIONS || callees + external != EDGES {
        bail!("expected {PACKAGE_FUNCTIONS} methods and {EDGES} edges");
    }
    Ok(())
}

/// Sums of `callees` and `external` over the methods.
fn edge_counts(meta: &Meta) -> (usize, usize) {
    meta.methods.iter().fold((0, 0), |(c, x), m| {
        (c + m.callees.len(), x + m.external.len())
    })
}

/// A new method table holding the system image, in `state`.
fn system_table(images: &PackageImages, state: TableState) -> Result<MethodTable> {
    let mut table = MethodTable::new();
    Image::open_in(&images.system, &LoadOptions::default(), &mut table)?;
    if let TableState::Redefined = state {
        let name = system_name(REDEFINED);
        let old = table
            .get(&name, SIGNATURE)
            .with_context(|| format!("the system image has no {name}"))?;
        let (hash, address) = (old.hash ^ 1, old.address);
        table.redefine(&name, SIGNATURE, hash, address);
    }
    Ok(table)
}

/// Opens the package once per table state and checks what the figures rely on: every method
/// valid and calling the system image through its slots, or exactly what reaches the
/// redefined method invalid. Returns how many methods that is.
fn check_opens(images: &PackageImages) -> Result<usize> {
    let first = package_name(0);
    let mut table = system_table(images, TableState::Valid)?;
    let package = Image::open_in(&images.package, &LoadOptions::default(), &mut table)?;
    if let Some(inv) = package.invalidated().first() {
        bail!("with every edge holding, {inv}");
    }
    let code = package
        .lookup(&first)
        .with_context(|| format!("{first} has no address"))?;
    // SAFETY: `first` is `i64 (i64)` and only calls system functions, which are loaded.
    let f =
        unsafe { std::mem::transmute::<*const std::ffi::c_void, extern "C" fn(i64) -> i64>(code) };
    let expected = package_callees(0)
        .system
        .iter()
        .fold(5, |x, &s| system_value(s, x));
    if f(5) != expected {
        bail!("{first}(5) = {}, expected {expected}", f(5));
    }
    drop((package, table));

    let mut table = system_table(images, TableState::Redefined)?;
    let package = Image::open_in(&images.package, &LoadOptions::default(), &mut table)?;
    let invalid = package.invalidated();
    let culprit = system_name(REDEFINED);
    if invalid.len() != reaching_redefined() || invalid.iter().any(|i| i.culprit != culprit) {
        bail!(
            "redefining {culprit} invalidated {} methods, expected {} (all for {culprit})",
            invalid.len(),
            reaching_redefined()
        );
    }
    if package.lookup(&first).is_some() {
        bail!("{first} is invalid but has an address");
    }
    Ok(invalid.len())
}

fn measure(config: &Config, images: &PackageImages, bytes: &[u8]) -> Result<ValidateTimes> {
    let copies = images.package.with_file_name("copies");
    let open_valid = time_open_in(config, images, &copies, TableState::Valid)?;
    let open_redefined = time_open_in(config, images, &copies, TableState::Redefined)?;
    let view = ImageFile::parse_in_place(bytes)?.meta;
    let encoded_meta = view.to_meta().encode();
    let time_validate = |state| -> Result<Duration> {
        let table = system_table(images, state)?;
        min_mean(config.repeat, || {
            black_box(aotload::validate(&view, &table, false));
            Ok(())
        })
    };
    let validate_valid = time_validate(TableState::Valid)?;
    let validate_redefined = time_validate(TableState::Redefined)?;
    let redefined_table = system_table(images, TableState::Redefined)?;
    let resolution = aotload::validate(&view, &redefined_table, false);
    let spell_out = min_mean(config.repeat, || {
        black_box(resolution.invalidations(&view));
        Ok(())
    })?;
    let parse_checksum = min_mean(config.repeat, || {
        let file = ImageFile::parse_in_place(bytes)?;
        file.verify_checksum(bytes)?;
        black_box(file);
        Ok(())
    })?;
    let meta_decode = min_mean(config.repeat, || {
        black_box(MetaView::parse(&encoded_meta)?);
        Ok(())
    })?;
    let dlopen = time_dlopen(config, &images.package, &copies)?;
    Ok(ValidateTimes {
        open_valid,
        open_redefined,
        validate_valid,
        validate_redefined,
        spell_out,
        parse_checksum,
        meta_decode,
        dlopen,
    })
}

/// Mean `Image::open_in` of the package into a table in `state`; building the table (opening
/// the system image into a new one) and closing are not timed.
fn time_open_in(
    config: &Config,
    images: &PackageImages,
    copies: &Path,
    state: TableState,
) -> Result<Duration> {
    min_reported(config.repeat, || {
        per_open_on_copies(&images.package, copies, |path| {
            let mut table = system_table(images, state)?;
            let start = Instant::now();
            let package = Image::open_in(path, &LoadOptions::default(), &mut table)?;
            let elapsed = start.elapsed();
            drop((package, table));
            Ok(elapsed)
        })
    })
}

/// Share of `part` in `whole`, in percent.
fn percent(part: Duration, whole: Duration) -> f64 {
    100.0 * ratio(part, whole)
}

/// What `Image::open_in` spends besides validate, parse + checksum and dlopen + dlsym, in ms.
/// The parts are measured apart, so in a noisy run they can add up to more than the whole.
fn rest_ms(open: Duration, validate: Duration, t: &ValidateTimes) -> f64 {
    millis(open) - millis(validate + t.parse_checksum + t.dlopen)
}

fn print_times(t: &ValidateTimes) {
    let redefined = system_name(REDEFINED);
    for (label, open, validate) in [
        ("all valid", t.open_valid, t.validate_valid),
        (
            &*format!("{redefined} redefined"),
            t.open_redefined,
            t.validate_redefined,
        ),
    ] {
        println!(
            "  Image::open_in, {label:<16}: {:.3} ms per open, {:.2}x dlopen; validate alone \
             {:.3} ms ({:.0}% of it), rest {:.3} ms",
            millis(open),
            ratio(open, t.dlopen),
            millis(validate),
            percent(validate, open),
            rest_ms(open, validate, t)
        );
    }
    println!(
        "  spelling out the invalidations (names and reasons, Image::invalidated): {:.3} ms",
        millis(t.spell_out)
    );
    println!(
        "  parse + checksum (in memory): {:.3} ms (of which MetaView::parse {:.3} ms), {:.0}% of \
         Image::open_in (all valid)",
        millis(t.parse_checksum),
        millis(t.meta_decode),
        percent(t.parse_checksum, t.open_valid)
    );
    println!(
        "  dlopen + dlsym              : {:.3} ms per open",
        millis(t.dlopen)
    );
}

fn markdown(
    config: &Config,
    t: &ValidateTimes,
    meta: &Meta,
    package_size: usize,
    invalidated: usize,
    others: Option<f64>,
) -> String {
    let redefined = system_name(REDEFINED);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Package image load and validation ({PACKAGE_FUNCTIONS} methods, {EDGES} edges):\n"
    );
    let _ = writeln!(
        md,
        "| Step | Time per open (min of {}) | Ratio to dlopen | Share of Image::open_in |",
        config.repeat
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    // Every figure here is below 0.1 s, so in ms as `human` would print it; `ms` may be < 0.
    let mut row = |what: &str, ms: f64, of: Option<Duration>| {
        let share = of.map_or("-".to_string(), |o| {
            format!("{:.0}%", 100.0 * ms / millis(o))
        });
        let _ = writeln!(
            md,
            "| {what} | {ms:.3} ms | {:.2} | {share} |",
            ms / millis(t.dlopen)
        );
    };
    let (valid, redef) = (t.open_valid, t.open_redefined);
    row("Image::open_in, all valid", millis(valid), Some(valid));
    row(
        "of which validate (`aotload::validate`)",
        millis(t.validate_valid),
        Some(valid),
    );
    row(
        "of which parse + checksum (`ImageFile::parse` + `verify_checksum`)",
        millis(t.parse_checksum),
        Some(valid),
    );
    row(
        "of which MetaView::parse (inside parse)",
        millis(t.meta_decode),
        Some(valid),
    );
    row("of which dlopen + dlsym", millis(t.dlopen), Some(valid));
    row(
        "of which the rest",
        rest_ms(valid, t.validate_valid, t),
        Some(valid),
    );
    row(
        &format!("Image::open_in, `{redefined}` redefined ({invalidated} invalidated)"),
        millis(redef),
        Some(redef),
    );
    row(
        "of which validate (`aotload::validate`)",
        millis(t.validate_redefined),
        Some(redef),
    );
    row(
        "of which the rest",
        rest_ms(redef, t.validate_redefined, t),
        Some(redef),
    );
    row(
        "spelling out the invalidations (`Image::invalidated`, on demand, not in the open)",
        millis(t.spell_out),
        None,
    );
    row("dlopen + dlsym (bare)", millis(t.dlopen), None);
    let (callees, external) = edge_counts(meta);
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "Package image: {} methods, {package_size} bytes, CPU target generic; {callees} edges to \
         its own methods + {external} to {} methods of a system image of {SYSTEM_FUNCTIONS}, \
         which the method table holds. Opens: mean of {LOAD_COPIES} fresh copies per repeat, the \
         table rebuilt (untimed) before each; validate, parse + checksum, MetaView::parse: mean of \
         {LOAD_COPIES} calls in memory. The rest = Image::open_in - validate - parse + checksum \
         - dlopen + dlsym.",
        meta.methods.len(),
        meta.externals.len()
    );
    if let Some(share) = others {
        let _ = writeln!(
            md,
            "Other processes' CPU use during this section: {share:.0}%."
        );
    }
    md
}
