//! Making the kept symbols nameable across shards and numbering them: every kept definition
//! becomes an external symbol (hidden unless exported), and gets an fvar or gvar index in
//! name order, so the same input always gives the same indices.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::printed::PrintedModule;
use crate::llvm::{Global, GlobalKind, Linkage, Visibility};
use aotload::meta::{Gvar, Method, SymbolExport, SymbolKind};

/// Gives unnamed definitions a name and sets linkage and visibility of every definition.
pub fn externalize(globals: &[Global], exports: &BTreeSet<String>) {
    let mut anon = 0;
    for g in globals
        .iter()
        .filter(|g| !g.is_declaration() && !g.is_llvm_special())
    {
        if !g.has_name() {
            g.set_name(&format!("aotlink.anon.{anon}"));
            anon += 1;
        }
        g.clear_comdat();
        g.set_linkage(Linkage::External);
        let visibility = if !exports.is_empty() && exports.contains(&g.name()) {
            Visibility::Default
        } else {
            Visibility::Hidden
        };
        g.set_visibility(visibility);
    }
}

/// The kept functions and global variables, each sorted by name: index = fvar / gvar index.
/// Thread-local variables have no address to table (one copy per thread): not gvars.
pub fn index<'m>(globals: &[Global<'m>]) -> (Vec<Global<'m>>, Vec<Global<'m>>) {
    let defined = |kind| {
        let mut v: Vec<Global> = globals
            .iter()
            .copied()
            .filter(|g| g.kind() == kind && !g.is_declaration() && !g.is_llvm_special())
            .filter(|g| !g.is_thread_local())
            .collect();
        // One name per global: a key made in every comparison allocated 1.6 million strings
        // at 50,000 functions.
        v.sort_by_cached_key(|g| g.name());
        v
    };
    (defined(GlobalKind::Function), defined(GlobalKind::Variable))
}

/// The exports as the metadata has them: the functions (methods under their own names), and
/// the other symbols with what each is. An alias of a function is that function's method under
/// another name (the same fvar, so a loader gives it the same dispatch); an alias of a
/// variable, or of an address inside one, is data.
pub fn split_exports(
    globals: &[Global],
    fvars: &[Global],
    exports: &BTreeSet<String>,
) -> (Vec<String>, Vec<SymbolExport>) {
    let fvar_of: HashMap<Global, u32> = (fvars.iter().enumerate())
        .map(|(i, g)| (*g, i as u32))
        .collect();
    // Names only where there are exports to compare them with (most builds have none).
    let by_name: HashMap<String, Global> = match exports.is_empty() {
        true => HashMap::new(),
        false => (globals.iter())
            .filter(|g| !g.is_declaration())
            .map(|g| (g.name(), *g))
            .filter(|(name, _)| exports.contains(name))
            .collect(),
    };
    let (mut functions, mut symbols) = (Vec::new(), Vec::new());
    for name in exports {
        // Selection kept every export (codegen checks that every kept name survived).
        let Some(&g) = by_name.get(name) else {
            continue;
        };
        let object = match g.kind() {
            GlobalKind::Alias => g.aliased_object(),
            _ => Some(g),
        };
        let kind = match object {
            Some(o) if o == g && o.kind() == GlobalKind::Function => {
                functions.push(name.clone());
                continue;
            }
            Some(o) if o.kind() == GlobalKind::Function => match fvar_of.get(&o) {
                Some(&fvar) => SymbolKind::Function { fvar },
                None => SymbolKind::IFunc,
            },
            Some(o) if o.kind() == GlobalKind::IFunc => SymbolKind::IFunc,
            _ => SymbolKind::Data,
        };
        symbols.push(SymbolExport {
            name: name.clone(),
            kind,
        });
    }
    (functions, symbols)
}

/// Makes the exported variables (not thread-locals, which no program copies) interposable, as
/// a variable of gcc's `-fPIC -shared` build is: a program linked against the image (not
/// dlopening it) gets a copy relocation for a variable it uses, and the dynamic loader binds
/// every reference to the program's copy. The image's code must reach the variable through
/// its symbol, or the program and the image each write their own copy (measured: a program
/// set `lib_counter = 100` and the image's `lib_add` still read 7). The link names them in a
/// dynamic list for that (everything else binds within the image). The shard tables need an
/// address fixed at link time: each such variable gets a hidden alias, `own_name(variable)`,
/// for them. Returns the variables, sorted.
pub fn make_interposable(
    globals: &[Global],
    symbol_exports: &[SymbolExport],
    own_name: fn(&str) -> String,
) -> Vec<String> {
    let data: BTreeSet<&str> = (symbol_exports.iter())
        .filter(|x| x.kind == SymbolKind::Data)
        .map(|x| x.name.as_str())
        .collect();
    let mut names = Vec::new();
    if data.is_empty() {
        return names;
    }
    for g in globals {
        if g.kind() != GlobalKind::Variable || g.is_thread_local() {
            continue;
        }
        let name = g.name();
        if !data.contains(&*name) {
            continue;
        }
        g.allow_interposition();
        g.add_hidden_alias(&own_name(&name));
        names.push(name);
    }
    names.sort();
    names
}

/// What a reference means for the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Edge {
    /// A function of this image (fvar index).
    Internal(u32),
    /// A method of another image (index into the externals).
    External(u32),
    /// A global variable of this image (gvar index).
    Data(u32),
}

/// One manifest entry per fvar and one record per gvar. A method's entry has its signature,
/// content hash, the image functions it references, the external methods it calls, and the
/// gvars it uses that hold function addresses (directly or through other data); a gvar's
/// record the same edges of its initializer. Edges through data stay on the data: a table of
/// every kernel's address, used by a sixth of them, would otherwise copy the whole table into
/// each user (50,000 kernels: 8,000 × 50,000 edges, quadratic in the module). `externals` maps
/// the declared names of external methods to their indices. The content hashes are left at
/// 0 for [`hash_methods`], which reads the module's print, cut into pieces.
pub fn methods(
    module: &inkwell::module::Module,
    fvars: &[Global],
    gvars: &[Global],
    externals: &HashMap<String, u32>,
) -> (Vec<Method>, Vec<Gvar>) {
    let mut edge_of: HashMap<Global, Edge> = (fvars.iter().enumerate())
        .map(|(i, g)| (*g, Edge::Internal(i as u32)))
        .collect();
    edge_of.extend((gvars.iter().enumerate()).map(|(i, g)| (*g, Edge::Data(i as u32))));
    for g in crate::llvm::globals(module)
        .into_iter()
        .filter(|g| g.kind() == GlobalKind::Function && g.is_declaration())
    {
        if let Some(&x) = externals.get(&g.name()) {
            edge_of.insert(g, Edge::External(x));
        }
    }
    let gvar_edges: Vec<BTreeSet<Edge>> =
        gvars.iter().map(|g| direct_edges(*g, &edge_of)).collect();
    let holds = holds_code(&gvar_edges);
    // Keeps the edges that can lead to code: data edges only to data that holds some.
    let split = |edges: &BTreeSet<Edge>| {
        let (mut callees, mut external, mut data) = (Vec::new(), Vec::new(), Vec::new());
        for edge in edges {
            match *edge {
                Edge::Internal(i) => callees.push(i),
                Edge::External(x) => external.push(x),
                Edge::Data(d) if holds[d as usize] => data.push(d),
                Edge::Data(_) => {}
            }
        }
        (callees, external, data)
    };
    // Types are unique in a context: each signature printed once (most functions share a few).
    let mut signatures: HashMap<_, String> = HashMap::new();
    let methods = fvars
        .iter()
        .map(|f| {
            let (callees, external, data) = split(&direct_edges(*f, &edge_of));
            let name = f.name();
            let signature = (signatures.entry(f.value_type()))
                .or_insert_with(|| f.value_type_string())
                .clone();
            Method {
                signature,
                hash: 0,
                callees,
                external,
                data,
                name,
            }
        })
        .collect();
    let gvars = (gvars.iter().zip(&gvar_edges))
        .map(|(g, edges)| {
            let (callees, external, data) = split(edges);
            Gvar {
                name: g.name(),
                callees,
                external,
                data,
            }
        })
        .collect();
    (methods, gvars)
}

/// Each method's content hash: its definition's piece of the module's print (0 where the
/// print has none).
pub fn hash_methods(methods: &mut [Method], printed: &PrintedModule) {
    for method in methods {
        let name = &method.name;
        method.hash = match is_plain(name) {
            true => printed.content_hash(name),
            false => printed.content_hash(&printed_name(name)[1..]),
        }
        .unwrap_or(0);
    }
}

/// The edges of what `g`'s body or initializer references, seeing through whatever is not a
/// function or variable of the image (aliases, LLVM's own globals).
fn direct_edges(g: Global, edge_of: &HashMap<Global, Edge>) -> BTreeSet<Edge> {
    let mut out = BTreeSet::new();
    let mut seen = HashSet::new();
    let mut work = g.references();
    while let Some(r) = work.pop() {
        match edge_of.get(&r) {
            Some(edge) => {
                out.insert(*edge);
            }
            None if seen.insert(r) => work.extend(r.references()),
            None => {}
        }
    }
    out
}

/// Which gvars hold a function address, directly or through other gvars (a fixpoint over the
/// data edges, walked backwards from the gvars that hold one directly).
fn holds_code(gvar_edges: &[BTreeSet<Edge>]) -> Vec<bool> {
    let mut held_by: Vec<Vec<usize>> = vec![Vec::new(); gvar_edges.len()];
    let mut holds = vec![false; gvar_edges.len()];
    let mut work = Vec::new();
    for (g, edges) in gvar_edges.iter().enumerate() {
        for edge in edges {
            match *edge {
                Edge::Data(d) => held_by[d as usize].push(g),
                Edge::Internal(_) | Edge::External(_) => {
                    if !holds[g] {
                        holds[g] = true;
                        work.push(g);
                    }
                }
            }
        }
    }
    while let Some(g) = work.pop() {
        for &holder in &held_by[g] {
            if !holds[holder] {
                holds[holder] = true;
                work.push(holder);
            }
        }
    }
    holds
}

/// How LLVM prints a global's name: `@name`, or quoted with `\XX` escapes when it has other
/// characters than letters, digits and `-$._`.
pub(crate) fn printed_name(name: &str) -> String {
    if is_plain(name) {
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

/// Whether LLVM prints the name as it is (not quoted): letters, digits and `-$._`, not
/// starting with a digit.
fn is_plain(name: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-$._".contains(c);
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| plain(c) && !c.is_ascii_digit());
    starts_ok && name.chars().all(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_names_are_as_llvm_prints_them() {
        assert_eq!(printed_name("f.aotlink.t1"), "@f.aotlink.t1");
        assert_eq!(printed_name("1x"), "@\"1x\"");
        assert_eq!(printed_name("a b"), "@\"a b\"");
    }
}
