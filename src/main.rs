//! The `aotlink` command line: parses options and calls the pipeline's layers.

mod cli;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use aotlink::Build;
use aotload::ImageKind;
use cli::args::{Cli, Command};
use cli::{compile, inspect, run, supervise};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let supervised = supervise::as_child(&args);
    let cli = match &supervised {
        Some((_, user_args)) => Cli::parse_from(user_args),
        None => Cli::parse_from(&args),
    };
    let outcome = match (&supervised, &cli.command) {
        // Builds read IR, which can crash LLVM: in a child process, which this one watches.
        (None, Command::Build { .. } | Command::Dump { .. }) => supervise::run_in_child(&args),
        (Some((note, _)), _) => supervise::start_noting(note)
            .and_then(|()| run(cli.command))
            .map(|()| ExitCode::SUCCESS),
        (None, _) => run(cli.command).map(|()| ExitCode::SUCCESS),
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("aotlink: error: {e:#}");
        ExitCode::FAILURE
    })
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::CheckIr {
            bitcode_dir,
            input_names,
            inputs,
        } => Ok(aotlink::codegen::isolated::check_inputs(
            &inputs,
            &input_names,
            bitcode_dir.as_deref(),
        )?),
        Command::Build {
            inputs,
            output,
            options,
        } => compile::build(&inputs, &output, &options),
        Command::Dump {
            inputs,
            compile,
            output,
            kind,
        } => compile::dump(&inputs, &compile, kind, &output),
        Command::Pkg {
            archive,
            output,
            target,
            lld,
            link,
        } => {
            let build = lld.apply(link.apply(Build::new().kind(ImageKind::Pkg))?);
            compile::link_archive(build, &archive, &output, target.as_deref())
        }
        Command::Sysimg {
            archive,
            output,
            cc,
            target,
            link,
        } => {
            let mut build = link.apply(Build::new().kind(ImageKind::Sysimg))?;
            if let Some(cc) = cc.filter(|c| !c.is_empty()) {
                build = build.cc(cc);
            }
            compile::link_archive(build, &archive, &output, target.as_deref())
        }
        Command::Cache { action, cache_dir } => compile::cache(action, cache_dir),
        Command::Targets { json } => {
            print!("{}", inspect::targets(json));
            Ok(())
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
            trusted_keys,
        } => {
            let keys = trusted_keys
                .iter()
                .map(|path| aotlink::sign::read_public_key(path))
                .collect::<Result<Vec<_>, _>>()?;
            run::run_function(&image, &function, &args, target, verbose, &load, keys)
        }
        Command::Sign { image, key } => {
            let key = aotlink::sign::SecretKey::read(&key)?;
            aotlink::sign::sign_image(&image, &key)
                .map_err(|e| anyhow::anyhow!("{}: {e}", image.display()))?;
            println!(
                "{}: signed with key {}",
                image.display(),
                key.public_key().fingerprint()
            );
            Ok(())
        }
        Command::Keygen { out } => {
            let public = aotlink::sign::keygen(&out)?;
            let (secret_path, public_path) = aotlink::sign::key_file_paths(&out);
            println!(
                "key {}: secret {}, public {}",
                public.fingerprint(),
                secret_path.display(),
                public_path.display()
            );
            Ok(())
        }
    }
}
