//! The `aotlink` command line: parses options and calls the pipeline's layers.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use aotlink::link::Lld;
use cli::args::{Cli, Command, Kind};
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
            rtlib,
            sysroot,
            crt,
            verbose,
            sign,
            libraries,
        } => {
            aotlink::link::set_verbose(verbose);
            let link = compile::LinkChoice {
                kind: Kind::Pkg,
                cc: None,
                lld: Lld {
                    compiler_runtime: rtlib,
                    sysroot,
                    crt,
                },
                libraries: libraries.libraries(),
                key: secret_key(sign.as_deref())?,
            };
            compile::link_archive(&archive, &output, target.as_deref(), link)
        }
        Command::Sysimg {
            archive,
            output,
            cc,
            target,
            verbose,
            sign,
            libraries,
        } => {
            aotlink::link::set_verbose(verbose);
            let link = compile::LinkChoice {
                kind: Kind::Sysimg,
                cc: cc.as_deref().filter(|c| !c.is_empty()),
                lld: Lld::new(),
                libraries: libraries.libraries(),
                key: secret_key(sign.as_deref())?,
            };
            compile::link_archive(&archive, &output, target.as_deref(), link)
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
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            run::run_function(&image, &function, &args, target, verbose, &load, keys)
        }
        Command::Sign { image, key } => {
            let key = aotlink::sign::SecretKey::read(&key).map_err(anyhow::Error::msg)?;
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
            let public = aotlink::sign::keygen(&out).map_err(anyhow::Error::msg)?;
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

/// The secret key of `--sign KEYFILE`, read before any work so a bad key file fails at once.
fn secret_key(path: Option<&std::path::Path>) -> Result<Option<aotlink::sign::SecretKey>> {
    path.map(aotlink::sign::SecretKey::read)
        .transpose()
        .map_err(anyhow::Error::msg)
}
