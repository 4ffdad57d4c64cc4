//! The platform files' argument templates made into a linker's arguments: `{placeholders}`
//! filled in from a [`LinkJob`], lists spliced in, the export and dynamic lists written.

use std::path::{Path, PathBuf};

use super::job::{LinkError, LinkJob};

/// The files of symbol names a link reads, written by [`write_symbol_lists`].
pub(super) struct SymbolLists {
    /// Which symbols the image exports (the platform's template).
    pub export_list: PathBuf,
    /// ELF: which exported symbols a program may interpose (`--dynamic-list`); all others
    /// bind within the image.
    pub dynamic_list: PathBuf,
}

/// The values of the platform files' `{placeholders}` for `job`.
pub(super) fn placeholders(job: &LinkJob, lists: &SymbolLists) -> Vec<(&'static str, String)> {
    let triple = job.platform.triple();
    vec![
        ("output", job.output.display().to_string()),
        ("output_name", job.output_name.clone()),
        ("archive", job.archive.display().to_string()),
        ("export_list", lists.export_list.display().to_string()),
        ("dynamic_list", lists.dynamic_list.display().to_string()),
        (
            "import_library",
            job.import_library
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("darwin_arch", triple.darwin_arch().to_string()),
        ("min_os", triple.min_os.clone().unwrap_or_default()),
    ]
}

/// Replaces the `{placeholder}`s of the platform's arguments; an argument that is one of the
/// `lists` (`{system_libraries}`) expands to its arguments.
pub(super) fn expand_args(
    templates: &[String],
    values: &[(&str, String)],
    lists: &[(&str, Vec<String>)],
) -> Vec<String> {
    let mut out = Vec::new();
    for t in templates {
        if let Some((_, list)) = lists.iter().find(|(name, _)| name == t) {
            out.extend(list.iter().cloned());
            continue;
        }
        let mut arg = t.clone();
        for (name, value) in values {
            arg = arg.replace(&format!("{{{name}}}"), value);
        }
        out.push(arg);
    }
    out
}

/// Writes the export list and the dynamic list for `job` into `dir`.
pub(super) fn write_symbol_lists(job: &LinkJob, dir: &Path) -> Result<SymbolLists, LinkError> {
    Ok(SymbolLists {
        export_list: write_export_list(job, dir)?,
        dynamic_list: write_dynamic_list(job, dir)?,
    })
}

/// The dynamic list (GNU ld's syntax, which LLD reads too): the interposable variables and the
/// root, a data symbol nothing in the image refers to, so that the list is never empty (GNU
/// ld refuses an empty one).
fn write_dynamic_list(job: &LinkJob, dir: &Path) -> Result<PathBuf, LinkError> {
    let path = dir.join("interposable.list");
    let escape = |name: &str| name.replace('\\', "\\\\").replace('"', "\\\"");
    let mut text = format!("{{\n  \"{}\";\n", aotload::format::ROOT_SYMBOL);
    for name in &job.interposable {
        text += &format!("  \"{}\";\n", escape(name));
    }
    text += "};\n";
    std::fs::write(&path, text).map_err(|e| LinkError::Output {
        path: path.clone(),
        cause: e.to_string(),
    })?;
    Ok(path)
}

/// Writes the export list for `job` into `dir`.
fn write_export_list(job: &LinkJob, dir: &Path) -> Result<PathBuf, LinkError> {
    let ext = job
        .platform
        .export_list
        .template
        .rsplit('.')
        .next()
        .unwrap_or("list");
    let path = dir.join(format!("exports.{ext}"));
    std::fs::write(
        &path,
        job.platform
            .export_list(&job.exports, &job.data_exports, &job.output_name),
    )
    .map_err(|e| LinkError::Output {
        path: path.clone(),
        cause: e.to_string(),
    })?;
    Ok(path)
}
