//! LLVM 22.1's name for the host CPU (what `llvm::sys::getHostCPUName` returns), computed without
//! LLVM so that a CPU target named after the host can win ties.
//!
//! Everything here is a pure function of values the caller reads (cpuid vendor, family, model and
//! features on x86; `/proc/cpuinfo` or `MIDR_EL1` on aarch64). Nothing executes cpuid, so the
//! module builds on every architecture and tests can feed any CPU.
//!
//! The logic follows `llvm/lib/TargetParser/Host.cpp` as released in LLVM 22.1 (x86:
//! `getIntelProcessorTypeAndSubtype` / `getAMDProcessorTypeAndSubtype`; aarch64:
//! `getHostCPUNameForARM`). The tables were checked against LLVM 22.1.8's own library: every
//! vendor, family and model, and every implementer and part, fed to its host detection. Where LLVM would answer "generic", or a name that is not a CPU of the
//! target (the 32-bit-only Arm cores LLVM's shared ARM/AArch64 table knows), the functions return
//! `None`.

// ---------------------------------------------------------------------------------------------
// x86
// ---------------------------------------------------------------------------------------------

/// The two vendors LLVM 22 tells apart; any other vendor string is "generic" to it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Vendor {
    Intel,
    Amd,
}

/// What a row of [`X86_ROWS`] names.
#[derive(Debug)]
enum Pick {
    /// Always this name.
    Is(&'static str),
    /// The name of the first entry whose features the CPU all has, else the last name.
    ByFeatures(
        &'static [(&'static [&'static str], &'static str)],
        &'static str,
    ),
}

/// One row: a vendor, an LLVM family, an inclusive LLVM model range and what it names.
#[derive(Debug)]
struct X86Row {
    vendor: Vendor,
    family: u32,
    models: (u32, u32),
    pick: Pick,
}

const fn row(vendor: Vendor, family: u32, lo: u32, hi: u32, name: &'static str) -> X86Row {
    X86Row {
        vendor,
        family,
        models: (lo, hi),
        pick: Pick::Is(name),
    }
}

const fn row_by(
    vendor: Vendor,
    family: u32,
    lo: u32,
    hi: u32,
    chain: &'static [(&'static [&'static str], &'static str)],
    otherwise: &'static str,
) -> X86Row {
    X86Row {
        vendor,
        family,
        models: (lo, hi),
        pick: Pick::ByFeatures(chain, otherwise),
    }
}

const ANY: u32 = u32::MAX;
use Vendor::{Amd, Intel};

/// Family 6 model 0x55 (Skylake-SP and its refreshes share the model number).
const INTEL_SKYLAKE_XEON: &[(&[&str], &str)] = &[
    (&["avx512bf16"], "cooperlake"),
    (&["avx512vnni"], "cascadelake"),
];

/// LLVM's guess for a family 6 model it does not list, from the newest feature down. A nested
/// test in Host.cpp (e.g. clflushopt then sha) becomes two entries, the narrower first.
const INTEL_FAMILY6_GUESS: &[(&[&str], &str)] = &[
    (&["avx512vp2intersect"], "tigerlake"),
    (&["avx512vbmi2"], "icelake-client"),
    (&["avx512vbmi"], "cannonlake"),
    (&["avx512bf16"], "cooperlake"),
    (&["avx512vnni"], "cascadelake"),
    (&["avx512vl"], "skylake-avx512"),
    (&["clflushopt", "sha"], "goldmont"),
    (&["clflushopt"], "skylake"),
    (&["adx"], "broadwell"),
    (&["avx2"], "haswell"),
    (&["avx"], "sandybridge"),
    (&["sse4.2", "movbe"], "silvermont"),
    (&["sse4.2"], "nehalem"),
    (&["sse4.1"], "penryn"),
    (&["ssse3", "movbe"], "bonnell"),
    (&["ssse3"], "core2"),
    (&["64bit"], "core2"),
    (&["sse3"], "yonah"),
    (&["sse2"], "pentium-m"),
    (&["sse"], "pentium3"),
    (&["mmx"], "pentium2"),
];

const INTEL_PENTIUM: &[(&[&str], &str)] = &[(&["mmx"], "pentium-mmx")];
const INTEL_NETBURST: &[(&[&str], &str)] = &[(&["64bit"], "nocona"), (&["sse3"], "prescott")];
const AMD_K7: &[(&[&str], &str)] = &[(&["sse"], "athlon-xp")];
const AMD_K8: &[(&[&str], &str)] = &[(&["sse3"], "k8-sse3")];

/// The rows, first match wins. A family's catch-all row (models `0..=ANY`) comes last in it.
const X86_ROWS: &[X86Row] = &[
    // ---- Intel ----
    row(Intel, 3, 0, ANY, "i386"),
    row(Intel, 4, 0, ANY, "i486"),
    row_by(Intel, 5, 0, ANY, INTEL_PENTIUM, "pentium"),
    // Core 2 (65 nm), Celeron 0x16.
    row(Intel, 6, 0x0f, 0x0f, "core2"),
    row(Intel, 6, 0x16, 0x16, "core2"),
    // Penryn, Wolfdale, Yorkfield; Xeon MP 0x1d.
    row(Intel, 6, 0x17, 0x17, "penryn"),
    row(Intel, 6, 0x1d, 0x1d, "penryn"),
    // Nehalem; 0x2e Nehalem-EX.
    row(Intel, 6, 0x1a, 0x1a, "nehalem"),
    row(Intel, 6, 0x1e, 0x1f, "nehalem"),
    row(Intel, 6, 0x2e, 0x2e, "nehalem"),
    // Westmere; 0x2f Westmere-EX.
    row(Intel, 6, 0x25, 0x25, "westmere"),
    row(Intel, 6, 0x2c, 0x2c, "westmere"),
    row(Intel, 6, 0x2f, 0x2f, "westmere"),
    row(Intel, 6, 0x2a, 0x2a, "sandybridge"),
    row(Intel, 6, 0x2d, 0x2d, "sandybridge"),
    // Ivy Bridge; 0x3e Ivy Bridge-EP.
    row(Intel, 6, 0x3a, 0x3a, "ivybridge"),
    row(Intel, 6, 0x3e, 0x3e, "ivybridge"),
    row(Intel, 6, 0x3c, 0x3c, "haswell"),
    row(Intel, 6, 0x3f, 0x3f, "haswell"),
    row(Intel, 6, 0x45, 0x46, "haswell"),
    row(Intel, 6, 0x3d, 0x3d, "broadwell"),
    row(Intel, 6, 0x47, 0x47, "broadwell"),
    row(Intel, 6, 0x4f, 0x4f, "broadwell"),
    row(Intel, 6, 0x56, 0x56, "broadwell"),
    // Skylake mobile/desktop, Kaby Lake mobile/desktop, Comet Lake-H/S and -U.
    row(Intel, 6, 0x4e, 0x4e, "skylake"),
    row(Intel, 6, 0x5e, 0x5e, "skylake"),
    row(Intel, 6, 0x8e, 0x8e, "skylake"),
    row(Intel, 6, 0x9e, 0x9e, "skylake"),
    row(Intel, 6, 0xa5, 0xa6, "skylake"),
    row(Intel, 6, 0xa7, 0xa7, "rocketlake"),
    // Skylake-SP / Cascade Lake / Cooper Lake.
    row_by(Intel, 6, 0x55, 0x55, INTEL_SKYLAKE_XEON, "skylake-avx512"),
    row(Intel, 6, 0x66, 0x66, "cannonlake"),
    row(Intel, 6, 0x7d, 0x7e, "icelake-client"),
    row(Intel, 6, 0x8c, 0x8d, "tigerlake"),
    // Alder Lake; its E-cores alone (Alder Lake-N) are Gracemont.
    row(Intel, 6, 0x97, 0x97, "alderlake"),
    row(Intel, 6, 0x9a, 0x9a, "alderlake"),
    row(Intel, 6, 0xbe, 0xbe, "gracemont"),
    row(Intel, 6, 0xb7, 0xb7, "raptorlake"),
    row(Intel, 6, 0xba, 0xba, "raptorlake"),
    row(Intel, 6, 0xbf, 0xbf, "raptorlake"),
    row(Intel, 6, 0xaa, 0xaa, "meteorlake"),
    row(Intel, 6, 0xac, 0xac, "meteorlake"),
    // Arrow Lake (H) and Arrow Lake U.
    row(Intel, 6, 0xc5, 0xc5, "arrowlake"),
    row(Intel, 6, 0xb5, 0xb5, "arrowlake"),
    row(Intel, 6, 0xc6, 0xc6, "arrowlake-s"),
    row(Intel, 6, 0xbd, 0xbd, "lunarlake"),
    row(Intel, 6, 0xcc, 0xcc, "pantherlake"),
    row(Intel, 6, 0xd5, 0xd5, "wildcatlake"),
    row(Intel, 6, 0xad, 0xad, "graniterapids"),
    row(Intel, 6, 0xae, 0xae, "graniterapids-d"),
    row(Intel, 6, 0x6a, 0x6a, "icelake-server"),
    row(Intel, 6, 0x6c, 0x6c, "icelake-server"),
    row(Intel, 6, 0xcf, 0xcf, "emeraldrapids"),
    row(Intel, 6, 0x8f, 0x8f, "sapphirerapids"),
    // Atom: Bonnell (45 nm, Lincroft), Saltwell (Medfield, Midview).
    row(Intel, 6, 0x1c, 0x1c, "bonnell"),
    row(Intel, 6, 0x26, 0x27, "bonnell"),
    row(Intel, 6, 0x35, 0x36, "bonnell"),
    // Silvermont; 0x4c is Airmont.
    row(Intel, 6, 0x37, 0x37, "silvermont"),
    row(Intel, 6, 0x4a, 0x4a, "silvermont"),
    row(Intel, 6, 0x4d, 0x4d, "silvermont"),
    row(Intel, 6, 0x5a, 0x5a, "silvermont"),
    row(Intel, 6, 0x5d, 0x5d, "silvermont"),
    row(Intel, 6, 0x4c, 0x4c, "silvermont"),
    // Goldmont: Apollo Lake 0x5c, Denverton 0x5f.
    row(Intel, 6, 0x5c, 0x5c, "goldmont"),
    row(Intel, 6, 0x5f, 0x5f, "goldmont"),
    row(Intel, 6, 0x7a, 0x7a, "goldmont-plus"),
    // Tremont; Lakefield 0x8a, Elkhart Lake 0x96, Jasper Lake 0x9c.
    row(Intel, 6, 0x86, 0x86, "tremont"),
    row(Intel, 6, 0x8a, 0x8a, "tremont"),
    row(Intel, 6, 0x96, 0x96, "tremont"),
    row(Intel, 6, 0x9c, 0x9c, "tremont"),
    row(Intel, 6, 0xaf, 0xaf, "sierraforest"),
    row(Intel, 6, 0xb6, 0xb6, "grandridge"),
    row(Intel, 6, 0xdd, 0xdd, "clearwaterforest"),
    // Xeon Phi: Knights Landing, Knights Mill.
    row(Intel, 6, 0x57, 0x57, "knl"),
    row(Intel, 6, 0x85, 0x85, "knm"),
    // Any other family 6 model: guessed from the features.
    row_by(Intel, 6, 0, ANY, INTEL_FAMILY6_GUESS, "pentiumpro"),
    row_by(Intel, 15, 0, ANY, INTEL_NETBURST, "pentium4"),
    // Families 18 and 19 (12h, 13h): only these models; no guess from features for others.
    row(Intel, 0x12, 0x01, 0x01, "novalake"),
    row(Intel, 0x12, 0x03, 0x03, "novalake"),
    row(Intel, 0x13, 0x01, 0x01, "diamondrapids"),
    // ---- AMD ----
    row(Amd, 4, 0, ANY, "i486"),
    row(Amd, 5, 6, 7, "k6"),
    row(Amd, 5, 8, 8, "k6-2"),
    row(Amd, 5, 9, 9, "k6-3"),
    row(Amd, 5, 13, 13, "k6-3"),
    row(Amd, 5, 10, 10, "geode"),
    row(Amd, 5, 0, ANY, "pentium"),
    row_by(Amd, 6, 0, ANY, AMD_K7, "athlon"),
    row_by(Amd, 15, 0, ANY, AMD_K8, "k8"),
    // Family 10h, and 12h (Llano), which LLVM names after it too.
    row(Amd, 0x10, 0, ANY, "amdfam10"),
    row(Amd, 0x12, 0, ANY, "amdfam10"),
    row(Amd, 0x14, 0, ANY, "btver1"),
    // Family 15h: Excavator, Steamroller, Piledriver; anything else is Bulldozer.
    row(Amd, 0x15, 0x60, 0x7f, "bdver4"),
    row(Amd, 0x15, 0x30, 0x3f, "bdver3"),
    row(Amd, 0x15, 0x10, 0x1f, "bdver2"),
    row(Amd, 0x15, 0x02, 0x02, "bdver2"),
    row(Amd, 0x15, 0, ANY, "bdver1"),
    row(Amd, 0x16, 0, ANY, "btver2"),
    // Family 17h: Zen 2 is Starship 30h-3Fh, Cardinal 47h, Renoir 60h-67h, Lucienne 68h-6Fh,
    // Matisse 70h-7Fh, ProjectX 84h-87h, VanGogh 90h-97h, Mero 98h-9Fh, Mendocino A0h-AFh;
    // everything else (Naples, Raven, Picasso...) is Zen 1.
    row(Amd, 0x17, 0x30, 0x3f, "znver2"),
    row(Amd, 0x17, 0x47, 0x47, "znver2"),
    row(Amd, 0x17, 0x60, 0x7f, "znver2"),
    row(Amd, 0x17, 0x84, 0x87, "znver2"),
    row(Amd, 0x17, 0x90, 0x9f, "znver2"),
    row(Amd, 0x17, 0xa0, 0xaf, "znver2"),
    row(Amd, 0x17, 0, ANY, "znver1"),
    // Family 19h: Zen 4 is Stones/Storm Peak 10h-1Fh, Raphael 60h-6Fh, Phoenix/Hawk Point
    // 70h-7Fh, Stones-Dense A0h-AFh. Host.cpp lists the Zen 3 models (00h-0Fh, 20h-5Fh) and
    // also falls back to znver3 for any other model, so one catch-all row covers both.
    row(Amd, 0x19, 0x10, 0x1f, "znver4"),
    row(Amd, 0x19, 0x60, 0x7f, "znver4"),
    row(Amd, 0x19, 0xa0, 0xaf, "znver4"),
    row(Amd, 0x19, 0, ANY, "znver3"),
    // Family 1Ah: Host.cpp lists models 00h-77h and falls back to znver5 for the rest too.
    row(Amd, 0x1a, 0, ANY, "znver5"),
];

/// Every feature name [`x86_cpu_name`] may pass to `has`.
pub const X86_NAME_FEATURES: &[&str] = &[
    "64bit",
    "mmx",
    "sse",
    "sse2",
    "sse3",
    "ssse3",
    "sse4.1",
    "sse4.2",
    "movbe",
    "avx",
    "avx2",
    "adx",
    "sha",
    "clflushopt",
    "avx512vl",
    "avx512vnni",
    "avx512bf16",
    "avx512vbmi",
    "avx512vbmi2",
    "avx512vp2intersect",
];

/// Every name [`x86_cpu_name`] can return.
pub const X86_HOST_NAMES: &[&str] = &[
    "i386",
    "i486",
    "pentium",
    "pentium-mmx",
    "pentiumpro",
    "pentium2",
    "pentium3",
    "pentium-m",
    "yonah",
    "pentium4",
    "prescott",
    "nocona",
    "core2",
    "penryn",
    "nehalem",
    "westmere",
    "sandybridge",
    "ivybridge",
    "haswell",
    "broadwell",
    "skylake",
    "skylake-avx512",
    "cascadelake",
    "cooperlake",
    "cannonlake",
    "icelake-client",
    "icelake-server",
    "tigerlake",
    "rocketlake",
    "alderlake",
    "gracemont",
    "raptorlake",
    "meteorlake",
    "arrowlake",
    "arrowlake-s",
    "lunarlake",
    "pantherlake",
    "wildcatlake",
    "novalake",
    "sapphirerapids",
    "emeraldrapids",
    "graniterapids",
    "graniterapids-d",
    "diamondrapids",
    "bonnell",
    "silvermont",
    "goldmont",
    "goldmont-plus",
    "tremont",
    "sierraforest",
    "grandridge",
    "clearwaterforest",
    "knl",
    "knm",
    "k6",
    "k6-2",
    "k6-3",
    "geode",
    "athlon",
    "athlon-xp",
    "k8",
    "k8-sse3",
    "amdfam10",
    "btver1",
    "btver2",
    "bdver1",
    "bdver2",
    "bdver3",
    "bdver4",
    "znver1",
    "znver2",
    "znver3",
    "znver4",
    "znver5",
];

/// Family and model from cpuid leaf 1 `eax`, as LLVM 22 computes them: the extended family is
/// added only when the base family is 0xf, and the extended model is prepended only when the
/// base family is 6 or 0xf.
pub fn x86_family_model(leaf1_eax: u32) -> (u32, u32) {
    let base_family = (leaf1_eax >> 8) & 0xf;
    let mut family = base_family;
    let mut model = (leaf1_eax >> 4) & 0xf;
    if base_family == 6 || base_family == 0xf {
        if base_family == 0xf {
            family += (leaf1_eax >> 20) & 0xff;
        }
        model += ((leaf1_eax >> 16) & 0xf) << 4;
    }
    (family, model)
}

/// LLVM 22's name for an x86 CPU from its cpuid vendor string (12 bytes, e.g. b"GenuineIntel"),
/// family and model as [`x86_family_model`] computes them, and its features by LLVM name
/// (`has("avx512vnni")`), which Host.cpp consults to tell some models apart. `None` when LLVM
/// would say "generic".
///
/// `has` is asked only names in
/// [`X86_NAME_FEATURES`]; like LLVM it should say no to AVX / AVX-512 features the OS does not
/// save the registers of. Vendors other than Intel and AMD (Hygon, Zhaoxin, VIA...) are
/// "generic" to LLVM 22.
pub fn x86_cpu_name(
    vendor: &[u8],
    family: u32,
    model: u32,
    has: &dyn Fn(&str) -> bool,
) -> Option<&'static str> {
    let vendor = match vendor {
        b"GenuineIntel" => Intel,
        b"AuthenticAMD" => Amd,
        _ => return None,
    };
    let row = X86_ROWS.iter().find(|r| {
        r.vendor == vendor && r.family == family && (r.models.0..=r.models.1).contains(&model)
    })?;
    Some(match row.pick {
        Pick::Is(name) => name,
        Pick::ByFeatures(chain, otherwise) => chain
            .iter()
            .find(|(needs, _)| needs.iter().all(|f| has(f)))
            .map_or(otherwise, |&(_, name)| name),
    })
}

// ---------------------------------------------------------------------------------------------
// aarch64
// ---------------------------------------------------------------------------------------------

/// One row: the "CPU implementer" and "CPU part" texts as Host.cpp compares them, and the name.
#[derive(Debug)]
struct ArmRow {
    implementer: &'static str,
    part: &'static str,
    name: &'static str,
}

const fn arm(implementer: &'static str, part: &'static str, name: &'static str) -> ArmRow {
    ArmRow {
        implementer,
        part,
        name,
    }
}

/// Host.cpp's table without its 32-bit-only Arm cores (ARM926, MPCore, ARM11, Cortex-A5/7/8/9/
/// 15/17, Cortex-M*, Cortex-R8/R52/R52+; Qualcomm Krait 0x06f; Arm China's STAR-MC1/MC3), whose
/// names are not aarch64 CPUs and which cannot run aarch64 code; leaving them out gives `None` for them, as for any part
/// not listed. Parts are matched as exact strings, as Host.cpp does (so Cavium's "0xaf" and
/// "0x0af" are both rows).
const ARM_ROWS: &[ArmRow] = &[
    // Arm Ltd.
    arm("0x41", "0xd15", "cortex-r82"),
    arm("0x41", "0xd14", "cortex-r82ae"),
    arm("0x41", "0xd02", "cortex-a34"),
    arm("0x41", "0xd04", "cortex-a35"),
    arm("0x41", "0xd8f", "cortex-a320"),
    arm("0x41", "0xd03", "cortex-a53"),
    arm("0x41", "0xd05", "cortex-a55"),
    arm("0x41", "0xd46", "cortex-a510"),
    arm("0x41", "0xd80", "cortex-a520"),
    arm("0x41", "0xd88", "cortex-a520ae"),
    arm("0x41", "0xd07", "cortex-a57"),
    arm("0x41", "0xd06", "cortex-a65"),
    arm("0x41", "0xd43", "cortex-a65ae"),
    arm("0x41", "0xd08", "cortex-a72"),
    arm("0x41", "0xd09", "cortex-a73"),
    arm("0x41", "0xd0a", "cortex-a75"),
    arm("0x41", "0xd0b", "cortex-a76"),
    arm("0x41", "0xd0e", "cortex-a76ae"),
    arm("0x41", "0xd0d", "cortex-a77"),
    arm("0x41", "0xd41", "cortex-a78"),
    arm("0x41", "0xd42", "cortex-a78ae"),
    arm("0x41", "0xd4b", "cortex-a78c"),
    arm("0x41", "0xd47", "cortex-a710"),
    arm("0x41", "0xd4d", "cortex-a715"),
    arm("0x41", "0xd81", "cortex-a720"),
    arm("0x41", "0xd89", "cortex-a720ae"),
    arm("0x41", "0xd87", "cortex-a725"),
    arm("0x41", "0xd44", "cortex-x1"),
    arm("0x41", "0xd4c", "cortex-x1c"),
    arm("0x41", "0xd48", "cortex-x2"),
    arm("0x41", "0xd4e", "cortex-x3"),
    arm("0x41", "0xd82", "cortex-x4"),
    arm("0x41", "0xd85", "cortex-x925"),
    // The C1 family, successors of Cortex-X925 and A725.
    arm("0x41", "0xd8a", "c1-nano"),
    arm("0x41", "0xd8b", "c1-pro"),
    arm("0x41", "0xd8c", "c1-ultra"),
    arm("0x41", "0xd90", "c1-premium"),
    arm("0x41", "0xd4a", "neoverse-e1"),
    arm("0x41", "0xd0c", "neoverse-n1"),
    arm("0x41", "0xd49", "neoverse-n2"),
    arm("0x41", "0xd8e", "neoverse-n3"),
    arm("0x41", "0xd40", "neoverse-v1"),
    arm("0x41", "0xd4f", "neoverse-v2"),
    arm("0x41", "0xd84", "neoverse-v3"),
    arm("0x41", "0xd83", "neoverse-v3ae"),
    // Broadcom (Vulcan) and Cavium share one table.
    arm("0x42", "0x516", "thunderx2t99"),
    arm("0x42", "0x0516", "thunderx2t99"),
    arm("0x42", "0xaf", "thunderx2t99"),
    arm("0x42", "0x0af", "thunderx2t99"),
    arm("0x42", "0xa1", "thunderxt88"),
    arm("0x42", "0x0a1", "thunderxt88"),
    arm("0x43", "0x516", "thunderx2t99"),
    arm("0x43", "0x0516", "thunderx2t99"),
    arm("0x43", "0xaf", "thunderx2t99"),
    arm("0x43", "0x0af", "thunderx2t99"),
    arm("0x43", "0xa1", "thunderxt88"),
    arm("0x43", "0x0a1", "thunderxt88"),
    // Fujitsu.
    arm("0x46", "0x001", "a64fx"),
    arm("0x46", "0x003", "fujitsu-monaka"),
    // NVIDIA: Carmel; Olympus (Vera), written with two digits or three.
    arm("0x4e", "0x004", "carmel"),
    arm("0x4e", "0x10", "olympus"),
    arm("0x4e", "0x010", "olympus"),
    // HiSilicon.
    arm("0x48", "0xd01", "tsv110"),
    // Qualcomm: Kryo; Kryo 2xx/3xx/4xx Gold and Silver are Arm cores; Falkor, Saphira, Oryon.
    arm("0x51", "0x201", "kryo"),
    arm("0x51", "0x205", "kryo"),
    arm("0x51", "0x211", "kryo"),
    arm("0x51", "0x800", "cortex-a73"),
    arm("0x51", "0x801", "cortex-a73"),
    arm("0x51", "0x802", "cortex-a75"),
    arm("0x51", "0x803", "cortex-a75"),
    arm("0x51", "0x804", "cortex-a76"),
    arm("0x51", "0x805", "cortex-a76"),
    arm("0x51", "0xc00", "falkor"),
    arm("0x51", "0xc01", "saphira"),
    arm("0x51", "0x001", "oryon-1"),
    // Apple under Linux (Asahi): M1 (A14) 20h-29h, M2 (A15) 30h-39h, M3 48h-49h, P- and E-cores
    // of the phone, Pro and Max chips alike.
    arm("0x61", "0x020", "apple-m1"),
    arm("0x61", "0x021", "apple-m1"),
    arm("0x61", "0x022", "apple-m1"),
    arm("0x61", "0x023", "apple-m1"),
    arm("0x61", "0x024", "apple-m1"),
    arm("0x61", "0x025", "apple-m1"),
    arm("0x61", "0x028", "apple-m1"),
    arm("0x61", "0x029", "apple-m1"),
    arm("0x61", "0x030", "apple-m2"),
    arm("0x61", "0x031", "apple-m2"),
    arm("0x61", "0x032", "apple-m2"),
    arm("0x61", "0x033", "apple-m2"),
    arm("0x61", "0x034", "apple-m2"),
    arm("0x61", "0x035", "apple-m2"),
    arm("0x61", "0x038", "apple-m2"),
    arm("0x61", "0x039", "apple-m2"),
    arm("0x61", "0x048", "apple-m3"),
    arm("0x61", "0x049", "apple-m3"),
    // Microsoft: Azure Cobalt 100 is a Neoverse N2.
    arm("0x6d", "0xd49", "neoverse-n2"),
    // Ampere Computing.
    arm("0xc0", "0xac3", "ampere1"),
    arm("0xc0", "0xac4", "ampere1a"),
    arm("0xc0", "0xac5", "ampere1b"),
    arm("0xc0", "0xac7", "ampere1c"),
];

/// Samsung's "CPU implementer".
const SAMSUNG: &str = "0x53";

/// Every name the aarch64 functions can return.
pub const AARCH64_HOST_NAMES: &[&str] = &[
    "cortex-r82",
    "cortex-r82ae",
    "cortex-a34",
    "cortex-a35",
    "cortex-a320",
    "cortex-a53",
    "cortex-a55",
    "cortex-a510",
    "cortex-a520",
    "cortex-a520ae",
    "cortex-a57",
    "cortex-a65",
    "cortex-a65ae",
    "cortex-a72",
    "cortex-a73",
    "cortex-a75",
    "cortex-a76",
    "cortex-a76ae",
    "cortex-a77",
    "cortex-a78",
    "cortex-a78ae",
    "cortex-a78c",
    "cortex-a710",
    "cortex-a715",
    "cortex-a720",
    "cortex-a720ae",
    "cortex-a725",
    "cortex-x1",
    "cortex-x1c",
    "cortex-x2",
    "cortex-x3",
    "cortex-x4",
    "cortex-x925",
    "c1-nano",
    "c1-pro",
    "c1-ultra",
    "c1-premium",
    "neoverse-e1",
    "neoverse-n1",
    "neoverse-n2",
    "neoverse-n3",
    "neoverse-v1",
    "neoverse-v2",
    "neoverse-v3",
    "neoverse-v3ae",
    "thunderx2t99",
    "thunderxt88",
    "a64fx",
    "fujitsu-monaka",
    "carmel",
    "olympus",
    "tsv110",
    "kryo",
    "falkor",
    "saphira",
    "oryon-1",
    "exynos-m3",
    "exynos-m4",
    "apple-m1",
    "apple-m2",
    "apple-m3",
    "ampere1",
    "ampere1a",
    "ampere1b",
    "ampere1c",
];

/// Cortex-X925 with Cortex-A725 (MediaTek Dimensity 9400, NVIDIA GB10): named after the big
/// core whichever the kernel lists last.
const X925_WITH_A725: [&str; 2] = ["0xd85", "0xd87"];

/// The name for one implementer / part, given the "Hardware" text, all the distinct parts of
/// the system and, for Samsung, the `variant << 12 | part` number Host.cpp switches on.
fn arm_name(
    implementer: &str,
    hardware: &str,
    part: &str,
    distinct_parts: &[&str],
    exynos: impl FnOnce() -> u32,
) -> Option<&'static str> {
    if implementer == "0x41" && (hardware.ends_with("MSM8994") || hardware.ends_with("MSM8996")) {
        // These SoCs report the part of whichever core the kernel runs on; LLVM pins them.
        return Some("cortex-a53");
    }
    // LLVM 22 names one big.LITTLE pair after its big core; any other mix keeps the last part.
    if implementer == "0x41"
        && distinct_parts.len() == 2
        && X925_WITH_A725.iter().all(|p| distinct_parts.contains(p))
    {
        return Some("cortex-x925");
    }
    if implementer == SAMSUNG {
        // Every Exynos but M4 (variant 1, part 3) is named exynos-m3.
        return Some(if exynos() == 0x1003 {
            "exynos-m4"
        } else {
            "exynos-m3"
        });
    }
    ARM_ROWS
        .iter()
        .find(|r| r.implementer == implementer && r.part == part)
        .map(|r| r.name)
}

/// `StringRef::ltrim("\t :")`.
fn ltrim_field(s: &str) -> &str {
    s.trim_start_matches(['\t', ' ', ':'])
}

/// `StringRef::getAsInteger(0, unsigned&)`: the radix from the prefix (0x, 0b, 0o, or a leading
/// 0 before a digit for octal, else decimal), the whole text one number that fits in 32 bits.
fn parse_auto_radix(s: &str) -> Option<u32> {
    let lower = s.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &s[2..]),
        Some("0b") => (2, &s[2..]),
        _ if s.starts_with("0o") => (8, &s[2..]),
        _ if s.len() > 1 && s.starts_with('0') && s.as_bytes()[1].is_ascii_digit() => (8, &s[1..]),
        _ => (10, s),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// LLVM 22's name for an aarch64 CPU from the text of /proc/cpuinfo ("CPU implementer" /
/// "CPU part" lines), as `getHostCPUNameForARM` gives it.
///
/// LLVM 22 reads the lines in order and keeps the last "CPU implementer" and "Hardware" it
/// sees and every "CPU part". On a system with several kinds of core (big.LITTLE) the answer is
/// the part of the last core listed — the kernel lists cores by number, which on such SoCs
/// usually puts the big cores last — except that Cortex-X925 with Cortex-A725 alone is always
/// cortex-x925. Fields are compared as text after dropping leading tabs, spaces and colons, as
/// Host.cpp does. Samsung parts are told apart by the last "CPU variant" that reads as a number
/// and the last "CPU part" read as one (0 when it does not read).
pub fn aarch64_cpu_name_from_cpuinfo(cpuinfo: &str) -> Option<&'static str> {
    let mut implementer = "";
    let mut hardware = "";
    let mut parts = Vec::new();
    for line in cpuinfo.split('\n') {
        if let Some(rest) = line.strip_prefix("CPU implementer") {
            implementer = ltrim_field(rest);
        } else if let Some(rest) = line.strip_prefix("Hardware") {
            hardware = ltrim_field(rest);
        } else if let Some(rest) = line.strip_prefix("CPU part") {
            parts.push(ltrim_field(rest));
        }
    }
    let part = parts.last().copied().unwrap_or("");
    let exynos = || {
        let variant = cpuinfo
            .split('\n')
            .filter_map(|line| line.strip_prefix("CPU variant"))
            .filter_map(|rest| parse_auto_radix(ltrim_field(rest)))
            .next_back()
            .unwrap_or(0);
        // LLVM leaves the number unset when the text does not read: 0, which names exynos-m3 as
        // any value but 0x1003 would.
        (variant << 12) | parse_auto_radix(part).unwrap_or(0)
    };
    parts.sort_unstable();
    parts.dedup();
    arm_name(implementer, hardware, part, &parts, exynos)
}

/// The same from one MIDR_EL1 value (implementer bits 31:24, part bits 15:4).
///
/// The fields are written as the kernel writes them in /proc/cpuinfo ("0x%02x", "0x%03x") and
/// matched like [`aarch64_cpu_name_from_cpuinfo`] (with no "Hardware" text); Samsung also uses the
/// variant, bits 23:20.
pub fn aarch64_cpu_name_from_midr(midr: u64) -> Option<&'static str> {
    let implementer = (midr >> 24) & 0xff;
    let variant = ((midr >> 20) & 0xf) as u32;
    let part = ((midr >> 4) & 0xfff) as u32;
    let part_text = format!("0x{part:03x}");
    arm_name(
        &format!("0x{implementer:02x}"),
        "",
        &part_text,
        &[part_text.as_str()],
        || (variant << 12) | part,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `has` for a CPU with exactly these features.
    fn with(features: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |f| {
            assert!(X86_NAME_FEATURES.contains(&f), "asked about {f}");
            features.contains(&f)
        }
    }

    fn x86(
        vendor: &[u8],
        leaf1_eax: u32,
        features: &'static [&'static str],
    ) -> Option<&'static str> {
        let (family, model) = x86_family_model(leaf1_eax);
        x86_cpu_name(vendor, family, model, &with(features))
    }

    const INTEL: &[u8] = b"GenuineIntel";
    const AMD: &[u8] = b"AuthenticAMD";
    const SKX: &[&str] = &[
        "64bit",
        "sse4.2",
        "avx",
        "avx2",
        "adx",
        "clflushopt",
        "avx512vl",
    ];
    const CLX: &[&str] = &[
        "64bit",
        "sse4.2",
        "avx",
        "avx2",
        "adx",
        "clflushopt",
        "avx512vl",
        "avx512vnni",
    ];
    const CPX: &[&str] = &[
        "64bit",
        "sse4.2",
        "avx",
        "avx2",
        "adx",
        "clflushopt",
        "avx512vl",
        "avx512vnni",
        "avx512bf16",
    ];

    #[test]
    fn family_and_model_as_llvm_computes_them() {
        // Skylake-SP (Xeon Scalable): DisplayFamily 06h, DisplayModel 55h (Intel SDM vol. 4).
        assert_eq!(x86_family_model(0x0005_0654), (6, 0x55));
        // EPYC 7003 (Milan): family 19h = 0xf + 0xa, model 01h (AMD PPR for family 19h).
        assert_eq!(x86_family_model(0x00a0_0f11), (0x19, 0x01));
        // EPYC 9005 (Turin): family 1Ah, model 02h.
        assert_eq!(x86_family_model(0x00b0_0f21), (0x1a, 0x02));
        // Pentium 4 (Northwood): family 0Fh, model 2.
        assert_eq!(x86_family_model(0x0000_0f29), (0xf, 0x02));
        // A base family other than 6 or 0xf ignores the extended fields.
        assert_eq!(x86_family_model(0x0ff5_0543), (5, 0x4));
    }

    #[test]
    fn intel_server_parts() {
        // Model 55h: Skylake-SP, Cascade Lake (AVX512-VNNI) and Cooper Lake (AVX512-BF16).
        assert_eq!(x86(INTEL, 0x0005_0654, SKX), Some("skylake-avx512"));
        assert_eq!(x86(INTEL, 0x0005_0657, CLX), Some("cascadelake"));
        assert_eq!(x86(INTEL, 0x0005_065b, CPX), Some("cooperlake"));
        assert_eq!(x86(INTEL, 0x0006_06a6, &[]), Some("icelake-server"));
        assert_eq!(x86(INTEL, 0x0008_06f8, &[]), Some("sapphirerapids"));
        // Emerald Rapids (CFh): LLVM 19 named it sapphirerapids, LLVM 22 by its own name.
        assert_eq!(x86(INTEL, 0x000c_06f2, &[]), Some("emeraldrapids"));
        assert_eq!(x86(INTEL, 0x000a_06d1, &[]), Some("graniterapids"));
        assert_eq!(x86(INTEL, 0x000a_06f3, &[]), Some("sierraforest"));
        assert_eq!(x86(INTEL, 0x0005_06f1, &[]), Some("goldmont"));
        assert_eq!(x86(INTEL, 0x0004_06f1, &[]), Some("broadwell"));
        assert_eq!(x86(INTEL, 0x0003_06f2, &[]), Some("haswell"));
        assert_eq!(x86(INTEL, 0x0005_0671, &[]), Some("knl"));
    }

    #[test]
    fn intel_client_parts() {
        assert_eq!(x86(INTEL, 0x0002_06a7, &[]), Some("sandybridge"));
        assert_eq!(x86(INTEL, 0x0003_06a9, &[]), Some("ivybridge"));
        assert_eq!(x86(INTEL, 0x0009_06ea, &[]), Some("skylake")); // Coffee Lake (9Eh)
        assert_eq!(x86(INTEL, 0x000a_0655, &[]), Some("skylake")); // Comet Lake (A5h)
        assert_eq!(x86(INTEL, 0x000a_0671, &[]), Some("rocketlake"));
        assert_eq!(x86(INTEL, 0x0007_06e5, &[]), Some("icelake-client"));
        assert_eq!(x86(INTEL, 0x0008_06c1, &[]), Some("tigerlake"));
        assert_eq!(x86(INTEL, 0x0009_0672, &[]), Some("alderlake"));
        // LLVM 19 named these alderlake and arrowlake-s; LLVM 22 has names of their own.
        assert_eq!(x86(INTEL, 0x000b_0671, &[]), Some("raptorlake")); // Raptor Lake (B7h)
        assert_eq!(x86(INTEL, 0x000b_06f2, &[]), Some("raptorlake")); // Raptor Lake-S (BFh)
        assert_eq!(x86(INTEL, 0x000a_06a4, &[]), Some("meteorlake")); // Meteor Lake (AAh)
        assert_eq!(x86(INTEL, 0x000b_06e0, &[]), Some("gracemont")); // Alder Lake-N (BEh)
        assert_eq!(x86(INTEL, 0x000b_06d1, &[]), Some("lunarlake")); // Lunar Lake (BDh)
        assert_eq!(x86(INTEL, 0x000c_0662, &[]), Some("arrowlake-s")); // Arrow Lake-S (C6h)
        assert_eq!(x86(INTEL, 0x000c_0652, &[]), Some("arrowlake")); // Arrow Lake-H (C5h)
        assert_eq!(x86(INTEL, 0x000b_0654, &[]), Some("arrowlake")); // Arrow Lake-U (B5h)
        assert_eq!(x86(INTEL, 0x000c_06c0, &[]), Some("pantherlake")); // Panther Lake (CCh)
        assert_eq!(x86(INTEL, 0x000d_0650, &[]), Some("wildcatlake")); // Wildcat Lake (D5h)
        assert_eq!(x86(INTEL, 0x0001_067a, &[]), Some("penryn"));
        assert_eq!(x86(INTEL, 0x0001_06a5, &[]), Some("nehalem"));
        assert_eq!(x86(INTEL, 0x0002_0652, &[]), Some("westmere"));
        assert_eq!(x86(INTEL, 0x0000_06fb, &[]), Some("core2"));
        assert_eq!(x86(INTEL, 0x0009_06c0, &[]), Some("tremont")); // Jasper Lake (9Ch)
    }

    #[test]
    fn intel_guesses_unknown_family6_models_from_features() {
        // Model FFh is not in Host.cpp's list: it guesses from the features.
        let unknown = 0x000f_06f0;
        assert_eq!(x86(INTEL, unknown, CLX), Some("cascadelake"));
        assert_eq!(
            x86(INTEL, unknown, &["64bit", "avx", "avx2", "adx"]),
            Some("broadwell")
        );
        assert_eq!(
            x86(INTEL, unknown, &["64bit", "sse4.2", "clflushopt", "sha"]),
            Some("goldmont")
        );
        assert_eq!(
            x86(INTEL, unknown, &["64bit", "avx", "avx2", "clflushopt"]),
            Some("skylake")
        );
        assert_eq!(
            x86(INTEL, unknown, &["64bit", "sse4.2", "movbe"]),
            Some("silvermont")
        );
        assert_eq!(x86(INTEL, unknown, &["64bit", "sse4.2"]), Some("nehalem"));
        assert_eq!(x86(INTEL, unknown, &["64bit"]), Some("core2"));
        assert_eq!(x86(INTEL, unknown, &[]), Some("pentiumpro"));
        // Model 55h is listed, so features only choose among its three names.
        assert_eq!(
            x86(INTEL, 0x0005_0654, &["avx512vbmi2"]),
            Some("skylake-avx512")
        );
    }

    #[test]
    fn intel_other_families() {
        assert_eq!(x86(INTEL, 0x0000_0f29, &[]), Some("pentium4"));
        assert_eq!(x86(INTEL, 0x0000_0f43, &["sse3"]), Some("prescott"));
        assert_eq!(x86(INTEL, 0x0000_0f47, &["sse3", "64bit"]), Some("nocona"));
        assert_eq!(x86(INTEL, 0x0000_0543, &["mmx"]), Some("pentium-mmx"));
        assert_eq!(x86(INTEL, 0x0000_0480, &[]), Some("i486"));
        // Family 18 (12h, Nova Lake) models 1 and 3 and family 19 (13h, Diamond Rapids)
        // model 1, which LLVM 19 did not know. Their other models are generic: LLVM 22 guesses
        // from features only in family 6.
        assert_eq!(x86(INTEL, 0x0030_0f10, &[]), Some("novalake"));
        assert_eq!(x86(INTEL, 0x0030_0f30, &[]), Some("novalake"));
        assert_eq!(x86(INTEL, 0x0030_0f20, CPX), None);
        assert_eq!(x86(INTEL, 0x0040_0f10, &[]), Some("diamondrapids"));
        assert_eq!(x86(INTEL, 0x0040_0f00, CPX), None);
        assert_eq!(x86(INTEL, 0x0040_0f20, CPX), None);
        assert_eq!(x86(INTEL, 0x0050_0f10, CPX), None); // family 14h
    }

    #[test]
    fn amd_zen() {
        assert_eq!(x86(AMD, 0x0080_0f12, &[]), Some("znver1")); // Naples, 17h 01h
        assert_eq!(x86(AMD, 0x0081_0f81, &[]), Some("znver1")); // Picasso, 17h 18h
        assert_eq!(x86(AMD, 0x0083_0f10, &[]), Some("znver2")); // Rome, 17h 31h
        assert_eq!(x86(AMD, 0x0086_0f01, &[]), Some("znver2")); // Renoir, 17h 60h
        assert_eq!(x86(AMD, 0x0087_0f10, &[]), Some("znver2")); // Matisse, 17h 71h
        assert_eq!(x86(AMD, 0x00a0_0f11, &[]), Some("znver3")); // Milan, 19h 01h
        assert_eq!(x86(AMD, 0x00a2_0f10, &[]), Some("znver3")); // Vermeer, 19h 21h
        assert_eq!(x86(AMD, 0x00a5_0f00, &[]), Some("znver3")); // Cezanne, 19h 50h
        assert_eq!(x86(AMD, 0x00a1_0f11, &[]), Some("znver4")); // Genoa, 19h 11h
        assert_eq!(x86(AMD, 0x00a6_0f12, &[]), Some("znver4")); // Raphael, 19h 61h
        assert_eq!(x86(AMD, 0x00a7_0f41, &[]), Some("znver4")); // Phoenix, 19h 74h
        assert_eq!(x86(AMD, 0x00aa_0f01, &[]), Some("znver4")); // Bergamo, 19h A0h
                                                                // A family 19h model Host.cpp does not list falls back to znver3.
        assert_eq!(x86(AMD, 0x00a9_0f00, &[]), Some("znver3"));
        assert_eq!(x86(AMD, 0x00b0_0f21, &[]), Some("znver5")); // Turin, 1Ah 02h
        assert_eq!(x86(AMD, 0x00b4_0f40, &[]), Some("znver5")); // Granite Ridge, 1Ah 44h
                                                                // Family 1Bh is unknown to LLVM 22.
        assert_eq!(x86(AMD, 0x00c0_0f00, &[]), None);
    }

    #[test]
    fn amd_before_zen() {
        assert_eq!(x86(AMD, 0x0060_0f12, &[]), Some("bdver1")); // Bulldozer, 15h 01h
        assert_eq!(x86(AMD, 0x0060_0f20, &[]), Some("bdver2")); // Piledriver, 15h 02h
        assert_eq!(x86(AMD, 0x0061_0f01, &[]), Some("bdver2")); // Piledriver, 15h 10h
        assert_eq!(x86(AMD, 0x0063_0f01, &[]), Some("bdver3")); // Steamroller, 15h 30h
        assert_eq!(x86(AMD, 0x0066_0f01, &[]), Some("bdver4")); // Excavator, 15h 60h
        assert_eq!(x86(AMD, 0x0070_0f01, &[]), Some("btver2")); // Jaguar, 16h
        assert_eq!(x86(AMD, 0x0050_0f20, &[]), Some("btver1")); // Bobcat, 14h
        assert_eq!(x86(AMD, 0x0010_0f42, &[]), Some("amdfam10")); // Shanghai, 10h
        assert_eq!(x86(AMD, 0x0002_0fb1, &["sse3"]), Some("k8-sse3"));
        assert_eq!(x86(AMD, 0x0000_0f48, &[]), Some("k8"));
        assert_eq!(x86(AMD, 0x0000_0681, &["sse"]), Some("athlon-xp"));
        assert_eq!(x86(AMD, 0x0000_0580, &[]), Some("k6-2"));
        assert_eq!(x86(AMD, 0x0000_05a0, &[]), Some("geode"));
        // Family 12h (Llano) is amdfam10 to Host.cpp; family 11h has no case.
        assert_eq!(x86(AMD, 0x0020_0f31, &[]), None);
        assert_eq!(x86(AMD, 0x0030_0f10, &[]), Some("amdfam10"));
    }

    #[test]
    fn other_x86_vendors_are_generic() {
        // Hygon Dhyana (family 18h), Zhaoxin, VIA: LLVM 22 knows only Intel and AMD.
        assert_eq!(x86(b"HygonGenuine", 0x0090_0f01, SKX), None);
        assert_eq!(x86(b"  Shanghai  ", 0x0001_07b5, SKX), None);
        assert_eq!(x86(b"CentaurHauls", 0x0000_06f2, SKX), None);
        assert_eq!(x86(b"", 0x0005_0654, SKX), None);
    }

    #[test]
    fn x86_rows_and_names_agree() {
        let mut produced = Vec::new();
        for row in X86_ROWS {
            assert!(row.models.0 <= row.models.1, "{row:?}");
            match row.pick {
                Pick::Is(name) => produced.push(name),
                Pick::ByFeatures(chain, otherwise) => {
                    produced.push(otherwise);
                    for (needs, name) in chain {
                        assert!(
                            needs.iter().all(|f| X86_NAME_FEATURES.contains(f)),
                            "{row:?}"
                        );
                        produced.push(name);
                    }
                }
            }
        }
        for name in &produced {
            assert!(
                X86_HOST_NAMES.contains(name),
                "{name} missing from X86_HOST_NAMES"
            );
        }
        for (i, name) in X86_HOST_NAMES.iter().enumerate() {
            assert!(produced.contains(name), "no row produces {name}");
            assert!(!X86_HOST_NAMES[..i].contains(name), "{name} listed twice");
        }
        // Each listed model belongs to one row (catch-alls aside), as in Host.cpp's switch.
        for (i, a) in X86_ROWS.iter().enumerate() {
            for b in &X86_ROWS[..i] {
                let same = a.vendor == b.vendor && a.family == b.family;
                let overlap = a.models.0 <= b.models.1 && b.models.0 <= a.models.1;
                let catch_all = a.models == (0, ANY) || b.models == (0, ANY);
                assert!(!(same && overlap && !catch_all), "{a:?} overlaps {b:?}");
                assert!(!(same && b.models == (0, ANY)), "{a:?} after catch-all");
            }
        }
    }

    fn cpuinfo(cores: &[(&str, &str)]) -> String {
        let mut text = String::new();
        for (i, (implementer, part)) in cores.iter().enumerate() {
            text += &format!(
                "processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull \
                 sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n\
                 CPU implementer\t: {implementer}\nCPU architecture: 8\nCPU variant\t: 0x3\n\
                 CPU part\t: {part}\nCPU revision\t: 1\n\n"
            );
        }
        text
    }

    #[test]
    fn aarch64_servers() {
        // Part numbers from the MIDR_EL1 descriptions in each core's Technical Reference Manual.
        let one =
            |implementer, part| aarch64_cpu_name_from_cpuinfo(&cpuinfo(&[(implementer, part); 4]));
        assert_eq!(one("0x41", "0xd0c"), Some("neoverse-n1")); // Graviton2, Ampere Altra
        assert_eq!(one("0x41", "0xd40"), Some("neoverse-v1")); // Graviton3
        assert_eq!(one("0x41", "0xd4f"), Some("neoverse-v2")); // Graviton4, NVIDIA Grace
        assert_eq!(one("0x41", "0xd49"), Some("neoverse-n2"));
        assert_eq!(one("0x6d", "0xd49"), Some("neoverse-n2")); // Azure Cobalt 100
        assert_eq!(one("0xc0", "0xac3"), Some("ampere1")); // AmpereOne
        assert_eq!(one("0x46", "0x001"), Some("a64fx"));
        assert_eq!(one("0x48", "0xd01"), Some("tsv110")); // Kunpeng 920
        assert_eq!(one("0x43", "0x0af"), Some("thunderx2t99"));
        assert_eq!(one("0x43", "0x0a1"), Some("thunderxt88"));
        assert_eq!(one("0x43", "0x0a2"), None); // ThunderX T81: generic to LLVM 22
        assert_eq!(one("0x51", "0xc00"), Some("falkor"));
        assert_eq!(one("0x51", "0x001"), Some("oryon-1")); // Snapdragon X Elite
        assert_eq!(one("0x4e", "0x004"), Some("carmel"));
        assert_eq!(one("0x4e", "0x010"), Some("olympus")); // NVIDIA Vera
        assert_eq!(one("0x4e", "0x10"), Some("olympus"));
        assert_eq!(one("0x46", "0x003"), Some("fujitsu-monaka"));
        assert_eq!(one("0xc0", "0xac7"), Some("ampere1c"));
        assert_eq!(one("0xc0", "0xac6"), None);
        assert_eq!(one("0x41", "0xd8e"), Some("neoverse-n3"));
        assert_eq!(one("0x41", "0xd84"), Some("neoverse-v3"));
        assert_eq!(one("0x41", "0xd8c"), Some("c1-ultra"));
        // 0xd8d, between C1-Ultra and Neoverse N3, is not listed.
        assert_eq!(one("0x41", "0xd8d"), None);
        // Apple cores under Linux (Asahi), which LLVM 19 called generic: M1 Icestorm and
        // Firestorm, M2 Max Avalanche, M3.
        assert_eq!(one("0x61", "0x022"), Some("apple-m1"));
        assert_eq!(one("0x61", "0x023"), Some("apple-m1"));
        assert_eq!(one("0x61", "0x039"), Some("apple-m2"));
        assert_eq!(one("0x61", "0x049"), Some("apple-m3"));
        assert_eq!(one("0x61", "0x026"), None);
        // Arm China's STAR-MC1 is a microcontroller: LLVM names it, not as an aarch64 CPU.
        assert_eq!(one("0x63", "0x132"), None);
        // A 32-bit-only core (Cortex-A9): LLVM names it, but not as an aarch64 CPU.
        assert_eq!(one("0x41", "0xc09"), None);
        assert_eq!(one("0x41", "0xfff"), None);
    }

    #[test]
    fn aarch64_several_parts_take_the_last_listed() {
        // RK3588: cores 0-3 Cortex-A55, 4-7 Cortex-A76.
        let rk3588 = cpuinfo(&[
            ("0x41", "0xd05"),
            ("0x41", "0xd05"),
            ("0x41", "0xd05"),
            ("0x41", "0xd05"),
            ("0x41", "0xd0b"),
            ("0x41", "0xd0b"),
            ("0x41", "0xd0b"),
            ("0x41", "0xd0b"),
        ]);
        assert_eq!(aarch64_cpu_name_from_cpuinfo(&rk3588), Some("cortex-a76"));
        // Google Tensor: Cortex-A55, A76, X1.
        let tensor = cpuinfo(&[("0x41", "0xd05"), ("0x41", "0xd0b"), ("0x41", "0xd44")]);
        assert_eq!(aarch64_cpu_name_from_cpuinfo(&tensor), Some("cortex-x1"));
        // Listed the other way round, the little core is last.
        let reversed = cpuinfo(&[("0x41", "0xd0b"), ("0x41", "0xd05")]);
        assert_eq!(aarch64_cpu_name_from_cpuinfo(&reversed), Some("cortex-a55"));
        // The implementer is also the last one seen.
        let mixed = cpuinfo(&[("0x41", "0x804"), ("0x51", "0x804")]);
        assert_eq!(aarch64_cpu_name_from_cpuinfo(&mixed), Some("cortex-a76"));
    }

    #[test]
    fn aarch64_x925_with_a725_is_named_after_the_big_core() {
        // Dimensity 9400-like: the Cortex-X925 listed before the A725s.
        let x925_first = cpuinfo(&[("0x41", "0xd85"), ("0x41", "0xd87"), ("0x41", "0xd87")]);
        assert_eq!(
            aarch64_cpu_name_from_cpuinfo(&x925_first),
            Some("cortex-x925")
        );
        let a725_first = cpuinfo(&[("0x41", "0xd87"), ("0x41", "0xd85")]);
        assert_eq!(
            aarch64_cpu_name_from_cpuinfo(&a725_first),
            Some("cortex-x925")
        );
        // A third kind of core: the last part again.
        let three = cpuinfo(&[("0x41", "0xd85"), ("0x41", "0xd87"), ("0x41", "0xd05")]);
        assert_eq!(aarch64_cpu_name_from_cpuinfo(&three), Some("cortex-a55"));
        // Only this pair: Cortex-X4 with Cortex-A720 keeps the last part.
        let x4 = cpuinfo(&[("0x41", "0xd82"), ("0x41", "0xd81")]);
        assert_eq!(aarch64_cpu_name_from_cpuinfo(&x4), Some("cortex-a720"));
        // Only Arm's own parts: another implementer with these numbers is not matched.
        let other = cpuinfo(&[("0x51", "0xd85"), ("0x51", "0xd87")]);
        assert_eq!(aarch64_cpu_name_from_cpuinfo(&other), None);
    }

    #[test]
    fn aarch64_quirks() {
        let msm8996 = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd07\n\n\
                       Hardware\t: Qualcomm Technologies, Inc MSM8996\n";
        assert_eq!(aarch64_cpu_name_from_cpuinfo(msm8996), Some("cortex-a53"));
        let exynos = |variant: &str, part: &str| {
            aarch64_cpu_name_from_cpuinfo(&format!(
                "CPU implementer\t: 0x53\nCPU variant\t: {variant}\nCPU part\t: {part}\n"
            ))
        };
        assert_eq!(exynos("0x1", "0x003"), Some("exynos-m4"));
        assert_eq!(exynos("0x1", "0x002"), Some("exynos-m3"));
        // Host.cpp falls back to exynos-m3 for every other Samsung part (M1, M2, M5...).
        assert_eq!(exynos("0x4", "0x004"), Some("exynos-m3"));
        assert_eq!(exynos("0x0", "0x001"), Some("exynos-m3"));
        // The variant is the last that reads; the part is the last line's, read or not.
        let m4_then_bad_variant =
            "CPU implementer\t: 0x53\nCPU variant\t: 0x1\nCPU part\t: 0x003\n\
                                   CPU variant\t: ?\n";
        assert_eq!(
            aarch64_cpu_name_from_cpuinfo(m4_then_bad_variant),
            Some("exynos-m4")
        );
        let m4_then_bad_part = "CPU implementer\t: 0x53\nCPU variant\t: 0x1\nCPU part\t: 0x003\n\
                                CPU part\t: ?\n";
        assert_eq!(
            aarch64_cpu_name_from_cpuinfo(m4_then_bad_part),
            Some("exynos-m3")
        );
        assert_eq!(aarch64_cpu_name_from_cpuinfo(""), None);
        assert_eq!(aarch64_cpu_name_from_cpuinfo("CPU part\t: 0xd0c\n"), None);
        // Trailing text is not trimmed, as in Host.cpp.
        assert_eq!(
            aarch64_cpu_name_from_cpuinfo("CPU implementer\t: 0x41\nCPU part\t: 0xd0c \n"),
            None
        );
    }

    #[test]
    fn aarch64_from_midr() {
        assert_eq!(aarch64_cpu_name_from_midr(0x413f_d0c1), Some("neoverse-n1")); // N1 r3p1
        assert_eq!(aarch64_cpu_name_from_midr(0x410f_d4f0), Some("neoverse-v2"));
        assert_eq!(
            aarch64_cpu_name_from_midr(0x431f_0af1),
            Some("thunderx2t99")
        );
        assert_eq!(aarch64_cpu_name_from_midr(0x461f_0010), Some("a64fx"));
        assert_eq!(aarch64_cpu_name_from_midr(0x531f_0030), Some("exynos-m4"));
        assert_eq!(aarch64_cpu_name_from_midr(0x530f_0030), Some("exynos-m3"));
        assert_eq!(aarch64_cpu_name_from_midr(0x611f_0220), Some("apple-m1")); // M1 Icestorm
        assert_eq!(aarch64_cpu_name_from_midr(0x611f_0260), None);
        assert_eq!(aarch64_cpu_name_from_midr(0), None);
        // Each row with a kernel-style part gives the same name both ways.
        for row in ARM_ROWS.iter().filter(|r| r.part.len() == 5) {
            let implementer = u64::from_str_radix(&row.implementer[2..], 16).unwrap();
            let part = u64::from_str_radix(&row.part[2..], 16).unwrap();
            let midr = implementer << 24 | 0xf << 16 | part << 4;
            assert_eq!(aarch64_cpu_name_from_midr(midr), Some(row.name), "{row:?}");
            let text = cpuinfo(&[(row.implementer, row.part)]);
            assert_eq!(
                aarch64_cpu_name_from_cpuinfo(&text),
                Some(row.name),
                "{row:?}"
            );
        }
    }

    #[test]
    fn auto_radix_numbers() {
        assert_eq!(parse_auto_radix("0x1"), Some(1));
        assert_eq!(parse_auto_radix("0X0a"), Some(10));
        assert_eq!(parse_auto_radix("017"), Some(15));
        assert_eq!(parse_auto_radix("12"), Some(12));
        assert_eq!(parse_auto_radix("0"), Some(0));
        assert_eq!(parse_auto_radix("0x"), None);
        assert_eq!(parse_auto_radix("0x1 "), None);
        assert_eq!(parse_auto_radix("0x100000000"), None);
    }

    #[test]
    fn aarch64_rows_and_names_agree() {
        let mut produced: Vec<&str> = ARM_ROWS.iter().map(|r| r.name).collect();
        produced.extend(["cortex-a53", "exynos-m3", "exynos-m4"]);
        for name in &produced {
            assert!(AARCH64_HOST_NAMES.contains(name), "{name} missing");
        }
        for (i, name) in AARCH64_HOST_NAMES.iter().enumerate() {
            assert!(produced.contains(name), "nothing produces {name}");
            assert!(
                !AARCH64_HOST_NAMES[..i].contains(name),
                "{name} listed twice"
            );
        }
        for (i, a) in ARM_ROWS.iter().enumerate() {
            for b in &ARM_ROWS[..i] {
                assert!(
                    !(a.implementer == b.implementer && a.part == b.part),
                    "{a:?} repeats {b:?}"
                );
            }
            assert_ne!(a.implementer, SAMSUNG);
        }
    }
}
