//! Loading: a verified image handed to the dynamic loader, its shard tables merged and its
//! dispatch slots filled (`image.rs`), the platform's `dlopen` / `LoadLibrary` on the very file
//! that was verified (`library.rs`), and calling a loaded function by its C signature
//! (`call.rs`).
//!
//! This folder owns everything that runs code of an image or writes into its memory, and the
//! order of an open (checks first, then `dlopen`). It may not decode or check the format
//! itself (that is `format` and `file`), detect the host (`host`) or decide between targets
//! (`select.rs`): it calls them.

pub mod call;
pub mod image;
pub(crate) mod library;
