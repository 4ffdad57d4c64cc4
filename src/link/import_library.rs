//! COFF import libraries, written by aotlink: the `.lib` a Windows DLL needs to call another
//! DLL, made from a `.def` file or from a list of exports (`user_libraries.rs` makes them for
//! `-l` and `--link-lib` DLLs). Writes files only; runs no linker.

use std::path::Path;

use ar_archive_writer::{write_import_library, COFFShortExport, MachineTypes};

use super::job::LinkError;

/// Writes the COFF import library of `dll` (x86_64) with `exports` to `path`.
pub(super) fn write_coff_import_library(
    path: &Path,
    dll: &str,
    exports: &[COFFShortExport],
) -> Result<(), LinkError> {
    let fail = |cause: String| LinkError::Output {
        path: path.to_path_buf(),
        cause,
    };
    let mut file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
    write_import_library(
        &mut file,
        dll,
        exports,
        MachineTypes::AMD64,
        true,
        false,
        &[],
    )
    .map_err(|e| fail(e.to_string()))
}

/// An export of an import library: a function `name`, or data with `data`.
pub(super) fn short_export(name: &str, data: bool) -> COFFShortExport {
    COFFShortExport {
        name: name.to_string(),
        ext_name: None,
        symbol_name: None,
        import_name: None,
        export_as: None,
        ordinal: 0,
        noname: false,
        data,
        private: false,
        constant: false,
    }
}

/// A `.def` file's DLL and exports (`LIBRARY x.dll`, then `EXPORTS` lines `name [DATA]`;
/// `;` starts a comment).
pub(super) fn parse_def(def: &str) -> Option<(String, Vec<COFFShortExport>)> {
    let mut dll = None;
    let mut exports = Vec::new();
    for line in def
        .lines()
        .map(|l| l.split(';').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["LIBRARY", name] => dll = Some(name.to_string()),
            ["EXPORTS"] => {}
            [name, rest @ ..] => exports.push(short_export(name, rest.contains(&"DATA"))),
            [] => {}
        }
    }
    Some((dll?, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn def_files_parse() {
        let (dll, exports) =
            parse_def("; c\nLIBRARY msvcrt.dll\nEXPORTS\n    memcpy\n    _iob DATA ; data\n")
                .unwrap();
        assert_eq!(dll, "msvcrt.dll");
        assert_eq!(exports.len(), 2);
        assert!(!exports[0].data && exports[1].data);
        assert!(parse_def("EXPORTS\n f\n").is_none(), "no LIBRARY line");
    }
}
