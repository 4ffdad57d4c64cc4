//! Section `multiversion`: the example's kernels on every CPU target of one image (the loader's
//! choice, and every other target the host can run, forced on its own copy of the file).

use std::ffi::c_void;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use aotlink::link::{self, Lld};
use aotload::{Image, LoadOptions};

use crate::cpu::{print_other_cpu_use, CpuSample};
use crate::kernels::{kernels, Kernel};
use crate::platforms::{host_target, image_name, TargetFacts as _};
use crate::report::Table;
use crate::source::{build, compile_example, Build, Source};
use crate::timing::{nanos, secs};
use crate::Config;

/// About how long one measurement of one kernel on one target runs.
const KERNEL_MEASUREMENT: Duration = Duration::from_millis(50);

/// One open image with one CPU target (its own file: opening the same path twice would share
/// one mapping, and with it the dispatch slots).
struct Version {
    target: String,
    chosen: bool,
    image: Image,
}

/// One kernel's figures: per target (in image order) the time per call and the result.
struct KernelRun {
    /// Nanoseconds per call.
    per_call: Vec<f64>,
    results: Vec<u64>,
}

impl KernelRun {
    fn identical(&self) -> bool {
        self.results.windows(2).all(|w| w[0] == w[1])
    }
}

pub fn bench_multiversion(config: &Config, dir: &Path, table: &mut Table) -> Result<()> {
    println!(
        "\n[multiversion] examples/kernels: one image with the default CPU targets, each kernel \
         on every target this host can run (min of {} x ~{} ms per kernel and target)",
        config.repeat,
        KERNEL_MEASUREMENT.as_millis()
    );
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let dir = dir.join("multiversion");
    std::fs::create_dir_all(&dir)?;
    let host = host_target()?;
    let platform = host.platform();
    let ir = dir.join("kernels.ll");
    compile_example(host, &ir)?;
    let archive = dir.join("kernels.a");
    let built = build(&Source::example(ir)?, None, &archive)?;
    let image = dir.join(image_name("kernels", &platform));
    link::link_image(&Lld::new(), &archive, &image, &platform)?;
    println!(
        "  image: {} bytes; CPU targets: {}",
        std::fs::metadata(&image)?.len(),
        built.describe_targets()
    );
    let versions = open_versions(&image, &built)?;
    let chosen = versions
        .iter()
        .position(|v| v.chosen)
        .expect("open_versions keeps the chosen one");
    let generic = versions
        .iter()
        .position(|v| v.target == "generic")
        .context("the image has no generic target")?;
    println!("  target chosen on load: {}", versions[chosen].target);

    let kernels = kernels();
    let names: Vec<&str> = versions.iter().map(|v| v.target.as_str()).collect();
    let header: String = names.iter().map(|n| format!("{n:>12}")).collect();
    println!(
        "  {:<20} {:<17}{header}   speedup {}/generic (ns per call)",
        "kernel", "work", versions[chosen].target
    );
    let mut runs = Vec::new();
    for kernel in &kernels {
        let run = time_kernel(config, kernel, &versions)?;
        let times: String = run.per_call.iter().map(|t| format!("{t:>12.1}")).collect();
        let speedup = run.per_call[generic] / run.per_call[chosen];
        println!(
            "  {:<20} {:<17}{times}   {speedup:>5.2}x{}{}",
            kernel.name,
            kernel.work,
            if kernel.control { " (control)" } else { "" },
            if run.identical() {
                ""
            } else {
                "  RESULTS DIFFER"
            }
        );
        runs.push(run);
    }
    let measured: Vec<usize> = (0..kernels.len())
        .filter(|&k| !kernels[k].control)
        .collect();
    let geomeans: Vec<f64> = (0..versions.len())
        .map(|t| {
            geometric_mean(
                measured
                    .iter()
                    .map(|&k| runs[k].per_call[generic] / runs[k].per_call[t]),
            )
        })
        .collect();
    let per_target: Vec<String> = names
        .iter()
        .zip(&geomeans)
        .map(|(n, g)| format!("{n} {g:.2}x"))
        .collect();
    println!(
        "  geometric mean speedup over generic, {} kernels (controls left out): {}",
        measured.len(),
        per_target.join(", ")
    );
    let differing: Vec<&str> = kernels
        .iter()
        .zip(&runs)
        .filter(|(_, r)| !r.identical())
        .map(|(k, _)| k.name)
        .collect();
    let identical = if differing.is_empty() {
        format!(
            "bit-identical on every target for all {} kernels",
            kernels.len()
        )
    } else {
        format!("DIFFER between targets for {}", differing.join(", "))
    };
    println!("  results: {identical}");
    let others = print_other_cpu_use(cpu_start, start.elapsed());
    let report = MultiversionReport {
        built,
        versions,
        chosen,
        generic,
        kernels,
        runs,
        geomeans,
        identical,
        others,
    };
    table.sections.push(report.markdown(config));
    Ok(())
}

/// Everything the multiversion section measured, for its Markdown table.
struct MultiversionReport {
    built: Build,
    versions: Vec<Version>,
    /// Indices into `versions`.
    chosen: usize,
    generic: usize,
    kernels: Vec<Kernel>,
    runs: Vec<KernelRun>,
    /// Per version, the geometric mean speedup over generic of the non-control kernels.
    geomeans: Vec<f64>,
    /// Whether the results were bit-identical on every target, in words.
    identical: String,
    /// Other processes' share of the machine during the section, in percent.
    others: Option<f64>,
}

/// The loader's choice, then every other target of the image the host can run, each forced on
/// its own copy of the file.
fn open_versions(image: &Path, built: &Build) -> Result<Vec<Version>> {
    let chosen = Image::open(image, &LoadOptions::default())?;
    let chosen_name = chosen.target_name().to_string();
    let mut chosen = Some(chosen);
    let mut versions = Vec::new();
    for (k, (name, _)) in built.targets.iter().enumerate() {
        if *name == chosen_name {
            versions.push(Version {
                target: name.clone(),
                chosen: true,
                image: chosen.take().expect("one target has the chosen name"),
            });
            continue;
        }
        let copy = image.with_file_name(format!("kernels-target{k}.so"));
        std::fs::copy(image, &copy)?;
        let options = LoadOptions {
            target: Some(name.clone()),
            ..Default::default()
        };
        match Image::open(&copy, &options) {
            Ok(opened) => {
                if opened.target_name() != name {
                    bail!("forcing {name} gave {}", opened.target_name());
                }
                versions.push(Version {
                    target: name.clone(),
                    chosen: false,
                    image: opened,
                });
            }
            Err(e) if name != "generic" => {
                println!("  {name}: not measured, this host cannot run it ({e})")
            }
            Err(e) => return Err(e).context("forcing the generic target"),
        }
    }
    Ok(versions)
}

/// Times `kernel` on every version, the versions taking turns within each repeat so a change
/// in the machine's load hits them alike.
fn time_kernel(config: &Config, kernel: &Kernel, versions: &[Version]) -> Result<KernelRun> {
    let code: Vec<*const c_void> = versions
        .iter()
        .map(|v| {
            v.image
                .lookup(kernel.name)
                .with_context(|| format!("{} is not in the image", kernel.name))
        })
        .collect::<Result<_>>()?;
    // SAFETY: each pointer is the kernel's code in an image that `versions` keeps open.
    let results = code.iter().map(|&f| unsafe { (kernel.call)(f) }).collect();
    let calls: Vec<u32> = code
        .iter()
        .map(|&f| calls_per_measurement(kernel, f))
        .collect();
    let mut best = vec![f64::INFINITY; code.len()];
    for _ in 0..config.repeat {
        for (t, &f) in code.iter().enumerate() {
            let per_call = nanos(time_calls(kernel, f, calls[t])) / f64::from(calls[t]);
            best[t] = best[t].min(per_call);
        }
    }
    Ok(KernelRun {
        per_call: best,
        results,
    })
}

/// How many calls of `kernel` at `code` take about [`KERNEL_MEASUREMENT`].
fn calls_per_measurement(kernel: &Kernel, code: *const c_void) -> u32 {
    let mut calls = 1u32;
    loop {
        let elapsed = time_calls(kernel, code, calls);
        if elapsed >= KERNEL_MEASUREMENT / 10 || calls >= 1 << 24 {
            let per_call = secs(elapsed) / f64::from(calls);
            let wanted = secs(KERNEL_MEASUREMENT) / per_call.max(1e-9);
            return wanted.clamp(1.0, f64::from(u32::MAX)) as u32;
        }
        calls *= 2;
    }
}

fn time_calls(kernel: &Kernel, code: *const c_void, calls: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..calls {
        // SAFETY: see `time_kernel`.
        black_box(unsafe { (kernel.call)(black_box(code)) });
    }
    start.elapsed()
}

fn geometric_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (sum / count.max(1) as f64).exp()
}

impl MultiversionReport {
    fn markdown(&self, config: &Config) -> String {
        let MultiversionReport {
            built,
            versions,
            chosen,
            generic,
            kernels,
            runs,
            geomeans,
            identical,
            others,
        } = self;
        let (chosen, generic) = (*chosen, *generic);
        let mut md = String::new();
        let _ = writeln!(md, "Multiversioning (examples/kernels, one image):\n");
        let columns: String = versions
            .iter()
            .map(|v| {
                let mark = if v.chosen { " (chosen)" } else { "" };
                format!(" {}{mark} ns |", v.target)
            })
            .collect();
        let chosen_name = &versions[chosen].target;
        let _ = writeln!(
            md,
            "| Kernel | Work |{columns} Speedup {chosen_name} / generic |"
        );
        let aligns = "---:|".repeat(versions.len());
        let _ = writeln!(md, "|---|---|{aligns}---:|");
        for (kernel, run) in kernels.iter().zip(runs) {
            let times: String = run.per_call.iter().map(|t| format!(" {t:.1} |")).collect();
            let control = if kernel.control { " (control)" } else { "" };
            let _ = writeln!(
                md,
                "| {}{control} | {} |{times} {:.2}x |",
                kernel.name,
                kernel.work,
                run.per_call[generic] / run.per_call[chosen]
            );
        }
        let means: String = geomeans.iter().map(|g| format!(" {g:.2}x |")).collect();
        let measured = kernels.iter().filter(|k| !k.control).count();
        let _ = writeln!(
            md,
            "| **geometric mean, speedup over generic** ({measured} kernels) | |{means} \
             **{:.2}x** |",
            geomeans[chosen]
        );
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "Time per call, min of {} measurements of ~{} ms each; CPU targets: {}. \
             Results {identical}.",
            config.repeat,
            KERNEL_MEASUREMENT.as_millis(),
            built.describe_targets()
        );
        if let Some(share) = others {
            let _ = writeln!(
                md,
                "Other processes' CPU use during this section: {share:.0}%."
            );
        }
        md
    }
}
