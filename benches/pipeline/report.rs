//! The Markdown summary printed at the end: the table of the emission, link and load sections,
//! then each later section's own Markdown, complete.

use std::fmt::Write as _;
use std::time::Duration;

use crate::per_open::LOAD_COPIES;
use crate::timing::human;
use crate::Config;

/// The rows of the Markdown summary.
#[derive(Default)]
pub struct Table {
    rows: Vec<[String; 4]>,
    pub emission_identical: Option<bool>,
    pub cpu_targets: Option<String>,
    pub image_size: Option<u64>,
    /// Share of the machine other processes used during the run.
    pub others_cpu_percent: Option<f64>,
    /// Markdown of the later sections (multiversion, size, cross, validate, vs_clang), each
    /// complete.
    pub sections: Vec<String>,
}

impl Table {
    pub fn row(&mut self, stage: &str, what: &str, time: Duration, ratio: String) {
        self.rows
            .push([stage.into(), what.into(), human(time), ratio]);
    }

    pub fn skipped(&mut self, stage: &str, what: &str) {
        self.rows
            .push([stage.into(), what.into(), "skipped".into(), "-".into()]);
    }

    pub fn markdown(&self, config: &Config) -> String {
        let mut md = String::new();
        if !self.rows.is_empty() {
            self.write_pipeline_markdown(config, &mut md);
            let _ = writeln!(md);
        }
        for section in &self.sections {
            let _ = writeln!(md, "{section}");
        }
        if let Some(share) = self.others_cpu_percent {
            let _ = writeln!(md, "Other processes' CPU use during the run: {share:.0}%.");
        }
        md
    }

    /// The table of the emission, link and load sections, with its notes.
    fn write_pipeline_markdown(&self, config: &Config, md: &mut String) {
        let _ = writeln!(
            md,
            "| Stage | Variant | Time (min of {}) | Ratio |",
            config.repeat
        );
        let _ = writeln!(md, "|---|---|---:|---:|");
        for [stage, what, time, ratio] in &self.rows {
            let _ = writeln!(md, "| {stage} | {what} | {time} | {ratio} |");
        }
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "{} functions (+1 dispatcher); {} cores; emission ratio = t1/t2 (speedup); link ratio \
             = time / embedded LLD; load ratio = time / dlopen, mean of {LOAD_COPIES} fresh \
             copies per repeat.",
            config.functions,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        if let Some(same) = self.emission_identical {
            let _ = writeln!(
                md,
                "1- and 2-thread archives byte-identical: {}.",
                if same { "yes" } else { "NO" }
            );
        }
        if let Some(targets) = &self.cpu_targets {
            let _ = writeln!(md, "CPU targets: {targets}.");
        }
        if let Some(size) = self.image_size {
            let _ = writeln!(md, "Image size: {size} bytes.");
        }
    }
}
