//! A shard's key from the module's print, before the shard is cloned: what the clone would
//! hold is its members, declarations of what they refer to, the metadata, attribute groups
//! and types those use, and what every shard holds (named metadata, LLVM's own globals in
//! shard 0, the module's header). Walking the print's pieces (codegen/printed.rs) from the
//! members reaches exactly that text, so equal digests mean equal shard modules, and a shard
//! the cache holds is never cloned. A piece that cannot be followed gives no digest: that
//! shard is cloned and keyed by its bitcode, as before.
//!
//! Attribute groups and metadata are numbered again in the order the walk meets them, as the
//! bitcode writer numbers them per module: a node added to one function, which renumbers all
//! the print's later nodes, changes no other shard's digest.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::cache::key::{Key, KeyHasher};
use crate::codegen::printed::{Piece, PrintedModule, Ref};

/// What a shard's key is made of, from the print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardText {
    pub digest: Key,
    /// The printed names of the functions (and aliases, ifuncs) the shard defines or
    /// declares: whose clone sets its job carries.
    pub callables: Vec<Box<str>>,
}

/// What the walk visits: a global as defined (a member) or as declared, or a piece the
/// shard carries.
#[derive(Clone, Copy)]
enum Visit {
    Member(u32),
    Declared(u32),
    Metadata(u32),
    NamedMetadata(usize),
    Attributes(u32),
    Type(u32),
}

/// The digest of the shard that defines `members` (LLVM's names), with LLVM's own globals
/// when `keep_special` (shard 0), as [`crate::llvm::clone_shard`] makes it; `None` when the
/// print does not name a member or a reference.
pub fn shard_text(
    printed: &PrintedModule,
    members: &[String],
    keep_special: bool,
) -> Option<ShardText> {
    let mut walk = Walk::new(printed);
    let mut own = HashSet::new();
    for name in members {
        let printed_name = crate::codegen::printed_name(name);
        let g = printed.global(&printed_name[1..])?;
        own.insert(g);
        walk.queue.push_back(Visit::Member(g));
    }
    if keep_special {
        for (i, g) in printed.globals.iter().enumerate() {
            if g.llvm_special && own.insert(i as u32) {
                walk.queue.push_back(Visit::Member(i as u32));
            }
        }
    }
    for i in 0..printed.named_metadata.len() {
        walk.queue.push_back(Visit::NamedMetadata(i));
    }
    walk.own = own;
    walk.run()?;
    Some(ShardText {
        digest: walk.hasher.finish(),
        callables: walk.callables,
    })
}

struct Walk<'p> {
    printed: &'p PrintedModule,
    queue: VecDeque<Visit>,
    own: HashSet<u32>,
    declared: HashSet<u32>,
    types: HashSet<u32>,
    metadata: HashMap<u32, u32>,
    attributes: HashMap<u32, u32>,
    callables: Vec<Box<str>>,
    hasher: KeyHasher,
}

impl<'p> Walk<'p> {
    fn new(printed: &'p PrintedModule) -> Walk<'p> {
        let mut hasher = KeyHasher::plain();
        hasher.field(&printed.common.to_le_bytes());
        Walk {
            printed,
            queue: VecDeque::new(),
            own: HashSet::new(),
            declared: HashSet::new(),
            types: HashSet::new(),
            metadata: HashMap::new(),
            attributes: HashMap::new(),
            callables: Vec::new(),
            hasher,
        }
    }

    fn run(&mut self) -> Option<()> {
        let printed = self.printed;
        while let Some(visit) = self.queue.pop_front() {
            // (tag, piece, whether its globals and metadata come into the shard)
            let (tag, piece, whole): (u8, &Piece, bool) = match visit {
                Visit::Member(g) => {
                    let global = &printed.globals[g as usize];
                    if global.callable {
                        self.callables.push(global.name.clone());
                    }
                    (b'M', &global.full, true)
                }
                // A declaration copies the global's type, linkage-free attributes and
                // attribute groups; not its metadata, personality or initializer.
                Visit::Declared(g) => {
                    let global = &printed.globals[g as usize];
                    if global.callable {
                        self.callables.push(global.name.clone());
                    }
                    (b'D', &global.declared, false)
                }
                Visit::Metadata(n) => (b'!', printed.metadata(n)?, true),
                Visit::NamedMetadata(i) => (b'N', &printed.named_metadata[i], true),
                Visit::Attributes(n) => (b'#', printed.attributes(n)?, true),
                Visit::Type(t) => (b'%', printed.named_type(t), true),
            };
            self.hasher.field(&[tag]);
            self.hasher.field(&piece.hash.to_le_bytes());
            for r in printed.refs(piece) {
                match *r {
                    Ref::Global(g) => {
                        if whole && !self.own.contains(&g) && self.declared.insert(g) {
                            self.queue.push_back(Visit::Declared(g));
                        }
                    }
                    Ref::Metadata(n) if whole => {
                        let id = number(&mut self.metadata, &mut self.queue, n, Visit::Metadata);
                        self.hasher.count(id as usize);
                    }
                    Ref::Metadata(_) => {}
                    Ref::Attributes(n) => {
                        let id =
                            number(&mut self.attributes, &mut self.queue, n, Visit::Attributes);
                        self.hasher.count(id as usize);
                    }
                    Ref::Type(t) => {
                        if self.types.insert(t) {
                            self.queue.push_back(Visit::Type(t));
                        }
                    }
                    Ref::Unknown => return None,
                }
            }
        }
        Some(())
    }
}

/// The walk's own number for node `n`, given in the order nodes are met; a node met for the
/// first time is queued.
fn number(
    numbers: &mut HashMap<u32, u32>,
    queue: &mut VecDeque<Visit>,
    n: u32,
    visit: fn(u32) -> Visit,
) -> u32 {
    let next = numbers.len() as u32;
    *numbers.entry(n).or_insert_with(|| {
        queue.push_back(visit(n));
        next
    })
}

#[cfg(test)]
#[path = "text_key_tests.rs"]
mod tests;
