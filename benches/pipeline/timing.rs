//! Timing helpers (minimum over repeats) and how durations are printed.

use aotlink::phase::PhaseName;
use std::time::{Duration, Instant};

use anyhow::Result;

/// The minimum over `repeat` runs of the wall time of `f`.
pub fn min_time(repeat: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    min_reported(repeat, || {
        let start = Instant::now();
        f()?;
        Ok(start.elapsed())
    })
}

/// The minimum over `repeat` runs of the duration `f` reports.
pub fn min_reported(repeat: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repeat {
        best = best.min(f()?);
    }
    Ok(best)
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn nanos(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

/// Milliseconds below 0.1 s, seconds above.
pub fn human(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        format!("{:.3} ms", millis(d))
    } else {
        format!("{:.3} s", secs(d))
    }
}

/// `a / b`, without dividing by zero.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    secs(a) / secs(b).max(f64::MIN_POSITIVE)
}

/// From a `Build::dump` report: (codegen, dump), where dump is every phase from annotation to
/// the header, without reading the inputs, codegen and writing the archive.
pub fn codegen_and_dump(report: &aotlink::BuildReport) -> (Duration, Duration) {
    let t = &report.timings;
    let codegen = [
        PhaseName::Parse,
        PhaseName::Select,
        PhaseName::Index,
        PhaseName::Print,
    ]
    .map(|p| t.phase(p))
    .iter()
    .sum();
    let outside = t.phase(PhaseName::ReadInputs) + codegen + t.phase(PhaseName::Archive);
    (codegen, t.total.saturating_sub(outside))
}
