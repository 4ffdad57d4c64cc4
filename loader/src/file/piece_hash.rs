//! The image checksum in pieces, hashed on all cores (format 6).
//!
//! Format 5 hashed the covered bytes as one xxh3-64 stream: one core, and an open of a
//! 141 MB image (SQLite with 128 MB of image data) took 26 ms, 80–106x a bare dlopen. Most of
//! that is the kernel mapping page-cache pages into the process as the hash faults them in
//! (hashing the same bytes already mapped takes a third of it), and that part only divides
//! across cores if the hash does. Measured on the 2-core bench machine, 141 MB mapped cold:
//! one xxh3 stream 17–21 ms; 1 MiB pieces of xxh3 on rayon's pool 8.6–11.7 ms; BLAKE3 on the
//! same pool 21 ms (its compression costs more than the faults it spreads); `MAP_POPULATE`
//! before hashing 16–23 ms (the kernel maps on one core); `pread` into a small buffer per
//! thread 16–17 ms (the copy). So the checksum is xxh3-64 over the xxh3-64 of each
//! [`PIECE_LEN`] bytes of the covered stream: the pieces are fixed, so the value does not
//! depend on how many cores computed it.
//!
//! The covered stream is the file's bytes in order without the left-out ranges, the checksum
//! field read as zero (`coverage.rs` says which bytes those are).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of the covered stream per piece; the last piece may be shorter.
pub const PIECE_LEN: usize = 1 << 20;

/// The checksum of the stream made of `parts` of `bytes` (file ranges, in order, disjoint),
/// with the 8 bytes at file offset `field` read as zero, in pieces of `piece_len` stream bytes
/// ([`pieces_checksum_beside`] with nothing beside; tests).
#[cfg(test)]
pub(crate) fn pieces_checksum(
    bytes: &[u8],
    parts: &[Range<usize>],
    field: usize,
    piece_len: usize,
) -> u64 {
    pieces_checksum_beside(bytes, parts, field, piece_len, || ()).1
}

/// The checksum of the stream made of `parts` of `bytes` (file ranges, in order, disjoint),
/// with the 8 bytes at file offset `field` read as zero, in pieces of `piece_len` stream
/// bytes, while this thread runs `beside`. Helpers on rayon's pool (one fewer than its
/// threads, at most one fewer than the pieces) take pieces from the start; this thread runs
/// `beside`, then takes pieces as well, then waits for those still being hashed. Returns what
/// `beside` returned and the checksum.
///
/// This thread works instead of waiting for the pool: a first open of SQLite's image with
/// `rayon_core::join(decode, hash)` ran both halves on one pool thread more often than not
/// (the other worker woke too late to steal the second half) while the opening thread slept:
/// median 0.54–0.69 ms from the start of the open to the end of the hash, against 0.31–0.35 ms
/// at best (laps inside `Image::open`, 200 opens, an idle 2-core machine). Now a helper that
/// wakes late only finds fewer pieces left, and the wait is at most for the last piece.
pub(crate) fn pieces_checksum_beside<R>(
    bytes: &[u8],
    parts: &[Range<usize>],
    field: usize,
    piece_len: usize,
    beside: impl FnOnce() -> R,
) -> (R, u64) {
    let stream = Stream::new(parts, field);
    let count = stream.len.div_ceil(piece_len).max(1);
    let pieces = Arc::new(Pieces {
        base: bytes.as_ptr(),
        len: bytes.len(),
        stream,
        piece_len,
        count,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        digests: (0..count).map(|_| AtomicU64::new(0)).collect(),
        owner: std::thread::current(),
    });
    let helpers = rayon_core::current_num_threads()
        .saturating_sub(1)
        .min(count - 1);
    for _ in 0..helpers {
        let pieces = pieces.clone();
        rayon_core::spawn(move || pieces.hash_while_left(Hasher::Helper));
    }
    // Waits for the helpers' pieces on the way out, a panic in `beside` included: they read
    // `bytes`, which the caller may free once this returns.
    let finished = Finished(&pieces);
    let result = beside();
    pieces.hash_while_left(Hasher::Owner);
    drop(finished);
    let digests: Vec<u64> = (pieces.digests.iter())
        .map(|d| d.load(Ordering::Relaxed))
        .collect();
    (result, combine(&digests))
}

/// The pieces of one checksum, shared by the thread that wants it and its helpers.
struct Pieces {
    /// The file's bytes, as a pointer: a helper may still hold this after the owner returned
    /// (it then finds no piece left), and reads the bytes only for a piece it claimed, which
    /// the owner waits for.
    base: *const u8,
    len: usize,
    stream: Stream,
    piece_len: usize,
    count: usize,
    /// The next piece to claim (claims past `count` find none).
    next: AtomicUsize,
    /// Pieces hashed.
    done: AtomicUsize,
    digests: Box<[AtomicU64]>,
    /// The thread that waits for the last piece.
    owner: std::thread::Thread,
}

// SAFETY: `base..base + len` is only read, and only while the owner waits (see `base`).
unsafe impl Send for Pieces {}
unsafe impl Sync for Pieces {}

#[derive(Clone, Copy, PartialEq)]
enum Hasher {
    Owner,
    Helper,
}

impl Pieces {
    /// Claims and hashes pieces until none is left.
    fn hash_while_left(&self, who: Hasher) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.count {
                return;
            }
            // SAFETY: piece `i` is claimed and not yet counted as done: the owner has not
            // returned (`Finished`), so the bytes it was given are alive.
            let bytes = unsafe { std::slice::from_raw_parts(self.base, self.len) };
            let start = i * self.piece_len;
            let end = (start + self.piece_len).min(self.stream.len);
            self.digests[i].store(self.stream.hash(bytes, start..end), Ordering::Relaxed);
            let done = self.done.fetch_add(1, Ordering::Release) + 1;
            if done == self.count && who == Hasher::Helper {
                self.owner.unpark();
            }
        }
    }
}

/// Waits, when dropped, until every piece claimed has been hashed, and stops further claims.
struct Finished<'a>(&'a Pieces);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        let pieces = self.0;
        let claimed = pieces
            .next
            .swap(pieces.count, Ordering::Relaxed)
            .min(pieces.count);
        // A helper's last piece is most often partly hashed by now: yield for about two
        // pieces' time (1 MiB at 20 GB/s is 50 µs; yielding, not spinning, in case the helper
        // was woken on this thread's core), then park until the helper unparks this thread (or
        // a timeout: after a panic in `beside`, fewer than all pieces are claimed).
        let yield_until = std::time::Instant::now() + std::time::Duration::from_micros(100);
        while pieces.done.load(Ordering::Acquire) < claimed {
            match std::time::Instant::now() < yield_until {
                true => std::thread::yield_now(),
                false => std::thread::park_timeout(std::time::Duration::from_micros(200)),
            }
        }
    }
}

/// The checksum's definition, on the covered stream already laid out in memory (tests, and
/// what [`pieces_checksum`] must equal).
#[cfg(test)]
pub(crate) fn stream_checksum(stream: &[u8], piece_len: usize) -> u64 {
    let digests: Vec<u64> = match stream.is_empty() {
        true => vec![xxhash_rust::xxh3::xxh3_64(&[])],
        false => (stream.chunks(piece_len))
            .map(xxhash_rust::xxh3::xxh3_64)
            .collect(),
    };
    combine(&digests)
}

/// xxh3-64 of the pieces' digests, each as 8 little-endian bytes.
fn combine(digests: &[u64]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for digest in digests {
        hasher.update(&digest.to_le_bytes());
    }
    hasher.digest()
}

/// The covered stream as a list of file ranges, each with where it starts in the stream.
struct Stream {
    /// (stream offset, file range), by stream offset.
    parts: Vec<(usize, Range<usize>)>,
    field: Range<usize>,
    len: usize,
}

impl Stream {
    fn new(parts: &[Range<usize>], field: usize) -> Stream {
        let mut at = 0;
        let parts = (parts.iter())
            .filter(|part| !part.is_empty())
            .map(|part| {
                let entry = (at, part.clone());
                at += part.len();
                entry
            })
            .collect();
        Stream {
            parts,
            field: field..field.saturating_add(8),
            len: at,
        }
    }

    /// xxh3-64 of the stream bytes `range`, the stream being made of `bytes`.
    fn hash(&self, bytes: &[u8], range: Range<usize>) -> u64 {
        let first = self
            .parts
            .partition_point(|(start, part)| start + part.len() <= range.start);
        // Most pieces are one run of file bytes without the checksum field: hashed in one
        // call, which xxh3 does about 12% faster than its streaming state (31 against
        // 27.5 GB/s on one core of the bench machine, 1 MiB pieces in cache; same value), by
        // `twox-hash`, which picks AVX2 at run time where the CPU has it (`xxhash-rust` picks
        // its vector code when it is compiled: SSE2 for any x86-64; 46 against 23 GB/s on
        // 1 MiB in cache, 21 against 17.5 from memory, same values).
        if let Some((start, part)) = self.parts.get(first) {
            let from = part.start + range.start.saturating_sub(*start);
            let to = part.start + (range.end - start).min(part.len());
            let within_part = to - from == range.len();
            if within_part && (to <= self.field.start || from >= self.field.end) {
                return twox_hash::XxHash3_64::oneshot(&bytes[from..to]);
            }
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (start, part) in &self.parts[first..] {
            if *start >= range.end {
                break;
            }
            let from = part.start + range.start.saturating_sub(*start);
            let to = part.start + (range.end - start).min(part.len());
            self.feed(&mut hasher, bytes, from..to);
        }
        hasher.digest()
    }

    /// Feeds the file bytes `range` to `hasher`, the checksum field's bytes as zero.
    fn feed(&self, hasher: &mut xxhash_rust::xxh3::Xxh3, bytes: &[u8], range: Range<usize>) {
        let zeroed = range.start.max(self.field.start)..range.end.min(self.field.end);
        if zeroed.is_empty() {
            hasher.update(&bytes[range]);
            return;
        }
        hasher.update(&bytes[range.start..zeroed.start]);
        hasher.update(&[0u8; 8][..zeroed.len()]);
        hasher.update(&bytes[zeroed.end..range.end]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream laid out in memory, as the definition reads it.
    fn laid_out(bytes: &[u8], parts: &[Range<usize>], field: usize) -> Vec<u8> {
        let mut copy = bytes.to_vec();
        copy[field..field + 8].fill(0);
        parts
            .iter()
            .flat_map(|p| copy[p.clone()].to_vec())
            .collect()
    }

    #[test]
    fn pieces_on_the_pool_equal_the_definition_wherever_pieces_and_parts_cut() {
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let parts = [0..1200, 1300..1301, 1400..4000, 4500..5000];
        for field in [0, 1195, 1400, 2000, 4992] {
            let stream = laid_out(&bytes, &parts, field);
            for piece_len in [1, 7, 64, 1000, 1201, 4300, 1 << 20] {
                assert_eq!(
                    pieces_checksum(&bytes, &parts, field, piece_len),
                    stream_checksum(&stream, piece_len),
                    "field {field}, pieces of {piece_len}"
                );
            }
        }
    }

    /// The checksum is xxh3-64 whoever computes it: the one-call path (`twox-hash`, vector
    /// code chosen at run time) and `xxhash-rust` (the writer's, and this file's streaming
    /// path) agree at every length to three of xxh3's 1 KiB blocks and around the pieces.
    #[test]
    fn both_xxh3_implementations_agree_at_every_boundary() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<u8> = (0..(1 << 20) + 100)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for len in (0..3 * 1024 + 200).chain([(1 << 20) - 1, 1 << 20, (1 << 20) + 1]) {
            let input = &data[..len];
            assert_eq!(
                twox_hash::XxHash3_64::oneshot(input),
                xxhash_rust::xxh3::xxh3_64(input),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn the_piece_length_is_part_of_the_value() {
        let bytes = vec![3u8; 3 * PIECE_LEN + 5];
        let a = stream_checksum(&bytes, PIECE_LEN);
        assert_ne!(a, stream_checksum(&bytes, PIECE_LEN / 2));
        assert_ne!(a, xxhash_rust::xxh3::xxh3_64(&bytes));
    }

    #[test]
    fn what_runs_beside_the_hash_comes_back_with_the_sum() {
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let parts = [0..40_000, 40_100..100_000];
        let stream = laid_out(&bytes, &parts, 64);
        for piece_len in [1000, 4096, 1 << 20] {
            let (beside, sum) = pieces_checksum_beside(&bytes, &parts, 64, piece_len, || 42);
            assert_eq!(beside, 42);
            assert_eq!(
                sum,
                stream_checksum(&stream, piece_len),
                "pieces of {piece_len}"
            );
        }
    }

    #[test]
    fn a_panic_beside_the_hash_reaches_the_caller_after_the_helpers_stopped() {
        let bytes = vec![9u8; 1 << 16];
        let parts = [0..1000, 1000..bytes.len()];
        let result = std::panic::catch_unwind(|| {
            pieces_checksum_beside(&bytes, &parts, 0, 16, || panic!("beside"))
        });
        assert!(result.is_err());
        // The pool is still usable, and the bytes hash as before.
        assert_eq!(
            pieces_checksum(&bytes, &parts, 0, 16),
            stream_checksum(&laid_out(&bytes, &parts, 0), 16)
        );
    }

    #[test]
    fn an_empty_stream_has_one_empty_piece() {
        assert_eq!(
            pieces_checksum(&[1, 2, 3], &[], 100, 16),
            stream_checksum(&[], 16)
        );
    }
}
