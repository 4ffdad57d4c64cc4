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

use std::collections::VecDeque;

use super::partition::ShardPlan;
use crate::cache::key::{Key, KeyHasher};
use crate::codegen::printed::{Piece, PrintedModule, Ref};

/// What a shard's key is made of, from the print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardText {
    pub digest: Key,
    /// The functions (and aliases, ifuncs) the shard defines or declares, as indices into
    /// the print's globals: whose clone sets its job carries.
    pub callables: Vec<u32>,
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

/// The walk's own numbers for metadata nodes or attribute groups, in the order it meets
/// them, by the print's numbers.
struct Numbering {
    ids: Vec<u32>,
    next: u32,
}

impl Numbering {
    /// Not met yet.
    const UNSEEN: u32 = u32::MAX;

    fn new(count: usize) -> Numbering {
        Numbering {
            ids: vec![Numbering::UNSEEN; count],
            next: 0,
        }
    }

    /// The walk's number for the print's `n`, and whether it was met just now; `None` for a
    /// number the print does not define.
    fn number(&mut self, n: u32) -> Option<(u32, bool)> {
        let id = self.ids.get_mut(n as usize)?;
        let new = *id == Numbering::UNSEEN;
        if new {
            *id = self.next;
            self.next += 1;
        }
        Some((*id, new))
    }

    fn forget(&mut self, n: u32) {
        self.ids[n as usize] = Numbering::UNSEEN;
    }
}

/// Walks shards of one print, one after another: its tables are indexed by the print's own
/// numbers and only what one walk touched is reset for the next (a shard of a module with
/// debug information meets tens of thousands of metadata nodes).
pub struct Walker<'p> {
    printed: &'p PrintedModule,
    /// Per global: whether this walk met it, and as what.
    globals: Vec<Met>,
    metadata: Numbering,
    attributes: Numbering,
    types: Vec<bool>,
    touched: Vec<Visit>,
    queue: VecDeque<Visit>,
    /// What the digest hashes, in the walk's order: each piece's tag and hash, then its
    /// metadata and attribute group references by the walk's numbers.
    stream: Vec<u8>,
}

/// How a walk met a global.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Met {
    Not,
    /// One of the shard's definitions.
    Member,
    /// Referenced, so declared in the shard.
    Declared,
}

impl<'p> Walker<'p> {
    pub fn new(printed: &'p PrintedModule) -> Walker<'p> {
        let (metadata, attributes, types) = printed.counts();
        Walker {
            printed,
            globals: vec![Met::Not; printed.globals.len()],
            metadata: Numbering::new(metadata),
            attributes: Numbering::new(attributes),
            types: vec![false; types],
            touched: Vec::new(),
            queue: VecDeque::new(),
            stream: Vec::new(),
        }
    }

    /// The digest of the shard that defines `members` (LLVM's names), with LLVM's own
    /// globals when `keep_special` (shard 0), as [`crate::llvm::clone_shard`] makes it;
    /// `None` when the print does not name a member or a reference.
    pub fn shard_text(&mut self, members: &[String], keep_special: bool) -> Option<ShardText> {
        self.reset();
        let printed = self.printed;
        for name in members {
            let printed_name = crate::codegen::printed_name(name);
            let g = printed.global(&printed_name[1..])?;
            self.own(g);
        }
        if keep_special {
            for (i, g) in printed.globals.iter().enumerate() {
                if g.llvm_special && self.globals[i] == Met::Not {
                    self.own(i as u32);
                }
            }
        }
        for i in 0..printed.named_metadata.len() {
            self.queue.push_back(Visit::NamedMetadata(i));
        }
        let callables = self.run()?;
        let mut hasher = KeyHasher::plain();
        hasher
            .field(&printed.common.to_le_bytes())
            .field(&self.stream);
        Some(ShardText {
            digest: hasher.finish(),
            callables,
        })
    }

    fn own(&mut self, g: u32) {
        self.globals[g as usize] = Met::Member;
        self.meet(Visit::Member(g));
    }

    /// Queues what the walk meets for the first time (and remembers to forget it).
    fn meet(&mut self, visit: Visit) {
        self.touched.push(visit);
        self.queue.push_back(visit);
    }

    /// Forgets the last walk.
    fn reset(&mut self) {
        for visit in self.touched.drain(..) {
            match visit {
                Visit::Member(g) | Visit::Declared(g) => self.globals[g as usize] = Met::Not,
                Visit::Metadata(n) => self.metadata.forget(n),
                Visit::Attributes(n) => self.attributes.forget(n),
                Visit::Type(t) => self.types[t as usize] = false,
                Visit::NamedMetadata(_) => {}
            }
        }
        self.queue.clear();
        self.stream.clear();
        self.metadata.next = 0;
        self.attributes.next = 0;
    }

    /// Visits everything queued and what it reaches; the callables met.
    fn run(&mut self) -> Option<Vec<u32>> {
        let printed = self.printed;
        let mut callables = Vec::new();
        while let Some(visit) = self.queue.pop_front() {
            // (tag, piece, whether its globals and metadata come into the shard)
            let (tag, piece, whole): (u8, &Piece, bool) = match visit {
                Visit::Member(g) | Visit::Declared(g) => {
                    let global = &printed.globals[g as usize];
                    if global.callable {
                        callables.push(g);
                    }
                    match visit {
                        Visit::Member(_) => (b'M', &global.full, true),
                        // A declaration copies the global's type, linkage-free attributes and
                        // attribute groups; not its metadata, personality or initializer.
                        _ => (b'D', &global.declared, false),
                    }
                }
                Visit::Metadata(n) => (b'!', printed.metadata(n)?, true),
                Visit::NamedMetadata(i) => (b'N', &printed.named_metadata[i], true),
                Visit::Attributes(n) => (b'#', printed.attributes(n)?, true),
                Visit::Type(t) => (b'%', printed.named_type(t), true),
            };
            self.stream.push(tag);
            self.stream.extend_from_slice(&piece.hash.to_le_bytes());
            for r in printed.refs(piece) {
                match r {
                    Ref::Global(g) => {
                        if whole && self.globals[g as usize] == Met::Not {
                            self.globals[g as usize] = Met::Declared;
                            self.meet(Visit::Declared(g));
                        }
                    }
                    Ref::Metadata(n) if whole => {
                        let (id, new) = self.metadata.number(n)?;
                        if new {
                            self.meet(Visit::Metadata(n));
                        }
                        self.stream.push(b'!');
                        self.stream.extend_from_slice(&id.to_le_bytes());
                    }
                    Ref::Metadata(_) => {}
                    Ref::Attributes(n) => {
                        let (id, new) = self.attributes.number(n)?;
                        if new {
                            self.meet(Visit::Attributes(n));
                        }
                        self.stream.push(b'#');
                        self.stream.extend_from_slice(&id.to_le_bytes());
                    }
                    Ref::Type(t) => {
                        if !self.types[t as usize] {
                            self.types[t as usize] = true;
                            self.meet(Visit::Type(t));
                        }
                    }
                    Ref::Unknown => return None,
                }
            }
        }
        Some(callables)
    }
}

/// The texts of `plans`' shards (see [`Walker::shard_text`]), on up to `threads` threads;
/// `None` for those `skip` names (keyed otherwise).
pub fn shard_texts(
    printed: &PrintedModule,
    plans: &[ShardPlan],
    threads: usize,
    skip: &(dyn Fn(&ShardPlan) -> bool + Sync),
) -> Vec<Option<ShardText>> {
    let threads = threads.clamp(1, plans.len().max(1));
    let mut texts: Vec<Option<ShardText>> = vec![None; plans.len()];
    std::thread::scope(|scope| {
        let chunk = plans.len().div_ceil(threads).max(1);
        for (plans, texts) in plans.chunks(chunk).zip(texts.chunks_mut(chunk)) {
            scope.spawn(move || {
                let mut walker = Walker::new(printed);
                for (plan, text) in plans.iter().zip(texts) {
                    if !skip(plan) {
                        *text = walker.shard_text(&plan.members, plan.index == 0);
                    }
                }
            });
        }
    });
    texts
}

#[cfg(test)]
#[path = "text_key_tests.rs"]
mod tests;
