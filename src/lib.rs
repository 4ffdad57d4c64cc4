use inkwell as _; use lld_rs as _; use ar_archive_writer as _;
