//! Package image validation (Julia's staticdata_utils): every method's external edges are
//! checked against the method table as it is now; a method is valid when all its external
//! edges hold and all the image's methods it calls are valid. Failures propagate to callers
//! (so a cycle is valid or invalid as a whole), each with the method that caused it.

use std::collections::VecDeque;
use std::ffi::c_void;

use crate::meta::{ExternalView, MetaView};
use crate::method_table::MethodTable;

/// Why a method cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidReason {
    /// It calls a method no loaded image or runtime provides.
    Missing,
    /// It calls a method whose signature is now different.
    SignatureChanged { now: Vec<String> },
    /// It calls a method that was redefined since the image was built.
    Redefined { was: u64, now: u64 },
    /// It calls a method of this image that is invalid.
    CalleeInvalid { callee: String },
}

impl std::fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidReason::Missing => write!(f, "calls a method that no loaded image provides"),
            InvalidReason::SignatureChanged { now } => write!(
                f,
                "calls a method whose signature is now {}",
                now.join(" or ")
            ),
            InvalidReason::Redefined { was, now } => write!(
                f,
                "calls a method that was redefined (hash {was:016x} -> {now:016x})"
            ),
            InvalidReason::CalleeInvalid { callee } => {
                write!(f, "calls `{callee}`, which is invalid")
            }
        }
    }
}

/// One invalid method: what, why, and the external method at the root of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalidation {
    pub method: String,
    pub reason: InvalidReason,
    pub culprit: String,
}

impl std::fmt::Display for Invalidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (culprit: {})",
            self.method, self.reason, self.culprit
        )
    }
}

/// The outcome of resolving an image's external methods against a table.
pub struct Resolution {
    /// Address of each external method, `None` where its edge does not hold.
    pub externals: Vec<Option<*const c_void>>,
    /// The invalid methods by fvar index (ascending), with why.
    pub invalid: Vec<(u32, Invalidation)>,
}

impl Resolution {
    /// Why method `fvar` is invalid, if it is.
    pub fn invalidation(&self, fvar: u32) -> Option<&Invalidation> {
        let at = self.invalid.binary_search_by_key(&fvar, |(i, _)| *i).ok()?;
        Some(&self.invalid[at].1)
    }

    pub fn is_valid(&self, fvar: u32) -> bool {
        self.invalidation(fvar).is_none()
    }
}

/// Why an external edge the table has no method for (that name and signature) fails.
fn unresolved(edge: &ExternalView, table: &MethodTable) -> InvalidReason {
    match table.signatures(edge.name) {
        now if now.is_empty() => InvalidReason::Missing,
        now => InvalidReason::SignatureChanged {
            now: now.into_iter().map(String::from).collect(),
        },
    }
}

/// Resolves the external methods of `meta` and, unless `trust` (system images), computes which
/// methods are invalid. When every external edge holds, that is all it does: one pass over the
/// sorted external methods against the table, nothing per method or per edge of the image. Only when some edge
/// fails are the image's edges read, to find who reaches it.
pub fn validate(meta: &MetaView, table: &MethodTable, trust: bool) -> Resolution {
    let checked: Vec<Result<*const c_void, InvalidReason>> = (table.find_externals(meta))
        .into_iter()
        .enumerate()
        .map(|(x, entry)| match entry {
            Some(e) if e.hash == meta.external(x).hash => Ok(e.address),
            Some(e) => Err(InvalidReason::Redefined {
                was: meta.external(x).hash,
                now: e.hash,
            }),
            None => Err(unresolved(&meta.external(x), table)),
        })
        .collect();
    let externals = checked.iter().map(|r| r.as_ref().ok().copied()).collect();
    if trust || checked.iter().all(Result::is_ok) {
        let invalid = Vec::new();
        return Resolution { externals, invalid };
    }
    let nm = meta.method_count();
    let mut invalid: Vec<Option<Invalidation>> = vec![None; nm];
    let mut queue = VecDeque::new();
    for (i, method) in meta.methods().enumerate() {
        if let Some((x, Err(reason))) = (method.external.iter())
            .map(|x| (x, &checked[x as usize]))
            .find(|(_, r)| r.is_err())
        {
            invalid[i] = Some(Invalidation {
                method: method.name.to_string(),
                reason: reason.clone(),
                culprit: meta.external(x as usize).name.to_string(),
            });
            queue.push_back(i);
        }
    }
    let callers = Callers::of(meta);
    while let Some(m) = queue.pop_front() {
        let (callee, culprit) = {
            let inv = invalid[m].as_ref().expect("queued methods are invalid");
            (inv.method.clone(), inv.culprit.clone())
        };
        for &caller in callers.of_method(m) {
            let caller = caller as usize;
            if invalid[caller].is_none() {
                invalid[caller] = Some(Invalidation {
                    method: meta.method_name(caller).to_string(),
                    reason: InvalidReason::CalleeInvalid {
                        callee: callee.clone(),
                    },
                    culprit: culprit.clone(),
                });
                queue.push_back(caller);
            }
        }
    }
    let invalid = (invalid.into_iter().enumerate())
        .filter_map(|(i, inv)| Some((i as u32, inv?)))
        .collect();
    Resolution { externals, invalid }
}

/// Who calls each method: the callee lists inverted, in two flat arrays (one allocation each,
/// not one per method).
struct Callers {
    /// Method `m`'s callers are `callers[starts[m]..starts[m + 1]]`.
    starts: Vec<u32>,
    callers: Vec<u32>,
}

impl Callers {
    fn of(meta: &MetaView) -> Callers {
        let nm = meta.method_count();
        let mut starts = vec![0u32; nm + 1];
        for method in meta.methods() {
            method
                .callees
                .iter()
                .for_each(|c| starts[c as usize + 1] += 1);
        }
        for m in 0..nm {
            starts[m + 1] += starts[m];
        }
        let mut next = starts.clone();
        let mut callers = vec![0u32; starts[nm] as usize];
        for (i, method) in meta.methods().enumerate() {
            for c in method.callees.iter() {
                callers[next[c as usize] as usize] = i as u32;
                next[c as usize] += 1;
            }
        }
        Callers { starts, callers }
    }

    fn of_method(&self, m: usize) -> &[u32] {
        &self.callers[self.starts[m] as usize..self.starts[m + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{ExternalEdge, Meta, Method};

    fn method(name: &str, callees: &[u32], external: &[u32]) -> Method {
        Method {
            name: name.into(),
            signature: "i64 (i64)".into(),
            hash: 1,
            callees: callees.to_vec(),
            external: external.to_vec(),
        }
    }

    fn edge(name: &str, hash: u64) -> ExternalEdge {
        ExternalEdge {
            name: name.into(),
            signature: "i64 (i64)".into(),
            hash,
        }
    }

    /// a -> f (external), b -> g (external), c -> b, d -> d (self loop), e <-> e2 cycle with g
    /// (read in place; the bytes are leaked: a test's lifetime).
    fn sample() -> MetaView<'static> {
        let meta = Meta {
            methods: vec![
                method("a", &[], &[0]),
                method("b", &[], &[1]),
                method("c", &[1], &[]),
                method("d", &[3], &[]),
                method("e", &[5], &[]),
                method("e2", &[4, 1], &[]),
            ],
            externals: vec![edge("f", 10), edge("g", 20)],
            targets: vec![Default::default()],
            ..Default::default()
        };
        MetaView::parse(Box::leak(meta.encode().into_boxed_slice())).unwrap()
    }

    fn names(r: &Resolution) -> Vec<&str> {
        r.invalid.iter().map(|(_, i)| i.method.as_str()).collect()
    }

    #[test]
    fn everything_valid_when_the_table_matches() {
        let mut table = MethodTable::new();
        table.define("f", "i64 (i64)", 10, 1 as _).unwrap();
        table.define("g", "i64 (i64)", 20, 2 as _).unwrap();
        let r = validate(&sample(), &table, false);
        assert!(names(&r).is_empty());
        assert_eq!(r.externals, vec![Some(1 as _), Some(2 as _)]);
    }

    #[test]
    fn a_redefinition_invalidates_exactly_the_methods_that_reach_it() {
        let mut table = MethodTable::new();
        table.define("f", "i64 (i64)", 10, 1 as _).unwrap();
        table.define("g", "i64 (i64)", 21, 2 as _).unwrap();
        let r = validate(&sample(), &table, false);
        assert_eq!(names(&r), ["b", "c", "e", "e2"]);
        assert!(r.invalid.iter().all(|(_, i)| i.culprit == "g"));
        assert_eq!(
            r.invalidation(1).unwrap().reason,
            InvalidReason::Redefined { was: 20, now: 21 }
        );
        assert_eq!(
            r.invalidation(2).unwrap().reason,
            InvalidReason::CalleeInvalid { callee: "b".into() }
        );
        assert_eq!(r.externals[1], None);
    }

    #[test]
    fn missing_methods_and_signature_changes_are_reasons() {
        let mut table = MethodTable::new();
        table.define("g", "i32 (i32)", 20, 2 as _).unwrap();
        let r = validate(&sample(), &table, false);
        assert_eq!(r.invalidation(0).unwrap().reason, InvalidReason::Missing);
        assert_eq!(
            r.invalidation(1).unwrap().reason,
            InvalidReason::SignatureChanged {
                now: vec!["i32 (i32)".into()]
            }
        );
        assert!(r.is_valid(3), "a method calling only itself stays valid");
    }

    #[test]
    fn trusted_images_resolve_but_do_not_invalidate() {
        let r = validate(&sample(), &MethodTable::new(), true);
        assert!(names(&r).is_empty());
        assert_eq!(r.externals, vec![None, None]);
    }
}
