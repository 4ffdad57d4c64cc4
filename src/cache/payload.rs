//! How an emitted shard (or the memo's header) is laid out in a cache entry: per output kind,
//! a presence byte, then the length and the bytes. The entry around it (src/cache/mod.rs)
//! checks its own hash, so a payload that decodes at all is the one stored; `decode` still
//! refuses anything but this layout, and a refusal is a damaged entry, never a panic.

use crate::dump::output::{Emitted, OutputKind};

/// The payload of `emitted`.
pub fn encode(emitted: &Emitted) -> Vec<u8> {
    let mut out = Vec::new();
    for kind in OutputKind::ALL {
        match emitted.get(kind) {
            Some(bytes) => {
                out.push(1);
                out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.push(0),
        }
    }
    out
}

/// The shard `payload` holds; `None` if it is not one.
pub fn decode(mut payload: &[u8]) -> Option<Emitted> {
    let mut emitted = Emitted::default();
    for kind in OutputKind::ALL {
        let (&present, rest) = payload.split_first()?;
        payload = rest;
        match present {
            0 => {}
            1 => {
                let len = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
                let len = usize::try_from(len).ok()?;
                let end = 8usize.checked_add(len)?;
                emitted.set(kind, payload.get(8..end)?.to_vec());
                payload = &payload[end..];
            }
            _ => return None,
        }
    }
    payload.is_empty().then_some(emitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_refuse_what_they_are_not() {
        let mut emitted = Emitted::default();
        emitted.set(OutputKind::Object, b"ELF".to_vec());
        emitted.set(OutputKind::Assembly, Vec::new());
        let payload = encode(&emitted);
        let back = decode(&payload).unwrap();
        assert_eq!(back.get(OutputKind::Object), Some(&b"ELF"[..]));
        assert_eq!(back.get(OutputKind::Bitcode), None);
        assert_eq!(back.get(OutputKind::Assembly), Some(&b""[..]));
        for cut in 0..payload.len() {
            assert!(decode(&payload[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        let mut bad = payload;
        bad[0] = 2;
        assert!(decode(&bad).is_none());
    }
}
