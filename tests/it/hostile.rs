//! Hostile files: what the loader opens is what it verified, whatever else happens to the path.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use aotload::{Image, ImageFile, LoadOptions};

use crate::common::*;

/// The image of `hostile/which.c` built with `-DTAG=tag`.
fn which_image(dir: &Path, tag: u32) -> PathBuf {
    let ir = dir.join(format!("which{tag}.ll"));
    let define = format!("-DTAG={tag}");
    clang_ir(
        &repo().join("tests/it/hostile/which.c"),
        &ir,
        &["-O2", "-S", "-emit-llvm", &define],
    );
    let image = dir.join(format!("which{tag}.so"));
    build_image(&ir, &image, &["--cpu-target".into(), "generic".into()]);
    image
}

/// A background thread keeps renaming fresh copies of two images over one path while the
/// loader opens that path: every open that succeeds runs the code and the constructor of the
/// file it verified (told by the method hash in its metadata), never the other one's.
#[test]
fn swapping_the_file_during_opens_never_runs_the_other_files_code() {
    let dir = scratch("hostile-swap");
    let images = [which_image(&dir, 1), which_image(&dir, 2)];
    let hash_of = |path: &Path| open(path).meta().methods[0].hash;
    let hashes = [hash_of(&images[0]), hash_of(&images[1])];
    assert_ne!(hashes[0], hashes[1]);
    let target = dir.join("image.so");
    std::fs::copy(&images[0], &target).unwrap();

    let stop = AtomicBool::new(false);
    let (mut seen, mut refused) = ([0usize; 2], Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                // A new file (a new inode) each time, renamed over the path atomically.
                let fresh = dir.join(format!("fresh-{}.so", i % 4));
                std::fs::copy(&images[i % 2], &fresh).unwrap();
                std::fs::rename(&fresh, &target).unwrap();
                i += 1;
            }
        });
        for _ in 0..300 {
            match Image::open(&target, &LoadOptions::default()) {
                Ok(image) => {
                    let which = hashes
                        .iter()
                        .position(|&h| h == image.meta().methods[0].hash)
                        .expect("the metadata of one of the two images");
                    let f = image.lookup("which").unwrap();
                    // SAFETY: `which` is `long (void)` in both images.
                    let f: extern "C" fn() -> i64 = unsafe { std::mem::transmute(f) };
                    let expected = 11 * (which as i64 + 1);
                    assert_eq!(
                        f(),
                        expected,
                        "verified image {}, ran other code",
                        which + 1
                    );
                    seen[which] += 1;
                }
                Err(e) => refused.push(e.to_string()),
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    // Each open reads one whole file (renames are atomic), so none needs refusing.
    assert!(refused.is_empty(), "refused: {refused:?}");
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "opened {seen:?}: the swap did not happen"
    );
}

/// A file rewritten in place (the same inode) after the process loaded it: the dynamic loader
/// hands back the object it already holds, whose root head (checksum) is not the verified
/// file's, so the open is refused as stale instead of pairing the old object's code with the
/// new file's tables.
#[test]
fn a_file_rewritten_in_place_after_loading_is_refused_as_stale() {
    use std::io::Write as _;
    let dir = scratch("hostile-stale");
    let images = [which_image(&dir, 1), which_image(&dir, 2)];
    let [one, two] = images.map(|p| std::fs::read(p).unwrap());
    assert_eq!(one.len(), two.len(), "the builds differ only in constants");
    assert_ne!(one, two);
    let target = dir.join("image.so");
    std::fs::write(&target, &one).unwrap();
    let first = open(&target);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&target)
        .unwrap();
    file.write_all(&two).unwrap();
    drop(file);
    match Image::open(&target, &LoadOptions::default()) {
        Err(e) => assert!(matches!(e.cause, aotload::LoadCause::Stale), "{e}"),
        Ok(_) => panic!("the object loaded before the rewrite was served for the new file"),
    }
    drop(first);
}

/// A damaged GNU hash table (the loader looks the root up in it before anything is verified)
/// never panics the lookup: tables it cannot use fall back to scanning the exports, any other
/// finds the root or falls back too, and the checksum then refuses the file.
#[test]
fn a_damaged_gnu_hash_table_is_survived_and_refused() {
    use object::{Object, ObjectSection};
    let good = std::fs::read(example_image("for-damage", &["--export-all"])).unwrap();
    fn parsed(bytes: &[u8]) -> object::File<'_> {
        object::File::parse(bytes).unwrap()
    }
    let root = aotload::root_symbol::root_address(&parsed(&good)).unwrap();
    assert!(root.is_some());
    let (table, size) = (parsed(&good).section_by_name(".gnu.hash"))
        .and_then(|s| s.file_range())
        .unwrap();
    let (table, size) = (table as usize, size as usize);
    let word = |bytes: &mut [u8], at: usize, value: u32| {
        bytes[table + 4 * at..table + 4 * at + 4].copy_from_slice(&value.to_le_bytes())
    };
    // 64-bit bloom words follow the four header words, then the buckets.
    let bloom_words = u32::from_le_bytes(good[table + 8..table + 12].try_into().unwrap());
    let first_bucket = 4 + 2 * bloom_words as usize;
    assert!(4 * first_bucket < size);
    // (word, value): the bucket count, the first hashed symbol, the bloom size and shift, the
    // bloom filter's first word, the first bucket pointing past the symbols and at symbol 1.
    let cases: Vec<(usize, u32)> = vec![
        (0, 0),
        (0, u32::MAX),
        (1, u32::MAX),
        (2, 0),
        (2, 3),
        (2, 1 << 31),
        (3, 32),
        (3, 63),
        (3, u32::MAX),
        (4, u32::MAX),
        (first_bucket, u32::MAX),
        (first_bucket, 1),
    ];
    for (at, value) in cases {
        let mut bytes = good.clone();
        word(&mut bytes, at, value);
        let found = aotload::root_symbol::root_address(&parsed(&bytes)).unwrap();
        assert_eq!(found, root, "word {at} = {value:#x}");
        let file = ImageFile::parse(&bytes).unwrap();
        match file.verify_checksum(&bytes) {
            Err(aotload::LoadCause::Checksum { .. }) => {}
            other => panic!("word {at} = {value:#x}: {other:?}"),
        }
    }
}
