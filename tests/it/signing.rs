//! Signed images end to end: keys from `aotlink keygen`, trailers from `aotlink sign` and
//! `build --sign`, checked by the loader through the Rust API, the C API
//! (tests/it/c/open_signed.c) and `aotlink run --trusted-key`.
//!
//! The image of tests/it/signing/marker.c has a constructor that creates the file named by
//! `AOTLINK_TEST_MARKER`: a refused image that leaves no marker was refused before the
//! dynamic loader ran any of it. Opens that may run it happen in child processes, each with
//! the variable set on that child only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use aotload::signing::TRAILER_SIZE;
use aotload::{Image, ImageFile, LoadCause, LoadOptions, PublicKey};

use crate::common::*;

/// The environment variable marker.c's constructor reads.
const MARKER_VAR: &str = "AOTLINK_TEST_MARKER";
/// What `signing_answer(11)` returns, fixed by marker.c (`x * 1000 + 42`).
const ANSWER: &str = "11042";

/// Two key pairs made by `aotlink keygen`.
struct Keys {
    a_key: PathBuf,
    a_pub: PathBuf,
    b_key: PathBuf,
    b_pub: PathBuf,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = scratch("signing-keys");
        for name in ["a", "b"] {
            aotlink_ok([
                "keygen".as_ref(),
                "--out".as_ref(),
                dir.join(name).as_os_str(),
            ]);
        }
        Keys {
            a_key: dir.join("a.key"),
            a_pub: dir.join("a.pub"),
            b_key: dir.join("b.key"),
            b_pub: dir.join("b.pub"),
        }
    })
}

/// The public key in a `.pub` file, read independently of the loader's parser: the second
/// line, 64 hex digits.
fn public_key_hex(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let hex = text.lines().nth(1).unwrap().trim().to_string();
    assert_eq!(hex.len(), 64, "{}: {text}", path.display());
    hex
}

/// The fingerprint errors name a key by: its first 16 hex digits.
fn fingerprint(path: &Path) -> String {
    public_key_hex(path)[..16].to_string()
}

fn public_key(path: &Path) -> PublicKey {
    PublicKey::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `aotlink sign IMAGE --key KEY`, expecting success.
fn sign(image: &Path, key: &Path) -> Output {
    aotlink_ok([
        "sign".as_ref(),
        image.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ])
}

/// Images of marker.c.
struct MarkerImages {
    /// As `aotlink build` wrote it.
    unsigned: PathBuf,
    /// Signed with key A.
    signed_a: PathBuf,
    /// `signed_a` with the text the constructor writes changed ("ran" -> "RAN") and the
    /// checksum recomputed: every check but the signature passes, and the changed code runs
    /// when nothing checks the signature. The trailer is A's signature of the original.
    tampered: PathBuf,
}

const MARKER_TEXT: &[u8] = b"the constructor ran\n";
const TAMPERED_TEXT: &[u8] = b"the constructor RAN\n";

fn marker_ir() -> &'static Path {
    static IR: OnceLock<PathBuf> = OnceLock::new();
    IR.get_or_init(|| {
        let ir = scratch("signing-marker-ir").join("marker.ll");
        clang_ir(
            &repo().join("tests/it/signing/marker.c"),
            &ir,
            &["-O2", "-S", "-emit-llvm"],
        );
        ir
    })
}

fn marker_images() -> &'static MarkerImages {
    static IMAGES: OnceLock<MarkerImages> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let dir = scratch("signing-marker");
        let unsigned = dir.join("marker.so");
        build_image(marker_ir(), &unsigned, &generic());
        let signed_a = dir.join("signed-a.so");
        std::fs::copy(&unsigned, &signed_a).unwrap();
        sign(&signed_a, &keys().a_key);

        let mut bytes = std::fs::read(&signed_a).unwrap();
        let file = ImageFile::parse(&bytes).unwrap();
        let at = find_once(&bytes, MARKER_TEXT);
        bytes[at..at + MARKER_TEXT.len()].copy_from_slice(TAMPERED_TEXT);
        let field = file.checksum_file_offset;
        let checksum = file.computed_checksum(&bytes);
        bytes[field..field + 8].copy_from_slice(&checksum.to_le_bytes());
        let tampered = dir.join("tampered.so");
        std::fs::write(&tampered, &bytes).unwrap();
        MarkerImages {
            unsigned,
            signed_a,
            tampered,
        }
    })
}

fn generic() -> Vec<String> {
    vec!["--cpu-target".into(), "generic".into()]
}

/// The offset of the only occurrence of `needle` in `haystack`.
fn find_once(haystack: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{:?} found at {hits:?}", needle);
    hits[0]
}

/// tests/it/c/open_signed.c, compiled once.
fn harness() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let exe = scratch("signing-c").join("open_signed");
        cc_with_aotload(&repo().join("tests/it/c/open_signed.c"), &exe, &[]);
        exe
    })
}

/// Runs the C harness with `args`; with `marker`, the constructor's variable names it.
fn run_harness(args: &[&Path], marker: Option<&Path>) -> Vec<String> {
    let mut cmd = Command::new(harness());
    cmd.args(args).env_remove(MARKER_VAR);
    if let Some(marker) = marker {
        cmd.env(MARKER_VAR, marker);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "open_signed {args:?} failed ({}): {stdout}",
        out.status
    );
    stdout.lines().map(str::to_string).collect()
}

/// `aotlink run IMAGE signing_answer 11` trusting `keys`; with `marker`, the constructor's
/// variable names it.
fn run_answer(image: &Path, keys: &[&Path], marker: Option<&Path>) -> Output {
    let mut cmd = Command::new(aotlink());
    cmd.arg("run");
    // Before IMAGE: everything after FUNCTION is an argument of the call.
    for key in keys {
        cmd.arg("--trusted-key").arg(key);
    }
    cmd.arg(image).args(["signing_answer", "11"]);
    cmd.env_remove(MARKER_VAR);
    if let Some(marker) = marker {
        cmd.env(MARKER_VAR, marker);
    }
    cmd.output().unwrap()
}

fn assert_answer(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        ANSWER,
        "{what}"
    );
}

/// A failed `aotlink run`: exit status 1 and one `aotlink: error:` line naming `image` and
/// saying `cause`.
fn assert_refused_run(out: &Output, image: &Path, cause: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", image.display());
    assert_clean_failure(out, &format!("{}: {cause}", image.display()));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

const UNTRUSTED: &str = "signed by a key that is not trusted";
const NOT_SIGNED: &str = "not signed (a signature is required)";
const BAD_SIGNATURE: &str = "signature does not match the file's contents";

/// The constructor runs exactly when the image opens: with the right key, or with no
/// signature checks at all (then even the tampered copy runs, writing its changed text). Wrong
/// key, unsigned with a signature required, and the tampered copy under the right key are
/// refused with no marker: nothing of the file ran, so the platform loader never had it.
#[test]
fn refused_images_never_reach_the_platform_loader() {
    let k = keys();
    let images = marker_images();
    let dir = scratch("signing-marker-runs");
    let a = k.a_pub.as_path();
    let b = k.b_pub.as_path();
    let req = Path::new("--require");
    let trust = Path::new("--trust-file");
    struct Case<'a> {
        name: &'a str,
        args: Vec<&'a Path>,
        cli_keys: Vec<&'a Path>,
        /// The marker's contents when the image opens, or the refusal's cause.
        outcome: Result<&'a [u8], &'a str>,
    }
    let cases = [
        Case {
            name: "right-key",
            args: vec![req, trust, a, &images.signed_a],
            cli_keys: vec![a],
            outcome: Ok(MARKER_TEXT),
        },
        Case {
            name: "unsigned-unchecked",
            args: vec![&images.unsigned],
            cli_keys: vec![],
            outcome: Ok(MARKER_TEXT),
        },
        Case {
            name: "tampered-unchecked",
            args: vec![&images.tampered],
            cli_keys: vec![],
            outcome: Ok(TAMPERED_TEXT),
        },
        Case {
            name: "wrong-key",
            args: vec![req, trust, b, &images.signed_a],
            cli_keys: vec![b],
            outcome: Err(UNTRUSTED),
        },
        Case {
            name: "unsigned-required",
            args: vec![req, trust, a, &images.unsigned],
            cli_keys: vec![a],
            outcome: Err(NOT_SIGNED),
        },
        Case {
            name: "tampered-right-key",
            args: vec![req, trust, a, &images.tampered],
            cli_keys: vec![a],
            outcome: Err(BAD_SIGNATURE),
        },
    ];
    for case in &cases {
        let image = *case.args.last().unwrap();
        // The C API.
        let marker = dir.join(format!("{}-c.marker", case.name));
        let lines = run_harness(&case.args, Some(&marker));
        assert_eq!(lines.len(), 1, "{}: {lines:?}", case.name);
        match case.outcome {
            Ok(text) => {
                assert_eq!(
                    lines[0],
                    format!("ok signing_answer(11)={ANSWER}"),
                    "{}",
                    case.name
                );
                assert_eq!(
                    std::fs::read(&marker).ok().as_deref(),
                    Some(text),
                    "{}",
                    case.name
                );
            }
            Err(cause) => {
                let expected = format!("refused {}: {cause}", image.display());
                assert!(
                    lines[0].starts_with(&expected),
                    "{}: {}",
                    case.name,
                    lines[0]
                );
                assert!(!marker.exists(), "{}: the constructor ran", case.name);
            }
        }
        // `aotlink run` (which requires a signature whenever a key is trusted).
        let marker = dir.join(format!("{}-cli.marker", case.name));
        let out = run_answer(image, &case.cli_keys, Some(&marker));
        match case.outcome {
            Ok(text) => {
                assert_answer(&out, case.name);
                assert_eq!(
                    std::fs::read(&marker).ok().as_deref(),
                    Some(text),
                    "{}",
                    case.name
                );
            }
            Err(cause) => {
                assert_refused_run(&out, image, cause);
                assert!(!marker.exists(), "{}: the constructor ran", case.name);
            }
        }
    }
}

/// The example, unsigned and signed with key A.
struct KernelImages {
    unsigned: PathBuf,
    signed_a: PathBuf,
}

fn kernel_images() -> &'static KernelImages {
    static IMAGES: OnceLock<KernelImages> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let unsigned = example_image(
            "signing-kernels",
            &["--export-all", "--cpu-target", "generic"],
        );
        let signed_a = scratch("signing-kernels-signed").join("kernels-a.so");
        std::fs::copy(&unsigned, &signed_a).unwrap();
        sign(&signed_a, &keys().a_key);
        KernelImages { unsigned, signed_a }
    })
}

fn options(keys: &[&Path], require: bool) -> LoadOptions {
    LoadOptions {
        trusted_keys: keys.iter().map(|k| public_key(k)).collect(),
        require_signature: require,
        ..Default::default()
    }
}

/// Values fixed by examples/kernels/kernels.c: `primes[10]` and `ops[2]` (multiplication).
fn assert_known_values(image: &Image) {
    let prime_at = image.lookup("prime_at").unwrap();
    let apply_op = image.lookup("apply_op").unwrap();
    // SAFETY: both are int64 functions of the example, of one and three int64 arguments.
    let (prime_at, apply_op) = unsafe {
        (
            std::mem::transmute::<*const std::ffi::c_void, extern "C" fn(i64) -> i64>(prime_at),
            std::mem::transmute::<*const std::ffi::c_void, extern "C" fn(i64, i64, i64) -> i64>(
                apply_op,
            ),
        )
    };
    assert_eq!(prime_at(10), 31);
    assert_eq!(apply_op(2, 6, 7), 42);
}

/// The refusal of `path` with `options`: its cause, after checking that the message names the
/// file and says `text`.
fn refusal(path: &Path, options: &LoadOptions, text: &str) -> LoadCause {
    let err = match Image::open(path, options) {
        Ok(_) => panic!("{}: opened, expected `{text}`", path.display()),
        Err(e) => e,
    };
    let message = err.to_string();
    assert_eq!(err.path, path, "{message}");
    assert!(
        message.starts_with(&format!("{}: {text}", path.display())),
        "{message}"
    );
    err.cause
}

/// Through the Rust API: the signed example opens with its key (alone or among others) and
/// computes what the cc-built reference does; another key, or no signature when one is
/// required, is refused; an unsigned image opens when no signature is required.
#[test]
fn rust_api_accepts_exactly_the_trusted_signatures() {
    let k = keys();
    let images = kernel_images();
    let fp_a = fingerprint(&k.a_pub);

    let image = Image::open(&images.signed_a, &options(&[&k.a_pub], true)).unwrap();
    assert_known_values(&image);
    assert_matches_reference(&image, 4);
    drop(image);
    let image = Image::open(&images.signed_a, &options(&[&k.b_pub, &k.a_pub], true)).unwrap();
    assert_known_values(&image);
    drop(image);

    // Signed by A, trusting only B: refused whether or not a signature is required.
    for require in [true, false] {
        let cause = refusal(
            &images.signed_a,
            &options(&[&k.b_pub], require),
            &format!("{UNTRUSTED} (key {fp_a})"),
        );
        assert!(matches!(cause, LoadCause::UntrustedKey(_)), "{cause:?}");
    }
    // Required with no key trusted at all.
    let cause = refusal(&images.signed_a, &options(&[], true), UNTRUSTED);
    assert!(matches!(cause, LoadCause::UntrustedKey(_)), "{cause:?}");

    // Unsigned: refused when required, opened otherwise (with or without trusted keys).
    let cause = refusal(&images.unsigned, &options(&[&k.a_pub], true), NOT_SIGNED);
    assert!(matches!(cause, LoadCause::NotSigned), "{cause:?}");
    for keys in [vec![], vec![k.a_pub.as_path()]] {
        let image = Image::open(&images.unsigned, &options(&keys, false)).unwrap();
        assert_known_values(&image);
    }
}

/// 64 single-byte flips spread over a signed image, including the root's checksum field, the
/// last byte of the body and the first and last bytes of the signature, the public key and the
/// magic: every one is refused, with the cause of where it is.
#[test]
fn every_flipped_byte_of_a_signed_image_is_refused() {
    let k = keys();
    let images = kernel_images();
    let bytes = std::fs::read(&images.signed_a).unwrap();
    let (n, body) = (bytes.len(), bytes.len() - TRAILER_SIZE);
    let checksum_at = ImageFile::parse(&bytes).unwrap().checksum_file_offset;
    assert!(checksum_at + 8 <= body);
    let mut offsets: Vec<usize> = vec![
        checksum_at,
        checksum_at + 3,
        checksum_at + 7,
        body - 1,
        // Signature: R (first half) and S.
        body,
        body + 17,
        body + 32,
        body + 63,
        // Public key.
        body + 64,
        body + 80,
        body + 95,
        // Magic.
        body + 96,
        body + 100,
        n - 1,
    ];
    let spread = 64 - offsets.len();
    offsets.extend((0..spread).map(|i| i * (n - 1) / (spread - 1)));
    offsets.sort_unstable();
    offsets.dedup();
    assert!(offsets.len() >= 60, "{offsets:?}");
    assert!(
        offsets.iter().filter(|&&o| o >= body).count() >= 10,
        "{offsets:?}"
    );

    let dir = scratch("signing-flips");
    let required = options(&[&k.a_pub], true);
    let trusted = options(&[&k.a_pub], false);
    let (mut in_body, mut in_trailer) = (0, 0);
    for (i, &at) in offsets.iter().enumerate() {
        let mut mutant = bytes.clone();
        mutant[at] ^= 1 << (i % 8);
        let path = dir.join(format!("flip-{at:07}.so"));
        std::fs::write(&path, &mutant).unwrap();
        let what = format!("byte {at} of {n} (body {body})");
        if at < body + 64 {
            // The body, the checksum field and the signature: the signature fails to verify.
            for opts in [&required, &trusted] {
                let cause = refusal(&path, opts, BAD_SIGNATURE);
                assert!(
                    matches!(cause, LoadCause::BadSignature),
                    "{what}: {cause:?}"
                );
            }
        } else if at < body + 96 {
            // The public key: another key, which nobody trusts.
            for opts in [&required, &trusted] {
                let cause = refusal(&path, opts, UNTRUSTED);
                assert!(
                    matches!(cause, LoadCause::UntrustedKey(_)),
                    "{what}: {cause:?}"
                );
            }
        } else {
            // The magic: no trailer, so an unsigned file; required, that is refused; not
            // required, the 104 bytes are part of the image, and the checksum no longer holds.
            let cause = refusal(&path, &required, NOT_SIGNED);
            assert!(matches!(cause, LoadCause::NotSigned), "{what}: {cause:?}");
            let cause = refusal(&path, &trusted, "checksum mismatch");
            assert!(
                matches!(cause, LoadCause::Checksum { .. }),
                "{what}: {cause:?}"
            );
        }
        if at < body {
            in_body += 1;
        } else {
            in_trailer += 1;
        }
        // The checksum field really is the one the loader checks: with no signature checks, a
        // flip there is a checksum mismatch whose stored value is the flipped one.
        if (checksum_at..checksum_at + 8).contains(&at) {
            let cause = refusal(&path, &LoadOptions::default(), "checksum mismatch");
            let stored = u64::from_le_bytes(mutant[checksum_at..][..8].try_into().unwrap());
            assert!(
                matches!(cause, LoadCause::Checksum { stored: s, .. } if s == stored),
                "{what}: {cause:?}"
            );
        }
    }
    assert!(in_body >= 50 && in_trailer >= 10, "{in_body} {in_trailer}");
    // The unflipped file opens under the same options.
    Image::open(&images.signed_a, &required).unwrap();
}

/// Through the C API (aotload_options_* and aotload_open_opts): the right key by file or by
/// bytes opens and computes marker.c's value; a wrong key, no key, or an unsigned image with a
/// signature required is refused with the cause named; invalid keys are refused when trusted.
#[test]
fn c_api_accepts_exactly_the_trusted_signatures() {
    let k = keys();
    let images = marker_images();
    let hex_a = public_key_hex(&k.a_pub);
    let fp_a = fingerprint(&k.a_pub);
    let mut weak = "00".repeat(32);
    weak.replace_range(..2, "01");
    let p = Path::new;
    let args: Vec<&Path> = vec![
        // Key A from its file, required: signed by A opens; unsigned is refused.
        p("--require"),
        p("--trust-file"),
        &k.a_pub,
        &images.signed_a,
        &images.unsigned,
        // Key B only: A's signature is refused, required or not.
        p("--reset"),
        p("--require"),
        p("--trust-file"),
        &k.b_pub,
        &images.signed_a,
        p("--reset"),
        p("--trust-file"),
        &k.b_pub,
        &images.signed_a,
        // Required with no key at all.
        p("--reset"),
        p("--require"),
        &images.signed_a,
        // Key A by its bytes: unsigned opens when not required; then required.
        p("--reset"),
        p("--trust-hex"),
        p(&hex_a),
        &images.unsigned,
        &images.signed_a,
        p("--require"),
        &images.signed_a,
        // Not keys: a small-order point, a secret key file.
        p("--reset"),
        p("--trust-hex"),
        p(&weak),
        p("--trust-file"),
        &k.a_key,
        // The defaults check no signature.
        &images.signed_a,
    ];
    let lines = run_harness(&args, None);
    let ok = format!("ok signing_answer(11)={ANSWER}");
    let refused = |image: &Path, cause: &str| format!("refused {}: {cause}", image.display());
    let expected = [
        ok.clone(),
        refused(&images.unsigned, NOT_SIGNED),
        refused(&images.signed_a, &format!("{UNTRUSTED} (key {fp_a})")),
        refused(&images.signed_a, &format!("{UNTRUSTED} (key {fp_a})")),
        refused(&images.signed_a, &format!("{UNTRUSTED} (key {fp_a})")),
        ok.clone(),
        ok.clone(),
        ok.clone(),
        "trust refused aotload_options_trust_key: not a valid ed25519 public key".into(),
        format!(
            "trust refused {}: not an aotlink public key file (the first line must be `aotlink ed25519 public key`)",
            k.a_key.display()
        ),
        ok.clone(),
    ];
    assert_eq!(lines, expected);
}

/// `aotlink run --trusted-key`: the right key runs; a wrong key or an unsigned image is one
/// error line naming the file, exit status 1. `aotlink sign` replaces A's signature with B's:
/// then B runs and A is refused. A damaged image is not signed.
#[test]
fn cli_runs_only_trusted_images_and_resigns() {
    let k = keys();
    let images = marker_images();
    let fp_a = fingerprint(&k.a_pub);
    let fp_b = fingerprint(&k.b_pub);
    assert_answer(&run_answer(&images.signed_a, &[&k.a_pub], None), "key A");
    assert_answer(
        &run_answer(&images.signed_a, &[&k.b_pub, &k.a_pub], None),
        "keys B, A",
    );
    assert_refused_run(
        &run_answer(&images.signed_a, &[&k.b_pub], None),
        &images.signed_a,
        &format!("{UNTRUSTED} (key {fp_a})"),
    );
    assert_refused_run(
        &run_answer(&images.unsigned, &[&k.a_pub], None),
        &images.unsigned,
        NOT_SIGNED,
    );
    let out = run_answer(&images.signed_a, &[&k.a_key], None);
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(
        &out,
        &format!("{}: this is a secret key file", k.a_key.display()),
    );

    // Re-signing replaces the trailer: same length, same body, B's key.
    let dir = scratch("signing-resign");
    let resigned = dir.join("resigned.so");
    std::fs::copy(&images.signed_a, &resigned).unwrap();
    let out = sign(&resigned, &k.b_key);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}: signed with key {fp_b}\n", resigned.display())
    );
    let before = std::fs::read(&images.signed_a).unwrap();
    let after = std::fs::read(&resigned).unwrap();
    assert_eq!(after.len(), before.len());
    let body = before.len() - TRAILER_SIZE;
    assert_eq!(after[..body], before[..body]);
    assert_eq!(
        after[body + 64..][..32],
        aotload::signing::decode_hex::<32>(&public_key_hex(&k.b_pub)).unwrap()
    );
    assert_answer(
        &run_answer(&resigned, &[&k.b_pub], None),
        "re-signed, key B",
    );
    assert_refused_run(
        &run_answer(&resigned, &[&k.a_pub], None),
        &resigned,
        &format!("{UNTRUSTED} (key {fp_b})"),
    );

    // A damaged image (its checksum field changed) is refused, and left as it was.
    let damaged = dir.join("damaged.so");
    let mut bytes = std::fs::read(&images.unsigned).unwrap();
    let field = ImageFile::parse(&bytes).unwrap().checksum_file_offset;
    bytes[field] ^= 0x40;
    std::fs::write(&damaged, &bytes).unwrap();
    let out = run_aotlink([
        "sign".as_ref(),
        damaged.as_os_str(),
        "--key".as_ref(),
        k.a_key.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(&out, &format!("{}: checksum mismatch", damaged.display()));
    assert_eq!(std::fs::read(&damaged).unwrap(), bytes);
    assert_only_files(&dir, &["resigned.so", "damaged.so"]);
}

/// `aotlink keygen` writes a secret key only its owner can read and a public key the loader
/// parses; it never overwrites a key file, secret or public: a clean error, files unchanged.
#[test]
fn keygen_never_overwrites_a_key() {
    let dir = scratch("signing-keygen");
    let name = dir.join("k");
    let out = aotlink_ok(["keygen".as_ref(), "--out".as_ref(), name.as_os_str()]);
    let (secret, public) = (dir.join("k.key"), dir.join("k.pub"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "key {}: secret {}, public {}\n",
            fingerprint(&public),
            secret.display(),
            public.display()
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    public_key(&public);
    let (secret_text, public_text) = (
        std::fs::read(&secret).unwrap(),
        std::fs::read(&public).unwrap(),
    );

    let out = run_aotlink(["keygen".as_ref(), "--out".as_ref(), name.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(&out, &format!("{}: already exists", secret.display()));
    assert_eq!(std::fs::read(&secret).unwrap(), secret_text);
    assert_eq!(std::fs::read(&public).unwrap(), public_text);

    // Someone else's public key kept under the name: not replaced by a new key.
    let theirs = dir.join("theirs.pub");
    std::fs::copy(&keys().a_pub, &theirs).unwrap();
    let out = run_aotlink([
        "keygen".as_ref(),
        "--out".as_ref(),
        dir.join("theirs").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(&out, &format!("{}: already exists", theirs.display()));
    assert_eq!(
        std::fs::read(&theirs).unwrap(),
        std::fs::read(&keys().a_pub).unwrap()
    );
    assert_only_files(&dir, &["k.key", "k.pub", "theirs.pub"]);
}

/// `build --sign` writes the image signed: byte for byte what `aotlink sign` makes of the
/// unsigned build (signing is deterministic), and `run --trusted-key` accepts it with that key
/// only.
#[test]
fn build_sign_writes_a_signed_image() {
    let k = keys();
    let dir = scratch("signing-build-sign");
    // The file name of marker_images().unsigned: the name is part of what is linked.
    let image = dir.join("marker.so");
    let mut extra = generic();
    extra.extend(["--sign".into(), k.a_key.display().to_string()]);
    build_image(marker_ir(), &image, &extra);
    let bytes = std::fs::read(&image).unwrap();
    assert!(bytes.ends_with(b"AOTSIGN1"));
    assert_eq!(bytes, std::fs::read(&marker_images().signed_a).unwrap());
    assert_answer(
        &run_answer(&image, &[&k.a_pub], None),
        "build --sign, key A",
    );
    assert_refused_run(
        &run_answer(&image, &[&k.b_pub], None),
        &image,
        &format!("{UNTRUSTED} (key {})", fingerprint(&k.a_pub)),
    );
    assert_only_files(&dir, &["marker.so"]);
}
