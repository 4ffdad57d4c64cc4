//! A shard as a REAPI Action: what the remote cache stores its outputs under.
//!
//! - The Command is what a worker would run to emit the shard: `aotlink __emit-shard job.json
//!   shard.bc`, with this aotlink build and LLVM's version in its environment and platform
//!   (remote execution is on paper, docs/DESIGN.md; no worker runs it yet). Its output paths are
//!   the requested kinds, `shard.o`, `shard.bc`, `shard.s`.
//! - The input root holds `job.json` (the emit configuration and the job's facts, as the local
//!   key hashes them) and `shard.bc` (the job's bitcode).
//!
//! So the Action's digest covers what the local shard key covers: this aotlink, LLVM's version,
//! the configuration (triple, targets, kinds), the job's facts and its bitcode.

use bazel_remote_apis::build::bazel::remote::execution::v2::{
    command::EnvironmentVariable, platform::Property, Action, Command, Digest, Directory, FileNode,
    Platform,
};
use prost::Message as _;
use sha2::{Digest as _, Sha256};

use crate::dump::output::OutputKind;

/// A blob and its digest.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            digest: digest_of(&bytes),
            bytes,
        }
    }
}

/// SHA-256 and size, REAPI's digest (the only function BuildGrid offers).
pub fn digest_of(bytes: &[u8]) -> Digest {
    Digest {
        hash: hex::encode(Sha256::digest(bytes)),
        size_bytes: bytes.len() as i64,
    }
}

/// One shard's Action with everything it refers to.
pub struct ShardAction {
    pub action: Blob,
    /// The Command, the input root Directory, `job.json` and `shard.bc`: uploaded with the
    /// outputs, so that the Action is whole in the CAS (a worker could run it).
    pub inputs: Vec<Blob>,
    /// The output paths, one per emitted kind, in `OutputKind::ALL` order.
    pub outputs: Vec<(OutputKind, String)>,
}

/// The output file of `kind`.
pub fn output_path(kind: OutputKind) -> String {
    format!("shard.{}", kind.extension())
}

/// The Action of a shard whose facts (configuration and job, serialized) are `facts` and whose
/// bitcode is `bitcode`, for the aotlink build `build_id` and LLVM `llvm_version`.
pub fn shard_action(
    facts: &[u8],
    bitcode: &[u8],
    kinds: &[OutputKind],
    build_id: &str,
    llvm_version: &str,
) -> ShardAction {
    let job = Blob::new(facts.to_vec());
    let code = Blob::new(bitcode.to_vec());
    // Files sorted by name, as REAPI requires of a Directory.
    let root = Directory {
        files: vec![
            FileNode {
                name: "job.json".into(),
                digest: Some(job.digest.clone()),
                ..FileNode::default()
            },
            FileNode {
                name: "shard.bc".into(),
                digest: Some(code.digest.clone()),
                ..FileNode::default()
            },
        ],
        ..Directory::default()
    };
    let root = Blob::new(root.encode_to_vec());
    let outputs: Vec<(OutputKind, String)> = kinds.iter().map(|&k| (k, output_path(k))).collect();
    let mut output_paths: Vec<String> = outputs.iter().map(|(_, p)| p.clone()).collect();
    output_paths.sort();
    let platform = Platform {
        properties: vec![Property {
            name: "aotlink-build".into(),
            value: build_id.into(),
        }],
    };
    let command = Command {
        arguments: ["aotlink", "__emit-shard", "job.json", "shard.bc"]
            .map(String::from)
            .to_vec(),
        // Sorted by name, as REAPI requires.
        environment_variables: vec![
            EnvironmentVariable {
                name: "AOTLINK_BUILD_ID".into(),
                value: build_id.into(),
            },
            EnvironmentVariable {
                name: "AOTLINK_LLVM_VERSION".into(),
                value: llvm_version.into(),
            },
        ],
        output_paths,
        ..Command::default()
    };
    let command = Blob::new(command.encode_to_vec());
    let action = Action {
        command_digest: Some(command.digest.clone()),
        input_root_digest: Some(root.digest.clone()),
        platform: Some(platform),
        ..Action::default()
    };
    ShardAction {
        action: Blob::new(action.encode_to_vec()),
        inputs: vec![command, root, job, code],
        outputs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &[OutputKind] = &[OutputKind::Object];

    fn digest(facts: &[u8], bitcode: &[u8], kinds: &[OutputKind], id: &str, llvm: &str) -> String {
        shard_action(facts, bitcode, kinds, id, llvm)
            .action
            .digest
            .hash
    }

    #[test]
    fn the_action_digest_covers_every_input_of_emission() {
        let base = digest(b"{}", b"BC", KINDS, "aotlink 1", "19.1.7");
        assert_eq!(base, digest(b"{}", b"BC", KINDS, "aotlink 1", "19.1.7"));
        // The facts (triple, targets, clone sets, method slots), the bitcode, the kinds asked
        // for, the aotlink build and LLVM's version each change it.
        assert_ne!(base, digest(b"{ }", b"BC", KINDS, "aotlink 1", "19.1.7"));
        assert_ne!(base, digest(b"{}", b"BD", KINDS, "aotlink 1", "19.1.7"));
        let both = &[OutputKind::Object, OutputKind::Assembly];
        assert_ne!(base, digest(b"{}", b"BC", both, "aotlink 1", "19.1.7"));
        assert_ne!(base, digest(b"{}", b"BC", KINDS, "aotlink 2", "19.1.7"));
        assert_ne!(base, digest(b"{}", b"BC", KINDS, "aotlink 1", "19.1.6"));
    }

    #[test]
    fn digests_are_sha256_and_size() {
        let d = digest_of(b"abc");
        assert_eq!(
            d.hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.size_bytes, 3);
    }
}
