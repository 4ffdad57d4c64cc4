//! The platform files' argument templates made into a linker's arguments: `{placeholders}`
//! filled in from a [`LinkJob`], lists spliced in, the export list written.

use std::path::{Path, PathBuf};

use super::job::{LinkError, LinkJob};

/// The values of the platform files' `{placeholders}` for `job`.
pub(super) fn placeholders(job: &LinkJob, export_list: &Path) -> Vec<(&'static str, String)> {
    let triple = job.platform.triple();
    vec![
        ("output", job.output.display().to_string()),
        ("output_name", job.output_name.clone()),
        ("archive", job.archive.display().to_string()),
        ("export_list", export_list.display().to_string()),
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

/// Writes the export list for `job` into `dir`.
pub(super) fn write_export_list(job: &LinkJob, dir: &Path) -> Result<PathBuf, LinkError> {
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
