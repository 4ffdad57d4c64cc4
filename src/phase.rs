//! The phases a build's time is reported in, each spelled once (`--timings`, the JSON report,
//! the benches), and the clock that times them. A leaf: dump and the build both time their
//! steps with it, and it imports neither.

use std::time::{Duration, Instant};

/// One step of a build, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhaseName {
    ReadInputs,
    /// The whole dump taken from the memo of an unchanged build.
    ReuseDump,
    CheckInputs,
    /// The text input cut into its function bodies (`codegen/function_texts.rs`).
    Cut,
    /// The record of the build before read, and the input written again with the unchanged
    /// bodies stubbed (`build/rebuild.rs`).
    Stub,
    /// A rebuild from stubs that was given up (the build then parses everything): its time.
    StubsRefused,
    /// codegen: the inputs parsed (and verified, unless checked in a child), merged, their
    /// local names dropped.
    Parse,
    /// codegen: what the trace or the exports reach kept, the rest removed.
    Select,
    /// codegen: functions and globals numbered, exports and external methods found.
    Index,
    /// codegen: the module printed and cut into the pieces the keys and hashes are made of.
    Print,
    RemoteConnect,
    Annotate,
    Partition,
    /// The shards' keys from the module's print, and the stores' answers for them.
    CacheLookup,
    Split,
    /// Waiting for the header object, made beside the split.
    Header,
    Emit,
    RemoteUpload,
    /// Waiting for the record a later rebuild reads (`build/rebuild.rs`), written beside the
    /// emission.
    Remember,
    CacheEvict,
    Archive,
    LinkAndSeal,
}

impl PhaseName {
    /// As reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::ReadInputs => "read-inputs",
            PhaseName::ReuseDump => "reuse-dump",
            PhaseName::CheckInputs => "check-inputs",
            PhaseName::Cut => "cut",
            PhaseName::Stub => "stub",
            PhaseName::StubsRefused => "stubs-refused",
            PhaseName::Parse => "parse",
            PhaseName::Select => "select",
            PhaseName::Index => "index",
            PhaseName::Print => "print",
            PhaseName::RemoteConnect => "remote-connect",
            PhaseName::Annotate => "annotate",
            PhaseName::Partition => "partition",
            PhaseName::CacheLookup => "cache-lookup",
            PhaseName::Split => "split",
            PhaseName::Header => "header",
            PhaseName::Emit => "emit",
            PhaseName::RemoteUpload => "remote-upload",
            PhaseName::Remember => "remember",
            PhaseName::CacheEvict => "cache-evict",
            PhaseName::Archive => "archive",
            PhaseName::LinkAndSeal => "link+seal",
        }
    }
}

impl std::fmt::Display for PhaseName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for PhaseName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Phases as they end, each timed from the end of the one before.
#[derive(Clone, Debug)]
pub struct PhaseClock {
    phases: Vec<(PhaseName, Duration)>,
    clock: Instant,
}

impl Default for PhaseClock {
    fn default() -> Self {
        PhaseClock::continuing(Vec::new())
    }
}

impl PhaseClock {
    /// A clock that goes on from `phases` timed before, starting now.
    pub fn continuing(phases: Vec<(PhaseName, Duration)>) -> PhaseClock {
        PhaseClock {
            phases,
            clock: Instant::now(),
        }
    }

    /// Ends `phase`, which began at the last lap (or when the clock started).
    pub fn lap(&mut self, phase: PhaseName) {
        self.phases.push((phase, self.clock.elapsed()));
        self.clock = Instant::now();
    }

    /// Phases timed elsewhere, which ended just now.
    pub fn absorb(&mut self, phases: &[(PhaseName, Duration)]) {
        self.phases.extend_from_slice(phases);
        self.clock = Instant::now();
    }

    pub fn phases(&self) -> &[(PhaseName, Duration)] {
        &self.phases
    }

    pub fn done(self) -> Vec<(PhaseName, Duration)> {
        self.phases
    }
}
