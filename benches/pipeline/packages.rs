//! The images the validate section loads: a system image of small functions, its method table
//! file, and a package image built against that table whose functions call the system's and
//! each other, so that it has [`EDGES`] edges for the loader to validate.
//!
//! The package is [`GROUPS`] independent call graphs, interleaved by index: function `i` is in
//! group `i % GROUPS` and calls only system functions of its group (`s % GROUPS`) and earlier
//! functions of its group, always including the group's previous one. So every function of a
//! group reaches the group's first, and redefining a system method that the first function of
//! group 0 calls ([`REDEFINED`]) invalidates exactly group 0: a third of the package.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use aotlink::link::{self, Lld};
use aotlink::method_table_file::MethodTableFile;
use aotload::{ImageFile, ImageKind};

use crate::ir::{DATALAYOUT, TRIPLE};
use crate::platforms::{host_target, image_name, TargetFacts as _};
use crate::source::{build, Build, Source};

/// Functions of the system image, all exported.
pub const SYSTEM_FUNCTIONS: usize = 2_000;
/// Functions of the package image, all exported.
pub const PACKAGE_FUNCTIONS: usize = 5_000;
/// Edges of each package function: 2 to system functions and 2 to earlier package functions.
/// The first functions of a group have fewer earlier ones; they call more system functions.
const EDGES_PER_FUNCTION: usize = 4;
/// Every edge of the package image: `callees` + `external` over its methods.
pub const EDGES: usize = PACKAGE_FUNCTIONS * EDGES_PER_FUNCTION;
/// Independent call graphs in the package (see the module doc).
const GROUPS: usize = 3;
/// The package's second earlier callee is at most this many group members back.
const MAX_BACK: usize = 16;
/// Every function of both images has this signature.
pub const SIGNATURE: &str = "i64 (i64)";
/// The system function whose redefinition invalidates group 0 of the package.
pub const REDEFINED: usize = 0;

/// A deterministic scramble of `i` (SplitMix64's), for call targets. `ir::mix` would do, but
/// its low bits repeat over the arithmetic progressions the groups use.
fn scramble(i: usize) -> usize {
    let mut x = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)) as usize
}

pub fn system_name(s: usize) -> String {
    format!("sys_f{s}")
}

pub fn package_name(i: usize) -> String {
    format!("pkg_f{i}")
}

/// How many package functions redefining [`REDEFINED`] invalidates: all of group 0.
pub fn reaching_redefined() -> usize {
    PACKAGE_FUNCTIONS.div_ceil(GROUPS)
}

/// The built images, with how long each build took.
pub struct PackageImages {
    pub system: PathBuf,
    /// The system image's method table (JSON), the one the package was compiled against.
    pub method_table: PathBuf,
    pub package: PathBuf,
    pub system_build: Build,
    pub package_build: Build,
}

/// Builds both images in `dir` (CPU target `generic` only, to keep emission short), linked by
/// the embedded LLD, and writes the system image's method table between them.
pub fn build_images(dir: &Path) -> Result<PackageImages> {
    let platform = host_target()?.platform();
    let build_image = |stem: &str, text: String, kind, tables: Vec<PathBuf>| -> Result<_> {
        let ir = dir.join(format!("{stem}.ll"));
        std::fs::write(&ir, text)?;
        let archive = dir.join(format!("{stem}.a"));
        let built = build(
            &Source::exporting_all(ir, kind, tables),
            Some("generic"),
            &archive,
        )?;
        let image = dir.join(image_name(stem, &platform));
        link::link_image(&Lld::new(), &archive, &image, &platform)?;
        Ok((image, built))
    };
    let (system, system_build) = build_image("sys", system_ir(), ImageKind::Sysimg, Vec::new())?;
    let method_table = dir.join("sys.methods.json");
    write_method_table(&system, &method_table)?;
    let tables = vec![method_table.clone()];
    let (package, package_build) = build_image("pkg", package_ir(), ImageKind::Pkg, tables)?;
    Ok(PackageImages {
        system,
        method_table,
        package,
        system_build,
        package_build,
    })
}

/// What `aotlink inspect --method-table IMAGE > TABLE` writes.
fn write_method_table(image: &Path, table: &Path) -> Result<()> {
    let bytes = std::fs::read(image)?;
    let file = ImageFile::parse(&bytes)?;
    let name = image
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let methods = MethodTableFile::from_image(&file.meta, &name);
    std::fs::write(
        table,
        format!("{}\n", serde_json::to_string_pretty(&methods)?),
    )?;
    Ok(())
}

fn module_header(ir: &mut String, name: &str) {
    let _ = writeln!(ir, "; aotlink pipeline benchmark, validate section: {name}");
    let _ = writeln!(ir, "source_filename = \"aotlink_bench_{name}\"");
    let _ = writeln!(ir, "target datalayout = \"{DATALAYOUT}\"");
    let _ = writeln!(ir, "target triple = \"{TRIPLE}\"\n");
}

/// What system function `s` computes, as its IR does.
pub fn system_value(s: usize, x: i64) -> i64 {
    x.wrapping_mul(3 + (s % 7) as i64).wrapping_add(s as i64)
}

fn system_ir() -> String {
    let mut ir = String::with_capacity(SYSTEM_FUNCTIONS * 120);
    module_header(&mut ir, "system");
    for s in 0..SYSTEM_FUNCTIONS {
        let _ = writeln!(ir, "define i64 @{}(i64 %x) {{", system_name(s));
        let _ = writeln!(ir, "  %m = mul i64 %x, {}", 3 + s % 7);
        let _ = writeln!(ir, "  %r = add i64 %m, {s}");
        let _ = writeln!(ir, "  ret i64 %r\n}}\n");
    }
    ir
}

/// What package function `i` calls: system functions, then earlier package functions, each
/// with the previous one's result (the first gets the argument); it returns the last result.
pub struct Callees {
    pub system: Vec<usize>,
    pub package: Vec<usize>,
}

pub fn package_callees(i: usize) -> Callees {
    let group = i % GROUPS;
    let mut package = Vec::new();
    // The previous function of the group: every function reaches the group's first.
    if i >= GROUPS {
        package.push(i - GROUPS);
    }
    // One more, up to MAX_BACK members back (distinct from the previous one).
    let back = GROUPS * (2 + scramble(i) % (MAX_BACK - 1));
    if i >= back {
        package.push(i - back);
    } else if i >= 2 * GROUPS {
        package.push(i - 2 * GROUPS);
    }
    // The group's system functions are group, group + GROUPS, ...
    let in_group = (SYSTEM_FUNCTIONS - group).div_ceil(GROUPS);
    let mut system = Vec::new();
    if i == group {
        system.push(group); // the group's first function calls the group's first (REDEFINED)
    }
    let mut k = 0;
    while system.len() + package.len() < EDGES_PER_FUNCTION {
        let s = group + GROUPS * (scramble(EDGES_PER_FUNCTION * i + k) % in_group);
        if !system.contains(&s) {
            system.push(s);
        }
        k += 1;
    }
    Callees { system, package }
}

fn package_ir() -> String {
    let callees: Vec<Callees> = (0..PACKAGE_FUNCTIONS).map(package_callees).collect();
    let mut ir = String::with_capacity(PACKAGE_FUNCTIONS * 250);
    module_header(&mut ir, "package");
    // Declared, and listed in the method table: external methods.
    let used: BTreeSet<usize> = callees.iter().flat_map(|c| c.system.clone()).collect();
    for &s in &used {
        let _ = writeln!(ir, "declare i64 @{}(i64)", system_name(s));
    }
    let _ = writeln!(ir);
    for (i, c) in callees.iter().enumerate() {
        let _ = writeln!(ir, "define i64 @{}(i64 %x) {{", package_name(i));
        let mut value = "%x".to_string();
        let calls = c.system.iter().map(|&s| system_name(s));
        let calls = calls.chain(c.package.iter().map(|&p| package_name(p)));
        for (k, callee) in calls.enumerate() {
            let _ = writeln!(ir, "  %v{k} = call i64 @{callee}(i64 {value})");
            value = format!("%v{k}");
        }
        let _ = writeln!(ir, "  ret i64 {value}\n}}\n");
    }
    ir
}
