//! `build` and `dump` run in a child process of this executable, which this one waits for.
//!
//! LLVM can crash on damaged input (`codegen/isolated.rs`): a crash must end in one error line
//! naming the file, never a signal of `aotlink`. Before, the command line parsed and verified
//! its inputs in a child and then read them again itself, from the bitcode the child wrote:
//! the input was parsed, verified, written as bitcode, freed and read again on every build,
//! 1.4 s of a 3.6 s one-function rebuild at 50,000 functions. Now the child is the build, as
//! clang's driver runs its compiler in a process of its own: the input is read once, in the
//! process that uses it, and a crash of LLVM anywhere in the build is reported here. The
//! child notes what it reads and the temp paths it makes beside outputs (`crash_note.rs`), so
//! a crash while reading still names the file, as the child check did, and a crash while
//! writing leaves nothing behind.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};

/// The first argument that makes this executable the supervised child, followed by its note
/// file and then the command line the user gave.
const CHILD_MARK: &str = "__supervised";

/// When this process is the supervised child: its note file and the user's arguments (with
/// the program's name first), and the marker taken out.
pub fn as_child(args: &[OsString]) -> Option<(&Path, Vec<OsString>)> {
    match args {
        [program, mark, note, rest @ ..] if mark == CHILD_MARK => {
            let user_args = std::iter::once(program.clone())
                .chain(rest.iter().cloned())
                .collect();
            Some((Path::new(note), user_args))
        }
        _ => None,
    }
}

/// Notes this process's reads in the supervisor's `note` file.
pub fn start_noting(note: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(note)
        .with_context(|| format!("cannot open the supervisor's note {}", note.display()))?;
    aotlink::crash_note::write_notes_to(file);
    Ok(())
}

/// Signals that stop a process from outside, not crashes.
const STOPPING_SIGNALS: [i32; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGKILL];

/// Runs this command line (`args`, the program's name first) in a child process and ends as
/// it ended; a child that died by a signal is one error line.
pub fn run_in_child(args: &[OsString]) -> Result<ExitCode> {
    let executable = std::env::current_exe().context("cannot find the aotlink executable")?;
    let note = tempfile::Builder::new()
        .prefix("aotlink-reads-")
        .tempfile()
        .context("cannot create a temp file")?;
    let mut command = Command::new(&executable);
    command.arg(CHILD_MARK).arg(note.path()).args(&args[1..]);
    die_with_this_process(&mut command);
    let status = command
        .status()
        .with_context(|| format!("cannot start {}", executable.display()))?;
    if let Some(code) = status.code() {
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    let signal = aotlink::codegen::isolated::signal_of(&status).unwrap_or(0);
    let notes = aotlink::crash_note::read_notes(&std::fs::read(note.path()).unwrap_or_default());
    // What the child left beside its outputs; one that is gone was renamed or removed already.
    for path in &notes.temp_paths {
        let _ = match path.is_dir() {
            true => std::fs::remove_dir_all(path),
            false => std::fs::remove_file(path),
        };
    }
    let message = match notes.unfinished_read {
        _ if STOPPING_SIGNALS.contains(&signal) => format!(
            "the build process was killed (signal {signal}{})",
            match signal == libc::SIGKILL {
                true => "; the kernel's out-of-memory killer sends it",
                false => "",
            }
        ),
        Some(path) => format!(
            "{}: LLVM crashed reading it (signal {signal}): the file is damaged",
            path.display()
        ),
        None => format!(
            "the build crashed (signal {signal}) after reading its inputs: a defect of \
             aotlink or LLVM"
        ),
    };
    eprintln!("aotlink: error: {message}");
    Ok(ExitCode::FAILURE)
}

/// The child is killed if this process dies first (a build system's timeout killing the
/// command, say): it must not go on writing outputs nobody waits for.
#[cfg(target_os = "linux")]
fn die_with_this_process(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    let this_process = std::process::id();
    // SAFETY: prctl and getppid are async-signal-safe; the closure allocates nothing and
    // touches no lock.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Died between the fork and the prctl: no signal will come.
            if libc::getppid() as u32 != this_process {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_this_process(_command: &mut Command) {}
