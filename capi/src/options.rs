//! `aotlink_build_set(build, "cpu-target", "haswell")` is `--cpu-target=haswell` on the
//! command line, parsed by the same clap definitions (`aotlink::build::options::BuildArgs`):
//! there is no second list of options to fall behind the first.

use std::ffi::OsString;

use aotlink_core::build::options::BuildArgs;
use clap::{CommandFactory, Parser};

/// The options of `aotlink build`, less its inputs and output, which the C API takes by calls
/// of their own. A later value of a single-valued option replaces the earlier one, as a
/// setter would.
#[derive(Parser)]
#[command(
    name = "aotlink_build_set",
    no_binary_name = true,
    args_override_self = true
)]
struct SetOptions {
    #[command(flatten)]
    build: BuildArgs,
}

/// The options set so far, as command-line arguments, each one checked when it was added.
#[derive(Clone, Default)]
pub struct OptionList {
    args: Vec<OsString>,
}

impl OptionList {
    /// Adds `--option=value` (or `--option` for a flag: `value` is `None`), unless clap
    /// refuses it together with those already set; then nothing changes.
    pub fn set(&mut self, option: &str, value: Option<&str>) -> Result<(), String> {
        if !is_long_option(option) {
            return Err(format!(
                "aotlink_build_set: unknown option `{option}` (options of `aotlink build`, by long name without dashes: {})",
                long_options().join(", ")
            ));
        }
        let arg = match value {
            Some(value) => format!("--{option}={value}"),
            None => format!("--{option}"),
        };
        let mut args = self.args.clone();
        args.push(arg.into());
        parse(&args).map_err(|e| format!("aotlink_build_set: {e}"))?;
        self.args = args;
        Ok(())
    }

    /// The options, parsed (again: the environment's AOTLINK_* defaults are read now).
    pub fn parse(&self) -> Result<BuildArgs, String> {
        parse(&self.args)
    }
}

fn parse(args: &[OsString]) -> Result<BuildArgs, String> {
    SetOptions::try_parse_from(args)
        .map(|options| options.build)
        .map_err(|e| clap_message(&e))
}

/// clap's error without its usage lines: `invalid value 'x' for '--kind <KIND>' ...`.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let lines: Vec<&str> = (text.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
        .collect();
    lines.join("; ").trim_start_matches("error: ").to_string()
}

fn is_long_option(name: &str) -> bool {
    (SetOptions::command().get_arguments()).any(|arg| arg.get_long() == Some(name))
}

/// Every long option, for the message that refuses an unknown one.
fn long_options() -> Vec<String> {
    (SetOptions::command().get_arguments())
        .filter_map(|arg| arg.get_long().map(str::to_string))
        .collect()
}
