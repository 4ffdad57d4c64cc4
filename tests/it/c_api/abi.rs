//! The C ABI is held to its record: tests/it/c_api/libaotlink.abi and libaotload.abi list,
//! for the soname the library has, every declaration of its header. A declaration that
//! changes or goes while the soname stays is an ABI break that programs linked against the
//! old library would not notice, so it fails here until the soname's version moves
//! (capi/build.rs, loader/build.rs). Then, or when a declaration is only added,
//! `AOTLINK_BLESS_ABI=1 cargo test --test it c_api::abi` rewrites the record for review. The
//! library's exported functions must be exactly the header's.

use std::collections::BTreeSet;
use std::path::Path;

use super::prefix;
use crate::common::repo;

/// A header's declarations, one string each: comments, preprocessor lines and the C++
/// `extern "C" {` wrapper dropped, whitespace made single spaces.
fn declarations(header: &str) -> Vec<String> {
    let mut text = String::new();
    let mut rest = header;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    text.push_str(rest);
    let code: String = (text.lines())
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
        .replace("extern \"C\" {", " ")
        .replace('}', " ");
    (code.split(';'))
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|d| !d.is_empty())
        .map(|d| format!("{d};"))
        .collect()
}

/// The function a declaration declares (`aotlink_build_new` of `aotlink_build
/// *aotlink_build_new(void);`), `None` for a type.
fn function_name(declaration: &str) -> Option<&str> {
    if declaration.starts_with("typedef") {
        return None;
    }
    let before = &declaration[..declaration.find('(')?];
    before
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
}

/// The record file's soname and declarations.
fn read_record(text: &str) -> (String, BTreeSet<String>) {
    let mut soname = String::new();
    let mut declared = BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix("soname ") {
            soname = name.to_string();
        } else if let Some(declaration) = line.strip_prefix("decl ") {
            declared.insert(declaration.to_string());
        }
    }
    (soname, declared)
}

fn write_record(soname: &str, declared: &BTreeSet<String>, header: &str) -> String {
    let mut text = format!(
        "# The C ABI of {soname}: every declaration of {header}, as tests/it/c_api/abi.rs\n\
         # normalizes it. Rewritten by AOTLINK_BLESS_ABI=1 cargo test --test it c_api::abi;\n\
         # a declaration changed or removed needs a new soname first.\nsoname {soname}\n"
    );
    for declaration in declared {
        text.push_str(&format!("decl {declaration}\n"));
    }
    text
}

/// What is wrong with `header` under `soname` against the record, if anything: a break
/// without a new soname, or a record that is not up to date.
fn abi_check(record: &str, soname: &str, header: &str) -> Result<(), String> {
    let (recorded_soname, recorded) = read_record(record);
    let current: BTreeSet<String> = declarations(header).into_iter().collect();
    if recorded_soname == soname {
        let broken: Vec<&String> = recorded.difference(&current).collect();
        if !broken.is_empty() {
            return Err(format!(
                "declarations changed or removed while the soname stays {soname}: {broken:?}; \
                 this breaks programs linked against it: bump ABI_VERSION in the library's build.rs"
            ));
        }
        let added: Vec<&String> = current.difference(&recorded).collect();
        if !added.is_empty() {
            return Err(format!(
                "declarations not in the record: {added:?}; record them (AOTLINK_BLESS_ABI=1)"
            ));
        }
        return Ok(());
    }
    Err(format!(
        "the soname moved from {recorded_soname} to {soname}: record the new ABI (AOTLINK_BLESS_ABI=1)"
    ))
}

/// The soname and the exported functions (defined dynamic symbols with `prefix`) of `library`.
fn library_abi(library: &Path, prefix: &str) -> (String, BTreeSet<String>) {
    let bytes = std::fs::read(library).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let soname = elf.soname.unwrap_or_default().to_string();
    let exported = (elf.dynsyms.iter())
        .filter(|s| s.st_shndx != 0 && s.is_function())
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name))
        .filter(|name| name.starts_with(prefix))
        .map(str::to_string)
        .collect();
    (soname, exported)
}

/// Checks the installed `lib{name}.so` and `include/{header}` against `record`.
fn check_installed(name: &str, header: &str, record: &str) {
    let library = prefix().join(format!("lib/lib{name}.so"));
    let header_text = std::fs::read_to_string(prefix().join("include").join(header)).unwrap();
    let (soname, exported) = library_abi(&library, &format!("{name}_"));
    assert!(soname.starts_with(&format!("lib{name}.so.")), "{soname}");
    let declared: BTreeSet<String> = (declarations(&header_text).iter())
        .filter_map(|d| function_name(d).map(str::to_string))
        .collect();
    assert_eq!(
        exported, declared,
        "lib{name}.so must export exactly the functions {header} declares"
    );
    let record_path = repo().join("tests/it/c_api").join(record);
    let recorded = std::fs::read_to_string(&record_path).unwrap_or_default();
    if let Err(why) = abi_check(&recorded, &soname, &header_text) {
        if std::env::var_os("AOTLINK_BLESS_ABI").is_some() && !why.contains("bump ABI_VERSION") {
            let current = declarations(&header_text).into_iter().collect();
            std::fs::write(&record_path, write_record(&soname, &current, header)).unwrap();
        } else {
            panic!("{}: {why}", record_path.display());
        }
    }
}

#[test]
fn libaotlink_exports_its_header_and_matches_its_abi_record() {
    check_installed("aotlink", "aotlink.h", "libaotlink.abi");
}

#[test]
fn libaotload_exports_its_header_and_matches_its_abi_record() {
    check_installed("aotload", "aotload.h", "libaotload.abi");
}

/// The check itself can fail: the recorded header with one signature changed, under the same
/// soname, is refused as a break; under a new soname it asks for a new record; an added
/// function asks to be recorded.
#[test]
fn an_abi_change_without_a_new_soname_is_refused() {
    let header = std::fs::read_to_string(repo().join("capi/include/aotlink.h")).unwrap();
    let record = write_record(
        "libaotlink.so.0",
        &declarations(&header).into_iter().collect(),
        "aotlink.h",
    );
    assert_eq!(abi_check(&record, "libaotlink.so.0", &header), Ok(()));
    let changed = header.replace(
        "int aotlink_build_run(aotlink_build *build, const char *output_path);",
        "int aotlink_build_run(aotlink_build *build, const char *output_path, int flags);",
    );
    assert_ne!(changed, header);
    let refused = abi_check(&record, "libaotlink.so.0", &changed).unwrap_err();
    assert!(refused.contains("bump ABI_VERSION"), "{refused}");
    let moved = abi_check(&record, "libaotlink.so.1", &changed).unwrap_err();
    assert!(moved.contains("record the new ABI"), "{moved}");
    let added = format!("{header}\nint aotlink_extra(void);\n");
    let unrecorded = abi_check(&record, "libaotlink.so.0", &added).unwrap_err();
    assert!(unrecorded.contains("not in the record"), "{unrecorded}");
}
