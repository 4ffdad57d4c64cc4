//! The `aotlink` command line: parses options and calls the pipeline's layers.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use aotlink::link::{Cc, Lld};
use cli::args::{Cli, Command};
use cli::{compile, inspect, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aotlink: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::CheckIr { inputs } => Ok(aotlink::codegen::isolated::check_inputs(&inputs)?),
        Command::Build {
            compile,
            output,
            kind,
            cc,
            rtlib,
            sysroot,
            verbose,
            libraries,
        } => {
            aotlink::link::set_verbose(verbose);
            let libraries = libraries.libraries();
            let lld = Lld {
                compiler_runtime: rtlib,
                sysroot,
            };
            compile::build(&compile, &output, kind, cc.as_deref(), lld, &libraries)
        }
        Command::Dump {
            compile,
            output,
            kind,
        } => compile::compile_to_archive(&compile, kind, &output),
        Command::Pkg {
            archive,
            output,
            target,
            rtlib,
            sysroot,
            verbose,
            libraries,
        } => {
            aotlink::link::set_verbose(verbose);
            let linker = Lld {
                compiler_runtime: rtlib,
                sysroot,
            };
            let libraries = libraries.libraries();
            compile::link_archive(&linker, &archive, &output, target.as_deref(), &libraries)
        }
        Command::Sysimg {
            archive,
            output,
            cc,
            target,
            verbose,
            libraries,
        } => {
            aotlink::link::set_verbose(verbose);
            let linker = Cc::find(cc.as_deref().filter(|c| !c.is_empty()))?;
            let libraries = libraries.libraries();
            compile::link_archive(&linker, &archive, &output, target.as_deref(), &libraries)
        }
        Command::Inspect {
            image,
            json,
            edges,
            method_table,
        } => inspect::inspect(&image, json, edges, method_table),
        Command::Run {
            image,
            function,
            args,
            target,
            verbose,
            load,
        } => run::run_function(&image, &function, &args, target, verbose, &load),
    }
}
