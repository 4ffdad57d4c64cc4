//! Package image validation (Julia's staticdata_utils): every method's external edges are
//! checked against the method table as it is now; a method is valid when all its external
//! edges hold and all the image's methods it calls are valid. Failures propagate to callers
//! (so a cycle is valid or invalid as a whole), each with the method that caused it.

use std::collections::VecDeque;
use std::ffi::c_void;

use crate::meta::{ExternalEdge, Meta};
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
    /// Per method (fvar index), why it is invalid.
    pub invalid: Vec<Option<Invalidation>>,
}

/// Checks one external edge against the table.
fn resolve(edge: &ExternalEdge, table: &MethodTable) -> Result<*const c_void, InvalidReason> {
    match table.get(&edge.name, &edge.signature) {
        Some(e) if e.hash == edge.hash => Ok(e.address),
        Some(e) => Err(InvalidReason::Redefined {
            was: edge.hash,
            now: e.hash,
        }),
        None => match table.signatures(&edge.name) {
            now if now.is_empty() => Err(InvalidReason::Missing),
            now => Err(InvalidReason::SignatureChanged {
                now: now.into_iter().map(String::from).collect(),
            }),
        },
    }
}

/// Resolves the external methods of `meta` and, unless `trust` (system images), computes which
/// methods are invalid.
pub fn validate(meta: &Meta, table: &MethodTable, trust: bool) -> Resolution {
    let checked: Vec<Result<*const c_void, InvalidReason>> =
        meta.externals.iter().map(|e| resolve(e, table)).collect();
    let externals = checked.iter().map(|r| r.as_ref().ok().copied()).collect();
    let mut invalid: Vec<Option<Invalidation>> = vec![None; meta.methods.len()];
    if trust {
        return Resolution { externals, invalid };
    }
    let mut queue = VecDeque::new();
    for (i, method) in meta.methods.iter().enumerate() {
        if let Some((x, Err(reason))) = method
            .external
            .iter()
            .map(|&x| (x, &checked[x as usize]))
            .find(|(_, r)| r.is_err())
        {
            let culprit = meta.externals[x as usize].name.clone();
            invalid[i] = Some(Invalidation {
                method: method.name.clone(),
                reason: reason.clone(),
                culprit,
            });
            queue.push_back(i);
        }
    }
    let mut callers: Vec<Vec<usize>> = vec![Vec::new(); meta.methods.len()];
    for (i, method) in meta.methods.iter().enumerate() {
        for &c in &method.callees {
            callers[c as usize].push(i);
        }
    }
    while let Some(m) = queue.pop_front() {
        let (callee, culprit) = {
            let inv = invalid[m].as_ref().expect("queued methods are invalid");
            (inv.method.clone(), inv.culprit.clone())
        };
        for &caller in &callers[m] {
            if invalid[caller].is_none() {
                invalid[caller] = Some(Invalidation {
                    method: meta.methods[caller].name.clone(),
                    reason: InvalidReason::CalleeInvalid {
                        callee: callee.clone(),
                    },
                    culprit: culprit.clone(),
                });
                queue.push_back(caller);
            }
        }
    }
    Resolution { externals, invalid }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Method;

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

    /// a -> f (external), b -> g (external), c -> b, d -> d (self loop), e <-> c2 cycle with g
    fn sample() -> Meta {
        Meta {
            methods: vec![
                method("a", &[], &[0]),
                method("b", &[], &[1]),
                method("c", &[1], &[]),
                method("d", &[3], &[]),
                method("e", &[5], &[]),
                method("c2", &[4, 1], &[]),
            ],
            externals: vec![edge("f", 10), edge("g", 20)],
            ..Default::default()
        }
    }

    fn names(r: &Resolution) -> Vec<&str> {
        r.invalid
            .iter()
            .flatten()
            .map(|i| i.method.as_str())
            .collect()
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
        assert_eq!(names(&r), ["b", "c", "e", "c2"]);
        assert!(r.invalid.iter().flatten().all(|i| i.culprit == "g"));
        assert_eq!(
            r.invalid[1].as_ref().unwrap().reason,
            InvalidReason::Redefined { was: 20, now: 21 }
        );
        assert_eq!(
            r.invalid[2].as_ref().unwrap().reason,
            InvalidReason::CalleeInvalid { callee: "b".into() }
        );
        assert_eq!(r.externals[1], None);
    }

    #[test]
    fn missing_methods_and_signature_changes_are_reasons() {
        let mut table = MethodTable::new();
        table.define("g", "i32 (i32)", 20, 2 as _).unwrap();
        let r = validate(&sample(), &table, false);
        assert_eq!(
            r.invalid[0].as_ref().unwrap().reason,
            InvalidReason::Missing
        );
        assert_eq!(
            r.invalid[1].as_ref().unwrap().reason,
            InvalidReason::SignatureChanged {
                now: vec!["i32 (i32)".into()]
            }
        );
        assert!(
            r.invalid[3].is_none(),
            "a method calling only itself stays valid"
        );
    }

    #[test]
    fn trusted_images_resolve_but_do_not_invalidate() {
        let r = validate(&sample(), &MethodTable::new(), true);
        assert!(names(&r).is_empty());
        assert_eq!(r.externals, vec![None, None]);
    }
}
