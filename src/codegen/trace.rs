//! The trace: one function name per line (`#` starts a comment), what a runtime recorded as
//! compiled. Selection keeps these, the exports and LLVM's own roots, and all they reach.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use super::error::CodegenError;
use crate::llvm::{Global, GlobalKind, Linkage};

/// Names from a trace file, each with its line number.
pub fn read_trace(path: &Path) -> Result<Vec<(usize, String)>, CodegenError> {
    let text = std::fs::read_to_string(path).map_err(|e| CodegenError::Input {
        path: path.to_path_buf(),
        cause: format!("cannot read: {e}"),
    })?;
    Ok(text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let name = line.split('#').next().unwrap_or("").trim();
            (!name.is_empty()).then(|| (i + 1, name.to_string()))
        })
        .collect())
}

/// The definitions to keep: everything reachable from `roots` through references.
pub fn reachable<'m>(roots: &[Global<'m>]) -> HashSet<Global<'m>> {
    let mut keep: HashSet<Global> = HashSet::new();
    let mut work: Vec<Global> = roots.to_vec();
    while let Some(g) = work.pop() {
        if keep.insert(g) {
            work.extend(g.references().into_iter().filter(|r| !keep.contains(r)));
        }
    }
    keep
}

/// Checks each traced name against the module's definitions.
pub fn trace_roots<'m>(
    trace_path: &Path,
    names: &[(usize, String)],
    by_name: &dyn Fn(&str) -> Option<Global<'m>>,
) -> Result<Vec<Global<'m>>, CodegenError> {
    let mut roots = BTreeSet::new();
    for (line, name) in names {
        let fail = |what: &str| CodegenError::Trace {
            path: trace_path.to_path_buf(),
            line: *line,
            cause: format!("`{name}` {what}"),
        };
        match by_name(name) {
            None => return Err(fail("is not a function of the inputs")),
            Some(g) if g.kind() != GlobalKind::Function => return Err(fail("is not a function")),
            Some(g) if g.is_declaration() => {
                return Err(fail("is declared but not defined in the inputs"))
            }
            Some(g) => roots.insert(g.name()),
        };
    }
    Ok(roots.into_iter().filter_map(|n| by_name(&n)).collect())
}

/// Makes every definition not in `keep` internal, so that LLVM's GlobalDCE deletes it (it
/// also cleans up the constant expressions that used them, which the C API cannot); the
/// caller runs `globaldce` once no handle into the module is left.
pub fn make_unkept_internal(globals: &[Global], keep: &HashSet<Global>) {
    for g in globals
        .iter()
        .filter(|g| !g.is_declaration() && !keep.contains(g))
    {
        g.clear_comdat();
        g.set_linkage(Linkage::Internal);
    }
}
