//! A C compiler driver as linker (`aotlink sysimg --cc`): the system `cc`, or a cross driver
//! such as `aarch64-linux-gnu-gcc` or `x86_64-w64-mingw32-gcc` for another target.

use std::path::PathBuf;
use std::process::Command;

use super::arguments::{expand_args, placeholders, write_symbol_lists};
use super::diagnostics::{linker_diagnostics, show_link_line};
use super::job::{LinkError, LinkJob, Linker};
use super::language_runtimes::runtimes_used;

/// Links by running a C compiler driver (`cc -shared ...`); flags from the platform's `[cc]`.
pub struct Cc {
    pub program: PathBuf,
}

impl Cc {
    /// Finds `name` (a program on PATH or a path); `None` means `$CC`, then `cc`.
    pub fn find(name: Option<&str>) -> Result<Cc, LinkError> {
        let env = std::env::var("CC").ok().filter(|s| !s.trim().is_empty());
        let name = name
            .map(str::to_owned)
            .or(env)
            .unwrap_or_else(|| "cc".to_string());
        let program = which::which(&name).map_err(|_| LinkError::CcNotFound(name.clone()))?;
        Ok(Cc { program })
    }
}

impl Linker for Cc {
    fn link(&self, job: &LinkJob) -> Result<PathBuf, LinkError> {
        let flags = job
            .platform
            .cc
            .as_ref()
            .ok_or_else(|| LinkError::CcUnsupported(job.platform.os.clone()))?;
        let scratch = tempfile::tempdir().map_err(|e| LinkError::Output {
            path: job.output.clone(),
            cause: format!("cannot create a temp dir: {e}"),
        })?;
        let lists = write_symbol_lists(job, scratch.path())?;
        let mut args = expand_args(&flags.args, &placeholders(job, &lists), &[]);
        // The driver searches and records libraries itself, on every OS.
        let libs = &job.libraries;
        args.extend(libs.dirs.iter().map(|d| format!("-L{}", d.display())));
        args.extend(libs.names.iter().map(|n| format!("-l{n}")));
        args.extend(libs.paths.iter().map(|p| p.display().to_string()));
        // A C driver links no C++ runtime, where g++ would: an image of C++ code linked by
        // `cc` (the default driver) did not load into a C program (undefined symbol:
        // `_ZTVN10__cxxabiv120__si_class_type_infoE`). The driver links the unwinder itself.
        if runtimes_used(&job.archive)?.cxx {
            args.push("-lstdc++".into());
        }
        let program = self.program.display().to_string();
        show_link_line(job.verbose, &program, &args);
        // LC_ALL=C: the driver's messages in English, as the error shows them.
        let out = Command::new(&self.program)
            .env("LC_ALL", "C")
            .args(&args)
            .output()
            .map_err(|e| LinkError::Cc {
                program: program.clone(),
                status: "could not start".into(),
                message: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(LinkError::Cc {
                program,
                status: out.status.to_string(),
                message: linker_diagnostics(&String::from_utf8_lossy(&out.stderr)),
            });
        }
        Ok(job.output.clone())
    }
}
