//! Which LLVM wrote a bitcode file, for errors about bitcode this LLVM cannot read. LLVM's
//! reader names the producer in most of its errors, but not in all (an incompatible epoch,
//! say), so the identification block is read here too.

use llvm_bitcode::bitcode::{Payload, Record};
use llvm_bitcode::{BitStreamVisitor, Bitcode};

/// `IDENTIFICATION_BLOCK_ID` and its `IDENTIFICATION_CODE_STRING` record (LLVMBitCodes.h).
const IDENTIFICATION_BLOCK: u32 = 13;
const PRODUCER_STRING: u64 = 1;

/// The producer string of bitcode `bytes` (`LLVM22.1.2-rust-1.95.0-stable`), if it has one.
pub fn bitcode_producer(bytes: &[u8]) -> Option<String> {
    struct FindProducer(Option<String>);
    impl BitStreamVisitor for FindProducer {
        fn should_enter_block(&mut self, id: u32) -> bool {
            id == IDENTIFICATION_BLOCK && self.0.is_none()
        }
        fn did_exit_block(&mut self, _: u32) {}
        fn visit(&mut self, block: u32, mut record: Record) {
            if block != IDENTIFICATION_BLOCK || record.id != PRODUCER_STRING {
                return;
            }
            let chars: Vec<u64> = match record.take_payload() {
                Some(Payload::Char6String(s)) => return self.0 = Some(s),
                Some(Payload::Array(a)) => a,
                _ => record.fields().to_vec(),
            };
            self.0 = Some(chars.iter().map(|&c| c as u8 as char).collect());
        }
    }
    let mut visitor = FindProducer(None);
    // A damaged stream still yields what came before the damage.
    let _ = Bitcode::read(bytes, &mut visitor);
    visitor.0
}

/// LLVM's own version, as its reader names itself (`LLVM 22.1.8`).
pub fn reader_version() -> String {
    format!("LLVM {}", crate::llvm::version())
}

/// `message`, followed by the producer and reader when it does not name them already.
pub fn with_producer(message: String, bytes: &[u8]) -> String {
    if message.contains("Producer:") {
        return message;
    }
    match bitcode_producer(bytes) {
        Some(producer) => format!(
            "{message} (Producer: '{producer}' Reader: '{}')",
            reader_version()
        ),
        None => message,
    }
}
