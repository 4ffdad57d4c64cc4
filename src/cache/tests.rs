use super::*;

fn key(n: u8) -> Key {
    Key(*blake3::hash(&[n]).as_bytes())
}

fn cache(max: u64) -> (tempfile::TempDir, ShardCache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = ShardCache::open(dir.path().join("c"), max).unwrap();
    (dir, cache)
}

#[test]
fn stored_payload_comes_back() {
    let (_d, c) = cache(1 << 20);
    assert!(matches!(c.get(&key(1)), Lookup::Miss));
    c.put(&key(1), b"object bytes").unwrap();
    match c.get(&key(1)) {
        Lookup::Hit(p) => assert_eq!(p, b"object bytes"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(c.get(&key(2)), Lookup::Miss));
    assert_eq!(c.stats().unwrap().shards, 1);
}

#[test]
fn every_flipped_byte_and_every_truncation_is_damage() {
    let (_d, c) = cache(1 << 20);
    let payload: Vec<u8> = (0..200u8).collect();
    c.put(&key(1), &payload).unwrap();
    let path = c.entry_path(Space::Shards, &key(1));
    let good = fs::read(&path).unwrap();
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        fs::write(&path, &bad).unwrap();
        assert!(
            matches!(c.get(&key(1)), Lookup::Damaged(_)),
            "flip at {at} not caught"
        );
        assert!(!path.exists(), "a damaged entry is removed");
    }
    for len in 0..good.len() {
        fs::write(&path, &good[..len]).unwrap();
        assert!(
            matches!(c.get(&key(1)), Lookup::Damaged(_)),
            "truncation to {len} not caught"
        );
    }
}

#[test]
fn eviction_keeps_the_bound_and_drops_the_least_recently_used() {
    let (_d, c) = cache(10_000);
    let payload = vec![7u8; 1000];
    let old = SystemTime::now() - Duration::from_secs(1000);
    for n in 0..20u8 {
        c.put(&key(n), &payload).unwrap();
        // Entry n was last used n seconds after `old`.
        let file = fs::File::options()
            .append(true)
            .open(c.entry_path(Space::Shards, &key(n)))
            .unwrap();
        file.set_modified(old + Duration::from_secs(n as u64))
            .unwrap();
    }
    // A hit makes entry 0 the most recently used.
    assert!(matches!(c.get(&key(0)), Lookup::Hit(_)));
    let removed = c.evict().unwrap();
    let after = c.stats().unwrap();
    assert!(after.bytes <= 9_000, "{after:?}");
    assert_eq!(removed.shards + after.shards, 20);
    assert!(
        matches!(c.get(&key(0)), Lookup::Hit(_)),
        "recently used survives"
    );
    assert!(matches!(c.get(&key(1)), Lookup::Miss), "oldest goes first");
    assert!(matches!(c.get(&key(19)), Lookup::Hit(_)));
}

#[test]
fn concurrent_writers_and_readers_never_see_a_torn_entry() {
    let (_d, c) = cache(1 << 30);
    let payload = vec![0xabu8; 1 << 20];
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    c.put(&key(9), &payload).unwrap();
                    match c.get(&key(9)) {
                        Lookup::Hit(p) => assert_eq!(p.len(), payload.len()),
                        other => panic!("{other:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(c.stats().unwrap().shards, 1);
}

#[test]
fn clear_removes_everything() {
    let (_d, c) = cache(1 << 20);
    for n in 0..5 {
        c.put(&key(n), b"x").unwrap();
    }
    assert_eq!(c.clear().unwrap().shards, 5);
    assert_eq!(c.stats().unwrap(), Stats::default());
}
