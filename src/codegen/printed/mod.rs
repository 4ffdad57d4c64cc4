//! The module as LLVM printed it (once, for the methods' content hashes), cut into the pieces
//! a shard's cache key is made of: each global's text and the part of it that a declaration
//! in another shard copies, each metadata node, attribute group and named type, and what each
//! refers to. dump/text_key.rs walks from a shard's members through these references, so
//! that a shard is looked up in the cache before it is cloned from the module, and only the
//! shards that miss are cloned and written (at 50,000 functions, cloning all 128 shards to
//! hash their bitcode took 3.4 s of a 14.6 s one-function rebuild).
//!
//! Why the text is a sound key: LLVM's printer shows everything a module's bitcode holds but
//! use-list orders (which aotlink does not write) and the context's tables of names
//! ([`crate::llvm::context_names`], added to [`PrintedModule::common`] with the external
//! methods bound after the print). What is not
//! understood here goes into `common`, which every shard's key covers.
//!
//! Attribute groups and metadata are numbered across the whole module, so a new node in one
//! function renumbers those printed after it; pieces are hashed with those numbers taken out
//! and keep the references in order, and a key numbers them again by its own walk.

mod lines;
mod refs;
mod tokens;

use std::collections::HashMap;

use xxhash_rust::xxh3::Xxh3;

use lines::{items, Declared, Item};
use refs::Packed;
pub use refs::Ref;
use tokens::{scan, Names};

/// A piece of the print: the hash of its text without the numbers of attribute groups and
/// metadata, and its references in order of appearance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Piece {
    pub hash: u128,
    refs: (u32, u32),
}

/// A global as printed.
#[derive(Clone, Debug)]
pub struct PrintedGlobal {
    /// The name as printed after `@` (quoted where LLVM quotes it).
    pub name: Box<str>,
    /// A function, or an alias or ifunc (which another shard declares as a function when
    /// it stands for one): the names whose clone sets a shard's job carries.
    pub callable: bool,
    /// One of LLVM's own definitions (`@llvm.used`, `@llvm.global_ctors`): shard 0 holds them.
    pub llvm_special: bool,
    /// The whole definition or declaration.
    pub full: Piece,
    /// What a declaration of it in another shard copies: a function's header, a variable
    /// without its initializer (the whole line where that cannot be told apart).
    pub declared: Piece,
}

/// The module's print, in pieces.
#[derive(Debug, Default)]
pub struct PrintedModule {
    /// What every shard depends on: the module's source file, data layout, triple,
    /// module assembly, comdats, lines not understood, the context's names, and every type
    /// when types are numbered.
    pub common: u128,
    pub globals: Vec<PrintedGlobal>,
    by_name: HashMap<Box<str>, u32>,
    /// By number (LLVM numbers them from 0 without gaps).
    metadata: Vec<Option<Piece>>,
    /// Named metadata (`!llvm.module.flags = ...`): every shard carries all of it.
    pub named_metadata: Vec<Piece>,
    /// By number, as the metadata.
    attributes: Vec<Option<Piece>>,
    types: Vec<Piece>,
    refs: Vec<Packed>,
}

impl PrintedModule {
    /// Cuts `text` (LLVM's print of a module: ASCII, names and strings escaped) into pieces;
    /// `beside` is what every shard depends on that the text does not show (the context's
    /// tables of names, which bitcode carries whole; bindings made after the print).
    pub fn parse(text: &[u8], beside: &[u8]) -> PrintedModule {
        let items = items(text);
        let mut module = PrintedModule::default();
        let mut type_index: HashMap<&[u8], u32> = HashMap::new();
        let mut numbered_types = false;
        // Indices count the items, so that they stay those of `globals` and `types` below
        // even if a name came twice (LLVM's print has none; the first one is the one named).
        let (mut nglobals, mut ntypes) = (0u32, 0u32);
        for item in &items {
            match item {
                Item::Global { name, .. } => {
                    module.by_name.entry(utf8(name)).or_insert(nglobals);
                    nglobals += 1;
                }
                Item::Type(name, _) => {
                    numbered_types |= name.iter().all(u8::is_ascii_digit);
                    type_index.entry(name).or_insert(ntypes);
                    ntypes += 1;
                }
                _ => {}
            }
        }
        let mut common = Xxh3::new();
        common.update(beside);
        let names = Names {
            globals: &module.by_name,
            types: &type_index,
            numbered_types,
        };
        let mut refs = Vec::new();
        let mut piece = |text: &[u8]| {
            let start = refs.len() as u32;
            let hash = scan(text, &names, &mut refs);
            Piece {
                hash,
                refs: (start, refs.len() as u32),
            }
        };
        let (mut globals, mut metadata, mut named, mut attributes, mut types) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        fn set(slots: &mut Vec<Option<Piece>>, n: u32, piece: Piece) {
            let n = n as usize;
            if slots.len() <= n {
                slots.resize(n + 1, None);
            }
            slots[n] = Some(piece);
        }
        for item in &items {
            match item {
                Item::Global {
                    name,
                    callable,
                    special,
                    full,
                    declared,
                } => {
                    let full = piece(full);
                    let declared = match declared {
                        Declared::Slice(s) => piece(s),
                        Declared::Owned(v) => piece(v),
                    };
                    globals.push(PrintedGlobal {
                        name: utf8(name),
                        callable: *callable,
                        llvm_special: *special,
                        full,
                        declared,
                    });
                }
                Item::Metadata(n, text) => set(&mut metadata, *n, piece(text)),
                Item::NamedMetadata(text) => named.push(piece(text)),
                Item::Attributes(n, text) => set(&mut attributes, *n, piece(text)),
                Item::Type(_, text) => {
                    let p = piece(text);
                    if numbered_types {
                        // A numbered type's number is not kept apart from its text: every
                        // shard depends on all of them.
                        common.update(&p.hash.to_le_bytes());
                    }
                    types.push(p);
                }
                Item::Common(text) => {
                    common.update(&(text.len() as u64).to_le_bytes());
                    common.update(text);
                }
            }
        }
        module.common = common.digest128();
        module.globals = globals;
        module.metadata = metadata;
        module.named_metadata = named;
        module.attributes = attributes;
        module.types = types;
        module.refs = refs;
        module
    }

    /// The references of `piece`, in order of appearance.
    pub fn refs(&self, piece: &Piece) -> impl Iterator<Item = Ref> + '_ {
        (self.refs[piece.refs.0 as usize..piece.refs.1 as usize].iter()).map(|p| p.get())
    }

    /// The content hash of the function printed as `@name`: its whole text (a definition's
    /// body) without the module-wide numbers of attribute groups and metadata, which change
    /// when unrelated functions do (the manifest's method hash).
    pub fn content_hash(&self, printed_name: &str) -> Option<u64> {
        let global = &self.globals[self.global(printed_name)? as usize];
        Some(global.full.hash as u64)
    }

    /// The global printed as `@name` (`name` as printed, quoted where LLVM quotes it).
    pub fn global(&self, printed_name: &str) -> Option<u32> {
        self.by_name.get(printed_name).copied()
    }

    pub fn metadata(&self, number: u32) -> Option<&Piece> {
        self.metadata.get(number as usize)?.as_ref()
    }

    pub fn attributes(&self, number: u32) -> Option<&Piece> {
        self.attributes.get(number as usize)?.as_ref()
    }

    pub fn named_type(&self, index: u32) -> &Piece {
        &self.types[index as usize]
    }

    /// How many metadata numbers, attribute group numbers and named types there are (each
    /// numbered from 0).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.metadata.len(), self.attributes.len(), self.types.len())
    }
}

fn utf8(bytes: &[u8]) -> Box<str> {
    String::from_utf8_lossy(bytes).into()
}

#[cfg(test)]
mod tests;
