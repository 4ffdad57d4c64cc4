//! `inspect`: what an image holds, as text, JSON, or a method table file.

use std::path::Path;

use std::io::Write as _;

use anyhow::{Context as _, Result};

use super::run::print_stdout;

pub fn inspect(image: &Path, json: bool, edges: bool, method_table: bool) -> Result<()> {
    let bytes = aotload::read_image_file(image)
        .with_context(|| format!("{}: cannot read", image.display()))?;
    if method_table {
        let file = aotload::ImageFile::parse(&bytes).map_err(|e| e.at(image))?;
        file.verify_checksum(&bytes).map_err(|e| e.at(image))?;
        let name = image
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let table = aotlink::method_table_file::MethodTableFile::from_image(&file.meta, &name);
        return print_stdout(&format!("{}\n", serde_json::to_string_pretty(&table)?));
    }
    let file = aotlink::inspect::read_verified(&bytes).map_err(|e| e.at(image))?;
    let report = aotlink::inspect::inspect(&file, &bytes, edges).map_err(|e| e.at(image))?;
    // Written as it is formatted: with --edges the text can be much larger than the file.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match json {
        true => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        false => write!(out, "{report}"),
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `aotlink targets`: the supported targets (the library's table), as a table or as JSON (with
/// each target's default CPU targets).
pub fn targets(json: bool) -> String {
    use aotlink::target::{CpuTarget, Triple, SUPPORTED_TARGETS};
    if json {
        let rows: Vec<serde_json::Value> = (SUPPORTED_TARGETS.iter())
            .map(|t| {
                let triple = Triple::parse(t.triple).expect("the table's triples parse (tested)");
                serde_json::json!({
                    "triple": t.triple,
                    "clang": t.clang,
                    "llvm": t.llvm,
                    "datalayout": t.datalayout,
                    "cpu_targets": CpuTarget::default_string(&triple),
                })
            })
            .collect();
        return serde_json::to_string_pretty(&rows).expect("plain data") + "\n";
    }
    let mut out = format!(
        "{:<28} {:<24} {}\n",
        "--target", "clang --target", "IR triple"
    );
    for t in SUPPORTED_TARGETS {
        out += &format!("{:<28} {:<24} {}\n", t.triple, t.clang, t.llvm);
    }
    out
}
