//! What emission produces: the kinds of output asked for and the files one module became.
//! A leaf, so that the caches (which store these) and emission (which makes them) both import
//! it and not each other.

use serde::Serialize;

/// Which outputs to produce, like Julia's `--output-o/--output-bc/--output-asm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct EmitKinds {
    pub obj: bool,
    pub bc: bool,
    pub asm: bool,
}

impl Default for EmitKinds {
    fn default() -> Self {
        EmitKinds {
            obj: true,
            bc: false,
            asm: false,
        }
    }
}

/// The files one module (a shard or the header) became.
#[derive(Clone, Debug, Default)]
pub struct Emitted {
    pub object: Option<Vec<u8>>,
    pub bitcode: Option<Vec<u8>>,
    pub assembly: Option<Vec<u8>>,
}

/// One kind of output, and the file ending its archive members get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Object,
    Bitcode,
    Assembly,
}

impl OutputKind {
    pub const ALL: [OutputKind; 3] = [
        OutputKind::Object,
        OutputKind::Bitcode,
        OutputKind::Assembly,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            OutputKind::Object => "o",
            OutputKind::Bitcode => "bc",
            OutputKind::Assembly => "s",
        }
    }
}

impl EmitKinds {
    pub fn wants(&self, kind: OutputKind) -> bool {
        match kind {
            OutputKind::Object => self.obj,
            OutputKind::Bitcode => self.bc,
            OutputKind::Assembly => self.asm,
        }
    }
}

impl Emitted {
    pub fn set(&mut self, kind: OutputKind, bytes: Vec<u8>) {
        let slot = match kind {
            OutputKind::Object => &mut self.object,
            OutputKind::Bitcode => &mut self.bitcode,
            OutputKind::Assembly => &mut self.assembly,
        };
        *slot = Some(bytes);
    }

    pub fn get(&self, kind: OutputKind) -> Option<&[u8]> {
        match kind {
            OutputKind::Object => self.object.as_deref(),
            OutputKind::Bitcode => self.bitcode.as_deref(),
            OutputKind::Assembly => self.assembly.as_deref(),
        }
    }
}
