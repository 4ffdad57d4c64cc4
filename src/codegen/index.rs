//! Making the kept symbols nameable across shards and numbering them: every kept definition
//! becomes an external symbol (hidden unless exported), and gets an fvar or gvar index in
//! name order, so the same input always gives the same indices.

use std::collections::{BTreeSet, HashMap};

use aotload::meta::Method;
use llvm_sys::{LLVMLinkage, LLVMVisibility};

use crate::ir::{Global, GlobalKind};

/// Gives unnamed definitions a name and sets linkage and visibility of every definition.
pub fn externalize(globals: &[Global], exports: &BTreeSet<String>) {
    let mut anon = 0;
    for g in globals
        .iter()
        .filter(|g| !g.is_declaration() && !g.is_llvm_special())
    {
        if g.name().is_empty() {
            g.set_name(&format!("aotlink.anon.{anon}"));
            anon += 1;
        }
        g.clear_comdat();
        g.set_linkage(LLVMLinkage::LLVMExternalLinkage);
        let visibility = if exports.contains(&g.name()) {
            LLVMVisibility::LLVMDefaultVisibility
        } else {
            LLVMVisibility::LLVMHiddenVisibility
        };
        g.set_visibility(visibility);
    }
}

/// The kept functions and global variables, each sorted by name: index = fvar / gvar index.
pub fn index(globals: &[Global]) -> (Vec<Global>, Vec<Global>) {
    let defined = |kind| {
        let mut v: Vec<Global> = globals
            .iter()
            .copied()
            .filter(|g| g.kind() == kind && !g.is_declaration() && !g.is_llvm_special())
            .collect();
        v.sort_by_key(|g| g.name());
        v
    };
    (defined(GlobalKind::Function), defined(GlobalKind::Variable))
}

/// One manifest entry per fvar: signature, content hash and the image functions it reaches
/// (directly, or through the initializers of the globals it uses).
pub fn methods(fvars: &[Global]) -> Vec<Method> {
    let fvar_of: HashMap<Global, u32> = fvars
        .iter()
        .enumerate()
        .map(|(i, g)| (*g, i as u32))
        .collect();
    fvars
        .iter()
        .map(|f| {
            let mut callees = BTreeSet::new();
            let mut seen = std::collections::HashSet::new();
            let mut work = f.references();
            while let Some(g) = work.pop() {
                if !seen.insert(g) {
                    continue;
                }
                match g.kind() {
                    GlobalKind::Function => {
                        if let Some(&i) = fvar_of.get(&g) {
                            callees.insert(i);
                        }
                    }
                    // Data that holds function addresses makes those functions reachable.
                    GlobalKind::Variable | GlobalKind::Alias => work.extend(g.references()),
                }
            }
            Method {
                name: f.name(),
                signature: f.value_type_string(),
                hash: content_hash(&f.to_ir_string()),
                callees: callees.into_iter().collect(),
                external: Vec::new(),
            }
        })
        .collect()
}

/// Hash of a function's printed IR, without the module-wide numbering of attribute groups
/// (`#3`) and metadata (`!12`), which changes when unrelated functions change.
pub fn content_hash(ir: &str) -> u64 {
    let mut scrubbed = String::with_capacity(ir.len());
    let mut chars = ir.chars().peekable();
    while let Some(c) = chars.next() {
        scrubbed.push(c);
        if c == '#' || c == '!' {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
        }
    }
    xxhash_rust::xxh3::xxh3_64(scrubbed.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_ignores_attribute_and_metadata_numbering() {
        let a = "define i32 @f() #0 { ret i32 1, !dbg !12 }";
        let b = "define i32 @f() #7 { ret i32 1, !dbg !40 }";
        let c = "define i32 @f() #0 { ret i32 2, !dbg !12 }";
        assert_eq!(content_hash(a), content_hash(b));
        assert_ne!(content_hash(a), content_hash(c));
    }
}
