//! Making the kept symbols nameable across shards and numbering them: every kept definition
//! becomes an external symbol (hidden unless exported), and gets an fvar or gvar index in
//! name order, so the same input always gives the same indices.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::llvm::{Global, GlobalKind, Linkage, Visibility};
use aotload::meta::Method;

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
        g.set_linkage(Linkage::External);
        let visibility = if exports.contains(&g.name()) {
            Visibility::Default
        } else {
            Visibility::Hidden
        };
        g.set_visibility(visibility);
    }
}

/// The kept functions and global variables, each sorted by name: index = fvar / gvar index.
pub fn index<'m>(globals: &[Global<'m>]) -> (Vec<Global<'m>>, Vec<Global<'m>>) {
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

/// What a reference to a function means for the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Edge {
    /// A function of this image (fvar index).
    Internal(u32),
    /// A method of another image (index into the externals).
    External(u32),
}

/// One manifest entry per fvar: signature, content hash, the image functions it reaches and
/// the external methods it calls (directly, or through the initializers of the globals it
/// uses). `externals` maps the declared names of external methods to their indices.
pub fn methods(
    module: &inkwell::module::Module,
    fvars: &[Global],
    externals: &HashMap<String, u32>,
) -> Vec<Method> {
    let mut edge_of: HashMap<Global, Edge> = (fvars.iter().enumerate())
        .map(|(i, g)| (*g, Edge::Internal(i as u32)))
        .collect();
    for g in crate::llvm::globals(module)
        .into_iter()
        .filter(|g| g.kind() == GlobalKind::Function && g.is_declaration())
    {
        if let Some(&x) = externals.get(&g.name()) {
            edge_of.insert(g, Edge::External(x));
        }
    }
    // Printing one function makes LLVM number the whole module: print the module once instead.
    let text = module.print_to_string().to_string();
    let bodies = function_texts(&text);
    let mut through_data: HashMap<Global, Vec<Edge>> = HashMap::new();
    fvars
        .iter()
        .map(|f| {
            let mut edges = BTreeSet::new();
            for g in f.references() {
                match g.kind() {
                    GlobalKind::Function => edges.extend(edge_of.get(&g)),
                    // Data that holds function addresses makes those functions reachable.
                    GlobalKind::Variable | GlobalKind::Alias => edges.extend(
                        through_data
                            .entry(g)
                            .or_insert_with(|| edges_in_data(g, &edge_of))
                            .iter(),
                    ),
                }
            }
            let name = f.name();
            let body = bodies
                .get(printed_name(&name).as_str())
                .copied()
                .unwrap_or("");
            Method {
                signature: f.value_type_string(),
                hash: content_hash(body),
                callees: edges
                    .iter()
                    .filter_map(|e| {
                        if let Edge::Internal(i) = e {
                            Some(*i)
                        } else {
                            None
                        }
                    })
                    .collect(),
                external: edges
                    .iter()
                    .filter_map(|e| {
                        if let Edge::External(i) = e {
                            Some(*i)
                        } else {
                            None
                        }
                    })
                    .collect(),
                name,
            }
        })
        .collect()
}

/// The functions whose addresses data `root` holds, directly or through other data.
fn edges_in_data(root: Global, edge_of: &HashMap<Global, Edge>) -> Vec<Edge> {
    let mut out = BTreeSet::new();
    let mut seen = HashSet::new();
    let mut work = vec![root];
    while let Some(g) = work.pop() {
        if !seen.insert(g) {
            continue;
        }
        match g.kind() {
            GlobalKind::Function => out.extend(edge_of.get(&g)),
            GlobalKind::Variable | GlobalKind::Alias => work.extend(g.references()),
        }
    }
    out.into_iter().collect()
}

/// Each function definition's text in a printed module, by its printed name (`@f`, `@"a b"`).
fn function_texts(module_text: &str) -> HashMap<&str, &str> {
    let mut out = HashMap::new();
    let mut rest = module_text;
    while let Some(start) = rest.find("\ndefine ") {
        let def = &rest[start + 1..];
        let end = def.find("\n}\n").map_or(def.len(), |e| e + 3);
        let header = def.lines().next().unwrap_or("");
        if let Some(at) = header.find(" @") {
            let name_and_rest = &header[at + 1..];
            let name_end = name_and_rest.find('(').unwrap_or(name_and_rest.len());
            out.insert(&name_and_rest[..name_end], &def[..end]);
        }
        rest = &def[end..];
    }
    out
}

/// How LLVM prints a global's name: `@name`, or quoted with `\XX` escapes when it has other
/// characters than letters, digits and `-$._`.
fn printed_name(name: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-$._".contains(c);
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| plain(c) && !c.is_ascii_digit());
    if starts_ok && name.chars().all(plain) {
        return format!("@{name}");
    }
    let mut out = String::from("@\"");
    for b in name.bytes() {
        match b {
            b'"' | b'\\' => out += &format!("\\{b:02X}"),
            0x20..=0x7e => out.push(b as char),
            _ => out += &format!("\\{b:02X}"),
        }
    }
    out.push('"');
    out
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
    fn function_texts_are_found_by_printed_name() {
        let text = "; ModuleID = 'm'\ndefine i32 @f() #0 {\n  ret i32 1\n}\n\ndefine internal void @\"a b\"(i8* %x) {\n  ret void\n}\n";
        let texts = function_texts(text);
        assert_eq!(texts["@f"], "define i32 @f() #0 {\n  ret i32 1\n}\n");
        assert!(texts[printed_name("a b").as_str()].contains("ret void"));
        assert_eq!(printed_name("f.aotlink.t1"), "@f.aotlink.t1");
        assert_eq!(printed_name("1x"), "@\"1x\"");
    }

    #[test]
    fn content_hash_ignores_attribute_and_metadata_numbering() {
        let a = "define i32 @f() #0 { ret i32 1, !dbg !12 }";
        let b = "define i32 @f() #7 { ret i32 1, !dbg !40 }";
        let c = "define i32 @f() #0 { ret i32 2, !dbg !12 }";
        assert_eq!(content_hash(a), content_hash(b));
        assert_ne!(content_hash(a), content_hash(c));
    }
}
