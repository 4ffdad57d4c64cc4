//! The child-process check of the inputs (codegen/isolated.rs), run once per set of input
//! bytes: what it hands over (each text input's module as bitcode) is kept in the cache under
//! the bytes' key, so a build of the same inputs with other options neither runs the child
//! nor parses the text again.

use std::path::Path;

use super::error::BuildError;
use crate::cache::{Key, KeyHasher, Lookup, ShardCache};
use crate::codegen::{self, is_bitcode, CodegenError, InputBytes};

/// The inputs as codegen should read them, after the child-process check of `inputs` (staged
/// in temp files for the child): a text input as the child's bitcode of it, a bitcode input
/// as it is. Taken from the cache when it holds the check of these very bytes by this aotlink
/// and LLVM.
pub fn check_once(
    checker: &Path,
    inputs: &[InputBytes],
    cache: Option<&ShardCache>,
) -> Result<Vec<InputBytes>, BuildError> {
    let key = checked_inputs_key(inputs);
    if let Some(cache) = cache {
        if let Lookup::Hit(record) = cache.get_build(&key) {
            if let Some(checked) = from_record(&record, inputs) {
                return Ok(checked);
            }
        }
    }
    let scratch = tempfile::tempdir()
        .map_err(|e| BuildError::Invalid(format!("cannot create a temp dir: {e}")))?;
    let staged_dir = scratch.path().join("inputs");
    let bitcode_dir = scratch.path().join("bitcode");
    for dir in [&staged_dir, &bitcode_dir] {
        std::fs::create_dir(dir)
            .map_err(|e| BuildError::Invalid(format!("cannot create a temp dir: {e}")))?;
    }
    let mut staged = Vec::new();
    for (i, InputBytes { name, bytes }) in inputs.iter().enumerate() {
        let path = staged_dir.join(format!("input{i}"));
        std::fs::write(&path, bytes).map_err(|e| {
            BuildError::Invalid(format!(
                "{}: cannot stage for checking: {e}",
                name.display()
            ))
        })?;
        staged.push(path);
    }
    let names: Vec<&Path> = inputs.iter().map(|input| input.name.as_path()).collect();
    codegen::isolated::check_in_child(checker, &staged, &names, &bitcode_dir).map_err(
        |e| -> BuildError {
            // Name the input, not its staged copy.
            let named = |text: String| {
                (staged.iter().zip(inputs)).fold(text, |t, (path, input)| {
                    t.replace(
                        &path.display().to_string(),
                        &input.name.display().to_string(),
                    )
                })
            };
            match e {
                CodegenError::Input { path, cause } => {
                    let i = staged.iter().position(|p| *p == path).unwrap_or(0);
                    CodegenError::Input {
                        path: inputs[i].name.clone(),
                        cause: named(cause),
                    }
                    .into()
                }
                CodegenError::Checked(message) => CodegenError::Checked(named(message)).into(),
                other => other.into(),
            }
        },
    )?;
    let checked = (inputs.iter().enumerate())
        .map(|(i, input)| {
            if is_bitcode(&input.bytes) {
                return Ok(input.clone());
            }
            let path = codegen::isolated::bitcode_path(&bitcode_dir, i);
            let bytes = std::fs::read(&path).map_err(|e| {
                BuildError::Invalid(format!(
                    "{}: the input check wrote no bitcode for it ({}: {e})",
                    input.name.display(),
                    path.display()
                ))
            })?;
            Ok(InputBytes {
                name: input.name.clone(),
                bytes: bytes.into(),
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    if let Some(cache) = cache {
        // Only saves the next build a check; failing to record it costs nothing else.
        let _ = cache.put_build(&key, &to_record(inputs, &checked));
    }
    Ok(checked)
}

/// The key under which the cache records that `inputs` passed the child-process check.
fn checked_inputs_key(inputs: &[InputBytes]) -> Key {
    let mut h = KeyHasher::new("aotlink checked inputs");
    h.count(inputs.len());
    for InputBytes { name, bytes } in inputs {
        // The name too: the handed-over module of text without `source_filename` is named
        // after it.
        h.field(name.as_os_str().as_encoded_bytes());
        h.field(bytes);
    }
    h.finish()
}

/// The record of a passed check: per input, a length and the bitcode codegen reads, or the
/// length 0 where that is the input itself (a bitcode input; bitcode is never empty).
fn to_record(inputs: &[InputBytes], checked: &[InputBytes]) -> Vec<u8> {
    let mut out = Vec::new();
    for (input, checked) in inputs.iter().zip(checked) {
        let handed_over: &[u8] = match std::sync::Arc::ptr_eq(&input.bytes, &checked.bytes) {
            true => &[],
            false => &checked.bytes,
        };
        out.extend((handed_over.len() as u64).to_le_bytes());
        out.extend(handed_over);
    }
    out
}

/// The inputs as [`to_record`] recorded them for `inputs`; `None` for a record that does not
/// describe as many inputs (the cache's checksum already refused damaged bytes).
fn from_record(record: &[u8], inputs: &[InputBytes]) -> Option<Vec<InputBytes>> {
    let mut rest = record;
    let mut checked = Vec::new();
    for input in inputs {
        let (len, after) = rest.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
        let (bytes, after) = (after.len() >= len).then(|| after.split_at(len))?;
        checked.push(match len {
            0 => input.clone(),
            _ => InputBytes {
                name: input.name.clone(),
                bytes: bytes.into(),
            },
        });
        rest = after;
    }
    rest.is_empty().then_some(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, bytes: &[u8]) -> InputBytes {
        InputBytes {
            name: name.into(),
            bytes: bytes.into(),
        }
    }

    #[test]
    fn a_record_gives_back_what_was_handed_over() {
        let inputs = [input("a.ll", b"text"), input("b.bc", b"BC\xc0\xde..")];
        let checked = [input("a.ll", b"BC\xc0\xdeA"), inputs[1].clone()];
        let record = to_record(&inputs, &checked);
        let back = from_record(&record, &inputs).unwrap();
        assert_eq!(&*back[0].bytes, b"BC\xc0\xdeA");
        assert!(std::sync::Arc::ptr_eq(&back[1].bytes, &inputs[1].bytes));
        assert_eq!(back[0].name, Path::new("a.ll"));
        // Another number of inputs, a short record, bytes after it, the record of the old
        // check (empty): a miss, not a wrong module.
        assert!(from_record(&record, &inputs[..1]).is_none());
        assert!(from_record(&record[..record.len() - 1], &inputs).is_none());
        assert!(from_record(&[record.clone(), vec![0]].concat(), &inputs).is_none());
        assert!(from_record(b"", &inputs).is_none());
    }
}
