//! The command implementations behind `src/main.rs`.

pub mod args;
pub mod compile;
pub mod inspect;
pub mod run;
pub mod supervise;
