//! Integration tests: IR -> image -> loader -> call, through the `aotlink` binary and the
//! `aotload` crate. One test binary (modules below), fixtures built at test time from sources
//! in the repository.

mod bad_input;
#[path = "../support/buildgrid.rs"]
mod buildgrid;
mod c_api;
#[path = "../support/c_kernels.rs"]
mod c_kernels;
mod cache;
mod capi;
mod common;
mod coverage;
mod cplusplus;
mod cross;
mod determinism;
mod exit_handlers;
mod exports;
mod hostile;
mod inspect_memory;
mod libraries;
mod local_numbers;
mod lua;
mod methods;
mod multiversion;
mod mutation;
mod numba;
mod pipeline;
mod producers;
mod rebuild;
mod relocations;
mod remote;
mod runtime;
mod rust_crate;
mod scale;
mod signing;
mod sqlite;
mod supervise;
mod symbols;
mod translation_units;
mod unwinder;
mod vectors;
mod verdicts;
