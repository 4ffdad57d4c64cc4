//! Issue 27: `inspect --edges` of a valid-looking 2 MB image whose one method has a 1 MB name
//! and calls itself 250,000 times. The text is 250 GB; the text output built it in memory and
//! aborted. Both outputs now stream it: run under an address-space limit, they finish.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

use aotload::ImageFile;

use crate::common::*;

const NAME_BYTES: usize = 1_000_000;
const CALLEES: usize = 250_000;
/// The address space `aotlink inspect` gets: the binary and LLVM's libraries, a small multiple
/// of the 5 MB file, far from the 250 GB the text is.
const ADDRESS_SPACE: u64 = 1 << 30;

/// A real image of one function with a 2.2 MB name (so its metadata has room), its metadata
/// rewritten in place as the probe did: the method's name 1 MB, its callees itself 250,000
/// times, the string table padded to the same length; then re-sealed.
fn long_name_many_callees_image() -> std::path::PathBuf {
    let dir = scratch("inspect-memory");
    let ir = dir.join("long.ll");
    let name = "f".repeat(2_200_000);
    // The host's triple, as clang wrote it into the example's IR.
    let example = std::fs::read_to_string(kernels_ll()).unwrap();
    let triple = (example.lines())
        .find(|l| l.starts_with("target triple"))
        .unwrap();
    let function = format!("define i64 @{name}(i64 %x) {{\n  ret i64 %x\n}}\n");
    std::fs::write(&ir, format!("{triple}\n{function}")).unwrap();
    let image = dir.join("long.so");
    build_image(&ir, &image, &["--cpu-target".into(), "generic".into()]);
    let mut bytes = std::fs::read(&image).unwrap();
    let file = ImageFile::parse(&bytes).unwrap();
    let mut meta = file.meta.clone();
    let long = "a".repeat(NAME_BYTES);
    meta.methods[0].name = long.clone();
    meta.methods[0].callees = vec![0; CALLEES];
    meta.exports[0].name = long;
    let mut encoded = meta.encode();
    let room = file.meta_file_range.len();
    let padding = room - encoded.len();
    // The last head word (the 14th, format 8) counts the string table's bytes, which end the
    // metadata.
    let strings = u32::from_le_bytes(encoded[52..56].try_into().unwrap()) as usize + padding;
    encoded[52..56].copy_from_slice(&(strings as u32).to_le_bytes());
    encoded.resize(room, b' ');
    bytes[file.meta_file_range.clone()].copy_from_slice(&encoded);
    reseal(&mut bytes, true);
    std::fs::write(&image, &bytes).unwrap();
    image
}

#[test]
fn inspect_edges_of_one_long_name_called_250000_times_streams_in_bounded_memory() {
    let image = long_name_many_callees_image();
    // It is a valid image: the checks hold, the metadata says what was written.
    let bytes = std::fs::read(&image).unwrap();
    let file = aotlink::inspect::read_verified(&bytes).unwrap();
    assert_eq!(file.meta.methods[0].name.len(), NAME_BYTES);
    assert_eq!(file.meta.methods[0].callees.len(), CALLEES);
    for json in [false, true] {
        let mut cmd = Command::new(aotlink());
        cmd.args(["inspect", "--edges"]);
        if json {
            cmd.arg("--json");
        }
        cmd.arg(&image).stdout(Stdio::null()).stderr(Stdio::piped());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: ADDRESS_SPACE,
                    rlim_max: ADDRESS_SPACE,
                };
                match libc::setrlimit(libc::RLIMIT_AS, &limit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "json {json}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
