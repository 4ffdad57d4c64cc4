//! External methods: functions the inputs declare and another image provides (they are in the
//! `--method-table`). Each becomes a hidden thunk that calls through a slot the loader fills
//! from the method table at load time, so the image never asks the dynamic linker for another
//! image's symbols and works the same on every OS. Calls to functions in no table (the C
//! library) stay ordinary symbols.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aotload::format::external_slot_symbol;
use aotload::meta::ExternalEdge;

use super::error::CodegenError;
use crate::llvm::{self, Global, GlobalKind};
use crate::method_table_file::MethodTableFile;

/// The external methods of a module, by index (sorted by name, so indices are stable).
#[derive(Clone, Debug, Default)]
pub struct Externals {
    pub edges: Vec<ExternalEdge>,
    pub index: HashMap<String, u32>,
}

/// Reads the method table files and matches them with the module's function declarations.
pub fn find_externals(
    globals: &[Global],
    tables: &[impl AsRef<Path>],
) -> Result<Externals, CodegenError> {
    // name -> (signature -> (hash, index of the file that provides it))
    let mut provided: BTreeMap<String, BTreeMap<String, (u64, usize)>> = BTreeMap::new();
    for (index, path) in tables.iter().enumerate() {
        let path = path.as_ref();
        let file = MethodTableFile::read(path).map_err(|cause| CodegenError::MethodTable {
            path: path.to_path_buf(),
            cause,
        })?;
        for m in file.methods {
            let hash = m.hash_value().expect("checked by read");
            let signatures = provided.entry(m.name.clone()).or_default();
            // Two images providing one method cannot both be loaded; say so at build time.
            if let Some(&(_, first)) = signatures.get(&m.signature) {
                return Err(CodegenError::Input {
                    path: path.to_path_buf(),
                    cause: format!(
                        "method `{}` with signature `{}` is also in {}",
                        m.name,
                        m.signature,
                        tables[first].as_ref().display()
                    ),
                });
            }
            signatures.insert(m.signature, (hash, index));
        }
    }
    let mut edges = Vec::new();
    let mut declared: Vec<&Global> = globals
        .iter()
        .filter(|g| g.kind() == GlobalKind::Function && g.is_declaration() && !g.is_llvm_special())
        .filter(|g| provided.contains_key(&g.name()))
        .collect();
    declared.sort_by_cached_key(|g| g.name());
    for g in declared {
        let name = g.name();
        let signature = g.value_type_string();
        let signatures = &provided[&name];
        let Some(&(hash, _)) = signatures.get(&signature) else {
            let known: Vec<&str> = signatures.keys().map(String::as_str).collect();
            return Err(CodegenError::Input {
                path: tables[0].as_ref().to_path_buf(),
                cause: format!(
                    "`{name}` is declared as `{signature}` in the IR but the method table has `{}`",
                    known.join("`, `")
                ),
            });
        };
        edges.push(ExternalEdge {
            name,
            signature,
            hash,
        });
    }
    let index = edges
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i as u32))
        .collect();
    Ok(Externals { edges, index })
}

/// Turns each external method's declaration into a hidden thunk through its slot (declared
/// here, defined by the header object).
pub fn bind(module: &inkwell::module::Module, externals: &Externals) {
    for (i, edge) in externals.edges.iter().enumerate() {
        let f = llvm::named_global(module, &edge.name)
            .expect("externals are functions the module declares");
        llvm::bind_through_slot(module, f, &external_slot_symbol(i as u32));
    }
}
