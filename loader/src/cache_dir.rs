//! Where aotlink keeps its per-user caches: the shard cache (`aotlink`'s `src/cache`) and the
//! loader's verdict cache (`verdict/on_disk.rs`) live under the same directory. Defined here,
//! in the crate both use, so the rule is written once.

use std::path::PathBuf;

/// `$AOTLINK_CACHE_DIR`, else `$XDG_CACHE_HOME/aotlink`, else `~/.cache/aotlink` (relative
/// values of either variable are ignored, as the XDG spec says); `None` without a home.
pub fn default_cache_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(dir) = absolute("AOTLINK_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(xdg) = absolute("XDG_CACHE_HOME") {
        return Some(xdg.join("aotlink"));
    }
    absolute("HOME").map(|home| home.join(".cache").join("aotlink"))
}
