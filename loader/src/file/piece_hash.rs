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

/// Bytes of the covered stream per piece; the last piece may be shorter.
pub const PIECE_LEN: usize = 1 << 20;

/// The checksum of the stream made of `parts` of `bytes` (file ranges, in order, disjoint),
/// with the 8 bytes at file offset `field` read as zero: pieces of `piece_len` stream bytes,
/// each hashed on whichever core of rayon's global pool takes it.
pub(crate) fn pieces_checksum(
    bytes: &[u8],
    parts: &[Range<usize>],
    field: usize,
    piece_len: usize,
) -> u64 {
    let stream = Stream::new(bytes, parts, field);
    let mut digests = vec![0u64; stream.len.div_ceil(piece_len).max(1)];
    hash_pieces(&stream, piece_len, 0, &mut digests);
    combine(&digests)
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

/// Hashes the pieces `first..first + out.len()` into `out`, halving the work across the pool
/// until one piece is left (rayon's `join`: the caller takes one half, an idle core the other).
fn hash_pieces(stream: &Stream, piece_len: usize, first: usize, out: &mut [u64]) {
    if let [digest] = out {
        let start = first * piece_len;
        *digest = stream.hash(start..(start + piece_len).min(stream.len));
        return;
    }
    let half = out.len() / 2;
    let (left, right) = out.split_at_mut(half);
    rayon_core::join(
        || hash_pieces(stream, piece_len, first, left),
        || hash_pieces(stream, piece_len, first + half, right),
    );
}

/// The covered stream as a list of file ranges, each with where it starts in the stream.
struct Stream<'a> {
    bytes: &'a [u8],
    /// (stream offset, file range), by stream offset.
    parts: Vec<(usize, Range<usize>)>,
    field: Range<usize>,
    len: usize,
}

impl<'a> Stream<'a> {
    fn new(bytes: &'a [u8], parts: &[Range<usize>], field: usize) -> Stream<'a> {
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
            bytes,
            parts,
            field: field..field.saturating_add(8),
            len: at,
        }
    }

    /// xxh3-64 of the stream bytes `range`.
    fn hash(&self, range: Range<usize>) -> u64 {
        let first = self
            .parts
            .partition_point(|(start, part)| start + part.len() <= range.start);
        // Most pieces are one run of file bytes without the checksum field: hashed in one
        // call, which xxh3 does about 12% faster than its streaming state (31 against
        // 27.5 GB/s on one core of the bench machine, 1 MiB pieces in cache; same value).
        if let Some((start, part)) = self.parts.get(first) {
            let from = part.start + range.start.saturating_sub(*start);
            let to = part.start + (range.end - start).min(part.len());
            let within_part = to - from == range.len();
            if within_part && (to <= self.field.start || from >= self.field.end) {
                return xxhash_rust::xxh3::xxh3_64(&self.bytes[from..to]);
            }
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (start, part) in &self.parts[first..] {
            if *start >= range.end {
                break;
            }
            let from = part.start + range.start.saturating_sub(*start);
            let to = part.start + (range.end - start).min(part.len());
            self.feed(&mut hasher, from..to);
        }
        hasher.digest()
    }

    /// Feeds the file bytes `range` to `hasher`, the checksum field's bytes as zero.
    fn feed(&self, hasher: &mut xxhash_rust::xxh3::Xxh3, range: Range<usize>) {
        let zeroed = range.start.max(self.field.start)..range.end.min(self.field.end);
        if zeroed.is_empty() {
            hasher.update(&self.bytes[range]);
            return;
        }
        hasher.update(&self.bytes[range.start..zeroed.start]);
        hasher.update(&[0u8; 8][..zeroed.len()]);
        hasher.update(&self.bytes[zeroed.end..range.end]);
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

    #[test]
    fn the_piece_length_is_part_of_the_value() {
        let bytes = vec![3u8; 3 * PIECE_LEN + 5];
        let a = stream_checksum(&bytes, PIECE_LEN);
        assert_ne!(a, stream_checksum(&bytes, PIECE_LEN / 2));
        assert_ne!(a, xxhash_rust::xxh3::xxh3_64(&bytes));
    }

    #[test]
    fn an_empty_stream_has_one_empty_piece() {
        assert_eq!(
            pieces_checksum(&[1, 2, 3], &[], 100, 16),
            stream_checksum(&[], 16)
        );
    }
}
