//! The machine: the CPU's name, and how much CPU time this process and everything else used
//! (`/proc`, Linux only), to tell a quiet run from a noisy one.

use std::time::Duration;

use crate::timing::secs;

/// The CPU's name from `/proc/cpuinfo` (Linux), for the record.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Busy CPU time so far of the whole machine and of this process (with its waited-for
/// children), from `/proc` (Linux only). Both count in clock ticks, 100 per second on Linux.
#[derive(Clone, Copy)]
pub struct CpuSample {
    machine: Duration,
    process: Duration,
}

impl CpuSample {
    pub fn now() -> Option<CpuSample> {
        let ticks = |t: u64| Duration::from_millis(t * 10);
        Some(CpuSample {
            machine: ticks(machine_busy_ticks()?),
            process: ticks(process_ticks()?),
        })
    }
}

/// user + nice + system + irq + softirq + steal of the `cpu` line of `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    Some(
        [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&i| fields.get(i))
            .sum(),
    )
}

/// utime + stime + cutime + cstime (fields 14 to 17) of `/proc/self/stat`.
fn process_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it start with the 3rd (state).
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

/// CPU time this process used between two samples.
pub fn process_cpu_since(start: Option<CpuSample>) -> Option<Duration> {
    Some(CpuSample::now()?.process.saturating_sub(start?.process))
}

/// How much CPU other processes took while the benchmark ran: on a shared machine the
/// figures, the 2-thread speedup above all, are only as good as this is small.
/// Returns their share of the machine, in percent.
pub fn print_other_cpu_use(start: Option<CpuSample>, wall: Duration) -> Option<f64> {
    let (start, end) = (start?, CpuSample::now()?);
    let machine = end.machine.saturating_sub(start.machine);
    let others = machine.saturating_sub(end.process.saturating_sub(start.process));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = 100.0 * secs(others) / (secs(wall) * cores as f64).max(f64::MIN_POSITIVE);
    let warning = if share > 5.0 {
        " - the machine was shared, figures are noisy"
    } else {
        ""
    };
    println!(
        "  other processes used {:.1} CPU-s of {:.1} available ({share:.0}%){warning}",
        secs(others),
        secs(wall) * cores as f64
    );
    Some(share)
}
