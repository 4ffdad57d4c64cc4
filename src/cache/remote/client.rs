//! The gRPC calls the remote cache makes (REAPI v2 CAS, ActionCache, Capabilities; ByteStream
//! for blobs too big for a batch), each returning a one-line error.

use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::execution::v2::{
    action_cache_client::ActionCacheClient, batch_update_blobs_request,
    capabilities_client::CapabilitiesClient,
    content_addressable_storage_client::ContentAddressableStorageClient, digest_function,
    ActionResult, BatchReadBlobsRequest, BatchUpdateBlobsRequest, Digest, FindMissingBlobsRequest,
    GetActionResultRequest, GetCapabilitiesRequest, UpdateActionResultRequest,
};
use bazel_remote_apis::google::bytestream::{
    byte_stream_client::ByteStreamClient, ReadRequest, WriteRequest,
};
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use super::action::{digest_of, Blob};

const SHA256: i32 = digest_function::Value::Sha256 as i32;
/// ByteStream chunk size.
const CHUNK: usize = 1 << 20;
/// Room left in a batch for the request's own framing.
const BATCH_MARGIN: usize = 64 << 10;
/// What a batch may hold when the server does not say (gRPC's default message size).
const DEFAULT_BATCH: usize = 4 << 20;
/// Largest response decoded (tonic's default, 4 MiB, is below what a batch may return).
const MAX_MESSAGE: usize = 64 << 20;

/// Time to open the connection; time for any one call, transfers included.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Clients {
    instance: String,
    cas: ContentAddressableStorageClient<Channel>,
    bytestream: ByteStreamClient<Channel>,
    action_cache: ActionCacheClient<Channel>,
    /// Largest total of blobs in one batch call.
    max_batch: usize,
}

fn status(what: &str, s: tonic::Status) -> String {
    let message = s.message().lines().next().unwrap_or("").to_string();
    format!(
        "{what}: {:?}{}",
        s.code(),
        match message.is_empty() {
            true => String::new(),
            false => format!(" ({message})"),
        }
    )
}

impl Clients {
    /// Connects to `endpoint` (`http://host:port`) and asks for the instance's capabilities,
    /// which also proves the instance exists and the server speaks SHA-256.
    pub async fn connect(endpoint: &str, instance: &str) -> Result<Clients, String> {
        let channel = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("not a usable address: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| {
                let cause = std::error::Error::source(&e).map(|s| format!(": {s}"));
                format!("cannot connect{}", cause.unwrap_or_default())
            })?;
        let caps = CapabilitiesClient::new(channel.clone())
            .get_capabilities(GetCapabilitiesRequest {
                instance_name: instance.into(),
            })
            .await
            .map_err(|s| status("GetCapabilities", s))?
            .into_inner();
        let cache = caps.cache_capabilities.unwrap_or_default();
        if !cache.digest_functions.is_empty() && !cache.digest_functions.contains(&SHA256) {
            return Err("the server does not offer SHA-256 digests".into());
        }
        let max_batch = match usize::try_from(cache.max_batch_total_size_bytes) {
            Ok(0) | Err(_) => DEFAULT_BATCH,
            Ok(n) => n,
        }
        .saturating_sub(BATCH_MARGIN)
        .max(1);
        Ok(Clients {
            instance: instance.into(),
            cas: ContentAddressableStorageClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            bytestream: ByteStreamClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            action_cache: ActionCacheClient::new(channel).max_decoding_message_size(MAX_MESSAGE),
            max_batch,
        })
    }

    /// The ActionResult recorded for `action`, `None` when there is none.
    pub async fn get_action_result(
        &mut self,
        action: &Digest,
    ) -> Result<Option<ActionResult>, String> {
        let request = GetActionResultRequest {
            instance_name: self.instance.clone(),
            action_digest: Some(action.clone()),
            inline_stdout: false,
            inline_stderr: false,
            inline_output_files: Vec::new(),
            digest_function: SHA256,
        };
        match self.action_cache.get_action_result(request).await {
            Ok(r) => Ok(Some(r.into_inner())),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(status("GetActionResult", s)),
        }
    }

    pub async fn update_action_result(
        &mut self,
        action: &Digest,
        result: ActionResult,
    ) -> Result<(), String> {
        let request = UpdateActionResultRequest {
            instance_name: self.instance.clone(),
            action_digest: Some(action.clone()),
            action_result: Some(result),
            results_cache_policy: None,
            digest_function: SHA256,
        };
        (self.action_cache.update_action_result(request).await)
            .map(|_| ())
            .map_err(|s| status("UpdateActionResult", s))
    }

    /// Uploads those of `blobs` the CAS lacks; returns the bytes sent.
    pub async fn upload_missing(&mut self, blobs: &[&Blob]) -> Result<u64, String> {
        let request = FindMissingBlobsRequest {
            instance_name: self.instance.clone(),
            blob_digests: blobs.iter().map(|b| b.digest.clone()).collect(),
            digest_function: SHA256,
        };
        let missing = (self.cas.find_missing_blobs(request).await)
            .map_err(|s| status("FindMissingBlobs", s))?
            .into_inner()
            .missing_blob_digests;
        let mut sent = 0u64;
        let mut batch: Vec<&Blob> = Vec::new();
        let mut batch_bytes = 0usize;
        // One copy of each missing blob (two inputs may be the same bytes).
        let mut seen = std::collections::HashSet::new();
        for blob in blobs.iter().filter(|b| missing.contains(&b.digest)) {
            if !seen.insert(&blob.digest.hash) {
                continue;
            }
            sent += blob.bytes.len() as u64;
            if blob.bytes.len() > self.max_batch {
                self.write_stream(blob).await?;
                continue;
            }
            if batch_bytes + blob.bytes.len() > self.max_batch {
                self.write_batch(&std::mem::take(&mut batch)).await?;
                batch_bytes = 0;
            }
            batch_bytes += blob.bytes.len();
            batch.push(blob);
        }
        if !batch.is_empty() {
            self.write_batch(&batch).await?;
        }
        Ok(sent)
    }

    async fn write_batch(&mut self, blobs: &[&Blob]) -> Result<(), String> {
        let request = BatchUpdateBlobsRequest {
            instance_name: self.instance.clone(),
            requests: (blobs.iter())
                .map(|b| batch_update_blobs_request::Request {
                    digest: Some(b.digest.clone()),
                    data: b.bytes.clone(),
                    compressor: 0,
                })
                .collect(),
            digest_function: SHA256,
        };
        let response = (self.cas.batch_update_blobs(request).await)
            .map_err(|s| status("BatchUpdateBlobs", s))?
            .into_inner();
        for r in response.responses {
            let s = r.status.unwrap_or_default();
            if s.code != 0 {
                return Err(format!("BatchUpdateBlobs: code {} ({})", s.code, s.message));
            }
        }
        Ok(())
    }

    async fn write_stream(&mut self, blob: &Blob) -> Result<(), String> {
        let name = format!(
            "{}uploads/{}/blobs/{}/{}",
            prefix(&self.instance),
            uuid::Uuid::new_v4(),
            blob.digest.hash,
            blob.digest.size_bytes
        );
        let chunks: Vec<WriteRequest> = (blob.bytes.chunks(CHUNK).enumerate())
            .map(|(i, chunk)| WriteRequest {
                resource_name: if i == 0 { name.clone() } else { String::new() },
                write_offset: (i * CHUNK) as i64,
                finish_write: (i + 1) * CHUNK >= blob.bytes.len(),
                data: chunk.to_vec(),
            })
            .collect();
        let committed = (self.bytestream.write(tokio_stream::iter(chunks)).await)
            .map_err(|s| status("ByteStream.Write", s))?
            .into_inner()
            .committed_size;
        match committed == blob.digest.size_bytes {
            true => Ok(()),
            false => Err(format!(
                "ByteStream.Write: {committed} of {} bytes committed",
                blob.digest.size_bytes
            )),
        }
    }

    /// The blobs `digests` name, each checked against its digest.
    pub async fn read(&mut self, digests: &[Digest]) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::with_capacity(digests.len());
        for digest in digests {
            if digest.size_bytes < 0 {
                return Err(format!("a blob of negative size ({})", digest.size_bytes));
            }
            let bytes = match digest.size_bytes as usize <= self.max_batch {
                true => self.read_batch(digest).await?,
                false => self.read_stream(digest).await?,
            };
            if digest_of(&bytes) != *digest {
                return Err(format!(
                    "blob {}/{} does not match its digest",
                    digest.hash, digest.size_bytes
                ));
            }
            out.push(bytes);
        }
        Ok(out)
    }

    async fn read_batch(&mut self, digest: &Digest) -> Result<Vec<u8>, String> {
        let request = BatchReadBlobsRequest {
            instance_name: self.instance.clone(),
            digests: vec![digest.clone()],
            acceptable_compressors: Vec::new(),
            digest_function: SHA256,
        };
        let response = (self.cas.batch_read_blobs(request).await)
            .map_err(|s| status("BatchReadBlobs", s))?
            .into_inner();
        let Some(r) = response.responses.into_iter().next() else {
            return Err("BatchReadBlobs: an empty answer".into());
        };
        let s = r.status.unwrap_or_default();
        match s.code {
            0 => Ok(r.data),
            code => Err(format!("BatchReadBlobs: code {code} ({})", s.message)),
        }
    }

    async fn read_stream(&mut self, digest: &Digest) -> Result<Vec<u8>, String> {
        let request = ReadRequest {
            resource_name: format!(
                "{}blobs/{}/{}",
                prefix(&self.instance),
                digest.hash,
                digest.size_bytes
            ),
            read_offset: 0,
            read_limit: 0,
        };
        let mut stream = (self.bytestream.read(request).await)
            .map_err(|s| status("ByteStream.Read", s))?
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(m) = stream
            .message()
            .await
            .map_err(|s| status("ByteStream.Read", s))?
        {
            bytes.extend_from_slice(&m.data);
            // A server sending more than the digest says is wrong already.
            if bytes.len() as i64 > digest.size_bytes {
                return Err("ByteStream.Read: more bytes than the digest says".into());
            }
        }
        Ok(bytes)
    }
}

/// Resource names start with the instance and a slash, or with nothing for the empty instance.
fn prefix(instance: &str) -> String {
    match instance.is_empty() {
        true => String::new(),
        false => format!("{instance}/"),
    }
}
