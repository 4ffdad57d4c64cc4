//! A child process run to its end and measured: wall time, CPU time and peak resident set
//! size. CPU time and the peak come from `wait4`'s rusage of that one child (with its own children: clang's driver runs
//! cc1 and the linker as children, aotlink its input check), not `getrusage(RUSAGE_CHILDREN)`,
//! which is the largest of every child the bench has waited for so far.

use std::io::Read as _;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

/// What a measured run gave.
pub struct Measured {
    pub time: Duration,
    /// User and system CPU time: what the work cost, whatever else ran on the machine.
    pub cpu: Duration,
    /// Bytes: the largest resident set of the child or of any child it waited for.
    pub peak_rss: u64,
    pub status: ExitStatus,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` (stdin and stdout empty, stderr captured) and measures it.
pub fn run_measured(cmd: &mut Command) -> Result<Measured> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    // Read the pipe to its end before waiting, or a chatty child blocks on a full pipe.
    let mut pipe = child.stderr.take().context("stderr is piped")?;
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which nothing else waits for (`child` is never waited
    // on: dropping a std Child does not wait); the pointers are to locals alive for the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if waited != pid {
        anyhow::bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let time = start.elapsed();
    let stderr = stderr.join().expect("the reader does not panic");
    let seconds = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(Measured {
        time,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        // Linux reports kilobytes.
        peak_rss: usage.ru_maxrss as u64 * 1024,
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stderr,
    })
}

/// Bytes as MB (10^6), for the tables.
pub fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}
