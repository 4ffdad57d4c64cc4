//! What an `aotlink_build *` points at: the options, inputs and callbacks the C calls gave,
//! turned into an `aotlink::Build` when it runs, and the report of the last run.

use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aotlink_core::build::options::TimingsFormat;
use aotlink_core::Build;

use crate::checker::Checker;
use crate::options::OptionList;

/// The C progress callback.
pub type ProgressFn = extern "C" fn(done: usize, total: usize, user: *mut c_void);

/// A progress callback and its user pointer, called from the build's emission threads.
#[derive(Clone, Copy)]
struct Progress {
    callback: ProgressFn,
    user: *mut c_void,
}

// SAFETY: the header tells the caller that the callback runs on the build's threads, with
// `user` as given; the pointer is only passed back, never dereferenced here.
unsafe impl Send for Progress {}
// SAFETY: as for Send; calls are serialized by the mutex around it (see `with_progress`).
unsafe impl Sync for Progress {}

/// One input, as the C calls gave it.
#[derive(Clone)]
enum Input {
    File(PathBuf),
    Memory { name: PathBuf, bytes: Arc<[u8]> },
}

/// The state behind `aotlink_build *`.
pub struct CBuild {
    options: OptionList,
    inputs: Vec<Input>,
    image_data: Option<Vec<u8>>,
    progress: Option<Progress>,
    checker: Checker,
    report_json: Option<CString>,
}

impl CBuild {
    pub fn new() -> CBuild {
        CBuild {
            options: OptionList::default(),
            inputs: Vec::new(),
            image_data: None,
            progress: None,
            checker: Checker::Installed,
            report_json: None,
        }
    }

    pub fn add_bitcode(&mut self, name: &str, bytes: &[u8]) {
        self.inputs.push(Input::Memory {
            name: name.into(),
            bytes: bytes.into(),
        });
    }

    pub fn add_file(&mut self, path: PathBuf) {
        self.inputs.push(Input::File(path));
    }

    pub fn set(&mut self, option: &str, value: Option<&str>) -> Result<(), String> {
        self.options.set(option, value)
    }

    pub fn set_image_data(&mut self, bytes: &[u8]) {
        self.image_data = Some(bytes.to_vec());
    }

    pub fn set_progress(&mut self, callback: Option<ProgressFn>, user: *mut c_void) {
        self.progress = callback.map(|callback| Progress { callback, user });
    }

    pub fn set_checker(&mut self, checker: Checker) {
        self.checker = checker;
    }

    pub fn report_json(&self) -> Option<&CString> {
        self.report_json.as_ref()
    }

    /// Builds the image at `output`; on success the report is kept.
    pub fn run(&mut self, output: &Path) -> Result<(), String> {
        self.report_json = None;
        let options = self.options.parse()?;
        let mut build = options.to_build().map_err(|e| e.to_string())?;
        if let Some(executable) = self.checker.executable()? {
            build = build.check_inputs_with(executable);
        }
        build = self.with_inputs(build);
        let report = build.build(output).map_err(|e| e.to_string())?;
        match options.compile.timings {
            Some(TimingsFormat::Text) => eprint!("{}", report.to_text()),
            Some(TimingsFormat::Json) => eprintln!("{}", report.to_json()),
            None => {}
        }
        let json = CString::new(report.to_json()).map_err(|e| e.to_string())?;
        self.report_json = Some(json);
        Ok(())
    }

    /// `build` with the inputs, image data and progress callback of the C calls.
    fn with_inputs(&self, mut build: Build) -> Build {
        for input in &self.inputs {
            build = match input {
                Input::File(path) => build.input(path),
                Input::Memory { name, bytes } => build.bitcode(name, bytes.clone()),
            };
        }
        if let Some(bytes) = &self.image_data {
            build = build.image_data(bytes.clone());
        }
        if let Some(progress) = self.progress {
            // One call at a time: the C side need not be thread-safe, only callable from
            // another thread.
            let one_at_a_time = Mutex::new(progress);
            build = build.progress(move |done, total| {
                let progress = one_at_a_time.lock().unwrap_or_else(|p| p.into_inner());
                (progress.callback)(done, total, progress.user);
            });
        }
        build
    }
}
