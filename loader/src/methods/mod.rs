//! Methods across images: the method table that images add their exports to and resolve
//! their external methods through (`method_table.rs`), and the validation of a package
//! image's methods against the table as it is now, Julia's invalidation (`invalidation.rs`).
//!
//! This folder owns what a method *is* to the loader (name, signature, content hash) and when
//! one may be used. It reads an image's metadata in place and may not open, verify or
//! `dlopen` files: it receives images that `load` has opened.

pub mod invalidation;
pub mod method_table;
