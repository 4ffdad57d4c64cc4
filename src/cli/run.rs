//! `run`: load images with the loader and call a function; output helpers.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use aotload::call::Signature;
use aotload::{Image, LoadOptions, MethodTable, PublicKey};

pub fn run_function(
    image: &Path,
    function: &str,
    args: &[String],
    target: Option<String>,
    verbose: bool,
    load: &[PathBuf],
    trusted_keys: Vec<PublicKey>,
) -> Result<()> {
    // Trusting a key means requiring it: every image loaded must be signed by a trusted key.
    let options = LoadOptions {
        target,
        require_signature: !trusted_keys.is_empty(),
        trusted_keys,
        ..Default::default()
    };
    let mut table = MethodTable::new();
    let mut loaded = Vec::new();
    for path in load.iter().map(PathBuf::as_path).chain([image]) {
        let image = Image::open_in(path, &options, &mut table)?;
        for invalid in image.invalidated() {
            eprintln!("aotlink: {}: invalidated {invalid}", path.display());
        }
        loaded.push(image);
    }
    let image = loaded.last().expect("IMAGE is always loaded");
    if verbose {
        eprintln!(
            "target: {} (of {})",
            image.target_name(),
            image.meta().targets.len()
        );
    }
    if let Some(invalid) = image.invalidated().iter().find(|i| i.method == function) {
        bail!(
            "{}: `{function}` was invalidated: it {} (culprit: {})",
            image.path().display(),
            invalid.reason,
            invalid.culprit
        );
    }
    let index = image.fvar_index(function).with_context(|| {
        format!(
            "{}: no function `{function}` in the image",
            image.path().display()
        )
    })?;
    let method = &image.meta().methods[index as usize];
    let signature =
        Signature::parse(&method.signature).map_err(|e| anyhow::anyhow!("{function}: {e}"))?;
    if args.len() != signature.params.len() {
        bail!(
            "{function} takes {} arguments ({}), got {}",
            signature.params.len(),
            method.signature,
            args.len()
        );
    }
    let values = args
        .iter()
        .enumerate()
        .map(|(i, a)| signature.parse_arg(i, a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{function}: {e}"))?;
    // SAFETY: the signature comes from the verified image's manifest.
    let result = unsafe { aotload::call::call(image.fvars()[index as usize], &signature, &values) }
        .map_err(|e| anyhow::anyhow!("{function}: {e}"))?;
    match result {
        Some(value) => print_stdout(&format!("{value}\n")),
        None => print_stdout("(void)\n"),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
