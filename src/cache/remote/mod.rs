//! The remote shard cache: the shard cache's entries kept on a Remote Execution API (REAPI v2)
//! server, so machines share them. Each shard is an Action ([`action`]); its outputs are the
//! Action's output files in the CAS, and its ActionResult sits in the action cache.
//!
//! - A lookup is GetActionResult, then the outputs from the CAS (BatchReadBlobs, or ByteStream
//!   for blobs over the server's batch size), each checked against its SHA-256 and size.
//! - A store uploads what the CAS lacks (FindMissingBlobs, then batches or ByteStream): the
//!   outputs and the Action's own Command, input root, `job.json` and `shard.bc`, then records
//!   the ActionResult.
//! - A remote failure never fails a build. The first one (cannot connect, an error, a timeout,
//!   a blob that does not match its digest, an answer without the outputs) turns the remote off
//!   for the rest of the build and becomes one warning; every shard from then on is built
//!   locally. Calls are bounded by [`client::CALL_TIMEOUT`].
//!
//! The emission threads call it synchronously; one small tokio runtime drives the gRPC calls.
//! Uploads run in the background while emission goes on ([`RemoteCache::store`]), and
//! [`RemoteCache::finish`] waits for them once the shards are done.

pub mod action;
mod client;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bazel_remote_apis::build::bazel::remote::execution::v2::{ActionResult, OutputFile};
use serde::Serialize;

use crate::dump::output::{Emitted, OutputKind};
use crate::dump::store::{Found, ShardSource, ShardStore, StoredShard};
use action::{shard_action, ShardAction};
use client::Clients;

/// What the remote cache did in one build.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoteStats {
    /// The server, as given.
    pub url: String,
    /// Shards taken from the server.
    pub hits: u64,
    /// Shards looked up and not found there.
    pub misses: u64,
    /// Shards uploaded (with their ActionResult).
    pub stored: u64,
    pub bytes_downloaded: u64,
    pub bytes_uploaded: u64,
    /// Why the remote was turned off during the build, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// A connection to one instance of a REAPI server.
pub struct RemoteCache {
    url: String,
    runtime: tokio::runtime::Runtime,
    clients: Clients,
    state: Arc<State>,
    /// Uploads under way.
    pending: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// What the build's calls share: whether the remote is off, why, and the counts.
#[derive(Default)]
struct State {
    off: AtomicBool,
    failure: Mutex<Option<String>>,
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    bytes_down: AtomicU64,
    bytes_up: AtomicU64,
}

impl State {
    /// The first failure turns the remote off and is kept for the warning.
    fn fail(&self, why: String) {
        if !self.off.swap(true, Ordering::SeqCst) {
            *self.failure.lock().expect("no panics holding it") = Some(why);
        }
    }

    fn is_off(&self) -> bool {
        self.off.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCache")
            .field("url", &self.url)
            .finish()
    }
}

/// `grpc://host:port` (or `http://`) as the endpoint tonic dials.
fn endpoint(url: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or("expected grpc://HOST:PORT")?;
    match scheme {
        "grpc" | "http" if !rest.is_empty() && !rest.contains('/') => Ok(format!("http://{rest}")),
        "grpcs" | "https" => {
            Err("TLS (grpcs://) is not supported: use grpc:// on a trusted network".into())
        }
        _ => Err("expected grpc://HOST:PORT".into()),
    }
}

impl RemoteCache {
    /// Connects to `url` (`grpc://host:port`) and checks that `instance` is served there.
    pub fn connect(url: &str, instance: &str) -> Result<RemoteCache, String> {
        let endpoint = endpoint(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("aotlink-remote")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
        let clients = runtime.block_on(Clients::connect(&endpoint, instance))?;
        Ok(RemoteCache {
            url: url.to_string(),
            runtime,
            clients,
            state: Arc::default(),
            pending: Mutex::new(Vec::new()),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The shard's outputs if the server has them, whole and matching their digests; `None`
    /// on a miss, or once the remote is off.
    pub fn fetch(&self, action: &ShardAction) -> Option<Emitted> {
        if self.state.is_off() {
            return None;
        }
        let mut clients = self.clients.clone();
        let found = self.runtime.block_on(async {
            let Some(result) = clients.get_action_result(&action.action.digest).await? else {
                return Ok(None);
            };
            let mut digests = Vec::new();
            for (_, path) in &action.outputs {
                let file = (result.output_files.iter())
                    .find(|f| f.path == *path)
                    .ok_or_else(|| format!("its ActionResult has no {path}"))?;
                digests.push(
                    file.digest
                        .clone()
                        .ok_or("an output file without a digest")?,
                );
            }
            let blobs = clients.read(&digests).await?;
            Ok::<_, String>(Some(blobs))
        });
        match found {
            Ok(None) => {
                self.state.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Ok(Some(blobs)) => {
                let bytes: u64 = blobs.iter().map(|b| b.len() as u64).sum();
                self.state.bytes_down.fetch_add(bytes, Ordering::Relaxed);
                self.state.hits.fetch_add(1, Ordering::Relaxed);
                let mut emitted = Emitted::default();
                for ((kind, _), blob) in action.outputs.iter().zip(blobs) {
                    emitted.set(*kind, blob);
                }
                Some(emitted)
            }
            Err(why) => {
                self.state.fail(why);
                None
            }
        }
    }

    /// Uploads the shard's outputs and Action and records its result, in the background
    /// (unless the remote is off); [`RemoteCache::finish`] waits for it.
    pub fn store(&self, action: ShardAction, emitted: &Emitted) {
        if self.state.is_off() {
            return;
        }
        let outputs: Vec<(String, action::Blob)> = (action.outputs.iter())
            .filter_map(|(kind, path)| {
                emitted
                    .get(*kind)
                    .map(|b| (path.clone(), action::Blob::new(b.to_vec())))
            })
            .collect();
        let result = ActionResult {
            output_files: (outputs.iter())
                .map(|(path, blob)| OutputFile {
                    path: path.clone(),
                    digest: Some(blob.digest.clone()),
                    ..OutputFile::default()
                })
                .collect(),
            exit_code: 0,
            ..ActionResult::default()
        };
        let mut clients = self.clients.clone();
        let state = self.state.clone();
        let upload = self.runtime.spawn(async move {
            if state.is_off() {
                return;
            }
            let mut blobs: Vec<&action::Blob> = outputs.iter().map(|(_, b)| b).collect();
            blobs.extend(&action.inputs);
            blobs.push(&action.action);
            let done = async {
                let sent = clients.upload_missing(&blobs).await?;
                clients
                    .update_action_result(&action.action.digest, result)
                    .await?;
                Ok::<_, String>(sent)
            };
            match done.await {
                Ok(sent) => {
                    state.bytes_up.fetch_add(sent, Ordering::Relaxed);
                    state.stored.fetch_add(1, Ordering::Relaxed);
                }
                Err(why) => state.fail(why),
            }
        });
        self.pending
            .lock()
            .expect("no panics holding it")
            .push(upload);
    }

    /// Waits for the uploads under way (each call is bounded by its timeout).
    pub fn finish(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().expect("no panics holding it"));
        self.runtime.block_on(async {
            for upload in pending {
                if let Err(e) = upload.await {
                    self.state.fail(format!("an upload stopped: {e}"));
                }
            }
        });
    }

    pub fn stats(&self) -> RemoteStats {
        RemoteStats {
            url: self.url.clone(),
            hits: self.state.hits.load(Ordering::Relaxed),
            misses: self.state.misses.load(Ordering::Relaxed),
            stored: self.state.stored.load(Ordering::Relaxed),
            bytes_downloaded: self.state.bytes_down.load(Ordering::Relaxed),
            bytes_uploaded: self.state.bytes_up.load(Ordering::Relaxed),
            failure: self
                .state
                .failure
                .lock()
                .expect("no panics holding it")
                .clone(),
        }
    }
}

/// The remote cache as one of the build's shard stores (src/dump/store.rs), behind the local
/// one: a shard is filed under its Action. A failure is not the store's error: it turns the
/// remote off and becomes the build's one warning ([`RemoteStats::failure`]).
impl ShardStore for RemoteCache {
    fn source(&self) -> ShardSource {
        ShardSource::Remote
    }

    /// A shard not cloned yet has no Action to look up: a miss, until it is.
    fn get(&self, shard: &StoredShard) -> Found {
        match action_of(shard).and_then(|action| self.fetch(&action)) {
            Some(emitted) => Found::Hit(emitted),
            None => Found::Miss,
        }
    }

    fn put(&self, shard: &StoredShard, emitted: &Emitted) -> Result<(), String> {
        if let Some(action) = action_of(shard) {
            self.store(action, emitted);
        }
        Ok(())
    }
}

/// The Action `shard` is filed under, for this aotlink build and LLVM: it holds the shard's
/// bitcode (a worker could run it), so a shard not cloned yet has none.
fn action_of(shard: &StoredShard) -> Option<ShardAction> {
    let kinds: Vec<OutputKind> = (OutputKind::ALL.into_iter())
        .filter(|k| shard.kinds.wants(*k))
        .collect();
    Some(shard_action(
        shard.facts,
        shard.bitcode?,
        &kinds,
        crate::BUILD_ID,
        &crate::llvm::version(),
    ))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn urls_name_a_grpc_endpoint() {
        assert_eq!(
            endpoint("grpc://127.0.0.1:50051").unwrap(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(endpoint("http://cache:9092").unwrap(), "http://cache:9092");
        assert!(endpoint("grpcs://cache:443").unwrap_err().contains("TLS"));
        assert!(endpoint("127.0.0.1:50051").is_err());
        assert!(endpoint("grpc://").is_err());
        assert!(endpoint("grpc://host:1/path").is_err());
    }
}
