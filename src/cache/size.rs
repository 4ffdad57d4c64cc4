//! Sizes as people write them (`--cache-max-size 5G`, `500M`, `1.5GiB`, `123456`).

/// ccache's default bound.
pub const DEFAULT_MAX_SIZE: u64 = 5 << 30;

/// A size that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("{text:?}: unknown size unit {unit:?} (use K, M, G or T)")]
    Unit { text: String, unit: char },
    #[error("{0:?}: not a size (like 5G, 500M or 1048576)")]
    NotASize(String),
}

/// Bytes in `text`: a number with an optional K, M, G or T suffix (powers of 1024; a trailing
/// `B` or `iB` is accepted).
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (number, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => {
                    return Err(SizeError::Unit {
                        text: text.to_string(),
                        unit: c,
                    })
                }
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| SizeError::NotASize(text.to_string()))?;
    if !value.is_finite() || value < 0.0 {
        return Err(SizeError::NotASize(text.to_string()));
    }
    Ok((value * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("5G"), Ok(5 << 30));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("64kB"), Ok(64 << 10));
        assert!(parse_size("5X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("-1G").is_err());
    }
}
