//! The names a macOS image leaves to flat lookup. `-undefined dynamic_lookup` (macos.toml)
//! lets an image call what no library given to the link defines, such as the functions of a
//! runtime that loads the image: dyld then searches every loaded image for the name at load
//! time. Everything of libSystem is in its stub and binds to it (two-level namespace), so what
//! goes this way is not libSystem's, and the user may want to know which names those are:
//! `--verbose` prints them, and the build report lists them (`flat_lookup`).

use object::read::macho::Nlist;

/// A Mach-O symbol's library ordinal meaning "search every image" (`DYNAMIC_LOOKUP_ORDINAL`).
const DYNAMIC_LOOKUP_ORDINAL: u8 = 0xfe;

/// The undefined symbols of a Mach-O image that bind by flat lookup, sorted; none for
/// anything else.
pub fn flat_lookup_names(image: &[u8]) -> Vec<String> {
    let Ok(object::File::MachO64(m)) = object::File::parse(image) else {
        return Vec::new();
    };
    let endian = m.endian();
    let symbols = m.macho_symbol_table();
    let mut names: Vec<String> = (symbols.iter())
        .filter(|n| {
            let kind = n.n_type() & (object::macho::N_TYPE | object::macho::N_STAB);
            kind == object::macho::N_UNDF
                && n.n_type() & object::macho::N_EXT != 0
                && (n.n_desc(endian) >> 8) as u8 == DYNAMIC_LOOKUP_ORDINAL
        })
        .filter_map(|n| n.name(endian, symbols.strings()).ok())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    names.sort();
    names
}

/// The names the image at `path` binds by flat lookup (none when it cannot be read: the link
/// that wrote it just succeeded, and sealing reports a file it cannot read).
pub(super) fn names_in(path: &std::path::Path) -> Vec<String> {
    std::fs::read(path)
        .map(|bytes| flat_lookup_names(&bytes))
        .unwrap_or_default()
}

/// For `--verbose`: one line naming what the image binds by flat lookup.
pub(super) fn show(names: &[String]) {
    if !names.is_empty() {
        eprintln!(
            "aotlink: link: not libSystem's, bound at load time by flat lookup ({}): {}",
            names.len(),
            names.join(" ")
        );
    }
}
