//! What a piece of the print refers to, and how the pieces keep it: four bytes a reference.

/// A reference in a piece's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// A global: index into [`PrintedModule::globals`].
    Global(u32),
    /// A metadata node, by its number in the print.
    Metadata(u32),
    /// An attribute group, by its number in the print.
    Attributes(u32),
    /// A named type: index into the types.
    Type(u32),
    /// A name the print does not define: no key can be made through it.
    Unknown,
}

/// A [`Ref`] in four bytes, the kind in the top three bits (a print holds far fewer than
/// 2^29 of anything; a number past that reads as [`Ref::Unknown`], so the shard is cloned).
#[derive(Clone, Copy, Debug)]
pub(super) struct Packed(u32);

impl Packed {
    const INDEX: u32 = (1 << 29) - 1;

    pub(super) fn new(r: Ref) -> Packed {
        let (kind, index) = match r {
            Ref::Global(i) => (1, i),
            Ref::Metadata(n) => (2, n),
            Ref::Attributes(n) => (3, n),
            Ref::Type(t) => (4, t),
            Ref::Unknown => return Packed(0),
        };
        match index <= Packed::INDEX {
            true => Packed(kind << 29 | index),
            false => Packed(0),
        }
    }

    pub(super) fn get(self) -> Ref {
        let index = self.0 & Packed::INDEX;
        match self.0 >> 29 {
            1 => Ref::Global(index),
            2 => Ref::Metadata(index),
            3 => Ref::Attributes(index),
            4 => Ref::Type(index),
            _ => Ref::Unknown,
        }
    }
}
