//! Checking an archive before linking it: every member is an object for the platform's
//! architecture, one member holds the image root, and every shard table is there.

use std::collections::BTreeSet;
use std::path::Path;

use aotload::format::{shard_table_symbol, RootView, ROOT_SYMBOL};
use aotload::root_symbol::c_name;
use aotload::{ImageKind, Meta};
use object::read::archive::ArchiveFile;
use object::{Object, ObjectSection, ObjectSymbol};

use super::job::LinkError;
use crate::target::Platform;

/// What the header object of an archive says about the image.
#[derive(Clone, Debug)]
pub struct ArchiveInfo {
    pub path: std::path::PathBuf,
    pub kind: ImageKind,
    pub meta: Meta,
    /// Member names with the architecture of each.
    pub members: Vec<(String, object::Architecture)>,
}

impl ArchiveInfo {
    /// Every member must be for the platform's architecture.
    pub fn check_platform(&self, platform: &Platform) -> Result<(), LinkError> {
        let want = platform.triple().object_architecture();
        match self.members.iter().find(|(_, arch)| *arch != want) {
            Some((name, arch)) => Err(LinkError::Archive {
                path: self.path.clone(),
                cause: format!(
                    "member {name} is for {arch:?}, the target {} is {want:?}",
                    platform.triple()
                ),
            }),
            None => Ok(()),
        }
    }
}

/// Reads the archive at `path` and checks that it is complete: objects only, one root, every
/// shard table.
pub fn read_archive(path: &Path) -> Result<ArchiveInfo, LinkError> {
    let fail = |cause: String| LinkError::Archive {
        path: path.to_path_buf(),
        cause,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let archive = ArchiveFile::parse(&*bytes).map_err(|e| fail(format!("not an archive: {e}")))?;
    let mut members = Vec::new();
    let mut root = None;
    let mut tables = BTreeSet::new();
    for member in archive.members() {
        let member = member.map_err(|e| fail(format!("damaged archive: {e}")))?;
        let name = String::from_utf8_lossy(member.name()).into_owned();
        let data = member
            .data(&*bytes)
            .map_err(|e| fail(format!("member {name}: {e}")))?;
        if data.starts_with(b"BC\xc0\xde") {
            return Err(fail(format!("member {name} is LLVM bitcode: only archives of objects (--emit obj) can be linked")));
        }
        let object = object::File::parse(data)
            .map_err(|e| fail(format!("member {name} is not an object file: {e}")))?;
        for symbol in object.symbols().filter(|s| s.is_definition()) {
            let raw = symbol.name_bytes().unwrap_or(b"");
            let sym_name = std::str::from_utf8(c_name(object.format(), raw)).unwrap_or("");
            if sym_name == ROOT_SYMBOL {
                root = Some(
                    read_root(&object, &symbol).map_err(|e| fail(format!("member {name}: {e}")))?,
                );
            } else if let Some(n) = aotload::format::shard_table_index(sym_name) {
                tables.insert(n);
            }
        }
        members.push((name, object.architecture()));
    }
    let (kind, nshards, meta) = root.ok_or_else(|| {
        fail(format!(
            "no member defines `{ROOT_SYMBOL}`: not an aotlink archive"
        ))
    })?;
    if let Some(missing) = (0..nshards).find(|n| !tables.contains(n)) {
        return Err(fail(format!(
            "no member defines `{}`: the archive is incomplete",
            shard_table_symbol(missing)
        )));
    }
    Ok(ArchiveInfo {
        path: path.to_path_buf(),
        kind,
        meta,
        members,
    })
}

/// The root's kind, shard count and metadata, read from its (unrelocated) bytes in an object.
fn read_root(
    object: &object::File,
    symbol: &object::Symbol,
) -> Result<(ImageKind, u32, Meta), String> {
    let index = symbol
        .section_index()
        .ok_or("the root symbol has no section")?;
    let section = object.section_by_index(index).map_err(|e| e.to_string())?;
    let data = section.data().map_err(|e| e.to_string())?;
    let start = symbol
        .address()
        .checked_sub(section.address())
        .ok_or("bad root address")? as usize;
    let bytes = data
        .get(start..)
        .ok_or("the root symbol lies outside its section")?;
    let root = RootView::parse(bytes).map_err(|e| e.to_string())?;
    let meta = Meta::decode(root.meta).map_err(|e| e.to_string())?;
    Ok((root.kind(), root.head.nshards, meta))
}

/// The symbols the members of `archive` define, and those they use without any member
/// defining them; only names `keep` accepts are collected.
pub(super) fn archive_symbols(
    archive: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<(BTreeSet<String>, BTreeSet<String>), LinkError> {
    let fail = |cause: String| LinkError::Archive {
        path: archive.to_path_buf(),
        cause,
    };
    let bytes = std::fs::read(archive).map_err(|e| fail(format!("cannot read: {e}")))?;
    let ar = ArchiveFile::parse(&*bytes).map_err(|e| fail(format!("not an archive: {e}")))?;
    let (mut defined, mut undefined) = (BTreeSet::new(), BTreeSet::new());
    for member in ar.members() {
        let member = member.map_err(|e| fail(e.to_string()))?;
        let data = member.data(&*bytes).map_err(|e| fail(e.to_string()))?;
        let Ok(file) = object::File::parse(data) else {
            continue;
        };
        for symbol in file.symbols() {
            let Ok(name) = symbol.name() else { continue };
            if !keep(name) {
                continue;
            }
            if symbol.is_undefined() {
                undefined.insert(name.to_string());
            } else if symbol.is_definition() {
                defined.insert(name.to_string());
            }
        }
    }
    let undefined = undefined
        .into_iter()
        .filter(|n| !defined.contains(n))
        .collect();
    Ok((defined, undefined))
}

/// Every symbol the members of `archive` use and none of them defines.
pub(super) fn undefined_symbols(archive: &Path) -> Result<BTreeSet<String>, LinkError> {
    Ok(archive_symbols(archive, |_| true)?.1)
}
